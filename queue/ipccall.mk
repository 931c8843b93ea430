# queue/ipc-call: the lib/ipcfd client for tests and operators (docs/internals.md "Sockets")
PROGRAMS += ipc-call
ipc-call_SRCS := queue/ipc-call.c

# deliver/: local delivery into a Maildir (runs as yubin-mbox behind run/deliver.sock, its own accept loop)
PROGRAMS += deliver
STATIC_PROGRAMS += deliver
deliver_SRCS := deliver/deliver.c deliver/msghdr.c deliver/warnmsg.c quota/quota.c
deliver_LIBS := -lcdb
UNIT_test_msghdr_SRCS := deliver/msghdr.c deliver/warnmsg.c
FUZZ_fuzz_msghdr_SRCS := deliver/msghdr.c quota/quota.c

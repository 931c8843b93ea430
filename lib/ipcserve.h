/* ipcserve.h: the one server of lib/ipcfd requests (run/inject.sock, run/deliver.sock,
   run/pop3d.sock, run/remote.sock): an accept loop that checks each caller's uid, forks, and
   runs the program's serve function in the child on the fds the caller passed. There is one
   way to start it: s6-ipcserver-socketbinder binds the socket and puts it on fd 0, the run
   script makes fd 1 the s6 notification fd and sets IPCFD_PEERS. docs/internals.md "Sockets".

   A program says in main what it serves:
       if (ipcserve_listening(0) == 1) {
           struct ipcserve srv = { "run/deliver.sock", IPCFD_FDS, 64, 0, deliver_one, &d };
           return ipcserve(&srv) < 0 ? EXIT_TEMP : EXIT_DONE;
       }
       return deliver_one(argc, argv, &d);        (run by hand: its own fds and argv) */
#ifndef YUBIN_IPCSERVE_H
#define YUBIN_IPCSERVE_H

#include "ipcfd.h"

#include <stddef.h>

#define IPCSERVE_CONN_MAX       4096    /* children of one loop at once */
#define IPCSERVE_SIGNAL_HIGH    1       /* flag: killed by signal N -> status 128+N, not 111 */
#define IPCSERVE_IDLE_S         10      /* a reused child waiting this long for work ends */

/* One request, in a child of the loop: argv as the client sent it (argv[argc] == NULL, at
   most IPCFD_ARGS_MAX strings), the passed fds on 0..nfds-1, fd 2 the service's log (unless
   nfds is 3). Returns the exit status the client gets, 0..255; it may also exit (die) itself,
   or be killed (111, or 128+N with IPCSERVE_SIGNAL_HIGH). */
typedef int ipcserve_fn(int argc, char **argv, void *ctx);

struct ipcserve {
    const char *name;       /* the socket as the log names it, e.g. "run/deliver.sock" */
    size_t nfds;            /* fds every request carries: 1..IPCFD_FDS_MAX */
    unsigned maxconn;       /* children at once: 1..IPCSERVE_CONN_MAX (more wait in backlog) */
    unsigned flags;         /* 0 or IPCSERVE_SIGNAL_HIGH */
    ipcserve_fn *serve;
    void *ctx;              /* passed to serve (the child's copy) */
    unsigned reuse;         /* requests one child serves before it ends (0 or 1: one each);
                               serve must then free what it took, fds included */
};

/* 1 if fd is a listening socket (SO_ACCEPTCONN): the program was started as a server.
   0 otherwise (run by hand: a file, pipe or terminal), -1 never: errors read as 0. */
int ipcserve_listening(int fd);

/* The loop. fd 0 is the listening unix socket; fd 1 gets one "\n" once the loop runs (s6
   readiness), then 0 and 1 are /dev/null. For each connection: a peer whose uid (SO_PEERCRED,
   never the environment) is not in IPCFD_PEERS (ipcfd_peers_find) is logged ("refused a
   connection from uid N ...") and closed with nothing read; otherwise the loop forks. The
   child reads the request strictly (IPCFD_TIMEOUT, exactly nfds fds, ipcfd_decode), puts the
   fds on 0..nfds-1 and _exits with serve's return value (stdio is not flushed: the loop's
   buffers are copies); a request that cannot be read is logged and the child exits 111 (the
   client gets the temporary 111). The child's _exit is the one place lib/ code ends a
   process: it has nothing to return to.
   The loop writes each child's status "N\n" on its connection when it ends. SIGTERM: stop
   accepting, wait for the running children (their statuses are written), return 0.
   With reuse > 1 a child that returned from serve does not end: its fds 0..nfds-1 go to
   /dev/null (the caller sees EOF on what it passed), it tells the loop it is free (one byte
   over a socketpair), writes serve's status on the connection itself and waits there for the
   next connection the loop accepts, up to reuse requests. The loop reads those bytes when it
   needs an idle child, when a child ends, once a second and while it is full or stopping, so
   a finished request does not wake it; it ends children idle for IPCSERVE_IDLE_S seconds. A
   child that dies or exits mid-request is reported as before (by the loop, from waitpid).
   Between requests the child reaps what serve left running (waitpid WNOHANG).
   -1 (errno) for a start-up error (bad struct, no memory, fd 0 unusable), before anything was
   accepted. */
int ipcserve(const struct ipcserve *s);

/* The uid of the process at the other end of the unix socket fd, as of its connect()
   (getsockopt SO_PEERCRED, never the environment). 0 ok (*uid set), -1 with errno. */
int ipcserve_peer_uid(int fd, uid_t *uid);

#endif

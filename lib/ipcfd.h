/* ipcfd.h: one request over a unix socket: argument strings plus passed fds (SCM_RIGHTS),
   answered by the program's exit status. Replaces the s6-sudo crossing (4 execs) on
   run/inject.sock and run/deliver.sock; docs/internals.md "Sockets".

   Request: one netstring "LEN:PAYLOAD," (LEN decimal, no leading zero, at most
   IPCFD_PAYLOAD_MAX) whose payload is 1..IPCFD_ARGS_MAX argument strings, each followed by
   one NUL (so no NUL inside an argument; empty arguments are allowed, argv[0] is not).
   Exactly two fds travel with it: the program's fd 0 and fd 1 (the _fds variants: 1 to 3,
   the program's fds 0.., as agreed by both sides; run/pop3d.sock uses 3). Answer: "N\n", N = the
   program's exit code 0..255 (111 if it was killed by a signal).

   Who may connect: the server checks the peer itself, before it reads anything. The uid of
   the process that connected fd 0 (SO_PEERCRED, fixed at connect(); never the environment)
   must be listed in the environment variable IPCFD_PEERS, "UID[,UID...]" (decimal, set by
   the service's run script). Unset, empty, malformed or over-long means nobody: fail closed.
   This replaces an s6-ipcserver-access exec (~1 ms of CPU each) in front of every program. */
#ifndef YUBIN_IPCFD_H
#define YUBIN_IPCFD_H

#include <stddef.h>
#include <sys/types.h>

#define IPCFD_ARGS_MAX      16      /* argument strings per request, argv[0] included */
#define IPCFD_PAYLOAD_MAX   2048    /* payload bytes, the terminating NULs included */
#define IPCFD_HEAD_MAX      5       /* "2048:" */
#define IPCFD_REQ_MAX       (IPCFD_HEAD_MAX + IPCFD_PAYLOAD_MAX + 1)
#define IPCFD_FDS           2       /* fds passed with an ipcfd_call/ipcfd_serve request */
#define IPCFD_FDS_MAX       3       /* fds the _fds variants pass: 1..IPCFD_FDS_MAX */
#define IPCFD_SIGNAL_HIGH   1       /* ipcfd_serve_fds flag: killed by signal N -> 128+N */
#define IPCFD_TIMEOUT       30      /* seconds the server waits for the whole request */
#define IPCFD_STATUS_MAX    4       /* "255\n" */
#define IPCFD_PEERS_ENV     "IPCFD_PEERS"
#define IPCFD_LISTEN_ENV    "IPCFD_LISTEN"  /* MAXCONN: the program accepts itself */
#define IPCFD_LISTEN_MAX    4096    /* children of one ipcfd_listen at once */
#define IPCFD_PEERS_MAX     256     /* bytes of IPCFD_PEERS: ours, 23 uids of 10 digits */
#define IPCFD_UID_MAX       4294967294UL    /* (uid_t)-1 is "no uid" (setreuid), never a peer */
#define IPCFD_WHY_MAX       128     /* an ipcfd_refusal line */

struct ipcfd_req {
    char payload[IPCFD_PAYLOAD_MAX];
    char *argv[IPCFD_ARGS_MAX + 1];     /* point into payload; argv[argc] = NULL */
    size_t argc;
};

/* Encode argv (NULL-terminated) into out[0..cap). Returns the length, or -1 (errno EINVAL)
   when argv is empty, has more than IPCFD_ARGS_MAX strings or more than IPCFD_PAYLOAD_MAX
   bytes, or -1 (ENOBUFS) when cap is too small (IPCFD_REQ_MAX always suffices). */
int ipcfd_encode(char *out, size_t cap, const char *const argv[]);

/* Decode in[0..len), a prefix of a request as read so far. Pure function. Returns 1 when in
   is exactly one complete request (r filled, argv points into r->payload), 0 when in is a
   valid but incomplete prefix (read more), -1 when it can never be valid (bad length,
   missing ',', trailing bytes, too many arguments, empty argv[0], last argument without
   its NUL). */
int ipcfd_decode(struct ipcfd_req *r, const char *in, size_t len);

/* Parse a status answer "N\n" (N 0..255, no leading zero, nothing after). Returns N, or -1. */
int ipcfd_parse_status(const char *in, size_t len);

/* Client: connect to the unix socket at path and send one request with fd0 and fd1 attached.
   The caller keeps (and should then close) its own fd0 and fd1. Returns the connected
   socket (close-on-exec; the caller closes it), or -1 with errno. Blocks in connect(). */
int ipcfd_call(const char *path, int fd0, int fd1, const char *const argv[]);

/* Client, general form: the same with nfds (1..IPCFD_FDS_MAX) fds, which the server side
   (ipcfd_serve_fds with the same count) puts on its fds 0..nfds-1. ipcfd_call is
   ipcfd_call_fds with {fd0, fd1}. -1 with errno EINVAL when nfds is out of range. */
int ipcfd_call_fds(const char *path, const int *fds, size_t nfds, const char *const argv[]);

/* Client: read the final status from sock within timeout seconds. Returns 0..255, or -1 on
   EOF, garbage, error or timeout (callers treat -1 as the temporary 111). Leaves sock open. */
int ipcfd_status(int sock, unsigned timeout);

/* Client, for a poll loop: the status line read so far (at most IPCFD_STATUS_MAX bytes). */
struct ipcfd_answer {
    char line[IPCFD_STATUS_MAX];
    size_t len;                 /* start at 0 */
};
#define IPCFD_MORE (-2)
/* One read() of sock (call it when sock is readable; a non-blocking sock is fine) into a.
   Returns 0..255 once the line is complete, -1 on EOF, garbage or an error (as
   ipcfd_status), IPCFD_MORE when the rest is still to come. ipcfd_status loops on it. */
int ipcfd_status_read(int sock, struct ipcfd_answer *a);

/* Look uid up in list, an IPCFD_PEERS value: "UID[,UID...]", each UID decimal 0..IPCFD_UID_MAX
   without a leading zero, no spaces, no empty items, at most IPCFD_PEERS_MAX bytes. Pure
   function; the whole list is checked before the answer. Returns 1 listed, 0 not listed, -1
   (errno EINVAL) when list is NULL, empty, malformed or too long (ipcfd_serve_fds refuses). */
int ipcfd_peers_find(const char *list, uid_t uid);

/* The uid of the process at the other end of the unix socket fd, as of its connect()
   (getsockopt SO_PEERCRED). 0 ok (*uid set), -1 with errno (ENOTSOCK on a pipe, say). */
int ipcfd_peer_uid(int fd, uid_t *uid);

/* After ipcfd_serve_fds failed with EPERM: the log line saying why, written to out[0..cap)
   (IPCFD_WHY_MAX suffices; cut short if cap is smaller): "refused a connection from uid N
   (not in IPCFD_PEERS)", or "(IPCFD_PEERS is unset or malformed)". Reads fd 0's peer
   again and the environment; nothing else. Returns out. */
const char *ipcfd_refusal(char *out, size_t cap);

/* Server: call first in main when IPCREMOTEEUID is set (s6-ipcserverd; the connection is fds
   0 and 1). Refuses (-1, errno EPERM, nothing read or forked) unless fd 0's peer uid is in
   IPCFD_PEERS (ipcfd_peers_find; the caller logs ipcfd_refusal and exits 111). Then reads one
   request strictly (IPCFD_TIMEOUT, exactly IPCFD_FDS fds) and forks.
   In the child it returns 0 with the passed fds on 0 and 1, the connection closed and
   *argv_out = the decoded argv (allocated once, never freed). The parent waits for the child,
   writes its status on the connection and exits; it never returns (the one place lib/ code
   exits: the parent has nothing left to do). Returns -1 (errno set,
   nothing forked) when the peer or the request is refused or cannot be read: the caller
   logs and exits 111, which closes the connection and the client sees -1. */
int ipcfd_serve(char ***argv_out);

/* Server, general form: as ipcfd_serve, but the request must carry exactly nfds fds
   (1..IPCFD_FDS_MAX), which the child gets on fds 0..nfds-1 (with 3, the service's log on
   fd 2 is replaced too). flags: 0, or IPCFD_SIGNAL_HIGH to answer 128+N instead of 111 when
   the child was killed by signal N (so a client can tell a crash from a temporary failure).
   ipcfd_serve is ipcfd_serve_fds(argv_out, IPCFD_FDS, 0). */
int ipcfd_serve_fds(char ***argv_out, size_t nfds, unsigned flags);

/* The program as its own server, no s6-ipcserverd and no exec per connection. fd 0 is a
   listening unix socket (s6-ipcserver-socketbinder); fd 1 gets one "\n" once the loop runs
   (s6 readiness: the run script makes it the notification fd), then 0 and 1 are /dev/null.
   The parent accepts; a peer whose uid is not in IPCFD_PEERS is logged ("refused a connection
   from uid N ...") and closed; otherwise it forks. The child returns 0 here having read the
   request (as ipcfd_serve_fds: IPCFD_TIMEOUT, exactly nfds fds, put on 0..nfds-1;
   *argv_out = the argv), or -1 (errno) when the request is refused: the caller logs and
   exits 111. The parent keeps the connection and writes the child's exit status there when it
   ends (flags as ipcfd_serve_fds). At most maxconn (1..IPCFD_LISTEN_MAX) children at once;
   further clients wait in the listen backlog. SIGTERM: stop accepting, wait for the running
   children (their statuses are written), exit 0. The parent never returns; -1 only for a
   start-up error (bad arguments, no memory), before anything was accepted. */
int ipcfd_listen(char ***argv_out, size_t nfds, unsigned flags, unsigned maxconn);

/* The server prologue of a program that can run three ways: with IPCFD_LISTEN=MAXCONN in the
   environment, ipcfd_listen on fd 0; else with IPCREMOTEEUID (one connection from
   s6-ipcserverd), ipcfd_serve_fds; else returns 1 (run by hand: nothing read). 0 and -1 as
   those two (EINVAL for a malformed IPCFD_LISTEN), except that a refused peer never comes
   back: in both ways the refusal line is logged here (a warning) and, with IPCREMOTEEUID, the
   process exits 111. So -1 means a request that could not be read or was malformed. */
int ipcfd_serve_any(char ***argv_out, size_t nfds, unsigned flags);

#endif

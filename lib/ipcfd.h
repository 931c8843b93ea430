/* ipcfd.h: one request over a unix socket: argument strings plus passed fds (SCM_RIGHTS),
   answered by the program's exit status. The crossing of run/inject.sock, run/deliver.sock,
   run/pop3d.sock and run/remote.sock; docs/internals.md "Sockets". This module is the request
   format (pure functions, fuzzed: tests/fuzz/fuzz_ipcfd.c) and the client side; the server is
   lib/ipcserve.

   Request: one netstring "LEN:PAYLOAD," (LEN decimal, no leading zero, at most
   IPCFD_PAYLOAD_MAX) whose payload is 1..IPCFD_ARGS_MAX argument strings, each followed by
   one NUL (so no NUL inside an argument; empty arguments are allowed, argv[0] is not).
   1..IPCFD_FDS_MAX fds travel with it, the count agreed by both sides (2: the program's fd 0
   and fd 1; run/pop3d.sock passes 3). Answer: "N\n", N = the program's exit code 0..255.

   Who may connect: the server checks the peer itself, before it reads anything. The uid of
   the process that connected (SO_PEERCRED, fixed at connect(); never the environment) must be
   listed in the environment variable IPCFD_PEERS, "UID[,UID...]" (decimal, set by the
   service's run script). Unset, empty, malformed or over-long means nobody: fail closed. */
#ifndef YUBIN_IPCFD_H
#define YUBIN_IPCFD_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* A request carries at most one remote job: "remote" "-i" ID DOMAIN SENDER and
   QUEUE_JOB_RCPT_MAX (100) recipients of at most ADDR_MAX (320) bytes, each with its NUL:
   about 32.7 KB (queue/sched.c stops adding recipients at whatever does not fit). */
#define IPCFD_ARGS_MAX      112     /* argument strings per request, argv[0] included */
#define IPCFD_PAYLOAD_MAX   40000   /* payload bytes, the terminating NULs included */
#define IPCFD_HEAD_MAX      6       /* "40000:" */
#define IPCFD_REQ_MAX       (IPCFD_HEAD_MAX + IPCFD_PAYLOAD_MAX + 1)
#define IPCFD_FDS           2       /* fds passed with an ipcfd_call request: fd 0, fd 1 */
#define IPCFD_FDS_MAX       3       /* fds a request may carry: 1..IPCFD_FDS_MAX (<= FD_PASS_MAX) */
#define IPCFD_TIMEOUT       30      /* seconds the server waits for the whole request */
#define IPCFD_STATUS_MAX    4       /* "255\n" */
#define IPCFD_PEERS_ENV     "IPCFD_PEERS"
#define IPCFD_PEERS_MAX     256     /* bytes of IPCFD_PEERS: ours, 23 uids of 10 digits */
#define IPCFD_UID_MAX       4294967294UL    /* (uid_t)-1 is "no uid" (setreuid), never a peer */
#define IPCFD_WHY_MAX       128     /* an ipcfd_refusal_line */

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
   (lib/ipcserve, with the same count) puts on its fds 0..nfds-1. ipcfd_call is
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
/* One read() of sock (call it when sock is readable; a non-blocking sock is fine) into a.
   Returns 1 once the line is complete (*code = 0..255), 0 while the rest is still to come,
   -1 on EOF, garbage or an error (no status, as ipcfd_status). ipcfd_status loops on it. */
int ipcfd_status_read(int sock, struct ipcfd_answer *a, int *code);

/* Look uid up in list, an IPCFD_PEERS value: "UID[,UID...]", each UID decimal 0..IPCFD_UID_MAX
   without a leading zero, no spaces, no empty items, at most IPCFD_PEERS_MAX bytes. Pure
   function; the whole list is checked before the answer. Returns 1 listed, 0 not listed, -1
   (errno EINVAL) when list is NULL, empty, malformed or too long (the server refuses). */
int ipcfd_peers_find(const char *list, uid_t uid);

/* The log line for a refused peer uid, listed as ipcfd_peers_find answered for it, into
   out[0..cap) (IPCFD_WHY_MAX suffices; cut short if cap is smaller): "refused a connection
   from uid N (not in IPCFD_PEERS)", or "(IPCFD_PEERS is unset or malformed)". Returns out. */
const char *ipcfd_refusal_line(char *out, size_t cap, uid_t uid, int listed);

/* Deadlines for both sides: now + seconds (+1: a whole second at least) on CLOCK_MONOTONIC,
   and a poll of fd for POLLIN until then: 1 readable, 0 timed out, -1 error (errno). */
time_t ipcfd_deadline(unsigned seconds);
int ipcfd_wait_in(int fd, time_t deadline);

#endif

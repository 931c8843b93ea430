/* remote.h: remote's state for one job (one message to one domain) and the functions its
   two files share: remote.c (the SMTP session, connection reuse, the destination, main) and
   remote_job.c (the job's message, its recipients' results, the result lines). */
#ifndef YUBIN_REMOTE_H
#define YUBIN_REMOTE_H

#include "dns.h"
#include "fleethome.h"
#include "limits.h"
#include "queue/conncache.h"
#include "queue/smtpconn.h"
#include "queue/smtpreply.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define REMOTE_TEXT_MAX   SMTP_REPLY_MAX   /* one result line's text, incl. the NUL */

/* What the last error of a run is from, lowest first: the final Z tells the most telling */
enum lasterr_rank {
    LASTERR_NONE = 0,
    LASTERR_NO_ADDRESS,         /* no address for the host: none (4.4.4), DNS failed (4.4.3) */
    LASTERR_NO_CONNECTION,      /* no connection to it (4.4.1): with the above, none reached */
    LASTERR_REACHED             /* a server answered, or failed on an open connection */
};
#define REMOTE_BATCH      100      /* RCPTs per pipelined group (RFC 2920 §3.1 deadlock) */
#define REMOTE_TARGETS    DNS_MX_MAX
#define REMOTE_QUIT_WAIT  10       /* seconds to wait for the reply to QUIT */
#define REMOTE_REUSE_LIFE 300      /* seconds a connection is reused at most (as Postfix) */

/* A_STALE: a connection from the cache broke before this message reached the server (it
   was closed while idle); another connection takes the message. */
enum attempt_result { A_DONE, A_NEXT, A_RETRY_PLAIN, A_STALE };

/* The loop's settings for its jobs: the connection cache (docs/remote.md "Connection
   reuse"). Run by hand, remote has none. */
struct remote_ctx {
    int cache_fd;                /* -1: no reuse */
    unsigned reuse_max;          /* REMOTE_CACHE_USES: messages per connection */
};

struct rcpt {
    const char *addr;
    char status;                 /* 0 = no result yet, else 'D' 'F' 'Z' */
    int accepted;                /* RCPT got 2xx in this session */
    char text[REMOTE_TEXT_MAX];
};

struct target {
    char host[SMTP_DOMAIN_MAX + 1];
    unsigned port;
};

struct remote {
    const char *root, *domain, *sender, *id;
    struct rcpt *rcpt;
    size_t nrcpt;
    const char *msg;
    size_t msglen;
    void *map;                   /* msg's mapping (maplen octets), or NULL */
    size_t maplen;
    char *heap;                  /* msg read into memory (not a file), or NULL */
    int eightbit, utf8;
    uint64_t size;
    char me[SMTP_DOMAIN_MAX + 1];
    unsigned t_connect, t_reply, t_data;
    int tls_require, verify;
    int fleet;                   /* the domain is homed on another node: its internal route */
    char fleet_cn[sizeof FLEET_CN_PREFIX + FLEET_NODE_MAX];   /* "fleet-NODE" */
    uint64_t epoch;              /* the home's epoch in our maps (RCPT ... XEPOCH=N) */
    struct dns dns;
    const char *host;            /* the server being tried (for texts and logs) */
    char ip[INET6_ADDRSTRLEN];
    char lasterr[REMOTE_TEXT_MAX];   /* why the last server could not take the message */
    enum lasterr_rank lasterr_rank;  /* what lasterr is from: only a failure of the same
                                        rank or higher replaces it */
    struct smtpconn c;
    struct smtpreply reply;
    const struct remote_ctx *ctx;
    struct conncache_entry ce;   /* the connection in use: its key, address, EHLO, uses */
    int reused;                  /* it came from the cache: RSET first */
    int data_sent;               /* DATA went in the pipelined group */
    int park_ok;                 /* every reply of the transaction was read */
    int tls_skipped;             /* plaintext, though the server offers STARTTLS */
};
/* ---- remote_job.c ---- */

/* text = "HOST [IP] said: REPLY (#X.Y.Z)" or "HOST [IP]: WHAT (#X.Y.Z)", at most cap - 1
   octets (what: a reply's quote, or what went wrong; status the X.Y.Z). */
void job_describe(struct remote *rm, char *out, size_t cap, const char *what,
                  const char *status);
/* The same for the current reply. */
void job_describe_reply(struct remote *rm, char *out, size_t cap);
/* A recipient's result ('D', 'F' or 'Z'), logged. */
void job_set_result(struct remote *rm, struct rcpt *r, char status, const char *text);
/* The result for every recipient without one (and, if only_accepted, accepted in this
   session). */
void job_set_all(struct remote *rm, char status, const char *text, int only_accepted);
/* 'D' for 2xx, 'F' for 5xx, 'Z' otherwise. */
char job_reply_status(const struct smtpreply *r);
/* Every recipient without a result gets status with "what (#st)"; returns A_DONE. */
enum attempt_result job_all_final(struct remote *rm, char status, const char *what,
                                  const char *st);
/* One line per recipient on fd 1, in argument order. 0 ok, -1 errno. */
int job_write_results(const struct remote *rm);
/* Turn the last "(#5." of a temporary result's text into "(#4.". */
void job_make_temporary(char *text);
/* 1 if some recipient has no result yet. */
int job_pending(const struct remote *rm);
/* Arguments (DOMAIN SENDER RCPT... in argv[1..]), settings, the message on fd 0; the
   refusals that need no server. Dies on local trouble. */
struct remote *job_setup(int argc, char **argv, const char *id);
/* Everything job_setup took (the message's mapping or memory, the recipients, rm). */
void job_free(struct remote *rm);

#endif

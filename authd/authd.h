/* authd.h: authd's compiled-in limits (docs/auth.md "Limits") and its state, shared by the
   files of the authd program (authd.c: the start-up and main; authd_loop.c: the request
   service loop; authd_pool.c: the pool of verifying workers) */
#ifndef YUBIN_AUTHD_H
#define YUBIN_AUTHD_H

#include "authcache.h"
#include "authreq.h"
#include "limits.h"
#include "throttle.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AUTHD_ALLOW_MAX     16      /* uids in AUTHD_ALLOW */
#define AUTHD_READING_MAX   64      /* requests being read at once; more wait in the backlog */
#define AUTHD_WAIT_MAX      1024    /* requests waiting for their throttle delay or a worker (a fd
                                       and ~1.4 KB each); more are failed at once, reason=busy */
#define AUTHD_WAIT_PER_IP   16      /* of those, from one client IP (IPv6: its /64); more: busy */
#define AUTHD_WORKERS_MAX   64
/* Each state stays within its own bound, so a request being read always finds a free entry and
   waiting requests never stop authd from accepting and reading new ones. */
#define AUTHD_CONN_MAX      (AUTHD_READING_MAX + AUTHD_WAIT_MAX + AUTHD_WORKERS_MAX)
#define AUTHD_FD_SPARE      16      /* stdio, listener, notification fd, maps, log */
#define AUTHD_READ_MS       10000   /* a client has this long to send its request */
#define AUTHD_WORKER_MS     60000   /* a verification taking longer is killed (reply temp) */
#define AUTHD_RESPAWN_MS    1000    /* a worker that died within this of its start is re-forked
                                       only after this long (no fork loop if workers keep dying) */
#define AUTHD_CACHE_MAX     8192    /* remembered verifications (80 octets each); a full set
                                       of 8 loses its oldest */
#define AUTHD_CACHE_TTL     3600    /* AUTH_CACHE_TTL default, seconds (Dovecot's auth_cache_ttl) */
#define AUTHD_CACHE_TTL_MAX 86400   /* longer settings are cut to this */

enum conn_state { CONN_FREE, CONN_READING, CONN_WAITING, CONN_VERIFYING, CONN_NSTATES };

struct conn {
    enum conn_state state;
    int fd;
    uid_t uid;
    uint64_t deadline;      /* READING: give up; VERIFYING: kill the worker */
    uint64_t start_at;      /* WAITING: throttled until then */
    uint64_t seq;           /* arrival order: waiting requests start first come first served */
    unsigned worker;        /* VERIFYING: index in the pool */
    size_t len;
    char req[AUTH_REQ_MAX + 1];         /* one octet more, to notice an over-long request */
    struct authreq ar;                  /* points into req */
    char login[AUTH_FIELD_MAX + 1];     /* lower case */
    char ipkey[AUTHREQ_IP_MAX + 1];     /* throttle key of ar.ip */
    int admitted;                       /* throttle_admit took it: throttle_done at the end */
};

/* one long-lived worker of the pool */
struct worker {
    pid_t pid;              /* 0: not running */
    int fd;                 /* parent's end of the socketpair; -1 when not running */
    struct conn *job;       /* the request it is verifying, or NULL when idle */
    uint64_t started;       /* when it was forked */
    uint64_t respawn_at;    /* not running: fork it again from then on */
};

struct authd {
    const char *root;
    int lfd;
    uid_t allow[AUTHD_ALLOW_MAX];
    size_t nallow;
    unsigned workers;
    struct worker pool[AUTHD_WORKERS_MAX];
    unsigned wait_max;          /* AUTHD_WAIT_MAX, less if the fd limit is lower */
    unsigned count[CONN_NSTATES];   /* entries in each state; [CONN_VERIFYING] = busy workers */
    uint64_t seq;
    struct throttle *thr;
    struct authcache *cache;    /* NULL when AUTH_CACHE_TTL is 0 */
    unsigned long cache_ttl;    /* seconds */
    sigset_t waitmask;          /* inside ppoll, and in workers: the first mask, SIGTERM and
                                   SIGCHLD let in */
    struct conn *conns;         /* AUTHD_CONN_MAX entries */
};

/* authd_loop.c */
/* Catch SIGTERM and SIGCHLD, blocked except inside ppoll (ad->waitmask lets them in). */
void setup_signals(struct authd *ad);
/* Serve requests until SIGTERM, then wipe the cache and exit 0. */
void loop(struct authd *ad);
/* Move c to state to, keeping ad->count exact. */
void conn_set(struct authd *ad, struct conn *c, enum conn_state to);
/* Send text to c's client and close c. */
void reply(struct authd *ad, struct conn *c, const char *text);
/* Answer c with verdict v (-1: its worker was lost), log it and tell the throttle. */
void finish(struct authd *ad, struct conn *c, int v, uint64_t now);

/* authd_pool.c */
/* Fork every worker that is down and due again. */
void spawn_due(struct authd *ad, uint64_t now);
/* The index of a running worker without a job, or -1 when every one is busy or down. */
int idle_worker(const struct authd *ad);
/* Hand c to an idle worker (the caller checked idle_worker). */
void start_worker(struct authd *ad, struct conn *c, uint64_t now);
/* Worker w has died or been killed: its request, if any, gets temp; fork it again later. */
void lose_worker(struct authd *ad, unsigned w, uint64_t now);
/* Worker w's socket is readable: its verdict, or its end. */
void on_worker(struct authd *ad, unsigned w, uint64_t now);

#endif

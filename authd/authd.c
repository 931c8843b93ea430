/* authd: checks logins and passwords against cdb/auth.cdb for smtpd, checkpw; runs as yubin-auth */
/* (service "admin": the member page's domain administrators, against etc/webadmins) */
/*
 * usage: authd [-d NOTIFYFD]     (fd 0: a listening unix socket, e.g. from
 *                                 s6-ipcserver-socketbinder ROOT/run/authd.sock)
 * One long-running parent keeps the throttle state and does all socket I/O; password
 * verifications run in a pool of AUTHD_WORKERS long-lived workers, forked once and re-forked
 * if one dies, each fed one request at a time over a socketpair, so slow hashes use every core
 * and never block the loop. Protocol: docs/internals.md; rules: docs/auth.md.
 * The parent also remembers recent successful verifications (authcache.h): a later request with
 * the same password against the same stored hash, within AUTH_CACHE_TTL, skips only the crypt().
 * Environment: YUBIN_ROOT, AUTHD_ALLOW (comma list of user names or uids allowed to connect),
 * AUTHD_WORKERS (default 2 per core), AUTH_CACHE_TTL (seconds, default 3600, 0 off).
 * Exit: 0 on SIGTERM (the cache wiped), 100 bad usage or configuration, 111 system error.
 */
#include "authcache.h"
#include "authreq.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"
#include "throttle.h"
#include "verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
/* parent → worker, one packet: SERVICE \0 LOGIN \0 PASSWORD \0; worker → parent: one verdict
   octet, followed for V_OK (when the cache is on) by the keyed hash of the verification */
#define AUTHD_JOB_MAX       (AUTHREQ_SERVICE_MAX + 1 + 2 * (AUTH_FIELD_MAX + 1))
#define AUTHD_ANSWER_MAX    (1 + AUTHCACHE_MAC_LEN)

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

static volatile sig_atomic_t got_term;

static void on_signal(int sig)
{
    if (sig == SIGTERM) {
        got_term = 1;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void parse_allow(struct authd *ad, const char *list)
{
    const char *p = list;
    ad->nallow = 0;
    while (*p) {
        char name[64];
        size_t n = strcspn(p, ",");
        uint64_t u;
        if (n == 0 || n >= sizeof name) {
            die(EXIT_PERM, "bad AUTHD_ALLOW entry near: %.32s", p);
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (ad->nallow == AUTHD_ALLOW_MAX) {
            die(EXIT_PERM, "more than %d users in AUTHD_ALLOW", AUTHD_ALLOW_MAX);
        }
        if (str_to_u64(name, n, &u) == 0 && u < (uid_t)-1) {
            ad->allow[ad->nallow++] = (uid_t)u;
        } else {
            struct passwd *pw = getpwnam(name);
            if (!pw) {
                die(EXIT_PERM, "unknown user in AUTHD_ALLOW: %s", name);
            }
            ad->allow[ad->nallow++] = pw->pw_uid;
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    if (ad->nallow == 0) {
        die(EXIT_PERM, "AUTHD_ALLOW is empty: name the users that may ask (smtpd, checkpw)");
    }
}

/* root may read the hashes anyway, so it may ask too (operator checks, tests) */
static int allowed(const struct authd *ad, uid_t uid)
{
    size_t i;
    if (uid == 0) {
        return 1;
    }
    for (i = 0; i < ad->nallow; i++) {
        if (ad->allow[i] == uid) {
            return 1;
        }
    }
    return 0;
}

/* Every state change goes through here so the counts stay exact. */
static void conn_set(struct authd *ad, struct conn *c, enum conn_state to)
{
    ad->count[c->state]--;
    ad->count[to]++;
    c->state = to;
}

static void conn_close(struct authd *ad, struct conn *c)
{
    if (c->admitted) {
        throttle_done(ad->thr, c->ipkey, c->login, now_ms());
        c->admitted = 0;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    explicit_bzero(c->req, sizeof c->req);
    conn_set(ad, c, CONN_FREE);
    c->fd = -1;
    c->len = 0;
}

/* The socket is non-blocking; a reply of a few octets fits any socket buffer. */
static void reply(struct authd *ad, struct conn *c, const char *text)
{
    if (write(c->fd, text, strlen(text)) < 0 && errno != EPIPE) {
        log_warn_sys("unable to reply to uid=%u", (unsigned)c->uid);
    }
    conn_close(ad, c);
}

/* ---------------------------------------------------------------- worker (child side) */

/* Split a job "SERVICE\0LOGIN\0PASSWORD\0" of n octets (job[n] readable); 0 ok, -1 malformed. */
static int job_split(char *job, size_t n, const char **login, const char **password)
{
    size_t sl = strnlen(job, n), ll;
    if (sl == 0 || sl + 1 >= n || job[n - 1] != '\0') {
        return -1;
    }
    *login = job + sl + 1;
    ll = strnlen(*login, n - sl - 1);
    if (ll == 0 || sl + 1 + ll + 1 >= n) {
        return -1;
    }
    *password = *login + ll + 1;
    return 0;
}

/* Serve the parent until it closes its end: one request in, one verdict out (with the keyed
   hash of a success when cache is not NULL: the child's copy holds the key and no entries). */
static void worker_main(const char *root, const struct authcache *cache, int fd)
{
    char job[AUTHD_JOB_MAX + 1], hash[PW_HASH_MAX];
    unsigned char answer[AUTHD_ANSWER_MAX];
    for (;;) {
        ssize_t n = recv(fd, job, AUTHD_JOB_MAX, 0);
        const char *login, *password;
        size_t alen = 1;
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            _exit(n == 0 ? 0 : EXIT_TEMP);
        }
        job[n] = '\0';
        if (job_split(job, (size_t)n, &login, &password) < 0) {
            answer[0] = V_TEMP;     /* not reached: the parent sends what it parsed */
        } else if (strcmp(job, "admin") == 0) {
            answer[0] = (unsigned char)verdict_admin(root, login, password, hash);
        } else {
            answer[0] = (unsigned char)verdict_user(root, login, password, hash);
        }
        if (answer[0] == V_OK && cache) {
            authcache_mac(cache, job, login, password, strlen(password), hash, strlen(hash),
                          answer + 1);
            alen += AUTHCACHE_MAC_LEN;
        }
        explicit_bzero(job, sizeof job);
        explicit_bzero(hash, sizeof hash);
        if (fd_write_all(fd, answer, alen) < 0) {
            _exit(EXIT_TEMP);
        }
        explicit_bzero(answer, sizeof answer);
    }
}

/* ---------------------------------------------------------------- parent */

/* Fork worker w. The child keeps only its end of the socketpair: no client socket, no
   listener, no other worker's socket, and no password of a waiting request. */
static void spawn_worker(struct authd *ad, unsigned w, uint64_t now)
{
    struct worker *wk = &ad->pool[w];
    int sv[2];
    pid_t pid;
    size_t i;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        log_warn_sys("unable to create a socketpair for a worker");
        wk->respawn_at = now + AUTHD_RESPAWN_MS;
        return;
    }
    pid = fork();
    if (pid < 0) {
        log_warn_sys("unable to fork a worker");
        close(sv[0]);
        close(sv[1]);
        wk->respawn_at = now + AUTHD_RESPAWN_MS;
        return;
    }
    if (pid == 0) {
        close(sv[0]);
        close(ad->lfd);
        for (i = 0; i < AUTHD_WORKERS_MAX; i++) {
            if (ad->pool[i].fd >= 0) {
                close(ad->pool[i].fd);
            }
        }
        for (i = 0; i < AUTHD_CONN_MAX; i++) {
            struct conn *o = &ad->conns[i];
            if (o->state != CONN_FREE && o->fd >= 0) {
                close(o->fd);
            }
            explicit_bzero(o->req, sizeof o->req);
        }
        if (ad->cache) {
            authcache_forget_all(ad->cache);
        }
        if (signal(SIGTERM, SIG_DFL) == SIG_ERR || signal(SIGCHLD, SIG_DFL) == SIG_ERR
            || sigprocmask(SIG_SETMASK, &ad->waitmask, NULL) < 0) {
            _exit(EXIT_TEMP);
        }
        worker_main(ad->root, ad->cache, sv[1]);
    }
    close(sv[1]);
    if (fd_nonblock(sv[0], 1) < 0) {
        log_warn_sys("unable to set up a worker's socket");
    }
    wk->pid = pid;
    wk->fd = sv[0];
    wk->job = NULL;
    wk->started = now;
}

/* Worker w has died or been killed: its request, if any, gets temp; fork it again later. */
static void finish(struct authd *ad, struct conn *c, int v, uint64_t now);

static void lose_worker(struct authd *ad, unsigned w, uint64_t now)
{
    struct worker *wk = &ad->pool[w];
    struct conn *c = wk->job;
    close(wk->fd);
    wk->fd = -1;
    wk->pid = 0;
    wk->job = NULL;
    wk->respawn_at = now - wk->started < AUTHD_RESPAWN_MS ? now + AUTHD_RESPAWN_MS : now;
    if (c) {
        finish(ad, c, -1, now);
    }
}

/* The index of a running worker without a job, or -1 when every one is busy or down. */
static int idle_worker(const struct authd *ad)
{
    unsigned w;
    for (w = 0; w < ad->workers; w++) {
        if (ad->pool[w].pid != 0 && !ad->pool[w].job) {
            return (int)w;
        }
    }
    return -1;
}

static void spawn_due(struct authd *ad, uint64_t now)
{
    unsigned w;
    for (w = 0; w < ad->workers; w++) {
        if (ad->pool[w].pid == 0 && ad->pool[w].respawn_at <= now) {
            spawn_worker(ad, w, now);
        }
    }
}

/* Hand c to an idle worker (the caller checked idle_worker). */
static void start_worker(struct authd *ad, struct conn *c, uint64_t now)
{
    char job[AUTHD_JOB_MAX];
    size_t sl = strlen(c->ar.service) + 1;
    size_t n = sl + c->ar.loginlen + 1 + c->ar.passlen + 1;
    int idle = idle_worker(ad);
    unsigned w;
    struct worker *wk;
    if (idle < 0) {  /* not reached: see the caller */
        reply(ad, c, "temp\n");
        return;
    }
    w = (unsigned)idle;
    wk = &ad->pool[w];
    memcpy(job, c->ar.service, sl);
    memcpy(job + sl, c->login, c->ar.loginlen + 1);
    memcpy(job + sl + c->ar.loginlen + 1, c->ar.password, c->ar.passlen + 1);
    /* an idle worker's socket is empty: one packet of at most 521 octets always fits */
    if (send(wk->fd, job, n, MSG_NOSIGNAL) != (ssize_t)n) {
        log_warn_sys("unable to hand a request to worker pid=%ld", (long)wk->pid);
        explicit_bzero(job, sizeof job);
        kill(wk->pid, SIGKILL);
        lose_worker(ad, w, now);
        reply(ad, c, "temp\n");
        return;
    }
    explicit_bzero(job, sizeof job);
    /* the worker has its copy; the parent keeps no password */
    explicit_bzero((char *)c->ar.password, c->ar.passlen);
    conn_set(ad, c, CONN_VERIFYING);
    wk->job = c;
    c->worker = w;
    c->deadline = now + AUTHD_WORKER_MS;
}

/* what: "ok" (reason: how it was verified), "failed" or "temporary failure" (reason: why) */
static void log_result(const struct conn *c, const char *what, const char *reason)
{
    char user[AUTH_FIELD_MAX + 1], ip[AUTHREQ_IP_MAX + 1];
    authreq_logsafe(c->login, strlen(c->login), user, sizeof user);
    authreq_logsafe(c->ar.ip, strlen(c->ar.ip), ip, sizeof ip);
    if (strcmp(what, "ok") == 0) {
        log_info("auth ok service=%s ip=%s user=%s via=%s", c->ar.service, ip, user, reason);
    } else if (strcmp(what, "failed") == 0) {
        log_info("auth %s service=%s ip=%s user=%s reason=%s", what, c->ar.service, ip, user,
                 reason);
    } else {
        log_warn("auth %s service=%s ip=%s user=%s reason=%s", what, c->ar.service, ip, user,
                 reason);
    }
}

static void finish(struct authd *ad, struct conn *c, int v, uint64_t now)
{
    const char *reason = NULL;
    switch (v) {
    case V_OK:
        throttle_result(ad->thr, c->ipkey, c->login, 1, now);
        log_result(c, "ok", "crypt");
        reply(ad, c, "ok\n");
        return;
    case V_TEMP:
    case -1:
        log_result(c, "temporary failure", v == -1 ? "worker" : "map");
        reply(ad, c, "temp\n");
        return;
    case V_PASSWORD:
        reason = "password";
        break;
    case V_UNKNOWN:
        reason = "unknown";
        break;
    case V_DISABLED:
        reason = "disabled";
        break;
    default:
        reason = "badhash";
        break;
    }
    throttle_result(ad->thr, c->ipkey, c->login, 0, now);
    log_result(c, "failed", reason);
    reply(ad, c, "fail\n");
}

/* Answer c without a worker if the same password succeeded against the same stored hash less
   than AUTH_CACHE_TTL ago and the account may still log in; only the crypt() is skipped (the
   throttle has admitted c; the maps are read now). 1 answered, 0 not: verify it. */
static int cache_answer(struct authd *ad, struct conn *c, uint64_t now)
{
    char hash[PW_HASH_MAX];
    unsigned char mac[AUTHCACHE_MAC_LEN];
    int hit;
    if (!ad->cache || !authcache_has(ad->cache, c->ar.service, c->login, now)) {
        return 0;
    }
    if (verdict_stored(ad->root, strcmp(c->ar.service, "admin") == 0, c->login, hash) != 1) {
        explicit_bzero(hash, sizeof hash);
        return 0;
    }
    authcache_mac(ad->cache, c->ar.service, c->login, c->ar.password, c->ar.passlen, hash,
                  strlen(hash), mac);
    explicit_bzero(hash, sizeof hash);
    hit = authcache_match(ad->cache, c->ar.service, c->login, mac, now);
    explicit_bzero(mac, sizeof mac);
    if (!hit) {
        return 0;
    }
    throttle_result(ad->thr, c->ipkey, c->login, 1, now);
    log_result(c, "ok", "cache");
    reply(ad, c, "ok\n");     /* conn_close wipes the request, password included */
    return 1;
}

static unsigned waiting_from(const struct authd *ad, const char *ipkey)
{
    unsigned n = 0;
    size_t i;
    for (i = 0; i < AUTHD_CONN_MAX; i++) {
        const struct conn *c = &ad->conns[i];
        n += c->state == CONN_WAITING && strcmp(c->ipkey, ipkey) == 0;
    }
    return n;
}

/* A whole request has arrived (EOF): decode it, then throttle, start or queue it. A request
   that would wait beyond the waiting bounds is failed at once, untried and uncounted. */
static void request(struct authd *ad, struct conn *c, uint64_t now)
{
    enum authreq_err e = authreq_parse(c->req, c->len, &c->ar);
    uint64_t wait;
    if (e != AUTHREQ_OK) {
        log_warn("refused request from uid=%u: %s", (unsigned)c->uid, authreq_strerror(e));
        reply(ad, c, "fail\n");
        return;
    }
    memcpy(c->login, c->ar.login, c->ar.loginlen + 1);
    str_lower(c->login, c->ar.loginlen);
    if (throttle_ip_key(c->ar.ip, c->ipkey, sizeof c->ipkey) < 0) {
        memcpy(c->ipkey, c->ar.ip, strlen(c->ar.ip) + 1);
    }
    if (waiting_from(ad, c->ipkey) >= AUTHD_WAIT_PER_IP) {
        log_result(c, "failed", "busy");
        reply(ad, c, "fail\n");
        return;
    }
    if (throttle_admit(ad->thr, c->ipkey, c->login, now, &wait) < 0) {
        log_result(c, "failed", "throttled");
        reply(ad, c, "fail\n");
        return;
    }
    c->admitted = 1;
    if (wait == 0 && cache_answer(ad, c, now)) {
        return;
    }
    if (wait == 0 && idle_worker(ad) >= 0) {
        start_worker(ad, c, now);
        return;
    }
    if (ad->count[CONN_WAITING] >= ad->wait_max) {
        log_result(c, "failed", "busy");
        reply(ad, c, "fail\n");
        return;
    }
    conn_set(ad, c, CONN_WAITING);
    c->start_at = now + wait;
    c->seq = ad->seq++;
}

static void on_readable(struct authd *ad, struct conn *c, uint64_t now)
{
    ssize_t r = read(c->fd, c->req + c->len, sizeof c->req - c->len);
    if (r < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            conn_close(ad, c);
        }
        return;
    }
    if (r == 0) {
        request(ad, c, now);
        return;
    }
    c->len += (size_t)r;
    if (c->len > AUTH_REQ_MAX) {
        log_warn("refused request from uid=%u: %s", (unsigned)c->uid,
                 authreq_strerror(AUTHREQ_ETOOLONG));
        reply(ad, c, "fail\n");
    }
}

/* Worker w's socket is readable: its verdict (a success remembered in the cache), or its end
   (died, killed). */
static void on_worker(struct authd *ad, unsigned w, uint64_t now)
{
    struct worker *wk = &ad->pool[w];
    unsigned char a[AUTHD_ANSWER_MAX];
    ssize_t r = recv(wk->fd, a, sizeof a, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (wk->job && (r == 1 || (r == AUTHD_ANSWER_MAX && a[0] == V_OK && ad->cache))) {
        struct conn *c = wk->job;
        int v = a[0];
        wk->job = NULL;
        if (r == AUTHD_ANSWER_MAX) {
            authcache_put(ad->cache, c->ar.service, c->login, a + 1, now);
            explicit_bzero(a, sizeof a);
        }
        finish(ad, c, v, now);
        return;
    }
    if (r != 0) {
        log_warn("worker pid=%ld: unexpected answer; killed", (long)wk->pid);
    } else {
        log_warn("worker pid=%ld ended; starting another", (long)wk->pid);
    }
    kill(wk->pid, SIGKILL);
    lose_worker(ad, w, now);
}

static void on_accept(struct authd *ad, uint64_t now)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    struct conn *c = NULL;
    size_t i;
    int fd = accept4(ad->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            log_warn_sys("unable to accept");
        }
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        log_warn_sys("unable to get the peer's credentials");
        close(fd);
        return;
    }
    if (!allowed(ad, cred.uid)) {
        log_warn("refused connection from uid=%u pid=%ld: not in AUTHD_ALLOW",
                 (unsigned)cred.uid, (long)cred.pid);
        close(fd);
        return;
    }
    for (i = 0; i < AUTHD_CONN_MAX && !c; i++) {
        if (ad->conns[i].state == CONN_FREE) {
            c = &ad->conns[i];
        }
    }
    if (!c) {   /* not reached: see AUTHD_CONN_MAX */
        close(fd);
        return;
    }
    conn_set(ad, c, CONN_READING);
    c->fd = fd;
    c->uid = cred.uid;
    c->len = 0;
    c->deadline = now + AUTHD_READ_MS;
}

/* Start the oldest waiting requests whose time has come, while workers are free. */
static void dispatch(struct authd *ad, uint64_t now)
{
    while (idle_worker(ad) >= 0) {
        struct conn *best = NULL;
        size_t i;
        for (i = 0; i < AUTHD_CONN_MAX; i++) {
            struct conn *c = &ad->conns[i];
            if (c->state == CONN_WAITING && c->start_at <= now && (!best || c->seq < best->seq)) {
                best = c;
            }
        }
        if (!best) {
            return;
        }
        if (!cache_answer(ad, best, now)) {
            start_worker(ad, best, now);
        }
    }
}

static void expire(struct authd *ad, uint64_t now)
{
    size_t i;
    for (i = 0; i < AUTHD_CONN_MAX; i++) {
        struct conn *c = &ad->conns[i];
        if (c->state == CONN_READING && now >= c->deadline) {
            log_warn("dropped request from uid=%u: not complete after %d s", (unsigned)c->uid,
                     AUTHD_READ_MS / 1000);
            conn_close(ad, c);
        } else if (c->state == CONN_VERIFYING && now >= c->deadline) {
            log_warn("killed worker pid=%ld: no answer after %d s", (long)ad->pool[c->worker].pid,
                     AUTHD_WORKER_MS / 1000);
            kill(ad->pool[c->worker].pid, SIGKILL);
            lose_worker(ad, c->worker, now);
        }
    }
}

static int poll_timeout(const struct authd *ad, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    size_t i;
    for (i = 0; i < AUTHD_CONN_MAX; i++) {
        const struct conn *c = &ad->conns[i];
        if (c->state == CONN_READING || c->state == CONN_VERIFYING) {
            next = c->deadline < next ? c->deadline : next;
        } else if (c->state == CONN_WAITING && idle_worker(ad) >= 0) {
            next = c->start_at < next ? c->start_at : next;
        }
    }
    for (i = 0; i < ad->workers; i++) {
        if (ad->pool[i].pid == 0) {
            next = ad->pool[i].respawn_at < next ? ad->pool[i].respawn_at : next;
        }
    }
    if (next == UINT64_MAX) {
        return -1;
    }
    return next <= now ? 0 : (int)(next - now);
}

/* poll with SIGTERM and SIGCHLD let through only while waiting (no race between a signal and
   the wait) */
static int poll_wait(const struct authd *ad, struct pollfd *pfd, size_t n, int ms)
{
    struct timespec ts;
    if (ms < 0) {
        return ppoll(pfd, n, NULL, &ad->waitmask);
    }
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000;
    return ppoll(pfd, n, &ts, &ad->waitmask);
}

static void reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

/* SIGTERM (s6-svc -d, -r): wipe what authd remembers and leave; the workers read EOF and exit. */
static void stop(struct authd *ad)
{
    authcache_free(ad->cache);
    ad->cache = NULL;
    throttle_free(ad->thr);
    log_info("exiting on SIGTERM");
    exit(EXIT_DONE);
}

static void loop(struct authd *ad)
{
    struct pollfd pfd[AUTHD_CONN_MAX + AUTHD_WORKERS_MAX + 1];
    struct conn *who[AUTHD_CONN_MAX + AUTHD_WORKERS_MAX + 1];
    int wno[AUTHD_CONN_MAX + AUTHD_WORKERS_MAX + 1];    /* worker index, or -1 */
    for (;;) {
        size_t n = 0, i;
        uint64_t now;
        int r;
        reap();
        now = now_ms();
        spawn_due(ad, now);
        dispatch(ad, now);
        expire(ad, now);
        for (i = 0; i < AUTHD_CONN_MAX; i++) {
            struct conn *c = &ad->conns[i];
            if (c->state == CONN_READING) {
                pfd[n].fd = c->fd;
                pfd[n].events = POLLIN;
                wno[n] = -1;
                who[n++] = c;
            }
        }
        for (i = 0; i < ad->workers; i++) {     /* idle ones too, to notice one dying */
            if (ad->pool[i].pid != 0) {
                pfd[n].fd = ad->pool[i].fd;
                pfd[n].events = POLLIN;
                wno[n] = (int)i;
                who[n++] = NULL;
            }
        }
        if (ad->count[CONN_READING] < AUTHD_READING_MAX) {
            pfd[n].fd = ad->lfd;
            pfd[n].events = POLLIN;
            wno[n] = -1;
            who[n++] = NULL;
        }
        r = poll_wait(ad, pfd, n, poll_timeout(ad, now));
        if (got_term) {
            stop(ad);
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            die_sys(EXIT_TEMP, "unable to poll");
        }
        now = now_ms();
        for (i = 0; i < n && r > 0; i++) {
            if (!pfd[i].revents) {
                continue;
            }
            if (wno[i] >= 0) {
                if (ad->pool[wno[i]].pid != 0) {
                    on_worker(ad, (unsigned)wno[i], now);
                }
            } else if (!who[i]) {
                on_accept(ad, now);
            } else if (who[i]->state == CONN_READING) {
                on_readable(ad, who[i], now);
            }
        }
    }
}

static unsigned workers_default(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned long w;
    if (cpus < 1) {
        cpus = 1;
    }
    w = cfg_num("AUTHD_WORKERS", 2 * (unsigned long)cpus);
    if (w < 1) {
        w = 1;
    }
    return w > AUTHD_WORKERS_MAX ? AUTHD_WORKERS_MAX : (unsigned)w;
}

/* Every entry may hold a fd, every worker a pipe: raise the soft fd limit to fit them, or
   shrink the waiting bound to what the hard limit allows. */
static void fd_budget(struct authd *ad)
{
    unsigned long fixed = AUTHD_READING_MAX + 2UL * AUTHD_WORKERS_MAX + AUTHD_FD_SPARE;
    unsigned long need = fixed + AUTHD_WAIT_MAX, have;

    ad->wait_max = AUTHD_WAIT_MAX;
    if (fd_limit_raise(need, &have) < 0) {
        die_sys(EXIT_TEMP, "unable to raise the fd limit");
    }
    if (have < need) {
        if (have < fixed + AUTHD_WAIT_PER_IP) {
            die(EXIT_TEMP, "fd limit %lu too low: authd needs %lu", have, need);
        }
        ad->wait_max = (unsigned)(have - fixed);
        log_warn("fd limit %lu below %lu: at most %u requests wait at once", have, need,
                 ad->wait_max);
    }
}

/* AUTH_CACHE_TTL seconds (0: off) and a random key of this run, never stored anywhere. */
static void setup_cache(struct authd *ad)
{
    unsigned char key[AUTHCACHE_KEY_LEN];
    ad->cache = NULL;
    ad->cache_ttl = cfg_num("AUTH_CACHE_TTL", AUTHD_CACHE_TTL);
    if (ad->cache_ttl > AUTHD_CACHE_TTL_MAX) {
        ad->cache_ttl = AUTHD_CACHE_TTL_MAX;
    }
    if (ad->cache_ttl == 0) {
        return;
    }
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
        die_sys(EXIT_TEMP, "unable to get random octets for the cache key");
    }
    ad->cache = authcache_new(AUTHD_CACHE_MAX, (uint64_t)ad->cache_ttl * 1000, key);
    explicit_bzero(key, sizeof key);
    if (!ad->cache) {
        die_sys(EXIT_TEMP, "unable to allocate the cache");
    }
}

/* SIGTERM and SIGCHLD are blocked except inside ppoll: SIGTERM sets got_term, SIGCHLD wakes the
   loop to reap a worker that became a zombie after the loop's last reap (its socket's EOF can
   arrive before it has finished exiting). */
static void setup_signals(struct authd *ad)
{
    struct sigaction sa;
    sigset_t set;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGCHLD, &sa, NULL) < 0
        || sigprocmask(SIG_BLOCK, &set, &ad->waitmask) < 0) {
        die_sys(EXIT_TEMP, "unable to set up SIGTERM and SIGCHLD");
    }
    sigdelset(&ad->waitmask, SIGTERM);
    sigdelset(&ad->waitmask, SIGCHLD);
}

static void setup(struct authd *ad)
{
    struct throttle_cfg tc;
    int on = 0;
    socklen_t len = sizeof on;
    const char *allow = getenv("AUTHD_ALLOW");
    size_t i;

    if ((getuid() == 0 || geteuid() == 0) && !cfg_flag("YUBIN_ALLOW_ROOT")) {
        die(EXIT_TEMP, "refusing to run as root (run it through s6-setuidgid)");
    }
    ad->root = cfg_root();
    if (!ad->root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    parse_allow(ad, allow ? allow : "");
    ad->lfd = 0;
    if (getsockopt(ad->lfd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) {
        die(EXIT_PERM, "fd 0 is not a listening socket (start me under "
            "s6-ipcserver-socketbinder)");
    }
    if (fd_nonblock(ad->lfd, 1) < 0 || fd_cloexec(ad->lfd, 1) < 0) {
        die_sys(EXIT_TEMP, "unable to set up the listening socket");
    }
    ad->workers = workers_default();
    fd_budget(ad);
    throttle_defaults(&tc);
    ad->thr = throttle_new(&tc);
    if (!ad->thr) {
        die_sys(EXIT_TEMP, "unable to allocate the throttle tables");
    }
    ad->conns = calloc(AUTHD_CONN_MAX, sizeof *ad->conns);
    if (!ad->conns) {
        die_sys(EXIT_TEMP, "unable to allocate the request table");
    }
    memset(ad->count, 0, sizeof ad->count);
    ad->count[CONN_FREE] = AUTHD_CONN_MAX;
    for (i = 0; i < AUTHD_CONN_MAX; i++) {
        ad->conns[i].state = CONN_FREE;
        ad->conns[i].fd = -1;
    }
    for (i = 0; i < AUTHD_WORKERS_MAX; i++) {
        ad->pool[i].pid = 0;
        ad->pool[i].fd = -1;
        ad->pool[i].job = NULL;
        ad->pool[i].respawn_at = 0;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
    }
    setup_cache(ad);
    setup_signals(ad);
}

int main(int argc, char **argv)
{
    struct authd ad;
    int notify = -1, opt;

    log_init("authd");
    while ((opt = getopt(argc, argv, "d:")) != -1) {
        uint64_t v;
        if (opt != 'd' || str_to_u64(optarg, strlen(optarg), &v) < 0 || v < 3 || v > 1023) {
            die(EXIT_PERM, "usage: authd [-d notification-fd]");
        }
        notify = (int)v;
    }
    if (optind != argc) {
        die(EXIT_PERM, "usage: authd [-d notification-fd]");
    }
    setup(&ad);
    if (ad.cache) {
        log_info("ready root=%s workers=%u allowed=%zu waiting=%u cache=%d ttl=%lu", ad.root,
                 ad.workers, ad.nallow, ad.wait_max, AUTHD_CACHE_MAX, ad.cache_ttl);
    } else {
        log_info("ready root=%s workers=%u allowed=%zu waiting=%u cache=off", ad.root,
                 ad.workers, ad.nallow, ad.wait_max);
    }
    if (notify >= 0) {
        if (fd_write_all(notify, "\n", 1) < 0) {
            log_warn_sys("unable to write to notification fd %d", notify);
        }
        close(notify);
    }
    loop(&ad);
    return EXIT_BUG;
}

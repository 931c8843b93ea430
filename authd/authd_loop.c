/* authd_loop.c: authd's request service loop: accept, throttle, cache, reply; runs as yubin-auth */
#include "authd.h"
#include "exitcode.h"
#include "log.h"
#include "sig.h"
#include "str.h"
#include "verdict.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;

static void on_signal(int sig)
{
    if (sig == SIGTERM) {
        got_term = 1;
    }
}

/* SIGTERM and SIGCHLD are blocked except inside ppoll: SIGTERM sets got_term, SIGCHLD wakes the
   loop to reap a worker that became a zombie after the loop's last reap (its socket's EOF can
   arrive before it has finished exiting). */
void setup_signals(struct authd *ad)
{
    if (sig_loop_setup(on_signal, NULL, &ad->waitmask) < 0) {
        die_sys(EXIT_TEMP, "unable to set up SIGTERM and SIGCHLD");
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
void conn_set(struct authd *ad, struct conn *c, enum conn_state to)
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
void reply(struct authd *ad, struct conn *c, const char *text)
{
    if (write(c->fd, text, strlen(text)) < 0 && errno != EPIPE) {
        log_warn_sys("unable to reply to uid=%u", (unsigned)c->uid);
    }
    conn_close(ad, c);
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

void finish(struct authd *ad, struct conn *c, int v, uint64_t now)
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
    if (str_ip_group(c->ar.ip, c->ipkey, sizeof c->ipkey) < 0) {
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

void loop(struct authd *ad)
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

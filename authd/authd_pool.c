/* authd_pool.c: authd's workers that verify passwords: fork, one job each, verdict; yubin-auth */
#include "authd.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "verdict.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* parent → worker, one packet: SERVICE \0 LOGIN \0 PASSWORD \0; worker → parent: one verdict
   octet, followed for V_OK (when the cache is on) by the keyed hash of the verification */
#define AUTHD_JOB_MAX       (AUTHREQ_SERVICE_MAX + 1 + 2 * (AUTH_FIELD_MAX + 1))
#define AUTHD_ANSWER_MAX    (1 + AUTHCACHE_MAC_LEN)

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
void lose_worker(struct authd *ad, unsigned w, uint64_t now)
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
int idle_worker(const struct authd *ad)
{
    unsigned w;
    for (w = 0; w < ad->workers; w++) {
        if (ad->pool[w].pid != 0 && !ad->pool[w].job) {
            return (int)w;
        }
    }
    return -1;
}

void spawn_due(struct authd *ad, uint64_t now)
{
    unsigned w;
    for (w = 0; w < ad->workers; w++) {
        if (ad->pool[w].pid == 0 && ad->pool[w].respawn_at <= now) {
            spawn_worker(ad, w, now);
        }
    }
}

/* Hand c to an idle worker (the caller checked idle_worker). */
void start_worker(struct authd *ad, struct conn *c, uint64_t now)
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

/* Worker w's socket is readable: its verdict (a success remembered in the cache), or its end
   (died, killed). */
void on_worker(struct authd *ad, unsigned w, uint64_t now)
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

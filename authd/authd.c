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
#include "authd.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

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

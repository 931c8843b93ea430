/* mapsync: rebuilds this node's cdb maps from the fleet's directory in etcd; runs as yubin-sync under s6 */
/* usage: mapsync [-d FD] [--root DIR]
   Fleet mode only (ROOT/etc/fleet). Watches /yubin/dir/ in etcd; on every change (and every
   POLL_MS as a safety net) reads the whole directory, compiles it with mkmaps' code and
   replaces ROOT/cdb/NAME.cdb by rename (with dkim.cdb, the DKIM keys for the signer:
   dkim/dkimdir.h), then ROOT/cdb/revision; publishes the revision under
   /yubin/node/NAME with a lease, so mailacct knows when this node has a change and that the
   node is live (a lease of 60 s, revoked on SIGTERM). -d FD: s6 readiness, written once maps exist (built now, or kept from
   before). With etcd away it keeps the maps it has and logs how long it has been behind.
   Exit 100 bad usage or config; 111 a system error (s6 restarts it). */
#include "cfg.h"
#include "clock.h"
#include "dkim/dkimdir.h"
#include "exitcode.h"
#include "fd.h"
#include "fleet.h"
#include "log.h"
#include "mapsio.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS      10000   /* a full read this often even without a watch event; ours */
#define LEASE_TTL    "60"    /* seconds a crashed node stays listed (mailacct names it); ours */
#define RETRY_MS     1000    /* wait after a failed read of etcd; ours */
#define WARN_EVERY   10000   /* log "behind" at most this often while etcd is away; ours */

static volatile sig_atomic_t stopping;   /* SIGTERM: s6-svc -d, or the tree going down */

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

struct state {
    const char *root;
    struct fleet_conf fc;
    int notify;                 /* readiness fd, -1 once written */
    long long built;            /* the directory revision of the maps in cdb/ (0: none) */
    long long seen;             /* etcd's revision at the last read: the watch starts after */
    size_t sig_n;               /* records at the last build (with built: the state) */
    int uncompiled;             /* the last directory read did not compile (logged) */
    int have;                   /* cdb/ holds maps built from etcd */
    long long lease;            /* 0: none */
    long keepalive;             /* pid, 0: none */
    struct fleet_watch watch;   /* of the directory */
    int published;
    long long down_since, warned;
    long long refused_since;    /* ms; etcd reads but refused the lease or the status write
                                   (its space alarm): said once, tried again each POLL_MS */
    char me[MAP_LINE_MAX];
    size_t melen;
};

static void ready(struct state *s)
{
    if (s->notify >= 0) {
        fd_write_all(s->notify, "\n", 1);
        close(s->notify);
        s->notify = -1;
    }
}

static void read_me(struct state *s)
{
    char path[YUBIN_PATH_MAX];
    ssize_t got = 0;
    int fd;
    if (str_fmt(path, sizeof path, "%s/etc/me", s->root) == 0
        && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        got = fd_read_full(fd, s->me, sizeof s->me - 1);
        close(fd);
    }
    s->melen = got > 0 ? (size_t)got : 0;
}

/* Compile and write the maps of snapshot n, directory revision rev. 0 written, -1 refused
   or failed (logged). */
static int rebuild(struct state *s, const struct fleet_snap *n, long long rev)
{
    struct maps_src src;
    struct maps_err err;
    struct maps *m;
    char line[MAPS_REASON_MAX + 64];
    long long t0 = clock_ms();
    size_t keys, bad;
    int nogroup;
    if (fleet_src(n, s->me, s->melen, &src) < 0) {
        log_warn_sys("unable to assemble the maps of revision %lld", rev);
        return -1;
    }
    m = mapsio_compile(&src, &err);
    mapsio_src_free(&src);
    if (!m) {
        mapsio_err_str(&err, line, sizeof line);
        log_warn("the directory at revision %lld does not compile (%s); keeping the maps of "
                 "revision %lld", rev, line, s->built);
        s->uncompiled = 1;
        return -1;
    }
    if (mapsio_write_cdbs(s->root, m, NULL) < 0
        || dkimdir_write_cdb(s->root, n, &keys, &bad, &nogroup) < 0
        || mapsio_write_revision(s->root, rev) < 0) {
        log_warn_sys("unable to write %s/cdb", s->root);
        maps_free(m);
        return -1;
    }
    if (nogroup && keys) {
        log_warn("cdb/dkim.cdb written 0600: mapsync lacks the group yubin-dkim, so the DKIM "
                 "signer cannot read it (run yubin-setup --fleet again, then restart mapsync)");
    }
    if (bad) {
        log_warn("revision %lld: %zu DKIM selector records name no usable key record; those "
                 "domains send unsigned (mailacct domain dkim DOMAIN rotate)", rev, bad);
    }
    log_info("maps at revision %lld accounts=%zu was=%lld took=%lldms", rev,
             maps_user_count(m), s->built, clock_ms() - t0);
    maps_free(m);
    s->built = rev;
    return 0;
}

/* Read the directory; rebuild when it changed. 0 the maps are current, -1 etcd away. */
static int sync_once(struct state *s)
{
    struct fleet_snap n;
    char err[FLEET_ERR_MAX];
    long long mod = 0, t = clock_ms();
    size_t i;
    if (fleet_get(&s->fc, FLEET_DIR, FLEET_BAD_REFUSE, &n, err) < 0) {
        if (!s->down_since) {
            s->down_since = t;
        }
        if (t - s->warned >= WARN_EVERY) {
            log_warn("unable to read etcd (%s); serving the maps of revision %lld, behind for "
                     "%llds", err, s->built, (t - s->down_since) / 1000);
            s->warned = t;
        }
        return -1;
    }
    if (s->down_since) {
        log_info("etcd reachable again after %llds", (t - s->down_since) / 1000);
        s->down_since = 0;
    }
    /* The directory's revision: the guard's (every change rewrites it) or a newer record's
       (a hand-made put). A put raises it, a delete lowers the count: with the count it
       names the directory's state, the same on every node. */
    mod = n.serial_mod;
    for (i = 0; i < n.n; i++) {
        mod = n.kv[i].mod > mod ? n.kv[i].mod : mod;
    }
    s->seen = n.rev;
    if (s->sig_n == (size_t)-1 || mod != s->built || n.n != s->sig_n) {
        if (rebuild(s, &n, mod) == 0) {
            s->sig_n = n.n;
            s->published = 0;
            s->have = 1;
            s->uncompiled = 0;
        }
    } else if (s->uncompiled) {
        /* the bad records were deleted: the directory is the one the maps hold again, and
           nothing is rebuilt, so say it here or the warning stays the log's last word */
        log_info("the directory compiles again: it is the one of revision %lld, whose maps "
                 "are served", s->built);
        s->uncompiled = 0;
    }
    fleet_snap_free(&n);
    return 0;
}

static void reap(struct state *s)
{
    pid_t p;
    int st;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == s->keepalive) {
            s->keepalive = 0;
            s->lease = 0;       /* the lease may expire: take a new one */
            s->published = 0;
        } else if (p == s->watch.pid) {
            s->watch.pid = 0;   /* its output is closed when it starts again */
        }
    }
}

/* etcd refused to list this node (the lease or the status write): said once while it lasts;
   while this node is not listed, mailacct does not wait for it. */
static void refused(struct state *s, const char *what, const char *err)
{
    if (s->refused_since) {
        return;
    }
    s->refused_since = clock_ms();
    if (fleet_nospace(err)) {
        log_warn("unable to %s: %s: this node is not listed as live, so mailacct does not wait "
                 "for it until etcd takes writes again", what, FLEET_NOSPACE_SAY);
    } else {
        log_warn("unable to %s: %s", what, err);
    }
}

/* The liveness lease and its keep-alive child. */
static void lease(struct state *s)
{
    const char *args[] = { "lease", "grant", LEASE_TTL, "-w", "json", NULL };
    char err[FLEET_ERR_MAX], id[32];
    const char *ka[] = { "lease", "keep-alive", id, NULL };
    struct buf out;
    const char *p;
    if (s->lease) {
        return;
    }
    buf_init(&out, 4096);
    if (fleet_ctl(&s->fc, args, NULL, &out, err) != 0 || !out.s
        || !(p = strstr(out.s, "\"ID\":"))) {
        refused(s, "take a lease in etcd", err);
        buf_free(&out);
        return;
    }
    s->lease = strtoll(p + 5, NULL, 10);
    buf_free(&out);
    snprintf(id, sizeof id, "%llx", (unsigned long long)s->lease);
    s->keepalive = fleet_spawn(&s->fc, ka, NULL);
    if (s->keepalive < 0) {
        log_warn_sys("unable to start etcdctl lease keep-alive");
        s->keepalive = 0;
    }
}

static void publish(struct state *s)
{
    char key[128], val[64], opt[48], err[FLEET_ERR_MAX];
    const char *args[] = { "put", opt, key, val, NULL };
    struct buf out;
    if (s->published || !s->have) {
        return;
    }
    lease(s);
    if (!s->lease) {
        return;
    }
    snprintf(key, sizeof key, "%s%s", FLEET_NODES, s->fc.node);
    snprintf(val, sizeof val, "%srev=%lld", FLEET_SCHEMA, s->built);
    snprintf(opt, sizeof opt, "--lease=%llx", (unsigned long long)s->lease);
    buf_init(&out, 4096);
    if (fleet_ctl(&s->fc, args, NULL, &out, err) == 0) {
        s->published = 1;
        if (s->refused_since) {
            log_info("node listed as live again after %llds, at revision %lld",
                     (clock_ms() - s->refused_since) / 1000, s->built);
            s->refused_since = 0;
        }
    } else if (strstr(err, "lease not found")) {
        log_warn("unable to publish revision %lld: %s", s->built, err);
        if (s->keepalive) {
            kill((pid_t)s->keepalive, SIGKILL);   /* reaped: a new lease next time */
        }
    } else {
        char what[64];
        snprintf(what, sizeof what, "publish revision %lld", s->built);
        refused(s, what, err);
    }
    buf_free(&out);
}

static void watch(struct state *s)
{
    if (!s->watch.pid && s->seen
        && fleet_watch_start(&s->fc, &s->watch, FLEET_DIR, s->seen + 1) < 0) {
        log_warn_sys("unable to start etcdctl watch");
    }
}

/* Sleep until the watch says something changed, or ms passed. */
static void wait_change(struct state *s, int ms)
{
    if (fleet_watch_wait(&s->watch, ms) < 0) {
        /* compacted past our revision, or etcd gone */
        log_info("watch ended; reading the whole directory again");
    }
}

/* A clean stop: the node leaves the list at once, so mailacct does not wait for it. */
static void leave(struct state *s)
{
    char id[32], err[FLEET_ERR_MAX];
    const char *args[] = { "lease", "revoke", id, NULL };
    struct buf out;
    if (s->lease) {
        snprintf(id, sizeof id, "%llx", (unsigned long long)s->lease);
        buf_init(&out, 4096);
        if (fleet_ctl(&s->fc, args, NULL, &out, err) != 0) {
            log_warn("unable to leave the list of live nodes: %s", err);
        }
        buf_free(&out);
    }
    log_info("node %s stopping at revision %lld", s->fc.node, s->built);
    exit(EXIT_DONE);
}

int main(int argc, char **argv)
{
    struct state s;
    char why[FLEET_ERR_MAX + 64];

    log_init("mapsync");
    memset(&s, 0, sizeof s);
    s.notify = -1;
    fleet_watch_init(&s.watch);
    s.sig_n = (size_t)-1;   /* always build once at start */
    if (fleet_daemon_args(argc, argv, "mapsync", &s.notify, &s.root, why, sizeof why) < 0) {
        die(EXIT_PERM, "%s", why);
    }
    if (geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root (run it as yubin-sync)");
    }
    if (fleet_conf_read(s.root, FLEET_NODE, &s.fc, why, sizeof why) < 0) {
        die(EXIT_PERM, "%s", why);
    }
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term;   /* no SA_RESTART: the wait returns at once */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    mapsio_clean_tmp(s.root);   /* at start too: the maps may need no rebuild for a while */
    read_me(&s);
    s.built = mapsio_read_revision(s.root);
    s.have = s.built > 0;
    if (s.have) {
        ready(&s);   /* maps from before: the mail path has them whether etcd answers or not */
    }
    log_info("node %s starting at revision %lld", s.fc.node, s.built);
    for (;;) {
        int ok;
        if (stopping) {
            leave(&s);
        }
        reap(&s);
        ok = sync_once(&s) == 0;
        if (ok && s.have) {
            ready(&s);
            publish(&s);
            watch(&s);
        }
        reap(&s);
        /* a failed read or status write, or a watch that did not start, is tried again
           soon, not at the next poll; a status etcd refused (its space alarm stays on for
           hours) at the next poll */
        wait_change(&s, ok && (s.published || s.refused_since) && s.watch.fd >= 0 ? POLL_MS
                                                                                  : RETRY_MS);
    }
}

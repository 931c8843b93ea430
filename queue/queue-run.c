/* queue-run: delivers queued messages, retries, bounces, removes them; runs as yubin-q (s6) */
/* usage: queue-run [-d FD]   (-d: s6 readiness, write "\n" on FD once the queue is loaded)
   Settings (etc/env, defaults in queue/defaults.env, docs/queue.md): QUEUE_LOCAL_CONC,
   QUEUE_REMOTE_CONC, QUEUE_DOMAIN_CONC, QUEUE_LIFETIME, QUEUE_WARN, QUEUE_BACKOFF,
   QUEUE_SCAN, QUEUE_JOB_TIMEOUT. Exit: 111 on a setup failure, 0 after SIGTERM once the
   running deliveries are done. */
#include "sched.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRIGGER_LINE_MAX    64
#define FD_SPARE            64      /* descriptors beside the jobs': trigger, signalfd, files */

struct loop {
    struct runner r;
    int trigger;            /* FIFO, read side (non-blocking) */
    int trigger_w;          /* our own write side: the FIFO never reports EOF */
    char tbuf[TRIGGER_LINE_MAX * 4];
    size_t tlen;
    int sig;                /* signalfd: SIGTERM, SIGINT */
    int got_term;
    time_t next_scan;
};

/* A count of jobs at once: 1..QUEUE_CONC_MAX (lib/limits.h says why), one warning line for a
   value cut to it or not taken. remote reads QUEUE_REMOTE_CONC the same way, quietly. */
static unsigned conc_setting(const char *name)
{
    unsigned long v;
    switch (cfg_num_max(name, QUEUE_CONC_DEF, QUEUE_CONC_MAX, &v)) {
    case CFG_FIT_CUT:
        log_warn("%s is above %u, the most queue-run runs at once: %lu used", name,
                 QUEUE_CONC_MAX, v);
        break;
    case CFG_FIT_DEFAULT:
        log_warn("%s is 0 or not a number (1 to %u): the default %lu used", name,
                 QUEUE_CONC_MAX, v);
        break;
    case CFG_FIT_OK:
        break;
    }
    return (unsigned)v;
}

static void settings(struct runner *r)
{
    r->local_conc = conc_setting("QUEUE_LOCAL_CONC");
    r->remote_conc = conc_setting("QUEUE_REMOTE_CONC");
    r->domain_conc = conc_setting("QUEUE_DOMAIN_CONC");
    /* times cut to 30 days as QUEUE_BACKOFF's steps are: one of 2^63 or more would be
       negative as a time_t (every job given up at once, every message expired at its first
       try), a long one would push "now plus it" past the end of time */
    r->lifetime = qbackoff_cut(cfg_num("QUEUE_LIFETIME", 432000));
    r->warn = qbackoff_cut(cfg_num("QUEUE_WARN", 14400));
    r->sign_wait = qbackoff_cut(cfg_num("QUEUE_SIGN_WAIT", 3600));
    r->scan_every = qbackoff_cut(cfg_num("QUEUE_SCAN", 300));
    r->job_timeout = qbackoff_cut(cfg_num("QUEUE_JOB_TIMEOUT", 3600));
    if (r->scan_every == 0) {
        r->scan_every = 300;
    }
    qbackoff_parse(&r->backoff, getenv("QUEUE_BACKOFF"));
}

/* 1 if mess/ID or hold/ID exists (or cannot be told): mess/ is looked at again after hold/,
   so a message mailq moves between the two meanwhile is still found. */
static int has_message(const struct runner *r, const char *id)
{
    static const char *const dirs[] = {QDIR_MESS, QDIR_HOLD, QDIR_MESS};
    char path[YUBIN_PATH_MAX];
    size_t k;
    for (k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
        if (qfile_path(path, sizeof path, r->root, dirs[k], id) < 0
            || access(path, F_OK) == 0 || errno != ENOENT) {
            return 1;
        }
    }
    return 0;
}

/* Remove a state/ID older than 36 hours whose message is in neither mess/ nor hold/: left by
   a crash between msg_remove's two unlinks, or written by a mailq delete just after the
   message was removed. */
static void sweep_state(struct loop *l)
{
    char path[YUBIN_PATH_MAX], f[YUBIN_PATH_MAX];
    struct dirent *d;
    struct stat st;
    DIR *dir;

    if (qfile_path(path, sizeof path, l->r.root, QDIR_STATE, NULL) < 0 || !(dir = opendir(path))) {
        return;
    }
    while ((d = readdir(dir))) {
        if (!qid_ok(d->d_name) || msg_find(&l->r, d->d_name)
            || str_fmt(f, sizeof f, "%s/%s", path, d->d_name) < 0
            || lstat(f, &st) < 0 || !S_ISREG(st.st_mode)
            || l->r.now - st.st_mtime <= TMP_MAX_AGE || has_message(&l->r, d->d_name)) {
            continue;
        }
        if (unlink(f) == 0) {
            log_info("removed stale state/%s (its message is gone)", d->d_name);
        }
    }
    closedir(dir);
}

/* Load every message in mess/ not yet known; remove tmp/ files and state files of no message
   older than 36 hours, and marks of destinations down long past their time. */
static void scan(struct loop *l)
{
    char path[YUBIN_PATH_MAX];
    struct dirent *d;
    DIR *dir;

    if (qfile_path(path, sizeof path, l->r.root, QDIR_MESS, NULL) < 0 || !(dir = opendir(path))) {
        log_warn_sys("unable to scan queue/mess");
        return;
    }
    while ((d = readdir(dir))) {
        if (qid_ok(d->d_name) && msg_load(&l->r, d->d_name) < 0) {
            log_warn_sys("unable to load id=%s", d->d_name);
        }
    }
    closedir(dir);
    if (qfile_path(path, sizeof path, l->r.root, QDIR_TMP, NULL) < 0 || !(dir = opendir(path))) {
        return;
    }
    while ((d = readdir(dir))) {
        char f[YUBIN_PATH_MAX];
        struct stat st;
        if (d->d_name[0] == '.' || str_fmt(f, sizeof f, "%s/%s", path, d->d_name) < 0) {
            continue;
        }
        if (lstat(f, &st) == 0 && S_ISREG(st.st_mode) && l->r.now - st.st_mtime > TMP_MAX_AGE) {
            if (unlink(f) == 0) {
                log_info("removed stale tmp/%s", d->d_name);
            }
        }
    }
    closedir(dir);
    sweep_state(l);
    sched_down_expire(&l->r);
}

static void trigger_line(struct loop *l, const char *s, size_t n)
{
    char id[QID_BUF];
    if (n == 1 + QUEUE_ID_LEN && (s[0] == 'N' || s[0] == 'R' || s[0] == 'F')) {
        memcpy(id, s + 1, QUEUE_ID_LEN);
        id[QUEUE_ID_LEN] = '\0';
        if (!qid_ok(id)) {
            return;
        }
        if (s[0] == 'N') {
            if (msg_load(&l->r, id) < 0) {
                log_warn_sys("unable to load id=%s", id);
            }
            return;
        }
        msg_retry(&l->r, id);  /* R: mailq delete, release; F: mailq retry. This message, now */
        if (s[0] == 'F') {
            /* and the destinations down of its recipients, as a flush does for all: the
               operator said "try this message now", not "wait for the next round" */
            sched_down_now_msg(&l->r, msg_find(&l->r, id));
        }
    } else if (n == 1 && s[0] == 'F') {
        log_info("flush: retrying every deferred recipient now");
        l->r.flushed = l->r.now;
        msg_flush(&l->r, NULL);
        sched_down_now(&l->r);
        l->next_scan = 0;
    }
}

static void read_trigger(struct loop *l)
{
    for (;;) {
        ssize_t n = read(l->trigger, l->tbuf + l->tlen, sizeof l->tbuf - l->tlen);
        size_t pos = 0;
        if (n <= 0) {
            return;
        }
        l->tlen += (size_t)n;
        for (;;) {
            char *nl = memchr(l->tbuf + pos, '\n', l->tlen - pos);
            if (!nl) {
                break;
            }
            trigger_line(l, l->tbuf + pos, (size_t)(nl - (l->tbuf + pos)));
            pos = (size_t)(nl - l->tbuf) + 1;
        }
        memmove(l->tbuf, l->tbuf + pos, l->tlen - pos);
        l->tlen -= pos;
        if (l->tlen == sizeof l->tbuf) {
            l->tlen = 0;    /* garbage without newlines: drop it */
        }
    }
}

static void setup(struct loop *l)
{
    char path[YUBIN_PATH_MAX];
    sigset_t set;
    unsigned long need, have = 0;
    size_t k;

    if (qfile_setup(l->r.root) < 0) {
        die_sys(EXIT_TEMP, "unable to set up %s/queue", l->r.root);
    }
    if (qfile_path(path, sizeof path, l->r.root, QFILE_TRIGGER, NULL) < 0) {
        die(EXIT_TEMP, "mail root path too long");
    }
    l->trigger = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    l->trigger_w = l->trigger < 0 ? -1 : open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (l->trigger < 0 || l->trigger_w < 0) {
        die_sys(EXIT_TEMP, "unable to open %s", path);
    }
    /* signals arrive as data on a signalfd, read by the poll loop (no children: every job is
       a call over a socket) */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0
        || (l->sig = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        die_sys(EXIT_TEMP, "unable to set up signals");
    }
    signal(SIGPIPE, SIG_IGN);
    l->r.njobs = l->r.local_conc + l->r.remote_conc;
    /* a job holds its result pipe and its connection, and its message while it starts */
    need = 3UL * l->r.njobs + FD_SPARE;
    if (fd_limit_raise(need, &have) < 0 || have < need) {
        log_warn("the fd limit (%lu) is below the %lu that %lu jobs at once may need: a job "
                 "past it is deferred", have, need, (unsigned long)l->r.njobs);
    }
    l->r.jobs = calloc(l->r.njobs, sizeof *l->r.jobs);
    if (!l->r.jobs || msg_index_init(&l->r) < 0) {
        die(EXIT_TEMP, "out of memory");
    }
    for (k = 0; k < l->r.njobs; k++) {
        l->r.jobs[k].out = -1;
        l->r.jobs[k].sock = -1;     /* free */
    }
}

/* While stopping no scan is made: its time (or a flush's "now") would keep poll's timeout at
   0 once past, and queue-run would spin until the last job ended. */
static int poll_timeout(struct loop *l)
{
    time_t due = msg_next_due(&l->r), wake = l->r.stopping ? l->r.now + 3600 : l->next_scan;
    if (due && due < wake) {
        wake = due;
    }
    if (l->r.local_busy + l->r.remote_busy > 0 && l->r.job_timeout
        && l->r.now + 60 < wake) {
        wake = l->r.now + 60;
    }
    if (wake <= l->r.now) {
        return 0;
    }
    return (int)(wake - l->r.now > 3600 ? 3600 : wake - l->r.now) * 1000;
}

/* pfd[2..]: each running job's pipe and connection; owner[i] is the job of pfd[i]. Returns
   how many entries pfd holds. */
static size_t poll_set(struct loop *l, struct pollfd *pfd, size_t *owner)
{
    size_t k, n = 2;

    pfd[0].fd = l->sig;
    pfd[0].events = POLLIN;
    pfd[1].fd = l->trigger;
    pfd[1].events = POLLIN;
    for (k = 0; k < l->r.njobs; k++) {
        const struct job *j = &l->r.jobs[k];
        if (j->sock < 0) {
            continue;
        }
        if (j->out >= 0) {
            pfd[n].fd = j->out;
            pfd[n].events = POLLIN;
            owner[n++] = k;
        }
        pfd[n].fd = j->sock;
        pfd[n].events = POLLIN;
        owner[n++] = k;
    }
    return n;
}

static void run(struct loop *l)
{
    struct pollfd *pfd = calloc(2 * l->r.njobs + 2, sizeof *pfd);
    size_t *owner = calloc(2 * l->r.njobs + 2, sizeof *owner);
    if (!pfd || !owner) {
        die(EXIT_TEMP, "out of memory");
    }
    for (;;) {
        size_t k, n;
        struct signalfd_siginfo si;

        l->r.now = time(NULL);
        read_trigger(l);
        if (l->got_term && !l->r.stopping) {
            log_info("stopping: waiting for %u running deliveries",
                     l->r.local_busy + l->r.remote_busy);
            l->r.stopping = 1;
        }
        if (l->r.stopping && l->r.local_busy + l->r.remote_busy == 0) {
            /* The last results may have completed messages whose D line is kept back: removed
               now, or that line written, else the next queue-run delivers them again */
            notify_check_all(&l->r);
            msg_quiet_write_all(&l->r);
            break;
        }
        if (!l->r.stopping && l->r.now >= l->next_scan) {
            scan(l);
            l->next_scan = l->r.now + (time_t)l->r.scan_every;
        }
        /* jobs given up first: what their end makes due is started or noticed below, since
           poll's timeout counts only what is due later (msg_next_due) */
        sched_give_up_overdue(&l->r);
        msg_wake_due(&l->r);
        notify_check_all(&l->r);
        sched_start_jobs(&l->r);
        msg_sleep_idle(&l->r);
        n = poll_set(l, pfd, owner);
        if (poll(pfd, n, poll_timeout(l)) < 0 && errno != EINTR) {
            die_sys(EXIT_TEMP, "poll failed");
        }
        /* poll may have slept until a job ended: its result is stamped with this time, and
           a mark's time is counted from it */
        l->r.now = time(NULL);
        while (read(l->sig, &si, sizeof si) == (ssize_t)sizeof si) {
            l->got_term = 1;        /* SIGTERM or SIGINT */
        }
        /* only what poll reported; a job finished by its first fd ignores its second */
        for (k = 2; k < n; k++) {
            if (pfd[k].revents) {
                sched_job_read(&l->r, &l->r.jobs[owner[k]]);
            }
        }
    }
    free(pfd);
    free(owner);
}

int main(int argc, char **argv)
{
    struct loop l;
    int ready_fd = -1, c, down_before;

    log_init("queue-run");
    while ((c = getopt(argc, argv, "d:")) != -1) {
        if (c == 'd') {
            ready_fd = atoi(optarg);
        } else {
            die(EXIT_PERM, "usage: queue-run [-d notification-fd]");
        }
    }
    if (geteuid() == 0 || getuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    memset(&l, 0, sizeof l);
    l.r.root = cfg_root();
    if (!l.r.root) {
        die(EXIT_TEMP, "YUBIN_ROOT is not set to an absolute path");
    }
    if (cfg_me(l.r.me, sizeof l.r.me) < 0) {
        die(EXIT_TEMP, "unable to find this host's name (etc/me)");
    }
    settings(&l.r);
    setup(&l);
    l.r.now = time(NULL);
    /* a mailq flush while queue-run was away (or before it read the trigger) counts, as mailq
       shows it: its marks are due and so is the mail tried before it. Read before the marks
       are loaded: mending one rewrites queue/down, which would then look newer than the flush */
    l.r.flushed = qflush_time(l.r.root, l.r.now, &down_before);
    sched_down_load(&l.r);
    if (down_before) {
        sched_down_now(&l.r);
    }
    scan(&l);
    l.next_scan = l.r.now + (time_t)l.r.scan_every;
    log_info("started: %zu messages in the queue", l.r.nmsgs);
    if (ready_fd >= 0) {
        if (write(ready_fd, "\n", 1) < 0) {
            log_warn_sys("unable to signal readiness on fd %d", ready_fd);
        }
        close(ready_fd);
    }
    run(&l);
    log_info("stopped");
    return EXIT_DONE;
}

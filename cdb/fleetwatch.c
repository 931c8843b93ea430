/* fleetwatch.c: an etcdctl watch of a prefix run in the background, for mapsync and ratesync
   (fleet.h) */
#include "fleet.h"
#include "fleet_impl.h"

#include "fd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void fleet_watch_init(struct fleet_watch *w)
{
    w->pid = 0;
    w->fd = -1;
    buf_init(&w->out, FLEET_WATCH_LINE_MAX);
}

int fleet_watch_start(const struct fleet_conf *c, struct fleet_watch *w, const char *prefix,
                      long long from)
{
    char rev[32];
    const char *args[] = { "watch", "--prefix", prefix, "--rev", rev, "-w", "json", NULL };
    if (w->pid) {
        return 0;
    }
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    buf_reset(&w->out);
    snprintf(rev, sizeof rev, "%lld", from);
    w->pid = fleet_spawn(c, args, &w->fd);
    if (w->pid < 0) {
        w->pid = 0;
        w->fd = -1;
        return -1;
    }
    fd_nonblock(w->fd, 1);
    return 0;
}

void fleet_watch_stop(struct fleet_watch *w)
{
    buf_free(&w->out);
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->pid) {
        /* reaped here, not left to the caller's reaper: the pipe reads EOF a moment before the
           child becomes waitable, and a watch still counted as running would not be started
           again until the caller's next poll */
        kill((pid_t)w->pid, SIGKILL);
        waitpid((pid_t)w->pid, NULL, 0);
        w->pid = 0;
    }
}

int fleet_watch_wait(struct fleet_watch *w, int ms)
{
    struct pollfd p = { w->fd, POLLIN, 0 };
    char chunk[65536];
    ssize_t r;
    int changed = 0;
    if (w->fd < 0) {
        poll(NULL, 0, ms);
        return 0;
    }
    if (poll(&p, 1, ms) <= 0) {
        return 0;
    }
    while ((r = read(w->fd, chunk, sizeof chunk)) > 0) {
        changed = 1;
    }
    if (r == 0) {
        fleet_watch_stop(w);
        return -1;
    }
    return changed;
}

/* Read the watch's output into w->out until it holds a whole line, or nothing more is there
   (non-blocking). 0 ok; -1 with why: it ended (EOF), or the line (with its newline) is longer
   than FLEET_WATCH_LINE_MAX. */
static int watch_fill(struct fleet_watch *w, char *why)
{
    char chunk[65536];
    while (!w->out.len || !memchr(w->out.s, '\n', w->out.len)) {
        /* never more than the bound: what follows a newline is the next line's, and a read
           past the bound could hold a line's end and the next one's start */
        size_t room = w->out.max - w->out.len;
        ssize_t r;
        if (room == 0) {
            snprintf(why, FLEET_ERR_MAX, "a watch response longer than %lu octets",
                     FLEET_WATCH_LINE_MAX);
            return -1;
        }
        r = read(w->fd, chunk, room < sizeof chunk ? room : sizeof chunk);
        if (r > 0 && buf_append(&w->out, chunk, (size_t)r) < 0) {
            snprintf(why, FLEET_ERR_MAX, "unable to read etcdctl watch: %s", strerror(errno));
            return -1;
        }
        if (r == 0) {
            snprintf(why, FLEET_ERR_MAX, "etcdctl watch ended");
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                return 0;
            }
            snprintf(why, FLEET_ERR_MAX, "unable to read etcdctl watch: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

int fleet_watch_next(struct fleet_watch *w, int ms, struct fleet_snap *ev, char *why)
{
    struct pollfd p = { w->fd, POLLIN, 0 };
    long long compact;
    char *nl;
    size_t n;
    int r;
    memset(ev, 0, sizeof *ev);
    why[0] = '\0';
    if (w->fd < 0) {
        poll(NULL, 0, ms);
        return 0;
    }
    /* a line already read is taken first; else wait for output */
    if (!(nl = w->out.len ? memchr(w->out.s, '\n', w->out.len) : NULL)) {
        if (poll(&p, 1, ms) <= 0) {
            return 0;
        }
        if (watch_fill(w, why) < 0) {
            fleet_watch_stop(w);
            return -1;
        }
        if (!(nl = w->out.len ? memchr(w->out.s, '\n', w->out.len) : NULL)) {
            return 0;   /* part of a line: the rest comes */
        }
    }
    n = (size_t)(nl - w->out.s);
    r = fleet_parse_watch(ev, w->out.s, n, &compact);
    buf_consume(&w->out, n + 1);
    if (r < 0) {
        if (errno == ECANCELED && compact) {
            snprintf(why, FLEET_ERR_MAX, "etcd canceled the watch: history compacted to "
                     "revision %lld", compact);
        } else if (errno == ECANCELED) {
            snprintf(why, FLEET_ERR_MAX, "etcd canceled the watch");
        } else {
            snprintf(why, FLEET_ERR_MAX, "a watch response could not be read (%s)",
                     errno == EPROTO ? "not etcdctl's shape" : strerror(errno));
        }
        fleet_snap_free(ev);
        fleet_watch_stop(w);
        return -1;
    }
    return 1;
}

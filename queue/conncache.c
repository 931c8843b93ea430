/* conncache.c: remote's cache of idle plaintext SMTP connections (the remote-cache process) */
#include "queue/conncache.h"
#include "fd.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* One datagram on the cache's socketpair: 'G' take (reply socket attached), 'P' give
   (connection attached); the answer to 'G' is 'Y' (connection attached) or 'N'. */
struct cc_msg {
    char op;
    struct conncache_entry e;
};

struct cc_slot {
    struct conncache_entry e;
    int fd;                      /* -1: free */
    time_t since;                /* idle since */
};

struct cache {
    int sock;
    unsigned max, idle;
    struct cc_slot *slot;
    struct pollfd *p;            /* p[0] the socket, p[1..] the idle connections */
};

/* One datagram with at most one fd. 0 ok, -1 errno. */
static int send_msg(int sock, const struct cc_msg *m, int fd)
{
    return fd_send_fds(sock, m, sizeof *m, &fd, fd >= 0 ? 1 : 0, MSG_DONTWAIT);
}

/* One datagram: 1 read (*fd the attached fd or -1), 0 the other side is gone, -1 errno or a
   datagram of the wrong size (its fd closed). */
static int recv_msg(int sock, struct cc_msg *m, int *fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { m, sizeof *m };
    struct msghdr h;
    struct cmsghdr *c;
    ssize_t r;

    memset(&h, 0, sizeof h);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = cbuf;
    h.msg_controllen = sizeof cbuf;
    *fd = -1;
    do {
        r = recvmsg(sock, &h, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        return r == 0 ? 0 : -1;
    }
    for (c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            memcpy(fd, CMSG_DATA(c), sizeof *fd);
        }
    }
    if (r != (ssize_t)sizeof *m || (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (*fd >= 0) {
            close(*fd);
        }
        *fd = -1;
        errno = EPROTO;
        return -1;
    }
    m->e.key[sizeof m->e.key - 1] = '\0';
    m->e.ip[sizeof m->e.ip - 1] = '\0';
    return 1;
}

/* ---- the cache process ---- */

/* Drop an idle connection politely: QUIT without waiting for the answer (RFC 5321 §4.1.1.10
   lets the client close after sending it). */
static void drop(struct cc_slot *s)
{
    (void)!send(s->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(s->fd);
    s->fd = -1;
}

/* 'G': the most recently used idle connection for the key (warmest), or 'N'. */
static void take(struct cache *k, const struct cc_msg *m, int reply)
{
    struct cc_msg a;
    struct cc_slot *best = NULL;
    unsigned i;

    memset(&a, 0, sizeof a);
    a.op = 'N';
    for (i = 0; i < k->max; i++) {
        struct cc_slot *s = &k->slot[i];
        if (s->fd >= 0 && strcmp(s->e.key, m->e.key) == 0 && (!best || s->since > best->since)) {
            best = s;
        }
    }
    if (best) {
        a.op = 'Y';
        a.e = best->e;
    }
    if (send_msg(reply, &a, best ? best->fd : -1) == 0 && best) {
        close(best->fd);   /* the job holds it now */
        best->fd = -1;
    }
    close(reply);
}

/* 'P': keep it; when full, the connection idle longest goes. */
static void keep(struct cache *k, const struct cc_msg *m, int fd, time_t now)
{
    struct cc_slot *s = NULL;
    unsigned i;

    for (i = 0; i < k->max; i++) {
        if (k->slot[i].fd < 0) {
            s = &k->slot[i];
            break;
        }
        if (!s || k->slot[i].since < s->since) {
            s = &k->slot[i];
        }
    }
    if (s->fd >= 0) {
        drop(s);
    }
    s->e = m->e;
    s->fd = fd;
    s->since = now;
}

/* Poll set: the socket, then every idle connection (any event on one means the server
   spoke or closed: a 421 or EOF, so it is of no use any more). Returns the wait in ms. */
static int poll_set(struct cache *k, time_t now, nfds_t *n)
{
    int wait = -1;
    unsigned i;

    k->p[0].fd = k->sock;
    k->p[0].events = POLLIN;
    *n = 1;
    for (i = 0; i < k->max; i++) {
        struct cc_slot *s = &k->slot[i];
        long left;
        if (s->fd < 0) {
            continue;
        }
        left = (long)(s->since + (time_t)k->idle - now);
        if (left <= 0) {
            drop(s);
            continue;
        }
        if (wait < 0 || left * 1000 < wait) {
            wait = (int)(left * 1000);
        }
        k->p[*n].fd = s->fd;
        k->p[*n].events = POLLIN;
        (*n)++;
    }
    return wait;
}

/* Close every idle connection whose server spoke or went away. */
static void drop_spoken(struct cache *k, nfds_t n)
{
    nfds_t j;
    unsigned i;

    for (j = 1; j < n; j++) {
        if (!k->p[j].revents) {
            continue;
        }
        for (i = 0; i < k->max; i++) {
            if (k->slot[i].fd == k->p[j].fd) {
                drop(&k->slot[i]);
            }
        }
    }
}

static void cache_loop(struct cache *k)
{
    for (;;) {
        time_t now = time(NULL);
        struct cc_msg m;
        nfds_t n;
        int wait = poll_set(k, now, &n), fd, r;

        if (poll(k->p, n, wait) < 0 && errno != EINTR) {
            break;
        }
        drop_spoken(k, n);
        if (!(k->p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        r = recv_msg(k->sock, &m, &fd);
        if (r == 0) {
            break;    /* the loop and every job are gone */
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EPROTO) {
                break;
            }
            continue;
        }
        if (m.op == 'G' && fd >= 0) {
            take(k, &m, fd);
        } else if (m.op == 'P' && fd >= 0) {
            keep(k, &m, fd, time(NULL));
        } else if (fd >= 0) {
            close(fd);
        }
    }
    for (unsigned i = 0; i < k->max; i++) {
        if (k->slot[i].fd >= 0) {
            drop(&k->slot[i]);
        }
    }
}

int conncache_start(unsigned max, unsigned idle)
{
    struct cache k;
    int sv[2], nul;
    unsigned i;
    pid_t pid;

    if (max < 1 || max > CONNCACHE_MAX || idle < 1 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid > 0) {
        close(sv[1]);
        return sv[0];
    }
    /* the cache: its own name so that ps and the tests tell it from a job */
    close(sv[0]);
    nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0) {
        _exit(111);   /* not the loop's listening socket nor its readiness fd */
    }
    close(nul);
    prctl(PR_SET_NAME, "remote-cache", 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    k.sock = sv[1];
    k.max = max;
    k.idle = idle;
    k.slot = calloc(max, sizeof *k.slot);
    k.p = calloc((size_t)max + 1, sizeof *k.p);
    if (!k.slot || !k.p) {
        _exit(111);
    }
    for (i = 0; i < max; i++) {
        k.slot[i].fd = -1;
    }
    cache_loop(&k);
    _exit(0);
}

/* ---- a job's side ---- */

int conncache_get(int cfd, const char *key, struct conncache_entry *e)
{
    struct cc_msg m;
    struct pollfd p;
    int sv[2], fd = -1, k;

    if (cfd < 0 || strlen(key) >= sizeof m.e.key ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return -1;
    }
    memset(&m, 0, sizeof m);
    m.op = 'G';
    memcpy(m.e.key, key, strlen(key) + 1);
    k = send_msg(cfd, &m, sv[1]);
    close(sv[1]);
    if (k == 0) {
        p.fd = sv[0];
        p.events = POLLIN;
        do {
            k = poll(&p, 1, CONNCACHE_WAIT_MS);
        } while (k < 0 && errno == EINTR);
        if (k == 1 && recv_msg(sv[0], &m, &fd) == 1 && (m.op != 'Y' || fd < 0)) {
            if (fd >= 0) {
                close(fd);
            }
            fd = -1;
        }
    }
    close(sv[0]);
    if (fd >= 0) {
        *e = m.e;
    }
    return fd;
}

void conncache_put(int cfd, const struct conncache_entry *e, int fd)
{
    struct cc_msg m;

    if (cfd >= 0) {
        memset(&m, 0, sizeof m);
        m.op = 'P';
        m.e = *e;
        if (send_msg(cfd, &m, fd) < 0) {
            log_info("connection cache unavailable: %s", strerror(errno));
        }
    }
    close(fd);
}

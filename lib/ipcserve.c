/* ipcserve.c: the accept loop behind every lib/ipcfd socket: peer check, fork, status */
#include "ipcserve.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Room for more fds than we accept, so that a request with too many is seen and refused
   rather than truncated (MSG_CTRUNC is refused too). */
#define IPCSERVE_FDS_ROOM 8

struct slot {
    pid_t pid;      /* 0: free */
    int fd;         /* the connection served, kept to write the child's status; -1: idle */
    int ctl;        /* a reused child's socketpair (statuses in, connections out); -1: none */
    time_t idle;    /* when an idle reused child finished its last request */
};

struct loop {
    const struct ipcserve *s;
    struct slot *slots;
    size_t active;
    int lfd;
    sigset_t old;   /* the mask before the loop blocked SIGCHLD and SIGTERM */
    sigset_t pollmask;  /* the same for ppoll: SIGCHLD and SIGTERM let in (sig.h) */
    time_t swept;       /* when retire_idle last collected the finished children */
};

static volatile sig_atomic_t got_chld, got_term;

static void on_signal(int sig)
{
    if (sig == SIGCHLD) {
        got_chld = 1;
    } else {
        got_term = 1;
    }
}

int ipcserve_listening(int fd)
{
    int on = 0;
    socklen_t n = sizeof on;

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &n) < 0) {
        return 0;
    }
    return on ? 1 : 0;
}

static void close_fds(const int *fds, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        close(fds[i]);
    }
}

int ipcserve_peer_uid(int fd, uid_t *uid)
{
    struct ucred cred;
    socklen_t n = sizeof cred;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &n) < 0) {
        return -1;
    }
    if (n != sizeof cred) {
        errno = EPROTO;
        return -1;
    }
    *uid = cred.uid;
    return 0;
}

/* Take the fds of one received control message into fds (count in *nfds). -1 if they are
   not SCM_RIGHTS or exceed the room; what arrived is still recorded so it can be closed. */
static int take_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
    struct cmsghdr *c;
    int bad = (mh->msg_flags & MSG_CTRUNC) != 0;

    for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        size_t n, i;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            bad = 1;
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*nfds < IPCSERVE_FDS_ROOM) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
                bad = 1;
            }
        }
    }
    return bad ? -1 : 0;
}

/* Read one whole request from conn (bounded, timed). 0 ok with exactly want fds in fds;
   -1 refused (every received fd closed, errno set). */
static int read_request(int conn, struct ipcfd_req *r, int *fds, size_t want)
{
    char in[IPCFD_REQ_MAX];
    size_t len = 0, nfds = 0;
    time_t deadline = ipcfd_deadline(IPCFD_TIMEOUT);
    int d = 0;

    while (d == 0) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(int) * IPCSERVE_FDS_ROOM)];
        } ctl;
        struct iovec iov = { in + len, sizeof in - len };
        struct msghdr mh;
        ssize_t got;

        if (len == sizeof in || ipcfd_wait_in(conn, deadline) <= 0) {
            errno = len == sizeof in ? EPROTO : ETIMEDOUT;
            d = -1;
            break;
        }
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.space;
        mh.msg_controllen = sizeof ctl.space;
        got = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (take_fds(&mh, fds, &nfds) < 0 || got <= 0) {
            errno = got < 0 ? errno : EPROTO;
            d = -1;
            break;
        }
        len += (size_t)got;
        d = ipcfd_decode(r, in, len);
        if (d < 0) {
            errno = EPROTO;
        }
    }
    if (d < 0 || nfds != want) {
        close_fds(fds, nfds);
        errno = d < 0 ? errno : EPROTO;
        return -1;
    }
    return 0;
}

/* The received fds onto 0..nfds-1. -1 (errno) if a dup fails. */
static int place_fds(int *fds, size_t nfds)
{
    size_t i;
    /* A received fd below nfds (one of 0..2 was closed when it arrived) would be overwritten
       by the dup2s, or keep its close-on-exec flag: move it up first. */
    for (i = 0; i < nfds; i++) {
        if (fds[i] < (int)nfds) {
            int m = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)nfds);
            if (m < 0) {
                return -1;
            }
            close(fds[i]);
            fds[i] = m;
        }
    }
    for (i = 0; i < nfds; i++) {
        if (dup2(fds[i], (int)i) < 0) {
            return -1;
        }
    }
    close_fds(fds, nfds);
    return 0;
}

/* In a reused child: what its requests left running (a TLS pump) and has ended. */
static void reap_leftovers(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

/* Between two requests of a reused child: 0..nfds-1 onto /dev/null (the caller sees EOF on
   what it passed) and every child serve left behind that has ended reaped. 0 ok, -1. */
static int tidy(size_t nfds)
{
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    size_t i;

    if (nul < 0) {
        return -1;
    }
    for (i = 0; i < nfds; i++) {
        if ((int)i != nul && dup2(nul, (int)i) < 0) {
            close(nul);
            return -1;
        }
    }
    if (nul >= (int)nfds) {
        close(nul);
    }
    reap_leftovers();
    return 0;
}

/* The next connection the loop hands a reused child on ctl: one byte with one fd. The fd, or
   -1 when the loop closed ctl (or sent something else). */
static int next_conn(int ctl)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * IPCSERVE_FDS_ROOM)];
    } c;
    char byte;
    struct iovec iov = { &byte, 1 };
    struct msghdr mh;
    int fds[IPCSERVE_FDS_ROOM];
    size_t n = 0;
    ssize_t got;

    /* while it waits, what the last request left running is reaped as it ends */
    for (;;) {
        struct pollfd p = { ctl, POLLIN, 0 };
        int k = poll(&p, 1, 1000);
        if (k > 0 || (k < 0 && errno != EINTR)) {
            break;
        }
        reap_leftovers();
    }
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = c.space;
    mh.msg_controllen = sizeof c.space;
    do {
        got = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (take_fds(&mh, fds, &n) < 0 || got != 1 || n != 1) {
        close_fds(fds, n);
        return -1;
    }
    return fds[0];
}

static void write_status(int fd, int code);

/* In the child of the loop: the request from conn, the fds in place, the program's serve;
   then, for a reused child (ctl >= 0), the loop told it is free (one byte on ctl), the status
   written on conn by the child itself, and the next connection, up to s->reuse requests.
   The byte goes first: a loop that finds it knows the status is the child's to write, and
   never writes a second one (a child killed between the two leaves the caller EOF: 111).
   Never returns. */
static void child(const struct ipcserve *s, int conn, int ctl)
{
    struct ipcfd_req *req = malloc(sizeof *req);       /* the program's argv: never freed */
    int fds[IPCSERVE_FDS_ROOM];
    unsigned served = 0;

    for (;;) {
        unsigned char st;
        signal(SIGPIPE, SIG_IGN);
        if (!req || read_request(conn, req, fds, s->nfds) < 0) {
            log_warn_sys("refused a request on %s", s->name);
            _exit(EXIT_TEMP);
        }
        if (ctl < 0) {
            close(conn);        /* the loop writes the status when this child ends */
        }
        signal(SIGPIPE, SIG_DFL);
        if (place_fds(fds, s->nfds) < 0) {
            log_warn_sys("unable to take the fds of a request on %s", s->name);
            _exit(EXIT_TEMP);
        }
        /* _exit: the loop's stdio buffers, copied by fork, are not ours to flush (serve
           writes with write(2), as every program here does) */
        st = (unsigned char)(s->serve((int)req->argc, req->argv, s->ctx) & 255);
        /* where the byte cannot go, or this was the last request, _exit(st) tells the loop
           the status through waitpid and the loop writes it */
        if (ctl < 0 || ++served >= s->reuse || tidy(s->nfds) < 0
            || fd_send_fds(ctl, &st, 1, NULL, 0, 0) < 0) {
            _exit(st);
        }
        write_status(conn, st);
        close(conn);
        if ((conn = next_conn(ctl)) < 0) {
            _exit(st);          /* sent away: the loop knows this request's status is out */
        }
    }
}

/* The code the client gets for a child's wait status. */
static int status_code(int st, unsigned flags)
{
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if ((flags & IPCSERVE_SIGNAL_HIGH) && WIFSIGNALED(st)) {
        return 128 + (WTERMSIG(st) & 127);
    }
    return EXIT_TEMP;
}

/* "N\n" on fd; the connection is non-blocking-safe (one send). */
static void write_status(int fd, int code)
{
    char line[IPCFD_STATUS_MAX + 1];
    int n = snprintf(line, sizeof line, "%d\n", code);
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w;
        do {
            w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (w < 0 && errno == EINTR);
    }
}

static void collect(struct slot *c);

/* Reap every ended child; write the status of each one that was serving on its connection
   and had not said it was done (a reused child that had writes its own). */
static void reap(struct loop *l)
{
    pid_t pid;
    int st;

    got_chld = 0;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        size_t k;
        for (k = 0; k < l->s->maxconn; k++) {
            struct slot *c = &l->slots[k];
            if (c->pid == pid) {
                collect(c);
                if (c->fd >= 0) {
                    write_status(c->fd, status_code(st, l->s->flags));
                    close(c->fd);
                }
                if (c->ctl >= 0) {
                    close(c->ctl);
                }
                c->pid = 0;
                c->fd = -1;
                c->ctl = -1;
                l->active--;
                break;
            }
        }
    }
}

/* Whether a busy reused child has finished its request: its byte on ctl (it writes the
   status on the connection itself; the loop's copy is closed and the child is idle), or EOF
   (it is ending: reap reports it). Asked when the loop needs an idle child, when a child
   ends, once a second, and at every wake while stopping or full: the loop is not woken for
   every finished request (a wake-up on the other CPU costs more than the request's own
   hop), and never writes a status a child has written. */
static void collect(struct slot *c)
{
    unsigned char st;
    ssize_t n;

    if (c->pid == 0 || c->fd < 0 || c->ctl < 0) {
        return;
    }
    do {
        n = recv(c->ctl, &st, 1, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n != 1) {
        close(c->ctl);      /* the child _exits with the status waitpid then gives */
        c->ctl = -1;
        return;
    }
    close(c->fd);
    c->fd = -1;
    c->idle = time(NULL);
    if (got_term) {
        close(c->ctl);      /* stopping: it ends instead of waiting for work */
        c->ctl = -1;
    }
}

static void collect_all(struct loop *l)
{
    size_t k;
    for (k = 0; k < l->s->maxconn; k++) {
        collect(&l->slots[k]);
    }
}

/* Idle reused children: the first that takes conn (one byte and the fd over its ctl). 1 when
   one did; a child that cannot be reached is sent away (its ctl closed). The children known
   to be idle first; then those that have finished since the loop last asked. */
static int give_to_idle(struct loop *l, int conn)
{
    size_t k;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            collect_all(l);
        }
        for (k = 0; k < l->s->maxconn; k++) {
            struct slot *c = &l->slots[k];
            if (c->pid == 0 || c->fd >= 0 || c->ctl < 0) {
                continue;
            }
            if (fd_send_fds(c->ctl, "c", 1, &conn, 1, MSG_DONTWAIT) == 0) {
                c->fd = conn;
                return 1;
            }
            close(c->ctl);
            c->ctl = -1;
        }
    }
    return 0;
}

/* Reused children idle for IPCSERVE_IDLE_S, or every idle one when stopping, end. Once a
   second the finished ones are collected first, so that a child whose request ended after
   the last connection is retired on time too. */
static void retire_idle(struct loop *l, int all)
{
    time_t now = time(NULL);
    size_t k;
    if (all || now != l->swept) {
        collect_all(l);
        l->swept = now;
    }
    for (k = 0; k < l->s->maxconn; k++) {
        struct slot *c = &l->slots[k];
        if (c->pid != 0 && c->fd < 0 && c->ctl >= 0 && (all || now - c->idle >= IPCSERVE_IDLE_S
                                                        || now < c->idle)) {
            close(c->ctl);
            c->ctl = -1;
        }
    }
}

/* A new connection: checked, then a child for it. */
static void take_conn(struct loop *l, int conn)
{
    char why[IPCFD_WHY_MAX];
    size_t k;
    uid_t uid;
    pid_t pid;
    int listed, sv[2] = { -1, -1 };

    if (ipcserve_peer_uid(conn, &uid) < 0) {
        close(conn);
        return;
    }
    listed = ipcfd_peers_find(getenv(IPCFD_PEERS_ENV), uid);
    if (listed != 1) {
        ipcfd_refusal_line(why, sizeof why, uid, listed);
        log_warn("%s", why);
        close(conn);
        return;
    }
    if (give_to_idle(l, conn)) {
        return;
    }
    for (k = 0; k < l->s->maxconn && l->slots[k].pid != 0; k++) {
    }
    if (k == l->s->maxconn || (l->s->reuse > 1 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
                                                             0, sv) < 0)) {
        close(conn);    /* the client sees EOF: a temporary failure */
        return;
    }
    pid = fork();
    if (pid < 0) {
        close(conn);
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        return;
    }
    if (pid == 0) {
        /* Not the other clients' connections: each must see EOF when its own child ends,
           even if this loop is gone by then. Nor the other children's ctls. */
        for (k = 0; k < l->s->maxconn; k++) {
            if (l->slots[k].fd >= 0) {
                close(l->slots[k].fd);
            }
            if (l->slots[k].ctl >= 0) {
                close(l->slots[k].ctl);
            }
        }
        close(l->lfd);
        if (sv[0] >= 0) {
            close(sv[0]);
        }
        sigprocmask(SIG_SETMASK, &l->old, NULL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        child(l->s, conn, sv[1]);
    }
    if (sv[1] >= 0) {
        close(sv[1]);
    }
    l->slots[k].pid = pid;
    l->slots[k].fd = conn;
    l->slots[k].ctl = sv[0];
    l->active++;
}

/* The listener away from 0, the readiness line on fd 1 (s6 notification-fd), then 0 and 1 on
   /dev/null; SIGCHLD and SIGTERM blocked outside ppoll. 0 ok, -1 (errno). */
static int loop_init(struct loop *l)
{
    size_t k;
    int nul;

    l->lfd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    l->slots = calloc(l->s->maxconn, sizeof *l->slots);
    if (l->lfd < 0 || nul < 0 || !l->slots || fd_nonblock(l->lfd, 1) < 0) {
        return -1;
    }
    for (k = 0; k < l->s->maxconn; k++) {
        l->slots[k].fd = -1;
        l->slots[k].ctl = -1;
    }
    (void)!write(1, "\n", 1);
    if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0) {
        return -1;
    }
    close(nul);
    if (sig_loop_setup(on_signal, &l->old, &l->pollmask) < 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* The poll set: the listener at p[0] (fd -1 while it must wait), then, while the loop
   cannot take a connection (full, or stopping), each busy reused child's ctl (who[i] its
   slot): the loop is woken by a finished request only when it waits for one. Returns the
   entries used. */
static size_t poll_set(const struct loop *l, struct pollfd *p, size_t *who, int listen)
{
    size_t k, n = 1;

    p[0].fd = listen ? l->lfd : -1;
    p[0].events = POLLIN;
    p[0].revents = 0;
    for (k = 0; k < l->s->maxconn && !listen; k++) {
        if (l->slots[k].pid != 0 && l->slots[k].fd >= 0 && l->slots[k].ctl >= 0) {
            p[n].fd = l->slots[k].ctl;
            p[n].events = POLLIN;
            p[n].revents = 0;
            who[n++] = k;
        }
    }
    return n;
}

/* 1 when a connection can be taken now: a free slot or an idle reused child (those that
   finished since the loop last asked included). */
static int can_take(struct loop *l)
{
    size_t k;
    int pass;
    if (l->active < l->s->maxconn) {
        return 1;
    }
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            collect_all(l);
        }
        for (k = 0; k < l->s->maxconn; k++) {
            if (l->slots[k].fd < 0 && l->slots[k].ctl >= 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* One wait (listener and ctls, SIGCHLD and SIGTERM let in) and what it found. */
static void wait_once(struct loop *l, struct pollfd *p, size_t *who, const sigset_t *mask)
{
    struct timespec tick = { 1, 0 };    /* idle reused children are retired on it */
    size_t n = poll_set(l, p, who, !got_term && can_take(l)), i;
    int conn;

    if (ppoll(p, n, l->s->reuse > 1 ? &tick : NULL, mask) <= 0) {
        return;
    }
    for (i = 1; i < n; i++) {
        if (p[i].revents) {
            collect(&l->slots[who[i]]);
        }
    }
    if (!(p[0].revents & POLLIN)) {
        return;
    }
    conn = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (conn >= 0) {
        take_conn(l, conn);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        struct timespec pause = { 0, 100 * 1000 * 1000 };
        log_warn_sys("unable to accept a connection (trying again in 0.1 s)");
        ppoll(NULL, 0, &pause, mask);
    }   /* else EAGAIN (another took it), ECONNABORTED: at once */
}

int ipcserve(const struct ipcserve *s)
{
    struct loop l;
    struct pollfd *p;
    size_t *who;

    memset(&l, 0, sizeof l);
    l.s = s;
    if (!s->serve || !s->name || s->nfds < 1 || s->nfds > IPCFD_FDS_MAX || s->maxconn < 1
        || s->maxconn > IPCSERVE_CONN_MAX) {
        errno = EINVAL;
        return -1;
    }
    p = calloc(s->maxconn + 1, sizeof *p);
    who = calloc(s->maxconn + 1, sizeof *who);
    if (!p || !who || loop_init(&l) < 0) {
        free(p);
        free(who);
        return -1;
    }
    /* At maxconn (and no idle reused child), further clients wait in the listen backlog. */
    while (!got_term) {
        if (got_chld) {
            reap(&l);
        }
        retire_idle(&l, 0);
        wait_once(&l, p, who, &l.pollmask);
    }
    /* SIGTERM: no new requests; every running one still gets its status (a reused child's
       over its ctl, then it is sent away). Reap first: a SIGCHLD handled in the last ppoll
       would not wake the wait again. */
    close(l.lfd);
    retire_idle(&l, 1);
    reap(&l);
    while (l.active > 0) {
        wait_once(&l, p, who, &l.pollmask);
        reap(&l);
    }
    free(l.slots);
    free(p);
    free(who);
    return 0;
}

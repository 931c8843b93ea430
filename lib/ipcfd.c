/* ipcfd.c: argument strings plus 1..3 fds over a unix socket, answered by an exit status */
#include "ipcfd.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"

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
#define IPCFD_FDS_ROOM 8

int ipcfd_encode(char *out, size_t cap, const char *const argv[])
{
    size_t n, total = 0, head, at;
    int h;

    for (n = 0; argv[n]; n++) {
        size_t l = strlen(argv[n]);
        if (n >= IPCFD_ARGS_MAX || l + 1 > IPCFD_PAYLOAD_MAX - total) {
            errno = EINVAL;
            return -1;
        }
        total += l + 1;
    }
    if (n == 0 || argv[0][0] == '\0') {
        errno = EINVAL;
        return -1;
    }
    h = snprintf(out, cap, "%zu:", total);
    if (h < 0 || (size_t)h >= cap || cap - (size_t)h < total + 1) {
        errno = ENOBUFS;
        return -1;
    }
    head = (size_t)h;
    at = head;
    for (n = 0; argv[n]; n++) {
        size_t l = strlen(argv[n]) + 1;
        memcpy(out + at, argv[n], l);
        at += l;
    }
    out[at++] = ',';
    return (int)at;
}

int ipcfd_decode(struct ipcfd_req *r, const char *in, size_t len)
{
    size_t i = 0, plen = 0, k, start;

    while (i < len && in[i] >= '0' && in[i] <= '9') {
        if (i > 0 && in[0] == '0') {
            return -1;                  /* no leading zero */
        }
        plen = plen * 10 + (size_t)(in[i] - '0');
        if (plen > IPCFD_PAYLOAD_MAX) {
            return -1;
        }
        i++;
    }
    if (i == len) {
        return i < IPCFD_HEAD_MAX ? 0 : -1;
    }
    if (i == 0 || in[i] != ':' || plen == 0) {
        return -1;
    }
    i++;
    if (len - i < plen + 1) {           /* incomplete */
        return 0;
    }
    if (len - i > plen + 1 || in[i + plen] != ',' || in[i + plen - 1] != '\0') {
        return -1;
    }
    memcpy(r->payload, in + i, plen);
    r->argc = 0;
    for (start = 0, k = 0; k < plen; k++) {
        if (r->payload[k] == '\0') {
            if (r->argc >= IPCFD_ARGS_MAX) {
                return -1;
            }
            r->argv[r->argc++] = r->payload + start;
            start = k + 1;
        }
    }
    r->argv[r->argc] = NULL;
    return r->argv[0][0] ? 1 : -1;
}

int ipcfd_parse_status(const char *in, size_t len)
{
    int v = 0;
    size_t i;

    if (len < 2 || len > IPCFD_STATUS_MAX || in[len - 1] != '\n' || (in[0] == '0' && len > 2)) {
        return -1;
    }
    for (i = 0; i + 1 < len; i++) {
        if (in[i] < '0' || in[i] > '9') {
            return -1;
        }
        v = v * 10 + (in[i] - '0');
    }
    return v <= 255 ? v : -1;
}

int ipcfd_call(const char *path, int fd0, int fd1, const char *const argv[])
{
    const int fds[IPCFD_FDS] = { fd0, fd1 };
    return ipcfd_call_fds(path, fds, IPCFD_FDS, argv);
}

int ipcfd_call_fds(const char *path, const int *fds, size_t nfds, const char *const argv[])
{
    char req[IPCFD_REQ_MAX];
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * IPCFD_FDS_MAX)];
    } ctl;
    struct msghdr mh;
    struct cmsghdr *c;
    struct iovec iov;
    int n, s;

    if (nfds < 1 || nfds > IPCFD_FDS_MAX) {
        errno = EINVAL;
        return -1;
    }
    n = ipcfd_encode(req, sizeof req, argv);
    if (n < 0) {
        return -1;
    }
    s = fd_connect_unix(path);
    if (s < 0) {
        return -1;
    }
    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = req;
    iov.iov_len = (size_t)n;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.space;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    /* The request is far below the socket buffer: one sendmsg carries all of it, and the
       fds travel with its first byte. */
    for (;;) {
        ssize_t w = sendmsg(s, &mh, MSG_NOSIGNAL);
        if (w == n) {
            return s;
        }
        if (w >= 0) {
            errno = EPROTO;
            goto fail;
        }
        if (errno != EINTR) {
            goto fail;
        }
    }
fail:
    n = errno;
    close(s);
    errno = n;
    return -1;
}

/* poll for POLLIN until the deadline (CLOCK_MONOTONIC seconds). 1 readable, 0 timeout, -1. */
static int wait_in(int fd, time_t deadline)
{
    struct timespec now;
    for (;;) {
        struct pollfd pf = { fd, POLLIN, 0 };
        int r;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= deadline) {
            return 0;
        }
        r = poll(&pf, 1, (int)(deadline - now.tv_sec) * 1000);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return r;
    }
}

static time_t deadline_in(unsigned seconds)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + (time_t)seconds + 1;
}

int ipcfd_status_read(int sock, struct ipcfd_answer *a)
{
    ssize_t r;

    if (a->len >= sizeof a->line) {
        return ipcfd_parse_status(a->line, a->len);
    }
    r = read(sock, a->line + a->len, sizeof a->line - a->len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        return IPCFD_MORE;
    }
    if (r <= 0) {
        return -1;      /* EOF or an error before the whole line */
    }
    a->len += (size_t)r;
    if (!memchr(a->line, '\n', a->len) && a->len < sizeof a->line) {
        return IPCFD_MORE;
    }
    return ipcfd_parse_status(a->line, a->len);
}

int ipcfd_status(int sock, unsigned timeout)
{
    struct ipcfd_answer a = { .len = 0 };
    time_t deadline = deadline_in(timeout);
    int code = IPCFD_MORE;

    while (code == IPCFD_MORE) {
        if (wait_in(sock, deadline) <= 0) {
            return -1;
        }
        code = ipcfd_status_read(sock, &a);
    }
    return code;
}

static void close_fds(const int *fds, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        close(fds[i]);
    }
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
            if (*nfds < IPCFD_FDS_ROOM) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
                bad = 1;
            }
        }
    }
    return bad ? -1 : 0;
}

/* Read one whole request from fd 0 (bounded, timed). 0 ok with exactly want fds in fds;
   -1 refused (every received fd closed). */
static int read_request(struct ipcfd_req *r, int *fds, size_t want)
{
    char in[IPCFD_REQ_MAX];
    size_t len = 0, nfds = 0;
    time_t deadline = deadline_in(IPCFD_TIMEOUT);
    int d = 0, bad = 0;

    while (d == 0 && !bad) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(int) * IPCFD_FDS_ROOM)];
        } ctl;
        struct iovec iov = { in + len, sizeof in - len };
        struct msghdr mh;
        ssize_t got;

        if (len == sizeof in || wait_in(0, deadline) <= 0) {
            bad = 1;
            errno = len == sizeof in ? EPROTO : ETIMEDOUT;
            break;
        }
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.space;
        mh.msg_controllen = sizeof ctl.space;
        got = recvmsg(0, &mh, MSG_CMSG_CLOEXEC);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (take_fds(&mh, fds, &nfds) < 0 || got <= 0) {
            bad = 1;
            errno = got < 0 ? errno : EPROTO;
            break;
        }
        len += (size_t)got;
        d = ipcfd_decode(r, in, len);
    }
    if (bad || d < 0 || nfds != want) {
        close_fds(fds, nfds);
        errno = bad ? errno : EPROTO;
        return -1;
    }
    return 0;
}

int ipcfd_peers_find(const char *list, uid_t uid)
{
    size_t i, len;
    int found = 0;

    if (!list || (len = strnlen(list, IPCFD_PEERS_MAX + 1)) == 0 || len > IPCFD_PEERS_MAX) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < len; i++) {         /* i: where an item starts */
        size_t start = i;
        unsigned long v = 0;
        for (; i < len && list[i] != ','; i++) {
            unsigned d = (unsigned)((unsigned char)list[i] - '0');
            if (d > 9 || (i > start && list[start] == '0') || v > (IPCFD_UID_MAX - d) / 10) {
                errno = EINVAL;
                return -1;
            }
            v = v * 10 + d;
        }
        if (i == start || i == len - 1) {   /* an empty item, or a ',' at the end */
            errno = EINVAL;
            return -1;
        }
        if ((uid_t)v == uid) {
            found = 1;
        }
    }
    return found;
}

int ipcfd_peer_uid(int fd, uid_t *uid)
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

/* The refusal line for a peer uid; listed as ipcfd_peers_find answered for it. */
static void refusal_line(char *out, size_t cap, uid_t uid, int listed)
{
    snprintf(out, cap, "refused a connection from uid %lu (%s)", (unsigned long)uid,
             listed < 0 ? IPCFD_PEERS_ENV " is unset or malformed" : "not in " IPCFD_PEERS_ENV);
}

const char *ipcfd_refusal(char *out, size_t cap)
{
    uid_t uid;

    if (cap == 0) {
        return out;
    }
    if (ipcfd_peer_uid(0, &uid) < 0) {
        snprintf(out, cap, "refused a connection: unable to read its uid (SO_PEERCRED)");
        return out;
    }
    refusal_line(out, cap, uid, ipcfd_peers_find(getenv(IPCFD_PEERS_ENV), uid));
    return out;
}

/* The received fds onto 0..nfds-1 (in a child; _exit(EXIT_TEMP) if that fails). */
static void place_fds(int *fds, size_t nfds)
{
    size_t i;
    /* A received fd below nfds (one of 0..2 was closed when it arrived) would be overwritten
       by the dup2s, or keep its close-on-exec flag: move it up first. */
    for (i = 0; i < nfds; i++) {
        if (fds[i] < (int)nfds) {
            int m = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)nfds);
            if (m < 0) {
                _exit(EXIT_TEMP);
            }
            close(fds[i]);
            fds[i] = m;
        }
    }
    for (i = 0; i < nfds; i++) {
        if (dup2(fds[i], (int)i) < 0) {
            _exit(EXIT_TEMP);
        }
    }
    close_fds(fds, nfds);
}

/* "N\n" for a child's wait status (flags as ipcfd_serve_fds) on fd; returns the code. */
static int write_status(int fd, int st, unsigned flags)
{
    char line[IPCFD_STATUS_MAX + 1];
    int code, n;

    if (WIFEXITED(st)) {
        code = WEXITSTATUS(st);
    } else if ((flags & IPCFD_SIGNAL_HIGH) && WIFSIGNALED(st)) {
        code = 128 + (WTERMSIG(st) & 127);
    } else {
        code = EXIT_TEMP;
    }
    n = snprintf(line, sizeof line, "%d\n", code);
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w;
        do {
            w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (w < 0 && errno == EINTR);
    }
    return code;
}

static void serve_parent(pid_t pid, unsigned flags)
{
    int st;

    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            _exit(EXIT_TEMP);
        }
    }
    _exit(write_status(1, st, flags));
}

int ipcfd_serve(char ***argv_out)
{
    return ipcfd_serve_fds(argv_out, IPCFD_FDS, 0);
}

/* The request on fd 0 (the connection), read strictly; then, in the process that will be the
   program, the passed fds onto 0..nfds-1. With fork_first, the reading process forks once
   the request is in and stays behind as serve_parent (ipcfd_serve_fds); else it is itself
   that process (the accept loop's child). 0 in the program, -1 (errno) when the request is
   refused or cannot be read (nothing forked). */
static int take_request(char ***argv_out, size_t nfds, unsigned flags, int fork_first)
{
    struct ipcfd_req *req = malloc(sizeof *req);       /* the program's argv: never freed */
    int fds[IPCFD_FDS_ROOM];

    if (!req) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (read_request(req, fds, nfds) < 0) {
        free(req);
        return -1;
    }
    if (fork_first) {
        pid_t pid = fork();
        if (pid < 0) {
            int e = errno;
            close_fds(fds, nfds);
            free(req);
            errno = e;
            return -1;
        }
        if (pid > 0) {
            /* The client must see EOF on what it passed as soon as the child is done. */
            close_fds(fds, nfds);
            serve_parent(pid, flags);
        }
    }
    signal(SIGPIPE, SIG_DFL);
    place_fds(fds, nfds);
    *argv_out = req->argv;
    return 0;
}

int ipcfd_serve_fds(char ***argv_out, size_t nfds, unsigned flags)
{
    uid_t peer;

    if (nfds < 1 || nfds > IPCFD_FDS_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* The peer first: a refused uid gets nothing read, nothing forked, no status. */
    if (ipcfd_peer_uid(0, &peer) < 0) {
        return -1;
    }
    if (ipcfd_peers_find(getenv(IPCFD_PEERS_ENV), peer) != 1) {
        errno = EPERM;
        return -1;
    }
    return take_request(argv_out, nfds, flags, 1);
}

/* ---- the program as its own server (IPCFD_LISTEN) ---- */

struct conn_slot {
    pid_t pid;      /* 0: free */
    int fd;         /* the connection, kept to write the child's status */
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

/* Reap every ended child; write each one's status on its connection. Returns how many. */
static size_t reap_children(struct conn_slot *slots, size_t max, unsigned flags)
{
    size_t ended = 0;
    pid_t pid;
    int st;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        size_t k;
        for (k = 0; k < max; k++) {
            if (slots[k].pid == pid) {
                write_status(slots[k].fd, st, flags);
                close(slots[k].fd);
                slots[k].pid = 0;
                slots[k].fd = -1;
                ended++;
                break;
            }
        }
    }
    return ended;
}

/* In the child of the accept loop: the request from conn, the fds onto 0..nfds-1. */
static int child_take(int conn, char ***argv_out, size_t nfds)
{
    if (dup2(conn, 0) < 0) {
        return -1;
    }
    close(conn);
    unsetenv(IPCFD_LISTEN_ENV);     /* not for what the child may exec */
    return take_request(argv_out, nfds, 0, 0);
}

static void refuse_peer(int conn, uid_t uid, int listed)
{
    char line[IPCFD_WHY_MAX];
    refusal_line(line, sizeof line, uid, listed);
    log_warn("%s", line);
    close(conn);
}

int ipcfd_listen(char ***argv_out, size_t nfds, unsigned flags, unsigned maxconn)
{
    struct conn_slot *slots;
    struct sigaction sa;
    sigset_t block, old;
    size_t k, active = 0;
    int lfd, nul;

    if (nfds < 1 || nfds > IPCFD_FDS_MAX || maxconn < 1 || maxconn > IPCFD_LISTEN_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* The listener away from 0 (children get their fds there), 0 and 1 on /dev/null after
       the readiness line on fd 1 (s6 notification-fd, as s6-ipcserverd -1 does). */
    lfd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    slots = calloc(maxconn, sizeof *slots);
    if (lfd < 0 || nul < 0 || !slots || fd_nonblock(lfd, 1) < 0) {
        return -1;
    }
    (void)!write(1, "\n", 1);
    if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0) {
        return -1;
    }
    close(nul);
    for (k = 0; k < maxconn; k++) {
        slots[k].fd = -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGTERM);
    if (sigaction(SIGCHLD, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0
        || sigprocmask(SIG_BLOCK, &block, &old) < 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct pollfd p = { lfd, POLLIN, 0 };
        sigset_t waitmask = old;
        int conn, r;
        uid_t uid;
        pid_t pid;

        sigdelset(&waitmask, SIGCHLD);
        sigdelset(&waitmask, SIGTERM);
        if (got_chld) {
            got_chld = 0;
            active -= reap_children(slots, maxconn, flags);
        }
        if (got_term) {
            /* No new requests; every running one still gets its status. */
            close(lfd);
            while (active > 0) {
                sigsuspend(&waitmask);
                got_chld = 0;
                active -= reap_children(slots, maxconn, flags);
            }
            _exit(0);
        }
        /* At maxconn, further clients wait in the listen backlog. */
        r = ppoll(&p, active < maxconn ? 1 : 0, NULL, &waitmask);
        if (r <= 0 || !(p.revents & POLLIN)) {
            continue;
        }
        conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timespec pause = { 0, 100 * 1000 * 1000 };
                log_warn_sys("unable to accept a connection (trying again in 0.1 s)");
                ppoll(NULL, 0, &pause, &waitmask);
            }
            continue;       /* EAGAIN (another took it), ECONNABORTED: at once */
        }
        if (ipcfd_peer_uid(conn, &uid) < 0) {
            close(conn);
            continue;
        }
        r = ipcfd_peers_find(getenv(IPCFD_PEERS_ENV), uid);
        if (r != 1) {
            refuse_peer(conn, uid, r);
            continue;
        }
        for (k = 0; k < maxconn && slots[k].pid != 0; k++) {
        }
        pid = fork();
        if (pid < 0) {
            close(conn);    /* the client sees EOF: a temporary failure */
            continue;
        }
        if (pid == 0) {
            /* Not the other clients' connections: each must see EOF when its own child ends,
               even if this loop is gone by then. */
            for (k = 0; k < maxconn; k++) {
                if (slots[k].fd >= 0) {
                    close(slots[k].fd);
                }
            }
            close(lfd);
            sigprocmask(SIG_SETMASK, &old, NULL);
            signal(SIGCHLD, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            free(slots);
            return child_take(conn, argv_out, nfds);
        }
        slots[k].pid = pid;
        slots[k].fd = conn;
        active++;
    }
}

int ipcfd_serve_any(char ***argv_out, size_t nfds, unsigned flags)
{
    const char *v = getenv(IPCFD_LISTEN_ENV);
    if (v) {
        uint64_t max;
        if (str_to_u64(v, strlen(v), &max) < 0 || max < 1 || max > IPCFD_LISTEN_MAX) {
            errno = EINVAL;
            return -1;
        }
        return ipcfd_listen(argv_out, nfds, flags, (unsigned)max);
    }
    if (getenv("IPCREMOTEEUID")) {
        int r = ipcfd_serve_fds(argv_out, nfds, flags);
        if (r < 0 && errno == EPERM) {
            /* a refused peer: logged and ended here, as the accept loop does (refuse_peer) */
            char why[IPCFD_WHY_MAX];
            log_warn("%s", ipcfd_refusal(why, sizeof why));
            _exit(EXIT_TEMP);
        }
        return r;
    }
    return 1;
}

/* ipcfd.c: the request format (pure) and the client of a lib/ipcserve socket */
#include "ipcfd.h"
#include "fd.h"

_Static_assert(IPCFD_FDS_MAX <= FD_PASS_MAX, "a request's fds go through fd_send_fds");

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
    int n, s, e;

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
    /* The request is far below the socket buffer: one sendmsg carries all of it, and the
       fds travel with its first byte. */
    if (fd_send_fds(s, req, (size_t)n, fds, nfds, 0) < 0) {
        e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

int ipcfd_wait_in(int fd, time_t deadline)
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

time_t ipcfd_deadline(unsigned seconds)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + (time_t)seconds + 1;
}

/* The complete line in a: 1 and *code, or -1 when it is not a status. */
static int answer_done(const struct ipcfd_answer *a, int *code)
{
    *code = ipcfd_parse_status(a->line, a->len);
    return *code < 0 ? -1 : 1;
}

int ipcfd_status_read(int sock, struct ipcfd_answer *a, int *code)
{
    ssize_t r;

    if (a->len >= sizeof a->line) {
        return answer_done(a, code);
    }
    r = read(sock, a->line + a->len, sizeof a->line - a->len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (r <= 0) {
        return -1;      /* EOF or an error before the whole line */
    }
    a->len += (size_t)r;
    if (!memchr(a->line, '\n', a->len) && a->len < sizeof a->line) {
        return 0;
    }
    return answer_done(a, code);
}

int ipcfd_status(int sock, unsigned timeout)
{
    struct ipcfd_answer a = { .len = 0 };
    time_t deadline = ipcfd_deadline(timeout);
    int code = -1, k = 0;

    while (k == 0) {
        if (ipcfd_wait_in(sock, deadline) <= 0) {
            return -1;
        }
        k = ipcfd_status_read(sock, &a, &code);
    }
    return k > 0 ? code : -1;
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

const char *ipcfd_refusal_line(char *out, size_t cap, uid_t uid, int listed)
{
    if (cap > 0) {
        snprintf(out, cap, "refused a connection from uid %lu (%s)", (unsigned long)uid,
                 listed < 0 ? IPCFD_PEERS_ENV " is unset or malformed"
                            : "not in " IPCFD_PEERS_ENV);
    }
    return out;
}

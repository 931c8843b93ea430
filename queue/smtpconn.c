/* smtpconn.c: remote's connection to one mail server (timeouts, buffers, STARTTLS) */
#include "queue/smtpconn.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#ifdef SMTPCONN_TLS
#include "tls/pump.h"
#include "tls/tlsclient.h"
#endif

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Wait until fd is ready for events (POLLIN or POLLOUT) within the connection's timeout.
   0 ready; -1 with the connection marked broken and why set (timeout or the poll error). */
static int conn_wait(struct smtpconn *c, short events)
{
    for (;;) {
        struct pollfd p = { c->fd, events, 0 };
        int k = poll(&p, 1, (int)(c->timeout * 1000));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            str_fmt(c->why, sizeof c->why, "%s", k == 0 ? "timeout" : strerror(errno));
            c->broken = 1;
            return -1;
        }
        return 0;
    }
}

static int fill(struct smtpconn *c)
{
    ssize_t r;

    if (c->broken) {
        return -1;
    }
#ifdef SMTPCONN_TLS
    if (c->tls) {
        r = tlsc_read(c->tls, c->in, sizeof c->in);
        if (r <= 0) {
            str_fmt(c->why, sizeof c->why, "%s", r == 0 ? "connection closed by the server"
                                                        : tlsc_error(c->tls));
            c->broken = 1;
            return -1;
        }
        c->inpos = 0;
        c->inlen = (size_t)r;
        return 0;
    }
#endif
    if (conn_wait(c, POLLIN) < 0) {
        return -1;
    }
    r = fd_read(c->fd, c->in, sizeof c->in);
    if (r <= 0) {
        str_fmt(c->why, sizeof c->why, "%s",
                r == 0 ? "connection closed by the server" : strerror(errno));
        c->broken = 1;
        return -1;
    }
    c->inpos = 0;
    c->inlen = (size_t)r;
    return 0;
}

static int send_all(struct smtpconn *c, const char *p, size_t n)
{
    size_t off = 0;

    if (c->broken) {
        return -1;
    }
#ifdef SMTPCONN_TLS
    if (c->tls) {
        if (tlsc_write(c->tls, p, n) < 0 || tlsc_flush(c->tls) < 0) {
            str_fmt(c->why, sizeof c->why, "%s", tlsc_error(c->tls));
            c->broken = 1;
            return -1;
        }
        return 0;
    }
#endif
    /* the socket is non-blocking: write first, wait only when the send buffer is full */
    while (off < n) {
        ssize_t w = write(c->fd, p + off, n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            if (conn_wait(c, POLLOUT) < 0) {
                return -1;
            }
            continue;
        }
        if (w < 0) {
            str_fmt(c->why, sizeof c->why, "%s", strerror(errno));
            c->broken = 1;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int smtpconn_flush(struct smtpconn *c)
{
    int r = send_all(c, c->out, c->outlen);
    c->outlen = 0;
    return r;
}

int smtpconn_cmd(struct smtpconn *c, const char *fmt, ...)
{
    char line[SMTP_CMD_MAX + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2) {
        errno = E2BIG;
        return -1;   /* arguments are bounded by the caller; never send a cut command */
    }
    memcpy(line + n, "\r\n", 2);
    n += 2;
    if (c->outlen + (size_t)n > sizeof c->out && smtpconn_flush(c) < 0) {
        return -1;
    }
    memcpy(c->out + c->outlen, line, (size_t)n);
    c->outlen += (size_t)n;
    return 0;
}

int smtpconn_reply(struct smtpconn *c, struct smtpreply *r, unsigned timeout)
{
    if (c->outlen && smtpconn_flush(c) < 0) {
        return -1;
    }
    c->timeout = timeout;
    smtpreply_init(r);
    for (;;) {
        size_t used;
        int d;
        if (c->inpos == c->inlen && fill(c) < 0) {
            return -1;
        }
        d = smtpreply_feed(r, c->in + c->inpos, c->inlen - c->inpos, &used);
        c->inpos += used;
        if (d > 0) {
            return 0;
        }
        if (d < 0) {
            str_fmt(c->why, sizeof c->why, "%s", smtpreply_strerror(r->err));
            c->broken = 1;
            return -1;
        }
    }
}

void smtpconn_close(struct smtpconn *c)
{
#ifdef SMTPCONN_TLS
    if (c->tls) {
        tlsc_close(c->tls);
        free(c->tls);
        c->tls = NULL;
    }
#endif
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

#define SMTPCONN_PARK_FDS 1024   /* fds the pump child closes (all but its two) */

int smtpconn_park_tls(struct smtpconn *c, unsigned idle_s)
{
#ifdef SMTPCONN_TLS
    br_ssl_engine_context *eng;
    int sv[2] = { -1, -1 };
    pid_t pid = -1;

    if (!c->tls || c->fd < 0 || c->broken || c->outlen != 0 || c->inpos != c->inlen) {
        return -1;
    }
    eng = tlsc_engine(c->tls);
    if ((br_ssl_engine_current_state(eng) & (BR_SSL_CLOSED | BR_SSL_RECVAPP))
        || br_ssl_engine_current_state(eng) == 0
        || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || (pid = fork()) < 0) {
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        return -1;
    }
    if (pid == 0) {                 /* the pump: the session and the socket, nothing else */
        struct pump_relay r;
        int i, in;
        for (i = 0; i < SMTPCONN_PARK_FDS; i++) {
            if (i != c->fd && i != sv[1]) {
                close(i);
            }
        }
        signal(SIGPIPE, SIG_IGN);
        alarm(0);
        in = dup(sv[1]);
        if (in < 0 || fd_nonblock(in, 1) < 0 || fd_nonblock(sv[1], 1) < 0) {
            _exit(111);
        }
        memset(&r, 0, sizeof r);
        r.eng = eng;
        r.netin = r.netout = c->fd;
        r.appin = in;
        r.appout = sv[1];
        r.idle_ms = (long long)idle_s * 1000;
        (void)pump_relay(&r);
        _exit(0);
    }
    close(sv[1]);
    tlsc_forget(c->tls);
    free(c->tls);
    c->tls = NULL;
    close(c->fd);
    c->fd = -1;
    return sv[0];
#else
    (void)c;
    (void)idle_s;
    return -1;
#endif
}

void smtpconn_adopt(struct smtpconn *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;     /* one smtpconn_open made: O_NONBLOCK is on the shared file description */
}

int smtpconn_is_idle(const struct smtpconn *c)
{
    return c->fd >= 0 && !c->broken && !c->tls && c->outlen == 0 && c->inpos == c->inlen;
}

int smtpconn_open(struct smtpconn *c, const struct sockaddr_storage *to, socklen_t len,
                  unsigned port, unsigned timeout)
{
    struct sockaddr_storage sa = *to;
    struct pollfd p;
    int fd, e = 0, k;
    socklen_t elen = sizeof e;

    if (sa.ss_family == AF_INET) {
        ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
    } else {
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
    }
    memset(c, 0, sizeof *c);
    c->fd = -1;
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
        if (errno != EINPROGRESS) {
            e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        p.fd = fd;
        p.events = POLLOUT;
        do {
            k = poll(&p, 1, (int)(timeout * 1000));
        } while (k < 0 && errno == EINTR);
        if (k <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e != 0) {
            e = k == 0 ? ETIMEDOUT : e ? e : errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    k = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &k, sizeof k);
    c->fd = fd;
    return 0;
}

/* TLS on c->fd: the fleet's client (f) or a STARTTLS client for servername. 0 ok, -1 c->why. */
static int start_tls(struct smtpconn *c, const struct tlsc_fleet *f, const char *servername,
                     int verify, unsigned timeout, char *info, size_t infocap)
{
#ifdef SMTPCONN_TLS
    int r;
    c->inpos = c->inlen = 0;   /* RFC 3207 §4 / CVE-2011-0411: no plaintext survives */
    c->tls = malloc(sizeof *c->tls);
    if (!c->tls) {
        str_fmt(c->why, sizeof c->why, "out of memory");
        c->broken = 1;
        return -1;
    }
    r = f ? tlsc_start_fleet(c->tls, c->fd, f, timeout)
          : tlsc_start(c->tls, c->fd, servername, verify, NULL, timeout);
    if (r < 0) {
        str_fmt(c->why, sizeof c->why, "%s", tlsc_error(c->tls));
        tlsc_close(c->tls);
        free(c->tls);
        c->tls = NULL;
        c->broken = 1;
        return -1;
    }
    c->secure = 1;
    if (info && infocap && tlsc_info(c->tls, info, infocap) < 0) {
        info[0] = '\0';
    }
    return 0;
#else
    (void)f;
    (void)servername;
    (void)verify;
    (void)timeout;
    (void)info;
    (void)infocap;
    str_fmt(c->why, sizeof c->why, "this remote was built without TLS");
    c->broken = 1;
    return -1;
#endif
}

int smtpconn_start_fleet(struct smtpconn *c, const struct tlsc_fleet *f, unsigned timeout,
                         char *info, size_t infocap)
{
    return start_tls(c, f, NULL, 1, timeout, info, infocap);
}

int smtpconn_starttls(struct smtpconn *c, const char *servername, int verify, unsigned timeout,
                  char *info, size_t infocap)
{
    return start_tls(c, NULL, servername, verify, timeout, info, infocap);
}

/* smtpd_io.c: smtpd's client input (CRLF lines, timeouts), queued replies, per-IP slots */
#include "smtpd.h"
#include "fd.h"
#include "log.h"
#include "str.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int io_write_timeout(int fd, const void *p, size_t n, unsigned timeout)
{
    const char *c = p;
    while (n > 0) {
        struct pollfd pf = { fd, POLLOUT, 0 };
        ssize_t w;
        int r = poll(&pf, 1, (int)timeout * 1000);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                errno = ETIMEDOUT;
            }
            return -1;
        }
        w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

void io_flush(struct session *s)
{
    if (s->out.len == 0) {
        return;
    }
    if (io_write_timeout(s->wfd, s->out.s, s->out.len, s->timeout) < 0) {
        log_info("client gone ip=%s session=%s (write: %s)", s->ip, s->id, strerror(errno));
        _exit(EXIT_DONE);
    }
    buf_reset(&s->out);
}

void io_quit(struct session *s, int code)
{
    io_flush(s);
    _exit(code);
}

/* "refused ip= session= [from=<S>] [rcpt=<R>] reply=..."; the addresses let mailtrace ADDRESS
   find the refusals (RFC 5321 addresses hold no '"' or blanks outside quotes; smtpd_parse
   rejects CR, LF and NUL). */
static void log_refusal(const struct session *s, const char *line)
{
    const char *from = s->log_from ? s->log_from : s->state >= ST_MAIL ? s->sender : NULL;
    char who[2 * (ADDR_MAX + 10)];
    size_t n = 0;

    who[0] = '\0';
    if (from && str_fmt(who, sizeof who, " from=<%s>", from) == 0) {
        n = strlen(who);
    }
    if (s->log_rcpt && str_fmt(who + n, sizeof who - n, " rcpt=<%s>", s->log_rcpt) < 0) {
        who[n] = '\0';
    }
    log_info("refused ip=%s session=%s%s reply=\"%s\"", s->ip, s->id, who, line);
}

void reply(struct session *s, const char *fmt, ...)
{
    char line[SMTP_REPLY_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        line[0] = '\0';
        n = 0;
    }
    if ((size_t)n >= sizeof line - 2) {
        n = (int)(sizeof line - 3);  /* RFC 5321 §4.5.3.1.5: a reply line fits 512 */
    }
    if (line[0] == '4' || line[0] == '5') {
        log_refusal(s, line);
    }
    memcpy(line + n, "\r\n", 2);
    if (buf_append(&s->out, line, (size_t)n + 2) < 0) {
        io_flush(s);
        if (buf_append(&s->out, line, (size_t)n + 2) < 0) {
            die(EXIT_TEMP, "out of memory");
        }
    }
    if (s->out.len >= SMTPD_OUT_FLUSH) {
        io_flush(s);
    }
}

size_t io_fill(struct session *s)
{
    for (;;) {
        struct pollfd pf = { s->rfd, POLLIN, 0 };
        ssize_t r;
        int p;
        if (s->inlen >= sizeof s->in) {
            return 0;
        }
        p = poll(&pf, 1, (int)s->timeout * 1000);
        if (p < 0 && errno == EINTR) {
            continue;
        }
        if (p == 0) {
            log_info("timeout ip=%s session=%s", s->ip, s->id);
            reply(s, "421 4.4.2 %s timeout: no input for %u seconds; closing connection",
                  s->me, s->timeout);
            io_quit(s, EXIT_DONE);
        }
        r = p < 0 ? -1 : read(s->rfd, s->in + s->inlen, sizeof s->in - s->inlen);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r <= 0) {
            log_info("client gone ip=%s session=%s", s->ip, s->id);
            _exit(EXIT_DONE);
        }
        s->inlen += (size_t)r;
        return (size_t)r;
    }
}

static void consume(struct session *s, size_t n)
{
    memmove(s->in, s->in + n, s->inlen - n);
    s->inlen -= n;
}

static void bare(struct session *s)
{
    log_info("bare CR/LF ip=%s session=%s: closing", s->ip, s->id);
    reply(s, "550 5.5.2 bare CR or LF received: lines must end with CRLF; closing connection");
    io_quit(s, EXIT_DONE);
}

/* A line longer than the buffer: discard until its CRLF; past SMTPD_DRAIN_MAX the client is
   not speaking SMTP and the session ends. */
static void drain(struct session *s)
{
    size_t dropped = 0;
    for (;;) {
        size_t len;
        enum smtp_line r = smtp_line_find(s->in, s->inlen, &len);
        if (r == LINE_OK) {
            consume(s, len + 2);
            return;
        }
        if (r == LINE_BARE) {
            bare(s);
        }
        dropped += s->inlen;
        if (dropped > SMTPD_DRAIN_MAX) {
            log_info("endless line ip=%s session=%s: closing", s->ip, s->id);
            reply(s, "500 5.5.6 line too long; closing connection");
            io_quit(s, EXIT_DONE);
        }
        if (s->inlen > 0 && s->in[s->inlen - 1] == '\r') {
            consume(s, s->inlen - 1);
        } else {
            s->inlen = 0;
        }
        io_fill(s);
    }
}

enum getline_res io_getline(struct session *s, size_t max, size_t *len)
{
    for (;;) {
        size_t n = 0;
        enum smtp_line r = smtp_line_find(s->in, s->inlen, &n);
        if (r == LINE_BARE) {
            bare(s);
        }
        if (r == LINE_OK) {
            if (n + 2 > max) {
                consume(s, n + 2);
                return GL_LONG;
            }
            memcpy(s->line, s->in, n);
            s->line[n] = '\0';
            *len = n;
            consume(s, n + 2);
            return GL_OK;
        }
        if (s->inlen >= sizeof s->in) {
            drain(s);
            return GL_LONG;
        }
        io_flush(s);
        io_fill(s);
    }
}


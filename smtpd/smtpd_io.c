/* smtpd_io.c: smtpd's client input (CRLF lines, deadlines, data rate), queued replies */
#include "smtpd.h"
#include "fd.h"
#include "ipslot.h"
#include "lineio.h"
#include "log.h"
#include "str.h"
#include "exitcode.h"
#include "tls/handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, for poll(): 0 once it has passed. */
static int ms_left(uint64_t deadline)
{
    uint64_t now = now_ms();
    return deadline > now ? (int)(deadline - now) : 0;
}

int smtpd_io_write_timeout(int fd, const void *p, size_t n, unsigned timeout)
{
    const char *c = p;
    uint64_t deadline = now_ms() + (uint64_t)timeout * 1000;
    while (n > 0) {
        struct pollfd pf = { fd, POLLOUT, 0 };
        ssize_t w;
        int r = poll(&pf, 1, ms_left(deadline));
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

/* n octets of type (23 data, 21 alert) to the client, as TLS records when tlsd handed them
   over. 0 ok, -1 errno. */
static int send_out(struct smtpd_session *s, int type, const char *p, size_t n, unsigned timeout)
{
    while (s->rec && n > 0) {
        size_t used, len;
        const unsigned char *rec = tlsrec_seal(s->rec, type, p, n, &used, &len);
        if (smtpd_io_write_timeout(s->wfd, rec, len, timeout) < 0) {
            return -1;
        }
        p += used;
        n -= used;
    }
    return s->rec ? 0 : smtpd_io_write_timeout(s->wfd, p, n, timeout);
}

static const char close_notify[2] = { 1, 0 };      /* warning, close_notify */

/* The sink of s->out: a client that takes no replies within the deadline is gone. */
static int out_write(void *ctx, const char *p, size_t n)
{
    struct smtpd_session *s = ctx;
    if (send_out(s, 23, p, n, s->limit) < 0) {
        log_info("client gone ip=%s session=%s (write: %s)", s->ip, s->id, strerror(errno));
        _exit(EXIT_DONE);
    }
    return 0;
}

int smtpd_io_take_tls(struct smtpd_session *s)
{
    static unsigned char enc[HANDOFF_MAX + 1];  /* + 1: a longer state is malformed */
    static struct handoff h;
    ssize_t r = fd_read_full(s->handfd, enc, sizeof enc);
    size_t n = r > 0 ? (size_t)r : 0;       /* a failed read decodes as nothing: refused */

    close(s->handfd);
    s->handfd = -1;
    s->rec = malloc(sizeof *s->rec);
    if (!s->rec || handoff_decode(enc, n, &h) < 0) {
        log_info("tls failed ip=%s session=%s: %s", s->ip, s->id,
                 s->rec ? "tlsd handed over no usable TLS session" : "out of memory");
        free(s->rec);
        s->rec = NULL;
        explicit_bzero(enc, n);
        return -1;
    }
    tlsrec_init(s->rec, &h);
    explicit_bzero(enc, n);
    return 0;
}

void smtpd_io_init(struct smtpd_session *s)
{
    char *buf = malloc(SMTPD_OUT_MAX);
    if (!buf) {
        die(EXIT_TEMP, "out of memory");
    }
    lineio_out_init(&s->out, buf, SMTPD_OUT_MAX, out_write, s);
}

void smtpd_io_flush(struct smtpd_session *s)
{
    (void)lineio_flush(&s->out);
}

void smtpd_io_quit(struct smtpd_session *s, int code)
{
    smtpd_io_flush(s);
    if (s->rec) {
        (void)send_out(s, 21, close_notify, sizeof close_notify, SMTPD_CLOSE_WAIT);
    }
    _exit(code);
}

/* Read from the client into buf: the octets themselves, or the plaintext of its TLS records.
   > 0 octets, 0 the client closed, -1 errno (EAGAIN: poll and come back). */
static ssize_t client_read(struct smtpd_session *s, char *buf, size_t cap)
{
    size_t n, space;
    unsigned char *p;
    ssize_t r;

    if (!s->rec) {
        return read(s->rfd, buf, cap);
    }
    for (;;) {
        switch (tlsrec_get(s->rec, buf, cap, &n)) {
        case TLSREC_DATA:
            return (ssize_t)n;
        case TLSREC_CLOSED:
            /* "the other party MUST respond with a close_notify alert of its own" (RFC 5246
               §7.2.1); replies not sent yet are dropped with the session */
            (void)send_out(s, 21, close_notify, sizeof close_notify, SMTPD_CLOSE_WAIT);
            return 0;
        case TLSREC_ERROR:
            log_info("tls error ip=%s session=%s: %s", s->ip, s->id, s->rec->why);
            if (s->rec->alert_out == BR_ALERT_NO_RENEGOTIATION) {
                /* "always a warning" (RFC 5246 §7.2.2): the warning, then our close_notify
                   ends the session */
                static const char refusal[2] = { 1, BR_ALERT_NO_RENEGOTIATION };
                if (send_out(s, 21, refusal, sizeof refusal, SMTPD_CLOSE_WAIT) == 0) {
                    (void)send_out(s, 21, close_notify, sizeof close_notify, SMTPD_CLOSE_WAIT);
                }
            } else if (s->rec->alert_out) {    /* fatal (2), then the alert's code */
                char alert[2] = { 2, (char)s->rec->alert_out };
                (void)send_out(s, 21, alert, sizeof alert, SMTPD_CLOSE_WAIT);
            }
            _exit(EXIT_DONE);
        case TLSREC_MORE:
            break;
        }
        p = tlsrec_space(s->rec, &space);
        r = recv(s->rfd, p, space, MSG_DONTWAIT);
        if (r < 0 && errno == ENOTSOCK) {
            r = read(s->rfd, p, space);
        }
        if (r <= 0) {
            return r;
        }
        tlsrec_ack(s->rec, (size_t)r);
    }
}

/* "refused ip= session= [from=<S>] [rcpt=<R>] reply=..."; the addresses let mailtrace ADDRESS
   find the refusals (RFC 5321 addresses hold no '"' or blanks outside quotes; smtpd_parse
   rejects CR, LF and NUL). */
static void log_refusal(const struct smtpd_session *s, const char *line)
{
    const char *from = s->log_from ? s->log_from : s->state >= SMTPD_ST_MAIL ? s->sender : NULL;
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

void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
    char line[SMTP_REPLY_MAX];      /* RFC 5321 §4.5.3.1.5: a reply line fits 512 */
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = lineio_vformat(line, sizeof line, fmt, ap);
    va_end(ap);
    if (line[0] == '4' || line[0] == '5') {
        line[n - 2] = '\0';        /* logged without its CRLF */
        log_refusal(s, line);
        line[n - 2] = '\r';
    }
    (void)lineio_put(&s->out, line, n);     /* out_write exits when the client is gone */
    if (s->out.len >= SMTPD_OUT_FLUSH) {
        smtpd_io_flush(s);
    }
    /* A client that keeps getting refused is not sending mail: it may only be filling the
       log (a line per refusal). Counted on last lines; a 421 ends the session anyway. "Too
       many recipients" tells a sending server to split its list (RFC 5321 §4.5.3.1.10), so
       the first SMTPD_RCPT_OVERSHOOT of them are not errors (Postfix's overshoot limit). */
    if ((line[0] == '4' || line[0] == '5') && line[3] == ' ' && strncmp(line, "421", 3) != 0
        && !(strncmp(line, "452 4.5.3", 9) == 0 && s->overshoot++ < SMTPD_RCPT_OVERSHOOT)
        && s->error_limit > 0 && ++s->errors >= s->error_limit) {
        log_info("too many errors ip=%s session=%s errors=%lu", s->ip, s->id, s->errors);
        s->log_rcpt = NULL;     /* the 421 is the session's, not the last recipient's */
        smtpd_reply(s, "421 4.7.0 %s too many errors in this session (%lu); closing connection",
                    s->me, s->errors);
        smtpd_io_quit(s, EXIT_DONE);
    }
}

/* The port's stress slot is held: at least SMTP_STRESS_PERCENT of SMTP_MAXCONN sessions
   (lib/ipslot fills the table lowest slot first). */
static int port_stressed(const struct smtpd_session *s)
{
    return s->loadfd >= 0 && ipslot_held(s->loadfd) == 1;
}

void smtpd_io_deadline(struct smtpd_session *s, enum smtpd_phase phase)
{
    s->stressed = port_stressed(s);
    s->limit = s->stressed ? s->stress_timeout : s->timeout;
    s->phase = phase;
    s->deadline = now_ms() + (uint64_t)s->limit * 1000;
}

/* RFC 5321 §4.5.3.2.7 lets a server close on timeout; 421 4.4.2 (RFC 3463: timeout). */
static void timed_out(struct smtpd_session *s)
{
    const char *busy = s->stressed ? " while the server is busy" : "";
    log_info("timeout ip=%s session=%s phase=%s seconds=%u%s", s->ip, s->id,
             s->phase == SMTPD_PHASE_DATA ? "data" : "command", s->limit,
             s->stressed ? " stress=yes" : "");
    if (s->phase == SMTPD_PHASE_DATA && s->min_rate > 0) {
        smtpd_reply(s, "421 4.4.2 %s timeout: the message must arrive at %lu bytes per second or "
                 "more%s; closing connection", s->me, s->min_rate, busy);
    } else if (s->phase == SMTPD_PHASE_DATA) {
        smtpd_reply(s, "421 4.4.2 %s timeout: no message data for %u seconds%s; closing connection",
                    s->me, s->limit, busy);
    } else {
        smtpd_reply(s, "421 4.4.2 %s timeout: a command must arrive within %u seconds%s; closing "
                 "connection", s->me, s->limit, busy);
    }
    smtpd_io_quit(s, EXIT_DONE);
}

/* Inside DATA each octet buys 1/min_rate s, but credit never reaches past limit s from now:
   a fast start cannot pay for a trickle later. */
static void data_credit(struct smtpd_session *s, size_t n)
{
    uint64_t now = now_ms(), cap = now + (uint64_t)s->limit * 1000;
    if (s->min_rate == 0) {
        s->deadline = cap;
        return;
    }
    s->deadline += (uint64_t)n * 1000 / s->min_rate;
    if (s->deadline > cap) {
        s->deadline = cap;
    }
}

size_t smtpd_io_fill(struct smtpd_session *s)
{
    for (;;) {
        struct pollfd pf = { s->rfd, POLLIN, 0 };
        ssize_t r;
        int p;
        if (s->inlen >= sizeof s->in) {
            return 0;
        }
        /* what the TLS records already hold is not on the socket any more */
        p = s->rec && tlsrec_ready(s->rec) ? 1 : poll(&pf, 1, ms_left(s->deadline));
        if (p < 0 && errno == EINTR) {
            continue;
        }
        if (p == 0) {
            timed_out(s);
        }
        r = p < 0 ? -1 : client_read(s, s->in + s->inlen, sizeof s->in - s->inlen);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r <= 0) {
            log_info("client gone ip=%s session=%s", s->ip, s->id);
            _exit(EXIT_DONE);
        }
        s->inlen += (size_t)r;
        if (s->phase == SMTPD_PHASE_DATA) {
            data_credit(s, (size_t)r);
        }
        return (size_t)r;
    }
}

static void consume(struct smtpd_session *s, size_t n)
{
    memmove(s->in, s->in + n, s->inlen - n);
    s->inlen -= n;
}

static void bare(struct smtpd_session *s)
{
    log_info("bare CR/LF ip=%s session=%s: closing", s->ip, s->id);
    smtpd_reply(s,
                "550 5.5.2 bare CR or LF received: lines must end with CRLF; closing connection");
    smtpd_io_quit(s, EXIT_DONE);
}

/* A line longer than the buffer: discard until its CRLF; past SMTPD_DRAIN_MAX the client is
   not speaking SMTP and the session ends. */
static void drain(struct smtpd_session *s)
{
    size_t dropped = 0;
    for (;;) {
        size_t len;
        enum lineio_res r = lineio_find_crlf(s->in, s->inlen, &len);
        if (r == LINEIO_OK) {
            consume(s, len + 2);
            return;
        }
        if (r == LINEIO_BARE) {
            bare(s);
        }
        dropped += s->inlen;
        if (dropped > SMTPD_DRAIN_MAX) {
            log_info("endless line ip=%s session=%s: closing", s->ip, s->id);
            smtpd_reply(s, "500 5.5.2 line too long; closing connection");
            smtpd_io_quit(s, EXIT_DONE);
        }
        if (s->inlen > 0 && s->in[s->inlen - 1] == '\r') {
            consume(s, s->inlen - 1);
        } else {
            s->inlen = 0;
        }
        smtpd_io_fill(s);
    }
}

/* s->line = the first octets of an over-long line (n buffered), so the caller can name it. */
static void keep_head(struct smtpd_session *s, size_t n)
{
    if (n > SMTPD_HEAD_MAX) {
        n = SMTPD_HEAD_MAX;
    }
    memcpy(s->line, s->in, n);
    s->line[n] = '\0';
}

enum smtpd_getline_res smtpd_io_getline(struct smtpd_session *s, size_t max, size_t *len)
{
    smtpd_io_deadline(s, SMTPD_PHASE_COMMAND);
    for (;;) {
        size_t n = 0;
        enum lineio_res r = lineio_find_crlf(s->in, s->inlen, &n);
        if (r == LINEIO_BARE) {
            bare(s);
        }
        if (r == LINEIO_OK) {
            if (n + 2 > max) {
                keep_head(s, n);
                consume(s, n + 2);
                return SMTPD_GL_LONG;
            }
            memcpy(s->line, s->in, n);
            s->line[n] = '\0';
            *len = n;
            consume(s, n + 2);
            return SMTPD_GL_OK;
        }
        if (s->inlen >= sizeof s->in) {
            keep_head(s, s->inlen);
            drain(s);
            return SMTPD_GL_LONG;
        }
        smtpd_io_flush(s);
        smtpd_io_fill(s);
    }
}


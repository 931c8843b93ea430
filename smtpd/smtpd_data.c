/* smtpd_data.c: smtpd's DATA: the Received: line, the data state machine and queue-inject
   through run/inject.sock with lib/ipcfd (qmail-queue interface: message on fd 0, envelope
   on fd 1); on port 25, mail from outside is held until its SPF/DKIM/DMARC results
   (lib/authres, docs/inbound.md) are on top */
#include "smtpd.h"
#include "authres.h"
#include "cfg.h"
#include "date.h"
#include "envelope.h"
#include "exitcode.h"
#include "fd.h"
#include "dns.h"
#include "ipcfd.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct inject {
    int sock;       /* the run/inject.sock connection (its status line), -1 closed */
    int msg;        /* write end of the message pipe (queue-inject's fd 0), -1 closed */
    int env;        /* our end of the socketpair (queue-inject's fd 1), -1 closed */
    int failed;     /* a write to queue-inject failed */
    int spool;      /* port 25, mail from outside: the message is held here until the
                       inbound checks have run; -1 when it streams to queue-inject */
    size_t held;    /* octets in spool */
    int spilled;    /* past SMTPD_SPOOL_MEM: spool moved to a file in run/smtpd (or the move
                       failed and was logged: it stays a memfd) */
    char *out;      /* what goes to msg next, SMTPD_INJECT_BUF octets: a message's header
                       fields, Received: line and first body octets leave in one write, so
                       queue-inject is woken once, not once a field; NULL: unbuffered */
    size_t outlen;
};

static int inject_start(struct smtpd_session *s, struct inject *q)
{
    static const char *const argv[] = { "queue-inject", NULL };
    char sock[YUBIN_PATH_MAX];
    int p[2], sp[2], e;

    q->sock = q->msg = q->env = q->spool = -1;
    q->failed = 0;
    q->held = 0;
    q->spilled = 0;
    q->out = NULL;
    q->outlen = 0;
    if (cfg_path(sock, sizeof sock, s->root, "run/inject.sock") < 0) {
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    /* The fds go to queue-inject directly (SCM_RIGHTS): no s6-sudo execs on this path. */
    q->sock = ipcfd_call(sock, p[0], sp[1], argv);
    e = errno;
    close(p[0]);
    close(sp[1]);
    if (q->sock < 0) {
        close(p[1]);
        close(sp[0]);
        errno = e;
        return -1;
    }
    q->msg = p[1];
    q->env = sp[0];
    if (fd_nonblock(q->msg, 1) < 0 || fd_nonblock(q->env, 1) < 0) {
        q->failed = 1;
    }
    q->out = malloc(SMTPD_INJECT_BUF);     /* NULL: every piece is written as it comes */
    return 0;
}

/* queue-inject's exit code from the server's status line; -1 if none came. */
static int inject_wait(struct inject *q)
{
    int code = ipcfd_status(q->sock, SMTPD_INJECT_TIMEOUT);
    close(q->sock);
    q->sock = -1;
    return code;
}

/* Close the message without an envelope: queue-inject sees EOF before the final \0 and
   queues nothing. */
static void inject_abort(struct inject *q)
{
    if (q->spool >= 0) {
        close(q->spool);
        q->spool = -1;
    }
    if (q->msg >= 0) {
        close(q->msg);
        q->msg = -1;
    }
    if (q->env >= 0) {
        close(q->env);
        q->env = -1;
    }
    if (q->sock >= 0) {
        inject_wait(q);
    }
    free(q->out);
    q->out = NULL;
    q->outlen = 0;
    q->failed = 1;
}

/* The held message grew past SMTPD_SPOOL_MEM: its octets so far go from the memfd (RAM that
   cannot be swapped out or written back) to an unnamed file in run/smtpd, and the rest follows
   them there. A client could otherwise hold 20 MB of RAM per session for the DATA deadline.
   0, or -1 (the memfd is kept). */
static int spool_to_disk(struct smtpd_session *s, struct inject *q)
{
    char dir[YUBIN_PATH_MAX], buf[65536];
    off_t off = 0;
    int fd;

    if (cfg_path(dir, sizeof dir, s->root, "run/smtpd") < 0
        || (fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0) {
        return -1;
    }
    while ((size_t)off < q->held) {
        ssize_t r = pread(q->spool, buf, sizeof buf, off);
        if (r <= 0 || fd_write_all(fd, buf, (size_t)r) < 0) {
            close(fd);
            return -1;
        }
        off += r;
    }
    close(q->spool);
    q->spool = fd;
    q->spilled = 1;
    return 0;
}

/* What inject_write gathered, to queue-inject. 0, or -1 (the message aborted). */
static int inject_flush(struct smtpd_session *s, struct inject *q)
{
    size_t n = q->outlen;

    q->outlen = 0;
    if (q->failed) {
        return -1;
    }
    if (n > 0 && smtpd_io_write_timeout(q->msg, q->out, n, s->timeout) < 0) {
        log_warn_sys("unable to write the message to queue-inject session=%s", s->id);
        inject_abort(q);
        return -1;
    }
    return 0;
}

static void inject_write(struct smtpd_session *s, struct inject *q, const char *p, size_t n)
{
    if (q->failed || n == 0) {
        return;
    }
    if (q->spool >= 0) {
        if (!q->spilled && q->held + n > SMTPD_SPOOL_MEM && spool_to_disk(s, q) < 0) {
            log_warn_sys("unable to move the held message to %s/run/smtpd (kept in memory) "
                         "session=%s", s->root, s->id);
            q->spilled = 1;     /* said once */
        }
        q->held += n;
        if (fd_write_all(q->spool, p, n) < 0) {
            log_warn_sys("unable to hold the message for the inbound checks session=%s", s->id);
            inject_abort(q);
        }
        return;
    }
    if (q->out && q->outlen + n <= SMTPD_INJECT_BUF) {
        memcpy(q->out + q->outlen, p, n);
        q->outlen += n;
        return;
    }
    if (inject_flush(s, q) < 0) {
        return;
    }
    if (q->out && n < SMTPD_INJECT_BUF) {
        memcpy(q->out, p, n);
        q->outlen = n;
    } else if (smtpd_io_write_timeout(q->msg, p, n, s->timeout) < 0) {
        log_warn_sys("unable to write the message to queue-inject session=%s", s->id);
        inject_abort(q);
    }
}

/* Read "<ID>\n" (bounded) from queue-inject. */
static void inject_id(struct inject *q, char *id, size_t cap)
{
    size_t got = 0;
    id[0] = '\0';
    while (got < cap - 1) {
        struct pollfd pf = { q->env, POLLIN, 0 };
        ssize_t r;
        int p = poll(&pf, 1, SMTPD_INJECT_TIMEOUT * 1000);
        if (p < 0 && errno == EINTR) {
            continue;
        }
        if (p <= 0) {
            break;              /* queue-inject's own alarm ends it */
        }
        r = read(q->env, id + got, cap - 1 - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (memchr(id, '\n', got)) {
            break;
        }
    }
    id[got] = '\0';
    id[strcspn(id, "\n")] = '\0';
    if (!id[0] || str_has_ctl(id, strlen(id)) || strchr(id, ' ')) {
        str_fmt(id, cap, "unknown");
    }
}

/* End of data: the envelope (account: who authenticated it, "" for none, so queue-inject has
   it DKIM-signed; sender; rcpts: len octets of NUL-terminated addresses), the id, the exit
   status. Returns queue-inject's exit code. */
static int inject_finish(struct smtpd_session *s, struct inject *q, const char *account,
                         const char *sender, const char *rcpts, size_t len, char *id, size_t cap)
{
    struct buf env;
    int code;

    (void)inject_flush(s, q);
    free(q->out);
    q->out = NULL;
    close(q->msg);
    q->msg = -1;
    buf_init(&env, ENVELOPE_MAX);
    if (q->failed || envelope_encode_as(&env, account, sender, rcpts, len) < 0) {
        buf_free(&env);
        inject_abort(q);
        return -1;
    }
    if (smtpd_io_write_timeout(q->env, env.s, env.len, s->timeout) < 0) {
        log_warn_sys("unable to write the envelope to queue-inject session=%s", s->id);
    }
    buf_free(&env);
    shutdown(q->env, SHUT_WR);
    inject_id(q, id, cap);
    close(q->env);
    q->env = -1;
    code = inject_wait(q);
    return code;
}

/* RFC 5321 §4.4, RFC 3848: Received: with EHLO name, IP literal, protocol, id, one "for". */
static int received(struct smtpd_session *s, struct buf *h, const char *msgid)
{
    char date[DATE_RFC5322_MAX];
    const char *proto = s->smtputf8                          ? "UTF8SMTP"
                        : (s->esmtp || s->tls || s->authed) ? "ESMTP"
                                                            : "SMTP";
    int r;
    if (date_rfc5322(time(NULL), date, sizeof date) < 0) {
        return -1;
    }
    r = buf_printf(h, "Received: from %s (%s%s[%s%s])%s%s%s\n\tby %s (yubin) with %s%s%s id %s",
                   s->helo, s->host, s->host[0] ? " " : "", strchr(s->ip, ':') ? "IPv6:" : "",
                   s->ip, s->authed ? " (authenticated as " : "", s->authed ? s->user : "",
                   s->authed ? ")" : "", s->me, proto, s->tls ? "S" : "", s->authed ? "A" : "", msgid);
    if (r == 0 && s->nrcpt == 1) {
        r = buf_printf(h, "\n\tfor <%s>", s->rcpts.s);
    }
    if (r == 0) {
        r = buf_printf(h, "; %s\n", date);
    }
    return r;
}

/* ---- inbound checks (docs/inbound.md): port 25, mail from outside ---- */

/* Mail from outside: port 25 (not the fleet's internal port, not submission), without AUTH,
   POP-before-SMTP or RELAYCLIENT. Setting INBOUND_CHECKS=0 turns the checks off. */
static int inbound_applies(const struct smtpd_session *s)
{
    const char *v = getenv("INBOUND_CHECKS");
    return s->mode == SMTPD_MODE_MX && !s->authed && !s->relayclient && !s->grant_user[0]
           && s->relay == SMTPD_RELAY_NONE && !(v && strcmp(v, "0") == 0);
}

struct inbound_out {
    struct smtpd_session *s;
    struct inject *q;
};

static void inbound_write(void *ctx, const char *p, size_t n)
{
    struct inbound_out *o = ctx;
    inject_write(o->s, o->q, p, n);
}

/* ---- the fields claiming our authserv-id, left out of a message that streams ---- */

/* RFC 8601 §5: an Authentication-Results field that claims our authserv-id and did not come
   from a trusted server is left out. A held message (inbound checks) loses them when it is
   released; one that streams (submission, AUTH or a grant on port 25, INBOUND_CHECKS=0) loses
   them here: its header section is kept until its end (at most SMTP_HEADER_MAX and one read:
   a longer one is refused, header_long), then passed on without them; the body streams. The
   fleet's internal port is trusted: its mail carries the first node's results. */
struct hfilter {
    struct buf h;
    size_t from;        /* where the header's first unfinished line starts in h */
    int on;             /* 1 while the header section is collected */
};

static void hfilter_start(struct hfilter *f, const struct smtpd_session *s, const struct inject *q)
{
    buf_init(&f->h, SMTP_HEADER_MAX + SMTP_IN_MAX);
    f->from = 0;
    f->on = q->spool < 0 && s->mode != SMTPD_MODE_FLEET;
}

/* The message's next n octets (end: the last of them); inject_write once they are past the
   header section. */
static void hfilter_write(struct smtpd_session *s, struct inject *q, struct hfilter *f,
                          const char *p, size_t n, int end, const char *msgid)
{
    struct inbound_out ctx = { s, q };
    size_t hlen, body, dropped;
    const char *nl;

    if (!f->on) {
        inject_write(s, q, p, n);
        return;
    }
    if (buf_append(&f->h, p, n) < 0) {
        f->on = 0;      /* over the bound: the message is refused (header_long) */
        inject_abort(q);
        buf_free(&f->h);
        return;
    }
    /* from is a line start: dkim_header_end reads whole lines from there */
    if (dkim_header_end(f->h.s + f->from, f->h.len - f->from, &hlen, &body)) {
        hlen += f->from;
    } else if (end) {
        hlen = f->h.len;    /* no body: all of it is header */
    } else {
        nl = memrchr(f->h.s + f->from, '\n', f->h.len - f->from);
        if (nl) {
            f->from = (size_t)(nl - f->h.s) + 1;
        }
        return;
    }
    dropped = authres_strip(f->h.s, hlen, s->me, inbound_write, &ctx);
    inject_write(s, q, f->h.s + hlen, f->h.len - hlen);
    if (dropped) {
        log_info("session=%s msg=%s removed %zu Authentication-Results field(s) claiming %s",
                 s->id, msgid, dropped, s->me);
    }
    f->on = 0;
    buf_free(&f->h);
}

/* SPF, DKIM and DMARC of msg[0..n) into *o (in set up for the header). 0 done; -1 not run
   (no usable resolver or client address). */
static int inbound_check(struct smtpd_session *s, const char *msg, size_t n,
                         struct authres_in *in, struct spf_ip *ip, struct authres_out *o)
{
    char list[YUBIN_PATH_MAX];
    struct dmarc_psl psl;
    struct dns d;

    if (spf_ip_parse(s->ip, ip) < 0 || dns_init(&d) < 0) {
        return -1;
    }
    dmarc_psl_lazy(&psl, dmarc_psl_path(s->root, list, sizeof list), s->root);
    in->me = s->me;
    in->ip = ip;
    in->helo = s->helo;
    in->sender = s->sender;
    /* the first records asked together (docs/inbound.md "DNS") */
    authres_run(&d, in, &psl, msg, n, (long long)time(NULL),
                (unsigned)((unsigned long)time(NULL) ^ (unsigned)getpid()) % 100, o);
    dns_close(&d);
    dmarc_psl_free(&psl);
    return 0;
}

/* The held message: SPF, DKIM, DMARC; then our Authentication-Results and the Received: line
   (rcvd) before it, with the fields claiming our authserv-id left out, to queue-inject.
   Returns 0 to go on queueing, 1 when the message was refused (the reply sent), -1 when the
   held message could not be read back. */
static int inbound_release(struct smtpd_session *s, struct inject *q, const struct buf *rcvd,
                           const char *msgid)
{
    struct inbound_out ctx = { s, q };
    struct authres_in in;
    struct authres_out *o;
    struct spf_ip ip;
    struct stat st;
    struct buf ar;
    char sum[512];
    const char *msg = "", *rej = getenv("DMARC_REJECT");
    size_t n, hlen = 0, body = 0, dropped;
    int spool = q->spool, refused = 0;

    q->spool = -1;
    if (fstat(spool, &st) < 0
        || (st.st_size > 0
            && (msg = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, spool, 0))
                   == MAP_FAILED)) {
        close(spool);
        return -1;
    }
    n = (size_t)st.st_size;
    o = calloc(1, sizeof *o);
    buf_init(&ar, AUTHRES_HEADER_MAX);
    if (!o || inbound_check(s, msg, n, &in, &ip, o) < 0) {
        /* the message goes on without a result header */
        log_warn("inbound checks not run session=%s msg=%s", s->id, msgid);
    } else {
        authres_summary(sum, sizeof sum, o);
        refused = rej && strcmp(rej, "1") == 0
                  && (!o->from_ok || (o->dmarc.res == DMARC_FAIL
                                      && o->dmarc.policy == DMARC_P_REJECT && o->dmarc.sampled));
        log_info("inbound session=%s msg=%s ip=%s from=<%s> %s%s", s->id, msgid, s->ip,
                 s->sender, sum, refused ? ": refused (DMARC_REJECT)" : "");
        if (refused && !o->from_ok) {
            /* SPECS §12: not evaluable counts as a failure for the policy */
            smtpd_reply(s, "550 5.7.1 this message does not have exactly one From: address, so "
                        "its sender cannot be checked (DMARC); have your mail program send it "
                        "with one author address");
            inject_abort(q);
        } else if (refused) {
            smtpd_reply(s, "550 5.7.1 the domain %s of your From: address publishes a DMARC "
                        "policy of reject, and this message passes neither its SPF nor its "
                        "DKIM check; send it through that domain's own mail servers", o->from);
            inject_abort(q);
        } else if (authres_header(&ar, &in, o) < 0) {
            log_warn("inbound result header too long session=%s msg=%s", s->id, msgid);
        } else {
            inject_write(s, q, ar.s, ar.len);
        }
    }
    if (!refused) {
        inject_write(s, q, rcvd->s, rcvd->len);
        if (!dkim_header_end(msg, n, &hlen, &body)) {
            hlen = n;
        }
        dropped = authres_strip(msg, hlen, s->me, inbound_write, &ctx);
        inject_write(s, q, msg + hlen, n - hlen);
        if (dropped) {
            log_info("inbound session=%s msg=%s removed %zu Authentication-Results field(s) "
                     "claiming %s", s->id, msgid, dropped, s->me);
        }
    }
    buf_free(&ar);
    free(o);
    if (n > 0) {
        munmap((void *)msg, n);
    }
    close(spool);
    return refused;
}

/* The accepted line says what let a message go to another domain (followed by the login for
   AUTH and a grant); indexed by enum smtpd_relay. */
static const char *const relay_names[] = {
    "", " relay=auth user=", " relay=pop-before-smtp user=", " relay=relayclient"
};

static void data_verdict(struct smtpd_session *s, struct inject *q, const struct smtp_data *d,
                         const char *msgid, const struct buf *rcvd)
{
    char id[ENVELOPE_ID_LINE_MAX];
    int code;
    if (d->too_big) {
        smtpd_reply(s, "%s", SMTPD_TOO_BIG);
    } else if (d->loop) {
        smtpd_reply(s, "554 5.4.6 too many Received: headers (over 100): the message is looping");
    } else if (d->header_long) {
        smtpd_reply(s, "552 5.3.4 the message header section exceeds 256 KB");
    } else if (d->line_long) {
        smtpd_reply(s, "554 5.6.0 a line of the message is longer than 1000 characters; have your "
                 "mail program encode it (quoted-printable or base64)");
    } else if (q->failed) {
        smtpd_reply(s, "451 4.3.0 temporary failure queueing your message, try again");
    } else if (q->spool >= 0 && inbound_release(s, q, rcvd, msgid) != 0) {
        if (q->sock >= 0) {     /* not refused: the held message could not be read back */
            smtpd_reply(s, "451 4.3.0 temporary failure queueing your message, try again");
        }
    } else if (q->failed) {
        smtpd_reply(s, "451 4.3.0 temporary failure queueing your message, try again");
    } else {
        code = inject_finish(s, q, s->authed ? s->user : s->grant_user, s->sender, s->rcpts.s,
                             s->rcpts.len, id, sizeof id);
        switch (envelope_verdict(code)) {
        case ENVELOPE_QUEUED:
            log_info("accepted session=%s msg=%s id=%s from=<%s> rcpts=%u size=%llu%s%s%s",
                     s->id, msgid, id, s->sender, s->nrcpt, (unsigned long long)d->size,
                     relay_names[s->relay], s->relay == SMTPD_RELAY_AUTH ? s->user : "",
                     s->relay == SMTPD_RELAY_GRANT ? s->grant_user : "");
            smtpd_limits_sent(s);
            smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
            s->errors = 0;      /* a message went through: earlier refusals are forgiven, as
                                   Postfix does (a list server keeps its connection) */
            break;
        case ENVELOPE_NO_SPACE:
            /* qmail-queue 53: write error or disk full (RFC 3463 4.3.1, SPECS §2.4) */
            log_warn("queue-inject out of space session=%s msg=%s", s->id, msgid);
            smtpd_reply(s, "452 4.3.1 insufficient system storage on this server, try again later");
            break;
        case ENVELOPE_REFUSED:
            log_warn("queue-inject refused session=%s msg=%s code=%d", s->id, msgid, code);
            smtpd_reply(s, "554 5.3.0 the queue refused this message (code %d)", code);
            break;
        case ENVELOPE_TEMPORARY:
            log_warn("queue-inject failed session=%s msg=%s code=%d", s->id, msgid, code);
            smtpd_reply(s, "451 4.3.0 temporary failure queueing your message, try again");
            break;
        }
    }
    if (q->sock >= 0) {
        inject_abort(q);
    }
}

void smtpd_cmd_data(struct smtpd_session *s, const char *arg, size_t n)
{
    struct inject q;
    struct smtp_data d;
    struct hfilter hf;
    struct buf h;
    char out[SMTP_IN_MAX], msgid[SMTPD_ID_MAX + 16];

    (void)arg;
    if (n > 0) {
        smtpd_reply(s, "501 5.5.4 DATA takes no parameters");
        return;
    }
    if (s->state < SMTPD_ST_MAIL) {
        smtpd_reply(s, "503 5.5.1 send MAIL FROM and RCPT TO first");
        return;
    }
    if (s->state < SMTPD_ST_RCPT) {
        smtpd_reply(s, "554 5.5.1 no valid recipients");
        return;
    }
    str_fmt(msgid, sizeof msgid, "%s.%u", s->id, ++s->nmsg);
    buf_init(&h, SMTP_TEXT_MAX * 2);
    if (received(s, &h, msgid) < 0 || inject_start(s, &q) < 0) {
        log_warn_sys("unable to start queue-inject session=%s", s->id);
        buf_free(&h);
        smtpd_reply(s, "451 4.3.0 temporary failure queueing your message, try again");
        return;
    }
    smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    smtpd_io_flush(s);
    smtpd_io_deadline(s, SMTPD_PHASE_DATA);     /* SMTP_MIN_DATA_RATE from here to the final dot */
    if (inbound_applies(s)) {
        /* held until the checks have put their header on top (at most the 20 MB limit) */
        q.spool = memfd_create("smtpd-message", MFD_CLOEXEC);
        if (q.spool < 0) {
            log_warn_sys("unable to hold the message for the inbound checks session=%s", s->id);
        }
    }
    if (q.spool < 0) {
        inject_write(s, &q, h.s, h.len);
    }
    hfilter_start(&hf, s, &q);
    smtp_data_init(&d);
    for (;;) {
        size_t olen = 0, used = 0;
        enum smtp_dres r;
        if (s->inlen == 0) {
            smtpd_io_fill(s);
        }
        r = smtp_data_feed(&d, s->in, s->inlen, out, &olen, &used);
        memmove(s->in, s->in + used, s->inlen - used);
        s->inlen -= used;
        if (r == DATA_BARE) {
            inject_abort(&q);
            log_info("bare CR/LF in data ip=%s session=%s: message dropped", s->ip, s->id);
            smtpd_reply(s, "550 5.5.2 bare CR or LF received in the message: lines must end with "
                     "CRLF; message refused, closing connection");
            smtpd_io_quit(s, EXIT_DONE);
        }
        hfilter_write(s, &q, &hf, out, olen, r == DATA_END, msgid);
        if (smtp_data_refused(&d) && !q.failed) {
            inject_abort(&q);
        }
        if (r == DATA_END) {
            break;
        }
    }
    data_verdict(s, &q, &d, msgid, &h);
    buf_free(&hf.h);
    buf_free(&h);
    smtpd_reset_mail(s);
}

/* One try of smtpd_inject_text; queue-inject's exit code, or -1. */
static int inject_text_as(struct smtpd_session *s, const char *account, const char *sender,
                          const char *rcpt, const char *text, size_t n, char *id, size_t cap)
{
    struct inject q;
    int code;
    if (inject_start(s, &q) < 0) {
        return -1;
    }
    inject_write(s, &q, text, n);
    code = inject_finish(s, &q, account, sender, rcpt, strlen(rcpt) + 1, id, cap);
    if (q.sock >= 0) {
        inject_abort(&q);
    }
    return code;
}

int smtpd_inject_text(struct smtpd_session *s, const char *account, const char *sender,
                      const char *rcpt, const char *text, size_t n, char *id, size_t cap)
{
    int code = inject_text_as(s, account, sender, rcpt, text, n, id, cap);
    /* an alert has no queue to wait in: unsigned beats lost (a customer's message is
       refused with 451 instead, and its client sends it again) */
    if (code == ENVELOPE_EXIT_SIGNER) {
        log_warn("the DKIM signer did not answer (see log/inject): queuing the message to %s "
                 "unsigned session=%s", rcpt, s->id);
        code = inject_text_as(s, "", sender, rcpt, text, n, id, cap);
    }
    return code >= 0 && envelope_verdict(code) == ENVELOPE_QUEUED ? 0 : -1;
}

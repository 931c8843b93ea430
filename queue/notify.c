/* notify.c: queue-run's end of a message: bounces, double bounces, delay warnings, removal */
#include "sched.h"
#include "acct.h"
#include "bounce.h"
#include "cfg.h"
#include "fd.h"
#include "log.h"
#include "signcall.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { RETRY_NOTICE = 60 };     /* seconds before retrying a notice that failed to commit */
/* Seconds queue-run waits for dkim-sign to sign one notice (a few ms of its CPU; the loop
   stands still meanwhile, so after a failure no notice asks again for RETRY_NOTICE). */
enum { NOTICE_SIGN_TIMEOUT = 10 };

struct collect {
    const unsigned char *want;  /* per recipient */
    char **text;                /* per recipient: the last line's text (malloc) */
    size_t *len;
};

static int collect_cb(void *ctx, const struct qline *l)
{
    struct collect *c = ctx;
    char *t;
    if (l->kind != QL_RCPT || !c->want[l->index]) {
        return 0;
    }
    t = malloc(l->text_len + 1);
    if (!t) {
        return -1;
    }
    memcpy(t, l->text, l->text_len);
    t[l->text_len] = '\0';
    free(c->text[l->index]);
    c->text[l->index] = t;
    c->len[l->index] = l->text_len;
    return 0;
}

/* The operator's address (lib/cfg cfg_admin: cdb/admin, else etc/admin) into out; 0 ok, -1
   none. */
static int read_admin(const char *root, char *out, size_t cap)
{
    return cfg_admin(root, out, cap) == 0 && qaddr_ok(out, strlen(out)) ? 0 : -1;
}

/* The first octets of the message (its header section is all the notice quotes). */
static char *read_headers(const struct runner *r, const struct msg *m, size_t *n)
{
    char path[YUBIN_PATH_MAX];
    char *p = malloc(BOUNCE_HEADERS_MAX);
    ssize_t got = -1;
    int fd;
    *n = 0;
    if (!p || qfile_path(path, sizeof path, r->root, QDIR_MESS, m->id) < 0) {
        return p;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        got = pread(fd, p, BOUNCE_HEADERS_MAX, m->body);
        close(fd);
    }
    *n = got > 0 ? (size_t)got : 0;
    return p;
}

/* The notice's envelope recipient: rcpt, or, when rcpt is an alias of ours (a customer may
   send as one of its aliases), the alias's targets, as smtpd expands it for mail from outside
   (deliver knows accounts only). 0 ok, -1 no memory. */
static int add_notice_rcpt(struct runner *r, struct qenv *ne, const char *rcpt)
{
    char targets[MAP_VALUE_MAX];
    struct acct a;
    const char *t = targets;
    if (acct_user(r->root, rcpt, &a) != 0 || acct_alias(r->root, rcpt, targets,
                                                          sizeof targets) != 1) {
        return qenv_add_rcpt(ne, rcpt, strlen(rcpt));
    }
    while (*t) {
        size_t n = strcspn(t, " ");
        if (n > 0 && qenv_add_rcpt(ne, t, n) < 0) {
            return -1;
        }
        t += n + (t[n] == ' ');
    }
    return 0;
}

/* 1 if rcpt is an account of ours: delivered here, or homed on another node of the fleet
   (every node's maps hold every account). *addon: 1 if the capacity add-on can enlarge its
   mailbox: only then does a full mailbox's notice name the add-on (never to the senders of
   other providers' mailboxes). */
static int rcpt_ours(const struct runner *r, const char *rcpt, int *addon)
{
    struct acct a;
    int ours = acct_user(r->root, rcpt, &a) == 1;
    *addon = ours && acct_addon_applies(a.plan, a.quota);
    return ours;
}

/* The signer cannot answer: the notice waits (-1) while the outage is younger than
   QUEUE_SIGN_WAIT, and leaves unsigned after that (0, s->code -1), so that a signer stopped
   for good holds no sender's bounce for good. */
static int sign_unavailable(struct runner *r, const struct msg *m, struct signcall *s)
{
    if (r->sign_failing_since && r->now - r->sign_failing_since >= (time_t)r->sign_wait) {
        memset(s, 0, sizeof *s);
        s->code = -1;
        return 0;
    }
    log_warn("unable to sign the notice for id=%s: %s (tried again in %d s)", m->id,
             r->sign_why, RETRY_NOTICE);
    return -1;
}

/* The notice out DKIM-signed by dkim-sign for its From address, MAILER-DAEMON@ME, as
   customer mail is for its account (docs/dkim.md "The server's own mail"): 0 with s->code
   DKIM_SIGN_OK (s->field to go in front) or another of enum dkim_sign_exit (no key for the
   host name: sent unsigned); -1 (logged) when the signer cannot answer: the notice waits and
   is tried again, as queue-inject queues no customer mail unsigned then, up to
   QUEUE_SIGN_WAIT of the outage (sign_unavailable). After a failure no notice asks the signer
   for RETRY_NOTICE seconds (mailq flush: at once), so a signer that hangs holds the loop
   once, not once per notice. */
static int sign_notice(struct runner *r, const struct msg *m, const struct buf *out,
                       struct signcall *s)
{
    char from[ADDR_MAX + 1];

    if (r->now < r->sign_retry_at) {
        return sign_unavailable(r, m, s);
    }
    if (str_fmt(from, sizeof from, "MAILER-DAEMON@%s", r->me) < 0) {
        return -1;      /* a host name over SMTP_DOMAIN_MAX: none is */
    }
    if (signcall_sign(r->root, from, "", out->s, out->len, -1,
                      ipcfd_deadline(NOTICE_SIGN_TIMEOUT), s) < 0) {
        str_fmt(r->sign_why, sizeof r->sign_why, "%s", s->why);
        r->sign_retry_at = r->now + RETRY_NOTICE;
        if (!r->sign_failing_since) {
            r->sign_failing_since = r->now;
        }
        return sign_unavailable(r, m, s);
    }
    r->sign_failing_since = 0;
    return 0;
}

/* What the log says of a notice's signature: " dkim=signed d=D s=S", or why there is none. */
static void sign_note(const struct runner *r, const struct signcall *s, char *out, size_t cap)
{
    if (s->code == DKIM_SIGN_OK) {
        str_fmt(out, cap, " dkim=signed d=%s s=%s", s->domain, s->sel);
    } else if (s->code == DKIM_SIGN_NOKEY) {
        str_fmt(out, cap, " dkim=none: %s has no DKIM key (mailacct domain dkim %s rotate "
                "makes one)", r->me, r->me);
    } else if (s->code < 0) {
        str_fmt(out, cap, " dkim=none: the signer has not answered for %lu s or more (%s); "
                "the notice leaves unsigned (QUEUE_SIGN_WAIT)", r->sign_wait, r->sign_why);
    } else {
        str_fmt(out, cap, " dkim=none: not signed (dkim-sign exit %d)", s->code);
    }
}

/* Build, sign and commit one notice about the recipients in want[] to rcpt, with envelope
   sender env_sender. 0 ok, -1 error (logged). */
static int commit_notice(struct runner *r, struct msg *m, enum bounce_kind kind,
                         const unsigned char *want, const char *rcpt, const char *env_sender)
{
    char path[YUBIN_PATH_MAX], id[QID_BUF];
    struct collect c = {want, calloc(m->e.nrcpt, sizeof(char *)),
                        calloc(m->e.nrcpt, sizeof(size_t))};
    struct bounce_rcpt *br = calloc(m->e.nrcpt, sizeof *br);
    struct bounce_in in;
    struct buf out, msg;
    struct signcall sig;
    struct qenv ne;
    char note[SMTP_DOMAIN_MAX * 2 + 96];
    size_t i, n = 0, hlen = 0;
    char *headers = NULL;
    int rc = -1;

    buf_init(&out, BOUNCE_MAX);
    buf_init(&msg, DKIM_SIG_MAX + BOUNCE_MAX);
    qenv_init(&ne);
    if (!c.text || !c.len || !br
        || qfile_path(path, sizeof path, r->root, QDIR_STATE, m->id) < 0
        || qstate_replay(path, m->e.nrcpt, collect_cb, &c, NULL) < 0) {
        log_warn_sys("unable to collect the failures of id=%s", m->id);
        goto done;
    }
    for (i = 0; i < m->e.nrcpt; i++) {
        const struct qdown *d = want[i] && !c.text[i] && kind == BOUNCE_DELAYED
                                ? msg_rcpt_down(r, m, i) : NULL;
        if (d && (c.text[i] = malloc(QDOWN_REASON_MAX)) != NULL) {
            qdown_reason(d, c.text[i], QDOWN_REASON_MAX);   /* never tried: why it waits */
        }
        if (want[i]) {
            br[n].addr = m->e.rcpt[i];
            br[n].reason = c.text[i] ? c.text[i] : "no reason recorded (#5.0.0)";
            br[n].reason_len = strlen(br[n].reason);
            br[n].remote = msg_rcpt_local(r, m, i) == 0;
            br[n].ours = rcpt_ours(r, m->e.rcpt[i], &br[n].addon);
            /* RFC 3464 §2.3.7: the last attempt's time, 0 for none (no Last-Attempt-Date); the
               lines that are no attempt (queue/qfile.h qline_why: a mailq delete, a map or home
               that could not be read, a move, a delivery service down, an expiry while it
               waited for its destination) do not count (qstate_apply keeps it) */
            br[n].last = m->st.r[i].tried;
            n++;
        }
    }
    headers = read_headers(r, m, &hlen);
    memset(&in, 0, sizeof in);
    in.kind = kind;
    in.me = r->me;
    in.to = rcpt;
    in.id = m->id;
    in.arrival = m->e.arrival;
    in.now = r->now;
    in.retry_until = m->e.arrival + (time_t)r->lifetime;
    in.rcpt = br;
    in.nrcpt = n;
    in.headers = headers;
    in.headers_len = hlen;
    if (bounce_build(&in, &out) < 0 || qenv_set_sender(&ne, env_sender, strlen(env_sender)) < 0
        || add_notice_rcpt(r, &ne, rcpt) < 0) {
        log_warn_sys("unable to build the notice for id=%s", m->id);
        goto done;
    }
    if (sign_notice(r, m, &out, &sig) < 0) {
        goto done;
    }
    if (sig.code == DKIM_SIGN_OK
        && (buf_append(&msg, sig.field, sig.len) < 0 || buf_append(&msg, out.s, out.len) < 0)) {
        log_warn_sys("unable to build the notice for id=%s", m->id);
        goto done;
    }
    ne.arrival = r->now;
    if (qfile_commit(r->root, &ne, msg.len ? msg.s : out.s, msg.len ? msg.len : out.len, -1,
                     id) < 0) {
        log_warn_sys("unable to queue the notice for id=%s", m->id);
        goto done;
    }
    sign_note(r, &sig, note, sizeof note);
    log_info("%s id=%s for id=%s to=<%s>%s", kind == BOUNCE_DELAYED ? "warning" : "bounce", id,
             m->id, rcpt, note);
    msg_load(r, id);
    rc = 0;
done:
    if (c.text) {
        for (i = 0; i < m->e.nrcpt; i++) {
            free(c.text[i]);
        }
    }
    free(c.text);
    free(c.len);
    free(br);
    free(headers);
    buf_free(&out);
    buf_free(&msg);
    qenv_free(&ne);
    return rc;
}

/* Who gets a notice about m: 1 with rcpt/env_sender set, 0 nobody (dropped, logged). */
static int notice_target(struct runner *r, struct msg *m, enum bounce_kind kind, char *rcpt,
                         size_t cap, const char **env_sender)
{
    if (strcmp(m->e.sender, QFILE_DOUBLE_BOUNCE) == 0) {
        if (kind == BOUNCE_FAILED) {
            log_warn("dropped double bounce id=%s (it failed too)", m->id);
        }
        return 0;
    }
    if (m->e.sender[0] == '\0') {
        if (kind == BOUNCE_DELAYED) {
            return 0;
        }
        if (read_admin(r->root, rcpt, cap) < 0) {
            log_warn("dropped failed bounce id=%s: no operator address (etc/admin, or the "
                     "directory's in a fleet)", m->id);
            return 0;
        }
        *env_sender = QFILE_DOUBLE_BOUNCE;
        return 1;
    }
    snprintf(rcpt, cap, "%s", m->e.sender);
    *env_sender = "";
    return 1;
}

static int append_mark(struct runner *r, struct msg *m, enum qline_kind kind)
{
    struct qline l;
    int rc;
    memset(&l, 0, sizeof l);
    l.kind = kind;
    l.when = r->now;
    rc = msg_append(r, m, &l);
    qstate_apply(&m->st, &l);
    return rc;
}

static void maybe_warn(struct runner *r, struct msg *m)
{
    unsigned char *want;
    char rcpt[ADDR_MAX + 1];
    const char *env_sender;
    size_t i, n = 0;

    if (!r->warn || m->st.warned || r->now - m->e.arrival < (time_t)r->warn) {
        return;
    }
    want = calloc(m->e.nrcpt, 1);
    if (!want) {
        return;
    }
    for (i = 0; i < m->e.nrcpt; i++) {
        if (msg_rcpt_delayed(r, m, i)) {    /* deferred, or waiting for its destination */
            want[i] = 1;
            n++;
        }
    }
    if (n > 0) {
        if (!notice_target(r, m, BOUNCE_DELAYED, rcpt, sizeof rcpt, &env_sender)
            || commit_notice(r, m, BOUNCE_DELAYED, want, rcpt, env_sender) == 0) {
            if (append_mark(r, m, QL_WARNED) < 0) {
                log_warn_sys("unable to append to state/%s", m->id);
            }
        } else {
            m->retry_at = r->now + RETRY_NOTICE;    /* not at every turn of the loop */
        }
    }
    free(want);
}

/* mess/ID first: once it is unlinked nothing delivers the message again, and ENOENT says the
   operator moved it to hold/ meanwhile (mailq hold during its last delivery). Such a message
   stays the operator's, with a state that says every recipient is done (the D line kept back
   written), so mailq lists it delivered and a release removes it, not delivers it again. A
   crash between the two unlinks leaves state/ID alone, which scan() removes later. */
static void msg_remove(struct runner *r, struct msg *m)
{
    char path[YUBIN_PATH_MAX];

    if (qfile_path(path, sizeof path, r->root, QDIR_MESS, m->id) < 0) {
        return;
    }
    if (unlink(path) < 0) {
        if (errno != ENOENT) {
            log_warn_sys("unable to remove mess/%s", m->id);
            m->retry_at = r->now + RETRY_NOTICE;
        } else if (msg_quiet_write(r, m) < 0) {
            m->retry_at = r->now + RETRY_NOTICE;
        } else {
            log_info("gone id=%s (held or removed by the operator)", m->id);
            msg_forget(r, m);
        }
        return;
    }
    if (qfile_path(path, sizeof path, r->root, QDIR_STATE, m->id) == 0 && unlink(path) < 0
        && errno != ENOENT) {
        log_warn_sys("unable to remove state/%s (left for the scan)", m->id);
    }
    log_info("done id=%s", m->id);
    msg_forget(r, m);
}

void notify_check(struct runner *r, struct msg *m)
{
    unsigned char *want;
    char rcpt[ADDR_MAX + 1];
    const char *env_sender;
    size_t i, open_ = 0, failed = 0;

    if (m->gone || (m->retry_at && m->retry_at > r->now)) {
        return;
    }
    for (i = 0; i < m->e.nrcpt; i++) {
        if (m->busy[i]) {
            return;
        }
        if (m->st.r[i].status == QS_PENDING || m->st.r[i].status == QS_DEFERRED) {
            open_++;
        } else if (m->st.r[i].status == QS_FAILED && !m->st.r[i].bounced) {
            failed++;
        }
    }
    if (open_ > 0) {
        m->retry_at = 0;            /* its time has come, if it had one */
        maybe_warn(r, m);
        return;
    }
    m->retry_at = 0;
    if (failed > 0) {
        want = calloc(m->e.nrcpt, 1);
        if (!want) {
            m->retry_at = r->now + RETRY_NOTICE;
            return;
        }
        for (i = 0; i < m->e.nrcpt; i++) {
            want[i] = m->st.r[i].status == QS_FAILED && !m->st.r[i].bounced;
        }
        if (notice_target(r, m, BOUNCE_FAILED, rcpt, sizeof rcpt, &env_sender)
            && commit_notice(r, m, BOUNCE_FAILED, want, rcpt, env_sender) < 0) {
            free(want);
            m->retry_at = r->now + RETRY_NOTICE;
            return;
        }
        free(want);
        if (append_mark(r, m, QL_BOUNCE) < 0) {
            log_warn_sys("unable to append to state/%s", m->id);
        }
    }
    msg_remove(r, m);
}

void notify_check_all(struct runner *r)
{
    struct msg *m, *nx;
    for (m = r->msgs; m; m = nx) {
        nx = m->link;
        notify_check(r, m);
    }
}

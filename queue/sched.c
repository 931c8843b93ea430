/* sched.c: queue-run's delivery jobs: calls over run/deliver.sock and run/remote.sock */
#include "sched.h"
#include "acct.h"
#include "bounce.h"
#include "fd.h"
#include "fleethome.h"
#include "ipcfd.h"
#include "log.h"
#include "srs.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int due(const struct runner *r, const struct msg *m, size_t i)
{
    unsigned char s = m->st.r[i].status;
    return !m->busy[i] && (s == QS_PENDING || s == QS_DEFERRED) && m->next[i] <= r->now;
}

/* The sender as handed to deliver/remote: the double-bounce marker becomes <>. */
static const char *wire_sender(const struct msg *m)
{
    return strcmp(m->e.sender, QFILE_DOUBLE_BOUNCE) == 0 ? "" : m->e.sender;
}

static struct job *free_slot(struct runner *r)
{
    size_t k;
    for (k = 0; k < r->njobs; k++) {
        if (r->jobs[k].sock < 0) {
            return &r->jobs[k];
        }
    }
    return NULL;
}

static void job_clear(struct job *j)
{
    if (j->out >= 0) {
        close(j->out);
    }
    if (j->sock >= 0) {
        close(j->sock);
    }
    free(j->idx);
    buf_free(&j->text);
    memset(j, 0, sizeof *j);
    j->out = -1;
    j->sock = -1;
}

/* How starting a job went (errno set when it did not). */
enum call_result {
    CALL_STARTED,
    CALL_FAILED,        /* ENOENT: the message file is gone */
    CALL_UNREACHABLE    /* the socket run/NAME could not be reached */
};

/* The call: mess/ID opened read-only and positioned after the header as fd 0, the write end
   of a pipe as fd 1, argv, over the socket run/NAME (lib/ipcfd). */
static enum call_result job_call(struct runner *r, struct job *j, char *const argv[], const char *name)
{
    char path[YUBIN_PATH_MAX], sock[YUBIN_PATH_MAX];
    int msgfd, p[2], s, e;

    if (qfile_path(path, sizeof path, r->root, QDIR_MESS, j->m->id) < 0
        || str_fmt(sock, sizeof sock, "%s/run/%s", r->root, name) < 0) {
        return CALL_FAILED;
    }
    msgfd = open(path, O_RDONLY | O_CLOEXEC);
    if (msgfd < 0) {
        return CALL_FAILED;
    }
    if (lseek(msgfd, j->m->body, SEEK_SET) < 0 || pipe2(p, O_CLOEXEC) < 0) {
        close(msgfd);
        return CALL_FAILED;
    }
    s = ipcfd_call(sock, msgfd, p[1], (const char *const *)argv);
    e = errno;
    /* the serving child holds the only other copies: EOF on the pipe when it is done */
    close(msgfd);
    close(p[1]);
    if (s < 0) {
        close(p[0]);
        errno = e;
        return CALL_UNREACHABLE;
    }
    fd_nonblock(s, 1);
    fd_nonblock(p[0], 1);
    j->sock = s;
    j->answer.len = 0;
    j->out = p[0];
    j->started = r->now;
    return CALL_STARTED;
}

/* Start j (kind, m, idx, nidx, text set) with argv on run/NAME; on failure the job's
   recipients are deferred (an unreachable socket: a Z result each) and j is cleared. */
static void job_start(struct runner *r, struct job *j, char *const argv[], const char *name)
{
    struct msg *m = j->m;
    const char *what = j->kind == JOB_LOCAL ? "local" : "remote";
    enum call_result rc = job_call(r, j, argv, name);
    size_t i;

    if (rc == CALL_UNREACHABLE) {
        char text[256];
        snprintf(text, sizeof text, "%s%s: %s (#4.3.0)",    /* no try (qline_attempt) */
                 j->kind == JOB_LOCAL ? QUEUE_UNREACHABLE_LOCAL : QUEUE_UNREACHABLE_REMOTE,
                 name, strerror(errno));
        for (i = 0; i < j->nidx; i++) {
            sched_record(r, m, j->idx[i], 'Z', text, strlen(text), j->kind == JOB_REMOTE);
        }
    } else if (rc == CALL_FAILED && errno == ENOENT) {
        m->gone = 1;
    } else if (rc == CALL_FAILED) {
        log_warn_sys("unable to start %s delivery id=%s", what, m->id);
        for (i = 0; i < j->nidx; i++) {
            m->next[j->idx[i]] = r->now + 60;
        }
    }
    if (rc != CALL_STARTED) {
        job_clear(j);
        return;
    }
    for (i = 0; i < j->nidx; i++) {
        m->busy[j->idx[i]] = 1;
    }
    if (j->kind == JOB_LOCAL) {
        r->local_busy++;
    } else {
        r->remote_busy++;
    }
}

/* deliver SENDER RECIPIENT QUEUE_ID over run/deliver.sock (the id only for deliver's log). */
static void start_local(struct runner *r, struct msg *m, size_t i)
{
    struct job *j = free_slot(r);
    char *argv[5];

    if (!j || !(j->idx = malloc(sizeof *j->idx))) {
        return;
    }
    j->idx[0] = i;
    j->nidx = 1;
    j->kind = JOB_LOCAL;
    j->m = m;
    buf_init(&j->text, JOB_LOCAL_OUT_MAX);
    argv[0] = "deliver";
    argv[1] = (char *)wire_sender(m);
    argv[2] = m->e.rcpt[i];
    argv[3] = m->id;
    argv[4] = NULL;
    job_start(r, j, argv, "deliver.sock");
}

/* The sender remote announces to domain: a sender of another domain (mail an alias forwards, or
   a trusted network's) is rewritten with SRS at our name when etc/srs has a secret, so the
   receiver's SPF check sees our domain and a bounce finds its way back (docs/queue.md "SRS").
   Mail to a domain in our maps (a fleet node's) keeps its sender. buf: ADDR_MAX + 1 octets. */
static const char *remote_sender(struct runner *r, const struct msg *m, const char *domain,
                                 char *buf, size_t cap)
{
    const char *sender = wire_sender(m), *at = strrchr(sender, '@');
    struct srs_keys k;
    struct domain d;
    int rc;

    /* a sender of one of our domains goes out as it is, wherever its home (in a fleet a
       customer may send through any node: rcpt_is_local says only "homed here") */
    if (!sender[0] || !at || acct_domain(r->root, at + 1, &d) != 0
        || acct_domain(r->root, domain, &d) != 0) {
        return sender;
    }
    if (srs_keys_load(r->root, &k) < 0) {
        log_warn_sys("unable to read etc/srs: id=%s goes to %s from <%s> without SRS", m->id,
                     domain, sender);
        return sender;
    }
    if (k.n == 0) {
        return sender;
    }
    rc = srs_forward(&k, sender, r->me, r->now, buf, cap);
    if (rc < 0) {
        log_warn_sys("no SRS address for <%s>: id=%s goes to %s with it as it is", sender, m->id,
                     domain);
        return sender;
    }
    return rc == 1 ? buf : sender;
}

/* remote -i ID DOMAIN SENDER RCPT... over run/remote.sock for the due recipients of one
   domain in m, at most QUEUE_JOB_RCPT_MAX of them (what one request carries; the rest wait
   for the next job). */
static void start_remote(struct runner *r, struct msg *m, const char *domain)
{
    struct job *j = free_slot(r);
    char *argv[QUEUE_JOB_RCPT_MAX + 6];
    char srs[ADDR_MAX + 1];
    size_t i, n = 0;

    if (!j || !(j->idx = calloc(QUEUE_JOB_RCPT_MAX, sizeof *j->idx))) {
        return;
    }
    argv[0] = "remote";
    argv[1] = "-i";
    argv[2] = m->id;
    argv[3] = (char *)domain;
    argv[4] = (char *)remote_sender(r, m, domain, srs, sizeof srs);
    for (i = 0; i < m->e.nrcpt && n < QUEUE_JOB_RCPT_MAX; i++) {
        if (due(r, m, i) && strcasecmp(rcpt_domain(m->e.rcpt[i]), domain) == 0
            && msg_rcpt_local(r, m, i) == 0) {
            j->idx[n] = i;
            argv[5 + n] = m->e.rcpt[i];
            n++;
        }
    }
    argv[5 + n] = NULL;
    j->nidx = n;
    j->kind = JOB_REMOTE;
    j->m = m;
    snprintf(j->domain, sizeof j->domain, "%s", domain);
    buf_init(&j->text, n * JOB_REMOTE_LINE_MAX);
    if (n == 0) {
        job_clear(j);
        return;
    }
    job_start(r, j, argv, "remote.sock");
}

static unsigned domain_jobs(const struct runner *r, const char *domain)
{
    size_t k;
    unsigned n = 0;
    for (k = 0; k < r->njobs; k++) {
        if (r->jobs[k].sock >= 0 && r->jobs[k].kind == JOB_REMOTE
            && strcasecmp(r->jobs[k].domain, domain) == 0) {
            n++;
        }
    }
    return n;
}

/* ---- destinations that are down (struct qdown, kept in queue/down) ---- */

static struct qdown *down_find(struct runner *r, const char *domain)
{
    size_t k = qdown_find(r->down, r->ndown, domain);
    return k < r->ndown ? &r->down[k] : NULL;
}

/* The marks to queue/down after each change: a restart keeps them, mailq shows them. */
static void down_save(struct runner *r)
{
    size_t k;
    for (k = 0; k < r->ndown; k++) {    /* a clock stepped back: the file wants since <= until */
        if (r->down[k].since > r->down[k].until) {
            r->down[k].since = r->down[k].until;
        }
    }
    if (qdown_save(r->root, r->down, r->ndown) < 0) {
        log_warn_sys("unable to write queue/down (mailq and a restarted queue-run do not see "
                     "the destinations down)");
    }
}

/* No mark waits longer than its round's step from now: one written under another clock (a
   clock stepped back, at start or while queue-run runs) or a longer QUEUE_BACKOFF could
   otherwise hold its mail until it expired untried. 1 if e was mended. */
static int down_clamp(const struct runner *r, struct qdown *e)
{
    time_t step = msg_backoff(r, e->rounds);
    if (e->until > r->now + step) {
        e->until = r->now + step;
        return 1;
    }
    return 0;
}

/* The mark to give up for a new one when QUEUE_DOWN_MAX destinations are down: the one due
   soonest among those without a running job (a mark whose try runs holds the mail that
   waits for its end), else the one due soonest. Its mail is woken back to its own schedule, as
   if the mark had gone (mail parked on it would otherwise sleep until the old time, and no
   answer of its servers would wake it): the destination is tried as before it was marked. */
static struct qdown *down_evict(struct runner *r)
{
    char gone[SMTP_DOMAIN_MAX + 1];
    struct qdown *e = NULL;
    size_t k;
    int idle = 0;
    for (k = 0; k < r->ndown; k++) {
        int free_ = domain_jobs(r, r->down[k].domain) == 0;
        if (!e || free_ > idle || (free_ == idle && r->down[k].until < e->until)) {
            e = &r->down[k];
            idle = free_;
        }
    }
    snprintf(gone, sizeof gone, "%s", e->domain);
    log_info("destination forgotten domain=%s (%d destinations down: its mail is tried as "
             "before)", gone, QUEUE_DOWN_MAX);
    e->rounds = 0;
    msg_wake_domain(r, gone);
    return e;
}

/* A job found every server of domain silent. Results of the jobs of the same round that
   end after the first (until still ahead) change nothing. A domain a mark cannot hold (over
   255 octets, a space or control byte: not one DNS knows) is not marked; its mail is tried
   as before. */
static void down_mark(struct runner *r, const char *domain, const char *why, size_t len)
{
    struct qdown *e = down_find(r, domain);
    if ((e && e->until > r->now) || !qdown_domain_ok(domain)) {
        return;
    }
    if (!e && r->ndown < QUEUE_DOWN_MAX) {
        e = &r->down[r->ndown++];
        e->rounds = 0;
    } else if (!e) {
        e = down_evict(r);
    }
    if (e->rounds == 0) {
        snprintf(e->domain, sizeof e->domain, "%s", domain);
        e->since = r->now;
    }
    if (e->rounds < UINT32_MAX) {       /* what queue/down holds; the last step repeats */
        e->rounds++;
    }
    e->until = r->now + msg_backoff(r, e->rounds);
    qdown_set_why(e, why, len);
    log_info("destination down domain=%s rounds=%u retry_in=%lds reason=%.*s", domain, e->rounds,
             (long)(e->until - r->now), (int)len, why);
    down_save(r);
}

/* The try of a destination down ended without telling whether a server of it is there
   (remote killed or silent, a DNS or local failure): the mark waits its round's step again,
   its rounds unchanged. Left as it was, its time past, it would hold the domain to one job at
   a time and mailq would say "next try now" until sched_down_expire. */
static void down_renew(struct runner *r, const char *domain, const char *what, size_t len)
{
    struct qdown *e = down_find(r, domain);
    if (!e || e->until > r->now) {
        return;         /* not a try of its round (a job of an earlier one that ended late) */
    }
    e->until = r->now + msg_backoff(r, e->rounds);
    log_info("destination still down domain=%s rounds=%u retry_in=%lds (its try told nothing: "
             "%.*s)", domain, e->rounds, (long)(e->until - r->now), (int)len, what);
    down_save(r);
}

/* A job reached a server of domain (whatever it said): the mark goes, and the mail that
   waited for it follows now, not at the mark's time. */
static void down_clear(struct runner *r, const char *domain)
{
    struct qdown *e = down_find(r, domain);
    if (e) {
        log_info("destination up domain=%s", domain);
        *e = r->down[--r->ndown];
        down_save(r);
        msg_wake_domain(r, domain);
    }
}

void sched_down_load(struct runner *r)
{
    char path[YUBIN_PATH_MAX];
    size_t k;
    int mended = 0;
    if (qdown_load(r->root, r->now, r->down, &r->ndown) < 0) {
        log_warn_sys("unable to read queue/down: no destination is taken as down");
        /* torn by a power cut (it is not synced) or larger than any we write: removed, so
           that mailq does not warn until the next change of marks (one we may not read is
           left to the operator) */
        if ((errno == EINVAL || errno == EFBIG)
            && qfile_path(path, sizeof path, r->root, QFILE_DOWN, NULL) == 0) {
            (void)unlink(path);
        }
        return;
    }
    for (k = 0; k < r->ndown; k++) {
        struct qdown *e = &r->down[k];
        mended |= down_clamp(r, e);
        if (e->since > r->now) {
            e->since = r->now;
            mended = 1;
        }
        log_info("destination still down domain=%s rounds=%u retry_in=%lds (queue/down)",
                 e->domain, e->rounds, (long)(e->until > r->now ? e->until - r->now : 0));
    }
    if (mended) {
        down_save(r);       /* what mailq shows is what queue-run does */
    }
}

/* The operator asks for now: each destination gets its try at once, one job first, so that a
   destination still down costs one attempt, not one per message. */
void sched_down_now(struct runner *r)
{
    size_t k;
    for (k = 0; k < r->ndown; k++) {
        r->down[k].until = r->down[k].until < r->now ? r->down[k].until : r->now;
    }
    if (r->ndown) {
        down_save(r);
    }
}

void sched_down_now_msg(struct runner *r, const struct msg *m)
{
    size_t i, k;
    int changed = 0;
    for (i = 0; m && i < m->e.nrcpt; i++) {
        unsigned char s = m->st.r[i].status;
        if (s != QS_PENDING && s != QS_DEFERRED) {
            continue;
        }
        k = qdown_find(r->down, r->ndown, rcpt_domain(m->e.rcpt[i]));
        if (k < r->ndown && r->down[k].until > r->now) {
            r->down[k].until = r->now;
            log_info("destination due now domain=%s (mailq retry id=%s)", r->down[k].domain,
                     m->id);
            changed = 1;
        }
    }
    if (changed) {
        down_save(r);
    }
}

/* A mark an hour past its time with no job of its domain running: no mail waited for it
   (what does, tries when the time comes, or waits while that try runs, and the try's end
   marks it again, renews or clears it), or, rarely, every remote slot was busy all along. Its
   mail was delivered, deleted, held or expired: forgotten, as a restart would. A try that
   runs longer than QDOWN_STALE keeps its mark. */
void sched_down_expire(struct runner *r)
{
    size_t k = 0, was = r->ndown;
    while (k < r->ndown) {
        if (r->down[k].until <= r->now - QDOWN_STALE && domain_jobs(r, r->down[k].domain) == 0) {
            r->down[k] = r->down[--r->ndown];
        } else {
            k++;
        }
    }
    if (r->ndown != was) {
        down_save(r);
    }
}

/* The text of a recipient that expired (past QUEUE_LIFETIME): prefix, then what it says of
   the last error why[0..len), into out (cap QUEUE_STATE_LINE_MAX); its length. */
static size_t expiry_text(const struct runner *r, const char *prefix, const char *why,
                          size_t len, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%smessage expired after %lu days in the queue; last error: "
                     "%.*s (#4.4.7)", prefix, (r->lifetime + 86399) / 86400,
                     (int)(len > 700 ? 700 : len), why);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Recipient i of m is for a destination that is down: it sleeps until `until` without a job
   and without a state line, unless the message is past QUEUE_LIFETIME: then it fails as
   expired with the mark's reason, marked as no try of its own (QUEUE_EXPIRED_DOWN). */
static void wait_down(struct runner *r, struct msg *m, size_t i, const struct qdown *e,
                      time_t until)
{
    if (r->now - m->e.arrival >= (time_t)r->lifetime) {
        char why[QDOWN_REASON_MAX], t[QUEUE_STATE_LINE_MAX];
        size_t n = qdown_reason(e, why, sizeof why);
        n = expiry_text(r, QUEUE_EXPIRED_DOWN, why, n, t, sizeof t);
        sched_record(r, m, i, 'F', t, n, 1);
        return;
    }
    m->next[i] = until;
}

/* Recipient i of m, due, is remote for domain d. */
static void start_remote_rcpt(struct runner *r, struct msg *m, size_t i, const char *d)
{
    struct qdown *e = r->ndown ? down_find(r, d) : NULL;
    if (e && e->until > r->now) {
        wait_down(r, m, i, e, e->until);
    } else if (e && domain_jobs(r, d) > 0) {
        /* its try runs: due, it waits in poll for that try's end (msg_next_due counts only
           times ahead), which marks the domain again (then this sleeps until the mark's new
           time, the next round's step), renews the mark or clears it (then this starts at
           once). It stays on the active list, in its place: once the destination answers, the
           mail of several destinations goes out in the order it came, not one destination's
           after another's, which would give one destination every remote slot and open new
           connections where the others' would have been reused. Past QUEUE_LIFETIME it
           expires with the mark's reason. */
        if (r->now - m->e.arrival >= (time_t)r->lifetime) {
            wait_down(r, m, i, e, e->until);
        }
    } else if (r->remote_busy < r->remote_conc
               && domain_jobs(r, d) < (e ? 1 : r->domain_conc)) {
        start_remote(r, m, d);      /* past its wait, one job finds out first */
    }
    /* else every slot is busy: due, it waits in poll for a job to end (msg_next_due) */
}

static void start_for_msg(struct runner *r, struct msg *m)
{
    /* every remote slot busy and no destination down: start_remote_rcpt would do nothing for
       a recipient known to be remote, so its domain is not looked up (a backlog of due mail
       is walked on each turn of the loop) */
    int no_remote_start = r->remote_busy >= r->remote_conc && r->ndown == 0;
    size_t i;
    for (i = 0; i < m->e.nrcpt && !m->gone; i++) {
        int local;
        if (!due(r, m, i) || (no_remote_start && m->where[i] == WHERE_REMOTE)) {
            continue;
        }
        local = msg_rcpt_local(r, m, i);
        if (local < 0) {
            static const char t[] = QUEUE_MAP_UNREADABLE;      /* no attempt: not a try */
            if (local == -2) {
                log_warn("unable to read the home of %s id=%s: %s", rcpt_domain(m->e.rcpt[i]),
                         m->id, fleethome_strerror(errno));
            } else {
                log_warn_sys("unable to read cdb/domains.cdb id=%s", m->id);
            }
            sched_record(r, m, i, 'Z', t, sizeof t - 1, 0);
        } else if (local == 2) {
            static const char t[] = QUEUE_MOVING;              /* no attempt: not a try */
            sched_record(r, m, i, 'Z', t, sizeof t - 1, 0);
        } else if (local) {
            /* a decision kept while the slots are busy may be stale when one frees (a move
               froze or switched the domain): deliver checks the home itself and defers */
            if (r->local_busy < r->local_conc) {
                start_local(r, m, i);
            }
        } else {
            start_remote_rcpt(r, m, i, rcpt_domain(m->e.rcpt[i]));
        }
    }
}

/* A clock stepped back while queue-run runs: each mark waits at most its round's step from
   now (as at start), and the mail parked on a mark that moved wakes to wait for its new time. */
static void down_clamp_all(struct runner *r)
{
    size_t k;
    int mended = 0;
    for (k = 0; k < r->ndown; k++) {
        if (down_clamp(r, &r->down[k])) {
            mended = 1;
            log_info("destination still down domain=%s rounds=%u retry_in=%lds (the clock went "
                     "back)", r->down[k].domain, r->down[k].rounds,
                     (long)(r->down[k].until - r->now));
            msg_wake_domain(r, r->down[k].domain);
        }
    }
    if (mended) {
        down_save(r);
    }
}

void sched_start_jobs(struct runner *r)
{
    struct msg *m, *nx;
    if (r->stopping) {
        return;
    }
    down_clamp_all(r);
    for (m = r->msgs; m; m = nx) {
        nx = m->link;
        if (r->local_busy >= r->local_conc && r->remote_busy >= r->remote_conc) {
            break;
        }
        start_for_msg(r, m);
    }
    for (m = r->msgs; m; m = nx) {
        nx = m->link;
        if (m->gone && !msg_busy(m)) {
            log_info("gone id=%s (held or removed by the operator)", m->id);
            msg_forget(r, m);
        }
    }
}

/* Drain the result pipe into j->text (non-blocking); closes it at EOF. Past the bound the
   rest is dropped: the lines we need come first. */
static void read_output(struct job *j)
{
    char tmp[4096];
    for (;;) {
        ssize_t n = read(j->out, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN) {
                close(j->out);
                j->out = -1;
            }
            return;
        }
        if (j->text.len < j->text.max) {
            size_t room = j->text.max - j->text.len;
            buf_append(&j->text, tmp, (size_t)n < room ? (size_t)n : room);
        }
    }
}

/* "exited with status 3" / "killed by signal 9" / "ended without a status" for an exit code
   from the socket (128+N: the loop reports signal N; -1: none came) */
static void describe_status(int code, char *out, size_t cap)
{
    if (code < 0) {
        snprintf(out, cap, "ended without a status");
    } else if (code > 128) {
        snprintf(out, cap, "killed by signal %d", code - 128);
    } else {
        snprintf(out, cap, "exited with status %d", code);
    }
}

/* The first line of s[0..n) from *pos; returns its length, sets *line. */
static size_t take_line(const char *s, size_t n, size_t *pos, const char **line)
{
    size_t start = *pos, end = start;
    while (end < n && s[end] != '\n') {
        end++;
    }
    *line = s + start;
    *pos = end < n ? end + 1 : n;
    while (end > start && s[end - 1] == '\r') {
        end--;
    }
    return end - start;
}

static void local_done(struct runner *r, struct job *j, int code)
{
    const char *line;
    size_t pos = 0, n = take_line(j->text.s ? j->text.s : "", j->text.len, &pos, &line);
    char why[128], text[256];

    if (code == 0) {
        sched_record(r, j->m, j->idx[0], 'D', n ? line : "delivered", n ? n : 9, 0);
        return;
    }
    if (code == 100 && n > 0) {
        sched_record(r, j->m, j->idx[0], 'F', line, n, 0);
        return;
    }
    if (n > 0 && code == 111) {
        sched_record(r, j->m, j->idx[0], 'Z', line, n, 0);
        return;
    }
    describe_status(code, why, sizeof why);
    snprintf(text, sizeof text, "local delivery %s%s%.*s (#4.3.0)", why, n ? ": " : "",
             (int)(n > 100 ? 100 : n), n ? line : "");
    sched_record(r, j->m, j->idx[0], 'Z', text, strlen(text), 0);
}

/* What one of remote's result lines ("D|F|Z text") says of the domain's servers. */
enum heard {
    HEARD_NONE,         /* none could be reached: a Z of our own ending in "(#4.4.1)"
                           (queue/remote.c keeps that for a run that reached no server) */
    HEARD_NOTHING,      /* a Z that tells nothing of them: DNS did not answer (4.4.3), a host
                           without an address (4.4.4), remote's own trouble (4.3.x) */
    HEARD_ANSWER        /* a server was reached: a D or F, a server's own reply ("HOST [IP]
                           said: 421 4.4.1 ...", which a server may well send), a connection
                           that broke once open */
};

static enum heard heard_of(const char *line, size_t n)
{
    static const char said[] = "] said: ";
    char st[12];
    if (line[0] == 'Z' && qdown_no_server(line + 2, n - 2)) {
        return HEARD_NONE;      /* the rule mailq reads a recipient's deferral by too */
    }
    if (line[0] != 'Z' || memmem(line, n, said, sizeof said - 1) || line[n - 1] != ')'
        || bounce_status(line + 2, n - 2, 1, st, sizeof st) == 0) {
        return HEARD_ANSWER;
    }
    if (strcmp(st, "4.4.3") == 0 || strcmp(st, "4.4.4") == 0 || strncmp(st, "4.3.", 4) == 0) {
        return HEARD_NOTHING;
    }
    return HEARD_ANSWER;
}

/* The results of a remote job, and what they say of its domain: every server silent (the
   domain is marked down), one reached (its mark goes), or nothing known (remote killed or
   without a line, DNS, local trouble: the mark of a try waits its round's step again). */
static void remote_done(struct runner *r, struct job *j, int code)
{
    const char *s = j->text.s ? j->text.s : "", *why_down = NULL, *told = NULL;
    size_t pos = 0, k, why_len = 0, told_len = 0;
    int down = j->nidx > 0, answered = 0;
    char why[128], text[256];
    describe_status(code, why, sizeof why);
    snprintf(text, sizeof text, "remote delivery %s without a result (#4.3.0)", why);
    for (k = 0; k < j->nidx; k++) {
        const char *line;
        size_t n = pos < j->text.len ? take_line(s, j->text.len, &pos, &line) : 0;
        if (n >= 2 && (line[0] == 'D' || line[0] == 'F' || line[0] == 'Z') && line[1] == ' ') {
            enum heard h = heard_of(line, n);
            if (h == HEARD_NONE) {
                why_down = line + 2;
                why_len = n - 2;
            } else {
                down = 0;
                answered |= h == HEARD_ANSWER;
                told = line + 2;
                told_len = n - 2;
            }
            sched_record(r, j->m, j->idx[k], line[0], line + 2, n - 2, 1);
        } else {
            down = 0;       /* remote itself failed: says nothing of the destination */
            told = text;
            told_len = strlen(text);
            sched_record(r, j->m, j->idx[k], 'Z', text, told_len, 1);
        }
    }
    if (down) {
        down_mark(r, j->domain, why_down, why_len);
    } else if (answered) {
        down_clear(r, j->domain);
    } else if (told) {
        down_renew(r, j->domain, told, told_len);
    }
}

/* The job's result is in (code: its exit code, -1 for none): recorded, the slot freed. The
   message's own fate (removal, bounce, warning) is notify.c's, on the next turn of the loop. */
static void job_finish(struct runner *r, struct job *j, int code)
{
    struct msg *m = j->m;
    size_t i;

    if (j->out >= 0) {
        read_output(j);     /* the child has ended: what it wrote is all in the pipe */
    }
    for (i = 0; i < j->nidx; i++) {
        j->m->busy[j->idx[i]] = 0;
    }
    if (j->kind == JOB_LOCAL) {
        r->local_busy--;
        local_done(r, j, code);
    } else {
        r->remote_busy--;
        remote_done(r, j, code);
    }
    job_clear(j);
    if (m->reload && !msg_busy(m)) {
        msg_reload(r, m);
    }
}

void sched_job_read(struct runner *r, struct job *j)
{
    int code = -1, k;

    if (j->sock < 0) {
        return;
    }
    if (j->out >= 0) {
        read_output(j);
    }
    k = ipcfd_status_read(j->sock, &j->answer, &code);
    if (k != 0) {
        job_finish(r, j, k > 0 ? code : -1);
    }
}

void sched_give_up_overdue(struct runner *r)
{
    size_t k;
    for (k = 0; k < r->njobs; k++) {
        struct job *j = &r->jobs[k];
        if (j->sock >= 0 && r->job_timeout && r->now - j->started > (time_t)r->job_timeout) {
            /* deliver and remote have their own alarms; we stop waiting (temporary) */
            log_warn("giving up on delivery id=%s after %lu seconds", j->m->id, r->job_timeout);
            job_finish(r, j, -1);
        }
    }
}

/* 1 when recipient i is the last open one and every other recipient is delivered (or failed
   and already bounced): a 'D' for i ends the message with nothing left to report. */
static int completes_quietly(const struct msg *m, size_t i)
{
    size_t k;
    for (k = 0; k < m->e.nrcpt; k++) {
        unsigned char s = m->st.r[k].status;
        if (k == i) {
            continue;
        }
        if (m->busy[k] || s == QS_PENDING || s == QS_DEFERRED
            || (s == QS_FAILED && !m->st.r[k].bounced)) {
            return 0;
        }
    }
    return 1;
}

/* Keep l back from state/ID in m->quiet (its text copied). 1 kept, 0 no memory: write it. */
static int keep_back(struct msg *m, const struct qline *l)
{
    char *t = malloc(l->text_len ? l->text_len : 1);
    if (!t) {
        return 0;
    }
    memcpy(t, l->text, l->text_len);
    free(m->quiet_text);
    m->quiet = *l;
    m->quiet.text = t;
    m->quiet_text = t;
    return 1;
}

/* Record one result: one O_APPEND write to state/ID (kept back for the 'D' that completes a
   message: completes_quietly), then the log line. A temporary failure
   past QUEUE_LIFETIME becomes permanent. */
void sched_record(struct runner *r, struct msg *m, size_t i, char status, const char *text,
                  size_t len, int remote)
{
    char expired[QUEUE_STATE_LINE_MAX];
    struct qline l;

    if (status == 'Z' && r->now - m->e.arrival >= (time_t)r->lifetime) {
        len = expiry_text(r, "", text, len, expired, sizeof expired);
        status = 'F';
        text = expired;
    }
    memset(&l, 0, sizeof l);
    l.kind = QL_RCPT;
    l.index = i;
    l.status = status;
    l.when = r->now;
    l.text = text;
    l.text_len = len;
    if (status == 'D' && completes_quietly(m, i) && keep_back(m, &l)) {
        /* The message is removed in the next pass (notify_check): a state line now would be
           one more file created and deleted per message. A crash in between only repeats this
           delivery, as a crash between the delivery and the line would; whatever reads the
           file again first gets the line (msg_quiet_write). */
    } else if (status == 'Z' && m->st.r[i].held && m->st.r[i].held == qline_why(&l)) {
        /* Another deferral that is no attempt (a map that cannot be read, a domain moving)
           after one for the same reason: the file says so already (a new reason is written:
           mailq and a notice tell the last one). Such a deferral keeps the recipient's step
           (the first, for mail not tried yet), so a line each time would add one a minute per
           recipient for as long as it lasts (0.6 MB per recipient over QUEUE_LIFETIME); after
           a restart the recipient is only due sooner. */
    } else if (msg_append(r, m, &l) < 0) {
        /* the result lives on in memory; a restart would only repeat this delivery */
        log_warn_sys("unable to append to state/%s", m->id);
    }
    qstate_apply(&m->st, &l);
    m->where[i] = WHERE_UNKNOWN;     /* the maps may change before the next try */
    if (status == 'Z') {
        m->next[i] = r->now + msg_backoff(r, m->st.r[i].tries);
        log_info("deferred id=%s to=<%s> reason=%.*s", m->id, m->e.rcpt[i], (int)len, text);
    } else if (status == 'F') {
        log_info("bounced id=%s to=<%s> reason=%.*s", m->id, m->e.rcpt[i], (int)len, text);
    } else {
        log_info("delivered id=%s to=<%s> how=%s", m->id, m->e.rcpt[i],
                 remote ? "remote" : "local");
    }
}

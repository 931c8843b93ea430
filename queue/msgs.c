/* msgs.c: queue-run's message table: messages loaded from mess/ and state/, per-recipient
   timing and whereabouts (docs/queue.md "queue-run"). No jobs, no notices. */
#include "sched.h"
#include "acct.h"
#include "fleethome.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the index by id: every load (a new message's trigger, each file of a scan) asks it ---- */

#define IDX_START 1024

static size_t idx_slot(const struct runner *r, const char *id)
{
    return (size_t)str_fnv64(id, strlen(id)) & (r->idxcap - 1);
}

int msg_index_init(struct runner *r)
{
    r->idx = calloc(IDX_START, sizeof *r->idx);
    r->idxcap = IDX_START;
    return r->idx ? 0 : -1;
}

/* Twice the buckets once there are as many messages; without memory the chains grow. */
static void idx_grow(struct runner *r)
{
    size_t cap = r->idxcap * 2, k, old = r->idxcap;
    struct msg **t = calloc(cap, sizeof *t), **was = r->idx;
    if (!t) {
        return;
    }
    r->idx = t;
    r->idxcap = cap;
    for (k = 0; k < old; k++) {
        struct msg *m = was[k], *nx;
        for (; m; m = nx) {
            size_t h = idx_slot(r, m->id);
            nx = m->inext;
            m->inext = t[h];
            t[h] = m;
        }
    }
    free(was);
}

static void idx_add(struct runner *r, struct msg *m)
{
    size_t h;
    if (r->nmsgs >= r->idxcap) {
        idx_grow(r);
    }
    h = idx_slot(r, m->id);
    m->inext = r->idx[h];
    r->idx[h] = m;
}

static void idx_del(struct runner *r, const struct msg *m)
{
    struct msg **p;
    for (p = &r->idx[idx_slot(r, m->id)]; *p; p = &(*p)->inext) {
        if (*p == m) {
            *p = m->inext;
            return;
        }
    }
}

struct msg *msg_find(struct runner *r, const char *id)
{
    struct msg *m;
    for (m = r->idx[idx_slot(r, id)]; m; m = m->inext) {
        if (strcmp(m->id, id) == 0) {
            return m;
        }
    }
    return NULL;
}

time_t msg_backoff(const struct runner *r, unsigned tries)
{
    return qbackoff_step(&r->backoff, tries);
}

static void msg_free(struct msg *m)
{
    qenv_free(&m->e);
    qstate_free(&m->st);
    free(m->busy);
    free(m->where);
    free(m->next);
    free(m->quiet_text);
    free(m);
}

/* Cut *p (after prev, NULL at the head) out of the active list, r->last kept; returns it. */
static struct msg *cut_active(struct runner *r, struct msg **p, struct msg *prev)
{
    struct msg *m = *p;
    *p = m->link;
    if (r->last == m) {
        r->last = prev;
    }
    m->link = NULL;
    return m;
}

/* Take m out of the active list. 1 if it was there. */
static int unlink_active(struct runner *r, struct msg *m)
{
    struct msg **p, *prev = NULL;
    for (p = &r->msgs; *p; prev = *p, p = &(*p)->link) {
        if (*p == m) {
            cut_active(r, p, prev);
            return 1;
        }
    }
    return 0;
}

static void append_active(struct runner *r, struct msg *m)
{
    m->link = NULL;
    if (r->last) {
        r->last->link = m;
    } else {
        r->msgs = m;
    }
    r->last = m;
}

void msg_forget(struct runner *r, struct msg *m)
{
    struct msg **p;
    if (!unlink_active(r, m)) {
        for (p = &r->asleep; *p && *p != m; p = &(*p)->link) {
        }
        if (!*p) {
            return;
        }
        *p = m->link;
    }
    idx_del(r, m);
    r->nmsgs--;
    msg_free(m);
}

/* The header of mess/ID (fd) and state/ID replayed into m; the per-recipient arrays. 0 ok,
   -1 (logged when the files are bad). */
static int msg_read(struct runner *r, struct msg *m, int fd)
{
    char path[YUBIN_PATH_MAX];

    qenv_init(&m->e);
    if (qfile_read_header(fd, &m->e, &m->body) < 0) {
        log_warn_sys("unable to read the header of id=%s (left in mess/)", m->id);
        return -1;
    }
    if (qfile_path(path, sizeof path, r->root, QDIR_STATE, m->id) < 0
        || qstate_load(path, m->e.nrcpt, &m->st) < 0) {
        log_warn_sys("unable to read state/%s", m->id);
        return -1;
    }
    m->busy = calloc(m->e.nrcpt, 1);
    m->where = calloc(m->e.nrcpt, 1);
    m->next = calloc(m->e.nrcpt, sizeof *m->next);
    return m->busy && m->where && m->next ? 0 : -1;
}

static time_t own_next(const struct runner *r, const struct msg *m, size_t i);

/* Load mess/ID and replay state/ID. A recipient's next try follows its Z lines. */
int msg_load(struct runner *r, const char *id)
{
    char path[YUBIN_PATH_MAX];
    struct msg *m;
    size_t i;
    int fd, rc;

    if (!qid_ok(id) || msg_find(r, id)) {
        return 0;
    }
    if (qfile_path(path, sizeof path, r->root, QDIR_MESS, id) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    m = calloc(1, sizeof *m);
    if (m) {
        snprintf(m->id, sizeof m->id, "%s", id);
    }
    rc = m ? msg_read(r, m, fd) : -1;
    close(fd);
    /* an H line stays in the state after mailq release: a file in mess/ is not held */
    if (rc < 0) {
        if (m) {
            msg_free(m);
        }
        return rc < 0 ? -1 : 0;
    }
    /* a recipient last tried before the last flush is due now (own_next), as mailq shows */
    m->flushed = r->flushed;
    for (i = 0; i < m->e.nrcpt; i++) {
        m->next[i] = own_next(r, m, i);
    }
    append_active(r, m);
    idx_add(r, m);
    r->nmsgs++;
    return 1;
}

const char *rcpt_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "";
}

/* Local: a domain of ours whose mailboxes are on this node. A fleet domain homed on another
   node is a remote job to that node's internal port (remote finds the route in homes.cdb);
   one homed here but frozen (a move's last pass) is held in the queue. */
int rcpt_is_local(struct runner *r, const char *addr)
{
    const char *at = strrchr(addr, '@');
    struct domain d;
    struct fleethome h;
    int found;
    if (!at) {
        return 1;
    }
    found = acct_domain(r->root, at + 1, &d);
    if (found != 1) {
        return found < 0 ? -1 : 0;
    }
    if (fleethome_get(r->root, at + 1, &h) < 0) {
        return -2;
    }
    return h.here && h.state == FLEETHOME_FROZEN ? 2 : h.here;
}

int msg_rcpt_local(struct runner *r, struct msg *m, size_t i)
{
    if (m->where[i] == WHERE_UNKNOWN) {
        int local = rcpt_is_local(r, m->e.rcpt[i]);
        if (local < 0) {
            return local;   /* never guess: a local domain sent out would loop back */
        }
        m->where[i] = local == 2 ? WHERE_HELD : local ? WHERE_LOCAL : WHERE_REMOTE;
    }
    return m->where[i] == WHERE_HELD ? 2 : m->where[i] == WHERE_LOCAL;
}

int msg_append(struct runner *r, struct msg *m, const struct qline *l)
{
    char path[YUBIN_PATH_MAX];
    int fd, rc, e;

    if (qfile_path(path, sizeof path, r->root, QDIR_STATE, m->id) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = qstate_open(path);
    if (fd < 0) {
        return -1;
    }
    rc = qstate_append(fd, l);
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

int msg_quiet_write(struct runner *r, struct msg *m)
{
    if (!m->quiet_text) {
        return 0;
    }
    if (msg_append(r, m, &m->quiet) < 0) {
        log_warn_sys("unable to append to state/%s", m->id);
        return -1;
    }
    free(m->quiet_text);
    m->quiet_text = NULL;
    return 0;
}

void msg_quiet_write_all(struct runner *r)
{
    struct msg *m;
    for (m = r->msgs; m; m = m->link) {
        msg_quiet_write(r, m);
    }
    for (m = r->asleep; m; m = m->link) {
        msg_quiet_write(r, m);
    }
}

void msg_reload(struct runner *r, struct msg *m)
{
    char id[QID_BUF];

    if (msg_busy(m)) {
        m->reload = 1;
        return;
    }
    /* Without the D line kept back, the file read again would say the recipient is still to
       do, or failed by a mailq delete written meanwhile: a second delivery or a false bounce.
       When it cannot be written the table stays: every recipient is done, nothing mailq wrote
       can change that. */
    if (msg_quiet_write(r, m) < 0) {
        m->reload = 0;
        return;
    }
    snprintf(id, sizeof id, "%s", m->id);
    msg_forget(r, m);
    msg_retry(r, id);
}

void msg_retry(struct runner *r, const char *id)
{
    struct msg *m = msg_find(r, id);
    if (m) {
        msg_reload(r, m);
    } else if (msg_load(r, id) < 0) {
        log_warn_sys("unable to load id=%s", id);
    } else if ((m = msg_find(r, id)) != NULL) {
        msg_flush(r, m);    /* loaded from its files (e.g. released after we let it go) */
    }
}

int msg_busy(const struct msg *m)
{
    size_t i;
    for (i = 0; i < m->e.nrcpt; i++) {
        if (m->busy[i]) {
            return 1;
        }
    }
    return 0;
}

/* t when it is after now and before best (0: none yet), else best */
static time_t sooner(const struct runner *r, time_t t, time_t best)
{
    return t > r->now && (!best || t < best) ? t : best;
}

time_t msg_next_due(const struct runner *r)
{
    struct msg *m;
    time_t best = 0;
    for (m = r->msgs; m; m = m->link) {
        size_t i;
        best = sooner(r, m->retry_at, best);
        for (i = 0; i < m->e.nrcpt; i++) {
            unsigned char s = m->st.r[i].status;
            if (!m->busy[i] && (s == QS_PENDING || s == QS_DEFERRED)) {
                best = sooner(r, m->next[i], best);
            }
        }
    }
    /* msg_wake_due took every sleeper whose time came: the earliest left is ahead */
    if (r->asleep && (!best || r->asleep_min < best)) {
        best = r->asleep_min;
    }
    return best;
}

/* What brings a sleeper back (wake): every one, one message, or each whose time came. */
struct wake_which {
    int all;
    const struct msg *only;
};

/* Sleeping messages back at the end of the active list, each that want says (ctx its
   argument); r->asleep_min becomes the earliest wake of those left. */
static void wake(struct runner *r, int (*want)(struct runner *, struct msg *, const void *),
                 const void *ctx)
{
    struct msg **p = &r->asleep;
    time_t min = 0;
    while (*p) {
        struct msg *m = *p;
        if (want(r, m, ctx)) {
            *p = m->link;
            append_active(r, m);
        } else {
            min = !min || m->wake < min ? m->wake : min;
            p = &m->link;
        }
    }
    r->asleep_min = min;
}

static int want_which(struct runner *r, struct msg *m, const void *ctx)
{
    const struct wake_which *w = ctx;
    return w->all || m == w->only || m->wake <= r->now;
}

void msg_flush(struct runner *r, struct msg *only)
{
    struct wake_which w = {only == NULL, only};
    struct msg *m;
    wake(r, want_which, &w);
    r->sign_retry_at = 0;           /* the operator asks for now: the signer too */
    for (m = r->msgs; m; m = m->link) {
        size_t i;
        if (only && m != only) {
            continue;
        }
        for (i = 0; i < m->e.nrcpt; i++) {
            m->next[i] = 0;
        }
        m->flushed = r->now;
        m->retry_at = m->retry_at ? r->now : 0;
    }
}

/* 1 if maybe_warn (notify.c) would warn about m now that its time has come. */
static int warning_owed(const struct runner *r, const struct msg *m)
{
    size_t i;
    for (i = 0; i < m->e.nrcpt; i++) {
        if (msg_rcpt_delayed(r, m, i)) {
            return 1;
        }
    }
    return 0;
}

/* When m next needs queue-run if nothing else happens to it; 0 when that is now (a job holds
   it, a recipient is due, it is gone, it has no open recipient left: a notice or its
   removal is to come). */
static time_t msg_wake(const struct runner *r, const struct msg *m)
{
    time_t w = 0;
    size_t i, open_ = 0;

    if (m->gone || (m->retry_at && m->retry_at <= r->now)) {
        return 0;
    }
    w = m->retry_at;
    for (i = 0; i < m->e.nrcpt; i++) {
        unsigned char s = m->st.r[i].status;
        if (m->busy[i]) {
            return 0;
        }
        if (s == QS_PENDING || s == QS_DEFERRED) {
            if (m->next[i] <= r->now) {
                return 0;
            }
            open_++;
            w = !w || m->next[i] < w ? m->next[i] : w;
        }
    }
    if (open_ == 0) {
        return 0;
    }
    if (r->warn && !m->st.warned) {     /* notify.c maybe_warn: the delay warning's time */
        time_t at = m->e.arrival + (time_t)r->warn;
        if (at > r->now) {
            w = at < w ? at : w;
        } else if (!m->retry_at && warning_owed(r, m)) {
            return 0;
        }
        /* else: none owed yet (every open recipient pending, none waiting for a destination
           down); a try that defers one makes the message active, and notify.c warns then */
    }
    return w;
}

void msg_sleep_idle(struct runner *r)
{
    struct msg **p = &r->msgs, *prev = NULL;
    while (*p) {
        struct msg *m = *p;
        time_t w = msg_wake(r, m);
        if (w == 0) {
            prev = m;
            p = &m->link;
            continue;
        }
        cut_active(r, p, prev);
        m->wake = w;
        m->link = r->asleep;
        if (!r->asleep || w < r->asleep_min) {
            r->asleep_min = w;
        }
        r->asleep = m;
    }
}

void msg_wake_due(struct runner *r)
{
    struct wake_which w = {0, NULL};
    if (r->asleep && r->asleep_min <= r->now) {
        wake(r, want_which, &w);
    }
}

const struct qdown *msg_rcpt_down(const struct runner *r, const struct msg *m, size_t i)
{
    unsigned char s = m->st.r[i].status;
    size_t k;
    if (r->ndown == 0 || (s != QS_PENDING && s != QS_DEFERRED)) {
        return NULL;
    }
    k = qdown_find(r->down, r->ndown, rcpt_domain(m->e.rcpt[i]));
    return k < r->ndown ? &r->down[k] : NULL;
}

int msg_rcpt_delayed(const struct runner *r, const struct msg *m, size_t i)
{
    unsigned char s = m->st.r[i].status;
    return s == QS_DEFERRED || (s == QS_PENDING && msg_rcpt_down(r, m, i) != NULL);
}

/* Recipient i's own next try: the last Z line's time plus its step (0 when never tried, or
   last tried before a `mailq flush` of the message: the operator asked for now, and a wait
   for its destination's try must not give that back). */
static time_t own_next(const struct runner *r, const struct msg *m, size_t i)
{
    const struct qrcpt_state *s = &m->st.r[i];
    return s->status == QS_DEFERRED && s->last > m->flushed ? s->last + msg_backoff(r, s->tries)
                                                             : 0;
}

/* m's open recipients of domain that wait later than their own next try (for its mark) back
   on their own schedule. 1 if one was. */
static int unpark(struct runner *r, struct msg *m, const void *domain)
{
    size_t i;
    int any = 0;
    for (i = 0; i < m->e.nrcpt; i++) {
        unsigned char s = m->st.r[i].status;
        time_t own;
        if (m->busy[i] || (s != QS_PENDING && s != QS_DEFERRED) || m->next[i] <= r->now
            || strcasecmp(rcpt_domain(m->e.rcpt[i]), domain) != 0) {
            continue;
        }
        own = own_next(r, m, i);
        if (own < m->next[i]) {
            m->next[i] = own;
            any = 1;
        }
    }
    return any;
}

void msg_wake_domain(struct runner *r, const char *domain)
{
    struct msg *m;
    for (m = r->msgs; m; m = m->link) {
        unpark(r, m, domain);
    }
    wake(r, unpark, domain);
}

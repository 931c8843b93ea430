/* msgs.c: queue-run's message table: messages loaded from mess/ and state/, per-recipient
   timing and whereabouts (docs/queue.md "queue-run"). No jobs, no notices. */
#include "sched.h"
#include "acct.h"
#include "fleethome.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct msg *msg_find(struct runner *r, const char *id)
{
    struct msg *m;
    for (m = r->msgs; m; m = m->link) {
        if (strcmp(m->id, id) == 0) {
            return m;
        }
    }
    return NULL;
}

time_t msg_backoff(const struct runner *r, unsigned tries)
{
    size_t k = tries == 0 ? 0 : tries - 1;
    if (k >= r->nbackoff) {
        k = r->nbackoff - 1;
    }
    return (time_t)r->backoff[k];
}

static void msg_free(struct msg *m)
{
    qenv_free(&m->e);
    qstate_free(&m->st);
    free(m->busy);
    free(m->where);
    free(m->next);
    free(m);
}

void msg_forget(struct runner *r, struct msg *m)
{
    struct msg **p, *prev = NULL;
    for (p = &r->msgs; *p; prev = *p, p = &(*p)->link) {
        if (*p == m) {
            *p = m->link;
            if (r->last == m) {
                r->last = prev;
            }
            r->nmsgs--;
            msg_free(m);
            return;
        }
    }
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
    if (rc < 0 || m->st.held) {
        if (m) {
            msg_free(m);
        }
        return rc < 0 ? -1 : 0;
    }
    for (i = 0; i < m->e.nrcpt; i++) {
        if (m->st.r[i].status == QS_DEFERRED) {
            m->next[i] = m->st.r[i].last + msg_backoff(r, m->st.r[i].tries);
        }
    }
    if (r->last) {
        r->last->link = m;
    } else {
        r->msgs = m;
    }
    r->last = m;
    r->nmsgs++;
    return 1;
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
        return -1;
    }
    return h.here && h.state == FLEETHOME_FROZEN ? 2 : h.here;
}

int msg_rcpt_local(struct runner *r, struct msg *m, size_t i)
{
    if (m->where[i] == WHERE_UNKNOWN) {
        int local = rcpt_is_local(r, m->e.rcpt[i]);
        if (local < 0) {
            return -1;      /* never guess: a local domain sent out would loop back */
        }
        m->where[i] = local == 2 ? WHERE_HELD : local ? WHERE_LOCAL : WHERE_REMOTE;
    }
    return m->where[i] == WHERE_HELD ? 2 : m->where[i] == WHERE_LOCAL;
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

time_t msg_next_due(const struct runner *r)
{
    struct msg *m;
    time_t best = 0;
    for (m = r->msgs; m; m = m->link) {
        size_t i;
        if (m->retry_at && (!best || m->retry_at < best)) {
            best = m->retry_at;
        }
        for (i = 0; i < m->e.nrcpt; i++) {
            unsigned char s = m->st.r[i].status;
            if (!m->busy[i] && (s == QS_PENDING || s == QS_DEFERRED)
                && (!best || m->next[i] < best)) {
                best = m->next[i];
            }
        }
    }
    return best;
}

void msg_flush(struct runner *r, struct msg *only)
{
    struct msg *m;
    for (m = r->msgs; m; m = m->link) {
        size_t i;
        if (only && m != only) {
            continue;
        }
        for (i = 0; i < m->e.nrcpt; i++) {
            m->next[i] = 0;
        }
        m->retry_at = m->retry_at ? r->now : 0;
    }
}

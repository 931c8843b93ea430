/* qfile.c: the queue's files: message header, envelope, IDs, state log, trigger, commit */
#include "qfile.h"
#include "envelope.h"
#include "qdown.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void qenv_init(struct qenv *e)
{
    memset(e, 0, sizeof *e);
}

void qenv_free(struct qenv *e)
{
    free(e->rcpt);
    free(e->pool);
    qenv_init(e);
}

static void qenv_reset(struct qenv *e)
{
    e->arrival = 0;
    e->sender[0] = '\0';
    e->nrcpt = 0;
    e->pool_len = 0;
}

int qaddr_ok(const char *s, size_t n)
{
    return envelope_addr_ok(s, n);
}

int qenv_set_sender(struct qenv *e, const char *addr, size_t n)
{
    if (n > ADDR_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!qaddr_ok(addr, n)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(e->sender, addr, n);
    e->sender[n] = '\0';
    return 0;
}

/* The pool moves when it grows, so rcpt[] holds offsets until the end of a change. */
static void qenv_repoint(struct qenv *e)
{
    size_t i, off = 0;
    for (i = 0; i < e->nrcpt; i++) {
        e->rcpt[i] = e->pool + off;
        off += strlen(e->pool + off) + 1;
    }
}

int qenv_add_rcpt(struct qenv *e, const char *addr, size_t n)
{
    if (n > ADDR_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (n == 0 || !qaddr_ok(addr, n)) {
        errno = EINVAL;
        return -1;
    }
    if (e->nrcpt >= SMTP_RCPT_MAX) {
        errno = E2BIG;
        return -1;
    }
    if (e->nrcpt == e->rcpt_cap) {
        size_t cap = e->rcpt_cap ? e->rcpt_cap * 2 : 8;
        char **r;
        if (cap > SMTP_RCPT_MAX) {
            cap = SMTP_RCPT_MAX;
        }
        r = realloc(e->rcpt, cap * sizeof *r);
        if (!r) {
            return -1;
        }
        e->rcpt = r;
        e->rcpt_cap = cap;
    }
    if (e->pool_cap - e->pool_len < n + 1) {
        size_t cap = e->pool_cap ? e->pool_cap * 2 : 256;
        char *p;
        while (cap - e->pool_len < n + 1) {
            cap *= 2;
        }
        p = realloc(e->pool, cap);
        if (!p) {
            return -1;
        }
        e->pool = p;
        e->pool_cap = cap;
    }
    memcpy(e->pool + e->pool_len, addr, n);
    e->pool[e->pool_len + n] = '\0';
    e->pool_len += n + 1;
    e->nrcpt++;
    qenv_repoint(e);
    return 0;
}

static int envelope_addr(void *ctx, char kind, const char *a, size_t n)
{
    struct qenv *e = ctx;
    if (kind == 'A') {
        return 0;               /* the signing account: queue-inject's, not the queue file's */
    }
    return kind == 'F' ? qenv_set_sender(e, a, n) : qenv_add_rcpt(e, a, n);
}

int qenv_parse_envelope(const char *p, size_t n, struct qenv *e, size_t *used)
{
    qenv_reset(e);
    return envelope_decode(p, n, envelope_addr, e, used);
}

/* The next line of p[0..n) from *pos: sets *line and *len (without "\n"); 0 ok, -1 none. */
static int next_line(const char *p, size_t n, size_t *pos, const char **line, size_t *len)
{
    const char *nl;
    if (*pos >= n) {
        return -1;
    }
    nl = memchr(p + *pos, '\n', n - *pos);
    if (!nl) {
        return -1;
    }
    *line = p + *pos;
    *len = (size_t)(nl - *line);
    *pos += *len + 1;
    return 0;
}

int qfile_parse_time(const char *s, size_t n, time_t *t)
{
    uint64_t v;
    if (n == 0 || n > 20 || str_to_u64(s, n, &v) < 0 || v > (uint64_t)INT64_MAX) {
        return -1;
    }
    *t = (time_t)v;
    return (uint64_t)*t == v ? 0 : -1;
}

int qenv_parse_header(const char *p, size_t n, struct qenv *e, size_t *body)
{
    size_t pos = 0, len;
    const char *line;
    int seen_t = 0, seen_f = 0;

    qenv_reset(e);
    if (next_line(p, n, &pos, &line, &len) < 0) {
        errno = n >= 3 ? EINVAL : ENODATA;
        return -1;
    }
    if (len != 2 || memcmp(line, QFILE_VERSION, 2) != 0) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        if (next_line(p, n, &pos, &line, &len) < 0) {
            errno = ENODATA;
            return -1;
        }
        if (len == 0) {
            break;
        }
        if (line[0] == 'T' && !seen_t && !seen_f) {
            if (qfile_parse_time(line + 1, len - 1, &e->arrival) < 0) {
                errno = EINVAL;
                return -1;
            }
            seen_t = 1;
        } else if (line[0] == 'F' && seen_t && !seen_f) {
            if (qenv_set_sender(e, line + 1, len - 1) < 0) {
                errno = EINVAL;
                return -1;
            }
            seen_f = 1;
        } else if (line[0] == 'R' && seen_f) {
            if (qenv_add_rcpt(e, line + 1, len - 1) < 0) {
                if (errno != ENOMEM) {
                    errno = EINVAL;
                }
                return -1;
            }
        } else {
            errno = EINVAL;
            return -1;
        }
    }
    if (!seen_f || e->nrcpt == 0) {
        errno = EINVAL;
        return -1;
    }
    *body = pos;
    return 0;
}

int qenv_format_header(const struct qenv *e, char **out, size_t *outlen)
{
    size_t cap = 3 + 22 + ADDR_MAX + 3 + 1, i, n;
    char *s;
    int r;

    if (!qaddr_ok(e->sender, strlen(e->sender)) || e->nrcpt == 0) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < e->nrcpt; i++) {
        size_t len = strlen(e->rcpt[i]);
        if (len == 0 || !qaddr_ok(e->rcpt[i], len)) {
            errno = EINVAL;
            return -1;
        }
        cap += len + 2;
    }
    s = malloc(cap);
    if (!s) {
        return -1;
    }
    r = snprintf(s, cap, "%s\nT%" PRId64 "\nF%s\n", QFILE_VERSION, (int64_t)e->arrival,
                 e->sender);
    if (r < 0 || (size_t)r >= cap) {
        free(s);
        errno = EINVAL;
        return -1;
    }
    n = (size_t)r;
    for (i = 0; i < e->nrcpt; i++) {
        size_t len = strlen(e->rcpt[i]);
        s[n++] = 'R';
        memcpy(s + n, e->rcpt[i], len);
        n += len;
        s[n++] = '\n';
    }
    s[n++] = '\n';
    *out = s;
    *outlen = n;
    return 0;
}

int qfile_read_header(int fd, struct qenv *e, off_t *body)
{
    size_t cap = 4096, got = 0, off = 0;
    char *p = malloc(cap);

    if (!p) {
        return -1;
    }
    for (;;) {
        ssize_t r;
        if (got == cap) {
            char *np;
            if (cap >= QFILE_HEADER_MAX) {
                errno = EINVAL;
                goto fail;
            }
            cap = cap * 4 > QFILE_HEADER_MAX ? QFILE_HEADER_MAX : cap * 4;
            np = realloc(p, cap);
            if (!np) {
                goto fail;
            }
            p = np;
        }
        r = pread(fd, p + got, cap - got, (off_t)got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            goto fail;
        }
        got += (size_t)r;
        if (qenv_parse_header(p, got, e, &off) == 0) {
            break;
        }
        if (errno != ENODATA) {
            goto fail;
        }
        if (r == 0) {
            errno = EINVAL;
            goto fail;
        }
    }
    free(p);
    if (lseek(fd, (off_t)off, SEEK_SET) < 0) {
        return -1;
    }
    *body = (off_t)off;
    return 0;
fail:
    {
        int err = errno;
        free(p);
        errno = err;
    }
    return -1;
}

void qid_make(time_t sec, long usec, uint64_t ino, char out[QID_BUF])
{
    snprintf(out, QID_BUF, "%08lx%05lx%03lx", (unsigned long)((uint64_t)sec & 0xffffffffUL),
             (unsigned long)usec & 0xfffffUL, (unsigned long)(ino & 0xfffUL));
}

int qid_ok(const char *s)
{
    size_t i;
    for (i = 0; i < QUEUE_ID_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return s[QUEUE_ID_LEN] == '\0';
}

int qfile_path(char *out, size_t cap, const char *root, const char *dir, const char *id)
{
    if (id) {
        return str_fmt(out, cap, "%s/queue/%s/%s", root, dir, id);
    }
    return str_fmt(out, cap, "%s/queue/%s", root, dir);
}

/* ---- state log ---- */

/* "<index> <D|F|Z> <time> <text>", "B <time>", "H <time>", "W <time>" */
int qstate_parse_line(const char *p, size_t n, struct qline *l)
{
    size_t i = 0, start;
    uint64_t v;

    memset(l, 0, sizeof *l);
    if (n >= 3 && (p[0] == 'B' || p[0] == 'H' || p[0] == 'W') && p[1] == ' ') {
        l->kind = p[0] == 'B' ? QL_BOUNCE : p[0] == 'H' ? QL_HELD : QL_WARNED;
        return qfile_parse_time(p + 2, n - 2, &l->when);
    }
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
    }
    if (i == 0 || i > 5 || str_to_u64(p, i, &v) < 0) {
        return -1;
    }
    if (i + 3 > n || p[i] != ' ' || p[i + 2] != ' ') {
        return -1;
    }
    l->kind = QL_RCPT;
    l->index = (size_t)v;
    l->status = p[i + 1];
    if (l->status != 'D' && l->status != 'F' && l->status != 'Z') {
        return -1;
    }
    i += 3;
    start = i;
    while (i < n && p[i] != ' ') {
        i++;
    }
    if (qfile_parse_time(p + start, i - start, &l->when) < 0) {
        return -1;
    }
    if (i < n) {
        i++;
    }
    l->text = p + i;
    l->text_len = n - i;
    if (memchr(l->text, '\0', l->text_len)) {
        return -1;
    }
    return 0;
}

/* 1 if text[0..n) starts with the string p */
static int starts(const char *text, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(text, p, k) == 0;
}

int qline_why(const struct qline *l)
{
    /* in the order of enum qline_why, from QW_MAP_UNREADABLE */
    static const char *const why[] = {QUEUE_MAP_UNREADABLE, QUEUE_MOVING, QUEUE_HOME_UNREADABLE,
                                      QUEUE_HOMED_ELSEWHERE, QUEUE_UNREACHABLE_LOCAL,
                                      QUEUE_UNREACHABLE_REMOTE};
    static const char expired[] = "message expired after ", last[] = "; last error: ";
    const char *t = l->text, *e;
    size_t n = l->text_len, k;
    if (l->kind != QL_RCPT) {
        return QW_NOT_RCPT;
    }
    if (starts(t, n, QUEUE_EXPIRED_DOWN)) {
        return QW_EXPIRED_DOWN;
    }
    if (starts(t, n, QUEUE_DELETED)) {
        return QW_DELETED;
    }
    /* sched.c expiry_text: the reason the recipient expired with follows "; last error: " */
    if (starts(t, n, expired) && (e = memmem(t, n, last, sizeof last - 1)) != NULL) {
        n -= (size_t)(e + sizeof last - 1 - t);
        t = e + sizeof last - 1;
    }
    for (k = 0; k < sizeof why / sizeof why[0]; k++) {
        if (starts(t, n, why[k])) {
            return QW_MAP_UNREADABLE + (int)k;
        }
    }
    return QW_ATTEMPT;
}

int qline_attempt(const struct qline *l)
{
    return qline_why(l) == QW_ATTEMPT;
}

void qstate_apply(struct qstate *s, const struct qline *l)
{
    size_t i;
    int why, attempt;
    switch (l->kind) {
    case QL_RCPT:
        /* A D line is final: the F of a mailq delete that read the file before it (a race
           with the delivery) must not bounce a delivered recipient; queue-run itself writes
           nothing for a recipient after its D. */
        if (l->index >= s->nrcpt || s->r[l->index].status == QS_DONE) {
            return;
        }
        s->r[l->index].last = l->when;
        s->r[l->index].bounced = 0;
        why = qline_why(l);         /* once: it compares the text with each reason */
        attempt = why == QW_ATTEMPT;
        if (attempt) {
            s->r[l->index].tried = l->when;
        }
        s->r[l->index].held = l->status == 'Z' && !attempt ? (unsigned char)why : 0;
        if (l->status == 'D') {
            s->r[l->index].status = QS_DONE;
        } else if (l->status == 'F') {
            s->r[l->index].status = QS_FAILED;
        } else {
            s->r[l->index].status = QS_DEFERRED;
            s->r[l->index].tries += (unsigned)attempt;
        }
        break;
    case QL_BOUNCE:
        s->bounce_time = l->when;
        for (i = 0; i < s->nrcpt; i++) {
            if (s->r[i].status == QS_FAILED) {
                s->r[i].bounced = 1;
            }
        }
        break;
    case QL_HELD:
        break;      /* history only: whether a message is held is where its file is (hold/) */
    case QL_WARNED:
        s->warned = 1;
        break;
    }
}

/* Hand the complete lines of buf[0..have) from *pos to cb (qstate_replay's rules; *drop: the
   first is the tail of an over-long line). 1 when cb asked to stop, else 0. */
static int replay_lines(const char *buf, size_t have, size_t *pos, int *drop, size_t nrcpt,
                        int (*cb)(void *ctx, const struct qline *l), void *ctx, size_t *skip)
{
    for (;;) {
        const char *nl = memchr(buf + *pos, '\n', have - *pos);
        size_t len;
        struct qline l;
        if (!nl) {
            return 0;
        }
        len = (size_t)(nl - (buf + *pos));
        if (*drop || len >= QUEUE_STATE_LINE_MAX || qstate_parse_line(buf + *pos, len, &l) < 0
            || (l.kind == QL_RCPT && l.index >= nrcpt)) {
            (*skip)++;
        } else if (cb(ctx, &l) < 0) {
            return 1;
        }
        *drop = 0;
        *pos += len + 1;
    }
}

int qstate_replay(const char *path, size_t nrcpt, int (*cb)(void *ctx, const struct qline *l),
                  void *ctx, size_t *skipped)
{
    char buf[QUEUE_STATE_LINE_MAX * 4];
    size_t have = 0, skip = 0;
    int drop = 0;   /* inside an over-long line: discard to its end */
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT) {
            if (skipped) {
                *skipped = 0;
            }
            return 0;
        }
        return -1;
    }
    for (;;) {
        ssize_t r = fd_read(fd, buf + have, sizeof buf - have);
        size_t pos = 0;
        if (r < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0) {
            if (have > 0) {
                skip++;     /* a last line without "\n" is torn: ignore it */
            }
            break;
        }
        have += (size_t)r;
        if (replay_lines(buf, have, &pos, &drop, nrcpt, cb, ctx, &skip)) {
            break;      /* cb asked to stop */
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (have == sizeof buf) {
            drop = 1;
            have = 0;
        }
    }
    close(fd);
    if (skipped) {
        *skipped = skip;
    }
    return 0;
}

static int qstate_cb(void *ctx, const struct qline *l)
{
    qstate_apply(ctx, l);
    return 0;
}

int qstate_load(const char *path, size_t nrcpt, struct qstate *s)
{
    memset(s, 0, sizeof *s);
    s->r = calloc(nrcpt ? nrcpt : 1, sizeof *s->r);
    if (!s->r) {
        return -1;
    }
    s->nrcpt = nrcpt;
    if (qstate_replay(path, nrcpt, qstate_cb, s, NULL) < 0) {
        int e = errno;
        qstate_free(s);
        errno = e;
        return -1;
    }
    return 0;
}

void qstate_free(struct qstate *s)
{
    free(s->r);
    memset(s, 0, sizeof *s);
}

size_t qstate_format(char *out, size_t cap, const struct qline *l)
{
    int r;
    size_t n, i;

    if (l->kind != QL_RCPT) {
        char c = l->kind == QL_BOUNCE ? 'B' : l->kind == QL_HELD ? 'H' : 'W';
        r = snprintf(out, cap, "%c %" PRId64 "\n", c, (int64_t)l->when);
        return r < 0 ? 0 : (size_t)r < cap ? (size_t)r : cap - 1;
    }
    r = snprintf(out, cap, "%zu %c %" PRId64 " ", l->index, l->status, (int64_t)l->when);
    if (r < 0 || (size_t)r >= cap) {
        return 0;
    }
    n = (size_t)r;
    for (i = 0; i < l->text_len && n + 1 < cap - 1; i++) {
        unsigned char c = (unsigned char)l->text[i];
        out[n++] = (c < 0x20 || c == 0x7f) ? '_' : (char)c;
    }
    out[n++] = '\n';
    out[n] = '\0';
    return n;
}

int qstate_open(const char *path)
{
    /* read too: qstate_append looks at the last octet */
    return open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

int qstate_append(int fd, const struct qline *l)
{
    char line[1 + QUEUE_STATE_LINE_MAX], last = '\n';
    size_t n = qstate_format(line + 1, sizeof line - 1, l);
    struct stat st;
    ssize_t w;
    char *p = line + 1;

    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    if (fstat(fd, &st) < 0 || (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)) {
        return -1;
    }
    if (last != '\n') {
        *--p = '\n';
        n++;
    }
    do {
        w = write(fd, p, n);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        return -1;
    }
    if ((size_t)w != n) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* ---- flush ---- */

int qflush_mark(const char *root)
{
    char path[YUBIN_PATH_MAX];
    int fd, rc, e;

    if (qfile_path(path, sizeof path, root, QFILE_FLUSHED, NULL) < 0) {
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -1;
    }
    rc = futimens(fd, NULL);        /* now, also when the file was there */
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

time_t qflush_time(const char *root, time_t now, int *down_before)
{
    char path[YUBIN_PATH_MAX];
    struct stat f, d;

    *down_before = 0;
    if (qfile_path(path, sizeof path, root, QFILE_FLUSHED, NULL) < 0 || stat(path, &f) < 0
        || f.st_mtim.tv_sec > now) {
        return 0;
    }
    if (qfile_path(path, sizeof path, root, QFILE_DOWN, NULL) == 0 && stat(path, &d) == 0) {
        *down_before = d.st_mtim.tv_sec < f.st_mtim.tv_sec
                       || (d.st_mtim.tv_sec == f.st_mtim.tv_sec
                           && d.st_mtim.tv_nsec < f.st_mtim.tv_nsec);
    }
    return f.st_mtim.tv_sec;
}

/* ---- trigger ---- */

int qtrigger_send(const char *root, const char *msg, size_t n)
{
    char path[YUBIN_PATH_MAX];
    int fd, r = 0;

    if (qfile_path(path, sizeof path, root, QFILE_TRIGGER, NULL) < 0) {
        return -1;
    }
    fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return (errno == ENXIO || errno == ENOENT) ? 0 : -1;
    }
    if (write(fd, msg, n) < 0 && errno != EAGAIN && errno != EPIPE) {
        r = -1;
    }
    close(fd);
    return r;
}

/* ---- commit ---- */

int qfile_setup(const char *root)
{
    static const char *const dirs[] = {"", QDIR_TMP, QDIR_MESS, QDIR_STATE, QDIR_HOLD};
    char path[YUBIN_PATH_MAX];
    size_t i;

    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (qfile_path(path, sizeof path, root, dirs[i], NULL) < 0) {
            return -1;
        }
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            return -1;
        }
    }
    if (qfile_path(path, sizeof path, root, QFILE_TRIGGER, NULL) < 0) {
        return -1;
    }
    if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* Create a fresh tmp/PID.TIME[.N] file (O_EXCL). fd or -1. */
static int tmp_create(const char *root, time_t now, char *path, size_t cap)
{
    unsigned n;
    for (n = 0; n < 1000; n++) {
        char name[64];
        int fd;
        if (n == 0) {
            snprintf(name, sizeof name, "%ld.%" PRId64, (long)getpid(), (int64_t)now);
        } else {
            snprintf(name, sizeof name, "%ld.%" PRId64 ".%u", (long)getpid(), (int64_t)now, n);
        }
        if (qfile_path(path, cap, root, QDIR_TMP, name) < 0) {
            return -1;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) {
            return fd;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Copy spill (from offset 0 to EOF) to the end of out. 0 ok, -1 errno. */
static int copy_spill(int spill, int out)
{
    char buf[65536];
    off_t off = 0;

    for (;;) {
        ssize_t r = copy_file_range(spill, &off, out, NULL, 1 << 30, 0);
        if (r == 0) {
            return 0;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
                return -1;
            }
            break;      /* no in-kernel copy here: fall back to read/write */
        }
    }
    for (;;) {
        ssize_t r = pread(spill, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            return 0;
        }
        if (fd_write_all(out, buf, (size_t)r) < 0) {
            return -1;
        }
        off += r;
    }
}

/* Link tmp into mess/ID, the ID taken from the clock now; on a clash (another message committed
   in the same microsecond with the same inode low bits) try the next microseconds.
   0 ok, -1 errno. */
static int link_mess(const char *root, const char *tmp, uint64_t ino, char id[QID_BUF])
{
    char path[YUBIN_PATH_MAX];
    struct timespec ts;
    int k;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (k = 0; k < 100; k++) {
        long us = ts.tv_nsec / 1000 + k;
        qid_make(ts.tv_sec + us / 1000000, us % 1000000, ino, id);
        if (qfile_path(path, sizeof path, root, QDIR_MESS, id) < 0) {
            return -1;
        }
        if (link(tmp, path) == 0) {
            return 0;
        }
        if (errno != EEXIST) {
            return -1;
        }
    }
    return -1;
}

int qfile_commit(const char *root, struct qenv *e, const char *head, size_t headlen,
                 int spill, char id[QID_BUF])
{
    char tmp[YUBIN_PATH_MAX], dir[YUBIN_PATH_MAX];
    char *hdr = NULL;
    size_t hdrlen;
    struct stat st;
    int fd, err;

    if (e->arrival == 0) {
        e->arrival = time(NULL);
    }
    if (qenv_format_header(e, &hdr, &hdrlen) < 0) {
        return -1;
    }
    fd = tmp_create(root, e->arrival, tmp, sizeof tmp);
    if (fd < 0) {
        err = errno;
        free(hdr);
        errno = err;
        return -1;
    }
    if (fd_write_all(fd, hdr, hdrlen) < 0 || (headlen && fd_write_all(fd, head, headlen) < 0)
        || (spill >= 0 && copy_spill(spill, fd) < 0) || fsync(fd) < 0 || fstat(fd, &st) < 0) {
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (link_mess(root, tmp, (uint64_t)st.st_ino, id) < 0) {
        goto fail;
    }
    /* the commit point: mess/ID is durable once the directory is */
    if (qfile_path(dir, sizeof dir, root, QDIR_MESS, NULL) < 0 || fd_fsync_dir(dir) < 0) {
        char mess[YUBIN_PATH_MAX];
        err = errno;
        if (qfile_path(mess, sizeof mess, root, QDIR_MESS, id) == 0) {
            unlink(mess);
        }
        errno = err;
        goto fail;
    }
    unlink(tmp);
    free(hdr);
    return 0;
fail:
    err = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    free(hdr);
    errno = err;
    return -1;
}

/* maildrop.c: a Maildir as a POP3 maildrop: scan, sizes, UIDLs, wire form, UPDATE */
#include "maildrop.h"
#include "fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- pure helpers ---- */

int maildrop_name_tag(const char *name, size_t n, char tag, uint64_t *out)
{
    size_t i, j;
    const char *colon = memchr(name, ':', n);
    if (colon) {
        n = (size_t)(colon - name);
    }
    for (i = 0; i + 3 <= n; i++) {
        uint64_t v = 0;
        if (name[i] != ',' || name[i + 1] != tag || name[i + 2] != '=') {
            continue;
        }
        for (j = i + 3; j < n && name[j] >= '0' && name[j] <= '9'; j++) {
            if (v > (UINT64_MAX - 9) / 10) {
                return 0;
            }
            v = v * 10 + (uint64_t)(name[j] - '0');
        }
        if (j == i + 3 || (j < n && name[j] != ',')) {
            return 0;
        }
        *out = v;
        return 1;
    }
    return 0;
}

void maildrop_count_init(struct maildrop_count *c)
{
    memset(c, 0, sizeof *c);
}

void maildrop_count_add(struct maildrop_count *c, const char *in, size_t n)
{
    const char *p = in, *end = in + n, *lf;
    if (n == 0) {
        return;
    }
    c->bytes += n;
    while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        int crbefore = (lf > p) ? (lf[-1] == '\r') : c->lastcr;
        if (!crbefore) {
            c->extra++;
        }
        p = lf + 1;
        c->lastcr = 0;
        if (p == end) {
            break;
        }
    }
    c->lastlf = (end[-1] == '\n');
    c->lastcr = (end[-1] == '\r');
}

uint64_t maildrop_count_total(const struct maildrop_count *c)
{
    return c->bytes + c->extra + ((c->bytes > 0 && !c->lastlf) ? 2 : 0);
}

void maildrop_stuff_init(struct maildrop_stuff *st, int top, unsigned long lines)
{
    memset(st, 0, sizeof *st);
    st->bol = 1;
    st->top = top;
    st->in_header = 1;
    st->body_left = lines;
}

/* TOP bookkeeping at the end of a line (the LF). */
static void top_line_end(struct maildrop_stuff *st, int crbefore)
{
    if (st->in_header) {
        if (st->linelen == 0 || (st->linelen == 1 && crbefore)) {
            st->in_header = 0;
            if (st->body_left == 0) {
                st->done = 1;
            }
        }
    } else if (--st->body_left == 0) {
        st->done = 1;
    }
    st->linelen = 0;
}

size_t maildrop_stuff(struct maildrop_stuff *st, const char *in, size_t n, char *out, size_t *used)
{
    const char *p = in, *end = in + n;
    char *o = out;

    while (p < end && !st->done) {
        const char *lf;
        size_t seg;
        int crbefore;
        if (st->bol && *p == '.') {
            *o++ = '.';
            st->stuffed++;
        }
        lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf) {
            seg = (size_t)(end - p);
            memcpy(o, p, seg);
            o += seg;
            st->linelen += seg;
            st->lastcr = (end[-1] == '\r');
            st->bol = 0;
            p = end;
            break;
        }
        seg = (size_t)(lf - p);
        crbefore = seg > 0 ? (lf[-1] == '\r') : st->lastcr;
        memcpy(o, p, seg);
        o += seg;
        if (!crbefore) {
            *o++ = '\r';
        }
        *o++ = '\n';
        st->bol = 1;
        st->lastcr = 0;
        p = lf + 1;
        if (st->top) {
            st->linelen += seg;
            top_line_end(st, crbefore);
        }
    }
    *used = (size_t)(p - in);
    return (size_t)(o - out);
}

size_t maildrop_stuff_end(struct maildrop_stuff *st, char *out)
{
    size_t k = 0;
    if (!st->bol) {
        out[k++] = '\r';
        out[k++] = '\n';
        st->bol = 1;
    }
    memcpy(out + k, ".\r\n", 3);
    return k + 3;
}

/* ---- scanning ---- */

/* Sort keys of a unique name: its leading decimal digits (the delivery time; 0 if none) and
   the 8 octets after them, big-endian, zero-padded. Sorting by (time, key8, name) lists mail
   oldest first and compares whole names only on ties. */
static void name_keys(const char *name, size_t n, uint64_t *time, uint64_t *key8)
{
    uint64_t t = 0, k = 0;
    size_t i, j;
    for (i = 0; i < n && i < 19 && name[i] >= '0' && name[i] <= '9'; i++) {
        t = t * 10 + (uint64_t)(name[i] - '0');
    }
    for (j = 0; j < 8; j++) {
        k = (k << 8) | (i + j < n ? (unsigned char)name[i + j] : 0);
    }
    *time = t;
    *key8 = k;
}

static int cmp_keys(uint64_t t1, uint64_t k1, const char *n1, size_t l1, uint64_t t2,
                    uint64_t k2, const char *n2, size_t l2)
{
    int c;
    if (t1 != t2) {
        return t1 < t2 ? -1 : 1;
    }
    if (k1 != k2) {
        return k1 < k2 ? -1 : 1;
    }
    c = memcmp(n1, n2, l1 < l2 ? l1 : l2);
    return c != 0 ? c : (l1 > l2) - (l1 < l2);
}

static int add_name(struct maildrop *md, const char *dir, const char *name, size_t nlen,
                    const char *suffix)
{
    size_t need = 4 + nlen + strlen(suffix) + 1;
    struct maildrop_msg *m;
    if (md->n >= md->max || need > MAILDROP_NAMES_MAX - md->nameslen) {
        md->more = 1;
        errno = E2BIG;
        return -1;
    }
    if (md->nameslen + need > md->namescap) {
        size_t cap = md->namescap ? md->namescap * 2 : 65536;
        char *s;
        while (cap < md->nameslen + need) {
            cap *= 2;
        }
        if (cap > MAILDROP_NAMES_MAX) {
            cap = MAILDROP_NAMES_MAX;
        }
        s = realloc(md->names, cap);
        if (!s) {
            return -1;
        }
        md->names = s;
        md->namescap = cap;
    }
    if (md->n == md->cap) {
        size_t cap = md->cap ? md->cap * 2 : 1024;
        struct maildrop_msg *a = realloc(md->msg, cap * sizeof *a);
        if (!a) {
            return -1;
        }
        md->msg = a;
        md->cap = cap;
    }
    m = &md->msg[md->n++];
    memset(m, 0, sizeof *m);
    /* offset for now; turned into a pointer once names stops moving */
    m->path = (const char *)(uintptr_t)md->nameslen;
    memcpy(md->names + md->nameslen, dir, 4);
    memcpy(md->names + md->nameslen + 4, name, nlen);
    memcpy(md->names + md->nameslen + 4 + nlen, suffix, strlen(suffix) + 1);
    md->nameslen += need;
    m->uniqlen = nlen;
    {
        const char *colon = memchr(name, ':', nlen);
        if (colon) {
            m->uniqlen = (size_t)(colon - name);
        }
    }
    m->size = MAILDROP_UNKNOWN;
    m->fsize = MAILDROP_UNKNOWN;
    name_keys(name, m->uniqlen, &m->time, &m->key8);
    if (maildrop_name_tag(name, nlen, 'W', &m->size) == 0) {
        m->size = MAILDROP_UNKNOWN;
    }
    if (maildrop_name_tag(name, nlen, 'S', &m->fsize) == 0) {
        m->fsize = MAILDROP_UNKNOWN;
    }
    return 0;
}

/* Move new/NAME to cur/NAME:2, without replacing anything; list it where it ends up. */
static int scan_new_one(struct maildrop *md, const char *name, size_t nlen)
{
    char from[4 + 256 + 1], to[4 + 256 + 4];
    const char *suffix = memchr(name, ':', nlen) ? "" : ":2,";
    memcpy(from, "new/", 4);
    memcpy(from + 4, name, nlen + 1);
    memcpy(to, "cur/", 4);
    memcpy(to + 4, name, nlen);
    memcpy(to + 4 + nlen, suffix, strlen(suffix) + 1);
    if (fd_rename_noreplace(md->dirfd, from, md->dirfd, to) == 0) {
        md->moved++;
        return add_name(md, "cur/", name, nlen, suffix);
    }
    if (errno == ENOENT) {
        return 0;       /* vanished between readdir and rename */
    }
    /* EEXIST (a twin in cur/) or a filesystem without RENAME_NOREPLACE: read it in place */
    return add_name(md, "new/", name, nlen, "");
}

static int scan_dir(struct maildrop *md, const char *dir)
{
    int fd = openat(md->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (fd < 0) {
        return -1;
    }
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    for (;;) {
        size_t nlen;
        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno != 0) {
                rc = -1;
            }
            break;
        }
        if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)) {
            continue;
        }
        nlen = strlen(e->d_name);
        if (md->n >= md->max) {
            md->more = 1;       /* before the rename: an unlisted new/ file stays in new/ */
            break;
        }
        if (dir[0] == 'n') {
            rc = scan_new_one(md, e->d_name, nlen);
        } else {
            rc = add_name(md, "cur/", e->d_name, nlen, "");
        }
        if (rc < 0) {
            if (md->more) {
                rc = 0;         /* a bound, not an error: the rest waits for a later session */
            }
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Oldest first (see name_keys). */
static int cmp_msg(const void *a, const void *b)
{
    const struct maildrop_msg *x = a, *y = b;
    return cmp_keys(x->time, x->key8, x->path + 4, x->uniqlen, y->time, y->key8, y->path + 4,
                    y->uniqlen);
}

/* Files left in tmp/ by a delivery that died mid-copy (kill -9, a power cut): removed once
   they are 36 hours old (SPECS §5.3, as qmail and Dovecot do). Best effort: a failure here
   never stops the login. */
static void sweep_tmp(int dirfd, time_t now)
{
    int fd = openat(dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *e;
    DIR *d;
    if (fd < 0) {
        return;
    }
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
            || !S_ISREG(st.st_mode) || st.st_mtime > now - MAILDROP_TMP_MAX_AGE) {
            continue;
        }
        (void)unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
}

int maildrop_scan(struct maildrop *md, int dirfd, size_t max)
{
    size_t i;
    memset(md, 0, sizeof *md);
    md->dirfd = dirfd;
    md->max = max >= 1 && max <= MAILDROP_MSGS_MAX ? max : MAILDROP_MSGS_MAX;
    sweep_tmp(dirfd, time(NULL));
    /* cur/ first: what the scan of new/ moves into cur/ must not be listed twice */
    if (scan_dir(md, "cur") < 0 || (!md->more && scan_dir(md, "new") < 0)) {
        return -1;
    }
    for (i = 0; i < md->n; i++) {
        md->msg[i].path = md->names + (uintptr_t)md->msg[i].path;
    }
    if (md->n > 1) {
        qsort(md->msg, md->n, sizeof md->msg[0], cmp_msg);
    }
    return 0;
}

void maildrop_free(struct maildrop *md)
{
    free(md->msg);
    free(md->names);
    free(md->scratch);
    memset(md, 0, sizeof *md);
    md->dirfd = -1;
}

/* ---- UIDL ---- */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void maildrop_uidl(const struct maildrop *md, size_t i, char *out)
{
    const struct maildrop_msg *m = &md->msg[i];
    const char *u = m->path + 4;
    size_t k, n = m->uniqlen;
    int ok = n >= 1 && n <= MAILDROP_UIDL_MAX;
    for (k = 0; ok && k < n; k++) {
        ok = u[k] >= 0x21 && u[k] <= 0x7e;
    }
    if (ok) {
        memcpy(out, u, n);
        out[n] = '\0';
        return;
    }
    snprintf(out, MAILDROP_UIDL_MAX + 1, "h%016llx%016llx",
             (unsigned long long)fnv1a(u, n, 0xcbf29ce484222325ULL),
             (unsigned long long)fnv1a(u, n, 0x84222325cbf29ce4ULL));
}

/* ---- sizes ---- */

int maildrop_open(struct maildrop *md, size_t i)
{
    int fd = openat(md->dirfd, md->msg[i].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        md->msg[i].gone = 1;
    }
    return fd;
}

/* Read message i once to learn its sizes. 0 ok (or gone), -1 error. */
static int size_by_reading(struct maildrop *md, size_t i)
{
    struct maildrop_count c;
    ssize_t r;
    int fd;

    if (!md->scratch && !(md->scratch = malloc(MAILDROP_CHUNK))) {
        return -1;
    }
    fd = maildrop_open(md, i);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    maildrop_count_init(&c);
    while ((r = fd_read(fd, md->scratch, MAILDROP_CHUNK)) > 0) {
        maildrop_count_add(&c, md->scratch, (size_t)r);
    }
    close(fd);
    if (r < 0) {
        return -1;
    }
    md->msg[i].size = maildrop_count_total(&c);
    md->msg[i].fsize = c.bytes;
    md->computed++;
    return 0;
}

struct cache_ent {
    const char *uniq;
    size_t len;
    uint64_t size, fsize;
    uint64_t time, key8;    /* as in struct maildrop_msg: the cache is kept in message order */
};

struct cache {
    char *data;
    struct cache_ent *ent;
    size_t n;
};

/* "DIGITS SP DIGITS" exactly filling [p, end). 0 ok, -1 otherwise. */
static int parse_two(const char *p, const char *end, uint64_t *a, uint64_t *b)
{
    uint64_t *v[2] = {a, b};
    int k;
    for (k = 0; k < 2; k++) {
        const char *start = p;
        *v[k] = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (*v[k] > (UINT64_MAX - 9) / 10) {
                return -1;
            }
            *v[k] = *v[k] * 10 + (uint64_t)(*p++ - '0');
        }
        if (p == start || (k == 0 && (p == end || *p++ != ' '))) {
            return -1;
        }
    }
    return p == end ? 0 : -1;
}

static int cmp_ent(const void *a, const void *b)
{
    const struct cache_ent *x = a, *y = b;
    return cmp_keys(x->time, x->key8, x->uniq, x->len, y->time, y->key8, y->uniq, y->len);
}

/* Parse "UNIQ SIZE FSIZE\n" lines after the "yubin-pop3-sizes 1\n" header. They are written
   in message order; anything else is sorted here. A malformed line drops the whole cache. */
static int cache_parse(struct cache *c, size_t len)
{
    static const char head[] = "yubin-pop3-sizes 1\n";
    char *p = c->data, *end = c->data + len;
    size_t cap = 0, i;

    if (len < sizeof head - 1 || memcmp(p, head, sizeof head - 1) != 0) {
        return -1;
    }
    p += sizeof head - 1;
    while (p < end) {
        char *lf = memchr(p, '\n', (size_t)(end - p)), *sp, *q;
        struct cache_ent e;
        uint64_t a, b;
        if (!lf) {
            return -1;
        }
        *lf = '\0';
        sp = memchr(p, ' ', (size_t)(lf - p));
        if (!sp || sp == p || parse_two(sp + 1, lf, &a, &b) < 0) {
            return -1;
        }
        e.uniq = p;
        e.len = (size_t)(sp - p);
        e.size = a;
        e.fsize = b;
        name_keys(e.uniq, e.len, &e.time, &e.key8);
        if (c->n == cap) {
            struct cache_ent *a2;
            cap = cap ? cap * 2 : 1024;
            if (!(a2 = realloc(c->ent, cap * sizeof *a2))) {
                return -1;
            }
            c->ent = a2;
        }
        c->ent[c->n++] = e;
        q = lf + 1;
        p = q;
    }
    for (i = 1; i < c->n; i++) {
        if (cmp_ent(&c->ent[i - 1], &c->ent[i]) > 0) {
            qsort(c->ent, c->n, sizeof c->ent[0], cmp_ent);
            break;
        }
    }
    return 0;
}

static void cache_load(struct maildrop *md, struct cache *c)
{
    struct stat st;
    int fd = openat(md->dirfd, MAILDROP_CACHE_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    memset(c, 0, sizeof *c);
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= MAILDROP_CACHE_MAX
        && (c->data = malloc((size_t)st.st_size)) != NULL
        && fd_read_full(fd, c->data, (size_t)st.st_size) == st.st_size
        && cache_parse(c, (size_t)st.st_size) == 0) {
        close(fd);
        return;
    }
    close(fd);
    free(c->data);
    free(c->ent);
    memset(c, 0, sizeof *c);
}

/* The cache entry of message m: entries and messages are both in message order, so the
   cursor *j only moves forward (one pass over both lists). */
static const struct cache_ent *cache_next(const struct cache *c, size_t *j,
                                          const struct maildrop_msg *m)
{
    while (*j < c->n) {
        const struct cache_ent *e = &c->ent[*j];
        int k = cmp_keys(e->time, e->key8, e->uniq, e->len, m->time, m->key8, m->path + 4,
                         m->uniqlen);
        if (k > 0) {
            return NULL;
        }
        (*j)++;
        if (k == 0) {
            return e;
        }
    }
    return NULL;
}

/* Rewrite the cache with every listed message whose size is known. The new one is written in
   tmp/, so that one a killed session leaves is removed by the tmp/ sweep (36 hours). */
static int cache_write(struct maildrop *md)
{
    char tmp[64];
    FILE *f;
    size_t i;
    int fd, bad;

    snprintf(tmp, sizeof tmp, "tmp/%s.%ld.tmp", MAILDROP_CACHE_NAME, (long)getpid());
    fd = openat(md->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -1;
    }
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlinkat(md->dirfd, tmp, 0);
        return -1;
    }
    fputs("yubin-pop3-sizes 1\n", f);
    for (i = 0; i < md->n; i++) {
        const struct maildrop_msg *m = &md->msg[i];
        if (m->gone || m->size == MAILDROP_UNKNOWN || m->fsize == MAILDROP_UNKNOWN
            || memchr(m->path + 4, ' ', m->uniqlen) || memchr(m->path + 4, '\n', m->uniqlen)) {
            continue;
        }
        fprintf(f, "%.*s %llu %llu\n", (int)m->uniqlen, m->path + 4,
                (unsigned long long)m->size, (unsigned long long)m->fsize);
    }
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        unlinkat(md->dirfd, tmp, 0);
        return -1;
    }
    if (renameat(md->dirfd, tmp, md->dirfd, MAILDROP_CACHE_NAME) < 0) {
        int e = errno;
        unlinkat(md->dirfd, tmp, 0);
        errno = e;
        return -1;
    }
    return 0;
}

int maildrop_sizes(struct maildrop *md)
{
    struct cache c;
    size_t i, j = 0, missing = 0, before = md->computed;
    int loaded = 0;

    if (md->sized) {
        return 0;
    }
    for (i = 0; i < md->n; i++) {
        struct maildrop_msg *m = &md->msg[i];
        const struct cache_ent *e;
        if (m->gone || m->size != MAILDROP_UNKNOWN) {
            continue;
        }
        if (!loaded) {
            cache_load(md, &c);
            loaded = 1;
        }
        e = cache_next(&c, &j, m);
        if (e) {
            m->size = e->size;
            if (m->fsize == MAILDROP_UNKNOWN) {
                m->fsize = e->fsize;
            }
            continue;
        }
        if (size_by_reading(md, i) < 0) {
            if (loaded) {
                free(c.data);
                free(c.ent);
            }
            return -1;
        }
        missing++;
    }
    if (loaded) {
        free(c.data);
        free(c.ent);
    }
    md->sized = 1;
    if (md->computed > before && missing > 0) {
        (void)cache_write(md);      /* a lost cache only costs time */
    }
    return 0;
}

/* ---- UPDATE ---- */

void maildrop_update(struct maildrop *md, uint64_t *bytes, uint64_t *count, size_t *failed)
{
    size_t i;
    *bytes = 0;
    *count = 0;
    *failed = 0;
    for (i = 0; i < md->n; i++) {
        struct maildrop_msg *m = &md->msg[i];
        uint64_t fsize = m->fsize;
        if (!m->deleted || m->gone) {
            continue;
        }
        if (fsize == MAILDROP_UNKNOWN) {
            struct stat st;
            if (fstatat(md->dirfd, m->path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT) {
                    m->gone = 1;
                } else {
                    (*failed)++;
                }
                continue;
            }
            fsize = (uint64_t)st.st_size;
        }
        if (unlinkat(md->dirfd, m->path, 0) < 0) {
            if (errno == ENOENT) {
                m->gone = 1;
            } else {
                (*failed)++;
            }
            continue;
        }
        m->gone = 1;
        *bytes += fsize;
        (*count)++;
    }
}

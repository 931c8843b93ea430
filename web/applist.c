/* applist.c: a domain's applications as acctd lists them for its administrator's page, the
   pruning of decided records, and the count of what a domain's auto-approval added (applist.h) */
#include "applist.h"

#include "fd.h"
#include "limits.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the largest cap of many: a min-heap whose root is the smallest kept ---- */

static int entry_less(const struct applist_entry *a, const struct applist_entry *b)
{
    return a->key != b->key ? a->key < b->key
           : a->key2 != b->key2 ? a->key2 < b->key2 : strcmp(a->id, b->id) < 0;
}

static void entry_swap(struct applist_entry *a, struct applist_entry *b)
{
    struct applist_entry t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct applist_entry *e, size_t i, size_t n)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && entry_less(&e[l], &e[m])) {
            m = l;
        }
        if (r < n && entry_less(&e[r], &e[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        entry_swap(&e[i], &e[m]);
        i = m;
    }
}

int applist_top_init(struct applist_top *t, size_t cap)
{
    t->n = 0;
    t->cap = cap;
    t->e = NULL;
    if (cap == 0 || cap > SIZE_MAX / sizeof *t->e) {
        errno = EINVAL;
        return -1;
    }
    t->e = malloc(cap * sizeof *t->e);
    return t->e ? 0 : -1;
}

void applist_top_add(struct applist_top *t, long long key, long long key2, const char *id,
                     const char *line)
{
    struct applist_entry x;
    size_t i;
    if (str_fmt(x.id, sizeof x.id, "%s", id) < 0
        || str_fmt(x.line, sizeof x.line, "%s", line) < 0) {
        return;
    }
    x.key = key;
    x.key2 = key2;
    if (t->n < t->cap) {
        i = t->n++;
        t->e[i] = x;
        while (i > 0 && entry_less(&t->e[i], &t->e[(i - 1) / 2])) {
            entry_swap(&t->e[i], &t->e[(i - 1) / 2]);
            i = (i - 1) / 2;
        }
    } else if (entry_less(&t->e[0], &x)) {
        t->e[0] = x;
        sift_down(t->e, 0, t->n);
    }
}

void applist_top_sort(struct applist_top *t)
{
    size_t n;
    /* the smallest goes to the end each time: largest first when done */
    for (n = t->n; n > 1; n--) {
        entry_swap(&t->e[0], &t->e[n - 1]);
        sift_down(t->e, 0, n - 1);
    }
}

void applist_top_free(struct applist_top *t)
{
    free(t->e);
    t->e = NULL;
    t->n = t->cap = 0;
}

/* ---- the records ---- */

int applist_line(const struct application *a, char *line)
{
    char date[APPLY_DATE_LEN + 1];
    time_t t = (time_t)a->decided_at;
    struct tm lt;
    if (!a->state[0] || !localtime_r(&t, &lt)
        || strftime(date, sizeof date, "%Y-%m-%d", &lt) != APPLY_DATE_LEN) {
        str_fmt(date, sizeof date, "%s", a->due);
    }
    return str_fmt(line, APPLIST_LINE_MAX + 1, "%s %s %s %s %s%s%s", a->id,
                   apply_kind_name(a->kind), a->target, date, a->state[0] ? a->state : "pending",
                   a->reason[0] ? " " : "", a->reason);
}

struct scan {
    const char *domain;
    long long cutoff;               /* decided before it: past APPLY_DECIDED_DAYS */
    struct applist_top wait, done;
    size_t nwait, ndone, pruned;
};

/* The record dir/name into a (its path into path[YUBIN_PATH_MAX]): 1 an application record
   read and parsed, 0 not one (another name, unreadable, malformed: passed over). */
static int record_read(const char *dir, const char *name, char *path, struct application *a)
{
    char body[APPLY_RECORD_MAX + 1];
    ssize_t n;
    return apply_id_ok(name) && str_fmt(path, YUBIN_PATH_MAX, "%s/%s", dir, name) >= 0
           && (n = fd_read_file(path, body, sizeof body)) > 0
           && apply_parse(body, (size_t)n, a) == 1;
}

/* Each record in ROOT/SUB: the domain's are counted and offered to the lists; in done/, a
   decided one of any domain past the cutoff is unlinked. */
static int scan_folder(const char *root, const char *sub, int done, struct scan *sc)
{
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], line[APPLIST_LINE_MAX + 1];
    struct application a;
    struct dirent *e;
    DIR *dp;
    if (str_fmt(dir, sizeof dir, "%s/%s", root, sub) < 0) {
        return -1;
    }
    dp = opendir(dir);
    if (!dp) {
        return errno == ENOENT ? 0 : -1;
    }
    while ((e = readdir(dp)) != NULL) {
        struct stat st;
        long long written;
        if (!record_read(dir, e->d_name, path, &a) || stat(path, &st) < 0) {
            continue;
        }
        /* the records' times are seconds; within one, the order they were written in */
        written = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (done && a.state[0] && a.decided_at < sc->cutoff) {
            if (unlink(path) == 0) {
                sc->pruned++;
            }
            continue;
        }
        if (strcmp(a.domain, sc->domain) != 0 || applist_line(&a, line) < 0) {
            continue;
        }
        if (!a.state[0]) {
            sc->nwait++;
            applist_top_add(&sc->wait, -a.time, -written, a.id, line);   /* the oldest first */
        } else if (a.decided_at >= sc->cutoff) {
            sc->ndone++;
            applist_top_add(&sc->done, a.decided_at, written, a.id, line);
        }
    }
    closedir(dp);
    return 0;
}

int applist_pending(const char *root, const char *domain, time_t now, uint64_t from,
                    struct buf *out, size_t *pruned)
{
    struct scan sc;
    size_t i, end;
    int r = -1;
    memset(&sc, 0, sizeof sc);
    sc.domain = domain;
    sc.cutoff = (long long)now - APPLY_DECIDED_DAYS * 86400LL;
    *pruned = 0;
    if (from > APPLY_DECIDED_REACH - APPLY_DECIDED_PAGE) {
        from = APPLY_DECIDED_REACH - APPLY_DECIDED_PAGE;
    }
    /* the newest from + APPLY_DECIDED_PAGE are kept: at most APPLY_DECIDED_REACH entries */
    if (applist_top_init(&sc.wait, APPLY_WAITING_MAX) < 0
        || applist_top_init(&sc.done, (size_t)from + APPLY_DECIDED_PAGE) < 0) {
        goto done;
    }
    if (scan_folder(root, "requests", 0, &sc) < 0
        || scan_folder(root, "requests/done", 1, &sc) < 0) {
        goto done;
    }
    if (from >= sc.done.n) {
        from = sc.done.n ? (sc.done.n - 1) / APPLY_DECIDED_PAGE * APPLY_DECIDED_PAGE : 0;
    }
    applist_top_sort(&sc.wait);
    applist_top_sort(&sc.done);
    if (buf_printf(out, "%zu %zu %llu\n", sc.nwait, sc.ndone, (unsigned long long)from) < 0) {
        goto done;
    }
    for (i = 0; i < sc.wait.n; i++) {
        if (buf_printf(out, "%s\n", sc.wait.e[i].line) < 0) {
            goto done;
        }
    }
    end = (size_t)from + APPLY_DECIDED_PAGE < sc.done.n ? (size_t)from + APPLY_DECIDED_PAGE
                                                        : sc.done.n;
    for (i = (size_t)from; i < end; i++) {
        if (buf_printf(out, "%s\n", sc.done.e[i].line) < 0) {
            goto done;
        }
    }
    r = 0;
done:
    *pruned = sc.pruned;
    applist_top_free(&sc.wait);
    applist_top_free(&sc.done);
    return r;
}

long applist_auto_added(const char *root, const char *domain, time_t now, size_t max)
{
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], since_id[APPLY_ID_LEN + 1];
    time_t since = now - APPLY_AUTO_SECONDS;
    struct application a;
    struct dirent *e;
    struct tm tm;
    size_t n = 0;
    DIR *dp;
    if (max == 0) {
        return 0;
    }
    /* "YYYYMMDD-HHMMSS" of since: the ids of the records filed since then sort from it */
    if (str_fmt(dir, sizeof dir, "%s/requests/done", root) < 0 || !gmtime_r(&since, &tm)
        || strftime(since_id, sizeof since_id, "%Y%m%d-%H%M%S", &tm) != 15) {
        return -1;
    }
    dp = opendir(dir);
    if (!dp) {
        return errno == ENOENT ? 0 : -1;
    }
    while (n < max && (e = readdir(dp)) != NULL) {
        if (!apply_id_ok(e->d_name) || memcmp(e->d_name, since_id, 15) < 0
            || !record_read(dir, e->d_name, path, &a)) {
            continue;
        }
        if (a.kind == APPLY_ADD && strcmp(a.state, "approved") == 0
            && strcmp(a.decided_by, "auto") == 0 && a.decided_at > (long long)since
            && strcmp(a.domain, domain) == 0) {
            n++;
        }
    }
    closedir(dp);
    return (long)n;
}

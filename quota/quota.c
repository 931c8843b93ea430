/* quota.c: Maildir++ quota on MAILDIR/maildirsize (SPECS.md §5.4, Courier README.maildirquota) */
#include "quota.h"
#include "fd.h"
#include "limits.h"
#include "str.h"
#include "usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct quota_dirs {
    char path[QUOTA_DIRS_MAX][YUBIN_PATH_MAX];
    struct timespec mtime[QUOTA_DIRS_MAX];
    size_t n;
};

/* --- pure parsing --- */

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    int neg = 0;
    uint64_t v;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    if (n == 0 || str_to_u64(s, n, &v) < 0 || v > (uint64_t)INT64_MAX) {
        return -1;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int add_i64(int64_t *sum, int64_t v)
{
    if ((v > 0 && *sum > INT64_MAX - v) || (v < 0 && *sum < INT64_MIN - v)) {
        return -1;
    }
    *sum += v;
    return 0;
}

/* "<n>S,<n>C" in any order; either part may be absent but the line may not be empty. */
static int parse_definition(const char *s, size_t n, uint64_t *limit)
{
    size_t i = 0;
    *limit = 0;
    if (n == 0) {
        return -1;
    }
    while (i < n) {
        size_t j = i;
        uint64_t v;
        while (j < n && s[j] != ',') {
            j++;
        }
        if (j - i < 2 || str_to_u64(s + i, j - i - 1, &v) < 0) {
            return -1;
        }
        if (s[j - 1] == 'S') {
            *limit = v;
        } else if (s[j - 1] != 'C') {
            return -1;
        }
        i = j + 1;
        if (j < n && i == n) {
            return -1;      /* trailing comma */
        }
    }
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One delta line: optional blanks, signed bytes, blanks, signed count, optional blanks. */
static int parse_delta(const char *s, size_t n, int64_t *bytes, int64_t *count)
{
    size_t i = 0, a, b;
    while (i < n && is_blank(s[i])) {
        i++;
    }
    a = i;
    while (i < n && !is_blank(s[i])) {
        i++;
    }
    if (parse_i64(s + a, i - a, bytes) < 0) {
        return -1;
    }
    while (i < n && is_blank(s[i])) {
        i++;
    }
    b = i;
    while (i < n && !is_blank(s[i])) {
        i++;
    }
    if (parse_i64(s + b, i - b, count) < 0) {
        return -1;
    }
    while (i < n && is_blank(s[i])) {
        i++;
    }
    return i == n ? 0 : -1;
}

int quota_parse(const char *data, size_t len, uint64_t *limit, int64_t *bytes, int64_t *count,
                size_t *lines)
{
    size_t pos = 0, first = 1;
    *bytes = 0;
    *count = 0;
    *lines = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        int64_t b, c;
        if (first) {
            if (parse_definition(data + pos, end - pos, limit) < 0) {
                return -1;
            }
            first = 0;
        } else if (end > pos) {
            if (parse_delta(data + pos, end - pos, &b, &c) < 0 || add_i64(bytes, b) < 0
                || add_i64(count, c) < 0) {
                return -1;
            }
            (*lines)++;
        }
        pos = end + 1;
    }
    return first ? -1 : 0;
}

int quota_name_size(const char *name, uint64_t *size)
{
    const char *p = strstr(name, ",S=");
    size_t n = 0;
    if (!p) {
        return 0;
    }
    p += 3;
    while (p[n] >= '0' && p[n] <= '9') {
        n++;
    }
    if (n == 0 || (p[n] != '\0' && p[n] != ',' && p[n] != ':')) {
        return 0;
    }
    return str_to_u64(p, n, size) == 0;
}

/* --- recalculation --- */

static int dirs_add(struct quota_dirs *d, const char *maildir, const char *folder,
                    const char *sub)
{
    struct stat st;
    if (d->n == QUOTA_DIRS_MAX) {
        errno = E2BIG;
        return -1;
    }
    if (str_fmt(d->path[d->n], YUBIN_PATH_MAX, "%s/%s%s%s", maildir, folder,
                folder[0] ? "/" : "", sub) < 0) {
        return -1;
    }
    if (stat(d->path[d->n], &st) < 0) {
        /* a folder without new/ or cur/, or a file such as .quota-warned: nothing to count */
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return 0;
    }
    d->mtime[d->n++] = st.st_mtim;
    return 0;
}

/* new/ and cur/ of the Maildir and of every .Folder except .Trash (Maildir++). */
static int dirs_list(struct quota_dirs *d, const char *maildir)
{
    DIR *dir;
    struct dirent *e;
    int r = 0;

    d->n = 0;
    if (dirs_add(d, maildir, "", "new") < 0 || dirs_add(d, maildir, "", "cur") < 0) {
        return -1;
    }
    dir = opendir(maildir);
    if (!dir) {
        return -1;
    }
    while (r == 0 && (errno = 0, e = readdir(dir)) != NULL) {
        const char *n = e->d_name;
        if (n[0] != '.' || strcmp(n, ".") == 0 || strcmp(n, "..") == 0
            || strcmp(n, ".Trash") == 0) {
            continue;
        }
        if (dirs_add(d, maildir, n, "new") < 0 || dirs_add(d, maildir, n, "cur") < 0) {
            r = -1;
        }
    }
    if (r == 0 && errno != 0) {
        r = -1;
    }
    closedir(dir);
    return r;
}

static int dir_sum(const char *path, uint64_t *bytes, uint64_t *count)
{
    char file[YUBIN_PATH_MAX];
    struct dirent *e;
    struct stat st;
    uint64_t size;
    DIR *dir = opendir(path);

    if (!dir) {
        return errno == ENOENT ? 0 : -1;
    }
    while ((errno = 0, e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (!quota_name_size(e->d_name, &size)) {
            if (str_fmt(file, sizeof file, "%s/%s", path, e->d_name) < 0) {
                continue;
            }
            if (stat(file, &st) < 0) {
                continue;   /* vanished between readdir and stat (SPECS §5.3) */
            }
            size = (uint64_t)st.st_size;
        }
        *bytes += size;
        (*count)++;
    }
    {
        int e2 = errno;
        closedir(dir);
        errno = e2;
        return e2 ? -1 : 0;
    }
}

static int dirs_changed(const struct quota_dirs *d)
{
    struct stat st;
    size_t i;
    for (i = 0; i < d->n; i++) {
        if (stat(d->path[i], &st) < 0 || st.st_mtim.tv_sec != d->mtime[i].tv_sec
            || st.st_mtim.tv_nsec != d->mtime[i].tv_nsec) {
            return 1;
        }
    }
    return 0;
}

static int write_maildirsize(const char *maildir, uint64_t limit, uint64_t bytes,
                             uint64_t count)
{
    char tmp[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], text[2 * QUOTA_LINE_MAX];
    struct timeval tv;
    int fd, n;

    gettimeofday(&tv, NULL);
    if (str_fmt(tmp, sizeof tmp, "%s/tmp/%lld.M%ldP%ld.maildirsize", maildir,
                (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid()) < 0
        || str_fmt(path, sizeof path, "%s/maildirsize", maildir) < 0) {
        return -1;
    }
    n = snprintf(text, sizeof text, "%lluS\n%llu %llu\n", (unsigned long long)limit,
                 (unsigned long long)bytes, (unsigned long long)count);
    if (n < 0 || (size_t)n >= sizeof text) {
        errno = EOVERFLOW;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    /* No fsync: maildirsize is derived state, recalculated whenever it is lost. */
    if (fd_write_all(fd, text, (size_t)n) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int quota_lock(const char *maildir)
{
    return fd_open_locked(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0600, LOCK_EX);
}

void quota_unlock(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

/* The recount itself, the caller holding the lock (or going on without it). */
static int recalc(const char *maildir, uint64_t limit, uint64_t *bytes, uint64_t *count)
{
    struct quota_dirs *d = NULL;
    int tries, r = -1;
    size_t i;

    d = calloc(1, sizeof *d);
    if (!d) {
        return -1;
    }
    for (tries = 0; tries < QUOTA_RECALC_TRIES; tries++) {
        *bytes = 0;
        *count = 0;
        if (dirs_list(d, maildir) < 0) {
            break;
        }
        for (i = 0; i < d->n; i++) {
            if (dir_sum(d->path[i], bytes, count) < 0) {
                break;
            }
        }
        if (i < d->n || write_maildirsize(maildir, limit, *bytes, *count) < 0) {
            break;
        }
        if (!dirs_changed(d)) {
            r = 0;
            break;
        }
    }
    if (tries == QUOTA_RECALC_TRIES) {
        /* The Maildir kept changing (deliveries and POP3 deletions while we scanned): the sum
           just written is off by at most the changes that ran during the scan, each of which
           may be counted twice or missed. Keep it: removing the file would make the next
           reader scan again, and under a steady stream of deliveries every delivery would
           scan the whole Maildir. It is recalculated when it grows past QUOTA_FILE_MAX, and
           before any refusal (quota_read_for), so an error never refuses a message. */
        r = 0;
    }
    free(d);
    return r;
}

int quota_recalc(const char *maildir, uint64_t limit, uint64_t *bytes, uint64_t *count)
{
    int fd = quota_lock(maildir), r, e;
    r = recalc(maildir, limit, bytes, count);
    e = errno;
    quota_unlock(fd);
    errno = e;
    return r;
}

/* --- reading and appending --- */

static int read_file(const char *maildir, char *data, size_t cap, size_t *len,
                     struct stat *st)
{
    char path[YUBIN_PATH_MAX];
    ssize_t n;
    int fd;

    if (str_fmt(path, sizeof path, "%s/maildirsize", maildir) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (fstat(fd, st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (st->st_size >= (off_t)cap) {
        close(fd);
        return 0;               /* too big: recalculate */
    }
    n = fd_read_full(fd, data, cap);
    close(fd);
    if (n < 0) {
        return -1;
    }
    *len = (size_t)n;
    return (size_t)n >= cap ? 0 : 1;
}

int quota_read_for(const char *maildir, uint64_t limit, uint64_t incoming, int held,
                   uint64_t *bytes, uint64_t *count)
{
    char data[QUOTA_FILE_MAX];
    uint64_t deflimit;
    int64_t b, c;
    size_t len = 0, lines;
    struct stat st;
    int r;

    r = read_file(maildir, data, sizeof data, &len, &st);
    if (r < 0) {
        return -1;
    }
    if (r == 0 || quota_parse(data, len, &deflimit, &b, &c, &lines) < 0 || deflimit != limit) {
        return held ? recalc(maildir, limit, bytes, count)
                    : quota_recalc(maildir, limit, bytes, count);
    }
    *bytes = b < 0 ? 0 : (uint64_t)b;
    *count = c < 0 ? 0 : (uint64_t)c;
    if (limit > 0 && (*bytes > limit || incoming > limit - *bytes)
        && (lines > 1 || time(NULL) - st.st_mtime >= QUOTA_STALE_SECS)) {
        return held ? recalc(maildir, limit, bytes, count)
                    : quota_recalc(maildir, limit, bytes, count);
    }
    return 0;
}

int quota_read(const char *maildir, uint64_t limit, uint64_t *bytes, uint64_t *count)
{
    return quota_read_for(maildir, limit, 0, 0, bytes, count);
}

int quota_add(const char *maildir, int64_t bytes, int64_t count)
{
    char path[YUBIN_PATH_MAX], line[QUOTA_LINE_MAX];
    ssize_t w;
    int fd, n;

    if (str_fmt(path, sizeof path, "%s/maildirsize", maildir) < 0) {
        return -1;
    }
    n = snprintf(line, sizeof line, "%lld %lld\n", (long long)bytes, (long long)count);
    if (n < 0 || (size_t)n >= sizeof line) {
        errno = EOVERFLOW;
        return -1;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        /* No file: the next quota_read recalculates from the Maildir, change included. */
        return errno == ENOENT ? 0 : -1;
    }
    /* One write() so concurrent appenders never interleave inside a line. */
    do {
        w = write(fd, line, (size_t)n);
    } while (w < 0 && errno == EINTR);
    if (w != n) {
        int e = w < 0 ? errno : EIO;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

int quota_update(const struct quota_account *a, int64_t bytes, int64_t count, int estimate,
                 uint64_t *usage_bytes, uint64_t *usage_count,
                 void (*warn)(void *ctx, enum quota_step step), void *ctx)
{
    uint64_t b, c;
    int r = 0;

    if ((bytes != 0 || count != 0) && quota_add(a->maildir, bytes, count) < 0) {
        r = -1;
        if (warn) {
            warn(ctx, QUOTA_STEP_ADD);
        }
    }
    if (quota_read(a->maildir, a->limit, &b, &c) == 0) {
        *usage_bytes = b;
        *usage_count = c;
    } else {
        r = -1;
        if (warn) {
            warn(ctx, QUOTA_STEP_READ);
        }
        if (!estimate) {
            return -1;
        }
    }
    if (usage_write(a->root, a->addr, *usage_bytes, *usage_count) < 0) {
        r = -1;
        if (warn) {
            warn(ctx, QUOTA_STEP_SUMMARY);
        }
    }
    return r;
}

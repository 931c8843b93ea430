/* qdown.c: ROOT/queue/down, the destinations queue-run found down (read by mailq too) */
#include "qdown.h"
#include "qfile.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int qdown_domain_ok(const char *domain)
{
    size_t i, n = strlen(domain);
    if (n == 0 || n > SMTP_DOMAIN_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)domain[i];
        if (c <= ' ' || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The length of the "(#X.Y.Z)" that ends text[0..n) (at most QDOWN_TAIL_MAX octets), else 0. */
static size_t status_tail(const char *text, size_t n)
{
    size_t k;
    if (n < 4 || text[n - 1] != ')') {
        return 0;
    }
    for (k = n - 1; k > 0 && n - (k - 1) <= QDOWN_TAIL_MAX; k--) {
        if (text[k - 1] == '(' && text[k] == '#') {
            return n - (k - 1);
        }
    }
    return 0;
}

static void clean(char *out, const char *text, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = c < 0x20 || c == 0x7f ? '_' : (char)c;
    }
}

void qdown_set_why(struct qdown *d, const char *text, size_t n)
{
    static const char cut[] = "... ";
    size_t tail = status_tail(text, n), head;
    if (n <= QDOWN_WHY_MAX) {
        clean(d->why, text, n);
        d->why[n] = '\0';
        return;
    }
    /* the status code is what the notices read of it (bounce_status): kept when cutting */
    head = QDOWN_WHY_MAX - (tail ? tail + sizeof cut - 1 : 0);
    clean(d->why, text, head);
    if (tail) {
        memcpy(d->why + head, cut, sizeof cut - 1);
        clean(d->why + head + sizeof cut - 1, text + n - tail, tail);
    }
    d->why[QDOWN_WHY_MAX] = '\0';
}

int qdown_no_server(const char *text, size_t n)
{
    static const char code[] = "(#4.4.1)", said[] = "] said: ";
    size_t k = sizeof code - 1;
    return n >= k && memcmp(text + n - k, code, k) == 0 && !memmem(text, n, said, sizeof said - 1);
}

size_t qdown_find(const struct qdown *d, size_t n, const char *domain)
{
    size_t k;
    for (k = 0; k < n && strcasecmp(d[k].domain, domain) != 0; k++) {
    }
    return k;
}

size_t qdown_reason(const struct qdown *d, char *out, size_t cap)
{
    int n = d->why[0] ? snprintf(out, cap, "%s", d->why)
                      : snprintf(out, cap, "no mail server of %s answered (#4.4.1)", d->domain);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* The next field of line[*pos..n) up to a space (consumed): its length, *f its start. */
static size_t field(const char *line, size_t n, size_t *pos, const char **f)
{
    size_t start = *pos, end = start;
    while (end < n && line[end] != ' ') {
        end++;
    }
    *f = line + start;
    *pos = end < n ? end + 1 : n;
    return end - start;
}

/* One line, without its LF, into d. 0 ok, -1 malformed. */
static int parse_mark(const char *line, size_t n, struct qdown *d)
{
    const char *f;
    size_t pos = 0, len;
    uint64_t rounds;

    if (str_has_ctl(line, n)) {
        return -1;
    }
    len = field(line, n, &pos, &f);
    if (len == 0 || len > SMTP_DOMAIN_MAX || pos >= n) {
        return -1;
    }
    memcpy(d->domain, f, len);
    d->domain[len] = '\0';
    len = field(line, n, &pos, &f);
    if (qfile_parse_time(f, len, &d->since) < 0 || pos >= n) {
        return -1;
    }
    len = field(line, n, &pos, &f);
    if (qfile_parse_time(f, len, &d->until) < 0 || d->since > d->until || pos >= n) {
        return -1;
    }
    len = field(line, n, &pos, &f);
    if (str_to_u64(f, len, &rounds) < 0 || rounds == 0 || rounds > UINT32_MAX
        || line[pos - 1] != ' ' || n - pos > QDOWN_WHY_MAX) {
        return -1;
    }
    d->rounds = (unsigned)rounds;
    memcpy(d->why, line + pos, n - pos);
    d->why[n - pos] = '\0';
    return 0;
}

int qdown_parse(const char *p, size_t n, time_t now, struct qdown *d, size_t max,
                size_t *count)
{
    static const char head[] = QDOWN_VERSION "\n";
    size_t pos = sizeof head - 1, lines = 0, k;

    *count = 0;
    if (n < pos || memcmp(p, head, pos) != 0) {
        errno = EINVAL;
        return -1;
    }
    while (pos < n) {
        const char *nl = memchr(p + pos, '\n', n - pos);
        if (!nl || lines == max || parse_mark(p + pos, (size_t)(nl - (p + pos)), &d[lines]) < 0
            || qdown_find(d, lines, d[lines].domain) < lines) {
            errno = EINVAL;
            return -1;
        }
        lines++;
        pos = (size_t)(nl - p) + 1;
    }
    for (k = 0; k < lines; k++) {
        if (d[k].until > now - QDOWN_STALE) {
            d[(*count)++] = d[k];
        }
    }
    return 0;
}

size_t qdown_format(const struct qdown *d, size_t n, char *out, size_t cap)
{
    size_t k, len;
    int r = snprintf(out, cap, "%s\n", QDOWN_VERSION);

    if (r < 0 || (size_t)r >= cap) {
        return 0;
    }
    len = (size_t)r;
    for (k = 0; k < n; k++) {
        size_t why = strnlen(d[k].why, QDOWN_WHY_MAX);
        if (!qdown_domain_ok(d[k].domain) || d[k].since < 0 || d[k].until < d[k].since
            || d[k].rounds == 0) {
            continue;
        }
        r = snprintf(out + len, cap - len, "%s %" PRId64 " %" PRId64 " %u ", d[k].domain,
                     (int64_t)d[k].since, (int64_t)d[k].until, d[k].rounds);
        if (r < 0 || (size_t)r + why + 1 >= cap - len) {
            break;      /* cap below QDOWN_FILE_MAX: the marks that fit */
        }
        len += (size_t)r;
        memcpy(out + len, d[k].why, why);   /* no control byte: qdown_set_why, parse_mark */
        len += why;
        out[len++] = '\n';
    }
    out[len] = '\0';
    return len;
}

int qdown_load(const char *root, time_t now, struct qdown *d, size_t *count)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    char *buf;
    ssize_t n;
    int fd, e;

    *count = 0;
    if (qfile_path(path, sizeof path, root, QFILE_DOWN, NULL) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (fstat(fd, &st) < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {         /* a FIFO put there: not read, no hang */
        close(fd);
        errno = EINVAL;
        return -1;
    }
    buf = malloc(QDOWN_FILE_MAX + 1);
    n = buf ? fd_read_full(fd, buf, QDOWN_FILE_MAX + 1) : -1;
    e = errno;
    close(fd);
    if (n < 0) {
        free(buf);
        errno = e;
        return -1;
    }
    if ((size_t)n > QDOWN_FILE_MAX) {
        free(buf);
        errno = EFBIG;
        return -1;
    }
    n = qdown_parse(buf, (size_t)n, now, d, QUEUE_DOWN_MAX, count);
    free(buf);
    return n < 0 ? -1 : 0;
}

int qdown_save(const char *root, const struct qdown *d, size_t n)
{
    char path[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX];
    char *buf;
    size_t len;
    int fd, e;

    if (qfile_path(path, sizeof path, root, QFILE_DOWN, NULL) < 0
        || qfile_path(tmp, sizeof tmp, root, QDIR_TMP, QFILE_DOWN) < 0) {
        return -1;
    }
    if (n == 0) {
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    }
    buf = malloc(QDOWN_FILE_MAX);
    if (!buf) {
        return -1;
    }
    len = qdown_format(d, n < QUEUE_DOWN_MAX ? n : QUEUE_DOWN_MAX, buf, QDOWN_FILE_MAX);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(buf);
        return -1;
    }
    if (fd_write_all(fd, buf, len) < 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        free(buf);
        errno = e;
        return -1;
    }
    free(buf);
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

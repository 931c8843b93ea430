/* session.c: server-side sessions of the member page in ROOT/web/sessions (session.h) */
#include "session.h"

#include "fd.h"
#include "str.h"

#include <bearssl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define SESSION_FILE_MAX (ADDR_MAX + 2 * WEB_TOKEN_LEN + 32)

static const char hexdig[] = "0123456789abcdef";

static void hex(const unsigned char *p, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int session_token(char *out)
{
    unsigned char r[WEB_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)n;
    }
    hex(r, sizeof r, out);
    return 0;
}

/* ROOT/web/sessions/SHA256(id) */
static int session_path(const char *root, const char *id, char *out, size_t cap)
{
    br_sha256_context c;
    unsigned char h[br_sha256_SIZE];
    char name[2 * br_sha256_SIZE + 1];
    br_sha256_init(&c);
    br_sha256_update(&c, id, strlen(id));
    br_sha256_out(&c, h);
    hex(h, sizeof h, name);
    return str_fmt(out, cap, "%s/web/sessions/%s", root, name);
}

int session_create(const char *root, const char *addr, time_t now, struct session *s)
{
    char path[YUBIN_PATH_MAX], body[SESSION_FILE_MAX];
    int fd, n;
    memset(s, 0, sizeof *s);
    if (str_fmt(s->addr, sizeof s->addr, "%s", addr) < 0 || session_token(s->id) < 0
        || session_token(s->csrf) < 0 || session_path(root, s->id, path, sizeof path) < 0) {
        return -1;
    }
    s->expires = now + WEB_SESSION_SECONDS;
    n = snprintf(body, sizeof body, "%s\n%s\n%lld\n", s->addr, s->csrf, (long long)s->expires);
    if (n < 0 || (size_t)n >= sizeof body) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -1;
    }
    if (fd_write_all(fd, body, (size_t)n) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(path);
        errno = e;
        return -1;
    }
    return 0;
}

int session_load(const char *root, const char *id, time_t now, struct session *s)
{
    char path[YUBIN_PATH_MAX], body[SESSION_FILE_MAX + 1], *nl1, *nl2, *nl3;
    uint64_t exp;
    ssize_t n;
    if (!web_token_ok(id)) {
        return 0;
    }
    if (session_path(root, id, path, sizeof path) < 0) {
        return -1;
    }
    n = fd_read_file(path, body, sizeof body);
    if (n < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    body[n] = '\0';
    nl1 = strchr(body, '\n');
    nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    nl3 = nl2 ? strchr(nl2 + 1, '\n') : NULL;
    if (!nl3 || (size_t)(nl1 - body) > ADDR_MAX || nl2 - nl1 - 1 != WEB_TOKEN_LEN
        || str_to_u64(nl2 + 1, (size_t)(nl3 - nl2 - 1), &exp) < 0) {
        return 0;
    }
    if ((time_t)exp <= now) {
        unlink(path);
        return 0;
    }
    memset(s, 0, sizeof *s);
    memcpy(s->addr, body, (size_t)(nl1 - body));
    memcpy(s->csrf, nl1 + 1, WEB_TOKEN_LEN);
    memcpy(s->id, id, WEB_TOKEN_LEN);
    s->expires = (time_t)exp;
    return 1;
}

int session_delete(const char *root, const char *id)
{
    char path[YUBIN_PATH_MAX];
    if (!web_token_ok(id)) {
        return 0;
    }
    if (session_path(root, id, path, sizeof path) < 0) {
        return -1;
    }
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

void session_sweep(const char *root, time_t now)
{
    char dir[YUBIN_PATH_MAX], body[SESSION_FILE_MAX + 1];
    struct dirent *e;
    size_t seen = 0;
    DIR *d;
    int dfd;
    if (str_fmt(dir, sizeof dir, "%s/web/sessions", root) < 0 || !(d = opendir(dir))) {
        return;
    }
    dfd = dirfd(d);
    while ((e = readdir(d)) && seen++ < WEB_SESSIONS_MAX) {
        char *last;
        uint64_t exp;
        ssize_t n;
        int fd;
        if (e->d_name[0] == '.') {
            continue;
        }
        fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            continue;
        }
        n = fd_read(fd, body, sizeof body - 1);
        close(fd);
        if (n <= 1) {
            continue;
        }
        body[n - 1] = '\0';     /* the final newline */
        last = strrchr(body, '\n');
        if (last && str_to_u64(last + 1, strlen(last + 1), &exp) == 0 && (time_t)exp <= now) {
            unlinkat(dfd, e->d_name, 0);
        }
    }
    closedir(d);
}

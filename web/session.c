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
#include <sys/stat.h>
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
    return session_path_in(root, "web/sessions", id, out, cap);
}

int session_path_in(const char *root, const char *dir, const char *id, char *out, size_t cap)
{
    br_sha256_context c;
    unsigned char h[br_sha256_SIZE];
    char name[2 * br_sha256_SIZE + 1];
    br_sha256_init(&c);
    br_sha256_update(&c, id, strlen(id));
    br_sha256_out(&c, h);
    hex(h, sizeof h, name);
    return str_fmt(out, cap, "%s/%s/%s", root, dir, name);
}

/* Parse a session file body[0..n): 1 well-formed (s filled but id), 0 not. */
static int session_parse(const char *body, size_t n, struct session *s)
{
    const char *f[5];
    size_t fl[5], k = 0, i, start = 0;
    uint64_t last, created;
    for (i = 0; i < n && k < 5; i++) {
        if (body[i] == '\n') {
            f[k] = body + start;
            fl[k++] = i - start;
            start = i + 1;
        }
    }
    if (k != 5 || start != n || fl[0] == 0 || fl[0] > ADDR_MAX || fl[1] != WEB_TOKEN_LEN
        || str_to_u64(f[2], fl[2], &last) < 0 || str_to_u64(f[3], fl[3], &created) < 0
        || fl[4] != 1 || (f[4][0] != 'm' && f[4][0] != 'a')) {
        return 0;
    }
    memset(s, 0, sizeof *s);
    memcpy(s->addr, f[0], fl[0]);
    memcpy(s->csrf, f[1], WEB_TOKEN_LEN);
    s->admin = f[4][0] == 'a';
    s->last = (time_t)last;
    s->created = (time_t)created;
    s->expires = s->last + WEB_SESSION_SECONDS;
    if (s->expires > s->created + WEB_SESSION_MAX_SECONDS) {
        s->expires = s->created + WEB_SESSION_MAX_SECONDS;
    }
    return 1;
}

static int session_body(const struct session *s, char *body, size_t cap)
{
    int n = snprintf(body, cap, "%s\n%s\n%lld\n%lld\n%c\n", s->addr, s->csrf, (long long)s->last,
                     (long long)s->created, s->admin ? 'a' : 'm');
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return n;
}

int session_create(const char *root, const char *addr, int admin, time_t now, struct session *s)
{
    char id[WEB_TOKEN_LEN + 1];
    return session_token(id) < 0 ? -1 : session_create_id(root, id, addr, admin, now, s);
}

int session_create_id(const char *root, const char *id, const char *addr, int admin, time_t now,
                      struct session *s)
{
    char path[YUBIN_PATH_MAX], body[SESSION_FILE_MAX];
    int fd, n;
    memset(s, 0, sizeof *s);
    if (!web_token_ok(id) || str_fmt(s->id, sizeof s->id, "%s", id) < 0
        || str_fmt(s->addr, sizeof s->addr, "%s", addr) < 0
        || session_token(s->csrf) < 0 || session_path(root, s->id, path, sizeof path) < 0) {
        errno = errno ? errno : EINVAL;
        return -1;
    }
    s->admin = admin;
    s->last = s->created = now;
    s->expires = now + WEB_SESSION_SECONDS;
    n = session_body(s, body, sizeof body);
    if (n < 0) {
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

/* The file of s with its last use moved to now: a new file renamed over the old one. */
static void session_touch(const char *path, struct session *s, time_t now)
{
    char tmp[YUBIN_PATH_MAX], body[SESSION_FILE_MAX];
    int fd, n;
    s->last = now;
    n = session_body(s, body, sizeof body);
    if (n < 0 || str_fmt(tmp, sizeof tmp, "%s.%ld", path, (long)getpid()) < 0) {
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return;
    }
    if (fd_write_all(fd, body, (size_t)n) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
    }
}

int session_load(const char *root, const char *id, time_t now, int touch, struct session *s)
{
    char path[YUBIN_PATH_MAX], body[SESSION_FILE_MAX + 1];
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
    if (!session_parse(body, (size_t)n, s)) {
        return 0;
    }
    if (s->expires <= now) {
        if (touch) {
            unlink(path);
        }
        return 0;
    }
    memcpy(s->id, id, WEB_TOKEN_LEN);
    s->id[WEB_TOKEN_LEN] = '\0';
    if (touch && now - s->last >= WEB_SESSION_TOUCH) {
        session_touch(path, s, now);
        s->expires = s->last + WEB_SESSION_SECONDS;
        if (s->expires > s->created + WEB_SESSION_MAX_SECONDS) {
            s->expires = s->created + WEB_SESSION_MAX_SECONDS;
        }
    }
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

/* Each session file of the folder, at most WEB_SESSIONS_MAX: fn(dfd, name, parsed or NULL,
   the file's age in seconds). */
static int session_each(const char *root, void (*fn)(int, const char *, const struct session *,
                                                     time_t, void *), void *ctx)
{
    char dir[YUBIN_PATH_MAX], body[SESSION_FILE_MAX + 1];
    struct dirent *e;
    size_t seen = 0;
    DIR *d;
    int dfd;
    if (str_fmt(dir, sizeof dir, "%s/web/sessions", root) < 0 || !(d = opendir(dir))) {
        return -1;
    }
    dfd = dirfd(d);
    while ((e = readdir(d)) && seen++ < WEB_SESSIONS_MAX) {
        struct session s;
        struct stat st;
        ssize_t n;
        int fd;
        if (e->d_name[0] == '.' || strchr(e->d_name, '.')) {
            continue;       /* ".", "..", a touch's temporary file */
        }
        fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            continue;
        }
        n = fd_read(fd, body, sizeof body - 1);
        if (fstat(fd, &st) < 0) {
            st.st_mtime = time(NULL);
        }
        close(fd);
        fn(dfd, e->d_name, n > 0 && session_parse(body, (size_t)n, &s) ? &s : NULL,
           time(NULL) - st.st_mtime, ctx);
    }
    closedir(d);
    return 0;
}

/* An expired session goes; so does a file that is no session (an older version's format, a
   torn write) once it is older than any session can live. */
static void sweep_one(int dfd, const char *name, const struct session *s, time_t age, void *ctx)
{
    if (s ? s->expires <= *(const time_t *)ctx : age > WEB_SESSION_MAX_SECONDS) {
        unlinkat(dfd, name, 0);
    }
}

void session_sweep(const char *root, time_t now)
{
    session_each(root, sweep_one, &now);
}

struct others {
    const char *login;
    int admin;
    char keep[YUBIN_PATH_MAX];
};

static void end_one(int dfd, const char *name, const struct session *s, time_t age, void *ctx)
{
    (void)age;
    const struct others *o = ctx;
    if (s && s->admin == o->admin && strcmp(s->addr, o->login) == 0
        && strcmp(name, o->keep) != 0) {
        unlinkat(dfd, name, 0);
    }
}

int session_end_others(const char *root, const char *login, int admin, const char *keep_id)
{
    struct others o;
    char path[YUBIN_PATH_MAX];
    o.login = login;
    o.admin = admin;
    o.keep[0] = '\0';
    if (keep_id && web_token_ok(keep_id) && session_path(root, keep_id, path, sizeof path) == 0) {
        str_fmt(o.keep, sizeof o.keep, "%s", strrchr(path, '/') + 1);
    }
    return session_each(root, end_one, &o);
}

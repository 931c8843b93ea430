/* session.c: server-side sessions of the member page in ROOT/web/sessions (session.h) */
#include "session.h"

#include "digest.h"
#include "fd.h"
#include "str.h"

#include <bearssl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_FILE_MAX (ADDR_MAX + 2 * WEB_TOKEN_LEN + ACCT_PWID_LEN + 32)

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
    digest_hex(r, sizeof r, out);
    return 0;
}

#define SESSION_NAME_LEN DIGEST_HEX_LEN     /* a file's name: a SHA-256 in hex */

/* 1 if s is a file name this module makes (SESSION_NAME_LEN lower-case hex digits) */
static int name_ok(const char *s)
{
    size_t i;
    for (i = 0; i < SESSION_NAME_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[SESSION_NAME_LEN] == '\0';
}

/* The name of a login's folder in ROOT/web/logins: SHA256(KIND "\n" LOGIN) */
static void login_key(const char *login, int admin, char *out)
{
    br_sha256_context c;
    unsigned char h[br_sha256_SIZE];
    br_sha256_init(&c);
    br_sha256_update(&c, admin ? "a\n" : "m\n", 2);
    br_sha256_update(&c, login, strlen(login));
    br_sha256_out(&c, h);
    digest_hex(h, sizeof h, out);
}

/* ROOT/web/SUB (sessions, logins) as a directory fd, made (0700) when create and missing.
   ROOT/web is in ROOT, which only root writes; SUB is the web uid's, so a symbolic link there
   is not followed (mailacct, root, removes names in it). fd, or -1 (errno). */
static int web_dir(const char *root, const char *sub, int create)
{
    char path[YUBIN_PATH_MAX];
    int web, fd;
    if (str_fmt(path, sizeof path, "%s/web", root) < 0) {
        return -1;
    }
    web = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (web < 0) {
        return -1;
    }
    if (create && mkdirat(web, sub, 0700) < 0 && errno != EEXIST) {
        fd = -1;
    } else {
        fd = openat(web, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        close(web);
        errno = e;
        return -1;
    }
    close(web);
    return fd;
}

/* The login's folder goes once it holds no name. A login making a session in it holds its
   lock meanwhile (and makes the folder again should it have gone just before: login_lock). */
static void login_tidy(int logins, const char *key)
{
    int fd = openat(logins, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        (void)unlinkat(logins, key, AT_REMOVEDIR);     /* fails while it holds a name */
    }
    close(fd);
}

/* The session file name taken out of its login's folder (the session is ended), and the
   folder tidied. */
static void session_unlist(const char *root, const struct session *s, const char *name)
{
    char key[SESSION_NAME_LEN + 1], entry[2 * SESSION_NAME_LEN + 2];
    int logins = web_dir(root, "logins", 0);
    if (logins < 0) {
        return;
    }
    login_key(s->addr, s->admin, key);
    if (str_fmt(entry, sizeof entry, "%s/%s", key, name) == 0) {
        (void)unlinkat(logins, entry, 0);
    }
    login_tidy(logins, key);
    close(logins);
}

/* ROOT/web/sessions/SHA256(id) */
static int session_path(const char *root, const char *id, char *out, size_t cap)
{
    return session_path_in(root, "web/sessions", id, out, cap);
}

int session_path_in(const char *root, const char *dir, const char *id, char *out, size_t cap)
{
    char name[SESSION_NAME_LEN + 1];
    digest_sha256_hex(id, strlen(id), name);
    return str_fmt(out, cap, "%s/%s/%s", root, dir, name);
}

/* 1 if s[0..n) is a password fingerprint as users.cdb writes it (ACCT_PWID_LEN lower hex) */
static int pwid_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return n == ACCT_PWID_LEN;
}

/* Parse a session file body[0..n): 1 well-formed (s filled but id), 0 not. The sixth line, the
   fingerprint, is missing in a file from before it (s->pwid ""). */
static int session_parse(const char *body, size_t n, struct session *s)
{
    const char *f[6];
    size_t fl[6], k = 0, i, start = 0;
    uint64_t last, created;
    for (i = 0; i < n && k < 6; i++) {
        if (body[i] == '\n') {
            f[k] = body + start;
            fl[k++] = i - start;
            start = i + 1;
        }
    }
    if (k < 5 || start != n || fl[0] == 0 || fl[0] > ADDR_MAX || fl[1] != WEB_TOKEN_LEN
        || str_to_u64(f[2], fl[2], &last) < 0 || str_to_u64(f[3], fl[3], &created) < 0
        || fl[4] != 1 || (f[4][0] != 'm' && f[4][0] != 'a') || (k == 6 && !pwid_ok(f[5], fl[5]))) {
        return 0;
    }
    memset(s, 0, sizeof *s);
    memcpy(s->addr, f[0], fl[0]);
    memcpy(s->csrf, f[1], WEB_TOKEN_LEN);
    s->admin = f[4][0] == 'a';
    if (k == 6) {
        memcpy(s->pwid, f[5], ACCT_PWID_LEN);
    }
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
    int n = snprintf(body, cap, "%s\n%s\n%lld\n%lld\n%c\n%s%s", s->addr, s->csrf,
                     (long long)s->last, (long long)s->created, s->admin ? 'a' : 'm', s->pwid,
                     s->pwid[0] ? "\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return n;
}

int session_create(const char *root, const char *addr, int admin, const char *pwid, time_t now,
                   struct session *s)
{
    char id[WEB_TOKEN_LEN + 1];
    return session_token(id) < 0 ? -1 : session_create_id(root, id, addr, admin, pwid, now, s);
}

/* The session file name in the folder dfd, parsed: 1 (s filled but id), 0 none or not one. */
static int session_read_at(int dfd, const char *name, struct session *s)
{
    char body[SESSION_FILE_MAX + 1];
    ssize_t n;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = fd_read(fd, body, sizeof body - 1);
    close(fd);
    return n > 0 && session_parse(body, (size_t)n, s);
}

/* The login's folder in logins, made when missing, locked (flock; closing it unlocks): fd, or
   -1. One that login_tidy removed between the open and the lock is made again. */
static int login_lock(int logins, const char *key)
{
    int tries;
    for (tries = 0; tries < 3; tries++) {
        struct stat st;
        int fd;
        if (mkdirat(logins, key, 0700) < 0 && errno != EEXIST) {
            return -1;
        }
        fd = openat(logins, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;
            }
            return -1;
        }
        if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (st.st_nlink > 0) {
            return fd;
        }
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

/* The live sessions named in a login's folder lk (their files in sess) are counted, and the
   oldest one found: by its name's time (set at the login to the clock's nanosecond, never
   changed; the session's own CREATED is in seconds, and a script logs in many times a
   second). A name whose session is gone, expired or not of this login is taken out. */
struct census {
    size_t live;
    struct timespec oldest;
    char oldest_name[SESSION_NAME_LEN + 1];
};

static int older(const struct timespec *a, const char *an, const struct timespec *b,
                 const char *bn)
{
    if (a->tv_sec != b->tv_sec) {
        return a->tv_sec < b->tv_sec;
    }
    if (a->tv_nsec != b->tv_nsec) {
        return a->tv_nsec < b->tv_nsec;
    }
    return strcmp(an, bn) < 0;
}

static int login_census(int lk, int sess, const char *login, int admin, time_t now,
                        struct census *c)
{
    struct dirent *e;
    int fd = openat(lk, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    memset(c, 0, sizeof *c);
    while ((e = readdir(d)) != NULL) {
        struct session s;
        struct stat st;
        if (!name_ok(e->d_name) || fstatat(lk, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (!session_read_at(sess, e->d_name, &s) || s.admin != admin
            || strcmp(s.addr, login) != 0 || s.expires <= now) {
            (void)unlinkat(lk, e->d_name, 0);
            continue;
        }
        if (c->live++ == 0 || older(&st.st_mtim, e->d_name, &c->oldest, c->oldest_name)) {
            c->oldest = st.st_mtim;
            memcpy(c->oldest_name, e->d_name, sizeof c->oldest_name);
        }
    }
    closedir(d);
    return 0;
}

/* Room for one more session of the login: its oldest end while WEB_SESSIONS_PER_LOGIN are
   live. lk is locked. */
static int login_make_room(int lk, int sess, const char *login, int admin, time_t now)
{
    struct census c;
    for (;;) {
        if (login_census(lk, sess, login, admin, now, &c) < 0) {
            return -1;
        }
        if (c.live < WEB_SESSIONS_PER_LOGIN) {
            return 0;
        }
        /* ended: session_load wants the name. A name that cannot be removed would be counted
           again at the next census: stop rather than go round for ever. */
        if (unlinkat(lk, c.oldest_name, 0) < 0 && errno != ENOENT) {
            return -1;
        }
        (void)unlinkat(sess, c.oldest_name, 0);
    }
}

/* The name of a new session in its login's folder lk, its time the clock's to the nanosecond
   (a file's own is the kernel's tick): the order of the logins, for login_census. 0, -1. */
static int login_name_add(int lk, const char *name)
{
    struct timespec times[2];
    int fd = openat(lk, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), ok, e;
    if (fd < 0) {
        return -1;
    }
    ok = clock_gettime(CLOCK_REALTIME, &times[0]) == 0;
    if (ok) {
        times[1] = times[0];
        ok = futimens(fd, times) == 0;
    }
    e = errno;
    if (close(fd) < 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        (void)unlinkat(lk, name, 0);
        errno = e;
        return -1;
    }
    return 0;
}

int session_create_id(const char *root, const char *id, const char *addr, int admin,
                      const char *pwid, time_t now, struct session *s)
{
    char name[SESSION_NAME_LEN + 1], key[SESSION_NAME_LEN + 1], body[SESSION_FILE_MAX];
    int sess = -1, logins = -1, lk = -1, fd, n, rc = -1, e = 0;
    memset(s, 0, sizeof *s);
    if (!web_token_ok(id) || str_fmt(s->id, sizeof s->id, "%s", id) < 0
        || str_fmt(s->addr, sizeof s->addr, "%s", addr) < 0
        || str_fmt(s->pwid, sizeof s->pwid, "%s", pwid ? pwid : "") < 0
        || (s->pwid[0] && !pwid_ok(s->pwid, strlen(s->pwid))) || session_token(s->csrf) < 0) {
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
    digest_sha256_hex(id, strlen(id), name);
    login_key(s->addr, admin, key);
    if ((sess = web_dir(root, "sessions", 0)) < 0 || (logins = web_dir(root, "logins", 1)) < 0
        || (lk = login_lock(logins, key)) < 0
        || login_make_room(lk, sess, s->addr, admin, now) < 0) {
        e = errno;
        goto done;
    }
    /* the file, then its name in the login's folder: stopped in between, it is a file no
       login names (never live), which the sweep removes */
    fd = openat(sess, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        e = errno;
        goto done;
    }
    if (fd_write_all(fd, body, (size_t)n) < 0 || close(fd) < 0) {
        e = errno;
        (void)unlinkat(sess, name, 0);
        goto done;
    }
    if (login_name_add(lk, name) < 0) {
        e = errno;
        (void)unlinkat(sess, name, 0);
        goto done;
    }
    rc = 0;
done:
    if (lk >= 0) {
        close(lk);
    }
    if (logins >= 0) {
        close(logins);
    }
    if (sess >= 0) {
        close(sess);
    }
    if (rc < 0) {
        errno = e ? e : EIO;
    }
    return rc;
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

/* 1 if the login's folder names the session file name (it was not ended) */
static int session_listed(const char *root, const struct session *s, const char *name)
{
    char key[SESSION_NAME_LEN + 1], path[YUBIN_PATH_MAX];
    struct stat st;
    login_key(s->addr, s->admin, key);
    return str_fmt(path, sizeof path, "%s/web/logins/%s/%s", root, key, name) == 0
           && fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int session_load(const char *root, const char *id, time_t now, int touch, struct session *s)
{
    char path[YUBIN_PATH_MAX], body[SESSION_FILE_MAX + 1];
    const char *name;
    ssize_t n;
    if (!web_token_ok(id)) {
        return 0;
    }
    if (session_path(root, id, path, sizeof path) < 0) {
        return -1;
    }
    name = strrchr(path, '/') + 1;
    n = fd_read_file(path, body, sizeof body);
    if (n < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (!session_parse(body, (size_t)n, s)) {
        return 0;
    }
    if (s->expires <= now) {
        if (touch) {
            session_unlist(root, s, name);
            unlink(path);
        }
        return 0;
    }
    if (!session_listed(root, s, name)) {
        return 0;       /* ended (a new password, a deletion, the login's cap), or older */
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
    char path[YUBIN_PATH_MAX], body[SESSION_FILE_MAX + 1];
    struct session s;
    ssize_t n;
    if (!web_token_ok(id)) {
        return 0;
    }
    if (session_path(root, id, path, sizeof path) < 0) {
        return -1;
    }
    n = fd_read_file(path, body, sizeof body);
    if (n > 0 && session_parse(body, (size_t)n, &s)) {
        session_unlist(root, &s, strrchr(path, '/') + 1);
    }
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Each session file of the folder, at most WEB_SESSIONS_MAX: fn(dfd, name, parsed or NULL,
   the file's age in seconds). */
static int session_each(const char *root, void (*fn)(int, const char *, const struct session *,
                                                     time_t, void *), void *ctx)
{
    char body[SESSION_FILE_MAX + 1];
    struct dirent *e;
    size_t seen = 0;
    DIR *d;
    int dfd = web_dir(root, "sessions", 0);
    if (dfd < 0 || !(d = fdopendir(dfd))) {
        if (dfd >= 0) {
            close(dfd);
        }
        return -1;
    }
    while ((e = readdir(d)) && seen++ < WEB_SESSIONS_MAX) {
        struct session s;
        struct stat st;
        ssize_t n;
        int fd;
        if (!name_ok(e->d_name)) {
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

struct sweep {
    const char *root;
    time_t now;
};

/* An expired session goes, its name in its login's folder first; so does a file that is no
   session (an older version's format, a torn write) once it is older than any session can
   live. A file no login names (a login stopped halfway) is never live, and goes when it
   expires. */
static void sweep_one(int dfd, const char *name, const struct session *s, time_t age, void *ctx)
{
    const struct sweep *w = ctx;
    if (s && s->expires <= w->now) {
        session_unlist(w->root, s, name);
        unlinkat(dfd, name, 0);
    } else if (age > WEB_SESSION_MAX_SECONDS) {
        unlinkat(dfd, name, 0);
    }
}

void session_sweep(const char *root, time_t now)
{
    struct sweep w = { root, now };
    session_each(root, sweep_one, &w);
}

/* 1 if acctd's record name in the folder recs is of domain (its first line) */
static int admin_record_of(int recs, const char *name, const char *domain)
{
    char body[SMTP_DOMAIN_MAX + 2];
    size_t dl = strlen(domain);
    ssize_t n;
    int fd = openat(recs, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = fd_read(fd, body, sizeof body);
    close(fd);
    return n > 0 && (size_t)n > dl && memcmp(body, domain, dl) == 0 && body[dl] == '\n';
}

int session_end_others(const char *root, const char *login, int admin, const char *keep_id)
{
    char key[SESSION_NAME_LEN + 1], keep[SESSION_NAME_LEN + 1], path[YUBIN_PATH_MAX];
    struct dirent *e;
    DIR *d;
    int logins, lk, sess, recs = -1, fd, err;
    login_key(login, admin, key);
    keep[0] = '\0';
    if (keep_id && web_token_ok(keep_id)) {
        digest_sha256_hex(keep_id, strlen(keep_id), keep);
    }
    logins = web_dir(root, "logins", 0);
    if (logins < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    lk = openat(logins, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (lk < 0) {
        err = errno;
        close(logins);
        errno = err;
        return err == ENOENT ? 0 : -1;
    }
    sess = web_dir(root, "sessions", 0);
    if (admin && str_fmt(path, sizeof path, "%s/%s", root, SESSION_ADMIN_DIR) == 0) {
        recs = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);  /* root's */
    }
    fd = openat(lk, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d = fd < 0 ? NULL : fdopendir(fd);
    err = d ? 0 : errno;
    while (d && (e = readdir(d)) != NULL) {
        if (!name_ok(e->d_name) || strcmp(e->d_name, keep) == 0) {
            continue;
        }
        (void)unlinkat(lk, e->d_name, 0);           /* ended: session_load wants the name */
        if (sess >= 0) {
            (void)unlinkat(sess, e->d_name, 0);
        }
        if (recs >= 0 && admin_record_of(recs, e->d_name, login)) {
            (void)unlinkat(recs, e->d_name, 0);
        }
    }
    if (d) {
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    if (!keep[0]) {
        login_tidy(logins, key);
    }
    close(lk);
    close(logins);
    if (sess >= 0) {
        close(sess);
    }
    if (recs >= 0) {
        close(recs);
    }
    errno = err;
    return err ? -1 : 0;
}

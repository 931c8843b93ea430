/* acctsys.c: the system side of mailacct: Maildirs, the trash, passwords and their hashes */
#include "acctsys.h"

#include "fd.h"
#include "limits.h"
#include "maildir.h"
#include "str.h"

#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mkdir with mode; chown to the mailbox user when root. EEXIST is fine. */
static int mkdir_owned(const char *path, mode_t mode, const struct passwd *pw)
{
    if (mkdir(path, mode) < 0) {
        if (errno != EEXIST) {
            return -1;
        }
        return 0;
    }
    if (pw && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
        return -1;
    }
    return 0;
}

static const struct passwd *mbox_user(void)
{
    return geteuid() == 0 ? getpwnam(MBOX_USER) : NULL;
}

int acctsys_maildir(const char *root, const char *home)
{
    const struct passwd *pw = mbox_user();
    char path[YUBIN_PATH_MAX], dom[YUBIN_PATH_MAX];
    const char *slash = strrchr(home, '/');

    if (!slash || str_fmt(path, sizeof path, "%s/mail", root) < 0
        || (mkdir(path, 0755) < 0 && errno != EEXIST)) {
        return -1;
    }
    if (str_fmt(dom, sizeof dom, "%s/%.*s", root, (int)(slash - home), home) < 0
        || mkdir_owned(dom, 0700, pw) < 0) {
        return -1;
    }
    if (str_fmt(path, sizeof path, "%s/%s", root, home) < 0 || mkdir_owned(path, 0700, pw) < 0
        || str_fmt(path, sizeof path, "%s/%s/Maildir", root, home) < 0
        || mkdir_owned(path, 0700, pw) < 0) {
        return -1;
    }
    if (maildir_create(path, pw ? pw->pw_uid : (uid_t)-1, pw ? pw->pw_gid : (gid_t)-1) < 0) {
        return -1;
    }
    if (str_fmt(path, sizeof path, "%s/%s/Maildir", root, home) < 0 || fd_fsync_dir(path) < 0
        || str_fmt(path, sizeof path, "%s/%s", root, home) < 0 || fd_fsync_dir(path) < 0) {
        return -1;
    }
    return fd_fsync_dir(dom);
}

int acctsys_trash(const char *root, const char *addr, const char *home, char *dest, size_t cap)
{
    char from[YUBIN_PATH_MAX], to[YUBIN_PATH_MAX], trash[YUBIN_PATH_MAX];
    long now = (long)time(NULL);
    struct stat st;
    int k;

    if (str_fmt(from, sizeof from, "%s/%s", root, home) < 0) {
        return -1;
    }
    if (lstat(from, &st) < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (str_fmt(trash, sizeof trash, "%s/trash", root) < 0
        || mkdir_owned(trash, 0700, mbox_user()) < 0) {
        return -1;
    }
    for (k = 0; k < 100; k++) {
        int r = k ? str_fmt(dest, cap, "trash/%s.%ld.%d", addr, now, k)
                  : str_fmt(dest, cap, "trash/%s.%ld", addr, now);
        if (r < 0 || str_fmt(to, sizeof to, "%s/%s", root, dest) < 0) {
            return -1;
        }
        if (lstat(to, &st) == 0) {
            continue;
        }
        if (rename(from, to) < 0) {
            return -1;
        }
        return fd_fsync_dir(trash) < 0 ? -1 : 1;
    }
    errno = EEXIST;
    return -1;
}

int acctsys_random_password(char *out, size_t cap)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const size_t n = sizeof alphabet - 1;            /* 55 */
    const unsigned limit = (unsigned)(256 / n * n);  /* reject bytes >= 220: no bias */
    unsigned char rb[64];
    size_t got = 0, i = 0;

    if (cap < PASSWORD_RANDOM_LEN + 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    while (got < PASSWORD_RANDOM_LEN) {
        if (i == 0 || i == sizeof rb) {
            ssize_t r = getrandom(rb, sizeof rb, 0);
            if (r != (ssize_t)sizeof rb) {
                if (r < 0 && errno == EINTR) {
                    continue;
                }
                return -1;
            }
            i = 0;
        }
        if (rb[i] < limit) {
            out[got++] = alphabet[rb[i] % n];
        }
        i++;
    }
    out[got] = '\0';
    explicit_bzero(rb, sizeof rb);
    return 0;
}

int acctsys_password_ok(const char *pw)
{
    size_t n = strlen(pw);
    return n > 0 && n <= AUTH_FIELD_MAX && !str_has_ctl(pw, n);
}

int acctsys_hash(const char *pw, char *out, size_t cap)
{
    const char *want = getenv("YUBIN_HASH");
    const char *prefix = want && strcmp(want, "yescrypt") == 0 ? "$y$" : "$6$";
    char rb[32];
    char *setting;
    struct crypt_data *cd;
    const char *h;
    int r = -1;

    if (getrandom(rb, sizeof rb, 0) != (ssize_t)sizeof rb) {
        return -1;
    }
    setting = crypt_gensalt_ra(prefix, 0, rb, (int)sizeof rb);
    explicit_bzero(rb, sizeof rb);
    if (!setting) {
        return -1;
    }
    cd = calloc(1, sizeof *cd);
    if (!cd) {
        free(setting);
        errno = ENOMEM;
        return -1;
    }
    h = crypt_r(pw, setting, cd);
    if (h && h[0] == '$' && strncmp(h, prefix, 3) == 0) {
        r = str_fmt(out, cap, "%s", h);
    } else {
        errno = EINVAL;
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    free(setting);
    return r;
}

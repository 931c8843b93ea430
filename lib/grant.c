/* grant.c: POP-before-SMTP grants in ROOT/relay/IP */
#include "grant.h"
#include "addr.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int grant_path(char *out, size_t cap, const char *root, const char *ip)
{
    if (!str_ip_text_ok(ip)) {
        errno = EINVAL;
        return -1;
    }
    return str_fmt(out, cap, "%s/relay/%s", root, ip);
}

int grant_write(const char *root, const char *ip, const char *account)
{
    char path[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX], rec[ADDR_MAX + 2];
    size_t n = strlen(account);
    int fd;
    if (!addr_map_ok(account, n) || n > ADDR_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* the temporary name holds "tmp", which no IP text address does (str_ip_text_ok) */
    if (grant_path(path, sizeof path, root, ip) < 0
        || str_fmt(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
        return -1;
    }
    memcpy(rec, account, n);
    rec[n] = '\n';
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        return -1;
    }
    if (fd_write_all(fd, rec, n + 1) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* Seconds since mtime, or -1 when it lies ahead of now by more than a second. A file just
   written can carry a time a tick ahead of time(): the kernel stamps files from a finer clock
   than the one time() reads (multigrain timestamps, Linux 6.13+), so across a second
   boundary a grant written this instant could look written in the next second. */
static long age_of(time_t mtime, time_t now)
{
    if (mtime > now + 1) {
        return -1;
    }
    return mtime >= now ? 0 : (long)(now - mtime);
}

int grant_check(const char *root, const char *ip, unsigned long window, char *account,
                size_t cap)
{
    char path[YUBIN_PATH_MAX], rec[ADDR_MAX + 2];
    struct stat st;
    time_t now = time(NULL);
    ssize_t n;
    long age;
    int fd;
    if (grant_path(path, sizeof path, root, ip) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return (errno == ENOENT) ? 0 : -1;
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    age = age_of(st.st_mtime, now);
    if (age < 0 || (unsigned long)age >= window) {
        close(fd);
        return 0;
    }
    n = fd_read_full(fd, rec, sizeof rec);
    close(fd);
    if (n < 0) {
        return -1;
    }
    /* exactly "ACCOUNT\n": a longer record fills rec and has no newline at n - 1 */
    if (n < 2 || rec[n - 1] != '\n' || !addr_map_ok(rec, (size_t)n - 1)
        || (size_t)n > cap) {
        errno = EINVAL;
        return -1;
    }
    memcpy(account, rec, (size_t)n - 1);
    account[n - 1] = '\0';
    return 1;
}

/* 1 if the sweep is due: relay/.sweep is older than the interval (or missing); its mtime is
   set to now first, so concurrent sweepers mostly skip. */
static int sweep_due(const char *dir, unsigned long window, time_t now)
{
    char mark[YUBIN_PATH_MAX];
    unsigned long every = window < GRANT_SWEEP_EVERY ? window : GRANT_SWEEP_EVERY;
    struct stat st;
    long age;
    int fd;
    if (str_fmt(mark, sizeof mark, "%s/.sweep", dir) < 0) {
        return -1;
    }
    if (stat(mark, &st) == 0 && (age = age_of(st.st_mtime, now)) >= 0
        && (unsigned long)age < every) {
        return 0;
    }
    fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        return -1;
    }
    (void)futimens(fd, NULL);
    close(fd);
    return 1;
}

long grant_sweep(const char *root, unsigned long window)
{
    char dir[YUBIN_PATH_MAX];
    time_t now = time(NULL);
    struct dirent *e;
    long removed = 0, age;
    DIR *d;
    int due;
    if (str_fmt(dir, sizeof dir, "%s/relay", root) < 0) {
        return -1;
    }
    due = sweep_due(dir, window, now);
    if (due <= 0) {
        return due;
    }
    d = opendir(dir);
    if (!d) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        size_t n = strlen(e->d_name);
        int tmp = n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0;
        if (e->d_name[0] == '.' || (!tmp && !str_ip_text_ok(e->d_name))) {
            continue;
        }
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        /* a grant renewed between the stat and the unlink is lost: the client logs in again */
        age = age_of(st.st_mtime, now);
        if (age >= 0 && (unsigned long)age >= window && unlinkat(dirfd(d), e->d_name, 0) == 0) {
            removed++;
        }
    }
    closedir(d);
    return removed;
}

/* usage.c: per-account usage summaries in ROOT/quota/ADDRESS */
#include "usage.h"
#include "addr.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int usage_path(char *out, size_t cap, const char *root, const char *addr)
{
    if (!addr_map_ok(addr, strlen(addr))) {
        errno = EINVAL;
        return -1;
    }
    return str_fmt(out, cap, "%s/quota/%s", root, addr);
}

/* The record: "BYTES COUNT CHECK\n", each field zero-padded to a fixed width so that a rewrite
   in place covers the old record exactly. CHECK lets a reader that raced a writer (a read may
   see part of a concurrent write) tell a torn record from a real one. */
#define USAGE_REC_LEN (20 + 1 + 20 + 1 + 10 + 1)
#define USAGE_READ_TRIES 3
/* smtpd reads the summary through its group: the quota/ folder is setgid yubin-smtpd (2750,
   yubin-setup), so a new file takes that group; the mode is set with fchmod because the
   writers' umasks differ (deliver's is 077). */
#define USAGE_MODE 0640

static unsigned long usage_check(unsigned long long b, unsigned long long c)
{
    return (unsigned long)((b * 1000003ULL + c * 7919ULL + 17ULL) % 4294967291ULL);
}

static int usage_format(char *line, size_t cap, uint64_t bytes, uint64_t count)
{
    int n = snprintf(line, cap, "%020llu %020llu %010lu\n", (unsigned long long)bytes,
                     (unsigned long long)count, usage_check(bytes, count));
    return n == USAGE_REC_LEN ? 0 : -1;
}

int usage_read(const char *root, const char *addr, uint64_t *bytes, uint64_t *count)
{
    char path[YUBIN_PATH_MAX], line[USAGE_REC_LEN + 16];
    unsigned long long b, c;
    unsigned long k;
    int tries;

    if (usage_path(path, sizeof path, root, addr) < 0) {
        return -1;
    }
    for (tries = 0; tries < USAGE_READ_TRIES; tries++) {
        ssize_t n;
        int fields, fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return errno == ENOENT ? 0 : -1;
        }
        n = fd_read_full(fd, line, sizeof line - 1);
        close(fd);
        if (n < 0) {
            return -1;
        }
        line[n] = '\0';
        fields = sscanf(line, "%llu %llu %lu", &b, &c, &k);
        if (fields == 2 || (fields == 3 && k == usage_check(b, c))) {
            *bytes = b;     /* two fields: a summary written before the CHECK field */
            *count = c;
            return 1;
        }
    }
    errno = EINVAL;
    return -1;
}

/* A new summary: write a temporary file and rename it into place. */
static int usage_create(const char *path, const char *line)
{
    char tmp[YUBIN_PATH_MAX];
    int fd;

    if (str_fmt(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, USAGE_MODE);
    if (fd < 0) {
        return -1;
    }
    if (fchmod(fd, USAGE_MODE) < 0 || fd_write_all(fd, line, USAGE_REC_LEN) < 0
        || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* 1 if a summary smtpd cannot read (an older version wrote it under deliver's umask 077, or
   with the writer's own group) must be replaced by a new file, which gets the mode and the
   folder's group; 0 if it is fine, or if the folder is not setgid (a new file would not be
   better: yubin-setup sets the folder up). */
static int usage_unreadable(int fd, const char *root)
{
    char dir[YUBIN_PATH_MAX];
    struct stat st, dst;

    if (fstat(fd, &st) < 0 || str_fmt(dir, sizeof dir, "%s/quota", root) < 0
        || stat(dir, &dst) < 0) {
        return 0;
    }
    if ((st.st_mode & 07777) != USAGE_MODE) {
        return 1;
    }
    return (dst.st_mode & S_ISGID) && st.st_gid != dst.st_gid;
}

/* An existing summary is rewritten in place by one pwrite of the fixed-width record: no new
   file per delivery (creating and deleting a file per message is costly on ext4). Writers
   exclude each other per write; the last one wins, as with rename. */
int usage_write(const char *root, const char *addr, uint64_t bytes, uint64_t count)
{
    char path[YUBIN_PATH_MAX], line[USAGE_REC_LEN + 1];
    ssize_t w;
    int fd;

    if (usage_path(path, sizeof path, root, addr) < 0
        || usage_format(line, sizeof line, bytes, count) < 0) {
        return -1;
    }
    fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? usage_create(path, line) : -1;
    }
    if (usage_unreadable(fd, root)) {
        close(fd);
        return usage_create(path, line);
    }
    do {
        w = pwrite(fd, line, USAGE_REC_LEN, 0);
    } while (w < 0 && errno == EINTR);
    if (w != USAGE_REC_LEN) {
        int e = w < 0 ? errno : EIO;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

int usage_forget(const char *root, const char *addr)
{
    char path[YUBIN_PATH_MAX];

    if (usage_path(path, sizeof path, root, addr) < 0) {
        return -1;
    }
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

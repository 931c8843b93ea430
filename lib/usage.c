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
#include <unistd.h>

static int usage_path(char *out, size_t cap, const char *root, const char *addr, const char *suffix)
{
    if (!addr_map_ok(addr, strlen(addr))) {
        errno = EINVAL;
        return -1;
    }
    return str_fmt(out, cap, "%s/quota/%s%s", root, addr, suffix);
}

int usage_read(const char *root, const char *addr, uint64_t *bytes, uint64_t *count)
{
    char path[YUBIN_PATH_MAX], line[64];
    unsigned long long b, c;
    ssize_t n;
    int fd;

    if (usage_path(path, sizeof path, root, addr, "") < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    n = fd_read_full(fd, line, sizeof line - 1);
    close(fd);
    if (n < 0) {
        return -1;
    }
    line[n] = '\0';
    if (sscanf(line, "%llu %llu", &b, &c) != 2) {
        errno = EINVAL;
        return -1;
    }
    *bytes = b;
    *count = c;
    return 1;
}

int usage_write(const char *root, const char *addr, uint64_t bytes, uint64_t count)
{
    char path[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX], line[64];
    int fd, n;

    if (usage_path(path, sizeof path, root, addr, "") < 0
        || str_fmt(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
        return -1;
    }
    n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)bytes,
                 (unsigned long long)count);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -1;
    }
    if (fd_write_all(fd, line, (size_t)n) < 0 || close(fd) < 0) {
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

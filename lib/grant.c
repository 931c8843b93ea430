/* grant.c: POP-before-SMTP grants in ROOT/relay/IP */
#include "grant.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
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

int grant_write(const char *root, const char *ip)
{
    char path[YUBIN_PATH_MAX];
    int fd;
    if (grant_path(path, sizeof path, root, ip) < 0) {
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        return -1;
    }
    if (futimens(fd, NULL) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

int grant_check(const char *root, const char *ip, unsigned long window)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    time_t now = time(NULL);
    if (grant_path(path, sizeof path, root, ip) < 0) {
        return -1;
    }
    if (stat(path, &st) < 0) {
        return (errno == ENOENT) ? 0 : -1;
    }
    return st.st_mtime <= now && (unsigned long)(now - st.st_mtime) < window;
}

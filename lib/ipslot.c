/* ipslot.c: per-IP session slots held by flock()ed files */
#include "ipslot.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int ipslot_take(const char *dir, const char *ip, unsigned long max)
{
    unsigned long i;
    if (!str_ip_text_ok(ip)) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < max; i++) {
        char path[YUBIN_PATH_MAX];
        int fd;
        if (str_fmt(path, sizeof path, "%s/%s.%lu", dir, ip, i) < 0) {
            return -1;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            return fd;
        }
        close(fd);
        if (errno != EWOULDBLOCK) {
            return -1;
        }
    }
    return -2;
}

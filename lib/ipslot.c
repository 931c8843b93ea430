/* ipslot.c: session slots (per client IP, per listener) held by flock()ed files */
#include "ipslot.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define PORT_DIGITS_MAX 5

static int slot_open(const char *dir, const char *key, unsigned long i)
{
    char path[YUBIN_PATH_MAX];
    if (str_fmt(path, sizeof path, "%s/%s.%lu", dir, key, i) < 0) {
        return -1;
    }
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* The lowest free slot of DIR/KEY.0 .. max-1 into *out; key checked by the caller.
   1 taken, 0 all taken, -1 error. */
static int slot_take(const char *dir, const char *key, unsigned long max, int *out)
{
    unsigned long i;
    for (i = 0; i < max; i++) {
        int fd = slot_open(dir, key, i);
        if (fd < 0) {
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *out = fd;
            return 1;
        }
        close(fd);
        if (errno != EWOULDBLOCK) {
            return -1;
        }
    }
    return 0;
}

/* key = "port-" PORT; -1 (EINVAL) unless port is 1 to 5 decimal digits. */
static int port_key(char *key, size_t cap, const char *port)
{
    size_t i, n = strlen(port);
    if (n == 0 || n > PORT_DIGITS_MAX) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (port[i] < '0' || port[i] > '9') {
            errno = EINVAL;
            return -1;
        }
    }
    return str_fmt(key, cap, "port-%s", port);
}

int ipslot_take(const char *dir, const char *ip, unsigned long max, int *fd)
{
    *fd = -1;
    if (!str_ip_text_ok(ip)) {
        errno = EINVAL;
        return -1;
    }
    return slot_take(dir, ip, max, fd);
}

int ipslot_port_take(const char *dir, const char *port, unsigned long max, int *fd)
{
    char key[sizeof "port-" + PORT_DIGITS_MAX];
    *fd = -1;
    if (port_key(key, sizeof key, port) < 0) {
        return -1;
    }
    return slot_take(dir, key, max, fd);
}

int ipslot_port_open(const char *dir, const char *port, unsigned long index)
{
    char key[sizeof "port-" + PORT_DIGITS_MAX];
    if (port_key(key, sizeof key, port) < 0) {
        return -1;
    }
    return slot_open(dir, key, index);
}

int ipslot_held(int fd)
{
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        return flock(fd, LOCK_UN) < 0 ? -1 : 0;
    }
    return errno == EWOULDBLOCK ? 1 : -1;
}

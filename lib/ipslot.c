/* ipslot.c: session slots (per client IP, per listener) held by flock()ed files */
#include "ipslot.h"
#include "limits.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORT_DIGITS_MAX 5
#define IPSLOT_TRIES 3                  /* a slot removed under us: taken again this often */
#define IPSLOT_SWEEP_SECS 600           /* unheld per-IP files are removed this often */
#define IPSLOT_SWEEP_MAX 1000000        /* directory entries looked at in one sweep */

static int slot_open(const char *dir, const char *key, unsigned long i)
{
    char path[YUBIN_PATH_MAX];
    if (str_fmt(path, sizeof path, "%s/%s.%lu", dir, key, i) < 0) {
        return -1;
    }
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* 1 if fd, locked, is still the file named DIR/KEY.I: the sweep may have removed it between
   our open and our lock (a slot in a removed file counts for nobody). */
static int slot_current(int fd, const char *dir, const char *key, unsigned long i)
{
    char path[YUBIN_PATH_MAX];
    struct stat a, b;
    return str_fmt(path, sizeof path, "%s/%s.%lu", dir, key, i) == 0 && fstat(fd, &a) == 0
           && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* The lowest free slot of DIR/KEY.0 .. max-1 into *out; key checked by the caller.
   1 taken, 0 all taken, -1 error. */
static int slot_take(const char *dir, const char *key, unsigned long max, int *out)
{
    unsigned long i = 0;
    int tries = 0;
    while (i < max) {
        int fd = slot_open(dir, key, i);
        if (fd < 0) {
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (slot_current(fd, dir, key, i) || ++tries > IPSLOT_TRIES) {
                *out = fd;
                return 1;
            }
            close(fd);      /* removed under us: the same slot again, in its new file */
            continue;
        }
        close(fd);
        if (errno != EWOULDBLOCK) {
            return -1;
        }
        i++;
    }
    return 0;
}

/* Every IPSLOT_SWEEP_SECS at most (DIR/.sweep's time), by one taker at a time (its lock):
   remove the per-IP files no session holds, each while holding its lock, so that every address
   ever seen does not leave its files behind. The port tables (port-*) stay: sessions watch
   them by their open descriptors, and they are bounded by the port's limit. */
static void sweep(const char *dir)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    struct dirent *e;
    unsigned long seen = 0;
    DIR *d;
    int fd;

    if (str_fmt(path, sizeof path, "%s/.sweep", dir) < 0
        || (stat(path, &st) == 0 && time(NULL) - st.st_mtime < IPSLOT_SWEEP_SECS)) {
        return;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || futimens(fd, NULL) < 0 || !(d = opendir(dir))) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL && seen++ < IPSLOT_SWEEP_MAX) {
        int sfd;
        if (e->d_name[0] == '.' || strncmp(e->d_name, "port-", 5) == 0) {
            continue;
        }
        sfd = openat(dirfd(d), e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (sfd < 0) {
            continue;
        }
        if (flock(sfd, LOCK_EX | LOCK_NB) == 0) {
            (void)unlinkat(dirfd(d), e->d_name, 0);
        }
        close(sfd);
    }
    closedir(d);
    close(fd);
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

int ipslot_key(const char *ip, char *out, size_t cap)
{
    char *slash;
    if (!str_ip_text_ok(ip) || str_ip_group(ip, out, cap) < 0) {
        errno = EINVAL;
        return -1;
    }
    slash = strchr(out, '/');
    if (slash) {
        *slash = '_';
    }
    return 0;
}

int ipslot_take(const char *dir, const char *ip, unsigned long max, int *fd)
{
    char key[IPSLOT_KEY_MAX + 1];
    *fd = -1;
    if (ipslot_key(ip, key, sizeof key) < 0) {
        return -1;
    }
    sweep(dir);
    return slot_take(dir, key, max, fd);
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

/* fd.c: whole reads and writes, fsync of directories, temporary-errno test */
#include "fd.h"
#include "limits.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int fd_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int fd_writev_all(int fd, const struct iovec *iov, int n)
{
    struct iovec v[FD_IOV_MAX];
    int i = 0;

    if (n < 0 || n > FD_IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    memcpy(v, iov, (size_t)n * sizeof *v);
    while (i < n) {
        ssize_t w = writev(fd, v + i, n - i);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        while (i < n && (size_t)w >= v[i].iov_len) {   /* the parts written whole */
            w -= (ssize_t)v[i].iov_len;
            i++;
        }
        if (i < n) {
            v[i].iov_base = (char *)v[i].iov_base + w;
            v[i].iov_len -= (size_t)w;
        }
    }
    return 0;
}

ssize_t fd_read(int fd, void *p, size_t n)
{
    ssize_t r;
    do {
        r = read(fd, p, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

ssize_t fd_read_full(int fd, void *p, size_t n)
{
    char *s = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = fd_read(fd, s + got, n - got);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t fd_read_file(const char *path, char *buf, size_t cap)
{
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = fd_read_full(fd, buf, cap - 1);
    close(fd);
    if (n >= 0) {
        buf[n] = '\0';
    }
    return n;
}

int fd_send_fds(int sock, const void *p, size_t n, const int *fds, size_t nfds, int flags)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
    } ctl;
    struct iovec iov = { (void *)p, n };
    struct msghdr mh;
    ssize_t w;

    if (nfds > FD_PASS_MAX) {
        errno = EINVAL;
        return -1;
    }
    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        struct cmsghdr *c;
        mh.msg_control = ctl.space;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    do {
        w = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w >= 0 && (size_t)w != n) {
        errno = EPROTO;
        return -1;
    }
    return w < 0 ? -1 : 0;
}

int fd_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r;
    if (fd < 0) {
        return -1;
    }
    r = fsync(fd);
    if (r < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

int fd_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -1;
    }
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? -1 : 0;
}

int fd_cloexec(int fd, int on)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) {
        return -1;
    }
    fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, fl) < 0 ? -1 : 0;
}

int fd_mkdirs(const char *path, mode_t mode)
{
    char p[YUBIN_PATH_MAX];
    size_t n = strlen(path), i;
    if (n == 0 || n >= sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(p, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                return -1;
            }
            p[i] = c;
        }
    }
    return 0;
}

int fd_connect_unix(const char *path)
{
    struct sockaddr_un sun;
    size_t n = strlen(path);
    int fd;
    if (n >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, n + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int fd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new)
{
#if defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, olddirfd, old, newdirfd, new, 1u /* RENAME_NOREPLACE */);
#else
    (void)olddirfd, (void)old, (void)newdirfd, (void)new;
    errno = ENOSYS;
    return -1;
#endif
}

int fd_limit_raise(unsigned long need, unsigned long *have)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            return -1;
        }
    }
    *have = rl.rlim_cur == RLIM_INFINITY ? ~0UL : (unsigned long)rl.rlim_cur;
    return 0;
}

int fd_open_locked(const char *path, int flags, mode_t mode, int op)
{
    int fd = open(path, flags, mode);
    if (fd < 0) {
        return -1;
    }
    while (flock(fd, op) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
}

/* authclient.c: one request to authd over its unix socket (protocol: docs/internals.md) */
#include "authclient.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int auth_connect(const char *root)
{
    char path[YUBIN_PATH_MAX];
    if (str_fmt(path, sizeof path, "%s/run/authd.sock", root) < 0) {
        return -1;
    }
    return fd_connect_unix(path);
}

/* send() with MSG_NOSIGNAL: if authd closes first (restart, refused uid) the caller gets EPIPE
   instead of being killed by SIGPIPE. */
static int auth_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int auth_reply(int fd, unsigned timeout)
{
    char r[16];
    size_t got = 0;
    while (got < sizeof r - 1) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;
        int pr = poll(&p, 1, (int)timeout * 1000);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = fd_read(fd, r + got, sizeof r - 1 - got);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
        if (memchr(r, '\n', got)) {
            break;
        }
    }
    r[got] = '\0';
    if (strcmp(r, "ok\n") == 0) {
        return 1;
    }
    if (strcmp(r, "fail\n") == 0) {
        return 0;
    }
    if (strcmp(r, "temp\n") == 0) {
        errno = EAGAIN;     /* authd could not read its maps */
        return -1;
    }
    errno = EPROTO;
    return -1;
}

int authclient_check(const char *root, const char *service, const char *ip, const char *login,
                     size_t loginlen, const char *password, size_t passlen, unsigned timeout)
{
    char req[AUTH_REQ_MAX];
    size_t n = 0, sl = strlen(service), il = strlen(ip);
    int fd, r, e;

    if (loginlen == 0 || loginlen > AUTH_FIELD_MAX || passlen == 0 || passlen > AUTH_FIELD_MAX
        || memchr(login, 0, loginlen) || memchr(password, 0, passlen)) {
        return 0;
    }
    if (12 + sl + 1 + il + 1 + loginlen + 1 + passlen + 1 > sizeof req) {
        return 0;
    }
    memcpy(req, "yubin-auth1", 12);
    n = 12;
    memcpy(req + n, service, sl + 1);
    n += sl + 1;
    memcpy(req + n, ip, il + 1);
    n += il + 1;
    memcpy(req + n, login, loginlen);
    n += loginlen;
    req[n++] = '\0';
    memcpy(req + n, password, passlen);
    n += passlen;
    req[n++] = '\0';

    fd = auth_connect(root);
    if (fd < 0) {
        explicit_bzero(req, sizeof req);
        return -1;
    }
    r = auth_send(fd, req, n);
    explicit_bzero(req, sizeof req);
    if (r < 0 || shutdown(fd, SHUT_WR) < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    r = auth_reply(fd, timeout);
    e = errno;
    close(fd);
    errno = e;
    return r;
}

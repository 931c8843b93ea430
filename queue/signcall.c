/* signcall.c: a message DKIM-signed by dkim-sign over run/dkim.sock (queue-inject, queue-run) */
#include "signcall.h"
#include "cfg.h"
#include "fd.h"
#include "ipcfd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static int fail(struct signcall *s, int err, const char *what)
{
    if (err) {
        str_fmt(s->why, sizeof s->why, "%s: %s", what, strerror(err));
    } else {
        str_fmt(s->why, sizeof s->why, "%s", what);
        err = EPROTO;
    }
    errno = err;
    return -1;
}

/* The value of tag name of the field's tag-list into out[0..cap); 0, or -1 absent/too long. */
static int tag_value(const struct dkim_tags *t, const char *name, char *out, size_t cap)
{
    const struct dkim_tag *v = dkim_tag_find(t, name);
    if (!v || v->valuelen == 0 || v->valuelen >= cap || str_has_ctl(v->value, v->valuelen)) {
        return -1;
    }
    memcpy(out, v->value, v->valuelen);
    out[v->valuelen] = '\0';
    return 0;
}

int signcall_answer(int code, const char *ans, size_t n, struct signcall *s)
{
    struct dkim_tags t;
    const char *colon;
    size_t line;

    s->code = code;
    s->field[0] = s->domain[0] = s->sel[0] = s->why[0] = '\0';
    s->len = 0;
    if (code == DKIM_SIGN_NOKEY || code == DKIM_SIGN_FOREIGN || code == DKIM_SIGN_TOOBIG) {
        const char *nl = memchr(ans, '\n', n);
        line = nl ? (size_t)(nl - ans) : n;
        if (line < sizeof s->domain && !memchr(ans, '\0', line) && !str_has_ctl(ans, line)) {
            memcpy(s->domain, ans, line);
            s->domain[line] = '\0';
        }
        return 0;
    }
    if (code != DKIM_SIGN_OK) {
        str_fmt(s->why, sizeof s->why, "the DKIM signer failed (exit %d; see log/dkim)", code);
        errno = EPROTO;
        return -1;
    }
    if (n == 0 || n > DKIM_SIG_MAX || ans[n - 1] != '\n' || memchr(ans, '\0', n)
        || !str_start_nocase(ans, n, "DKIM-Signature:")) {
        return fail(s, 0, "the DKIM signer answered no field");
    }
    colon = memchr(ans, ':', n);
    if (dkim_tags_parse(colon + 1, n - (size_t)(colon + 1 - ans), &t) < 0
        || tag_value(&t, "d", s->domain, sizeof s->domain) < 0
        || tag_value(&t, "s", s->sel, sizeof s->sel) < 0) {
        s->domain[0] = s->sel[0] = '\0';
        return fail(s, 0, "the DKIM signer answered a malformed field");
    }
    memcpy(s->field, ans, n);
    s->field[n] = '\0';
    s->len = n;
    return 0;
}

/* Seconds from now to deadline, at least 1 (ipcfd_status counts whole seconds). */
static unsigned left(time_t deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return deadline > now.tv_sec ? (unsigned)(deadline - now.tv_sec) : 1;
}

/* Until fd can be written, or the deadline (ETIMEDOUT). 0, or -1 with errno. */
static int wait_out(int fd, time_t deadline)
{
    for (;;) {
        struct pollfd pf = { fd, POLLOUT, 0 };
        struct timespec now;
        int r;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        r = poll(&pf, 1, (int)(deadline - now.tv_sec) * 1000);
        if (r > 0) {
            return 0;           /* writable, or POLLERR: the write says which */
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/* p[0..n) to the non-blocking fd by the deadline. 0 written, 1 the reader has gone (EPIPE:
   the signer decided without the rest), -1 error or ETIMEDOUT. */
static int put(int fd, const char *p, size_t n, time_t deadline)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w >= 0) {
            p += w;
            n -= (size_t)w;
        } else if (errno == EPIPE) {
            return 1;
        } else if ((errno != EAGAIN && errno != EINTR) || wait_out(fd, deadline) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The message to the signer's fd 0: mem, then the spill file. */
static int feed(int fd, const char *mem, size_t memlen, int spill, time_t deadline,
                struct signcall *s)
{
    char buf[SIGNCALL_CHUNK];
    off_t off = 0;
    int r = put(fd, mem, memlen, deadline);

    while (r == 0 && spill >= 0) {
        ssize_t got = pread(spill, buf, sizeof buf, off);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return fail(s, errno, "unable to read the message back for the DKIM signer");
        }
        if (got == 0) {
            break;
        }
        r = put(fd, buf, (size_t)got, deadline);
        off += got;
    }
    return r < 0 ? fail(s, errno, "unable to pass the message to the DKIM signer") : 0;
}

/* The signer's answer on fd up to EOF, by the deadline, into out[0..cap). Its length, or -1. */
static ssize_t answer(int fd, char *out, size_t cap, time_t deadline, struct signcall *s)
{
    size_t got = 0;
    for (;;) {
        ssize_t r;
        int w = ipcfd_wait_in(fd, deadline);
        if (w <= 0) {
            return fail(s, w == 0 ? ETIMEDOUT : errno, "no answer from the DKIM signer");
        }
        r = read(fd, out + got, cap - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r < 0) {
            return fail(s, errno, "no answer from the DKIM signer");
        }
        if (r == 0) {
            return (ssize_t)got;
        }
        got += (size_t)r;
        if (got == cap) {
            return fail(s, 0, "the DKIM signer's answer is too long");
        }
    }
}

int signcall_sign(const char *root, const char *account, const char *sender, const char *mem,
                  size_t memlen, int spill, time_t deadline, struct signcall *s)
{
    char path[YUBIN_PATH_MAX], ans[DKIM_SIG_MAX + 1];
    const char *argv[] = { "dkim-sign", account, sender, NULL };
    int msg[2], back[2], sock, code, err, rc = -1;
    ssize_t n;

    memset(s, 0, sizeof *s);
    if (cfg_path(path, sizeof path, root, "run/dkim.sock") < 0) {
        return fail(s, ENAMETOOLONG, "unable to reach the DKIM signer (run/dkim.sock)");
    }
    if (pipe2(msg, O_CLOEXEC) < 0) {
        return fail(s, errno, "unable to set up the DKIM signing");
    }
    if (pipe2(back, O_CLOEXEC) < 0) {
        fail(s, errno, "unable to set up the DKIM signing");
        close(msg[0]);
        close(msg[1]);
        return -1;
    }
    sock = ipcfd_call(path, msg[0], back[1], argv);
    if (sock < 0) {
        fail(s, errno, "unable to reach the DKIM signer (run/dkim.sock)");
    }
    close(msg[0]);
    close(back[1]);
    if (sock >= 0 && fd_nonblock(msg[1], 1) < 0) {
        fail(s, errno, "unable to set up the DKIM signing");
    } else if (sock >= 0 && feed(msg[1], mem, memlen, spill, deadline, s) == 0) {
        close(msg[1]);
        msg[1] = -1;
        n = answer(back[0], ans, sizeof ans, deadline, s);
        if (n >= 0) {
            code = ipcfd_status(sock, left(deadline));
            rc = code < 0 ? fail(s, 0, "the DKIM signer ended without an answer or took too "
                                 "long (see log/dkim)")
                          : signcall_answer(code, ans, (size_t)n, s);
        }
    }
    err = errno;                /* what failed, past the closes */
    if (msg[1] >= 0) {
        close(msg[1]);
    }
    close(back[0]);
    if (sock >= 0) {
        close(sock);
    }
    errno = err;
    return rc;
}

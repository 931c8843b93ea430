/* ucspi.c: UCSPI-TLS control channel: encoding and strict decoding, and the app's side */
#include "ucspi.h"
#include "fd.h"
#include "ipcfd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ucspi_env_fd(const char *name)
{
    const char *v = getenv(name);
    uint64_t n;
    if (!v || str_to_u64(v, strlen(v), &n) < 0 || n > UCSPI_FD_MAX) {
        return -1;
    }
    return (int)n;
}

int ucspi_start_byte(unsigned char c)
{
    if (c == 'Y') {
        return UCSPI_START_INFO;
    }
    if (c == 'y') {
        return UCSPI_START_QUIET;
    }
    if (c == '?') {
        return UCSPI_ASK;
    }
    return -1;
}

static int value_ok(const char *v, size_t n)
{
    size_t i;
    if (n > UCSPI_VALUE_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static int put_var(char *out, size_t cap, size_t *len, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (vl == 0) {
        return 0;
    }
    if (!value_ok(value, vl) || cap - *len < nl + 1 + vl + 1) {
        return -1;
    }
    memcpy(out + *len, name, nl);
    out[*len + nl] = '=';
    memcpy(out + *len + nl + 1, value, vl);
    out[*len + nl + 1 + vl] = '\0';
    *len += nl + vl + 2;
    return 0;
}

long ucspi_info_build(const struct ucspi_info *info, char *out, size_t cap)
{
    size_t len = 0;
    if (cap > UCSPI_INFO_MAX) {
        cap = UCSPI_INFO_MAX;
    }
    if (put_var(out, cap, &len, "SSL_PROTOCOL", info->protocol) < 0
        || put_var(out, cap, &len, "SSL_CIPHER", info->cipher) < 0
        || put_var(out, cap, &len, "SSL_TLS_SNI_SERVERNAME", info->sni) < 0
        || put_var(out, cap, &len, "SSL_CLIENT_S_DN_CN", info->client_cn) < 0
        || put_var(out, cap, &len, "SSL_SESSION_RESUMED", info->resumed) < 0 || len >= cap) {
        return -1;
    }
    out[len++] = '\0';
    return (long)len;
}

static int name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > UCSPI_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* The field of info that NAME fills, or NULL for a name we skip. */
static char *field(struct ucspi_info *info, const char *name, size_t n)
{
    if (n == 12 && memcmp(name, "SSL_PROTOCOL", 12) == 0) {
        return info->protocol;
    }
    if (n == 10 && memcmp(name, "SSL_CIPHER", 10) == 0) {
        return info->cipher;
    }
    if (n == 22 && memcmp(name, "SSL_TLS_SNI_SERVERNAME", 22) == 0) {
        return info->sni;
    }
    if (n == 18 && memcmp(name, "SSL_CLIENT_S_DN_CN", 18) == 0) {
        return info->client_cn;
    }
    if (n == 19 && memcmp(name, "SSL_SESSION_RESUMED", 19) == 0) {
        return info->resumed;
    }
    return NULL;
}

int ucspi_info_parse(const char *s, size_t n, struct ucspi_info *info, size_t *used)
{
    size_t pos = 0;
    memset(info, 0, sizeof *info);
    for (;;) {
        const char *rec = s + pos, *nul, *eq;
        size_t reclen, namelen;
        char *dst;

        if (pos >= UCSPI_INFO_MAX) {
            return -1;
        }
        if (pos == n) {
            return 0;
        }
        if (s[pos] == '\0') {           /* the empty record ends the report */
            *used = pos + 1;
            return 1;
        }
        nul = memchr(rec, '\0', n - pos);
        if (!nul) {
            /* incomplete record: malformed already if what we have cannot become valid */
            eq = memchr(rec, '=', n - pos);
            namelen = eq ? (size_t)(eq - rec) : n - pos;
            if (n >= UCSPI_INFO_MAX || namelen > UCSPI_NAME_MAX
                || (eq && !value_ok(eq + 1, n - pos - namelen - 1))) {
                return -1;
            }
            return 0;
        }
        reclen = (size_t)(nul - rec);
        eq = memchr(rec, '=', reclen);
        if (!eq) {
            return -1;
        }
        namelen = (size_t)(eq - rec);
        if (!name_ok(rec, namelen) || !value_ok(eq + 1, reclen - namelen - 1)) {
            return -1;
        }
        dst = field(info, rec, namelen);
        if (dst) {
            if (dst[0] != '\0' || reclen - namelen - 1 == 0) {
                return -1;              /* repeated, or empty */
            }
            memcpy(dst, eq + 1, reclen - namelen - 1);
            dst[reclen - namelen - 1] = '\0';
        }
        pos += reclen + 1;
    }
}

int ucspi_ask(int ctl)
{
    struct pollfd p;
    unsigned char c;
    int k;
    if (fd_write_all(ctl, "?", 1) < 0) {
        return 0;
    }
    p.fd = ctl;
    p.events = POLLIN;
    do {
        k = poll(&p, 1, UCSPI_ASK_WAIT_MS);
    } while (k < 0 && errno == EINTR);
    return k == 1 && fd_read(ctl, &c, 1) == 1 && c == UCSPI_READY;
}

int ucspi_start(int ctl, struct ucspi_info *info)
{
    char rep[UCSPI_INFO_MAX];
    size_t n = 0, used;
    if (fd_write_all(ctl, "Y", 1) < 0) {
        return -1;
    }
    for (;;) {
        ssize_t r;
        int k = ucspi_info_parse(rep, n, info, &used);
        if (k != 0) {
            return k == 1 ? 0 : -1;
        }
        if (n == sizeof rep) {
            return -1;
        }
        /* the report is the last thing tlsd writes before it closes the channel or goes
           quiet, so reading past it takes nothing that belongs to anyone else */
        r = fd_read(ctl, rep + n, sizeof rep - n);
        if (r <= 0) {
            return -1;
        }
        n += (size_t)r;
    }
}

int ucspi_serve_connect(const char *sock, int net, const char *ip, int *ctl, int *hand)
{
    const char *argv[] = { "starttls", str_ip_text_ok(ip) ? ip : "", NULL };
    int side[2], pipefd[2], fds[3], conn, e;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, side) < 0) {
        return -1;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        e = errno;
        close(side[0]);
        close(side[1]);
        errno = e;
        return -1;
    }
    fds[0] = net;
    fds[1] = side[1];
    fds[2] = pipefd[1];
    conn = ipcfd_call_fds(sock, fds, 3, argv);
    e = errno;
    close(side[1]);         /* tlsd has its own copies now, or nobody does */
    close(pipefd[1]);
    if (conn < 0) {
        close(side[0]);
        close(pipefd[0]);
        errno = e;
        return -1;
    }
    close(conn);            /* the exit status tells us nothing the control channel will not */
    *ctl = side[0];
    *hand = pipefd[0];
    return 0;
}

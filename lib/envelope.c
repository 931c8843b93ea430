/* envelope.c: smtpd -> queue-inject envelope: encode, decode, exit codes */
#include "envelope.h"
#include "str.h"

#include <errno.h>
#include <string.h>

enum envelope_verdict envelope_verdict(int code)
{
    if (code == ENVELOPE_EXIT_OK) {
        return ENVELOPE_QUEUED;
    }
    if (code == ENVELOPE_EXIT_WRITE) {
        return ENVELOPE_NO_SPACE;
    }
    if (code >= 11 && code <= 40) {
        return ENVELOPE_REFUSED;
    }
    return ENVELOPE_TEMPORARY;
}

int envelope_addr_ok(const char *s, size_t n)
{
    return n <= ADDR_MAX && !str_has_ctl(s, n);
}

static int put_addr(struct buf *out, char kind, const char *a, size_t n)
{
    if (!envelope_addr_ok(a, n) || (kind != 'F' && n == 0)) {
        errno = EINVAL;
        return -1;
    }
    if (buf_append(out, &kind, 1) < 0 || buf_append(out, a, n) < 0
        || buf_append(out, "", 1) < 0) {
        return -1;
    }
    return 0;
}

int envelope_encode(struct buf *out, const char *sender, const char *rcpts, size_t len)
{
    return envelope_encode_as(out, "", sender, rcpts, len);
}

int envelope_encode_as(struct buf *out, const char *account, const char *sender,
                       const char *rcpts, size_t len)
{
    size_t i = 0, nrcpt = 0;

    if (len == 0 || rcpts[len - 1] != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (account[0] && put_addr(out, 'A', account, strlen(account)) < 0) {
        return -1;
    }
    if (put_addr(out, 'F', sender, strlen(sender)) < 0) {
        return -1;
    }
    while (i < len) {
        size_t l = strlen(rcpts + i);
        if (++nrcpt > SMTP_RCPT_MAX) {
            errno = E2BIG;
            return -1;
        }
        if (put_addr(out, 'T', rcpts + i, l) < 0) {
            return -1;
        }
        i += l + 1;
    }
    return buf_append(out, "", 1);
}

int envelope_decode(const char *p, size_t n, envelope_addr_fn *fn, void *ctx, size_t *used)
{
    size_t i = 0, nrcpt = 0;
    int have_sender = 0;

    while (i < n) {
        const char *nul;
        size_t len;
        char kind = p[i];

        if (kind == '\0') {
            if (!have_sender || nrcpt == 0) {
                errno = EINVAL;
                return -1;
            }
            *used = i + 1;
            return 1;
        }
        if ((kind != 'F' || have_sender) && (kind != 'T' || !have_sender)
            && (kind != 'A' || i != 0)) {
            errno = EINVAL;
            return -1;
        }
        nul = memchr(p + i + 1, '\0', n - i - 1);
        len = nul ? (size_t)(nul - (p + i + 1)) : n - i - 1;
        if (len > ADDR_MAX) {
            errno = ENAMETOOLONG;
            return -1;
        }
        /* what is there must already be clean, complete or not */
        if (str_has_ctl(p + i + 1, len) || (nul && kind != 'F' && len == 0)) {
            errno = EINVAL;
            return -1;
        }
        if (!nul) {
            return 0;
        }
        if (kind == 'T' && ++nrcpt > SMTP_RCPT_MAX) {
            errno = E2BIG;
            return -1;
        }
        if (fn(ctx, kind, p + i + 1, len) < 0) {
            return -1;
        }
        have_sender |= kind == 'F';
        i += 1 + len + 1;
    }
    return 0;
}

/* msghdr.c: header-section loop checks for final delivery (Delivered-To, Received count) */
#include "msghdr.h"
#include "str.h"

#include <errno.h>
#include <string.h>

int msghdr_init(struct msghdr *h, const char *rcpt)
{
    size_t n = strlen(rcpt);
    memset(h, 0, sizeof *h);
    if (n == 0 || n > ADDR_MAX) {
        errno = EINVAL;
        return -1;
    }
    memcpy(h->rcpt, rcpt, n + 1);
    h->rcptlen = n;
    return 0;
}

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* One complete header line s[0..n), n <= MSGHDR_LINE_MAX; whole = the line was not cut. */
static void msghdr_line(struct msghdr *h, const char *s, size_t n, int whole)
{
    size_t name, i;
    long colon;

    if (whole && n > 0 && s[n - 1] == '\r') {
        n--;
    }
    if (whole && n == 0) {
        h->in_body = 1;             /* the empty line ending the header section */
        return;
    }
    if (is_wsp(s[0])) {
        return;                     /* continuation of a folded field */
    }
    colon = str_chr(s, n, ':');
    if (colon < 0) {
        return;
    }
    name = (size_t)colon;
    while (name > 0 && is_wsp(s[name - 1])) {
        name--;                     /* obsolete "Name :" form (RFC 5322 §4.5) */
    }
    if (str_eq_nocase(s, name, "received")) {
        h->received++;
        return;
    }
    if (!whole || !str_eq_nocase(s, name, "delivered-to")) {
        return;
    }
    i = (size_t)colon + 1;
    while (i < n && is_wsp(s[i])) {
        i++;
    }
    while (n > i && is_wsp(s[n - 1])) {
        n--;
    }
    if (n - i == h->rcptlen && str_eq_nocase(s + i, n - i, h->rcpt)) {
        h->delivered_to = 1;
    }
}

static void msghdr_keep(struct msghdr *h, const char *p, size_t n)
{
    if (h->len < MSGHDR_LINE_MAX) {
        size_t room = MSGHDR_LINE_MAX - h->len;
        memcpy(h->line + h->len, p, n < room ? n : room);
    }
    h->len = n > (size_t)-1 - h->len ? (size_t)-1 : h->len + n;
}

void msghdr_feed(struct msghdr *h, const char *p, size_t n)
{
    while (n > 0 && !h->in_body) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        msghdr_keep(h, p, k);
        if (!nl) {
            return;
        }
        msghdr_line(h, h->line, h->len < MSGHDR_LINE_MAX ? h->len : MSGHDR_LINE_MAX,
                    h->len <= MSGHDR_LINE_MAX);
        h->len = 0;
        p += k + 1;
        n -= k + 1;
    }
}

void msghdr_finish(struct msghdr *h)
{
    if (!h->in_body && h->len > 0) {
        msghdr_line(h, h->line, h->len < MSGHDR_LINE_MAX ? h->len : MSGHDR_LINE_MAX,
                    h->len <= MSGHDR_LINE_MAX);
        h->len = 0;
    }
    h->in_body = 1;
}

int msghdr_looping(const struct msghdr *h)
{
    return h->delivered_to || h->received > RECEIVED_MAX;
}

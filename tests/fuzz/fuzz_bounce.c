/* fuzz_bounce: a notification built from hostile original headers, reason text and address
   must keep its MIME structure: exactly three parts and one close delimiter, no NUL or CR,
   lines of at most 998 octets. Input: first byte = reason length, then reason, then headers. */
#include "queue/bounce.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t k = 0, m = strlen(needle);
    const char *p = hay, *end = hay + n;
    while ((p = memmem(p, (size_t)(end - p), needle, m))) {
        k++;
        p += m;
    }
    return k;
}

static void check(const struct buf *b)
{
    char boundary[200], delim[210];
    /* report-type=global-delivery-status when an address is not ASCII (RFC 6533) */
    static const char key[] = "delivery-status;\n\tboundary=\"";
    const char *p = memmem(b->s, b->len, key, sizeof key - 1), *q;
    size_t i, col = 0;

    if (!p) {
        abort();
    }
    p += sizeof key - 1;
    q = memchr(p, '"', b->len - (size_t)(p - b->s));
    if (!q || (size_t)(q - p) >= sizeof boundary) {
        abort();
    }
    memcpy(boundary, p, (size_t)(q - p));
    boundary[q - p] = '\0';
    snprintf(delim, sizeof delim, "\n--%s\n", boundary);
    if (count(b->s, b->len, delim) != 3) {
        abort();
    }
    snprintf(delim, sizeof delim, "--%s", boundary);
    if (count(b->s, b->len, delim) != 4) {
        abort();
    }
    if (memchr(b->s, '\0', b->len) || memchr(b->s, '\r', b->len)) {
        abort();
    }
    for (i = 0; i < b->len; i++) {
        col = b->s[i] == '\n' ? 0 : col + 1;
        if (col > 998) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reason[256], addr[64];
    struct bounce_rcpt r[2];
    struct bounce_in in;
    struct buf b;
    size_t rl, al;

    if (size < 2) {
        return 0;
    }
    rl = data[0] < size - 1 ? data[0] : size - 1;
    memcpy(reason, data + 1, rl);
    al = rl < sizeof addr - 1 ? rl : sizeof addr - 1;
    memcpy(addr, data + 1, al);
    addr[al] = '\0';
    r[0].addr = addr;
    r[0].reason = reason;
    r[0].reason_len = rl;
    r[0].remote = data[1] & 1;
    r[0].last = data[1] & 2 ? 1764355230 : 0;     /* the attempt's time, or none recorded */
    r[1] = r[0];
    r[1].remote = !r[0].remote;
    memset(&in, 0, sizeof in);
    in.kind = (data[1] & 2) ? BOUNCE_DELAYED : BOUNCE_FAILED;
    in.me = "mail.example.test";
    in.to = addr;
    in.id = "6b0b2e4e1234abcd";
    in.arrival = 1764355200;
    in.now = 1764355260;
    in.retry_until = 1764787200;
    in.rcpt = r;
    in.nrcpt = 2;
    in.headers = (const char *)data + 1 + rl;
    in.headers_len = size - 1 - rl;
    buf_init(&b, BOUNCE_MAX);
    if (bounce_build(&in, &b) < 0) {
        abort();
    }
    check(&b);
    buf_free(&b);
    return 0;
}

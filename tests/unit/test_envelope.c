/* test_envelope: the smtpd -> queue-inject envelope (lib/envelope.c): round trip, bounds at
   and one past the limits, partial input, exit code verdicts */
#include "t.h"
#include "envelope.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What envelope_decode handed out, packed like smtpd's recipient list. */
struct got {
    char account[ADDR_MAX + 1];
    char sender[ADDR_MAX + 1];
    char rcpts[ENVELOPE_MAX];
    size_t len, nrcpt, nsender;
};

static int collect(void *ctx, char kind, const char *a, size_t n)
{
    struct got *g = ctx;
    if (kind == 'A') {
        memcpy(g->account, a, n);
        g->account[n] = '\0';
        return 0;
    }
    if (kind == 'F') {
        memcpy(g->sender, a, n);
        g->sender[n] = '\0';
        g->nsender++;
        return 0;
    }
    memcpy(g->rcpts + g->len, a, n);
    g->rcpts[g->len + n] = '\0';
    g->len += n + 1;
    g->nrcpt++;
    return 0;
}

/* rcpts: count addresses of len octets each ("r<i>@" then 'a' padding), packed NUL-separated */
static size_t make_rcpts(char *out, size_t count, size_t len)
{
    size_t i, n = 0;
    for (i = 0; i < count; i++) {
        int k = snprintf(out + n, 32, "r%zu@", i);
        memset(out + n + k, 'a', len - (size_t)k);
        out[n + len] = '\0';
        n += len + 1;
    }
    return n;
}

static void test_roundtrip(void)
{
    static const char rcpts[] = "x@y.z\0q@r.s\0postmaster";
    struct buf b;
    struct got g;
    size_t used = 0, i;

    buf_init(&b, ENVELOPE_MAX);
    T_EQ_INT(envelope_encode(&b, "a@b.c", rcpts, sizeof rcpts), 0, "encode");
    T_EQ_INT(b.len, 7 + 7 + 7 + 12 + 1, "encoded length");
    T_CHECK(memcmp(b.s, "Fa@b.c\0Tx@y.z\0Tq@r.s\0Tpostmaster\0\0", b.len) == 0, "wire bytes");
    memset(&g, 0, sizeof g);
    T_EQ_INT(envelope_decode(b.s, b.len, collect, &g, &used), 1, "decode complete");
    T_EQ_INT(used, b.len, "consumed exactly");
    T_EQ_STR(g.sender, "a@b.c", "sender back");
    T_EQ_INT(g.len == sizeof rcpts && memcmp(g.rcpts, rcpts, g.len) == 0, 1, "rcpts back");
    /* every proper prefix is incomplete, never bad */
    for (i = 0; i < b.len; i++) {
        memset(&g, 0, sizeof g);
        if (envelope_decode(b.s, i, collect, &g, &used) != 0) {
            break;
        }
    }
    T_EQ_INT(i, b.len, "every prefix incomplete");
    /* trailing bytes (pipelined junk) are not consumed */
    buf_append(&b, "junk", 4);
    memset(&g, 0, sizeof g);
    T_EQ_INT(envelope_decode(b.s, b.len, collect, &g, &used), 1, "decode with trailing bytes");
    T_EQ_INT(used, b.len - 4, "stops at the final NUL");
    buf_free(&b);

    buf_init(&b, ENVELOPE_MAX);
    T_EQ_INT(envelope_encode(&b, "", "x@y\0", 4), 0, "null sender encodes");
    memset(&g, 0, sizeof g);
    T_EQ_INT(envelope_decode(b.s, b.len, collect, &g, &used), 1, "null sender decodes");
    T_EQ_STR(g.sender, "", "null sender back");
    buf_free(&b);
}

/* The account record: optional, first, once, not empty; old envelopes stay valid. */
static void test_account(void)
{
    static const char rcpts[] = "x@y.z";
    struct buf b;
    struct got g;
    size_t used = 0, i;

    buf_init(&b, ENVELOPE_MAX);
    T_EQ_INT(envelope_encode_as(&b, "u@b.c", "a@b.c", rcpts, sizeof rcpts), 0, "encode with A");
    T_CHECK(b.len == 22 && memcmp(b.s, "Au@b.c\0Fa@b.c\0Tx@y.z\0\0", b.len) == 0,
            "A record first on the wire");
    memset(&g, 0, sizeof g);
    T_EQ_INT(envelope_decode(b.s, b.len, collect, &g, &used), 1, "decode with A");
    T_EQ_STR(g.account, "u@b.c", "account back");
    T_EQ_STR(g.sender, "a@b.c", "sender back after A");
    T_EQ_INT(g.nrcpt, 1, "recipient back after A");
    for (i = 0; i < b.len; i++) {
        memset(&g, 0, sizeof g);
        if (envelope_decode(b.s, i, collect, &g, &used) != 0) {
            break;
        }
    }
    T_EQ_INT(i, b.len, "every prefix with A incomplete");
    buf_reset(&b);
    T_EQ_INT(envelope_encode_as(&b, "", "a@b.c", rcpts, sizeof rcpts), 0, "empty account");
    T_CHECK(b.len == 15 && b.s[0] == 'F', "no account: no A record (qmail-queue's format)");
    buf_reset(&b);
    T_EQ_INT(envelope_encode_as(&b, "u\r", "a", rcpts, sizeof rcpts), -1, "CR in account");
    buf_free(&b);

    memset(&g, 0, sizeof g);
    T_EQ_INT(envelope_decode("Fa\0Au\0Tx\0\0", 11, collect, &g, &used), -1, "A after F");
    T_EQ_INT(envelope_decode("Au\0Au\0Fa\0Tx\0\0", 14, collect, &g, &used), -1, "two A");
    T_EQ_INT(envelope_decode("A\0Fa\0Tx\0\0", 10, collect, &g, &used), -1, "empty A");
    T_EQ_INT(envelope_decode("Au\0Tx\0\0", 8, collect, &g, &used), -1, "A without F");
    T_EQ_INT(envelope_decode("Au\0\0", 4, collect, &g, &used), -1, "A alone");
}

static void test_encode_refusals(void)
{
    struct buf b;
    buf_init(&b, ENVELOPE_MAX);
    errno = 0;
    T_EQ_INT(envelope_encode(&b, "a\nb", "x\0", 2), -1, "LF in sender");
    T_EQ_INT(errno, EINVAL, "LF in sender is EINVAL");
    buf_reset(&b);
    T_EQ_INT(envelope_encode(&b, "a", "x\0\0", 3), -1, "empty recipient");
    buf_reset(&b);
    T_EQ_INT(envelope_encode(&b, "a", "x", 1), -1, "recipients not NUL-terminated");
    buf_reset(&b);
    T_EQ_INT(envelope_encode(&b, "a", "", 0), -1, "no recipient");
    T_EQ_INT(errno, EINVAL, "no recipient is EINVAL");
    buf_free(&b);
}

/* The largest envelope (account, sender, SMTP_RCPT_MAX recipients, all of ADDR_MAX) is exactly
   ENVELOPE_MAX, and needs a buffer of that size. */
static void test_bounds_largest(void)
{
    char *rcpts = malloc(ENVELOPE_MAX);
    char sender[ADDR_MAX + 1], account[ADDR_MAX + 1];
    struct buf b;
    struct got *g = calloc(1, sizeof *g);
    size_t len, used = 0;

    memset(sender, 's', ADDR_MAX);
    sender[ADDR_MAX] = '\0';
    memset(account, 'u', ADDR_MAX);
    account[ADDR_MAX] = '\0';
    len = make_rcpts(rcpts, SMTP_RCPT_MAX, ADDR_MAX);
    buf_init(&b, ENVELOPE_MAX);
    T_EQ_INT(envelope_encode_as(&b, account, sender, rcpts, len), 0, "largest envelope encodes");
    T_EQ_INT(b.len, ENVELOPE_MAX, "largest envelope is ENVELOPE_MAX octets");
    T_EQ_INT(envelope_decode(b.s, b.len, collect, g, &used), 1, "largest envelope decodes");
    T_EQ_INT(g->nrcpt, SMTP_RCPT_MAX, "SMTP_RCPT_MAX recipients back");
    T_EQ_INT(g->len == len && memcmp(g->rcpts, rcpts, len) == 0, 1, "all recipients back");
    buf_free(&b);

    buf_init(&b, ENVELOPE_MAX - 1);
    errno = 0;
    T_EQ_INT(envelope_encode_as(&b, account, sender, rcpts, len), -1,
             "ENVELOPE_MAX - 1 buffer refuses");
    T_EQ_INT(errno, E2BIG, "as E2BIG");
    buf_free(&b);
    free(g);
    free(rcpts);
}

/* One recipient more, or one octet more in an address, is refused on both sides. */
static void test_bounds_over(void)
{
    char *rcpts = malloc(2 * ENVELOPE_MAX);
    char sender[ADDR_MAX + 2];
    struct buf b;
    struct got *g = calloc(1, sizeof *g);
    size_t len, used = 0, i = 0;

    len = make_rcpts(rcpts, SMTP_RCPT_MAX + 1, 8);
    buf_init(&b, 2 * ENVELOPE_MAX);
    errno = 0;
    T_EQ_INT(envelope_encode(&b, "a", rcpts, len), -1, "SMTP_RCPT_MAX + 1 refused by encode");
    T_EQ_INT(errno, E2BIG, "as E2BIG");
    buf_reset(&b);                  /* built by hand for the decoder */
    buf_append(&b, "Fa", 3);
    while (i < len) {
        buf_append(&b, "T", 1);
        buf_append(&b, rcpts + i, strlen(rcpts + i) + 1);
        i += strlen(rcpts + i) + 1;
    }
    buf_append(&b, "", 1);
    errno = 0;
    T_EQ_INT(envelope_decode(b.s, b.len, collect, g, &used), -1, "decode refuses one more");
    T_EQ_INT(errno, E2BIG, "as E2BIG");

    memset(sender, 's', ADDR_MAX + 1);
    sender[ADDR_MAX + 1] = '\0';
    buf_reset(&b);
    errno = 0;
    T_EQ_INT(envelope_encode(&b, sender, "x\0", 2), -1, "sender of ADDR_MAX + 1 refused");
    T_EQ_INT(errno, EINVAL, "as EINVAL");
    buf_reset(&b);
    buf_append(&b, "F", 1);
    buf_append(&b, sender, ADDR_MAX + 2);
    buf_append(&b, "Tx\0", 4);
    memset(g, 0, sizeof *g);
    errno = 0;
    T_EQ_INT(envelope_decode(b.s, b.len, collect, g, &used), -1, "decoder: ADDR_MAX + 1");
    T_EQ_INT(errno, ENAMETOOLONG, "as ENAMETOOLONG (queue-inject exit 11)");
    buf_free(&b);
    free(g);
    free(rcpts);
}

static void test_verdicts(void)
{
    static const struct {
        int code;
        enum envelope_verdict want;
    } cases[] = {
        {ENVELOPE_EXIT_OK, ENVELOPE_QUEUED},        {ENVELOPE_EXIT_WRITE, ENVELOPE_NO_SPACE},
        {ENVELOPE_EXIT_TOOLONG, ENVELOPE_REFUSED},  {ENVELOPE_EXIT_REFUSED, ENVELOPE_REFUSED},
        {40, ENVELOPE_REFUSED},                     {41, ENVELOPE_TEMPORARY},
        {10, ENVELOPE_TEMPORARY},                   {ENVELOPE_EXIT_BAD, ENVELOPE_TEMPORARY},
        {ENVELOPE_EXIT_TIMEOUT, ENVELOPE_TEMPORARY}, {-1, ENVELOPE_TEMPORARY},
        {111, ENVELOPE_TEMPORARY},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(envelope_verdict(cases[i].code), cases[i].want, "verdict of exit %d");
    }
}

int main(void)
{
    test_roundtrip();
    test_account();
    test_encode_refusals();
    test_bounds_largest();
    test_bounds_over();
    test_verdicts();
    return T_DONE();
}

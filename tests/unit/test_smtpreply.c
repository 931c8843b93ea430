/* test_smtpreply: remote SMTP reply parser, EHLO keywords, DATA encoding */
#include "queue/smtpreply.h"
#include "t.h"

#include <stdlib.h>

/* Feed s in pieces of step bytes; returns the last feed result and total bytes used. */
static int feed(struct smtpreply *r, const char *s, size_t n, size_t step, size_t *total)
{
    size_t off = 0, used;
    int d = 0;

    smtpreply_init(r);
    *total = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        d = smtpreply_feed(r, s + off, k, &used);
        off += used;
        *total = off;
        if (d != 0) {
            break;
        }
    }
    return d;
}

static void test_replies(void)
{
    static const struct {
        const char *in;
        int ret;
        int code;
        const char *quote;
        const char *status;
        size_t used;             /* 0 = whole input */
    } cases[] = {
        {"250 ok\r\n", 1, 250, "250 ok", "2.0.0", 0},
        {"250 2.1.5 recipient ok\r\n", 1, 250, "250 2.1.5 recipient ok", "2.1.5", 0},
        {"550-5.1.1 no such\r\n550 5.1.1 user here\r\n", 1, 550,
         "550 5.1.1 no such 5.1.1 user here", "5.1.1", 0},
        {"250\r\n", 1, 250, "250", "2.0.0", 0},
        {"250 ok\n", 1, 250, "250 ok", "2.0.0", 0},                 /* bare LF tolerated */
        {"250-a\n250 b\r\n", 1, 250, "250 a b", "2.0.0", 0},
        {"421 4.4.2 bye\r\n250 next\r\n", 1, 421, "421 4.4.2 bye", "4.4.2", 15},
        {"250 ok\r\n354 go\r\n", 1, 250, "250 ok", "2.0.0", 8},     /* pipelined: stop */
        {"550 4.1.1 wrong class\r\n", 1, 550, "550 4.1.1 wrong class", "5.0.0", 0},
        {"550 5.1234.1 bad subject\r\n", 1, 550, "550 5.1234.1 bad subject", "5.0.0", 0},
        {"451 4.3.0\r\n", 1, 451, "451 4.3.0", "4.3.0", 0},
        {"250 a\0b\x01\x7f c\r\n", 1, 250, "250 ab c", "2.0.0", 0},  /* controls stripped */
        {"250 caf\xc3\xa9\r\n", 1, 250, "250 caf??", "2.0.0", 0},
        {"250 a\tb\r\n", 1, 250, "250 a b", "2.0.0", 0},
        {"250 a\rb\r\n", 1, 250, "250 ab", "2.0.0", 0},              /* inner CR dropped */
        {"250-a\r\n251 b\r\n", -1, 0, NULL, NULL, 0},              /* mixed codes */
        {"25 ok\r\n", -1, 0, NULL, NULL, 0},
        {"abc ok\r\n", -1, 0, NULL, NULL, 0},
        {"150 ok\r\n", -1, 0, NULL, NULL, 0},                      /* first digit 2-5 */
        {"260 ok\r\n", -1, 0, NULL, NULL, 0},                      /* second digit 0-5 */
        {"250_ok\r\n", -1, 0, NULL, NULL, 0},
        {"\r\n", -1, 0, NULL, NULL, 0},
        {"250-a\r\n250-b\r\n", 0, 250, NULL, NULL, 0},             /* missing final line */
        {"250 no newline", 0, 0, NULL, NULL, 0},
    };
    size_t i, step;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in);
        if (i == 11) {
            n = 13;  /* embedded NUL */
        }
        for (step = 1; step <= n; step = step * 3 + 1) {
            struct smtpreply r;
            size_t total;
            int d = feed(&r, cases[i].in, n, step, &total);
            T_CHECK(d == cases[i].ret, "case %zu step %zu: result %d want %d", i, step, d,
                    cases[i].ret);
            if (d == 1) {
                char q[SMTPREPLY_QUOTE_MAX], st[SMTPREPLY_STATUS_MAX];
                T_EQ_INT(r.code, cases[i].code, "code");
                smtpreply_quote(&r, q, sizeof q);
                T_EQ_STR(q, cases[i].quote, "quote");
                smtpreply_status(&r, st, sizeof st);
                T_EQ_STR(st, cases[i].status, "status");
                T_EQ_INT(total, cases[i].used ? cases[i].used : n, "used");
            }
        }
    }
}

static void test_limits(void)
{
    struct smtpreply *r = malloc(sizeof *r);
    char *big = malloc(200000);
    size_t total, i, n;
    char q[64];

    /* a line of exactly LINE_MAX octets incl. CRLF is fine; one more is not */
    memset(big, 'x', SMTPREPLY_LINE_MAX);
    memcpy(big, "250 ", 4);
    memcpy(big + SMTPREPLY_LINE_MAX - 2, "\r\n", 2);
    T_EQ_INT(feed(r, big, SMTPREPLY_LINE_MAX, 7, &total), 1, "line at the bound");
    big[SMTPREPLY_LINE_MAX - 2] = 'x';
    memcpy(big + SMTPREPLY_LINE_MAX - 1, "\r\n", 2);
    T_EQ_INT(feed(r, big, SMTPREPLY_LINE_MAX + 1, 7, &total), -1, "line over the bound");
    T_EQ_INT(r->err, SMTPREPLY_ETOOLONG, "ETOOLONG");
    /* an endless line without LF is refused, not buffered */
    memset(big, 'y', 200000);
    memcpy(big, "250 ", 4);
    T_EQ_INT(feed(r, big, 200000, 4096, &total), -1, "endless line");
    T_CHECK(total < 200000, "stopped early at %zu", total);
    /* too many lines */
    n = 0;
    for (i = 0; i < SMTPREPLY_LINES_MAX + 5; i++) {
        memcpy(big + n, "250-k\r\n", 7);
        n += 7;
    }
    memcpy(big + n, "250 k\r\n", 7);
    n += 7;
    T_EQ_INT(feed(r, big, n, 100, &total), -1, "too many lines");
    T_EQ_INT(r->err, SMTPREPLY_ETOOMANY, "ETOOMANY");
    /* text bounded and flagged */
    n = 0;
    for (i = 0; i < 90; i++) {
        memcpy(big + n, "250-", 4);
        memset(big + n + 4, 'z', 100);
        memcpy(big + n + 104, "\r\n", 2);
        n += 106;
    }
    memcpy(big + n, "250 end\r\n", 9);
    n += 9;
    T_EQ_INT(feed(r, big, n, 333, &total), 1, "long reply accepted");
    T_CHECK(r->truncated && r->textlen == SMTPREPLY_TEXT_MAX, "text truncated at the bound");
    smtpreply_quote(r, q, sizeof q);
    T_EQ_INT(strlen(q), sizeof q - 1, "quote bounded by its buffer");
    /* errors are sticky */
    T_EQ_INT(feed(r, "x\r\n", 3, 3, &total), -1, "syntax error");
    T_EQ_INT(smtpreply_feed(r, "250 ok\r\n", 8, &total), -1, "sticky error");
    free(r);
    free(big);
}

static void test_ehlo(void)
{
    const char *in = "250-mx.example greets you\r\n250-PIPELINING\r\n250-size 1000000\r\n"
                     "250-8BITMIME\r\n250-STARTTLSX\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n";
    struct smtpreply r;
    struct ehlo_caps c;
    size_t total;

    T_EQ_INT(feed(&r, in, strlen(in), 5, &total), 1, "ehlo parsed");
    ehlo_parse(&r, &c);
    T_CHECK(c.pipelining && c.eightbitmime && c.smtputf8 && c.starttls && c.size, "caps");
    T_EQ_INT(c.size_max, 1000000, "size");
    in = "250-STARTTLS is in the greeting\r\n250-SIZE\r\n250 AUTH PLAIN\r\n";
    feed(&r, in, strlen(in), 100, &total);
    ehlo_parse(&r, &c);
    T_CHECK(!c.starttls && !c.pipelining && c.size && c.size_max == 0,
            "greeting not a keyword; SIZE without limit");
    in = "250 SIZE 10\r\n";
    feed(&r, in, strlen(in), 100, &total);
    ehlo_parse(&r, &c);
    T_CHECK(!c.size, "one-line reply has no keywords");
    in = "502 EHLO not here\r\n";
    feed(&r, in, strlen(in), 100, &total);
    ehlo_parse(&r, &c);
    T_CHECK(!c.size && !c.starttls, "5xx has no keywords");
}

static void encode(const char *in, size_t n, size_t cap, char *out, size_t *olen)
{
    struct data_enc e;
    size_t i = 0, o = 0, k;
    char tmp[64];

    data_enc_init(&e);
    while (i < n) {
        i += data_enc_run(&e, in + i, n - i, tmp, cap, &k);
        memcpy(out + o, tmp, k);
        o += k;
    }
    o += data_enc_finish(&e, out + o, 6);
    out[o] = '\0';
    *olen = o;
}

static void test_data(void)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"", ".\r\n"},
        {"a\n", "a\r\n.\r\n"},
        {"a", "a\r\n.\r\n"},
        {".\n", "..\r\n.\r\n"},
        {"x\n.\n..y\n", "x\r\n..\r\n...y\r\n.\r\n"},
        {"a.b\n.", "a.b\r\n..\r\n.\r\n"},
        {"a\r\nb\n", "a\r\nb\r\n.\r\n"},
        {"a\rb\n", "a b\r\n.\r\n"},
        {"a\r", "a \r\n.\r\n"},
        {"\n\n", "\r\n\r\n.\r\n"},
        {"\r.x\n", " .x\r\n.\r\n"},
        {"h: v\n\nbody\n.\nend\n", "h: v\r\n\r\nbody\r\n..\r\nend\r\n.\r\n"},
        /* runs of plain bytes longer than the output room, CRs inside them */
        {"0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789\n.z",
         "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789\r\n..z\r\n"
         ".\r\n"},
        {"long line with a\rbare CR and a\r\nCRLF\n\r\n.", "long line with a bare CR and a"
         "\r\nCRLF\r\n\r\n..\r\n.\r\n"},
    };
    size_t i, cap;
    char out[256];

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (cap = 3; cap <= 64; cap += 61) {
            size_t n = strlen(cases[i].in), olen;
            encode(cases[i].in, n, cap, out, &olen);
            T_EQ_STR(out, cases[i].out, "data encoding");
            T_EQ_INT(data_enc_size(cases[i].in, n) + 3, olen, "SIZE estimate is exact");
        }
    }
    T_CHECK(!data_has_8bit("abc\n", 4) && data_has_8bit("ab\xe3", 3), "8bit detection");
    T_CHECK(!data_has_8bit("0123456789abcdefg", 17) && data_has_8bit("01234567\x80", 9) &&
            data_has_8bit("0123456789abcde\xff", 16) && data_has_8bit("0123456789abcdef\xc3", 17),
            "8bit detection past the first eight bytes");
}

int main(void)
{
    test_replies();
    test_limits();
    test_ehlo();
    test_data();
    return T_DONE();
}

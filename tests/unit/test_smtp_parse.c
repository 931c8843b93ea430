/* test_smtp_parse: command lines, MAIL/RCPT parameters, the DATA state machine, AUTH PLAIN */
#include "smtpd/smtp_parse.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>

/* A printable copy of a test input for the one-line report (CR, LF, controls escaped). */
static const char *nm(const char *s)
{
    static char out[4][160];
    static int k;
    char *o = out[k++ % 4];
    size_t i = 0;
    for (; *s && i < sizeof out[0] - 5; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r') {
            i += (size_t)sprintf(o + i, "\\r");
        } else if (c == '\n') {
            i += (size_t)sprintf(o + i, "\\n");
        } else if (c < 32 || c >= 127) {
            i += (size_t)sprintf(o + i, "\\x%02x", c);
        } else {
            o[i++] = (char)c;
        }
    }
    o[i] = '\0';
    return o;
}

static void test_cmds(void)
{
    static const struct {
        const char *in;
        int ret;
        enum smtp_verb verb;
        const char *arg;
    } t[] = {
        { "EHLO client.example", 0, VERB_EHLO, "client.example" },
        { "ehlo   client.example  ", 0, VERB_EHLO, "client.example" },
        { "MAIL FROM:<a@b.example>", 0, VERB_MAIL, "FROM:<a@b.example>" },
        { "quit", 0, VERB_QUIT, "" },
        { "StartTLS", 0, VERB_STARTTLS, "" },
        { "DATAX", 0, VERB_UNKNOWN, "" },
        { "", 0, VERB_UNKNOWN, "" },
        { "GET / HTTP/1.0", 0, VERB_UNKNOWN, "/ HTTP/1.0" },
        { "NOOP \x01", -1, VERB_UNKNOWN, "" },
        { "NOOP \x7f", -1, VERB_UNKNOWN, "" },
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct smtp_cmd c;
        char arg[64];
        int r = smtp_cmd_parse(t[i].in, strlen(t[i].in), &c);
        T_EQ_INT(r, t[i].ret, nm(t[i].in));
        if (r == 0) {
            T_EQ_INT(c.verb, t[i].verb, nm(t[i].in));
            memcpy(arg, c.arg, c.arglen);
            arg[c.arglen] = '\0';
            T_EQ_STR(arg, t[i].arg, nm(t[i].in));
        }
    }
    {
        struct smtp_cmd c;
        T_EQ_INT(smtp_cmd_parse("NOOP\0x", 6, &c), -1, "NUL in a command");
    }
}

/* The MAIL parameter table and its loop: longer than a screen because of the table. */
static void test_mail(void)
{
    static const struct {
        const char *in;
        enum smtp_perr want;
        const char *addr;
    } t[] = {
        { "FROM:<a@b.example>", PARSE_OK, "a@b.example" },
        { "from:<a@b.example>", PARSE_OK, "a@b.example" },
        { "FROM: <a@b.example>", PARSE_OK, "a@b.example" },
        { "FROM:<>", PARSE_OK, "" },
        { "FROM:<a@b.example> SIZE=1000", PARSE_OK, "a@b.example" },
        { "FROM:<a@b.example> SIZE=1000 BODY=8BITMIME", PARSE_OK, "a@b.example" },
        { "FROM:<a@b.example> body=7bit", PARSE_OK, "a@b.example" },
        { "FROM:<a@b.example> SMTPUTF8", PARSE_OK, "a@b.example" },
        { "FROM:<a@b.example> AUTH=<>", PARSE_OK, "a@b.example" },
        { "FROM:<a@b.example> AUTH=a+2Bb@c.example", PARSE_OK, "a@b.example" },
        { "FROM:<a@b.example> AUTH=a+2b", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> AUTH=a+2", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> SIZE=", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> SIZE=12x", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> SIZE=1 SIZE=2", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> SIZE=999999999999999999999", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> BODY=BINARYMIME", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> SMTPUTF8=yes", PARSE_PARAMVAL, "" },
        { "FROM:<a@b.example> RET=FULL", PARSE_PARAM, "" },
        { "FROM:<a@b.example>X", PARSE_PATH, "" },
        { "FROM:a@b.example", PARSE_PATH, "" },
        { "FROM:<a@b.example", PARSE_PATH, "" },
        { "FROM:<a@b.example.>", PARSE_PATH, "" },
        { "FROM:<a..b@b.example>", PARSE_PATH, "" },
        { "TO:<a@b.example>", PARSE_NOPREFIX, "" },
        { "FROM", PARSE_NOPREFIX, "" },
        { "", PARSE_NOPREFIX, "" },
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct smtp_mailcmd m;
        enum smtp_perr r = smtp_parse_mail(t[i].in, strlen(t[i].in), &m);
        T_EQ_INT(r, t[i].want, nm(t[i].in));
        if (r == PARSE_OK) {
            T_EQ_STR(m.path.s, t[i].addr, nm(t[i].in));
        }
    }
    {
        struct smtp_mailcmd m;
        const char *s = "FROM:<a@b.example> SIZE=20971521 BODY=8BITMIME SMTPUTF8";
        T_EQ_INT(smtp_parse_mail(s, strlen(s), &m), PARSE_OK, "all parameters");
        T_EQ_INT(m.has_size, 1, "SIZE seen");
        T_EQ_INT(m.size, 20971521, "SIZE value");
        T_EQ_INT(m.body, BODY_8BITMIME, "BODY value");
        T_EQ_INT(m.smtputf8, 1, "SMTPUTF8 seen");
    }
    {
        /* RFC 1870: 1*20DIGIT; a 20-digit value past 2^64-1 is a size, the largest there is
           (smtpd then answers 552 5.3.4, not a syntax error) */
        struct smtp_mailcmd m;
        const char *s = "FROM:<a@b.example> SIZE=99999999999999999999";
        T_EQ_INT(smtp_parse_mail(s, strlen(s), &m), PARSE_OK, "SIZE past 2^64-1");
        T_EQ_INT(m.size == UINT64_MAX, 1, "SIZE past 2^64-1 is the largest size");
    }
    {
        /* a 64-octet local part is fine, 65 is too long (RFC 5321 §4.5.3.1.1) */
        char buf[200];
        struct smtp_mailcmd m;
        memcpy(buf, "FROM:<", 6);
        memset(buf + 6, 'a', 65);
        memcpy(buf + 71, "@b.example>", 12);
        T_EQ_INT(smtp_parse_mail(buf, strlen(buf), &m), PARSE_TOOLONG, "local part 65");
    }
}

static void test_rcpt(void)
{
    static const struct {
        const char *in;
        enum smtp_perr want;
        int route, percent, bang, quoted, literal, utf8;
    } t[] = {
        { "TO:<u@example.test>", PARSE_OK, 0, 0, 0, 0, 0, 0 },
        { "to: <u@example.test>  ", PARSE_OK, 0, 0, 0, 0, 0, 0 },
        { "TO:<postmaster>", PARSE_OK, 0, 0, 0, 0, 0, 0 },
        { "TO:<@relay.example:u@example.test>", PARSE_OK, 1, 0, 0, 0, 0, 0 },
        { "TO:<u%other.example@example.test>", PARSE_OK, 0, 1, 0, 0, 0, 0 },
        { "TO:<other.example!u@example.test>", PARSE_OK, 0, 0, 1, 0, 0, 0 },
        { "TO:<\"u@other.example\"@example.test>", PARSE_OK, 0, 0, 0, 1, 0, 0 },
        { "TO:<u@[127.0.0.1]>", PARSE_OK, 0, 0, 0, 0, 1, 0 },
        { "TO:<\xc3\xbc@example.test>", PARSE_OK, 0, 0, 0, 0, 0, 1 },
        { "TO:<u@example.test> NOTIFY=NEVER", PARSE_PARAM, 0, 0, 0, 0, 0, 0 },
        { "TO:<u@example.test.>", PARSE_PATH, 0, 0, 0, 0, 0, 0 },
        { "TO:<u@example.test>x", PARSE_PATH, 0, 0, 0, 0, 0, 0 },
        { "TO:<u@-example.test>", PARSE_PATH, 0, 0, 0, 0, 0, 0 },
        { "TO:<>", PARSE_OK, 0, 0, 0, 0, 0, 0 },
        { "FROM:<u@example.test>", PARSE_NOPREFIX, 0, 0, 0, 0, 0, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct addr a;
        enum smtp_perr r = smtp_parse_rcpt(t[i].in, strlen(t[i].in), &a);
        T_EQ_INT(r, t[i].want, nm(t[i].in));
        if (r == PARSE_OK) {
            T_CHECK(a.route == t[i].route && a.percent == t[i].percent && a.bang == t[i].bang
                        && a.quoted == t[i].quoted && a.literal == t[i].literal
                        && a.utf8 == t[i].utf8,
                    "flags of %s", nm(t[i].in));
        }
    }
}

/* RCPT on the fleet's internal route: XEPOCH=N and nothing else. */
static void test_rcpt_fleet(void)
{
    static const struct {
        const char *in;
        enum smtp_perr want;
        uint64_t epoch;
    } t[] = {
        { "TO:<u@example.test>", PARSE_OK, 0 },
        { "TO:<u@example.test> XEPOCH=1", PARSE_OK, 1 },
        { "TO:<u@example.test>  xepoch=42  ", PARSE_OK, 42 },
        { "TO:<u@example.test> XEPOCH=1000000000000", PARSE_OK, 1000000000000ULL },
        { "TO:<u@example.test> XEPOCH=1000000000001", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=18446744073709551616", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=99999999999999999999999", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=0", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=01", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=", PARSE_PARAM, 0 },
        { "TO:<u@example.test> XEPOCH", PARSE_PARAM, 0 },
        { "TO:<u@example.test> XEPOCH=-1", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=+1", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=1x", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=1 XEPOCH=1", PARSE_PARAMVAL, 0 },
        { "TO:<u@example.test> XEPOCH=1 NOTIFY=NEVER", PARSE_PARAM, 1 },
        { "TO:<u@example.test> NOTIFY=NEVER", PARSE_PARAM, 0 },
        { "TO:<u@example.test>XEPOCH=1", PARSE_PATH, 0 },
        { "FROM:<u@example.test> XEPOCH=1", PARSE_NOPREFIX, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct addr a;
        uint64_t epoch = 7;
        enum smtp_perr r = smtp_parse_rcpt_fleet(t[i].in, strlen(t[i].in), &a, &epoch);
        T_EQ_INT(r, t[i].want, nm(t[i].in));
        if (r == PARSE_OK || t[i].want == PARSE_PARAMVAL) {
            T_CHECK(epoch == t[i].epoch, "epoch of %s", nm(t[i].in));
        }
    }
}

/* Feed s in chunks of step octets; returns the result and the output. */
static enum smtp_dres feed(struct smtp_data *d, const char *s, size_t n, size_t step, char *out,
                           size_t *outlen, size_t *used)
{
    size_t off = 0;
    int longer = 0;
    enum smtp_dres r = DATA_MORE;
    *outlen = 0;
    smtp_data_init(d);
    while (off < n) {
        size_t k = n - off < step ? n - off : step, ol = 0, u = 0;
        r = smtp_data_feed(d, s + off, k, out + *outlen, &ol, &u);
        longer |= ol > u;
        *outlen += ol;
        off += u;
        if (r != DATA_MORE) {
            break;
        }
    }
    *used = off;
    T_CHECK(!longer, "output never longer than input");
    return r;
}

static void test_data(void)
{
    static const struct {
        const char *in;
        enum smtp_dres want;
        const char *out;   /* message as stored (LF ends) */
        size_t used;       /* octets consumed when DATA_END */
    } t[] = {
        { ".\r\n", DATA_END, "", 3 },
        { "a\r\n.\r\n", DATA_END, "a\n", 6 },
        { "a\r\n.\r\nQUIT\r\n", DATA_END, "a\n", 6 },
        { "..a\r\n.\r\n", DATA_END, ".a\n", 8 },
        { "...\r\n.\r\n", DATA_END, "..\n", 8 },
        { "a.\r\n.b\r\n.\r\n", DATA_END, "a.\nb\n", 11 },
        { "\r\n\r\n.\r\n", DATA_END, "\n\n", 7 },
        { "a\r\n. \r\n.\r\n", DATA_END, "a\n \n", 10 },
        /* smuggling: none of these end the data, all are refused */
        { "a\n.\n", DATA_BARE, "", 0 },
        { "a\r\n.\n", DATA_BARE, "", 0 },
        { "a\n.\r\n", DATA_BARE, "", 0 },
        { "a\r.\r", DATA_BARE, "", 0 },
        { "a\r\n.\r.\r\n", DATA_BARE, "", 0 },
        { "a\rb\r\n.\r\n", DATA_BARE, "", 0 },
        { "a\r\n", DATA_MORE, "a\n", 0 },
        { "a\r\n.", DATA_MORE, "a\n", 0 },
        { "a\r\n.\r", DATA_MORE, "a\n", 0 },
    };
    size_t i, step;
    char out[256];
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (step = 1; step <= 4; step += 3) {
            struct smtp_data d;
            size_t ol = 0, used = 0;
            enum smtp_dres r = feed(&d, t[i].in, strlen(t[i].in), step, out, &ol, &used);
            T_EQ_INT(r, t[i].want, nm(t[i].in));
            if (r != DATA_BARE) {
                out[ol] = '\0';
                T_CHECK(strcmp(out, t[i].out) == 0, "stored form of %s", nm(t[i].in));
            }
            if (r == DATA_END) {
                T_EQ_INT(used, t[i].used, nm(t[i].in));
            }
        }
    }
}

static void test_data_limits(void)
{
    struct smtp_data d;
    size_t ol, used, n, k;
    char *big, *out;
    enum smtp_dres r;

    /* a 998-octet line is fine, 999 is over the 1000 octet limit incl. CRLF */
    big = malloc(4096);
    out = malloc(4096);
    memset(big, 'x', 998);
    memcpy(big + 998, "\r\n.\r\n", 5);
    r = feed(&d, big, 1003, 4096, out, &ol, &used);
    T_CHECK(r == DATA_END && !d.line_long, "998-octet line accepted");
    memset(big, 'x', 999);
    memcpy(big + 999, "\r\n.\r\n", 5);
    r = feed(&d, big, 1004, 4096, out, &ol, &used);
    T_CHECK(r == DATA_END && d.line_long && smtp_data_refused(&d), "999-octet line refused");
    /* a stuffed dot does not count */
    big[0] = '.';
    memset(big + 1, 'x', 998);
    memcpy(big + 999, "\r\n.\r\n", 5);
    r = feed(&d, big, 1004, 4096, out, &ol, &used);
    T_CHECK(r == DATA_END && !d.line_long, "stuffed dot not counted");
    free(big);
    free(out);

    /* size: exactly MESSAGE_MAX accepted, one more refused (CRLF counted) */
    for (k = 0; k < 2; k++) {
        size_t lines = MESSAGE_MAX / 1000, rest = MESSAGE_MAX % 1000;
        size_t total = MESSAGE_MAX + k + 5;
        big = malloc(total);
        out = malloc(total);
        for (n = 0; n < lines; n++) {
            memset(big + n * 1000, 'y', 998);
            memcpy(big + n * 1000 + 998, "\r\n", 2);
        }
        memset(big + lines * 1000, 'z', rest + k - 2);
        memcpy(big + lines * 1000 + rest + k - 2, "\r\n.\r\n", 5);
        r = feed(&d, big, total, 65536, out, &ol, &used);
        T_EQ_INT(r, DATA_END, "20 MB message ends");
        T_EQ_INT(d.size, MESSAGE_MAX + k, "size counted with CRLF");
        T_EQ_INT(d.too_big, k, k ? "20 MB + 1 refused" : "20 MB accepted");
        free(big);
        free(out);
    }
}

static void test_received(void)
{
    struct smtp_data d;
    size_t ol, used, n = 0, i;
    char *msg = malloc(64 * 1024), *out = malloc(64 * 1024);
    enum smtp_dres r;
    for (i = 0; i < 101; i++) {
        n += (size_t)sprintf(msg + n, "%s: from x by y\r\n", i % 2 ? "Received" : "RECEIVED");
    }
    n += (size_t)sprintf(msg + n, "\r\nReceived: in the body\r\n.\r\n");
    r = feed(&d, msg, n, 100, out, &ol, &used);
    T_CHECK(r == DATA_END && d.received == 101 && d.loop, "101 Received: is a loop");
    n = 0;
    for (i = 0; i < 100; i++) {
        n += (size_t)sprintf(msg + n, "Received: from x by y\r\n");
    }
    n += (size_t)sprintf(msg + n, "X-Received: no\r\n Received: folded\r\n\r\n");
    for (i = 0; i < 10; i++) {
        n += (size_t)sprintf(msg + n, "Received: body line\r\n");
    }
    n += (size_t)sprintf(msg + n, ".\r\n");
    r = feed(&d, msg, n, 7, out, &ol, &used);
    T_CHECK(r == DATA_END && d.received == 100 && !d.loop, "100 Received: accepted");
    free(msg);
    free(out);
}

static void test_plain(void)
{
    static const struct {
        const char *msg;
        size_t n;
        int ret;
        const char *user, *pass;
    } t[] = {
        { "\0u@x.test\0pw", 12, 0, "u@x.test", "pw" },
        { "u@x.test\0u@x.test\0pw", 20, 0, "u@x.test", "pw" },
        { "other@x.test\0u@x.test\0pw", 24, -1, "", "" },
        { "\0\0pw", 4, -1, "", "" },
        { "\0u@x.test\0", 10, -1, "", "" },
        { "\0u@x.test", 9, -1, "", "" },
        { "", 0, -1, "", "" },
        { "\0u\0p\0w", 6, -1, "", "" },
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *u = NULL, *p = NULL;
        size_t ul = 0, pl = 0;
        int r = smtp_plain_split(t[i].msg, t[i].n, &u, &ul, &p, &pl);
        T_EQ_INT(r, t[i].ret, "PLAIN split");
        if (r == 0) {
            T_CHECK(ul == strlen(t[i].user) && memcmp(u, t[i].user, ul) == 0
                        && pl == strlen(t[i].pass) && memcmp(p, t[i].pass, pl) == 0,
                    "PLAIN fields %s", t[i].user);
        }
    }
}

static void test_sanitize(void)
{
    char out[16];
    smtp_sanitize("ok.host-1", 9, out, sizeof out);
    T_EQ_STR(out, "ok.host-1", "sanitize keeps a host name");
    smtp_sanitize("a b\r\n(c);\0", 10, out, sizeof out);
    T_EQ_STR(out, "a?b???c???", "sanitize replaces unsafe octets");
    smtp_sanitize("0123456789abcdefghij", 20, out, sizeof out);
    T_EQ_INT(strlen(out), 15, "sanitize is bounded");
}

int main(void)
{
    test_cmds();
    test_mail();
    test_rcpt();
    test_rcpt_fleet();
    test_data();
    test_data_limits();
    test_received();
    test_plain();
    test_sanitize();
    return T_DONE();
}

/* test_lineio: the front ends' line machinery (lib/lineio.c): the SMTP and POP3 line finders,
   the pipelined input walk with over-long lines answered and drained, and the reply buffer
   with its sink, including the bounds exactly at and one past their limits */
#include "t.h"
#include "lineio.h"
#include "limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *nm(const char *s)
{
    static char b[64];
    size_t i, n = 0;
    for (i = 0; s[i] && n + 4 < sizeof b; i++) {
        if (s[i] == '\r' || s[i] == '\n') {
            b[n++] = '\\';
            b[n++] = s[i] == '\r' ? 'r' : 'n';
        } else {
            b[n++] = s[i];
        }
    }
    b[n] = '\0';
    return b;
}

static void test_crlf(void)
{
    static const struct {
        const char *in;
        enum lineio_res want;
        size_t len;
    } t[] = {
        { "NOOP\r\n", LINEIO_OK, 4 },
        { "NOOP\r\nQUIT\r\n", LINEIO_OK, 4 },
        { "\r\n", LINEIO_OK, 0 },
        { "NOOP", LINEIO_PARTIAL, 0 },
        { "NOOP\r", LINEIO_PARTIAL, 0 },
        { "NOOP\n", LINEIO_BARE, 0 },
        { "NO\rOP\r\n", LINEIO_BARE, 0 },
        { "\n", LINEIO_BARE, 0 },
        { "NOOP\r\r\n", LINEIO_BARE, 0 },
        { "", LINEIO_PARTIAL, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t len = 0;
        enum lineio_res r = lineio_find_crlf(t[i].in, strlen(t[i].in), &len);
        T_EQ_INT(r, t[i].want, nm(t[i].in));
        if (r == LINEIO_OK) {
            T_EQ_INT(len, t[i].len, "line length");
        }
    }
}

static void test_lf(void)
{
    size_t len = 0, used = 0;
    char big[400];
    T_CHECK(lineio_find_lf("STAT\r\nLIST\r\n", 12, 255, &len, &used) == LINEIO_OK
            && len == 4 && used == 6, "CRLF line");
    T_CHECK(lineio_find_lf("STAT\nLIST", 9, 255, &len, &used) == LINEIO_OK && len == 4
            && used == 5, "bare LF line tolerated");
    T_CHECK(lineio_find_lf("\r\n", 2, 255, &len, &used) == LINEIO_OK && len == 0
            && used == 2, "empty line");
    T_CHECK(lineio_find_lf("STAT\r", 5, 255, &len, &used) == LINEIO_PARTIAL, "partial CR");
    T_CHECK(lineio_find_lf("", 0, 255, &len, &used) == LINEIO_PARTIAL, "nothing");
    memset(big, 'a', sizeof big);
    T_CHECK(lineio_find_lf(big, sizeof big, 255, &len, &used) == LINEIO_LONG,
            "over-long line without LF");
    big[253] = '\r';
    big[254] = '\n';
    T_CHECK(lineio_find_lf(big, sizeof big, 255, &len, &used) == LINEIO_OK && len == 253,
            "a 255-octet line with CRLF fits");
    big[253] = 'a';
    big[254] = 'a';
    big[255] = '\n';
    T_CHECK(lineio_find_lf(big, sizeof big, 255, &len, &used) == LINEIO_LONG,
            "a 256-octet line is too long");
    T_CHECK(lineio_find_lf(big, 200, 255, &len, &used) == LINEIO_PARTIAL,
            "200 octets without LF may still end");
}

/* Feed in[] to a lineio_in in pieces of step octets; record the events as text:
   "<line>" per line, "!" per over-long line. */
static void walk(const char *input, size_t n, size_t step, size_t max, char *out, size_t cap)
{
    char buf[POP3_PENDING_MAX];
    struct lineio_in in;
    size_t fed = 0, o = 0;
    lineio_in_init(&in, buf, sizeof buf);
    out[0] = '\0';
    for (;;) {
        const char *line;
        size_t len, room;
        char *space;
        enum lineio_res r = lineio_next(&in, max, &line, &len);
        if (r == LINEIO_OK) {
            o += (size_t)snprintf(out + o, cap - o, "<%.*s>", (int)len, line);
            continue;
        }
        if (r == LINEIO_LONG) {
            o += (size_t)snprintf(out + o, cap - o, "!");
            continue;
        }
        if (fed == n) {
            return;
        }
        space = lineio_in_space(&in, &room);
        if (room > step) {
            room = step;
        }
        if (room > n - fed) {
            room = n - fed;
        }
        memcpy(space, input + fed, room);
        lineio_in_got(&in, room);
        fed += room;
    }
}

static void test_walk(void)
{
    char in[3 * POP3_PENDING_MAX], got[1024];
    size_t n, steps[] = { 1, 7, 4096 }, i;

    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        walk("STAT\r\nLIST 1\nQUIT\r\n", 19, steps[i], POP3_CMD_MAX, got, sizeof got);
        T_EQ_STR(got, "<STAT><LIST 1><QUIT>", "pipelined lines");
    }
    /* a line of exactly POP3_CMD_MAX octets with CRLF is a line; one more octet is not */
    memset(in, 'a', POP3_CMD_MAX - 2);
    memcpy(in + POP3_CMD_MAX - 2, "\r\nNOOP\r\n", 8);
    walk(in, POP3_CMD_MAX + 6, 4096, POP3_CMD_MAX, got, sizeof got);
    T_CHECK(strlen(got) == POP3_CMD_MAX - 2 + 2 + 6 && got[POP3_CMD_MAX - 1] == '>'
            && strcmp(got + POP3_CMD_MAX, "<NOOP>") == 0, "a %d-octet line passes", POP3_CMD_MAX);
    memset(in, 'a', POP3_CMD_MAX - 1);
    memcpy(in + POP3_CMD_MAX - 1, "\r\nNOOP\r\n", 8);
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        walk(in, POP3_CMD_MAX + 7, steps[i], POP3_CMD_MAX, got, sizeof got);
        T_EQ_STR(got, "!<NOOP>", "one octet more: answered once, the command after it read");
    }
    /* an over-long line spanning reads, far over the buffer: drained, answered once */
    n = sizeof in - 8;
    memset(in, 'x', n);
    memcpy(in + n, "\r\nQUIT\r\n", 8);
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        walk(in, sizeof in, steps[i], POP3_CMD_MAX, got, sizeof got);
        T_EQ_STR(got, "!<QUIT>", "endless line drained to its LF");
    }
    /* NUL and CR inside a line are the parser's business, not the walker's */
    walk("A\0B\r\n", 5, 4096, POP3_CMD_MAX, got, sizeof got);
    T_CHECK(memcmp(got, "<A", 2) == 0, "NUL kept in the line");
}

static void test_rest_clear(void)
{
    char buf[64];
    struct lineio_in in;
    const char *line, *rest;
    size_t len, n, room;
    char *space;

    lineio_in_init(&in, buf, sizeof buf);
    space = lineio_in_space(&in, &room);
    T_EQ_INT(room, sizeof buf, "room of an empty buffer");
    memcpy(space, "PASS x\r\nSTAT\r\nLI", 16);
    lineio_in_got(&in, 16);
    T_EQ_INT(lineio_next(&in, 255, &line, &len), LINEIO_OK, "first line");
    rest = lineio_in_rest(&in, &n);
    T_CHECK(n == 8 && memcmp(rest, "STAT\r\nLI", 8) == 0, "the rest after it");
    lineio_in_clear(&in);
    T_EQ_INT(lineio_next(&in, 255, &line, &len), LINEIO_PARTIAL, "cleared");
    lineio_in_space(&in, &room);
    T_EQ_INT(room, sizeof buf, "all room again");
}

static size_t lineio_vformat_test(char *line, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    va_start(ap, fmt);
    n = lineio_vformat(line, cap, fmt, ap);
    va_end(ap);
    return n;
}

struct sink {
    char got[4096];
    size_t len;
    int calls, fail;
};

static int sink(void *ctx, const char *p, size_t n)
{
    struct sink *k = ctx;
    k->calls++;
    if (k->fail || k->len + n > sizeof k->got) {
        return -1;
    }
    memcpy(k->got + k->len, p, n);
    k->len += n;
    return 0;
}

static void test_out(void)
{
    char buf[16], line[SMTP_REPLY_MAX + 16], big[2 * SMTP_REPLY_MAX];
    struct lineio_out o;
    struct sink k;

    memset(&k, 0, sizeof k);
    lineio_out_init(&o, buf, sizeof buf, sink, &k);
    T_EQ_INT(lineio_put(&o, "+OK\r\n", 5), 0, "queued");
    T_EQ_INT(k.calls, 0, "nothing sent before a flush");
    T_EQ_INT(lineio_put(&o, "0123456789abcdefXYZ", 19), 0, "more than the buffer");
    T_EQ_INT(k.calls, 1, "flushed once when full");
    T_EQ_INT(lineio_flush(&o), 0, "flush");
    T_CHECK(k.len == 24 && memcmp(k.got, "+OK\r\n0123456789abcdefXYZ", 24) == 0, "all in order");
    T_EQ_INT(lineio_flush(&o), 0, "flush of nothing");
    T_EQ_INT(k.calls, 2, "sends nothing");
    T_EQ_INT(lineio_put(&o, "0123456789", 10), 0, "ten queued");
    T_EQ_INT(lineio_room(&o, 6), 0, "six fit");
    T_EQ_INT(k.calls, 2, "no flush for room there is");
    T_EQ_INT(lineio_room(&o, 7), 0, "seven do not");
    T_EQ_INT(k.calls, 3, "flushed to make room");
    k.fail = 1;
    T_EQ_INT(lineio_put(&o, "0123456789abcdefXYZ", 19), -1, "a failing sink");
    T_EQ_INT(o.len, 0, "the buffer is empty after a failed flush");
    k.fail = 0;

    /* reply lines: text of cap - 3 octets passes whole, one more is cut */
    memset(big, 'a', sizeof big);
    T_EQ_INT(lineio_vformat_test(line, SMTP_REPLY_MAX, "%.*s", SMTP_REPLY_MAX - 3, big),
             SMTP_REPLY_MAX - 1, "longest reply line");
    T_CHECK(memcmp(line + SMTP_REPLY_MAX - 3, "\r\n", 3) == 0, "ends in CRLF NUL");
    T_EQ_INT(lineio_vformat_test(line, SMTP_REPLY_MAX, "%.*s", SMTP_REPLY_MAX - 2, big),
             SMTP_REPLY_MAX - 1, "one octet longer is cut to the bound");
    T_CHECK(memcmp(line + SMTP_REPLY_MAX - 3, "\r\n", 3) == 0, "still CRLF at the end");
    T_EQ_INT(lineio_vformat_test(line, SMTP_REPLY_MAX, "250 %s", "ok"), 8, "short line");
    T_EQ_STR(line, "250 ok\r\n", "with CRLF");

    memset(&k, 0, sizeof k);
    lineio_out_init(&o, buf, sizeof buf, sink, &k);
    T_EQ_INT(lineio_reply(&o, POP3_REPLY_MAX, "+OK %d messages", 3), 0, "lineio_reply");
    lineio_flush(&o);
    T_CHECK(k.len == 16 && memcmp(k.got, "+OK 3 messages\r\n", 16) == 0, "reply sent");

    memset(&o, 0, sizeof o);
    T_EQ_INT(lineio_put(&o, "x", 1), -1, "no buffer and no sink: refused, no loop");
}

int main(void)
{
    test_crlf();
    test_lf();
    test_walk();
    test_rest_clear();
    test_out();
    return T_DONE();
}

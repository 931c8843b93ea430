/* test_msghdr: the loop checks of deliver (Delivered-To, Received count) on hostile headers,
   and the 90% warning rule and text */
#include "t.h"
#include "deliver/msghdr.h"
#include "deliver/warnmsg.h"
#include "b64.h"

#include <stdint.h>
#include <stdlib.h>

struct hcase {
    const char *name;
    const char *msg;
    size_t len;             /* 0 = strlen(msg) */
    int loop;
    size_t received;
};

static const char RCPT[] = "demo@example.test";

static const struct hcase cases[] = {
    { "delivered-to exact", "Delivered-To: demo@example.test\n\nbody\n", 0, 1, 0 },
    { "case of name and address", "delivered-TO: DEMO@Example.Test\n\n", 0, 1, 0 },
    { "crlf line end", "Delivered-To: demo@example.test\r\n\r\nx", 0, 1, 0 },
    { "blanks around the address", "Delivered-To:\t demo@example.test  \n\n", 0, 1, 0 },
    { "obsolete blank before colon", "Delivered-To : demo@example.test\n\n", 0, 1, 0 },
    { "last header line without LF", "Subject: x\nDelivered-To: demo@example.test", 0, 1, 0 },
    { "other address", "Delivered-To: other@example.test\n\n", 0, 0, 0 },
    { "longer address", "Delivered-To: demo@example.test.evil\n\n", 0, 0, 0 },
    { "prefix address", "Delivered-To: xdemo@example.test\n\n", 0, 0, 0 },
    { "angle brackets are another line", "Delivered-To: <demo@example.test>\n\n", 0, 0, 0 },
    { "in the body", "Subject: x\n\nDelivered-To: demo@example.test\n", 0, 0, 0 },
    { "body after crlf blank", "Subject: x\r\n\r\nDelivered-To: demo@example.test\n", 0, 0, 0 },
    { "folded continuation", "Subject: x\n Delivered-To: demo@example.test\n\n", 0, 0, 0 },
    { "X- prefix", "X-Delivered-To: demo@example.test\n\n", 0, 0, 0 },
    { "message starts with the body", "\nDelivered-To: demo@example.test\n", 0, 0, 0 },
    { "empty message", "", 0, 0, 0 },
    { "NUL after the address", "Delivered-To: demo@example.test\0\n\n", 34, 0, 0 },
    { "NUL inside the name", "Deliv\0red-To: demo@example.test\n\n", 33, 0, 0 },
    { "received counted", "Received: a\nreceived: b\nRECEIVED : c\n\nReceived: d\n", 0, 0, 3 },
    { "not received", "Received-SPF: pass\nX-Received: x\nReceivedx: y\n\n", 0, 0, 0 },
    { "received folded", "Received: from a\n\tby b\n\n", 0, 0, 1 },
    { "no colon lines", "garbage line\nReceived: x\n\n", 0, 0, 1 },
};

static void run(struct msghdr *h, const char *msg, size_t len, size_t step)
{
    size_t i;
    msghdr_init(h, RCPT);
    for (i = 0; i < len; i += step) {
        msghdr_feed(h, msg + i, len - i < step ? len - i : step);
    }
    msghdr_finish(h);
}

static void test_table(void)
{
    static const size_t steps[] = { 1, 2, 3, 7, 64, 100000 };
    struct msghdr h;
    size_t i, s;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct hcase *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->msg);
        for (s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            run(&h, c->msg, len, steps[s]);
            T_CHECK(msghdr_looping(&h) == c->loop && h.received == c->received,
                    "%s (pieces of %zu): loop %d received %zu", c->name, steps[s],
                    msghdr_looping(&h), h.received);
        }
    }
}

/* RFC 5321 §6.3: more than RECEIVED_MAX Received fields is a loop; exactly that many is not. */
static void test_received_threshold(void)
{
    static const size_t counts[] = { RECEIVED_MAX - 1, RECEIVED_MAX, RECEIVED_MAX + 1, 5000 };
    struct msghdr h;
    size_t i, k;
    for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t n = counts[i] * 32 + 8, len = 0;
        char *m = malloc(n);
        for (k = 0; k < counts[i]; k++) {
            len += (size_t)snprintf(m + len, n - len, "Received: from h%zu by x\n", k);
        }
        len += (size_t)snprintf(m + len, n - len, "\nbody\n");
        run(&h, m, len, 4096);
        T_EQ_INT(h.received, counts[i], "received counted");
        T_EQ_INT(msghdr_looping(&h), counts[i] > RECEIVED_MAX, "received threshold");
        free(m);
    }
}

/* Lines longer than the kept prefix: no overflow, no false match, still counted. */
static void test_overlong(void)
{
    struct msghdr h;
    size_t n = 100000, len;
    char *m = malloc(n + 200);

    len = (size_t)snprintf(m, n, "Delivered-To: ");
    memset(m + len, 'a', n - len - 100);
    len = n - 100;
    len += (size_t)snprintf(m + len, 200, "demo@example.test\nReceived: x\n\n");
    run(&h, m, len, 1000);
    T_CHECK(!h.delivered_to, "overlong Delivered-To line does not match");
    T_EQ_INT(h.received, 1, "line after an overlong one is parsed");

    memcpy(m, "Received: ", 10);
    memset(m + 10, 'b', n - 10);
    memcpy(m + n, "\nDelivered-To: demo@example.test\n\n", 34);
    run(&h, m, n + 34, 333);
    T_EQ_INT(h.received, 1, "overlong Received line counted once");
    T_CHECK(h.delivered_to, "Delivered-To after an overlong line matches");
    free(m);
}

static void test_init(void)
{
    int r;
    struct msghdr h;
    char big[ADDR_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r = msghdr_init(&h, "");
    T_EQ_INT(r, -1, "empty recipient refused");
    r = msghdr_init(&h, big);
    T_EQ_INT(r, -1, "over-long recipient refused");
    big[ADDR_MAX] = '\0';
    r = msghdr_init(&h, big);
    T_EQ_INT(r, 0, "ADDR_MAX recipient accepted");
}

static void test_warn_rule(void)
{
    static const struct {
        uint64_t before, after, quota;
        int above, crossed;
    } w[] = {
        { 0, 89, 100, 0, 0 },
        { 89, 90, 100, 1, 1 },
        { 90, 95, 100, 1, 0 },
        { 50, 100, 100, 1, 1 },
        { 10, 1000, 0, 0, 0 },              /* unlimited: never */
        { 0, 13, 15, 0, 0 },                /* 13.5 is the threshold: 14 is the first above */
        { 13, 14, 15, 1, 1 },
        { 0, 18874368, 20971520, 1, 1 },    /* exactly 90% of 20 MB */
        { 0, 18874367, 20971520, 0, 0 },
        { 0, UINT64_MAX, UINT64_MAX, 1, 1 },
        { 0, UINT64_MAX / 10 * 9, UINT64_MAX, 0, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof w / sizeof w[0]; i++) {
        T_EQ_INT(warn_above(w[i].after, w[i].quota), w[i].above, "warn_above");
        T_EQ_INT(warn_crossed(w[i].before, w[i].after, w[i].quota), w[i].crossed,
                 "warn_crossed");
    }
}

/* The warning's body, base64-decoded into out (NUL-ended); -1 if it is not base64. */
static int warn_body(const struct buf *b, char *out, size_t cap)
{
    char enc[WARN_MSG_MAX];
    const char *p = memmem(b->s, b->len, "\n\n", 2);
    size_t i, n = 0;
    long got;
    if (!p) {
        return -1;
    }
    for (i = (size_t)(p - b->s) + 2; i < b->len && n < sizeof enc; i++) {
        if (b->s[i] != '\n') {
            enc[n++] = b->s[i];
        }
    }
    got = b64_decode(enc, n, (unsigned char *)out, cap - 1);
    if (got < 0) {
        return -1;
    }
    out[got] = '\0';
    return 0;
}

static void test_warn_text(void)
{
    char text[WARN_MSG_MAX];
    size_t i;
    int r;
    struct warnmsg w = { "u@example2.test", "mail.example.test", "basic",
                         "Sat, 28 Nov 2026 19:20:06 +0000", "123.M1P2R3.mail", 19000000,
                         20971520 };
    struct buf b;

    buf_init(&b, WARN_MSG_MAX);
    r = warnmsg_build(&b, &w);
    T_EQ_INT(r, 0, "warning builds within WARN_MSG_MAX");
    T_CHECK(strncmp(b.s, "Return-Path: <>\nDelivered-To: u@example2.test\n", 46) == 0,
            "null Return-Path and Delivered-To on top");
    T_CHECK(strstr(b.s, "\nSubject: =?UTF-8?B?") != NULL, "subject is an RFC 2047 word");
    T_CHECK(strstr(b.s, "Mailbox almost full") != NULL, "english subject");
    T_CHECK(strstr(b.s, "From: Mail Delivery System <MAILER-DAEMON@mail.example.test>"),
            "from MAILER-DAEMON");
    T_CHECK(strstr(b.s, "\nContent-Transfer-Encoding: base64\n\n") != NULL, "body in base64");
    for (i = 0; i < b.len && (unsigned char)b.s[i] < 0x80; i++) {
    }
    T_EQ_INT(i, b.len, "7-bit: no 8BITMIME needed to carry it (RFC 6152)");
    T_EQ_INT(warn_body(&b, text, sizeof text), 0, "the body decodes");
    T_CHECK(strstr(text, "18.1 MB (90%)") != NULL, "usage and percent shown");
    T_CHECK(strstr(text, "Quota: 20 MB") != NULL, "quota shown");
    T_CHECK(strstr(text, "50 MB") != NULL, "basic plan gets the add-on advice");
    T_CHECK(strstr(text, "メールボックスの使用量") != NULL, "Japanese text");
    T_CHECK(strstr(b.s, "\n\n") != NULL && !strstr(b.s, "\r"), "LF only, header ends");
    buf_free(&b);

    w.plan = "premium";
    w.quota = 52428800;
    w.bytes = 50000000;
    buf_init(&b, WARN_MSG_MAX);
    r = warnmsg_build(&b, &w);
    T_EQ_INT(r, 0, "premium warning builds");
    T_EQ_INT(warn_body(&b, text, sizeof text), 0, "the premium body decodes");
    T_CHECK(strstr(text, "add-on") == NULL && strstr(text, "Delete messages") != NULL,
            "no add-on advice on premium");
    buf_free(&b);

    buf_init(&b, 100);
    r = warnmsg_build(&b, &w);
    T_EQ_INT(r, -1, "too small a buffer is an error, not a cut");
    buf_free(&b);
}

int main(void)
{
    test_table();
    test_received_threshold();
    test_overlong();
    test_init();
    test_warn_rule();
    test_warn_text();
    return T_DONE();
}

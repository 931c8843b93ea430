/* test_bounce: RFC 3464 / RFC 6522 notifications from queue/bounce.c */
#include "t.h"
#include "queue/bounce.h"
#include "b64.h"
#include "date.h"

#include <stdlib.h>
#include <string.h>

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

static int has(const struct buf *b, const char *needle)
{
    return memmem(b->s, b->len, needle, strlen(needle)) != NULL;
}

/* The body of the part headed "Content-Type: ctype", base64-decoded into out (NUL-ended).
   0 ok, -1 no such part or not base64. */
static int decoded(const struct buf *b, const char *ctype, char *out, size_t cap)
{
    static const char cte[] = "Content-Transfer-Encoding: base64\n\n";
    char want[128], *enc = malloc(b->len + 1);
    const char *p, *end;
    size_t n = 0;
    long got;

    snprintf(want, sizeof want, "Content-Type: %s", ctype);
    p = memmem(b->s, b->len, want, strlen(want));
    p = p ? memmem(p, b->len - (size_t)(p - b->s), cte, sizeof cte - 1) : NULL;
    if (!p || !enc) {
        free(enc);
        return -1;
    }
    p += sizeof cte - 1;
    end = b->s + b->len;
    while (p < end && *p != '\n') {         /* lines up to the empty one */
        while (p < end && *p != '\n') {
            enc[n++] = *p++;
        }
        p++;
    }
    got = b64_decode(enc, n, (unsigned char *)out, cap - 1);
    free(enc);
    if (got < 0) {
        return -1;
    }
    out[got] = '\0';
    return 0;
}

/* The decoded text/plain part of the notice b into t (initialised here; the caller frees). */
static void text_of(const struct buf *b, struct buf *t)
{
    char *out = malloc(b->len + 1);
    buf_init(t, BOUNCE_MAX);
    T_CHECK(out && decoded(b, "text/plain; charset=UTF-8", out, b->len + 1) == 0,
            "the text part is base64");
    if (out) {
        buf_puts(t, out);
    }
    free(out);
}

/* 1 if every octet of b is US-ASCII (the notice may go to a server without 8BITMIME). */
static int seven_bit(const struct buf *b)
{
    size_t i;
    for (i = 0; i < b->len; i++) {
        if ((unsigned char)b->s[i] > 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The boundary parameter of the top-level Content-Type. */
static int get_boundary(const struct buf *b, char *out, size_t cap)
{
    const char *p = memmem(b->s, b->len, "boundary=\"", 10);
    const char *q;
    if (!p) {
        return -1;
    }
    p += 10;
    q = memchr(p, '"', b->len - (size_t)(p - b->s));
    if (!q || (size_t)(q - p) >= cap) {
        return -1;
    }
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 0;
}

/* Structure every notification must have, whatever the input. */
static void check_structure(const struct buf *b, const char *name)
{
    char boundary[200], delim[210], close_[212];
    size_t i, col = 0, maxcol = 0;
    int ok;

    ok = get_boundary(b, boundary, sizeof boundary) == 0;
    T_CHECK(ok, "%s: boundary found", name);
    if (!ok) {
        return;
    }
    snprintf(delim, sizeof delim, "\n--%s\n", boundary);
    snprintf(close_, sizeof close_, "\n--%s--\n", boundary);
    T_EQ_INT(count(b->s, b->len, delim), 3, name);
    T_EQ_INT(count(b->s, b->len, close_), 1, name);
    snprintf(delim, sizeof delim, "--%s", boundary);
    T_EQ_INT(count(b->s, b->len, delim), 4, name);
    T_CHECK(b->len > strlen(close_)
            && memcmp(b->s + b->len - strlen(close_), close_, strlen(close_)) == 0,
            "%s: ends with the close delimiter", name);
    T_CHECK(!memchr(b->s, '\0', b->len) && !memchr(b->s, '\r', b->len),
            "%s: no NUL or CR", name);
    for (i = 0; i < b->len; i++) {
        col = b->s[i] == '\n' ? 0 : col + 1;
        maxcol = col > maxcol ? col : maxcol;
    }
    T_CHECK(maxcol <= 998, "%s: lines <= 998 octets (max %zu)", name, maxcol);
    T_CHECK(memmem(b->s, b->len, "\n\n", 2) != NULL
            && (size_t)((char *)memmem(b->s, b->len, "\n\n", 2) - b->s)
               < (size_t)((char *)memmem(b->s, b->len, "boundary=", 9) - b->s) + 300,
            "%s: top header ends after Content-Type", name);
}

static void test_status(void)
{
    static const struct {
        const char *text;
        int temp;
        const char *want;
    } cases[] = {
        {"mailbox full (#5.2.2)", 0, "5.2.2"},
        {"x (#4.2.2) then (#5.1.1)", 0, "5.1.1"},
        {"no code here", 0, "5.0.0"},
        {"no code here", 1, "4.0.0"},
        {"broken (#5.2.)", 0, "5.0.0"},
        {"broken (#9.1.1)", 0, "5.0.0"},
        {"long (#5.1234.1)", 0, "5.0.0"},
        {"(#4.4.7)", 0, "4.4.7"},
        {"(#", 0, "5.0.0"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char st[16];
        bounce_status(cases[i].text, strlen(cases[i].text), cases[i].temp, st, sizeof st);
        T_EQ_STR(st, cases[i].want, cases[i].text);
    }
}

/* A failure notice to a@b.example about the n recipients r */
static void failed_in(struct bounce_in *in, struct bounce_rcpt *r, size_t n)
{
    memset(in, 0, sizeof *in);
    in->kind = BOUNCE_FAILED;
    in->me = "mail.example.test";
    in->to = "a@b.example";
    in->id = "6b0b2e4e1234abcd";
    in->arrival = 1764355200;
    in->now = 1764355260;
    in->retry_until = 1764355200 + 432000;
    in->rcpt = r;
    in->nrcpt = n;
}

/* The notice gives t as the Last-Attempt-Date */
static int has_attempt(const struct buf *b, time_t t)
{
    char want[DATE_RFC5322_MAX + 40], when[DATE_RFC5322_MAX];
    if (date_rfc5322(t, when, sizeof when) < 0) {
        return 0;
    }
    snprintf(want, sizeof want, "Last-Attempt-Date: %s\n", when);
    return has(b, want);
}

static void test_failed(void)
{
    static const char orig[] = "Received: from x\nFrom: a@b.example\nSubject: hello\n"
                               "Message-ID: <m1@b.example>\n\nbody must not be quoted\n";
    struct bounce_rcpt r[3] = {
        {"full@example.test", "mailbox full (quota 20 MB) (#5.2.2)", 0, 0, 0, 1, 0},
        {"nobody@example.test", "no such user (#5.1.1)", 0, 0, 0, 0, 0},
        {"u@remote.example", "mx.remote.example [192.0.2.1] said: 550 5.7.1 spam refused (#5.7.1)",
         0, 1, 0, 0, 0},
    };
    struct bounce_in in;
    struct buf b, t;
    size_t i;

    for (i = 0; i < 3; i++) {
        r[i].reason_len = strlen(r[i].reason);
    }
    failed_in(&in, r, 3);
    in.headers = orig;
    in.headers_len = sizeof orig - 1;
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build failure notice");
    check_structure(&b, "failed");
    T_CHECK(strncmp(b.s, "From: MAILER-DAEMON@mail.example.test", 37) == 0, "From first");
    T_CHECK(has(&b, "\nTo: <a@b.example>\n"), "To: the sender");
    T_CHECK(has(&b, "Undelivered Mail Returned to Sender"), "English subject");
    T_CHECK(has(&b, "\nSubject: =?UTF-8?B?"), "Japanese subject encoded (RFC 2047)");
    T_CHECK(has(&b, "\nAuto-Submitted: auto-replied\n"), "Auto-Submitted");
    T_CHECK(has(&b, "\nMIME-Version: 1.0\n"), "MIME-Version");
    T_CHECK(has(&b, "\nDate: ") && has(&b, "\nMessage-ID: <"), "Date and Message-ID");
    T_CHECK(has(&b, "Content-Type: multipart/report; report-type=delivery-status;"),
            "multipart/report");
    T_CHECK(has(&b, "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n"),
            "part 1 text/plain in base64");
    T_CHECK(seven_bit(&b), "7-bit: no 8BITMIME needed (RFC 6152)");
    T_CHECK(has(&b, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; "
                    "mail.example.test\n"), "part 2 starts with Reporting-MTA");
    T_CHECK(has(&b, "Arrival-Date: "), "Arrival-Date");
    T_CHECK(has(&b, "\nFinal-Recipient: rfc822; full@example.test\nAction: failed\n"
                    "Status: 5.2.2\n"), "mailbox full recipient block");
    T_CHECK(has(&b, "Diagnostic-Code: X-Yubin; mailbox full (quota 20 MB) (#5.2.2)\n"),
            "local delivery's finding: ours, not an SMTP reply");
    T_CHECK(!has(&b, "smtp; 550 5.2.2"), "no made-up reply code");
    T_CHECK(has(&b, "Status: 5.1.1\n"), "unknown user status");
    T_CHECK(has(&b, "Remote-MTA: dns; mx.remote.example\n"), "Remote-MTA from the reply");
    T_CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.7.1 spam refused"), "remote diagnostic");
    text_of(&b, &t);
    T_CHECK(has(&t, "容量増設オプション"), "Japanese advice: capacity add-on (our basic plan)");
    T_CHECK(has(&t, "capacity add-on (50 MB)"), "English advice: capacity add-on");
    T_CHECK(has(&t, "宛先のメールアドレスは存在しません"), "Japanese: unknown user");
    T_CHECK(has(&t, "  Remote server's reply: mx.remote.example [192.0.2.1] said: 550 5.7.1"),
            "a reply is labelled as the server's");
    T_CHECK(has(&t, "  What happened: no such user (#5.1.1)"), "our own finding is ours");
    T_CHECK(has(&b, "Content-Type: text/rfc822-headers"), "part 3 headers");
    T_CHECK(has(&b, "\nSubject: hello\nMessage-ID: <m1@b.example>\n"), "original headers quoted");
    T_CHECK(!has(&b, "body must not be quoted"), "original body left out");
    T_CHECK(memmem(t.s, t.len, "配送できませんでした", 30) != NULL
            && (char *)memmem(t.s, t.len, "配送できませんでした", 30)
               < (char *)memmem(t.s, t.len, "could not be delivered", 22),
            "Japanese before English");
    buf_free(&t);
    buf_free(&b);
}

/* An original whose header carries 8-bit octets (a raw UTF-8 Subject): the returned header
   is message/global-headers in base64, and the whole notice stays 7-bit. */
static void test_8bit_header_returned(void)
{
    static const char orig[] = "From: a@b.example\nSubject: \xe4\xbc\x9a\xe8\xad\xb0\n"
                               "Message-ID: <m8@b.example>\n\nbody\n";
    struct bounce_rcpt r[1] = {
        {"nobody@example.test", "no such user (#5.1.1)", 0, 0, 0, 0, 0},
    };
    struct bounce_in in;
    struct buf b;
    char out[4096];

    r[0].reason_len = strlen(r[0].reason);
    failed_in(&in, r, 1);
    in.headers = orig;
    in.headers_len = sizeof orig - 1;
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build a notice for an 8-bit header");
    T_CHECK(seven_bit(&b), "7-bit although the header is not");
    T_CHECK(!has(&b, "text/rfc822-headers"), "not text/rfc822-headers");
    T_CHECK(decoded(&b, "message/global-headers", out, sizeof out) == 0
            && strstr(out, "Subject: \xe4\xbc\x9a\xe8\xad\xb0\n")
            && strstr(out, "Message-ID: <m8@b.example>"),
            "message/global-headers in base64 holds the original header (RFC 6533)");
    buf_free(&b);
}

/* What the sender is told: a server's refusal only when a server refused */
static void test_reasons(void)
{
    struct bounce_rcpt r[4] = {
        {"friend@gmial.test", "the domain does not exist (DNS NXDOMAIN) (#5.1.2)", 0, 1, 0, 0, 0},
        {"x@nullmx.test", "the domain accepts no mail (null MX, RFC 7505) (#5.1.10)", 0, 1, 0,
         0, 0},
        {"u@remote.example", "mx.remote.example [192.0.2.1] said: 554 5.7.1 no thanks (#5.7.1)",
         0, 1, 0, 0, 0},
        {"v@remote.example", "mx.remote.example [192.0.2.1] said: 550 5.1.2 no such domain "
         "here (#5.1.2)", 0, 1, 0, 0, 0},
    };
    struct bounce_in in;
    struct buf b, t;
    char st[16];
    size_t i;

    for (i = 0; i < 4; i++) {
        r[i].reason_len = strlen(r[i].reason);
    }
    T_EQ_INT(bounce_classify(&r[0], (bounce_status(r[0].reason, r[0].reason_len, 0, st,
                                                    sizeof st), st)), BR_NO_DOMAIN, "NXDOMAIN");
    T_EQ_INT(bounce_classify(&r[1], (bounce_status(r[1].reason, r[1].reason_len, 0, st,
                                                    sizeof st), st)), BR_NO_DOMAIN, "null MX");
    T_EQ_INT(bounce_classify(&r[2], (bounce_status(r[2].reason, r[2].reason_len, 0, st,
                                                    sizeof st), st)), BR_REMOTE, "a refusal");
    failed_in(&in, r, 1);
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build the NXDOMAIN notice");
    text_of(&b, &t);
    T_CHECK(has(&t, "宛先のドメイン") && has(&t, "does not exist or accepts no mail"),
            "the domain is named as the trouble");
    T_CHECK(!has(&t, "refused") && !has(&t, "拒否") && !has(&t, "Remote server's reply"),
            "no server refused anything");
    T_CHECK(has(&t, "  What happened: the domain does not exist (DNS NXDOMAIN)"), "the detail");
    T_CHECK(has(&t, "  状況: the domain does not exist"), "the detail, in Japanese");
    T_CHECK(has(&b, "Diagnostic-Code: X-Yubin; the domain does not exist (DNS NXDOMAIN)")
            && !has(&b, "smtp;") && !has(&b, "Remote-MTA"),
            "our DNS finding is no SMTP reply (RFC 3464 §2.3.6)");
    buf_free(&t);
    T_CHECK(!has(&b, "Last-Attempt-Date:"),
            "never tried: no Last-Attempt-Date (RFC 3464 §2.3.7), not the notice's time");
    buf_free(&b);
    r[0].last = in.arrival + 7;     /* the attempt, before the notice */
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build with the attempt's time");
    T_CHECK(has_attempt(&b, r[0].last), "Last-Attempt-Date is the attempt's time (RFC 3464)");
    buf_free(&b);
    in.rcpt = &r[3];
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build the remote 5.1.2 notice");
    text_of(&b, &t);
    T_CHECK(has(&t, "宛先のドメイン") && has(&t, "Remote server's reply: mx.remote.example"),
            "a server's 5.1.2: the domain advice, the reply quoted as the server's");
    T_CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.2 no such domain here"), "its reply");
    buf_free(&t);
    buf_free(&b);
}

/* Build a one-recipient failure notice about r into b and its decoded text into t. */
static void build_one(struct bounce_rcpt *r, struct buf *b, struct buf *t, const char *name)
{
    struct bounce_in in;
    r->reason_len = strlen(r->reason);
    failed_in(&in, r, 1);
    buf_init(b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, b), 0, name);
    check_structure(b, name);
    text_of(b, t);
}

/* A full mailbox or a size refusal: our plan and our 20 MB only for our own mailboxes */
static void test_full_and_big(void)
{
    struct bounce_rcpt r[6] = {
        {"u@other.example", "mx.other.example [192.0.2.9] said: 552 5.2.2 mailbox full (#5.2.2)",
         0, 1, 0, 0, 0},
        {"big@example.test", "mailbox full (quota 50 MB) (#5.2.2)", 0, 0, 0, 0, 0},
        {"v@other.example", "mx.other.example [192.0.2.9] said: 552 5.3.4 message size exceeds "
         "2000 bytes (#5.3.4)", 0, 1, 0, 0, 0},
        {"w@other.example", "mx.other.example [192.0.2.9]: message of 3000 bytes exceeds the "
         "server's limit of 2000 (#5.3.4)", 0, 1, 0, 0, 0},
        {"x@example.test", "message too large for us (#5.3.4)", 0, 0, 0, 0, 0},
        /* ours, homed on another node of the fleet: its home's 552 over the relay route */
        {"tiny@basic.example", "b.fleet.example [127.0.0.1] said: 552 5.2.2 <tiny@basic.example>: "
         "mailbox full (quota 20 MB) (#5.2.2)", 0, 1, 0, 1, 1},
    };
    struct buf b, t;

    build_one(&r[0], &b, &t, "remote full mailbox");
    T_CHECK(!has(&t, "容量増設") && !has(&t, "add-on") && !has(&t, "50"),
            "no add-on advertised for another provider's mailbox");
    T_CHECK(has(&t, "相手先のメールサーバ上") && has(&t, "mailbox on their mail server is full")
            && has(&t, "another way"), "their server's mailbox: try later or another way");
    buf_free(&t);
    buf_free(&b);
    build_one(&r[1], &b, &t, "local full mailbox without the add-on");
    T_CHECK(!has(&t, "容量増設") && !has(&t, "add-on"), "no add-on once it cannot help");
    T_CHECK(has(&t, "delete mail kept on the server") && has(&t, "不要なメールを削除"),
            "the recipient can free space");
    buf_free(&t);
    buf_free(&b);
    build_one(&r[2], &b, &t, "remote size refusal");
    T_CHECK(!has(&t, "20 MB") && !has(&t, "20MB"), "not our limit: the server's own");
    T_CHECK(has(&t, "each server sets its own") && has(&t, "サーバごとに異なります"),
            "the recipient's server has its own limit");
    T_CHECK(has(&t, "about 1.37 times") && has(&t, "約 1.37 倍") && !has(&t, "1.2~1.5"),
            "Japanese and English give the same growth");
    buf_free(&t);
    buf_free(&b);
    build_one(&r[3], &b, &t, "over the server's announced SIZE");
    T_CHECK(!has(&t, "20 MB") && has(&t, "each server sets its own"), "its SIZE, not ours");
    buf_free(&t);
    buf_free(&b);
    build_one(&r[4], &b, &t, "our own size limit");
    T_CHECK(has(&t, "limit of 20 MB") && has(&t, "最大 20MB"), "our limit named");
    T_CHECK(has(&t, "about 1.37 times") && has(&t, "約 1.37 倍") && !has(&t, "1.2~1.5"),
            "the same factor in both languages");
    buf_free(&t);
    buf_free(&b);
    build_one(&r[5], &b, &t, "our mailbox on another node of the fleet");
    T_CHECK(has(&t, "容量増設オプション(50MB)") && has(&t, "capacity add-on (50 MB)")
            && !has(&t, "相手先のメールサーバ上"), "our mailbox: its quota and the add-on");
    buf_free(&t);
    buf_free(&b);
}

/* "HOST [IP]: WHAT" is what we found while at HOST, not what HOST said */
static void test_own_findings(void)
{
    struct bounce_rcpt r[2] = {
        {"ユーザ@remote.example", "mx.remote.example [192.0.2.1]: the address needs SMTPUTF8 "
         "(RFC 6531), which this server does not offer (#5.6.7)", 0, 1, 0, 0, 0},
        {"u@remote.example", "mx.remote.example [192.0.2.1]: cannot connect to port 25: "
         "Connection refused (#5.4.4)", 0, 1, 0, 0, 0},
    };
    struct buf b, t;
    char st[16];
    size_t i;

    for (i = 0; i < 2; i++) {
        r[i].reason_len = strlen(r[i].reason);
        bounce_status(r[i].reason, r[i].reason_len, 0, st, sizeof st);
        T_EQ_INT(bounce_classify(&r[i], st), BR_OTHER, "our finding: not a server's refusal");
        T_EQ_INT(bounce_is_reply(&r[i]), 0, "not a reply");
    }
    build_one(&r[1], &b, &t, "connection refused");
    T_CHECK(!has(&t, "Remote server's reply") && !has(&t, "相手先サーバの応答")
            && !has(&t, "refused the message") && !has(&t, "拒否しました"),
            "not labelled as the server's reply");
    T_CHECK(has(&t, "  What happened: mx.remote.example [192.0.2.1]: cannot connect")
            && has(&t, "  状況: mx.remote.example"), "labelled as ours");
    T_CHECK(has(&b, "Diagnostic-Code: X-Yubin; mx.remote.example [192.0.2.1]: cannot connect")
            && !has(&b, "smtp;") && !has(&b, "Remote-MTA:"),
            "no smtp diagnostic, no Remote-MTA: no server reported it (RFC 3464 §2.3.5-6)");
    buf_free(&t);
    buf_free(&b);
}

/* RFC 6533: a non-ASCII recipient in a message/global-delivery-status, the notice 7-bit */
static void test_utf8_recipient(void)
{
    struct bounce_rcpt r[2] = {
        {"ユーザ+x@例え.test", "mx.remote.example [192.0.2.1]: the address needs SMTPUTF8 "
         "(RFC 6531), which this server does not offer (#5.6.7)", 0, 1, 0, 0, 0},
        {"plain@remote.example", "mx.remote.example [192.0.2.1] said: 550 5.1.1 <ユーザ> no "
         "(#5.1.1)", 0, 1, 0, 0, 0},
    };
    struct bounce_in in;
    struct buf b, t;
    char *status = malloc(BOUNCE_MAX);

    r[0].reason_len = strlen(r[0].reason);
    r[1].reason_len = strlen(r[1].reason);
    failed_in(&in, r, 2);
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build the UTF-8 notice");
    check_structure(&b, "utf8");
    T_CHECK(seven_bit(&b), "7-bit clean");
    T_CHECK(has(&b, "report-type=global-delivery-status;"), "report-type names the part");
    T_CHECK(!has(&b, "message/delivery-status"), "no US-ASCII report with a UTF-8 address");
    T_CHECK(status && decoded(&b, "message/global-delivery-status", status, BOUNCE_MAX) == 0,
            "message/global-delivery-status in base64");
    if (status) {
        T_CHECK(strstr(status, "\nFinal-Recipient: utf-8; ユーザ\\x{2B}x@例え.test\n") != NULL,
                "utf-8 address type, unitext ('+' as \\x{2B})");
        T_CHECK(strstr(status, "\nFinal-Recipient: rfc822; plain@remote.example\n") != NULL,
                "an ASCII address stays rfc822");
        T_CHECK(strstr(status, "Diagnostic-Code: smtp; 550 5.1.1 <ユーザ> no") != NULL,
                "UTF-8 may stand in a global report's text");
    }
    text_of(&b, &t);
    T_CHECK(has(&t, "<ユーザ+x@例え.test>"), "the text names the address as it is");
    buf_free(&t);
    buf_free(&b);
    /* the ASCII report keeps US-ASCII: a server's UTF-8 text is not copied raw */
    failed_in(&in, &r[1], 1);
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build the ASCII notice");
    T_CHECK(has(&b, "report-type=delivery-status;")
            && has(&b, "Content-Type: message/delivery-status\n\n"), "ASCII report unchanged");
    T_CHECK(seven_bit(&b), "7-bit clean, the reply's UTF-8 replaced");
    buf_free(&b);
    free(status);
}

static void test_delayed(void)
{
    struct bounce_rcpt r = {"slow@remote.example", "connection refused (#4.4.1)", 27, 1, 0, 0, 0};
    struct bounce_in in;
    struct buf b;

    memset(&in, 0, sizeof in);
    in.kind = BOUNCE_DELAYED;
    in.me = "mail.example.test";
    in.to = "a@b.example";
    in.id = "6b0b2e4e1234abcd";
    in.arrival = 1764355200;
    in.now = 1764369600;
    in.retry_until = 1764355200 + 432000;
    in.rcpt = &r;
    in.nrcpt = 1;
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build delay warning");
    check_structure(&b, "delayed");
    T_CHECK(has(&b, "Action: delayed\nStatus: 4.4.1\n"), "delayed action and status");
    T_CHECK(has(&b, "Will-Retry-Until: "), "Will-Retry-Until");
    T_CHECK(has(&b, "Delayed Mail"), "delay subject");
    buf_free(&b);
}

static void test_hostile(void)
{
    struct bounce_rcpt r = {"x@example.test", NULL, 0, 0, 0, 0, 0};
    struct bounce_in in;
    struct buf b;
    char *h = malloc(BOUNCE_HEADERS_MAX + 5000);
    char reason[600];
    size_t n = 0;

    /* headers carrying our would-be boundary, a CR, a NUL, a 3000-octet line, a bare
       closing delimiter, and no blank line before the end */
    n += (size_t)sprintf(h + n, "X-A: --=_yubin_6b0b2e4e1234abcd_0_0\n"
                                "--=_yubin_6b0b2e4e1234abcd_6935e13c_0\n"
                                "--=_yubin_6b0b2e4e1234abcd_6935e13c_0--\nX-CR: a\rb\n");
    h[n++] = 'N';
    h[n++] = '\0';
    h[n++] = '\n';
    memcpy(h + n, "X-Long: ", 8);
    n += 8;
    memset(h + n, 'L', 3000);
    n += 3000;
    h[n++] = '\n';
    memcpy(h + n, "X-End: no newline", 17);
    n += 17;
    snprintf(reason, sizeof reason, "odd\r\nContent-Type: evil\n--=_yubin_6b0b2e4e1234abcd_"
             "6935e13c_1 (#5.0.0)");
    r.reason = reason;
    r.reason_len = strlen(reason);
    memset(&in, 0, sizeof in);
    in.kind = BOUNCE_FAILED;
    in.me = "mail.example.test";
    in.to = "evil\n@b.example";
    in.id = "6b0b2e4e1234abcd";
    in.arrival = 1764355200;
    in.now = 0x6935e13c;
    in.retry_until = 1764355200;
    in.rcpt = &r;
    in.nrcpt = 1;
    in.headers = h;
    in.headers_len = n;
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build with hostile input");
    check_structure(&b, "hostile");
    T_CHECK(has(&b, "X-End: no newline\n"), "last header line terminated");
    T_CHECK(has(&b, "To: <evil?@b.example>"), "LF in the address neutralised");
    buf_free(&b);

    /* a header section larger than the bound is cut at a line end */
    memset(h, 'A', BOUNCE_HEADERS_MAX + 4000);
    for (n = 70; n < BOUNCE_HEADERS_MAX + 4000; n += 71) {
        h[n] = '\n';
    }
    in.headers_len = BOUNCE_HEADERS_MAX + 4000;
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), 0, "build with huge headers");
    check_structure(&b, "huge");
    T_CHECK(b.len < BOUNCE_HEADERS_MAX + 16384, "quoted headers bounded (%zu)", b.len);
    buf_free(&b);

    in.nrcpt = 0;
    buf_init(&b, BOUNCE_MAX);
    T_EQ_INT(bounce_build(&in, &b), -1, "no recipient refused");
    buf_free(&b);
    free(h);
}

int main(void)
{
    test_status();
    test_failed();
    test_8bit_header_returned();
    test_reasons();
    test_full_and_big();
    test_own_findings();
    test_utf8_recipient();
    test_delayed();
    test_hostile();
    return T_DONE();
}

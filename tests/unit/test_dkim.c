/* test_dkim: DKIM canonicalization (RFC 6376 §3.4.5 examples), header fields and their
   bottom-up selection (§5.4.2), the tag-list and DKIM-Signature parser (§3.2, §3.5), the From
   domain, and the DNS records of dkim/dkimkey (255-octet strings, a key that round-trips). */
#include "t.h"
#include "buf.h"
#include "dkim.h"
#include "dkim/dkimdir.h"
#include "dkim/dkimkey.h"
#include "str.h"

#include <stdlib.h>
#include <string.h>

static void collect(void *ctx, const char *p, size_t n)
{
    buf_append(ctx, p, n);
}

/* The body fed in pieces of step octets. */
static void body(struct buf *out, const char *p, size_t n, size_t step)
{
    struct dkim_body b;
    size_t i;
    dkim_body_init(&b, collect, out);
    for (i = 0; i < n; i += step) {
        dkim_body_update(&b, p + i, n - i < step ? n - i : step);
    }
    dkim_body_final(&b);
}

static void test_rfc_example(void)
{
    /* §3.4.5: the message, its relaxed header and body */
    static const char msg[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
    struct dkim_field f[4];
    struct buf h, b;
    size_t hlen, off, step;
    long nf, i;

    T_EQ_INT(dkim_header_end(msg, sizeof msg - 1, &hlen, &off), 1, "header end found");
    T_EQ_INT(hlen, 20, "header length");
    nf = dkim_fields(msg, hlen, f, 4);
    T_EQ_INT(nf, 2, "two fields (one folded)");
    buf_init(&h, 1024);
    for (i = 0; i < nf; i++) {
        dkim_canon_header(msg + f[i].off, f[i].len, 1, collect, &h);
    }
    T_EQ_STR(h.s, "a:X\r\nb:Y Z\r\n", "relaxed header (§3.4.5)");
    for (step = 1; step <= 32; step++) {
        buf_init(&b, 1024);
        body(&b, msg + off, sizeof msg - 1 - off, step);
        T_CHECK(b.s && strcmp(b.s, " C\r\nD E\r\n") == 0, "relaxed body (§3.4.5) in %zu-octet pieces",
                step);
        buf_free(&b);
    }
    buf_free(&h);
}

static void test_body_cases(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        { "", "" },                                     /* empty body: nothing (§3.4.4) */
        { "\r\n\r\n\r\n", "" },                         /* only empty lines */
        { "  \t\n \n", "" },                            /* only WSP lines */
        { "a", "a\r\n" },                               /* no final line end */
        { "a\nb\n", "a\r\nb\r\n" },                     /* LF as the queue stores it */
        { "a \r\n\r\nb\t\n\n", "a\r\n\r\nb\r\n" },      /* inner empty line kept */
        { "a\rb\r\n", "a\rb\r\n" },                     /* a lone CR is an octet */
        { "a\r", "a\r\r\n" },
        { "\tx  y\t", " x y\r\n" },                     /* leading WSP run becomes one SP */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, 1024);
        body(&b, cases[i].in, strlen(cases[i].in), 1);
        T_CHECK(strcmp(b.s ? b.s : "", cases[i].want) == 0, "body case %zu", i);
        buf_free(&b);
    }
}

static void test_header_cases(void)
{
    static const struct {
        const char *in, *want;
        int crlf;
    } cases[] = {
        { "Subject:  Hello \t World  \r\n", "subject:Hello World\r\n", 1 },
        { "SUBJECT \t:x\n", "subject:x\r\n", 1 },
        { "To: a,\r\n   b,\n\tc\r\n", "to:a, b, c\r\n", 1 },
        { "DKIM-Signature: v=1; b=", "dkim-signature:v=1; b=", 0 },
        { "X:", "x:\r\n", 1 },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, 1024);
        dkim_canon_header(cases[i].in, strlen(cases[i].in), cases[i].crlf, collect, &b);
        T_EQ_STR(b.s, cases[i].want, "header case");
        buf_free(&b);
    }
}

static void test_select(void)
{
    static const char h[] = "Received: x\nFrom: a@b.c\nTo: one\nto: two\n continued\nSubject: s\n";
    struct dkim_field f[8];
    long nf = dkim_fields(h, sizeof h - 1, f, 8);
    T_EQ_INT(nf, 5, "five fields");
    T_EQ_INT(dkim_select(h, f, 5, "to", 0), 3, "first 'to' in h= is the bottom one");
    T_EQ_INT(dkim_select(h, f, 5, "to", 1), 2, "second 'to' is the one above");
    T_EQ_INT(dkim_select(h, f, 5, "to", 2), -1, "a third adds nothing");
    T_EQ_INT(dkim_select(h, f, 5, "from", 1), -1, "oversigned From adds nothing");
    T_EQ_INT(dkim_fields(h, sizeof h - 1, f, 4), -1, "more fields than room");
}

static void test_tags(void)
{
    static const char sig[] =
        " v=1; a=rsa-sha256; c=relaxed/relaxed; d=Example.TEST; s=y20261203;\r\n\tt=1764720000;"
        " h=from:from:to\r\n\t:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
        "\tb=AbC\r\n\tdEf=";
    struct dkim_sig s;
    struct dkim_tags t;
    T_EQ_INT(dkim_sig_parse(sig, sizeof sig - 1, &s), 0, "our signature parses");
    T_EQ_STR(s.d, "example.test", "d= in lower case");
    T_EQ_STR(s.s, "y20261203", "s=");
    T_EQ_STR(s.b, "AbCdEf=", "b= without its FWS");
    T_EQ_INT(s.nh, 4, "four names in h=");
    T_EQ_STR(s.h[3], "subject", "name after a folded ':'");
    T_EQ_INT(s.t, 1764720000, "t=");
    T_EQ_INT(dkim_tags_parse("a=1; a=2", 8, &t), -1, "a tag twice is an error");
    T_EQ_INT(dkim_tags_parse("a=1;;", 5, &t), -1, "an empty tag-spec is an error");
    T_EQ_INT(dkim_tags_parse("1a=1", 4, &t), -1, "a name starts with a letter");
    T_EQ_INT(dkim_tags_parse("a=b;c", 5, &t), -1, "a tag without '='");
    T_EQ_INT(dkim_tags_parse("a = x y ; b=", 12, &t), 0, "FWS around; empty value");
    T_EQ_INT(t.t[0].valuelen, 3, "value keeps inner FWS, drops the trailing");
    T_EQ_INT(dkim_sig_parse("v=1; a=x; d=a.b; s=s; bh=x; b=y; h=to", 38, &s), -1,
             "h= without from is refused");
    T_EQ_INT(dkim_sig_parse("v=2; a=x; d=a.b; s=s; bh=x; b=y; h=from", 40, &s), -1,
             "v=2 is refused");
    T_EQ_INT(dkim_sig_parse("v=1; a=x; d=a.b; s=s; bh=x; b=y; h=from; i=u@Mail.A.B", 53, &s), 0,
             "i= in a subdomain of d=");
    T_EQ_INT(dkim_sig_parse("v=1; a=x; d=a.b; s=s; bh=x; b=y; h=from; i=@a.b", 47, &s), 0,
             "i= of d= itself");
    T_EQ_INT(dkim_sig_parse("v=1; a=x; d=a.b; s=s; bh=x; b=y; h=from; i=u@xa.b", 49, &s), -1,
             "i= in another domain ending in d= (RFC 6376 6.1.1)");
    T_EQ_INT(dkim_sig_parse("v=1; a=x; d=a.b; s=s; bh=x; b=y; h=from; i=u@evil.c", 51, &s), -1,
             "i= in another domain");
}

static void test_from_domain(void)
{
    static const struct {
        const char *f, *want;
    } cases[] = {
        { "From: Taro <taro@Example.TEST>\r\n", "example.test" },
        { "From: taro@example.test", "example.test" },
        { "From: \"a@evil.test, x\" <t@ok.test>", "ok.test" },
        { "From: (c@evil.test) t@ok.test (comment)", "ok.test" },
        { "From: a@one.test, b@two.test", NULL },
        { "From: <a@one.test> <b@two.test>", NULL },
        { "From: nobody", NULL },
        { "From: a@bad_domain", NULL },
        { "From: =?UTF-8?B?5aSq6YOO?= <taro@日本語.jp>", "xn--wgv71a119e.jp" },
        { "From: 太郎 <taro@日本語。ＪＰ>", "xn--wgv71a119e.jp" },
        { "From: <taro@\xed\xa0\x80.jp>", NULL },
        { "From: <a@b.test", NULL },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dom[256];
        int r = dkim_from_domain(cases[i].f, strlen(cases[i].f), dom, sizeof dom);
        if (cases[i].want) {
            T_CHECK(r == 1 && strcmp(dom, cases[i].want) == 0, "from: %s", cases[i].f);
        } else {
            T_CHECK(r == 0, "no single domain: case %zu", i);
        }
    }
}

static void test_records(void)
{
    static const char head[] = "y20261203._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=";
    char pub[DKIMKEY_PUB_MAX];
    struct buf pem, rec;
    const char *p;
    size_t strings = 0;

    buf_init(&pem, DKIMKEY_PEM_MAX);
    T_EQ_INT(dkimkey_generate(&pem, pub, sizeof pub), 0, "a 2048-bit key");
    T_CHECK(strncmp(pem.s, "-----BEGIN RSA PRIVATE KEY-----", 31) == 0, "PEM RSA PRIVATE KEY");
    T_EQ_INT(strlen(pub), 392, "p= of a 2048-bit SubjectPublicKeyInfo is 392 base64 octets");
    T_CHECK(strncmp(pub, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 44) == 0,
            "SubjectPublicKeyInfo, rsaEncryption, 2048-bit modulus");
    buf_init(&rec, 4096);
    T_EQ_INT(dkimkey_record_dkim(&rec, "example.test", "y20261203", pub), 0, "record");
    T_CHECK(strncmp(rec.s, head, strlen(head)) == 0, "record name and start");
    for (p = strchr(rec.s, '"'); p; p = strchr(p + 1, '"')) {
        const char *end = strchr(p + 1, '"');
        T_CHECK(end && end - p - 1 <= 255, "string %zu at most 255 octets", strings);
        strings++;
        p = end;
    }
    T_EQ_INT(strings, 2, "410 octets: two strings");
    T_EQ_INT(dkimkey_selector_ok("y20261203b"), 1, "selector ok");
    T_EQ_INT(dkimkey_selector_ok("../x"), 0, "no path in a selector");
    T_EQ_INT(dkimkey_selector_ok("-x"), 0, "no leading '-'");
    buf_wipe(&pem);
    buf_free(&rec);
}

/* The fleet's key records (dkim/dkimdir): names, a key's value made from mailacct's PEM and
   read back, and hostile values. */
static void test_dir_records(void)
{
    char dom[SMTP_DOMAIN_MAX + 1], sel[DKIM_SELECTOR_MAX + 1], key[600], pub[DKIMKEY_PUB_MAX];
    char body[DKIMDIR_VAL_MAX], val[DKIMDIR_VAL_MAX + DKIMKEY_PUB_MAX], p2[DKIMKEY_PUB_MAX];
    unsigned char der[DKIMDIR_DER_MAX];
    struct buf pem;
    size_t dl = 0;

    T_EQ_INT(dkimdir_key(key, sizeof key, "example.test", NULL), 0, "selector record key");
    T_EQ_STR(key, "/yubin/dir/dkim/example.test", "selector record key");
    T_EQ_INT(dkimdir_which(key, dom, sel), 1, "a selector record");
    T_EQ_STR(dom, "example.test", "its domain");
    T_EQ_INT(dkimdir_which("/yubin/dir/dkim/example.test/y20261203b", dom, sel), 2, "key rec");
    T_EQ_STR(sel, "y20261203b", "its selector");
    T_EQ_INT(dkimdir_which("/yubin/dir/dkim/example.test/../x", dom, sel), 0, "no path");
    T_EQ_INT(dkimdir_which("/yubin/dir/dkim/", dom, sel), 0, "no domain");
    T_EQ_INT(dkimdir_which("/yubin/dir/dkim//y1", dom, sel), 0, "empty domain");
    T_EQ_INT(dkimdir_which("/yubin/dir/domains/example.test", dom, sel), 0, "another file");

    buf_init(&pem, DKIMKEY_PEM_MAX);
    T_EQ_INT(dkimkey_generate(&pem, pub, sizeof pub), 0, "a key");
    T_EQ_INT(dkimdir_pem_body(pem.s, pem.len, body, sizeof body), 0, "PEM body on one line");
    T_CHECK(strchr(body, '\n') == NULL && strchr(body, '-') == NULL, "no armour, no breaks");
    T_EQ_INT(dkimdir_pem_body(pem.s, pem.len, body, 100), -1, "body over cap refused");
    T_EQ_INT(str_fmt(val, sizeof val, "y1:%s:%s", pub, body), 0, "value");
    T_EQ_INT(dkimdir_parse(val, "y1", p2, sizeof p2, der, sizeof der, &dl), 0, "value parses");
    T_EQ_STR(p2, pub, "p= back");
    T_CHECK(dl > 1000 && der[0] == 0x30, "DER of an RSA-2048 key (a SEQUENCE)");
    T_EQ_INT(dkimdir_parse(val, "y2", p2, sizeof p2, der, sizeof der, &dl), -1, "other sel");
    T_EQ_INT(dkimdir_parse(val, "y1", p2, 8, der, sizeof der, &dl), -1, "p= over cap");
    T_EQ_INT(dkimdir_parse(val, "y1", p2, sizeof p2, der, 16, &dl), -1, "DER over cap");
    T_EQ_INT(dkimdir_parse("y1:abc", "y1", p2, sizeof p2, der, sizeof der, &dl), -1, "2 parts");
    T_EQ_INT(dkimdir_parse("y1::QUJD", "y1", p2, sizeof p2, der, sizeof der, &dl), -1, "no p=");
    T_EQ_INT(dkimdir_parse("y1:p:", "y1", p2, sizeof p2, der, sizeof der, &dl), -1, "no key");
    T_EQ_INT(dkimdir_parse("y1:p:QU*D", "y1", p2, sizeof p2, der, sizeof der, &dl), -1,
             "not base64");
    T_EQ_INT(dkimdir_pem_body("-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n",
                              56, body, sizeof body), -1, "only the PEM mailacct writes");
    {
        const char *enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nQUJD\n"
                          "-----END RSA PRIVATE KEY-----\n";
        T_EQ_INT(dkimdir_pem_body(enc, strlen(enc), body, sizeof body), -1,
                 "an encrypted PEM (headers, not base64) refused");
    }
    buf_wipe(&pem);
}

int main(void)
{
    test_rfc_example();
    test_body_cases();
    test_header_cases();
    test_select();
    test_tags();
    test_from_domain();
    test_records();
    test_dir_records();
    return T_DONE();
}

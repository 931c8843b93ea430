/* test_authres: the DMARC record parser, the organizational domain (Public Suffix List rules:
   plain, wildcard, exception), the DMARC evaluation, the DKIM key record parser, and the
   Authentication-Results builder and remover (RFC 8601 §5) */
#include "authres.h"
#include "buf.h"
#include "dkimverify.h"
#include "dmarc.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char psl_text[] =
    "// ===BEGIN ICANN DOMAINS===\n"
    "com\n"
    "jp\n"
    "co.jp\n"
    "// comment line\n"
    "*.kawasaki.jp\n"
    "!city.kawasaki.jp\n"
    "uk\n"
    "co.uk\n"
    "github.io\n";

/* TXT records of _dmarc names for dmarc_check */
static const char *const zone[][2] = {
    {"_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; pct=100"},
    {"_dmarc.strict.com", "v=DMARC1; p=reject; adkim=s; aspf=s"},
    {"_dmarc.half.com", "v=DMARC1; p=reject; pct=50"},
    {"_dmarc.two.com", "v=DMARC1; p=reject"},
    {"_dmarc.two.com", "v=DMARC1; p=none"},
    {"_dmarc.temp.com", NULL},
    {"_dmarc.caps.com", "v=DMARC1; p=Reject; aspf=S"},
    {"_dmarc.org.com", "v=DMARC1; p=none; sp=reject"},
    {"_dmarc.two.org.com", "v=DMARC1; p=none"},             /* two at the From domain */
    {"_dmarc.two.org.com", "v=DMARC1; p=quarantine"},
    {"_dmarc.bad.org.com", "v=DMARC1; p=nothing"},          /* one without a valid p= */
    {"_dmarc.spf.org.com", "v=spf1 -all"},                  /* not DMARC: discarded */
};

static enum spf_dns txt(void *ctx, const char *name, char *out, size_t cap, size_t *n)
{
    size_t i, off = 0;
    (void)ctx;
    *n = 0;
    for (i = 0; i < sizeof zone / sizeof zone[0]; i++) {
        if (strcmp(zone[i][0], name) != 0) {
            continue;
        }
        if (!zone[i][1]) {
            return SPF_DNS_TEMP;
        }
        if (off + strlen(zone[i][1]) + 1 <= cap) {
            memcpy(out + off, zone[i][1], strlen(zone[i][1]) + 1);
            off += strlen(zone[i][1]) + 1;
            (*n)++;
        }
    }
    return *n ? SPF_DNS_OK : SPF_DNS_NXDOMAIN;
}

static void parser(void)
{
    static const struct {
        const char *rec;
        int ok, p, sp, adkim, aspf;
        unsigned pct;
    } t[] = {
        {"v=DMARC1; p=reject", 0, DMARC_P_REJECT, DMARC_P_REJECT, 0, 0, 100},
        {"v=DMARC1;p=none;sp=reject;adkim=s;aspf=r;pct=20", 0, DMARC_P_NONE, DMARC_P_REJECT, 1, 0, 20},
        {"v=DMARC1 ; p = quarantine ; rua=mailto:a@b.example", 0, DMARC_P_QUARANTINE,
         DMARC_P_QUARANTINE, 0, 0, 100},
        /* §6.3: a bad value elsewhere takes the tag's default, the policy stands */
        {"v=DMARC1; p=reject; pct=101", 0, DMARC_P_REJECT, DMARC_P_REJECT, 0, 0, 100},
        {"v=DMARC1; p=quarantine; pct=100%; aspf=strict; adkim=", 0, DMARC_P_QUARANTINE,
         DMARC_P_QUARANTINE, 0, 0, 100},
        {"v=DMARC1; p=reject; adkim=s; pct=123456789012", 0, DMARC_P_REJECT, DMARC_P_REJECT, 1,
         0, 100},
        {"v=DMARC1; p=reject; sp=bogus", -1, 0, 0, 0, 0, 0},
        {"v=DMARC1; p=bogus", -1, 0, 0, 0, 0, 0},
        {"v=DMARC1", -1, 0, 0, 0, 0, 0},
        {"p=reject; v=DMARC1", -1, 0, 0, 0, 0, 0},
        {"v=DMARC2; p=reject", -1, 0, 0, 0, 0, 0},
        {"v=spf1 -all", -1, 0, 0, 0, 0, 0},
        {"v=DMARC1; p=reject; adkim=x", 0, DMARC_P_REJECT, DMARC_P_REJECT, 0, 0, 100},
        {"v=DMARC1; p=QUARANTINE; sp=None; adkim=S", 0, DMARC_P_QUARANTINE, DMARC_P_NONE, 1, 0,
         100},
        {"v=DMARC1; p=reject; p=none", -1, 0, 0, 0, 0, 0},
        {"", -1, 0, 0, 0, 0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct dmarc_rec r;
        int got = dmarc_parse(t[i].rec, strlen(t[i].rec), &r);
        T_EQ_INT(got, t[i].ok, t[i].rec);
        if (got == 0 && t[i].ok == 0) {
            T_CHECK((int)r.p == t[i].p && (int)r.sp == t[i].sp && r.adkim_strict == t[i].adkim
                        && r.aspf_strict == t[i].aspf && r.pct == t[i].pct,
                    "values of %s", t[i].rec);
        }
    }
}

static void orgdomain(struct dmarc_psl *l)
{
    static const char *const t[][2] = {
        {"mail.example.com", "example.com"},
        {"example.com", "example.com"},
        {"com", "com"},
        {"a.b.example.co.jp", "example.co.jp"},
        {"co.jp", "co.jp"},
        {"www.foo.kawasaki.jp", "www.foo.kawasaki.jp"},     /* *.kawasaki.jp: foo.kawasaki.jp is a suffix */
        {"x.city.kawasaki.jp", "city.kawasaki.jp"},         /* !city.kawasaki.jp */
        {"user.github.io", "user.github.io"},
        {"a.b.unlisted.test", "unlisted.test"},             /* the default rule "*" */
        {"single", "single"},
    };
    char out[SMTP_DOMAIN_MAX + 1];
    struct dmarc_psl empty;
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        T_CHECK(dmarc_orgdomain(l, t[i][0], out, sizeof out) == 0 && strcmp(out, t[i][1]) == 0,
                "orgdomain %s = %s (got %s)", t[i][0], t[i][1], out);
    }
    memset(&empty, 0, sizeof empty);
    T_CHECK(dmarc_orgdomain(&empty, "a.b.example.co.jp", out, sizeof out) == 0
                && strcmp(out, "co.jp") == 0, "no list: the last two labels (got %s)", out);
}

static void check(struct dmarc_psl *l)
{
    static const struct spf_resolver r = { NULL, txt, NULL, NULL, NULL };
    static const char *const none[1] = { "" };
    static const char *const sub[1] = { "mail.example.com" };
    static const char *const other[1] = { "other.com" };
    struct dmarc_in in;
    struct dmarc_out o;
    unsigned rnd;
    int sampled = 0;

    memset(&in, 0, sizeof in);
    in.dkim_pass = none;
    in.from = "example.com";
    in.spf_domain = "bounce.example.com";
    in.spf_pass = 1;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_PASS && o.policy == DMARC_P_REJECT && !o.from_org,
            "relaxed SPF alignment passes");
    in.spf_pass = 0;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL && o.sampled, "nothing aligned fails");
    in.dkim_pass = other;
    in.ndkim_pass = 1;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL, "a pass of another domain is not aligned");
    in.dkim_pass = sub;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_PASS, "relaxed DKIM alignment passes");
    in.from = "strict.com";
    in.dkim_pass = (const char *const[]){ "mail.strict.com" };
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL, "adkim=s: a subdomain is not aligned");
    in.from = "news.example.com";
    in.ndkim_pass = 0;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL && o.from_org && o.policy == DMARC_P_QUARANTINE,
            "a subdomain takes sp= of the organizational domain");
    in.from = "nothing.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_NONE, "no record: none");
    in.from = "two.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_NONE, "two records: none applies");
    in.from = "temp.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_TEMPERROR, "DNS failure: temperror");
    in.from = "caps.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL && o.policy == DMARC_P_REJECT, "p=Reject is p=reject");
    in.from = "two.org.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_NONE && !o.from_org,
            "two records at the From domain: none, not the organizational domain's sp=");
    in.from = "bad.org.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_NONE && !o.from_org, "a record without a valid p=: none, no fallback");
    in.from = "spf.org.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL && o.from_org && o.policy == DMARC_P_REJECT,
            "only other TXT records: the organizational domain's sp=");
    /* a temperror of an aligned check: temperror (a later attempt may pass), not a failure */
    in.from = "example.com";
    in.ndkim_pass = 0;
    in.spf_temp = 1;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_TEMPERROR && o.aligned_temp && o.policy == DMARC_P_REJECT,
            "SPF temperror of an aligned MAIL FROM domain: temperror");
    in.spf_domain = "other.com";
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL && !o.aligned_temp,
            "SPF temperror of a domain that is not aligned: still a failure");
    in.spf_temp = 0;
    in.dkim_temp = other;
    in.ndkim_temp = 1;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL, "DKIM temperror of another domain: still a failure");
    in.dkim_temp = sub;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_TEMPERROR && o.aligned_temp, "DKIM temperror of an aligned d=");
    in.dkim_pass = sub;
    in.ndkim_pass = 1;
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_PASS && !o.aligned_temp, "a pass beside a temperror passes");
    in.from = "strict.com";
    in.ndkim_pass = 0;
    in.dkim_temp = (const char *const[]){ "mail.strict.com" };
    dmarc_check(&r, l, &in, 0, &o);
    T_CHECK(o.res == DMARC_FAIL, "adkim=s: a temperror of a subdomain is not aligned");
    in.ndkim_temp = 0;
    in.spf_domain = "bounce.example.com";
    in.from = "half.com";
    for (rnd = 0; rnd < 100; rnd++) {
        dmarc_check(&r, l, &in, rnd, &o);
        sampled += o.sampled;
    }
    T_EQ_INT(sampled, 50, "pct=50 samples half");
}

static void keyrec(void)
{
    /* a 1024-bit SubjectPublicKeyInfo, a 512-bit one, and garbage */
    static const char k1024[] = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/"
        "UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2"
        "UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
    static const char k512[] = "p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMs2Nl7D8f1ioPKQzCJB4Yh0m8UB"
        "K7ldj8jRz4wEEx+Cz8jT6zIi1EVhbgfGg2TDZ0p4r/rlCHSW0nUcJ6AjDlECAwEAAQ==";
    unsigned char n[DKIMV_N_MAX], e[8];
    size_t nl = 0, el = 0;
    const char *why = "";
    T_CHECK(dkimv_key_parse(k1024, strlen(k1024), n, &nl, e, &el, &why) == 0 && nl == 128
                && el == 3, "a 1024-bit key parses (%s)", why);
    T_CHECK(dkimv_key_parse(k512, strlen(k512), n, &nl, e, &el, &why) < 0
                && strstr(why, "1024"), "a 512-bit key is refused (%s)", why);
    T_CHECK(dkimv_key_parse("v=DKIM1; p=", 11, n, &nl, e, &el, &why) < 0
                && strstr(why, "revoked"), "empty p=: revoked (%s)", why);
    T_CHECK(dkimv_key_parse("v=DKIM1; k=ed25519; p=AAAA", 26, n, &nl, e, &el, &why) < 0,
            "k=ed25519 is not ours (%s)", why);
}

static void collect(void *ctx, const char *p, size_t n)
{
    buf_append(ctx, p, n);
}

static void header(void)
{
    static const char me[] = "mx.example.net";
    static const char h[] =
        "Authentication-Results: mx.example.net; spf=pass\n"
        "Authentication-Results: (forged) MX.Example.NET;\n\tdkim=pass header.d=bank.test\n"
        "Authentication-Results: \"mx.example.net\"; dmarc=pass\n"
        "Authentication-Results: other.example; spf=fail\n"
        "Authentication-Results: mx.example.net.evil; spf=fail\n"
        "Subject: hi\n";
    struct authres_in in;
    struct authres_out o;
    struct spf_ip ip;
    struct buf b;

    buf_init(&b, 8192);
    T_EQ_INT(authres_strip(h, sizeof h - 1, me, collect, &b), 3, "three fields claim us");
    buf_append(&b, "", 1);
    T_EQ_STR(b.s, "Authentication-Results: other.example; spf=fail\n"
                  "Authentication-Results: mx.example.net.evil; spf=fail\n"
                  "Subject: hi\n", "the others are kept as they were");
    T_CHECK(!authres_is_ours("Authentication-Result: mx.example.net; x", 40, me),
            "another field name");
    buf_free(&b);

    memset(&o, 0, sizeof o);
    spf_ip_parse("192.0.2.1", &ip);
    in.me = me;
    in.ip = &ip;
    in.helo = "mail.sender.example";
    in.sender = "bob@sender.example";
    o.spf = SPF_SOFTFAIL;
    strcpy(o.spf_why, "softfail matched ~all (in \"the) record\")");
    o.ndkim = 2;
    o.dkim[0].res = DKIMV_PASS;
    strcpy(o.dkim[0].d, "sender.example");
    strcpy(o.dkim[0].s, "s1");
    o.dkim[1].res = DKIMV_PERMERROR;
    strcpy(o.dkim[1].why, "the signature does not parse");
    o.from_ok = 1;
    strcpy(o.from, "sender.example");
    o.dmarc.res = DMARC_PASS;
    o.dmarc.policy = DMARC_P_REJECT;
    buf_init(&b, AUTHRES_HEADER_MAX);
    T_CHECK(authres_header(&b, &in, &o) == 0, "header built");
    buf_append(&b, "", 1);
    T_EQ_STR(b.s, "Authentication-Results: mx.example.net;\n"
                  "\tspf=softfail (softfail matched ~all ?in \"the? record\"?) "
                  "smtp.mailfrom=bob@sender.example;\n"
                  "\tdkim=pass header.d=sender.example header.s=s1;\n"
                  "\tdkim=permerror (the signature does not parse);\n"
                  "\tdmarc=pass (p=reject) header.from=sender.example\n", "the header");
    T_CHECK(authres_is_ours(b.s, b.len - 1, me), "our own header is recognised as ours");
    buf_free(&b);
    o.from_ok = 0;
    o.ndkim = 0;
    in.sender = "";
    buf_init(&b, AUTHRES_HEADER_MAX);
    authres_header(&b, &in, &o);
    buf_append(&b, "", 1);
    T_CHECK(strstr(b.s, "smtp.helo=mail.sender.example") && strstr(b.s, "dkim=none")
                && strstr(b.s, "dmarc=fail (not evaluable"), "null sender, no signature, no From");
    buf_free(&b);
}

/* TXT for the HELO checks: mx.sender.example says -all; every name asked is counted */
static enum spf_dns helo_txt(void *ctx, const char *name, char *out, size_t cap, size_t *n)
{
    static const char rec[] = "v=spf1 -all";
    (*(int *)ctx)++;
    *n = 0;
    if (strcmp(name, "mx.sender.example") != 0 || cap < sizeof rec) {
        return SPF_DNS_NXDOMAIN;
    }
    memcpy(out, rec, sizeof rec);
    *n = 1;
    return SPF_DNS_OK;
}

/* The HELO identity (RFC 7208 §2.3, §2.4): checked apart when MAIL FROM is not <>; none
   without a query when it is not a FQDN; recorded as its own spf= with smtp.helo= */
static void helo(void)
{
    static const struct { const char *helo, *sender, *want, *pvalue; int queries; } cases[] = {
        {"MX.sender.example", "bob@nothing.example", "fail", "smtp.helo=MX.sender.example", 2},
        {"localhost", "bob@nothing.example", "none", "smtp.helo=localhost", 1},
        {"[192.0.2.1]", "bob@nothing.example", "none", "smtp.helo=\"[192.0.2.1]\"", 1},
        {"[IPv6:2001:db8::1]", "bob@nothing.example", "none",
         "smtp.helo=\"[IPv6:2001:db8::1]\"", 1},
        {"192.0.2.1", "bob@nothing.example", "none", "smtp.helo=192.0.2.1", 1},
        {"mx.sender.example", "", "fail", "smtp.helo=mx.sender.example", 1},
        {"[192.0.2.1]", "", "none", "smtp.helo=\"[192.0.2.1]\"", 0},
    };
    struct authres_in in;
    struct authres_out o;
    struct spf_ip ip;
    struct buf b;
    size_t i;
    spf_ip_parse("192.0.2.1", &ip);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int queries = 0;
        struct spf_resolver r = { &queries, helo_txt, NULL, NULL, NULL };
        const char *last;
        char want[128];
        in.me = "mx.example.net";
        in.ip = &ip;
        in.helo = cases[i].helo;
        in.sender = cases[i].sender;
        authres_spf(&in, &r, &o);
        T_CHECK(queries == cases[i].queries, "%s <%s>: %d queries", cases[i].helo,
                cases[i].sender, queries);
        buf_init(&b, AUTHRES_HEADER_MAX);
        T_CHECK(authres_header(&b, &in, &o) == 0, "header built");
        buf_append(&b, "", 1);
        /* the last spf= resinfo is the HELO identity's */
        last = b.s;
        while (strstr(last + 1, "\tspf=")) {
            last = strstr(last + 1, "\tspf=");
        }
        snprintf(want, sizeof want, "\tspf=%s (", cases[i].want);
        T_CHECK(strncmp(last, want, strlen(want)) == 0 && strstr(last, cases[i].pvalue)
                    && strstr(last, cases[i].pvalue) < strstr(last, ";"),
                "%s <%s>: %s", cases[i].helo, cases[i].sender, b.s);
        T_CHECK(cases[i].sender[0] ? o.helo_checked && strstr(b.s, "smtp.mailfrom=")
                                   : !o.helo_checked && !strstr(b.s, "smtp.mailfrom="),
                "%s <%s>: one resinfo per identity", cases[i].helo, cases[i].sender);
        buf_free(&b);
    }
}

/* dmarc_psl_lazy: nothing read for a domain with its own record and an exact alignment; the
   list read once a subdomain needs its organizational domain */
static void lazy(void)
{
    static const struct spf_resolver r = { NULL, txt, NULL, NULL, NULL };
    static const char *const pass[1] = { "example.co.jp" };
    char path[] = "/tmp/test_authres_psl_XXXXXX";
    struct dmarc_psl l;
    struct dmarc_in in;
    struct dmarc_out o;
    int fd = mkstemp(path);
    T_CHECK(fd >= 0 && write(fd, psl_text, sizeof psl_text - 1) == (ssize_t)(sizeof psl_text - 1),
            "list file written");
    close(fd);
    dmarc_psl_lazy(&l, path, NULL);
    memset(&in, 0, sizeof in);
    in.from = "example.com";
    in.spf_domain = "example.com";
    in.spf_pass = 1;
    in.dkim_pass = pass;
    dmarc_check(&r, &l, &in, 0, &o);
    T_CHECK(o.res == DMARC_PASS && l.rule == NULL, "exact alignment: the list is not read");
    in.from = "mail.example.co.jp";
    in.spf_pass = 0;
    in.ndkim_pass = 1;
    dmarc_check(&r, &l, &in, 0, &o);
    T_CHECK(l.rule != NULL && l.n == 8, "a subdomain: the list is read (%zu rules)", l.n);
    T_CHECK(o.res == DMARC_NONE, "mail.example.co.jp has no record at example.co.jp");
    dmarc_psl_free(&l);
    unlink(path);
}

/* authres_ahead: the first names the checks ask, for dns_ahead */
static void ahead(void)
{
    static const struct {
        const char *helo, *sender, *msg;
        const char *want;           /* the names, each followed by ' ' */
    } cases[] = {
        {"mx.sender.test", "a@Sender.test", "From: x@from.test\nTo: y@z\n\nbody\n",
         "Sender.test mx.sender.test _dmarc.from.test "},
        {"mx.sender.test", "", "From: x@from.test\n\nbody\n",      /* <>: HELO's alone */
         "mx.sender.test _dmarc.from.test "},
        {"[192.0.2.1]", "a@sender.test", "From : x@from.test\n\nbody\n",   /* not a FQDN */
         "sender.test _dmarc.from.test "},
        {"localhost", "a@sender.test", "From: x@a.test\nFrom: y@b.test\n\n",  /* two From */
         "sender.test "},
        {"", "a@", "Subject: no From\n\n", ""},
        /* the keys of the first two signatures that parse (v=2 does not), obs syntax too */
        {"localhost", "",
         "DKIM-Signature: v=2; a=rsa-sha256; d=bad.test; s=s0; h=from; bh=YQ==; b=Yg==\n"
         "DKIM-Signature : v=1; a=rsa-sha256; d=a.test; s=s1; h=from:to; bh=YQ==;\n"
         "\tb=Yg==\n"
         "From: x@from.test\n"
         "DKIM-Signature: v=1; a=rsa-sha256; d=b.test; s=s2; h=from; bh=YQ==; b=Yg==\n"
         "DKIM-Signature: v=1; a=rsa-sha256; d=c.test; s=s3; h=from; bh=YQ==; b=Yg==\n\n",
         "_dmarc.from.test s1._domainkey.a.test s2._domainkey.b.test "},
    };
    size_t i, j, k;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char names[AUTHRES_AHEAD_MAX][AUTHRES_NAME_MAX];
        char got[AUTHRES_AHEAD_MAX * (AUTHRES_NAME_MAX + 1) + 1] = "";
        struct spf_ip ip;
        struct authres_in in = { "mx.example.test", &ip, cases[i].helo, cases[i].sender };
        memset(&ip, 0, sizeof ip);
        k = authres_ahead(&in, cases[i].msg, strlen(cases[i].msg), names);
        for (j = 0; j < k; j++) {
            strcat(got, names[j]);
            strcat(got, " ");
        }
        T_EQ_STR(got, cases[i].want, "names asked ahead");
    }
}

int main(void)
{
    struct dmarc_psl l;
    char *text = malloc(sizeof psl_text);
    memcpy(text, psl_text, sizeof psl_text);
    T_CHECK(dmarc_psl_index(&l, text, sizeof psl_text - 1) == 0 && l.n == 8, "list indexed (%zu)",
            l.n);
    parser();
    orgdomain(&l);
    check(&l);
    keyrec();
    header();
    helo();
    lazy();
    ahead();
    dmarc_psl_free(&l);
    return T_DONE();
}

/* test_spf: check_host() against a table of DNS records: mechanisms, qualifiers, include and
   redirect, macros, the §4.6.4 limits, record selection and errors */
#include "spf.h"
#include "str.h"
#include "t.h"

#include <stdio.h>
#include <string.h>

struct rr {
    char type;              /* 'T' TXT, 'A', '6' AAAA, 'M' MX, 'P' PTR (name = the IP), '!' temp */
    const char *name;
    const char *value;
};

static const struct rr zone[] = {
    {'T', "pass.test", "v=spf1 ip4:192.0.2.0/24 -all"},
    {'T', "pass.test", "some other text"},
    {'T', "soft.test", "v=spf1 ~all"},
    {'T', "neutral.test", "v=spf1 ?all"},
    {'T', "nothing.test", "v=spf1 ip4:198.51.100.1"},
    {'T', "two.test", "v=spf1 -all"},
    {'T', "two.test", "v=spf1 +all"},
    {'T', "nospf.test", "google-site-verification=abc"},
    {'T', "inc.test", "v=spf1 include:pass.test -all"},
    {'T', "incnone.test", "v=spf1 include:nospf.test -all"},
    {'T', "inctemp.test", "v=spf1 include:temp.test -all"},
    {'!', "temp.test", ""},
    {'T', "redir.test", "v=spf1 redirect=pass.test"},
    {'T', "redirnone.test", "v=spf1 redirect=nospf.test"},
    {'T', "a.test", "v=spf1 a a:other.test/24 -all"},
    {'A', "a.test", "203.0.113.5"},
    {'A', "other.test", "198.51.100.77"},
    {'T', "mx.test", "v=spf1 mx -all"},
    {'M', "mx.test", "mx1.mx.test"},
    {'M', "mx.test", "mx2.mx.test"},
    {'A', "mx2.mx.test", "203.0.113.9"},
    {'T', "ip6.test", "v=spf1 ip6:2001:db8::/32 a//64 -all"},
    {'6', "ip6.test", "2001:db9:1:2::1"},
    {'T', "macro.test", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} -all"},
    {'A', "5.113.0.203.bob.smith._spf.macro.test", "127.0.0.2"},
    {'T', "ptr.test", "v=spf1 ptr -all"},
    {'P', "203.0.113.20", "host.ptr.test"},
    {'A', "host.ptr.test", "203.0.113.20"},
    {'T', "bad.test", "v=spf1 ip4:192.0.2.0/24 frob -all"},
    {'T', "badcidr.test", "v=spf1 ip4:192.0.2.0/33 -all"},
    {'T', "badmacro.test", "v=spf1 exists:%{x}.test -all"},
    {'T', "unknownmod.test", "v=spf1 foo=bar ip4:192.0.2.1 -all"},
    {'T', "tworedir.test", "v=spf1 redirect=a.test redirect=b.test"},
    {'T', "loop.test", "v=spf1 include:loop.test -all"},
    {'T', "lookups.test", "v=spf1 a:l1.test a:l2.test a:l3.test a:l4.test a:l5.test a:l6.test "
                          "a:l7.test a:l8.test a:l9.test a:l10.test a:l11.test -all"},
    {'A', "l1.test", "10.0.0.1"}, {'A', "l2.test", "10.0.0.2"}, {'A', "l3.test", "10.0.0.3"},
    {'A', "l4.test", "10.0.0.4"}, {'A', "l5.test", "10.0.0.5"}, {'A', "l6.test", "10.0.0.6"},
    {'A', "l7.test", "10.0.0.7"}, {'A', "l8.test", "10.0.0.8"}, {'A', "l9.test", "10.0.0.9"},
    {'A', "l10.test", "10.0.0.10"}, {'A', "l11.test", "192.0.2.99"},
    {'T', "voids.test", "v=spf1 a:v1.test a:v2.test a:v3.test +all"},
    {'T', "twovoids.test", "v=spf1 a:v1.test a:v2.test +all"},
    {'T', "manymx.test", "v=spf1 mx -all"},
    {'M', "manymx.test", "m1.test"}, {'M', "manymx.test", "m2.test"},
    {'M', "manymx.test", "m3.test"}, {'M', "manymx.test", "m4.test"},
    {'M', "manymx.test", "m5.test"}, {'M', "manymx.test", "m6.test"},
    {'M', "manymx.test", "m7.test"}, {'M', "manymx.test", "m8.test"},
    {'M', "manymx.test", "m9.test"}, {'M', "manymx.test", "m10.test"},
    {'M', "manymx.test", "m11.test"},
    {'T', "case.test", "V=SPF1 IP4:192.0.2.1 -ALL"},
    /* §12 domain-end: "." toplabel or a macro-expand; else a syntax error (permerror) even
       after a mechanism that matches */
    {'T', "nodot.test", "v=spf1 ip4:192.0.2.0/24 a:nodot -all"},
    {'T', "numtop.test", "v=spf1 ip4:192.0.2.0/24 include:example.123 -all"},
    {'T', "hyphen.test", "v=spf1 ip4:192.0.2.0/24 exists:a.-com -all"},
    {'T', "comma.test", "v=spf1 ip4:192.0.2.0/24 ptr:spf.example,com -all"},
    {'T', "redirbad.test", "v=spf1 ip4:192.0.2.0/24 redirect=nodot"},
    {'T', "expbad.test", "v=spf1 ip4:192.0.2.0/24 exp=%{d}x -all"},
    {'T', "ends.test", "v=spf1 ip4:192.0.2.0/24 a:mail.example.com. mx:x.xn--p1ai "
                       "include:%{d}.x-1.123-4 exists:%{i}._spf.%{d2} ptr:a.%{o} "
                       "exp=e.%{d}. foo=bar%% -all"},
};

static int known(const char *name)
{
    size_t i;
    for (i = 0; i < sizeof zone / sizeof zone[0]; i++) {
        if (str_eq_nocase(zone[i].name, strlen(zone[i].name), name)) {
            return zone[i].type == '!' ? -1 : 1;
        }
    }
    return 0;
}

static enum spf_dns status(const char *name, size_t n)
{
    int k = known(name);
    return k < 0 ? SPF_DNS_TEMP : n ? SPF_DNS_OK : k ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
}

static enum spf_dns txt(void *ctx, const char *name, char *out, size_t cap, size_t *n)
{
    size_t i, off = 0;
    (void)ctx;
    *n = 0;
    for (i = 0; i < sizeof zone / sizeof zone[0]; i++) {
        size_t l = strlen(zone[i].value);
        if (zone[i].type == 'T' && str_eq_nocase(zone[i].name, strlen(zone[i].name), name)
            && off + l + 1 <= cap) {
            memcpy(out + off, zone[i].value, l + 1);
            off += l + 1;
            (*n)++;
        }
    }
    return status(name, *n);
}

static enum spf_dns addr(void *ctx, const char *name, int v6, struct spf_ip *out, size_t max,
                         size_t *n)
{
    size_t i;
    (void)ctx;
    *n = 0;
    for (i = 0; i < sizeof zone / sizeof zone[0] && *n < max; i++) {
        if (zone[i].type == (v6 ? '6' : 'A')
            && str_eq_nocase(zone[i].name, strlen(zone[i].name), name)) {
            spf_ip_parse(zone[i].value, &out[(*n)++]);
        }
    }
    return status(name, *n);
}

static enum spf_dns mx(void *ctx, const char *name, char (*out)[SMTP_DOMAIN_MAX + 1], size_t max,
                       size_t *n)
{
    size_t i;
    (void)ctx;
    *n = 0;
    for (i = 0; i < sizeof zone / sizeof zone[0] && *n < max; i++) {
        if (zone[i].type == 'M' && str_eq_nocase(zone[i].name, strlen(zone[i].name), name)) {
            snprintf(out[(*n)++], SMTP_DOMAIN_MAX + 1, "%s", zone[i].value);
        }
    }
    return status(name, *n);
}

static enum spf_dns ptr(void *ctx, const struct spf_ip *ip, char (*out)[SMTP_DOMAIN_MAX + 1],
                        size_t max, size_t *n)
{
    size_t i;
    struct spf_ip a;
    (void)ctx;
    *n = 0;
    for (i = 0; i < sizeof zone / sizeof zone[0] && *n < max; i++) {
        if (zone[i].type == 'P' && spf_ip_parse(zone[i].name, &a) == 0 && a.v6 == ip->v6
            && memcmp(a.b, ip->b, 16) == 0) {
            snprintf(out[(*n)++], SMTP_DOMAIN_MAX + 1, "%s", zone[i].value);
        }
    }
    return *n ? SPF_DNS_OK : SPF_DNS_NXDOMAIN;
}

static const struct spf_resolver resolver = {NULL, txt, addr, mx, ptr};

static enum spf_result check(const char *ip, const char *sender, const char *domain, char *why,
                             size_t cap)
{
    struct spf_query q;
    spf_ip_parse(ip, &q.ip);
    q.sender = sender;
    q.helo = "helo.example";
    return spf_check(&resolver, &q, domain, why, cap);
}

#define CHECK(ip, domain, want) do {                                                   \
        char why_[256];                                                                 \
        enum spf_result got_ = check(ip, "Bob.Smith@" domain, domain, why_, sizeof why_); \
        T_CHECK(got_ == (want), "%s from %s: %s (want %s): %s", domain, ip,              \
                spf_result_name(got_), spf_result_name(want), why_);                    \
    } while (0)

int main(void)
{
    char why[256];
    CHECK("192.0.2.10", "pass.test", SPF_PASS);
    CHECK("192.0.3.10", "pass.test", SPF_FAIL);
    CHECK("::ffff:192.0.2.10", "pass.test", SPF_PASS);
    CHECK("192.0.2.10", "soft.test", SPF_SOFTFAIL);
    CHECK("192.0.2.10", "neutral.test", SPF_NEUTRAL);
    CHECK("192.0.2.10", "nothing.test", SPF_NEUTRAL);
    CHECK("192.0.2.10", "two.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "nospf.test", SPF_NONE);
    CHECK("192.0.2.10", "nonexistent.test", SPF_NONE);
    CHECK("192.0.2.10", "inc.test", SPF_PASS);
    CHECK("192.0.3.10", "inc.test", SPF_FAIL);
    CHECK("192.0.2.10", "incnone.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "inctemp.test", SPF_TEMPERROR);
    CHECK("192.0.2.10", "temp.test", SPF_TEMPERROR);
    CHECK("192.0.2.10", "redir.test", SPF_PASS);
    CHECK("192.0.2.10", "redirnone.test", SPF_PERMERROR);
    CHECK("203.0.113.5", "a.test", SPF_PASS);
    CHECK("198.51.100.200", "a.test", SPF_PASS);
    CHECK("198.51.101.1", "a.test", SPF_FAIL);
    CHECK("203.0.113.9", "mx.test", SPF_PASS);
    CHECK("203.0.113.8", "mx.test", SPF_FAIL);
    CHECK("2001:db8:ffff::1", "ip6.test", SPF_PASS);
    CHECK("2001:db9:1:2:abcd::9", "ip6.test", SPF_PASS);
    CHECK("2001:db9:1:3::1", "ip6.test", SPF_FAIL);
    CHECK("192.0.2.10", "ip6.test", SPF_FAIL);
    CHECK("203.0.113.5", "macro.test", SPF_PASS);
    CHECK("203.0.113.6", "macro.test", SPF_FAIL);
    CHECK("203.0.113.20", "ptr.test", SPF_PASS);
    CHECK("203.0.113.21", "ptr.test", SPF_FAIL);
    CHECK("192.0.2.10", "bad.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "badcidr.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "badmacro.test", SPF_PERMERROR);
    CHECK("192.0.2.1", "unknownmod.test", SPF_PASS);
    CHECK("192.0.2.10", "tworedir.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "loop.test", SPF_PERMERROR);
    CHECK("192.0.2.99", "lookups.test", SPF_PERMERROR);
    CHECK("10.0.0.10", "lookups.test", SPF_PASS);
    CHECK("192.0.2.10", "voids.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "twovoids.test", SPF_PASS);
    CHECK("192.0.2.10", "manymx.test", SPF_PERMERROR);
    CHECK("192.0.2.1", "case.test", SPF_PASS);
    CHECK("192.0.2.10", "nodot.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "numtop.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "hyphen.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "comma.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "redirbad.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "expbad.test", SPF_PERMERROR);
    CHECK("192.0.2.10", "ends.test", SPF_PASS);
    /* the reasons name what decided */
    check("192.0.2.10", "b@lookups.test", "lookups.test", why, sizeof why);
    T_CHECK(strstr(why, "more than 10 DNS lookups") != NULL, "lookup limit named: %s", why);
    check("192.0.2.10", "b@pass.test", "pass.test", why, sizeof why);
    T_CHECK(strstr(why, "ip4:192.0.2.0/24") != NULL, "matching term named: %s", why);
    check("192.0.2.10", "b@two.test", "two.test", why, sizeof why);
    T_CHECK(strstr(why, "2 TXT records") != NULL, "two records named: %s", why);
    /* the HELO identity, a domain that is not one */
    T_CHECK(check("192.0.2.10", "postmaster@pass.test", "pass.test", why, sizeof why) == SPF_PASS,
            "HELO identity checked with postmaster@");
    T_CHECK(check("192.0.2.10", "b@x", "localhost", why, sizeof why) == SPF_NONE,
            "a single-label name is none");
    /* §2.3: the HELO names that may be checked at all */
    {
        static const struct { const char *name; int fqdn; } helos[] = {
            {"mail.example.com", 1}, {"Mail.Example.COM.", 1}, {"a-b_c.example", 1},
            {"x.y", 1}, {"123.example", 1}, {"example.123a", 1},
            {"localhost", 0}, {"", 0}, {".", 0}, {"example..com", 0}, {".example.com", 0},
            {"mail.example.com..", 0}, {"192.0.2.1", 0}, {"[192.0.2.1]", 0},
            {"[IPv6:2001:db8::1]", 0}, {"2001:db8::1", 0}, {"mail.exa mple.com", 0},
            {"mail.ex?mple.com", 0}, {"a@example.com", 0}, {"mail.example.com:25", 0},
        };
        char big[SPF_NAME_MAX + 3];
        size_t i;
        for (i = 0; i < sizeof helos / sizeof helos[0]; i++) {
            T_CHECK(spf_is_fqdn(helos[i].name) == helos[i].fqdn, "spf_is_fqdn(\"%s\") %d",
                    helos[i].name, !helos[i].fqdn);
        }
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        for (i = 63; i < sizeof big - 1; i += 64) {
            big[i] = '.';
        }
        T_CHECK(!spf_is_fqdn(big), "a name of %zu octets is too long", strlen(big));
        big[SPF_NAME_MAX] = '\0';
        T_CHECK(spf_is_fqdn(big), "a name of %d octets is one", SPF_NAME_MAX);
        big[63] = 'a';
        T_CHECK(!spf_is_fqdn(big), "a label longer than 63 octets is not");
    }
    T_CHECK(strcmp(spf_result_name(SPF_SOFTFAIL), "softfail") == 0, "result names");
    return T_DONE();
}

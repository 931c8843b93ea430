/* spf.c: SPF check_host() (RFC 7208): record selection (§4.5), term syntax (§4.6, §12),
   evaluation (§5, §6), macros (§7) and the processing limits (§4.6.4) */
#include "spf.h"
#include "str.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum kind { K_ALL, K_INCLUDE, K_A, K_MX, K_PTR, K_IP4, K_IP6, K_EXISTS, K_REDIRECT, K_EXP,
            K_UNKNOWN_MOD };

struct term {
    char qual;                      /* '+' '-' '~' '?' (mechanisms) */
    enum kind kind;
    const char *arg;                /* domain-spec, or the address of ip4/ip6; NULL if none */
    size_t argn;
    int cidr4, cidr6;               /* prefix lengths, -1 if not given */
    struct spf_ip net;              /* ip4/ip6 */
};

struct eval {
    const struct spf_resolver *r;
    const struct spf_query *q;
    struct spf_ip ip;               /* q->ip with an IPv4-mapped address made IPv4 */
    unsigned dns_terms, voids;
    char *why;
    size_t cap;
};

const char *spf_result_name(enum spf_result r)
{
    static const char *const names[] = {"none", "neutral", "pass", "fail", "softfail",
                                        "temperror", "permerror"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "permerror";
}

static enum spf_result say(struct eval *e, enum spf_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum spf_result say(struct eval *e, enum spf_result r, const char *fmt, ...)
{
    va_list ap;
    if (e->cap) {
        va_start(ap, fmt);
        vsnprintf(e->why, e->cap, fmt, ap);
        va_end(ap);
    }
    return r;
}

static void unmap(struct spf_ip *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ip->v6 && memcmp(ip->b, mapped, 12) == 0) {
        memmove(ip->b, ip->b + 12, 4);
        memset(ip->b + 4, 0, 12);
        ip->v6 = 0;
    }
}

int spf_ip_parse(const char *text, struct spf_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    if (inet_pton(AF_INET, text, ip->b) == 1) {
        return 0;
    }
    if (inet_pton(AF_INET6, text, ip->b) == 1) {
        ip->v6 = 1;
        unmap(ip);
        return 0;
    }
    return -1;
}

static int ip_in(const struct spf_ip *ip, const struct spf_ip *net, int len)
{
    int full = len / 8, rest = len % 8;
    if (ip->v6 != net->v6) {
        return 0;
    }
    if (memcmp(ip->b, net->b, (size_t)full) != 0) {
        return 0;
    }
    return rest == 0 || ((ip->b[full] ^ net->b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* A decimal prefix length without leading zeros, at most max. -1 if not one. */
static int cidr_num(const char *s, size_t n, int max)
{
    int v = 0;
    size_t i;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* Take a trailing dual-cidr-length ("/24", "//64", "/24//64") off t's argument. 0 ok, -1 bad. */
static int take_cidr(struct term *t, const char **end, const char *start)
{
    const char *e = *end, *p;
    /* "//N" at the end: the IPv6 length */
    for (p = e; p > start && isdigit((unsigned char)p[-1]); p--) {
    }
    if (p - start >= 2 && p < e && p[-1] == '/' && p[-2] == '/') {
        if ((t->cidr6 = cidr_num(p, (size_t)(e - p), 128)) < 0) {
            return -1;
        }
        e = p - 2;
        for (p = e; p > start && isdigit((unsigned char)p[-1]); p--) {
        }
    }
    if (p - start >= 1 && p < e && p[-1] == '/' && (p - start < 2 || p[-2] != '/')) {
        if ((t->cidr4 = cidr_num(p, (size_t)(e - p), 32)) < 0) {
            return -1;
        }
        e = p - 1;
    }
    *end = e;
    return 0;
}

/* Macro-string syntax (§7.1), without expanding. 1 valid. */
static int macro_ok(const char *s, size_t n, int in_exp)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c != '%') {
            if (c < 0x21 || c > 0x7e) {
                return 0;
            }
            i++;
            continue;
        }
        if (i + 1 >= n) {
            return 0;
        }
        c = (unsigned char)s[i + 1];
        if (c == '%' || c == '_' || c == '-') {
            i += 2;
            continue;
        }
        if (c != '{' || i + 3 >= n) {
            return 0;
        }
        c = (unsigned char)tolower((unsigned char)s[i + 2]);
        if (!strchr("slodiphv", c) && !(in_exp && strchr("crt", c))) {
            return 0;
        }
        i += 3;
        while (i < n && isdigit((unsigned char)s[i])) {
            i++;
        }
        if (i < n && (s[i] == 'r' || s[i] == 'R')) {
            i++;
        }
        while (i < n && strchr(".-+,/_=", s[i]) && s[i]) {
            i++;
        }
        if (i >= n || s[i] != '}') {
            return 0;
        }
        i++;
    }
    return 1;
}

/* §12: a domain-spec is a macro-string that ends in a domain-end: a macro-expand, or "."
   toplabel with an optional final "." (toplabel: letters, digits and '-', not all digits,
   starting and ending with a letter or digit; a "." after a final macro-expand is let pass).
   s[0..n) passed macro_ok. 1 valid. A syntax
   error anywhere in a record is a permerror before anything is evaluated (§4.6), so
   "a:host" or "mx:example.123" fails the record even after an earlier mechanism that
   matches. */
static int domain_end_ok(const char *s, size_t n)
{
    size_t i = 0, macro_end = 0, dot, k;
    int alpha = 0, hyphen = 0;

    while (i < n) {                 /* where the last macro-expand ends */
        if (s[i] != '%') {
            i++;
        } else if (s[i + 1] == '{') {
            while (s[i] != '}') {   /* macro_ok: it is there */
                i++;
            }
            macro_end = ++i;
        } else {
            macro_end = i += 2;     /* %% %_ %- */
        }
    }
    if (n > 0 && (macro_end == n || (macro_end == n - 1 && s[n - 1] == '.'))) {
        return 1;                   /* a final "." after a macro-expand is let pass */
    }
    if (n > 0 && s[n - 1] == '.') {
        n--;
    }
    for (dot = n; dot > 0 && s[dot - 1] != '.'; dot--) {
    }
    if (dot == 0 || dot == n || !isalnum((unsigned char)s[dot])
        || !isalnum((unsigned char)s[n - 1])) {
        return 0;                   /* no "." toplabel, or one that starts or ends with '-' */
    }
    for (k = dot; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!isalnum(c) && c != '-') {
            return 0;
        }
        alpha |= isalpha(c) != 0;
        hyphen |= c == '-';
    }
    return alpha || hyphen;
}

/* A domain-spec: macro_ok and domain_end_ok. */
static int domain_spec_ok(const char *s, size_t n, int in_exp)
{
    return macro_ok(s, n, in_exp) && domain_end_ok(s, n);
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* Parse one term t[0..n). 0 ok, -1 a syntax error (the record is a permerror). */
static int parse_term(const char *s, size_t n, struct term *t)
{
    static const struct { const char *name; enum kind kind; } mechs[] = {
        {"all", K_ALL}, {"include", K_INCLUDE}, {"a", K_A}, {"mx", K_MX}, {"ptr", K_PTR},
        {"ip4", K_IP4}, {"ip6", K_IP6}, {"exists", K_EXISTS}};
    const char *e = s + n, *p = s, *name;
    size_t i, nl;

    memset(t, 0, sizeof *t);
    t->cidr4 = t->cidr6 = -1;
    /* a modifier: name "=" macro-string, the name before any ':' or '/' */
    for (i = 0; i < n && s[i] != ':' && s[i] != '/' && s[i] != '='; i++) {
    }
    if (i < n && s[i] == '=') {
        if (i == 0 || !isalpha((unsigned char)s[0])) {
            return -1;
        }
        for (nl = 0; nl < i; nl++) {
            if (!name_char(s[nl])) {
                return -1;
            }
        }
        t->arg = s + i + 1;
        t->argn = n - i - 1;
        if (str_eq_nocase(s, i, "redirect")) {
            t->kind = K_REDIRECT;
        } else if (str_eq_nocase(s, i, "exp")) {
            t->kind = K_EXP;
        } else {
            t->kind = K_UNKNOWN_MOD;
            return macro_ok(t->arg, t->argn, 0) ? 0 : -1;
        }
        /* redirect= and exp= (§6) */
        return domain_spec_ok(t->arg, t->argn, t->kind == K_EXP) ? 0 : -1;
    }
    t->qual = '+';
    if (strchr("+-~?", *p) && *p) {
        t->qual = *p++;
    }
    name = p;
    while (p < e && isalnum((unsigned char)*p)) {
        p++;
    }
    nl = (size_t)(p - name);
    for (i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
        if (str_eq_nocase(name, nl, mechs[i].name)) {
            break;
        }
    }
    if (i == sizeof mechs / sizeof mechs[0]) {
        return -1;                  /* unknown mechanism (§5: permerror) */
    }
    t->kind = mechs[i].kind;
    switch (t->kind) {
    case K_ALL:
        return p == e ? 0 : -1;
    case K_INCLUDE:
    case K_EXISTS:
        if (p == e || *p != ':' || p + 1 == e) {
            return -1;
        }
        t->arg = p + 1;
        t->argn = (size_t)(e - p - 1);
        return domain_spec_ok(t->arg, t->argn, 0) ? 0 : -1;
    case K_A:
    case K_MX:
        if (take_cidr(t, &e, p) < 0) {
            return -1;
        }
        /* fall through */
    case K_PTR:                     /* an optional ":" domain-spec */
        if (p == e) {
            return 0;
        }
        if (*p != ':' || p + 1 == e) {
            return -1;
        }
        t->arg = p + 1;
        t->argn = (size_t)(e - p - 1);
        return domain_spec_ok(t->arg, t->argn, 0) ? 0 : -1;
    case K_IP4:
    case K_IP6: {
        char text[INET6_ADDRSTRLEN + 1];
        const char *slash;
        size_t an;
        int max = t->kind == K_IP4 ? 32 : 128, v6 = t->kind == K_IP6;
        if (p == e || *p != ':') {
            return -1;
        }
        p++;
        slash = memchr(p, '/', (size_t)(e - p));
        an = (size_t)((slash ? slash : e) - p);
        if (an == 0 || an >= sizeof text) {
            return -1;
        }
        memcpy(text, p, an);
        text[an] = '\0';
        memset(&t->net, 0, sizeof t->net);
        t->net.v6 = v6;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, text, t->net.b) != 1) {
            return -1;
        }
        t->arg = p;
        t->argn = (size_t)(e - p);  /* for messages: the network as written */
        if (slash && (t->cidr4 = cidr_num(slash + 1, (size_t)(e - slash - 1), max)) < 0) {
            return -1;
        }
        if (v6) {
            t->cidr6 = t->cidr4;
            t->cidr4 = -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

/* One value split on the delimiters, reversed if asked, its rightmost keep parts (0 = all),
   joined with '.' onto out. -1 if out is full. */
static int put_parts(char *out, size_t cap, size_t *len, const char *v, const char *delims,
                     int reverse, unsigned keep, int escape)
{
    const char *parts[ADDR_MAX + 1];      /* a value is at most an address: ADDR_MAX octets */
    size_t plen[ADDR_MAX + 1], np = 0, i, first;
    const char *p = v, *start = v;

    for (;; p++) {
        if (*p == '\0' || strchr(delims, *p)) {
            if (np == sizeof parts / sizeof parts[0]) {
                return -1;
            }
            parts[np] = start;
            plen[np++] = (size_t)(p - start);
            if (*p == '\0') {
                break;
            }
            start = p + 1;
        }
    }
    if (reverse) {
        for (i = 0; i < np / 2; i++) {
            const char *tp = parts[i];
            size_t tl = plen[i];
            parts[i] = parts[np - 1 - i];
            plen[i] = plen[np - 1 - i];
            parts[np - 1 - i] = tp;
            plen[np - 1 - i] = tl;
        }
    }
    first = keep && keep < np ? np - keep : 0;
    for (i = first; i < np; i++) {
        size_t k;
        if (i > first) {
            if (*len + 1 >= cap) {
                return -1;
            }
            out[(*len)++] = '.';
        }
        for (k = 0; k < plen[i]; k++) {
            unsigned char c = (unsigned char)parts[i][k];
            if (escape && !(isalnum(c) || strchr("-._~", c))) {
                if (*len + 3 >= cap) {
                    return -1;
                }
                snprintf(out + *len, 4, "%%%02X", c);
                *len += 3;
            } else {
                if (*len + 1 >= cap) {
                    return -1;
                }
                out[(*len)++] = (char)c;
            }
        }
    }
    out[*len] = '\0';
    return 0;
}

/* The %{i} text of ip: dotted IPv4, or the 32 nibbles of IPv6 joined with '.'. */
static void ip_macro(const struct spf_ip *ip, char *out, size_t cap)
{
    if (!ip->v6) {
        snprintf(out, cap, "%u.%u.%u.%u", ip->b[0], ip->b[1], ip->b[2], ip->b[3]);
    } else {
        size_t i, len = 0;
        for (i = 0; i < 16 && len + 4 <= cap; i++) {
            len += (size_t)snprintf(out + len, cap - len, "%s%x.%x", i ? "." : "", ip->b[i] >> 4,
                                    ip->b[i] & 15);
        }
    }
}

/* Expand the macro-string s[0..n) (already syntax-checked) for domain into out[cap].
   0 ok, -1 too long or a letter not allowed here. */
static int expand(struct eval *e, const char *domain, const char *s, size_t n, char *out,
                  size_t cap)
{
    const char *sender = e->q->sender, *at = strrchr(sender, '@');
    char local[SMTP_LOCAL_MAX + 1], ipt[64];
    size_t i = 0, len = 0;

    if (at && (size_t)(at - sender) <= SMTP_LOCAL_MAX && at > sender) {
        memcpy(local, sender, (size_t)(at - sender));
        local[at - sender] = '\0';
    } else {
        snprintf(local, sizeof local, "postmaster");    /* §4.3: no local part */
    }
    out[0] = '\0';
    while (i < n) {
        const char *v;
        char letter, delims[8];
        unsigned keep = 0;
        int reverse = 0, upper;
        size_t nd = 0;
        if (s[i] != '%') {
            if (len + 1 >= cap) {
                return -1;
            }
            out[len++] = s[i++];
            out[len] = '\0';
            continue;
        }
        if (s[i + 1] != '{') {
            const char *lit = s[i + 1] == '%' ? "%" : s[i + 1] == '_' ? " " : "%20";
            if (len + strlen(lit) >= cap) {
                return -1;
            }
            memcpy(out + len, lit, strlen(lit) + 1);
            len += strlen(lit);
            i += 2;
            continue;
        }
        letter = s[i + 2];
        upper = isupper((unsigned char)letter);
        i += 3;
        while (isdigit((unsigned char)s[i])) {
            keep = keep * 10 + (unsigned)(s[i++] - '0');
            if (keep > 128) {
                keep = 128;
            }
        }
        if (i > 0 && isdigit((unsigned char)s[i - 1]) && keep == 0) {
            return -1;                  /* §7.3: a DIGIT transformer must be nonzero */
        }
        if (s[i] == 'r' || s[i] == 'R') {
            reverse = 1;
            i++;
        }
        while (s[i] != '}' && nd + 1 < sizeof delims) {
            delims[nd++] = s[i++];
        }
        while (s[i] != '}') {
            i++;
        }
        i++;
        delims[nd] = '\0';
        if (nd == 0) {
            delims[0] = '.';
            delims[1] = '\0';
        }
        switch (tolower((unsigned char)letter)) {
        case 's': v = sender; break;
        case 'l': v = local; break;
        case 'o': v = at ? at + 1 : e->q->helo; break;
        case 'd': v = domain; break;
        case 'i': ip_macro(&e->ip, ipt, sizeof ipt); v = ipt; break;
        case 'p': v = "unknown"; break;     /* §7.3: no validated name is looked up */
        case 'v': v = e->ip.v6 ? "ip6" : "in-addr"; break;
        case 'h': v = e->q->helo; break;
        default: return -1;                 /* c r t: only in exp=, which is not evaluated */
        }
        if (put_parts(out, cap, &len, v, delims, reverse, keep, upper) < 0) {
            return -1;
        }
    }
    return 0;
}

/* §4.3 / §4.8: a domain check_host may use: labels of 1..63 octets, at least two of them,
   a last one not all digits. A trailing dot is dropped. */
static int domain_ok(char *d)
{
    size_t n = strlen(d), i, label = 0, labels = 1;
    int digits = 1;
    if (n && d[n - 1] == '.') {
        d[--n] = '\0';
    }
    if (n == 0 || n > SPF_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0) {
                return 0;
            }
            label = 0;
            labels++;
            digits = 1;
            continue;
        }
        if (c <= 0x20 || c >= 0x7f || ++label > 63) {
            return 0;
        }
        if (!isdigit(c)) {
            digits = 0;
        }
    }
    return label > 0 && labels >= 2 && !digits;
}

int spf_is_fqdn(const char *name)
{
    char d[SPF_NAME_MAX + 2];
    size_t i;
    if (str_fmt(d, sizeof d, "%s", name) < 0) {
        return 0;
    }
    for (i = 0; d[i]; i++) {
        if (!isalnum((unsigned char)d[i]) && !strchr("-_.", d[i])) {
            return 0;
        }
    }
    return domain_ok(d);
}

/* The target of a domain-spec (or the current domain when the term has none), §7.3's cut to
   SPF_NAME_MAX from the left included. 0 ok, -1 permerror. */
static int target(struct eval *e, const char *domain, const struct term *t, char *out,
                  size_t cap)
{
    char big[4 * SPF_NAME_MAX];
    char *p = big;
    if (!t->arg) {
        return str_fmt(out, cap, "%s", domain) < 0 ? -1 : 0;
    }
    if (expand(e, domain, t->arg, t->argn, big, sizeof big) < 0) {
        return -1;
    }
    while (strlen(p) > SPF_NAME_MAX && strchr(p, '.')) {
        p = strchr(p, '.') + 1;
    }
    if (str_fmt(out, cap, "%s", p) < 0 || !domain_ok(out)) {
        return -1;
    }
    return 0;
}

static enum spf_result check_host(struct eval *e, const char *domain);

/* Count a DNS-querying term: 0 ok, -1 over the limit. */
static int count_term(struct eval *e)
{
    return ++e->dns_terms > SPF_DNS_TERMS_MAX ? -1 : 0;
}

/* A void lookup seen: 0 ok, -1 over the limit. */
static int count_void(struct eval *e, enum spf_dns rc)
{
    if (rc != SPF_DNS_NODATA && rc != SPF_DNS_NXDOMAIN) {
        return 0;
    }
    return ++e->voids > SPF_VOID_MAX ? -1 : 0;
}

/* 1 if one address of name is in ip's network (prefix len); 0 not; -1 temperror. */
static int addr_match(struct eval *e, const char *name, int len, enum spf_dns *rcp)
{
    struct spf_ip a[SPF_ADDRS_MAX];
    size_t n = 0, i;
    enum spf_dns rc = e->r->addr(e->r->ctx, name, e->ip.v6, a, SPF_ADDRS_MAX, &n);
    if (rcp) {
        *rcp = rc;
    }
    if (rc == SPF_DNS_TEMP) {
        return -1;
    }
    for (i = 0; rc == SPF_DNS_OK && i < n && i < SPF_ADDRS_MAX; i++) {
        if (ip_in(&e->ip, &a[i], len)) {
            return 1;
        }
    }
    return 0;
}

/* Evaluate a mechanism: 1 match, 0 no match, or a result to return at once (*res). */
static int mechanism(struct eval *e, const char *domain, const struct term *t,
                     enum spf_result *res)
{
    char name[SPF_NAME_MAX + 1];
    char hosts[SPF_PTR_MAX > SPF_MX_MAX ? SPF_PTR_MAX + 1 : SPF_MX_MAX + 1][SMTP_DOMAIN_MAX + 1];
    int len = e->ip.v6 ? (t->cidr6 < 0 ? 128 : t->cidr6) : (t->cidr4 < 0 ? 32 : t->cidr4);
    enum spf_dns rc;
    size_t n = 0, i;
    int m;

    if (t->kind == K_ALL) {
        return 1;
    }
    if (t->kind == K_IP4 || t->kind == K_IP6) {
        int l = t->kind == K_IP4 ? (t->cidr4 < 0 ? 32 : t->cidr4) : (t->cidr6 < 0 ? 128 : t->cidr6);
        return ip_in(&e->ip, &t->net, l);
    }
    if (count_term(e) < 0) {
        *res = say(e, SPF_PERMERROR, "more than %d DNS lookups", SPF_DNS_TERMS_MAX);
        return -1;
    }
    if (target(e, domain, t, name, sizeof name) < 0) {
        *res = say(e, SPF_PERMERROR, "a domain-spec does not expand to a domain name");
        return -1;
    }
    switch (t->kind) {
    case K_INCLUDE:
        switch (check_host(e, name)) {
        case SPF_PASS:
            return 1;
        case SPF_FAIL:
        case SPF_SOFTFAIL:
        case SPF_NEUTRAL:
            return 0;
        case SPF_TEMPERROR:
            *res = SPF_TEMPERROR;
            return -1;
        default:
            *res = say(e, SPF_PERMERROR, "include:%s has no usable SPF record", name);
            return -1;
        }
    case K_EXISTS: {
        struct spf_ip a[1];
        rc = e->r->addr(e->r->ctx, name, 0, a, 1, &n);
        break;
    }
    case K_A:
        m = addr_match(e, name, len, &rc);
        if (m != 0) {
            if (m < 0) {
                *res = say(e, SPF_TEMPERROR, "DNS error looking up %s", name);
                return -1;
            }
            return 1;
        }
        break;
    case K_MX:
        rc = e->r->mx(e->r->ctx, name, hosts, SPF_MX_MAX + 1, &n);
        if (rc == SPF_DNS_OK && n > SPF_MX_MAX) {
            *res = say(e, SPF_PERMERROR, "%s has more than %d MX records", name, SPF_MX_MAX);
            return -1;
        }
        for (i = 0; rc == SPF_DNS_OK && i < n; i++) {
            m = addr_match(e, hosts[i], len, NULL);
            if (m < 0) {
                *res = say(e, SPF_TEMPERROR, "DNS error looking up %s", hosts[i]);
                return -1;
            }
            if (m) {
                return 1;
            }
        }
        break;
    case K_PTR:
        rc = e->r->ptr(e->r->ctx, &e->ip, hosts, SPF_PTR_MAX, &n);
        for (i = 0; rc == SPF_DNS_OK && i < n && i < SPF_PTR_MAX; i++) {
            size_t hl = strlen(hosts[i]), nl = strlen(name);
            if (hl && hosts[i][hl - 1] == '.') {
                hosts[i][--hl] = '\0';
            }
            if (!(str_eq_nocase(hosts[i], hl, name)
                  || (hl > nl && hosts[i][hl - nl - 1] == '.'
                      && str_eq_nocase(hosts[i] + hl - nl, nl, name)))) {
                continue;
            }
            if (addr_match(e, hosts[i], e->ip.v6 ? 128 : 32, NULL) == 1) {
                return 1;           /* a validated name in the domain (§5.5) */
            }
        }
        if (rc == SPF_DNS_TEMP) {
            return 0;               /* §5.5: a DNS error means no match */
        }
        break;
    default:
        return 0;
    }
    if (rc == SPF_DNS_TEMP) {
        *res = say(e, SPF_TEMPERROR, "DNS error looking up %s", name);
        return -1;
    }
    if (count_void(e, rc) < 0) {
        *res = say(e, SPF_PERMERROR, "more than %d lookups found nothing", SPF_VOID_MAX);
        return -1;
    }
    return t->kind == K_EXISTS && rc == SPF_DNS_OK;
}

static enum spf_result qual_result(char q)
{
    return q == '-' ? SPF_FAIL : q == '~' ? SPF_SOFTFAIL : q == '?' ? SPF_NEUTRAL : SPF_PASS;
}

static const char *kind_name(enum kind k)
{
    static const char *const n[] = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"};
    return (unsigned)k < sizeof n / sizeof n[0] ? n[k] : "?";
}

/* §4.5: the one record of name that starts with "v=spf1" into *rec: SPF_PASS here means
   "found"; otherwise the result check_host returns (none, temperror, permerror). */
static enum spf_result find_record(struct eval *e, const char *name, char *txt, size_t cap,
                                   const char **rec)
{
    size_t n = 0, i, off = 0, found = 0;
    enum spf_dns rc = e->r->txt(e->r->ctx, name, txt, cap, &n);

    if (rc == SPF_DNS_TEMP) {
        return say(e, SPF_TEMPERROR, "DNS error looking up TXT %s", name);
    }
    *rec = NULL;
    for (i = 0; rc == SPF_DNS_OK && i < n && off < cap; i++) {
        const char *r = txt + off;
        size_t l = strnlen(r, cap - off);
        if (l >= 6 && str_start_nocase(r, l, "v=spf1") && (l == 6 || r[6] == ' ')) {
            found++;
            *rec = r;
        }
        off += l + 1;
    }
    if (found > 1) {
        return say(e, SPF_PERMERROR, "%zu TXT records of %s start with v=spf1", found, name);
    }
    return found ? SPF_PASS : say(e, SPF_NONE, "no SPF record at %s", name);
}

static enum spf_result check_host(struct eval *e, const char *domain_in)
{
    char domain[SPF_NAME_MAX + 2], txt[SPF_TXT_MAX];
    struct term terms[SPF_TERMS_MAX];
    const struct term *redirect = NULL;
    const char *rec = NULL, *p;
    size_t nt = 0, i;
    enum spf_result r;

    if (str_fmt(domain, sizeof domain, "%s", domain_in) < 0 || !domain_ok(domain)) {
        return say(e, SPF_NONE, "%s is not a domain name", domain_in);
    }
    r = find_record(e, domain, txt, sizeof txt, &rec);
    if (r != SPF_PASS) {
        return r;
    }
    for (p = rec + 6; *p;) {
        const char *s;
        while (*p == ' ') {
            p++;
        }
        if (!*p) {
            break;
        }
        s = p;
        while (*p && *p != ' ') {
            p++;
        }
        if (nt == SPF_TERMS_MAX) {
            return say(e, SPF_PERMERROR, "the record of %s has more than %d terms", domain,
                       SPF_TERMS_MAX);
        }
        if (parse_term(s, (size_t)(p - s), &terms[nt]) < 0) {
            return say(e, SPF_PERMERROR, "bad term in the record of %s: %.*s", domain,
                       (int)(p - s > 64 ? 64 : p - s), s);
        }
        if (terms[nt].kind == K_REDIRECT || terms[nt].kind == K_EXP) {
            for (i = 0; i < nt; i++) {
                if (terms[i].kind == terms[nt].kind) {
                    return say(e, SPF_PERMERROR, "two %s= in the record of %s",
                               terms[nt].kind == K_EXP ? "exp" : "redirect", domain);
                }
            }
            if (terms[nt].kind == K_REDIRECT) {
                redirect = &terms[nt];
            }
        }
        nt++;
    }
    for (i = 0; i < nt; i++) {
        int m;
        if (terms[i].kind >= K_REDIRECT) {
            continue;
        }
        m = mechanism(e, domain, &terms[i], &r);
        if (m < 0) {
            return r;
        }
        if (m) {
            r = qual_result(terms[i].qual);
            return say(e, r, "%s matched %c%s%s%.*s in the record of %s", spf_result_name(r),
                       terms[i].qual, kind_name(terms[i].kind), terms[i].arg ? ":" : "",
                       (int)(terms[i].argn > 64 ? 64 : terms[i].argn),
                       terms[i].arg ? terms[i].arg : "", domain);
        }
    }
    if (redirect) {
        char name[SPF_NAME_MAX + 1];
        if (count_term(e) < 0) {
            return say(e, SPF_PERMERROR, "more than %d DNS lookups", SPF_DNS_TERMS_MAX);
        }
        if (target(e, domain, redirect, name, sizeof name) < 0) {
            return say(e, SPF_PERMERROR, "redirect= does not expand to a domain name");
        }
        r = check_host(e, name);
        return r == SPF_NONE ? say(e, SPF_PERMERROR, "redirect=%s has no SPF record", name) : r;
    }
    return say(e, SPF_NEUTRAL, "nothing matched in the record of %s", domain);
}

enum spf_result spf_check(const struct spf_resolver *r, const struct spf_query *q,
                          const char *domain, char *why, size_t cap)
{
    struct eval e;

    memset(&e, 0, sizeof e);
    e.r = r;
    e.q = q;
    e.ip = q->ip;
    unmap(&e.ip);
    e.why = why;
    e.cap = cap;
    if (cap) {
        why[0] = '\0';
    }
    return check_host(&e, domain);
}

/* pop3_parse.c: POP3 command lines, message numbers, AUTH PLAIN, POP3_PENDING hex */
#include "pop3_parse.h"
#include "b64.h"
#include "plan.h"
#include "str.h"

#include <stdio.h>
#include <string.h>

struct keyword {
    const char *name;
    enum pop3_cmd cmd;
};

static const struct keyword keywords[] = {
    {"USER", POP3_USER}, {"PASS", POP3_PASS}, {"AUTH", POP3_AUTH}, {"STLS", POP3_STLS},
    {"CAPA", POP3_CAPA}, {"QUIT", POP3_QUIT}, {"STAT", POP3_STAT}, {"LIST", POP3_LIST},
    {"RETR", POP3_RETR}, {"DELE", POP3_DELE}, {"NOOP", POP3_NOOP}, {"RSET", POP3_RSET},
    {"TOP", POP3_TOP},   {"UIDL", POP3_UIDL}, {"APOP", POP3_APOP},
};

const char *pop3_cmd_name(enum pop3_cmd c)
{
    size_t i;
    for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (keywords[i].cmd == c) {
            return keywords[i].name;
        }
    }
    return "?";
}

/* One argument: the next run of non-space bytes. Returns 1 found, 0 none. */
static int next_word(const char **p, const char *end, const char **w, size_t *wlen)
{
    const char *s = *p;
    while (s < end && *s == ' ') {
        s++;
    }
    if (s == end) {
        *p = s;
        return 0;
    }
    *w = s;
    while (s < end && *s != ' ') {
        s++;
    }
    *wlen = (size_t)(s - *w);
    *p = s;
    return 1;
}

/* A number: decimal digits only. Too many digits parse as `big` (0 = no such message for
   a message number; (unsigned long)-1 = "all lines" for TOP's line count). */
static int parse_num(const char *w, size_t n, unsigned long big, unsigned long *out)
{
    size_t i;
    unsigned long v = 0;
    for (i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9') {
            return -1;
        }
    }
    if (n > POP3_NUM_DIGITS_MAX) {
        *out = big;
        return 0;
    }
    for (i = 0; i < n; i++) {
        v = v * 10 + (unsigned long)(w[i] - '0');
    }
    *out = v;
    return 0;
}

/* Up to max numbers, at least min; nothing else may follow. */
static enum pop3_syntax parse_nums(const char *p, const char *end, int min, int max,
                                   struct pop3_req *r)
{
    const char *w;
    size_t wlen;
    while (r->nnum < max && next_word(&p, end, &w, &wlen)) {
        unsigned long big = (r->cmd == POP3_TOP && r->nnum == 1) ? (unsigned long)-1 : 0;
        if (parse_num(w, wlen, big, &r->num[r->nnum]) < 0) {
            return POP3_SYNTAX_ARGS;
        }
        r->nnum++;
    }
    if (r->nnum < min || next_word(&p, end, &w, &wlen)) {
        return POP3_SYNTAX_ARGS;
    }
    return POP3_SYNTAX_OK;
}

static enum pop3_syntax parse_args(const char *p, const char *end, struct pop3_req *r)
{
    const char *w;
    size_t wlen;
    switch (r->cmd) {
    case POP3_USER:
        /* the rest of the line, trailing spaces dropped (an address has none) */
        while (end > p && end[-1] == ' ') {
            end--;
        }
        r->arg = p;
        r->arglen = (size_t)(end - p);
        return (r->arglen > 0 && r->arglen <= AUTH_FIELD_MAX) ? POP3_SYNTAX_OK
                                                              : POP3_SYNTAX_ARGS;
    case POP3_PASS:
        /* RFC 1939 §7: the password may contain spaces; keep every byte */
        r->arg = p;
        r->arglen = (size_t)(end - p);
        return (r->arglen > 0 && r->arglen <= AUTH_FIELD_MAX) ? POP3_SYNTAX_OK
                                                              : POP3_SYNTAX_ARGS;
    case POP3_AUTH:
        if (next_word(&p, end, &r->arg, &r->arglen)) {
            if (next_word(&p, end, &r->arg2, &r->arg2len)
                && next_word(&p, end, &w, &wlen)) {
                return POP3_SYNTAX_ARGS;
            }
        }
        return POP3_SYNTAX_OK;      /* bare AUTH lists the mechanisms */
    case POP3_LIST:
    case POP3_UIDL:
        return parse_nums(p, end, 0, 1, r);
    case POP3_RETR:
    case POP3_DELE:
        return parse_nums(p, end, 1, 1, r);
    case POP3_TOP:
        return parse_nums(p, end, 2, 2, r);
    case POP3_APOP:
    case POP3_UNKNOWN:
        return POP3_SYNTAX_OK;
    default:
        /* STAT NOOP RSET QUIT STLS CAPA take nothing; trailing spaces are tolerated */
        return next_word(&p, end, &w, &wlen) ? POP3_SYNTAX_ARGS : POP3_SYNTAX_OK;
    }
}

enum pop3_syntax pop3_parse(const char *line, size_t len, struct pop3_req *r)
{
    const char *end = line + len, *p = line;
    size_t i, klen;

    memset(r, 0, sizeof *r);
    r->cmd = POP3_UNKNOWN;
    while (p < end && *p != ' ') {
        p++;
    }
    klen = (size_t)(p - line);
    for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (klen == strlen(keywords[i].name) && str_eq_nocase(line, klen, keywords[i].name)) {
            r->cmd = keywords[i].cmd;
            break;
        }
    }
    for (i = 0; i < len; i++) {
        /* TAB is not allowed either: arguments are separated by one SP (RFC 1939 §3) */
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
            return POP3_SYNTAX_CTL;
        }
    }
    if (p < end) {
        p++;            /* the single SP after the keyword */
    }
    return parse_args(p, end, r);
}

int pop3_sasl_field(const char *b64, size_t n, char *out, size_t *outlen)
{
    unsigned char dec[AUTH_FIELD_MAX + 3];
    long d;

    if (n == 0 || n > 4 * ((AUTH_FIELD_MAX + 2) / 3)) {
        return -1;
    }
    d = b64_decode(b64, n, dec, sizeof dec);
    if (d < 1 || d > AUTH_FIELD_MAX || memchr(dec, '\0', (size_t)d)) {
        explicit_bzero(dec, sizeof dec);
        return -1;
    }
    memcpy(out, dec, (size_t)d);
    out[d] = '\0';
    *outlen = (size_t)d;
    explicit_bzero(dec, sizeof dec);
    return 0;
}

int pop3_sasl_plain(const char *b64, size_t n, char *login, size_t *loginlen, char *pass,
                    size_t *passlen)
{
    unsigned char dec[3 * AUTH_FIELD_MAX + 8];
    const unsigned char *z1, *z2, *end;
    size_t zlen, clen, plen;
    long d;
    int rc = -1;

    if (n == 0 || n > 4 * ((sizeof dec) / 3)) {
        return -1;
    }
    d = b64_decode(b64, n, dec, sizeof dec);
    if (d < 0) {
        return -1;
    }
    end = dec + d;
    z1 = memchr(dec, '\0', (size_t)d);
    if (z1) {
        z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1));
        if (z2 && !memchr(z2 + 1, '\0', (size_t)(end - z2 - 1))) {
            zlen = (size_t)(z1 - dec);
            clen = (size_t)(z2 - z1 - 1);
            plen = (size_t)(end - z2 - 1);
            if (clen >= 1 && clen <= AUTH_FIELD_MAX && plen >= 1 && plen <= AUTH_FIELD_MAX
                && (zlen == 0 || (zlen == clen && memcmp(dec, z1 + 1, clen) == 0))) {
                memcpy(login, z1 + 1, clen);
                login[clen] = '\0';
                memcpy(pass, z2 + 1, plen);
                pass[plen] = '\0';
                *loginlen = clen;
                *passlen = plen;
                rc = 0;
            }
        }
    }
    memset(dec, 0, sizeof dec);
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long pop3_hex_decode(const char *hex, size_t n, char *out, size_t cap)
{
    size_t i;
    if (n % 2 != 0 || n / 2 > cap) {
        return -1;
    }
    for (i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i / 2] = (char)(hi * 16 + lo);
    }
    return (long)(n / 2);
}

int pop3_tls_implicit(const char *proto)
{
    size_t n = proto ? strlen(proto) : 0, m = sizeof POP3_STLS_MARK - 1;
    return n > 0 && !(n >= m && memcmp(proto + n - m, POP3_STLS_MARK, m) == 0);
}

size_t pop3_plan_refusal(char *out, size_t cap, const char *plan)
{
    const char *ja;
    int n;
    if (!plan || !*plan) {
        plan = "current";
    }
    ja = plan_name_ja(plan);
    /* [SYS/PERM], not [AUTH]: the password was right, and a mail program told [AUTH] asks the
       customer for it again (RFC 3206 §4, §5) */
    n = snprintf(out, cap, "-ERR [SYS/PERM] POP over SSL (port 995) is not included in the %s "
                 "plan; use port 110 or ask us to change the plan. %s%sでは POP over SSL "
                 "(ポート995) はご利用いただけません。ポート110をご利用いただくか、プラン変更を"
                 "お申し込みください。\r\n", plan, ja ? ja : plan, ja ? "" : "プラン");
    if (n < 0 || (size_t)n >= cap) {
        /* a plan name is at most PLAN_NAME_MAX octets: cap >= POP3_REPLY_MAX always fits */
        n = snprintf(out, cap, "-ERR [SYS/PERM] POP over SSL is not included in your plan\r\n");
        if (n < 0 || (size_t)n >= cap) {
            return 0;
        }
    }
    return (size_t)n;
}

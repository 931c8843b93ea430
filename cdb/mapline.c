/* mapline.c: one line of an operator map (etc/plans domains users aliases routes) parsed and
   checked for syntax; no I/O, no references to other lines (maps.c does those). */
#include "maps.h"

#include "addr.h"
#include "str.h"

#include <stdio.h>
#include <string.h>

#define FIELDS_MAX 8

struct field {
    const char *s;
    size_t n;
};

static int bad(char *why, const char *text)
{
    snprintf(why, MAPS_REASON_MAX, "%s", text);
    return -1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_blank((*s)[*n - 1])) {
        (*n)--;
    }
}

/* 1 content (s/n trimmed), 0 blank or comment, -1 hostile. */
static int line_prep(const char **s, size_t *n, char *why)
{
    size_t i;
    if (*n > MAP_LINE_MAX) {
        return bad(why, "line longer than 4096 octets");
    }
    for (i = 0; i < *n; i++) {
        unsigned char c = (unsigned char)(*s)[i];
        if (c == '\0') {
            return bad(why, "NUL byte in the line");
        }
        if (c == '\r') {
            return bad(why, "carriage return in the line (save the file with LF line ends)");
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return bad(why, "control character in the line");
        }
    }
    trim(s, n);
    if (*n == 0 || (*s)[0] == '#') {
        return 0;
    }
    return 1;
}

/* Split at sep into at most max fields (each trimmed). Returns the count, or max + 1 if
   there are more. With rest, the last field takes the remainder (separators included). */
static size_t split_rest(const char *s, size_t n, char sep, struct field *f, size_t max, int rest)
{
    size_t k = 0, start = 0, i;
    for (i = 0; i <= n; i++) {
        if (i == n || (s[i] == sep && !(rest && k == max - 1))) {
            if (k == max) {
                return max + 1;
            }
            f[k].s = s + start;
            f[k].n = i - start;
            trim(&f[k].s, &f[k].n);
            k++;
            start = i + 1;
        }
    }
    return k;
}

static size_t split(const char *s, size_t n, char sep, struct field *f, size_t max)
{
    return split_rest(s, n, sep, f, max, 0);
}

/* Lower-cased NUL-terminated copy; -1 if it does not fit. */
static int copy_lower(const struct field *f, char *out, size_t cap)
{
    if (f->n >= cap) {
        return -1;
    }
    memcpy(out, f->s, f->n);
    out[f->n] = '\0';
    str_lower(out, f->n);
    return 0;
}

static int field_is(const struct field *f, const char *word)
{
    return str_eq_nocase(f->s, f->n, word);
}

int map_size(const char *s, size_t n, uint64_t *out)
{
    char tmp[32];
    if (n == 0 || n >= sizeof tmp) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return str_to_size(tmp, out);
}

void map_size_str(uint64_t v, char *out, size_t cap)
{
    const uint64_t mb = 1024ULL * 1024;
    if (v != 0 && v % mb == 0) {
        snprintf(out, cap, "%lluM", (unsigned long long)(v / mb));
    } else {
        snprintf(out, cap, "%llu", (unsigned long long)v);
    }
}

/* A sending limit: decimal, at most MAPS_RATE_MAX. 0 ok, -1 bad. */
static int rate_limit(const struct field *f, unsigned long *out)
{
    uint64_t v;
    if (str_to_u64(f->s, f->n, &v) < 0 || v > MAPS_RATE_MAX) {
        return -1;
    }
    *out = (unsigned long)v;
    return 0;
}

static int plan_name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > PLAN_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_'))) {
            return 0;
        }
    }
    return 1;
}

int map_hash_ok(const char *s, size_t n)
{
    size_t i, dollars = 0;
    if (n < 4 || n > MAPS_HASH_MAX || s[0] != '$') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '$') {
            dollars++;
            if (i > 0 && s[i - 1] == '$') {
                return 0;
            }
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '/' || c == '=' || c == ',' || c == '-')) {
            return 0;
        }
        if (dollars == 1 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return 0;    /* the method id: $6$, $y$, $2b$ */
        }
    }
    return dollars >= 3 && s[n - 1] != '$';
}

/* A host: a domain-style name or IPv4 address, or "[IPv6]" (stored without brackets). */
static int host_parse(const struct field *f, char *out, size_t cap)
{
    const char *s = f->s;
    size_t n = f->n, i;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
        if (n == 0 || n >= cap) {
            return -1;
        }
        for (i = 0; i < n; i++) {
            char c = s[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
                  || c == ':' || c == '.')) {
                return -1;
            }
        }
        if (!memchr(s, ':', n)) {
            return -1;
        }
    } else if (!addr_domain_ok(s, n, 0) || n >= cap) {
        return -1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    str_lower(out, n);
    return 0;
}

int map_parse_host(const char *s, size_t n, char *out, size_t cap, char *why)
{
    struct field f;
    int r = line_prep(&s, &n, why);
    if (r <= 0) {
        return r;
    }
    f.s = s;
    f.n = n;
    if (memchr(s, '[', n) || host_parse(&f, out, cap) < 0) {
        return bad(why, "not a host name (expected e.g. mail.example.net)");
    }
    return 1;
}

int map_parse_target(const char *s, size_t n, char *out, size_t cap, char *why)
{
    char path[SMTP_PATH_MAX + 2];
    struct addr a;
    size_t used = 0;       /* unset when the parse fails; -O2 tests it beside the result */
    int r = line_prep(&s, &n, why);
    if (r <= 0) {
        return r;
    }
    if (n + 2 > SMTP_PATH_MAX || n + 1 > cap) {
        return bad(why, "address too long");
    }
    path[0] = '<';
    memcpy(path + 1, s, n);
    path[n + 1] = '>';
    str_lower(path + 1, n);
    if (addr_parse_path(path, n + 2, &a, &used) != ADDR_OK || used != n + 2 || a.null
        || a.at >= a.len || a.quoted || a.literal || a.utf8 || a.route || a.percent || a.bang
        || !addr_map_domain_ok(a.s + a.at + 1, a.len - a.at - 1)) {
        snprintf(why, MAPS_REASON_MAX, "invalid address %.*s (expected local@domain)",
                 (int)(n > 300 ? 300 : n), s);
        return -1;
    }
    memcpy(out, a.s, a.len + 1);
    return 1;
}

int map_parse_plan(const char *s, size_t n, struct map_plan *p, char *why)
{
    struct field f[FIELDS_MAX];
    size_t k;
    int r = line_prep(&s, &n, why);
    memset(p, 0, sizeof *p);
    if (r <= 0) {
        return r;
    }
    k = split(s, n, ':', f, FIELDS_MAX);
    if (k < 4 || k > 6) {
        return bad(why, "expected PLAN:DEFAULT_QUOTA:MAX_QUOTA:POP3S[:MSGS[:RCPTS]] (e.g. "
                   "basic:20M:50M:no:200:1000)");
    }
    if (copy_lower(&f[0], p->name, sizeof p->name) < 0 || !plan_name_ok(p->name, f[0].n)) {
        return bad(why, "bad plan name (letters, digits, '-', '_', at most 32)");
    }
    if (map_size(f[1].s, f[1].n, &p->quota) < 0) {
        return bad(why, "bad default quota (expected e.g. 20M, 50M or bytes)");
    }
    if (map_size(f[2].s, f[2].n, &p->maxquota) < 0) {
        return bad(why, "bad maximum quota (expected e.g. 50M or bytes)");
    }
    if (p->maxquota != 0 && (p->quota == 0 || p->quota > p->maxquota)) {
        return bad(why, "default quota is above the maximum quota");
    }
    if (field_is(&f[3], "yes")) {
        p->pop3s = 1;
    } else if (!field_is(&f[3], "no")) {
        return bad(why, "POP3S must be yes or no");
    }
    if (k >= 5 && f[4].n > 0 && rate_limit(&f[4], &p->msgs) < 0) {
        return bad(why, "bad MSGS (messages per hour: a number, 0 = no limit)");
    }
    if (k == 6 && f[5].n > 0 && rate_limit(&f[5], &p->rcpts) < 0) {
        return bad(why, "bad RCPTS (recipients per hour: a number, 0 = no limit)");
    }
    return 1;
}

int map_parse_domain(const char *s, size_t n, struct map_domain *d, char *why)
{
    struct field f[FIELDS_MAX];
    int r = line_prep(&s, &n, why);
    memset(d, 0, sizeof *d);
    if (r <= 0) {
        return r;
    }
    if (split(s, n, ':', f, FIELDS_MAX) != 2) {
        return bad(why, "expected DOMAIN:PLAN (e.g. example.test:premium)");
    }
    if (copy_lower(&f[0], d->name, sizeof d->name) < 0
        || !addr_map_domain_ok(d->name, f[0].n)) {
        return bad(why, "invalid domain name");
    }
    if (copy_lower(&f[1], d->plan, sizeof d->plan) < 0 || !plan_name_ok(d->plan, f[1].n)) {
        return bad(why, "bad plan name");
    }
    return 1;
}

static int user_options(const struct field *of, struct map_user *u, char *why)
{
    struct field opt[FIELDS_MAX];
    size_t k, i;
    if (of->n == 0) {
        return 0;
    }
    k = split(of->s, of->n, ',', opt, FIELDS_MAX);
    if (k > FIELDS_MAX) {
        return bad(why, "too many options");
    }
    for (i = 0; i < k; i++) {
        struct field h;
        if (opt[i].n == 0) {
            continue;
        }
        if (field_is(&opt[i], "disabled")) {
            u->disabled = 1;
        } else if (field_is(&opt[i], "force")) {
            u->force = 1;
        } else if (field_is(&opt[i], "nosend")) {
            u->nosend = 1;
        } else if (str_start_nocase(opt[i].s, opt[i].n, "msgs=")) {
            h.s = opt[i].s + 5;
            h.n = opt[i].n - 5;
            if (rate_limit(&h, &u->msgs) < 0) {
                return bad(why, "bad msgs= option (messages per hour: a number, 0 = no limit)");
            }
            u->msgs_set = 1;
        } else if (str_start_nocase(opt[i].s, opt[i].n, "rcpts=")) {
            h.s = opt[i].s + 6;
            h.n = opt[i].n - 6;
            if (rate_limit(&h, &u->rcpts) < 0) {
                return bad(why, "bad rcpts= option (recipients per hour: a number, 0 = no "
                           "limit)");
            }
            u->rcpts_set = 1;
        } else if (str_start_nocase(opt[i].s, opt[i].n, "host=")) {
            h.s = opt[i].s + 5;
            h.n = opt[i].n - 5;
            if (host_parse(&h, u->host, sizeof u->host) < 0) {
                return bad(why, "bad host= option (expected a host name or IP address)");
            }
        } else {
            return bad(why, "unknown option (known: disabled, force, host=HOST, nosend, msgs=N, "
                       "rcpts=N)");
        }
    }
    return 0;
}

int map_parse_user(const char *s, size_t n, struct map_user *u, char *why)
{
    struct field f[FIELDS_MAX];
    size_t k;
    int r = line_prep(&s, &n, why);
    memset(u, 0, sizeof *u);
    if (r <= 0) {
        return r;
    }
    k = split_rest(s, n, ':', f, 4, 1);    /* OPTIONS may hold host=[IPv6] */
    if (k < 2) {
        return bad(why, "expected ADDRESS:HASH:QUOTA:OPTIONS");
    }
    if (copy_lower(&f[0], u->addr, sizeof u->addr) < 0 || !addr_map_ok(u->addr, f[0].n)) {
        return bad(why, "invalid address (local part [a-z0-9][a-z0-9._+-]*, then @domain)");
    }
    if (!map_hash_ok(f[1].s, f[1].n)) {
        return bad(why, "the password field is not a crypt(3) hash (use mailacct passwd)");
    }
    memcpy(u->hash, f[1].s, f[1].n);
    u->hash[f[1].n] = '\0';
    if (k >= 3 && f[2].n > 0) {
        if (map_size(f[2].s, f[2].n, &u->quota) < 0) {
            return bad(why, "bad quota (expected e.g. 20M, 50M, bytes, or 0 for unlimited)");
        }
        u->quota_set = 1;
    }
    if (k == 4 && user_options(&f[3], u, why) < 0) {
        return -1;
    }
    return 1;
}

static int target_seen(const char *list, size_t len, const char *t, size_t tn)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && list[j] != ' ') {
            j++;
        }
        if (j - i == tn && memcmp(list + i, t, tn) == 0) {
            return 1;
        }
        i = j + 1;
    }
    return 0;
}

int map_parse_alias(const char *s, size_t n, struct map_alias *a, char *why)
{
    size_t i, len = 0;
    long colon;
    struct field key;
    int r = line_prep(&s, &n, why);
    memset(a, 0, sizeof *a);
    if (r <= 0) {
        return r;
    }
    colon = str_chr(s, n, ':');
    if (colon < 0) {
        return bad(why, "expected ADDRESS: TARGET[, TARGET ...]");
    }
    key.s = s;
    key.n = (size_t)colon;
    trim(&key.s, &key.n);
    if (copy_lower(&key, a->addr, sizeof a->addr) < 0
        || (strcmp(a->addr, "postmaster") != 0 && !addr_map_ok(a->addr, key.n))) {
        return bad(why, "invalid alias address (local part [a-z0-9][a-z0-9._+-]*, then @domain)");
    }
    i = (size_t)colon + 1;
    while (i < n) {
        char t[ADDR_MAX + 1];
        size_t j = i, tn;
        while (i < n && (s[i] == ',' || is_blank(s[i]))) {
            i++;
        }
        if (i == n) {
            break;
        }
        j = i;
        while (j < n && s[j] != ',' && !is_blank(s[j])) {
            j++;
        }
        r = map_parse_target(s + i, j - i, t, sizeof t, why);
        if (r == 0) {       /* "# …" after the targets */
            return bad(why, "a comment must be on a line of its own (# starts a comment only at "
                       "the beginning of a line)");
        }
        if (r != 1) {
            return -1;
        }
        tn = strlen(t);
        if (!target_seen(a->targets, len, t, tn)) {
            if (++a->ntargets > ALIAS_TARGETS_MAX) {
                return bad(why, "more than 100 targets");
            }
            if (len + tn + 2 > sizeof a->targets) {
                return bad(why, "line too long");
            }
            if (len) {
                a->targets[len++] = ' ';
            }
            memcpy(a->targets + len, t, tn + 1);
            len += tn;
        }
        i = j;
    }
    if (a->ntargets == 0) {
        return bad(why, "alias without a target");
    }
    return 1;
}

int map_parse_route(const char *s, size_t n, struct map_route *rt, char *why)
{
    struct field key, host, f[FIELDS_MAX];
    size_t i, k = 0;
    long colon;
    int r = line_prep(&s, &n, why);
    memset(rt, 0, sizeof *rt);
    rt->port = 25;
    if (r <= 0) {
        return r;
    }
    colon = str_chr(s, n, ':');
    if (colon < 0) {
        return bad(why, "expected DOMAIN:HOST[:PORT[:OPTIONS]] or :HOST:PORT");
    }
    key.s = s;
    key.n = (size_t)colon;
    trim(&key.s, &key.n);
    if (key.n > 0 && (copy_lower(&key, rt->domain, sizeof rt->domain) < 0
                      || !addr_map_domain_ok(rt->domain, key.n))) {
        return bad(why, "invalid domain name");
    }
    i = (size_t)colon + 1;
    host.s = s + i;
    if (i < n && s[i] == '[') {
        long close = str_chr(s + i, n - i, ']');
        host.n = close < 0 ? n - i : (size_t)close + 1;
    } else {
        long c = str_chr(s + i, n - i, ':');
        host.n = c < 0 ? n - i : (size_t)c;
    }
    i += host.n;
    trim(&host.s, &host.n);
    if (host_parse(&host, rt->host, sizeof rt->host) < 0) {
        return bad(why, "bad host (expected a host name, an IPv4 address or [IPv6])");
    }
    if (i < n) {
        if (s[i] != ':') {
            return bad(why, "expected ':' after the host");
        }
        k = split(s + i + 1, n - i - 1, ':', f, FIELDS_MAX);
    }
    if (k > 2) {
        return bad(why, "too many fields (expected DOMAIN:HOST[:PORT[:OPTIONS]])");
    }
    if (k >= 1 && f[0].n > 0) {
        uint64_t port;
        if (str_to_u64(f[0].s, f[0].n, &port) < 0 || port == 0 || port > 65535) {
            return bad(why, "bad port (1-65535)");
        }
        rt->port = (unsigned)port;
    }
    if (k == 2 && f[1].n > 0) {
        struct field opt[FIELDS_MAX];
        size_t m = split(f[1].s, f[1].n, ',', opt, FIELDS_MAX), j;
        if (m > FIELDS_MAX) {
            return bad(why, "too many options");
        }
        for (j = 0; j < m; j++) {
            if (opt[j].n == 0) {
                continue;
            } else if (field_is(&opt[j], "tls=require")) {
                rt->tls_require = 1;
            } else if (field_is(&opt[j], "verify")) {
                rt->verify = 1;
            } else {
                return bad(why, "unknown option (known: tls=require, verify)");
            }
        }
    }
    return 1;
}

static int port_field(const struct field *f, unsigned dflt, unsigned *out)
{
    uint64_t port;
    if (f->n == 0) {
        *out = dflt;
        return 0;
    }
    if (str_to_u64(f->s, f->n, &port) < 0 || port == 0 || port > 65535) {
        return -1;
    }
    *out = (unsigned)port;
    return 0;
}

int map_parse_node(const char *s, size_t n, struct map_node *nd, char *why)
{
    static const struct field empty = { "", 0 };
    struct field f[FIELDS_MAX];
    size_t k;
    int r = line_prep(&s, &n, why);
    memset(nd, 0, sizeof *nd);
    if (r <= 0) {
        return r;
    }
    k = split(s, n, ':', f, FIELDS_MAX);
    if (k < 2 || k > 4) {
        return bad(why, "expected NODE:ADDRESS[:SMTP_PORT[:POP3_PORT]] (e.g. b:10.0.0.2:4025:4110)");
    }
    if (!fleethome_name_ok(f[0].s, f[0].n)) {
        return bad(why, "bad node name (1-63 of a-z 0-9 -)");
    }
    memcpy(nd->name, f[0].s, f[0].n);
    if (f[1].n == 0 || f[1].s[0] == '[' || host_parse(&f[1], nd->addr, sizeof nd->addr) < 0) {
        return bad(why, "bad address (expected a host name or an IPv4 address)");
    }
    if (port_field(k > 2 ? &f[2] : &empty, FLEET_SMTP_PORT, &nd->smtp_port) < 0) {
        return bad(why, "bad SMTP port (1-65535)");
    }
    if (port_field(k > 3 ? &f[3] : &empty, FLEET_POP3_PORT, &nd->pop3_port) < 0) {
        return bad(why, "bad POP3 port (1-65535)");
    }
    if (nd->smtp_port == nd->pop3_port) {
        return bad(why, "the SMTP and POP3 ports must differ");
    }
    return 1;
}

int map_parse_home(const char *s, size_t n, struct map_home *h, char *why)
{
    struct field f[FIELDS_MAX];
    size_t k;
    int r = line_prep(&s, &n, why);
    memset(h, 0, sizeof *h);
    if (r <= 0) {
        return r;
    }
    k = split(s, n, ':', f, FIELDS_MAX);
    if (k < 3 || k > 4) {
        return bad(why, "expected DOMAIN:NODE:EPOCH[:STATE] (e.g. example.test:b:1:live)");
    }
    if (copy_lower(&f[0], h->domain, sizeof h->domain) < 0
        || !addr_map_domain_ok(h->domain, f[0].n)) {
        return bad(why, "invalid domain name");
    }
    if (!fleethome_name_ok(f[1].s, f[1].n)) {
        return bad(why, "bad node name (1-63 of a-z 0-9 -)");
    }
    memcpy(h->node, f[1].s, f[1].n);
    if (str_to_u64(f[2].s, f[2].n, &h->epoch) < 0 || h->epoch == 0
        || h->epoch > FLEET_EPOCH_MAX) {
        return bad(why, "bad epoch (a whole number from 1)");
    }
    if (k == 4 && f[3].n > 0) {
        if (field_is(&f[3], "frozen")) {
            h->frozen = 1;
        } else if (!field_is(&f[3], "live")) {
            return bad(why, "bad state (live or frozen)");
        }
    }
    return 1;
}

int maps_text_find(const char *text, size_t len, const char *key, size_t *start, size_t *end)
{
    size_t i = 0, klen = strlen(key);
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) + 1 : len;
        const char *s = text + i;
        size_t n = (nl ? (size_t)(nl - s) : len - i);
        long colon;
        trim(&s, &n);
        colon = str_chr(s, n, ':');
        if (n > 0 && s[0] != '#' && colon >= 0) {
            struct field k;
            k.s = s;
            k.n = (size_t)colon;
            trim(&k.s, &k.n);
            if (k.n == klen && str_eq_nocase(k.s, k.n, key)) {
                *start = i;
                *end = e;
                return 1;
            }
        }
        i = e;
    }
    return 0;
}

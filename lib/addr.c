/* addr.c: the SMTP path grammar (RFC 5321 §4.1.2) and the stricter grammar of our maps */
#include "addr.h"
#include "idna.h"

#include <string.h>

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* atext of RFC 5322 §3.2.3 */
static int is_atext(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

int addr_domain_ok(const char *s, size_t n, int allow_utf8)
{
    size_t i, label = 0;
    if (n == 0 || n > SMTP_DOMAIN_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (c == '-') {
            if (label == 0) {
                return 0;
            }
        } else if (!is_alnum(c) && !(allow_utf8 && c >= 0x80)) {
            return 0;
        }
        if (++label > 63) {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

/* address-literal: "[" ( IPv4 / "IPv6:" ... / tag ":" dcontent ) "]" — we check the shape:
   printable, no brackets or backslash inside. */
static size_t parse_literal(const char *s, size_t n)
{
    size_t i;
    if (n < 3 || s[0] != '[') {
        return 0;
    }
    for (i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ']') {
            return i > 1 ? i + 1 : 0;
        }
        if (c < 33 || c > 126 || c == '[' || c == '\\') {
            return 0;
        }
    }
    return 0;
}

static size_t parse_domain_part(const char *s, size_t n, struct addr *a)
{
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        a->literal = 1;
        return parse_literal(s, n);
    }
    while (i < n && s[i] != '>' && s[i] != ',' && s[i] != ':') {
        if ((unsigned char)s[i] >= 0x80) {
            a->utf8 = 1;
        }
        i++;
    }
    return addr_domain_ok(s, i, 1) ? i : 0;
}

/* Source route "@a,@b:" (RFC 5321 §4.1.2 A-d-l): parsed and dropped (§C). */
static size_t parse_route(const char *s, size_t n, struct addr *a)
{
    size_t i = 0;
    for (;;) {
        size_t d;
        struct addr tmp;
        if (i >= n || s[i] != '@') {
            return 0;
        }
        memset(&tmp, 0, sizeof tmp);
        d = parse_domain_part(s + i + 1, n - i - 1, &tmp);
        if (d == 0) {
            return 0;
        }
        i += 1 + d;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == ':') {
            a->route = 1;
            return i + 1;
        }
        return 0;
    }
}

/* The flags a local-part octet raises (UTF-8, the % and ! relay forms). */
static void note_octet(struct addr *a, unsigned char c)
{
    if (c >= 0x80) {
        a->utf8 = 1;
    }
    if (c == '%') {
        a->percent = 1;
    }
    if (c == '!') {
        a->bang = 1;
    }
}

static size_t parse_local(const char *s, size_t n, struct addr *a)
{
    size_t i = 0;
    if (n > 0 && s[0] == '"') {
        a->quoted = 1;
        for (i = 1; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (i + 1 >= n || (unsigned char)s[i + 1] < 32 || (unsigned char)s[i + 1] > 126) {
                    return 0;
                }
                i++;
                continue;
            }
            if (c == '"') {
                return i + 1;
            }
            if (c < 32 || c == 127) {
                return 0;
            }
            note_octet(a, c);
        }
        return 0;
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (i == 0 || s[i - 1] == '.') {
                return 0;
            }
        } else if (!is_atext(c)) {
            break;
        }
        note_octet(a, c);
        i++;
    }
    if (i == 0 || s[i - 1] == '.') {
        return 0;
    }
    return i;
}

/* A quoted local part "q" (quotes included, n octets) whose content, quoted-pairs undone, is
   a dot-string: that content into out (at least n octets), its length; 0 when quoting is
   needed. "bob", "b\ob" and bob are one mailbox (as Postfix keeps addresses unquoted). */
static size_t dequote_local(const char *q, size_t n, char *out)
{
    size_t i, k = 0;
    for (i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)(q[i] == '\\' ? q[++i] : q[i]);
        if (c == '.' ? k == 0 || out[k - 1] == '.' : !is_atext(c)) {
            return 0;
        }
        out[k++] = (char)c;
    }
    return k > 0 && out[k - 1] != '.' ? k : 0;
}

enum addr_err addr_parse_path(const char *s, size_t n, struct addr *a, size_t *used)
{
    size_t i = 1, l, d = 0, start;

    memset(a, 0, sizeof *a);
    if (n < 2 || s[0] != '<') {
        return ADDR_ESYNTAX;
    }
    if (s[1] == '>') {
        a->null = 1;
        *used = 2;
        return ADDR_OK;
    }
    if (s[1] == '@') {
        size_t r = parse_route(s + 1, n - 1, a);
        if (r == 0) {
            return ADDR_ESYNTAX;
        }
        i += r;
    }
    start = i;
    l = parse_local(s + i, n - i, a);
    if (l == 0) {
        return ADDR_ESYNTAX;
    }
    if (l > SMTP_LOCAL_MAX) {
        return ADDR_ETOOLONG;
    }
    i += l;
    if (i < n && s[i] == '@') {
        d = parse_domain_part(s + i + 1, n - i - 1, a);
        if (d == 0) {
            return ADDR_ESYNTAX;
        }
        if (d > SMTP_DOMAIN_MAX) {
            return ADDR_ETOOLONG;
        }
        i += 1 + d;
    }
    if (i >= n || s[i] != '>') {
        return ADDR_ESYNTAX;
    }
    if (i + 1 > SMTP_PATH_MAX) {
        return ADDR_ETOOLONG;
    }
    a->len = i - start;
    memcpy(a->s, s + start, a->len);
    a->s[a->len] = '\0';
    a->at = d ? l : a->len;
    if (a->quoted) {
        char plain[SMTP_LOCAL_MAX + 1];
        size_t k = dequote_local(a->s, l, plain);
        if (k > 0) {
            memmove(a->s + k, a->s + l, a->len - l + 1);
            memcpy(a->s, plain, k);
            a->len -= l - k;
            a->at = d ? k : a->len;
            a->quoted = 0;
        }
    }
    *used = i + 1;
    return ADDR_OK;
}

int addr_map_domain_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            return 0;
        }
    }
    return addr_domain_ok(s, n, 0) && memchr(s, '.', n) != NULL;
}

int addr_map_ok(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    size_t l, i;
    if (!at) {
        return 0;
    }
    l = (size_t)(at - s);
    if (l == 0 || l > SMTP_LOCAL_MAX) {
        return 0;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) {
        return 0;
    }
    for (i = 1; i < l; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
              || c == '+' || c == '-')) {
            return 0;
        }
        if (c == '.' && s[i - 1] == '.') {
            return 0;
        }
    }
    if (s[l - 1] == '.') {
        return 0;
    }
    return addr_map_domain_ok(at + 1, n - l - 1);
}

int addr_map_form(const char *in, char *out, size_t cap)
{
    char typed[ADDR_TYPED_MAX + 1];
    const char *at;
    int n = idna_fold_fullwidth(in, strlen(in), typed, sizeof typed);
    size_t local, i;

    if (n < 0 || !(at = strrchr(typed, '@')) || (local = (size_t)(at - typed)) + 1 >= cap) {
        return 0;
    }
    for (i = 0; i <= local; i++) {
        out[i] = typed[i] >= 'A' && typed[i] <= 'Z' ? (char)(typed[i] + 32) : typed[i];
    }
    if (idna_to_ascii(at + 1, (size_t)n - local - 1, out + local + 1, cap - local - 1) < 0) {
        return 0;
    }
    return strlen(out) <= ADDR_MAX && addr_map_ok(out, strlen(out));
}

size_t addr_login_form(const char *in, size_t n, char *out, size_t cap)
{
    char typed[ADDR_TYPED_MAX + 1];
    size_t i, len;

    for (i = 0; i < n && (unsigned char)in[i] < 0x80; i++) {
    }
    if (i == n || n > ADDR_TYPED_MAX || memchr(in, '\0', n)) {
        return 0;
    }
    memcpy(typed, in, n);
    typed[n] = '\0';
    if (addr_map_form(typed, out, cap) != 1) {
        return 0;
    }
    len = strlen(out);
    return len <= AUTH_FIELD_MAX ? len : 0;
}

int addr_domain_to_ascii(struct addr *a)
{
    char dom[SMTP_DOMAIN_MAX + 1];
    size_t i, local = a->at;
    int n, utf8 = 0;

    if (a->null || a->literal || a->at >= a->len) {
        return 0;
    }
    for (i = local + 1; i < a->len && (unsigned char)a->s[i] < 0x80; i++) {
    }
    if (i == a->len) {
        return 0;
    }
    n = idna_to_ascii(a->s + local + 1, a->len - local - 1, dom, sizeof dom);
    if (n < 0 || local + 1 + (size_t)n + 2 > SMTP_PATH_MAX) {
        return -1;
    }
    memcpy(a->s + local + 1, dom, (size_t)n + 1);
    a->len = local + 1 + (size_t)n;
    for (i = 0; i < local; i++) {
        utf8 |= (unsigned char)a->s[i] >= 0x80;
    }
    a->utf8 = utf8;
    return 0;
}

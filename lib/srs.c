/* srs.c: SRS0/SRS1 sender rewriting and its reverse (HMAC-SHA1 from BearSSL) */
#include "srs.h"
#include "b64.h"
#include "cfg.h"
#include "fd.h"
#include "str.h"

#include <bearssl.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Octets of ROOT/etc/srs read at most: SRS_SECRETS_MAX secrets with room for comments. */
#define SRS_FILE_MAX 16384

int srs_keys_load(const char *root, struct srs_keys *k)
{
    char path[YUBIN_PATH_MAX], data[SRS_FILE_MAX + 1];
    ssize_t used;
    char *p, *end;

    k->n = 0;
    if (cfg_path(path, sizeof path, root, "etc/srs") < 0) {
        return -1;
    }
    used = fd_read_file(path, data, sizeof data);
    if (used < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    data[used] = '\0';
    for (p = data; *p && k->n < SRS_SECRETS_MAX; p = end + (*end != '\0')) {
        size_t len;
        end = strchr(p, '\n');
        if (!end) {
            end = p + strlen(p);
        }
        len = (size_t)(end - p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r')) {
            len--;
        }
        if (len == 0 || p[0] == '#') {
            continue;
        }
        if (len > SRS_SECRET_MAX) {
            errno = EINVAL;
            return -1;
        }
        memcpy(k->s[k->n], p, len);
        k->len[k->n++] = len;
    }
    return 0;
}

/* The first SRS_HASH_LEN base64 characters of HMAC-SHA1(secret i, lower-cased a then b). */
static void hash(const struct srs_keys *k, unsigned i, const char *a, size_t an, const char *b,
                 size_t bn, char out[SRS_HASH_LEN + 1])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    unsigned char mac[br_sha1_SIZE];
    char text[4 * ((br_sha1_SIZE + 2) / 3) + 1];
    const char *parts[2] = {a, b};
    size_t lens[2] = {an, bn}, j, q;

    br_hmac_key_init(&kc, &br_sha1_vtable, k->s[i], k->len[i]);
    br_hmac_init(&hc, &kc, 0);
    for (j = 0; j < 2; j++) {
        for (q = 0; q < lens[j]; q++) {
            unsigned char c = (unsigned char)tolower((unsigned char)parts[j][q]);
            br_hmac_update(&hc, &c, 1);
        }
    }
    br_hmac_out(&hc, mac);
    b64_encode(mac, sizeof mac, text, sizeof text);
    memcpy(out, text, SRS_HASH_LEN);
    out[SRS_HASH_LEN] = '\0';
}

static int is_sep(char c)
{
    return c == '=' || c == '+' || c == '-';
}

/* 1 if local[0..n) starts with "SRS<digit>" and a separator. */
static int srs_prefix(const char *local, size_t n, char digit)
{
    return n > 5 && (local[0] == 'S' || local[0] == 's') && (local[1] == 'R' || local[1] == 'r')
        && (local[2] == 'S' || local[2] == 's') && local[3] == digit && is_sep(local[4]);
}

/* Split an SRS1 local part "SRS1<sep>H=first=<rest>" (rest: the SRS0 part after "SRS0", its
   separator first). 1 split (the hash is at local + 5, up to the '=' before first), 0 not. */
static int srs1_split(const char *local, size_t n, const char **first, size_t *fn,
                      const char **rest, size_t *rn)
{
    const char *e = local + n, *he, *fe;
    if (!srs_prefix(local, n, '1') || !(he = memchr(local + 5, '=', n - 5))
        || !(fe = memchr(he + 1, '=', (size_t)(e - he - 1))) || fe == he + 1 || fe + 2 >= e
        || !is_sep(fe[1])) {
        return 0;
    }
    *first = he + 1;
    *fn = (size_t)(fe - *first);
    *rest = fe + 1;
    *rn = (size_t)(e - *rest);
    return 1;
}

int srs_forward(const struct srs_keys *k, const char *sender, const char *domain, time_t now,
                char *out, size_t cap)
{
    const char *at = strrchr(sender, '@');
    const char *local = sender, *dom, *first, *rest;
    size_t ln, dn, fn, rn;
    char h[SRS_HASH_LEN + 1];
    int r;

    if (!sender[0] || !at || !at[1]) {
        return 0;
    }
    dom = at + 1;
    dn = strlen(dom);
    ln = (size_t)(at - sender);
    if (ln == 0) {
        errno = EINVAL;
        return -1;
    }
    if (str_eq_nocase(dom, dn, domain)) {
        return 0;
    }
    if (srs_prefix(local, ln, '0')) {
        /* SRS0<rest>@first -> SRS1=H=first=<rest>@domain, H over first and <rest> */
        rest = local + 4;
        rn = ln - 4;
        hash(k, 0, dom, dn, rest, rn, h);
        r = str_fmt(out, cap, "SRS1=%s=%.*s=%.*s@%s", h, (int)dn, dom, (int)rn, rest, domain);
    } else if (srs1_split(local, ln, &first, &fn, &rest, &rn)) {
        /* SRS1<sep>H=first=<rest>@other -> SRS1=H'=first=<rest>@domain */
        hash(k, 0, first, fn, rest, rn, h);
        r = str_fmt(out, cap, "SRS1=%s=%.*s=%.*s@%s", h, (int)fn, first, (int)rn, rest, domain);
    } else {
        /* local@dom -> SRS0=H=TT=dom=local@domain, H over TT, dom and local */
        unsigned day = (unsigned)((now / 86400) % 1024);
        char data[2 + SMTP_DOMAIN_MAX];
        if (dn > SMTP_DOMAIN_MAX) {
            errno = E2BIG;
            return -1;
        }
        data[0] = b32[(day >> 5) & 31];
        data[1] = b32[day & 31];
        memcpy(data + 2, dom, dn);
        hash(k, 0, data, 2 + dn, local, ln, h);
        r = str_fmt(out, cap, "SRS0=%s=%.2s=%.*s=%.*s@%s", h, data, (int)dn, dom, (int)ln, local,
                    domain);
    }
    if (r < 0 || strlen(out) > ADDR_MAX) {
        errno = E2BIG;
        return -1;
    }
    return 1;
}

/* 1 if the hash h[0..hn) is what one of k's secrets makes of a then b. */
static int hash_ok(const struct srs_keys *k, const char *h, size_t hn, const char *a, size_t an,
                   const char *b, size_t bn)
{
    char want[SRS_HASH_LEN + 1];
    unsigned i;
    if (hn != SRS_HASH_LEN) {
        return 0;
    }
    for (i = 0; i < k->n; i++) {
        hash(k, i, a, an, b, bn, want);
        if (str_eq_nocase(h, hn, want)) {
            return 1;
        }
    }
    return 0;
}

static int b32_value(char c)
{
    const char *p = strchr(b32, toupper((unsigned char)c));
    return c && p ? (int)(p - b32) : -1;
}

enum srs_result srs_reverse(const struct srs_keys *k, const char *local, size_t n, time_t now,
                            unsigned max_age, char *out, size_t cap)
{
    const char *e = local + n, *h, *he;
    int r;

    if (srs_prefix(local, n, '1')) {
        /* SRS1<sep>H=first=<rest> -> SRS0<rest>@first */
        const char *first, *rest;
        size_t fn, rn;
        if (!srs1_split(local, n, &first, &fn, &rest, &rn)) {
            return SRS_BAD;
        }
        h = local + 5;
        if (!hash_ok(k, h, (size_t)(first - 1 - h), first, fn, rest, rn)) {
            return SRS_FORGED;
        }
        r = str_fmt(out, cap, "SRS0%.*s@%.*s", (int)rn, rest, (int)fn, first);
    } else if (srs_prefix(local, n, '0')) {
        /* SRS0<sep>H=TT=domain=local */
        const char *t, *d, *de, *l;
        int t0, t1;
        unsigned day, stamp, age;
        char data[2 + SMTP_DOMAIN_MAX];
        h = local + 5;
        if (!(he = memchr(h, '=', (size_t)(e - h))) || e - he < 4 || he[3] != '=') {
            return SRS_BAD;
        }
        t = he + 1;
        d = t + 3;
        if (!(de = memchr(d, '=', (size_t)(e - d))) || de == d || de + 1 >= e
            || (size_t)(de - d) > SMTP_DOMAIN_MAX) {
            return SRS_BAD;
        }
        l = de + 1;
        t0 = b32_value(t[0]);
        t1 = b32_value(t[1]);
        if (t0 < 0 || t1 < 0) {
            return SRS_BAD;
        }
        data[0] = t[0];
        data[1] = t[1];
        memcpy(data + 2, d, (size_t)(de - d));
        if (!hash_ok(k, h, (size_t)(he - h), data, 2 + (size_t)(de - d), l, (size_t)(e - l))) {
            return SRS_FORGED;
        }
        stamp = (unsigned)(t0 << 5 | t1);
        day = (unsigned)((now / 86400) % 1024);
        age = (day + 1024 - stamp) % 1024;
        if (age > max_age) {
            return SRS_EXPIRED;
        }
        r = str_fmt(out, cap, "%.*s@%.*s", (int)(e - l), l, (int)(de - d), d);
    } else {
        return SRS_NOT;
    }
    if (r < 0 || strlen(out) > ADDR_MAX || str_has_ctl(out, strlen(out))) {
        return SRS_BAD;
    }
    return SRS_OK;
}

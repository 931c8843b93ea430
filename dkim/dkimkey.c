/* dkimkey.c: DKIM key files, RSA-2048 generation with BearSSL, the DNS records to publish */
#include "dkimkey.h"

#include "b64.h"
#include "cdbmap.h"
#include "dkim.h"
#include "str.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dkimkey_selector_ok(const char *s)
{
    size_t i, n = strlen(s);
    if (n == 0 || n > DKIM_SELECTOR_MAX || s[0] == '-') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int dkimkey_path(char *out, size_t cap, const char *root, const char *domain, const char *name)
{
    int r = name ? str_fmt(out, cap, "%s/dkim/%s/%s", root, domain, name)
                 : str_fmt(out, cap, "%s/dkim/%s", root, domain);
    if (r < 0) {
        errno = ENAMETOOLONG;
    }
    return r;
}

int dkimkey_current(const char *root, const char *domain, char *sel, size_t cap)
{
    char path[YUBIN_PATH_MAX], buf[DKIM_SELECTOR_MAX + 2];
    ssize_t r;
    int fd;
    if (dkimkey_path(path, sizeof path, root, domain, "selector") < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    }
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r < 0) {
        return -1;
    }
    buf[r] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (!dkimkey_selector_ok(buf) || strlen(buf) >= cap) {
        errno = EINVAL;
        return -1;
    }
    memcpy(sel, buf, strlen(buf) + 1);
    return 1;
}

/* ---- DER for the public key (X.509 SubjectPublicKeyInfo, RFC 5280 §4.1; RFC 3279 §2.3.1) ---- */

struct der {
    unsigned char b[600];
    size_t n;
};

static int der_put(struct der *d, const void *p, size_t n)
{
    if (n > sizeof d->b - d->n) {
        return -1;
    }
    memcpy(d->b + d->n, p, n);
    d->n += n;
    return 0;
}

static int der_head(struct der *d, unsigned char tag, size_t len)
{
    unsigned char h[4] = { tag, 0, 0, 0 };
    size_t hn = 2;
    if (len < 128) {
        h[1] = (unsigned char)len;
    } else if (len < 256) {
        h[1] = 0x81;
        h[2] = (unsigned char)len;
        hn = 3;
    } else {
        h[1] = 0x82;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hn = 4;
    }
    return der_put(d, h, hn);
}

/* An unsigned big-endian INTEGER: leading zeros dropped, one 0x00 when the top bit is set. */
static int der_uint(struct der *d, const unsigned char *x, size_t n)
{
    while (n > 1 && x[0] == 0) {
        x++;
        n--;
    }
    if (x[0] & 0x80) {
        return der_head(d, 0x02, n + 1) < 0 || der_put(d, "", 1) < 0 ? -1 : der_put(d, x, n);
    }
    return der_head(d, 0x02, n) < 0 ? -1 : der_put(d, x, n);
}

static int spki(const br_rsa_public_key *pk, struct der *out)
{
    static const unsigned char alg[] = {    /* SEQUENCE { rsaEncryption, NULL } */
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00
    };
    struct der rsa, bits;
    memset(&rsa, 0, sizeof rsa);
    memset(&bits, 0, sizeof bits);
    out->n = 0;
    {
        struct der ints;
        ints.n = 0;
        if (der_uint(&ints, pk->n, pk->nlen) < 0 || der_uint(&ints, pk->e, pk->elen) < 0
            || der_head(&rsa, 0x30, ints.n) < 0 || der_put(&rsa, ints.b, ints.n) < 0) {
            return -1;
        }
    }
    if (der_head(&bits, 0x03, rsa.n + 1) < 0 || der_put(&bits, "", 1) < 0
        || der_put(&bits, rsa.b, rsa.n) < 0 || der_head(out, 0x30, sizeof alg + bits.n) < 0
        || der_put(out, alg, sizeof alg) < 0 || der_put(out, bits.b, bits.n) < 0) {
        return -1;
    }
    return 0;
}

int dkimkey_generate(struct buf *pem, char *pub, size_t cap)
{
    unsigned char kbuf_priv[BR_RSA_KBUF_PRIV_SIZE(DKIMKEY_BITS)];
    unsigned char kbuf_pub[BR_RSA_KBUF_PUB_SIZE(DKIMKEY_BITS)];
    unsigned char d[DKIMKEY_BITS / 8], der[DKIMKEY_PEM_MAX];
    char text[DKIMKEY_PEM_MAX];
    br_hmac_drbg_context rng;
    br_prng_seeder seeder = br_prng_seeder_system(NULL);
    br_rsa_private_key sk;
    br_rsa_public_key pk;
    struct der p;
    size_t dlen, derlen, textlen;
    int r = -1;

    br_hmac_drbg_init(&rng, &br_sha256_vtable, NULL, 0);
    if (!seeder || !seeder(&rng.vtable)) {
        errno = EIO;
        return -1;
    }
    if (!br_rsa_keygen_get_default()(&rng.vtable, &sk, kbuf_priv, &pk, kbuf_pub, DKIMKEY_BITS,
                                     65537)) {
        errno = EIO;
        goto out;
    }
    dlen = br_rsa_compute_privexp_get_default()(d, &sk, 65537);
    derlen = dlen ? br_encode_rsa_raw_der(NULL, &sk, &pk, d, dlen) : 0;
    if (derlen == 0 || derlen > sizeof der
        || br_pem_encode(NULL, NULL, derlen, "RSA PRIVATE KEY", BR_PEM_LINE64) >= sizeof text) {
        errno = EIO;
        goto out;
    }
    br_encode_rsa_raw_der(der, &sk, &pk, d, dlen);
    textlen = br_pem_encode(text, der, derlen, "RSA PRIVATE KEY", BR_PEM_LINE64);
    if (spki(&pk, &p) < 0 || b64_encode(p.b, p.n, pub, cap) < 0) {
        errno = E2BIG;
        goto out;
    }
    r = buf_append(pem, text, textlen);
out:
    explicit_bzero(kbuf_priv, sizeof kbuf_priv);
    explicit_bzero(d, sizeof d);
    explicit_bzero(der, sizeof der);
    explicit_bzero(text, sizeof text);
    explicit_bzero(&rng, sizeof rng);
    return r;
}

/* ---- records ---- */

/* value split into quoted strings of at most DKIMKEY_TXT_CHUNK octets (RFC 6376 §3.6.2.2: the
   strings of one TXT record are joined without anything between them). */
static int txt_strings(struct buf *out, const char *value)
{
    size_t n = strlen(value), i;
    for (i = 0; i < n; i += DKIMKEY_TXT_CHUNK) {
        size_t k = n - i < DKIMKEY_TXT_CHUNK ? n - i : DKIMKEY_TXT_CHUNK;
        if (buf_puts(out, i ? " \"" : "\"") < 0 || buf_append(out, value + i, k) < 0
            || buf_puts(out, "\"") < 0) {
            return -1;
        }
    }
    return buf_puts(out, "\n");
}

int dkimkey_record_dkim(struct buf *out, const char *domain, const char *selector,
                        const char *pub)
{
    char v[DKIMKEY_PUB_MAX + 32];
    if (str_fmt(v, sizeof v, "v=DKIM1; k=rsa; p=%s", pub) < 0) {
        errno = E2BIG;
        return -1;
    }
    if (buf_printf(out, "%s._domainkey.%s. IN TXT ", selector, domain) < 0) {
        return -1;
    }
    return txt_strings(out, v);
}

int dkimkey_record_spf(struct buf *out, const char *domain, const char *mechs)
{
    char v[MAP_LINE_MAX + 32];
    if (str_fmt(v, sizeof v, "v=spf1 %s -all", mechs) < 0) {
        errno = E2BIG;
        return -1;
    }
    if (buf_printf(out, "%s. IN TXT ", domain) < 0) {
        return -1;
    }
    return txt_strings(out, v);
}

int dkimkey_record_dmarc(struct buf *out, const char *domain, const char *rua)
{
    return buf_printf(out, "_dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:%s\"\n", domain,
                      rua);
}

int dkimkey_fleet(const char *root, const char *domain, char *sel, size_t selcap,
                  unsigned char *der, size_t dercap, size_t *derlen)
{
    char name[SMTP_DOMAIN_MAX + DKIM_SELECTOR_MAX + 2];
    struct cdbmap m;
    size_t n;
    int r;
    if (cdbmap_open(&m, root, "dkim") < 0) {
        return errno == ENOENT ? 0 : -1;    /* mapsync has not built it yet: no keys */
    }
    r = cdbmap_find(&m, domain, strlen(domain), sel, selcap, &n);
    if (r == 1 && (!dkimkey_selector_ok(sel)
                   || str_fmt(name, sizeof name, "%s/%s", domain, sel) < 0)) {
        errno = EPROTO;
        r = -1;
    }
    if (r == 1) {
        r = cdbmap_find(&m, name, strlen(name), (char *)der, dercap, derlen);
        if (r == 0) {
            errno = EPROTO;     /* a selector without its key: not what mapsync writes */
            r = -1;
        }
    }
    cdbmap_close(&m);
    return r;
}

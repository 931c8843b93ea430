/* dkimverify.c: DKIM verification of a message in memory (RFC 6376 §6, RFC 8301) */
#include "dkimverify.h"
#include "b64.h"
#include "str.h"

#include <bearssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_TXT_MAX 4096            /* octets of a selector's TXT records (a 4096-bit key: ~740) */

const char *dkimv_result_name(enum dkimv_res r)
{
    static const char *const names[] = { "pass", "fail", "neutral", "temperror", "permerror" };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "permerror";
}

/* ---- hashing with the l= bound ---- */

struct hasher {
    br_sha256_context c;
    int limited;                    /* l= given */
    uint64_t l, total;              /* the bound, the canonical octets produced */
};

static void hash_out(void *ctx, const char *p, size_t n)
{
    struct hasher *h = ctx;
    size_t k = n;
    if (h->limited) {
        k = h->total >= h->l ? 0 : (h->l - h->total < n ? (size_t)(h->l - h->total) : n);
    }
    h->total += n;
    br_sha256_update(&h->c, p, k);
}

static void sha_out(void *ctx, const char *p, size_t n)
{
    br_sha256_update(ctx, p, n);
}

/* "simple" header canonicalization (§3.4.1): the field as it is, its line ends as CRLF (we
   store LF); the final line end left out when crlf is 0. */
static void simple_header(const char *f, size_t n, int crlf, dkim_out_fn *out, void *ctx)
{
    size_t i, start = 0;
    if (!crlf) {
        n -= n > 0 && f[n - 1] == '\n';
        n -= n > 0 && f[n - 1] == '\r';
    }
    for (i = 0; i < n; i++) {
        if (f[i] == '\n') {
            size_t e = i > start && f[i - 1] == '\r' ? i - 1 : i;
            out(ctx, f + start, e - start);
            out(ctx, "\r\n", 2);
            start = i + 1;
        }
    }
    out(ctx, f + start, n - start);
}

/* "simple" body canonicalization (§3.4.3): CRLF line ends, no empty lines at the end, an
   empty body as one CRLF. */
static void simple_body(const char *b, size_t n, dkim_out_fn *out, void *ctx)
{
    size_t i = 0, blank = 0;
    int any = 0;
    while (i < n) {
        const char *nl = memchr(b + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - b) : n, e = end;
        if (nl && e > i && b[e - 1] == '\r') {
            e--;
        }
        if (e == i && nl) {
            blank++;
        } else {
            for (; blank > 0; blank--) {
                out(ctx, "\r\n", 2);
            }
            out(ctx, b + i, e - i);
            out(ctx, "\r\n", 2);
            any = 1;
        }
        i = nl ? end + 1 : n;
    }
    if (!any) {
        out(ctx, "\r\n", 2);
    }
}

/* ---- the key record ---- */

/* One DER tag and length at p[*i..n): 0 and *len with *i past them, or -1. */
static int der_tl(const unsigned char *p, size_t n, size_t *i, unsigned char tag, size_t *len)
{
    size_t l, k;
    if (*i + 2 > n || p[*i] != tag) {
        return -1;
    }
    l = p[*i + 1];
    *i += 2;
    if (l & 0x80) {
        k = l & 0x7f;
        if (k == 0 || k > 3) {
            return -1;
        }
        for (l = 0; k > 0; k--) {
            if (*i >= n) {
                return -1;
            }
            l = l << 8 | p[(*i)++];
        }
    }
    if (l > n - *i) {
        return -1;
    }
    *len = l;
    return 0;
}

/* An INTEGER (positive, leading zeros dropped) into out[cap]. */
static int der_int(const unsigned char *p, size_t n, size_t *i, unsigned char *out, size_t cap,
                   size_t *olen)
{
    size_t l;
    if (der_tl(p, n, i, 0x02, &l) < 0 || l == 0 || (p[*i] & 0x80)) {
        return -1;              /* absent, empty or negative */
    }
    while (l > 1 && p[*i] == 0) {
        (*i)++;
        l--;
    }
    if (l > cap) {
        return -1;
    }
    memcpy(out, p + *i, l);
    *olen = l;
    *i += l;
    return 0;
}

static const unsigned char rsa_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };

int dkimv_key_parse(const char *v, size_t n, unsigned char *nbuf, size_t *nlen,
                    unsigned char *ebuf, size_t *elen, const char **why)
{
    struct dkim_tags t;
    char ver[16], k[16], h[64], p[1024];
    unsigned char der[800];
    size_t i = 0, l, bits;
    unsigned top;
    long dl;

    *why = "the key record is not a DKIM key record";
    if (dkim_tags_parse(v, n, &t) < 0 || dkim_tag_copy(&t, "v", ver, sizeof ver) < 0
        || dkim_tag_copy(&t, "k", k, sizeof k) < 0 || dkim_tag_copy(&t, "h", h, sizeof h) < 0) {
        return -1;
    }
    if ((ver[0] && strcmp(ver, "DKIM1") != 0) || !dkim_tag_find(&t, "p")) {
        return -1;
    }
    if (k[0] && strcmp(k, "rsa") != 0) {
        *why = "the key is not an RSA key";
        return -1;
    }
    if (h[0] && !strstr(h, "sha256")) {
        *why = "the key does not allow sha256";
        return -1;
    }
    if (dkim_tag_copy(&t, "p", p, sizeof p) < 0) {
        *why = "the key is longer than 4096 bits";
        return -1;
    }
    if (!p[0]) {
        *why = "the key has been revoked (empty p=)";
        return -1;
    }
    *why = "the key is not valid base64 DER";
    dl = b64_decode(p, strlen(p), der, sizeof der);
    if (dl < 0 || der_tl(der, (size_t)dl, &i, 0x30, &l) < 0) {
        return -1;
    }
    if (i < (size_t)dl && der[i] == 0x30) {     /* SubjectPublicKeyInfo */
        size_t a, o;
        if (der_tl(der, (size_t)dl, &i, 0x30, &a) < 0) {
            return -1;
        }
        o = i;
        if (der_tl(der, (size_t)dl, &o, 0x06, &l) < 0 || l != sizeof rsa_oid
            || memcmp(der + o, rsa_oid, l) != 0) {
            *why = "the key is not an RSA key";
            return -1;
        }
        i += a;
        if (der_tl(der, (size_t)dl, &i, 0x03, &l) < 0 || l < 1 || der[i] != 0) {
            return -1;
        }
        i++;
        if (der_tl(der, (size_t)dl, &i, 0x30, &l) < 0) {
            return -1;
        }
    }
    if (der_int(der, (size_t)dl, &i, nbuf, DKIMV_N_MAX, nlen) < 0
        || der_int(der, (size_t)dl, &i, ebuf, 8, elen) < 0) {
        return -1;
    }
    for (bits = *nlen * 8, top = nbuf[0]; bits > 0 && !(top & 0x80); bits--, top <<= 1) {
    }
    if (bits < DKIMV_KEY_BITS_MIN) {
        *why = "the key is shorter than 1024 bits (RFC 8301)";
        return -1;
    }
    return 0;
}

/* ---- one signature ---- */

struct msg {
    const char *h;
    size_t hlen;
    const char *body;
    size_t blen;
    struct dkim_field *f;
    size_t nf;
};

static enum dkimv_res say(struct dkimv_result *o, enum dkimv_res r, const char *why)
{
    o->res = r;
    str_fmt(o->why, sizeof o->why, "%s", why);
    return r;
}

static enum dkimv_res key_for(const struct spf_resolver *r, struct dkimv_result *o,
                              br_rsa_public_key *pk, unsigned char *nbuf, unsigned char *ebuf)
{
    char name[SMTP_DOMAIN_MAX + DKIM_SELECTOR_MAX + 16], *txt;
    const char *why = "no key record for the selector";
    size_t nrec = 0, i, off = 0;
    enum spf_dns rc;

    if (str_fmt(name, sizeof name, "%s._domainkey.%s", o->s, o->d) < 0
        || strlen(name) > SPF_NAME_MAX) {
        return say(o, DKIMV_PERMERROR, "the key name is too long");
    }
    txt = malloc(KEY_TXT_MAX);
    if (!txt) {
        return say(o, DKIMV_TEMPERROR, "out of memory");
    }
    rc = r->txt(r->ctx, name, txt, KEY_TXT_MAX, &nrec);
    if (rc == SPF_DNS_TEMP) {
        free(txt);
        return say(o, DKIMV_TEMPERROR, "the key lookup failed for now");
    }
    for (i = 0; rc == SPF_DNS_OK && i < nrec && off < KEY_TXT_MAX; i++) {
        size_t l = strnlen(txt + off, KEY_TXT_MAX - off);
        size_t nl, el;
        if (dkimv_key_parse(txt + off, l, nbuf, &nl, ebuf, &el, &why) == 0) {
            pk->n = nbuf;
            pk->nlen = nl;
            pk->e = ebuf;
            pk->elen = el;
            free(txt);
            return DKIMV_PASS;
        }
        off += l + 1;
    }
    free(txt);
    return say(o, DKIMV_PERMERROR, why);
}

/* The DKIM-Signature field f of m with the value of its b= tag removed (§3.7: "including all
   surrounding whitespace", folding too; the field's own line end stays), in out[cap]. */
static int strip_b(const struct msg *m, const struct dkim_field *f, char *out, size_t cap,
                   size_t *len)
{
    const char *fv = m->h + f->off;
    const char *colon = memchr(fv, ':', f->len);
    struct dkim_tags t;
    const struct dkim_tag *b;
    size_t vstart, cut, rest;

    if (!colon || f->len > cap) {
        return -1;
    }
    vstart = (size_t)(colon + 1 - fv);
    if (dkim_tags_parse(colon + 1, f->len - vstart, &t) < 0 || !(b = dkim_tag_find(&t, "b"))) {
        return -1;
    }
    cut = (size_t)(b->value - fv);
    rest = cut + b->valuelen;
    while (cut > 0 && fv[cut - 1] != '=') {     /* the white space between "b=" and the value */
        cut--;
    }
    for (;;) {                                  /* and after it, up to ';' or the end */
        size_t k = rest;
        if (k < f->len && fv[k] == '\r') {
            k++;
        }
        if (k < f->len && fv[k] == '\n') {
            k++;
        }
        if (k < f->len && (fv[k] == ' ' || fv[k] == '\t')) {
            rest = k + 1;
        } else {
            break;
        }
    }
    memcpy(out, fv, cut);
    memcpy(out + cut, fv + rest, f->len - rest);
    *len = cut + (f->len - rest);
    return 0;
}

/* The tags §6.1.1 asks about before any lookup: a, c, x, l. DKIMV_PASS to go on (with
   *hsimple, *bsimple and the l= bound in bh), or the result. */
static enum dkimv_res sig_checks(const struct dkim_sig *sig, const struct dkim_tags *t,
                                 long long now, int *hsimple, int *bsimple, struct hasher *bh,
                                 struct dkimv_result *o)
{
    char tb[24], ch[16], cb[16];
    const char *slash;
    uint64_t x = 0;

    if (strcmp(sig->a, "rsa-sha1") == 0) {
        return say(o, DKIMV_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
    }
    if (strcmp(sig->a, "rsa-sha256") != 0) {
        return say(o, DKIMV_NEUTRAL, "unknown signing algorithm");
    }
    slash = strchr(sig->c, '/');
    str_fmt(ch, sizeof ch, "%.*s", slash ? (int)(slash - sig->c) : (int)strlen(sig->c), sig->c);
    str_fmt(cb, sizeof cb, "%s", slash ? slash + 1 : "simple");
    *hsimple = strcmp(ch, "simple") == 0;
    *bsimple = strcmp(cb, "simple") == 0;
    if ((!*hsimple && strcmp(ch, "relaxed") != 0) || (!*bsimple && strcmp(cb, "relaxed") != 0)) {
        return say(o, DKIMV_PERMERROR, "unknown canonicalization");
    }
    if (dkim_tag_copy(t, "x", tb, sizeof tb) < 0
        || (tb[0] && str_to_u64(tb, strlen(tb), &x) < 0)) {
        return say(o, DKIMV_PERMERROR, "bad x= tag");
    }
    if (tb[0] && (long long)x < now) {
        return say(o, DKIMV_PERMERROR, "the signature has expired (x=)");
    }
    memset(bh, 0, sizeof *bh);
    br_sha256_init(&bh->c);
    if (dkim_tag_copy(t, "l", tb, sizeof tb) < 0
        || (tb[0] && str_to_u64(tb, strlen(tb), &bh->l) < 0)) {
        return say(o, DKIMV_PERMERROR, "bad l= tag");
    }
    bh->limited = tb[0] != '\0';
    return DKIMV_PASS;
}

/* The body hash (§3.7) compared with bh=. DKIMV_PASS to go on, or the result. */
static enum dkimv_res body_check(const struct msg *m, const struct dkim_sig *sig, int bsimple,
                                 struct hasher *bh, struct dkimv_result *o)
{
    unsigned char want[64], got[br_sha256_SIZE];
    long wl;

    if (bsimple) {
        simple_body(m->body, m->blen, hash_out, bh);
    } else {
        struct dkim_body *b = malloc(sizeof *b);
        if (!b) {
            return say(o, DKIMV_TEMPERROR, "out of memory");
        }
        dkim_body_init(b, hash_out, bh);
        dkim_body_update(b, m->body, m->blen);
        dkim_body_final(b);
        free(b);
    }
    if (bh->limited && bh->total < bh->l) {
        return say(o, DKIMV_PERMERROR, "l= is longer than the body");
    }
    o->partial = bh->limited && bh->total > bh->l;
    br_sha256_out(&bh->c, got);
    wl = b64_decode(sig->bh, strlen(sig->bh), want, sizeof want);
    if (wl != br_sha256_SIZE || memcmp(want, got, br_sha256_SIZE) != 0) {
        return say(o, DKIMV_FAIL, "the body hash does not match (the body was changed)");
    }
    return DKIMV_PASS;
}

/* §3.7: the signed fields bottom-up per name, then the signature field without b='s value;
   the RSA signature over that hash with the key pk. */
static enum dkimv_res header_check(const struct msg *m, const struct dkim_field *sf,
                                   const struct dkim_sig *sig, int hsimple,
                                   const br_rsa_public_key *pk, struct dkimv_result *o)
{
    unsigned char got[br_sha256_SIZE], rec[br_sha256_SIZE], sigbin[DKIMV_N_MAX];
    void (*canon_fn)(const char *, size_t, int, dkim_out_fn *, void *) =
        hsimple ? simple_header : dkim_canon_header;
    br_sha256_context c;
    char *stripped;
    size_t k, slen;
    long bl;

    br_sha256_init(&c);
    for (k = 0; k < sig->nh; k++) {
        size_t seen = 0, j;
        long i;
        for (j = 0; j < k; j++) {
            seen += strcmp(sig->h[j], sig->h[k]) == 0;
        }
        i = dkim_select(m->h, m->f, m->nf, sig->h[k], seen);
        if (i >= 0) {
            canon_fn(m->h + m->f[i].off, m->f[i].len, 1, sha_out, &c);
        }
    }
    stripped = malloc(sf->len);
    if (!stripped || strip_b(m, sf, stripped, sf->len, &slen) < 0) {
        free(stripped);
        return say(o, DKIMV_PERMERROR, "the signature does not parse (RFC 6376 §6.1.1)");
    }
    canon_fn(stripped, slen, 0, sha_out, &c);
    free(stripped);
    br_sha256_out(&c, got);
    bl = b64_decode(sig->b, strlen(sig->b), sigbin, sizeof sigbin);
    if (bl <= 0 || (size_t)bl != pk->nlen
        || !br_rsa_pkcs1_vrfy_get_default()(sigbin, (size_t)bl, BR_HASH_OID_SHA256,
                                            br_sha256_SIZE, pk, rec)
        || memcmp(rec, got, br_sha256_SIZE) != 0) {
        return say(o, DKIMV_FAIL, "the signature does not verify (a signed header field was "
                                  "changed)");
    }
    return say(o, DKIMV_PASS, o->partial ? "good signature over part of the body (l=)"
                                         : "good signature");
}

static enum dkimv_res verify_one(const struct msg *m, const struct dkim_field *sf,
                                 const struct spf_resolver *r, long long now,
                                 struct dkimv_result *o)
{
    struct dkim_sig *sig = calloc(1, sizeof *sig);
    const char *v = memchr(m->h + sf->off, ':', sf->len);
    unsigned char nbuf[DKIMV_N_MAX], ebuf[8];
    struct dkim_tags t;
    struct hasher bh;
    br_rsa_public_key pk;
    enum dkimv_res res;
    int hsimple = 0, bsimple = 0;
    size_t vlen;

    memset(o, 0, sizeof *o);
    if (!sig || !v) {
        free(sig);
        return say(o, sig ? DKIMV_TEMPERROR : DKIMV_PERMERROR,
                   sig ? "out of memory" : "the signature field has no ':'");
    }
    v++;
    vlen = sf->len - (size_t)(v - (m->h + sf->off));
    if (dkim_sig_parse(v, vlen, sig) < 0 || dkim_tags_parse(v, vlen, &t) < 0) {
        free(sig);
        return say(o, DKIMV_PERMERROR, "the signature does not parse (RFC 6376 §6.1.1)");
    }
    str_fmt(o->d, sizeof o->d, "%s", sig->d);
    str_fmt(o->s, sizeof o->s, "%s", sig->s);
    /* keys before the body: a missing key is permerror whatever the body */
    res = sig_checks(sig, &t, now, &hsimple, &bsimple, &bh, o);
    if (res == DKIMV_PASS) {
        res = key_for(r, o, &pk, nbuf, ebuf);
    }
    if (res == DKIMV_PASS) {
        res = body_check(m, sig, bsimple, &bh, o);
    }
    if (res == DKIMV_PASS) {
        res = header_check(m, sf, sig, hsimple, &pk, o);
    }
    free(sig);
    o->res = res;
    return res;
}

/* o for a signature field f[0..n) that is not verified: permerror with why, named by its d=
   and s= when the field (at most DKIM_SIG_MAX) parses: the header's header.d and header.s. */
static void not_verified(const char *f, size_t n, const char *why, struct dkimv_result *o)
{
    const char *v = memchr(f, ':', n);
    struct dkim_sig *sig;

    memset(o, 0, sizeof *o);
    say(o, DKIMV_PERMERROR, why);
    if (!v || n > DKIM_SIG_MAX || !(sig = calloc(1, sizeof *sig))) {
        return;
    }
    v++;
    if (dkim_sig_parse(v, n - (size_t)(v - f), sig) == 0) {
        str_fmt(o->d, sizeof o->d, "%s", sig->d);
        str_fmt(o->s, sizeof o->s, "%s", sig->s);
    }
    free(sig);
}

/* A header of more than DKIMV_FIELDS_MAX fields: the fields a signature signs cannot all be
   indexed (§5.4.2 selects them bottom-up), so no signature is verified and each is permerror
   (§6.1: PERMFAIL). The signatures are found a window of DKIMV_FIELDS_MAX fields at a time in
   m->f (dkim_fields fills it before it says E2BIG), so the index keeps its bound. */
static size_t too_many_fields(const struct msg *m, struct dkimv_result *out, size_t *more)
{
    char why[DKIMV_WHY_MAX];
    size_t off = 0, got = 0, i, n;
    long nf;

    str_fmt(why, sizeof why, "the header has over %d fields, too many to verify",
            DKIMV_FIELDS_MAX);
    do {
        nf = dkim_fields(m->h + off, m->hlen - off, m->f, DKIMV_FIELDS_MAX);
        n = nf < 0 ? DKIMV_FIELDS_MAX : (size_t)nf;
        for (i = 0; i < n; i++) {
            const struct dkim_field *f = &m->f[i];
            if (!dkim_field_is(m->h + off, f, "dkim-signature")) {
                continue;
            }
            if (got == DKIMV_SIGS_MAX) {
                (*more)++;
                continue;
            }
            not_verified(m->h + off + f->off, f->len, why, &out[got++]);
        }
        if (n > 0) {
            off += m->f[n - 1].off + m->f[n - 1].len;   /* a field start, or the end */
        }
    } while (nf < 0);
    return got;
}

size_t dkimv_verify(const char *msg, size_t n, const struct spf_resolver *r, long long now,
                    struct dkimv_result *out, size_t *more)
{
    struct dkim_field few[DKIMV_FIELDS_FEW];
    struct msg m;
    size_t body = 0, i, got = 0;
    long nf;

    *more = 0;
    memset(&m, 0, sizeof m);
    if (!dkim_header_end(msg, n, &m.hlen, &body)) {
        m.hlen = n;
        body = n;
    }
    m.h = msg;
    m.body = msg + body;
    m.blen = n - body;
    m.f = few;              /* most headers: no 96 KB index to map, touch and unmap */
    nf = dkim_fields(m.h, m.hlen, few, DKIMV_FIELDS_FEW);
    if (nf < 0) {
        m.f = malloc(DKIMV_FIELDS_MAX * sizeof *m.f);
        if (!m.f) {
            return 0;
        }
        nf = dkim_fields(m.h, m.hlen, m.f, DKIMV_FIELDS_MAX);
    }
    if (nf < 0) {
        got = too_many_fields(&m, out, more);
    }
    for (i = 0; nf > 0 && i < (size_t)nf; i++) {
        if (!dkim_field_is(m.h, &m.f[i], "dkim-signature")) {
            continue;
        }
        if (got == DKIMV_SIGS_MAX) {
            (*more)++;
            continue;
        }
        if (m.f[i].len > DKIM_SIG_MAX) {
            not_verified(m.h + m.f[i].off, m.f[i].len, "the signature field is too long",
                         &out[got++]);
            continue;
        }
        m.nf = (size_t)nf;
        verify_one(&m, &m.f[i], r, now, &out[got++]);
    }
    if (m.f != few) {
        free(m.f);
    }
    return got;
}

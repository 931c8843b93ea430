/* keyproto.c: tlsd <-> tlskeyd messages (keyproto.h); every field bounded, consumed exactly */
#include "keyproto.h"
#include "fd.h"
#include "pump.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int keyproto_put(struct keyproto_buf *b, const void *p, size_t n)
{
    if (n > KEYPROTO_MSG_MAX - b->len) {
        errno = EMSGSIZE;
        return -1;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *q;
        while (cap < b->len + n) {
            cap *= 2;
        }
        q = malloc(cap);
        if (!q) {
            return -1;
        }
        if (b->p) {
            memcpy(q, b->p, b->len);
            explicit_bzero(b->p, b->cap);   /* it may hold key bytes */
            free(b->p);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int keyproto_put_u32(struct keyproto_buf *b, uint32_t v)
{
    unsigned char s[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };
    return keyproto_put(b, s, 4);
}

static int put_u8(struct keyproto_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    return keyproto_put(b, &c, 1);
}

/* v's low 16 bits, big-endian */
static int put_u16(struct keyproto_buf *b, size_t v)
{
    unsigned char s[2] = { (unsigned char)(v >> 8), (unsigned char)v };
    return keyproto_put(b, s, 2);
}

void keyproto_free(struct keyproto_buf *b)
{
    if (b->p) {
        explicit_bzero(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

int keyproto_send(int fd, int type, const void *body, size_t len)
{
    unsigned char h[5] = { (unsigned char)type, (unsigned char)(len >> 24),
                           (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                           (unsigned char)len };
    /* header and body in one writev: the peer wakes once per message, not twice */
    struct iovec v[2] = { { h, sizeof h }, { (void *)body, len } };

    if (len > KEYPROTO_MSG_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    return fd_writev_all(fd, v, len ? 2 : 1);
}

/* Read exactly n octets before deadline. 0 ok, -1 with errno. */
static int read_exact(int fd, unsigned char *p, size_t n, long long deadline)
{
    while (n > 0) {
        struct pollfd pf = { fd, POLLIN, 0 };
        long long left = deadline - pump_now_ms();
        ssize_t r;
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pf, 1, (int)left) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        r = read(fd, p, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (r <= 0) {
            errno = r == 0 ? ECONNRESET : errno;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int keyproto_recv(int fd, int *type, unsigned char **body, size_t *len)
{
    long long deadline = pump_now_ms() + KEYPROTO_WAIT_MS;
    unsigned char h[5];
    size_t n;

    *body = NULL;
    *len = 0;
    if (read_exact(fd, h, sizeof h, deadline) < 0) {
        return -1;
    }
    n = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
    if (n > KEYPROTO_MSG_MAX) {
        errno = EPROTO;
        return -1;
    }
    if (n > 0) {
        *body = malloc(n);
        if (!*body) {
            return -1;
        }
        if (read_exact(fd, *body, n, deadline) < 0) {
            free(*body);
            *body = NULL;
            return -1;
        }
    }
    *type = h[0];
    *len = n;
    return 0;
}

/* --- a cursor over a body: every read checks the remaining length --- */

struct cur {
    const unsigned char *p;
    size_t left;
};

static int get(struct cur *c, void *out, size_t n)
{
    if (n > c->left) {
        return -1;
    }
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int get_uint(struct cur *c, size_t width, uint32_t *v)
{
    unsigned char s[4];
    size_t i;
    if (get(c, s, width) < 0) {
        return -1;
    }
    *v = 0;
    for (i = 0; i < width; i++) {
        *v = *v << 8 | s[i];
    }
    return 0;
}

/* A u32-length field into a fresh malloc'd copy of at most max octets. */
static int get_blob(struct cur *c, size_t max, unsigned char **out, size_t *len)
{
    uint32_t n;
    if (get_uint(c, 4, &n) < 0 || n > max || n > c->left) {
        return -1;
    }
    *out = malloc(n ? n : 1);
    if (!*out) {
        return -1;
    }
    (void)get(c, *out, n);
    *len = n;
    return 0;
}

int keyproto_put_raw(struct keyproto_buf *b, const struct keys_raw *r)
{
    size_t i, dl = strlen(r->dir);
    if (put_u16(b, dl) < 0 || keyproto_put(b, r->dir, dl) < 0) {
        return -1;
    }
    for (i = 0; i < r->n; i++) {
        const struct keys_raw_pair *p = &r->pairs[i];
        size_t nl = strlen(p->name);
        if (put_u16(b, nl) < 0 || keyproto_put(b, p->name, nl) < 0
            || keyproto_put_u32(b, (uint32_t)p->pem_len) < 0
            || keyproto_put(b, p->pem, p->pem_len) < 0
            || keyproto_put_u32(b, (uint32_t)p->key_len) < 0
            || keyproto_put(b, p->key, p->key_len) < 0) {
            return -1;
        }
    }
    return 0;
}

int keyproto_get_raw(const unsigned char *p, size_t len, struct keys_raw *r, char *dir,
                     size_t dircap)
{
    struct cur c = { p, len };
    uint32_t dl;

    memset(r, 0, sizeof *r);
    if (get_uint(&c, 2, &dl) < 0 || dl == 0 || dl >= dircap || get(&c, dir, dl) < 0
        || memchr(dir, '\0', dl)) {
        return -1;
    }
    dir[dl] = '\0';
    r->dir = dir;
    while (c.left > 0) {
        struct keys_raw_pair *q;
        uint32_t nl;
        unsigned char *pem, *key;
        if (r->n == KEYS_CERTS_MAX || get_uint(&c, 2, &nl) < 0 || nl == 0
            || nl > KEYS_HOST_MAX) {
            keys_raw_free(r);
            return -1;
        }
        q = &r->pairs[r->n];
        if (get(&c, q->name, nl) < 0 || memchr(q->name, '\0', nl)) {
            keys_raw_free(r);
            return -1;
        }
        q->name[nl] = '\0';
        if (get_blob(&c, KEYS_PEM_MAX, &pem, &q->pem_len) < 0) {
            keys_raw_free(r);
            return -1;
        }
        q->pem = (char *)pem;
        r->n++;                         /* from here keys_raw_free frees it */
        if (get_blob(&c, KEYS_PEM_MAX, &key, &q->key_len) < 0) {
            keys_raw_free(r);
            return -1;
        }
        q->key = (char *)key;
    }
    if (r->n == 0) {
        return -1;
    }
    return 0;
}

int keyproto_put_chains(struct keyproto_buf *b, const struct keys *k)
{
    size_t i, j;
    for (i = 0; i < k->n; i++) {
        const struct keys_cert *c = &k->certs[i];
        size_t nl = strlen(c->host);
        unsigned bits = 0;
        if (c->key_type == BR_KEYTYPE_RSA) {
            bits = br_skey_decoder_get_rsa(c->skey)->n_bitlen;
        } else {
            bits = (unsigned)br_skey_decoder_get_ec(c->skey)->curve;
        }
        if (put_u8(b, (unsigned)nl) < 0 || keyproto_put(b, c->host, nl) < 0
            || put_u8(b, (unsigned)c->key_type) < 0 || put_u8(b, (unsigned)c->issuer_key_type) < 0
            || keyproto_put_u32(b, bits) < 0
            || keyproto_put_u32(b, (uint32_t)(int32_t)((c->not_after - time(NULL)) / 86400)) < 0
            || put_u8(b, (unsigned)c->chain_len) < 0) {
            return -1;
        }
        for (j = 0; j < c->chain_len; j++) {
            if (keyproto_put_u32(b, (uint32_t)c->chain[j].data_len) < 0
                || keyproto_put(b, c->chain[j].data, c->chain[j].data_len) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* One pair of a 'C' answer into c and d. 0 ok, -1 malformed (c may hold certificates). */
static int get_pair(struct cur *cu, struct keys_cert *c, struct keyproto_pair *d)
{
    uint32_t nl, kt, it, bits, days, nc, j;

    if (get_uint(cu, 1, &nl) < 0 || nl > KEYS_HOST_MAX || get(cu, c->host, nl) < 0
        || memchr(c->host, '\0', nl)) {
        return -1;
    }
    c->host[nl] = '\0';
    if (get_uint(cu, 1, &kt) < 0 || get_uint(cu, 1, &it) < 0 || get_uint(cu, 4, &bits) < 0
        || get_uint(cu, 4, &days) < 0 || get_uint(cu, 1, &nc) < 0) {
        return -1;
    }
    if ((kt != BR_KEYTYPE_RSA && kt != BR_KEYTYPE_EC) || nc == 0 || nc > KEYS_CHAIN_MAX
        || (kt == BR_KEYTYPE_RSA && (bits < 1024 || bits > KEYPROTO_SIG_MAX * 8))) {
        return -1;
    }
    for (j = 0; j < nc; j++) {
        unsigned char *der;
        size_t dl;
        if (get_blob(cu, KEYS_PEM_MAX, &der, &dl) < 0) {
            return -1;
        }
        c->chain[j].data = der;
        c->chain[j].data_len = dl;
        c->chain_len++;
    }
    c->key_type = (int)kt;
    c->issuer_key_type = (int)it;
    memcpy(d->name, c->host, nl + 1);
    d->key_type = (int)kt;
    d->issuer_key_type = (int)it;
    d->bits = bits;
    d->days_left = (long)(int32_t)days;
    return 0;
}

int keyproto_get_chains(const unsigned char *p, size_t len, struct keys *k,
                        struct keyproto_pair *pairs)
{
    struct cur c = { p, len };

    memset(k, 0, sizeof *k);
    while (c.left > 0) {
        if (k->n == KEYS_CERTS_MAX) {
            keys_free(k);
            return -1;
        }
        memset(&k->certs[k->n], 0, sizeof k->certs[k->n]);
        memset(&pairs[k->n], 0, sizeof pairs[k->n]);
        k->n++;                         /* keys_free frees what get_pair put there */
        if (get_pair(&c, &k->certs[k->n - 1], &pairs[k->n - 1]) < 0) {
            keys_free(k);
            return -1;
        }
    }
    return k->n > 0 ? 0 : -1;
}

int keyproto_put_sign(struct keyproto_buf *b, const unsigned char *digest, unsigned idx,
                      unsigned hash_id, const unsigned char *hv, size_t hv_len)
{
    if (hv_len > KEYPROTO_HASH_MAX) {
        errno = EINVAL;
        return -1;
    }
    return keyproto_put(b, digest, KEYPROTO_DIGEST) < 0 || put_u8(b, idx) < 0
           || put_u8(b, hash_id) < 0 || put_u8(b, (unsigned)hv_len) < 0
           || keyproto_put(b, hv, hv_len) < 0 ? -1 : 0;
}

int keyproto_get_sign(const unsigned char *p, size_t len, unsigned char *digest,
                      unsigned *idx, unsigned *hash_id, const unsigned char **hv,
                      size_t *hv_len)
{
    struct cur c = { p, len };
    uint32_t i, h, n;

    if (get(&c, digest, KEYPROTO_DIGEST) < 0 || get_uint(&c, 1, &i) < 0
        || get_uint(&c, 1, &h) < 0 || get_uint(&c, 1, &n) < 0 || n > KEYPROTO_HASH_MAX
        || n != c.left || i >= KEYS_CERTS_MAX || h > 6) {
        return -1;
    }
    *idx = i;
    *hash_id = h;
    *hv = c.p;
    *hv_len = n;
    return 0;
}

int keyproto_put_session(struct keyproto_buf *b, const struct keyproto_session *s, int whole)
{
    if (!whole) {
        return keyproto_put(b, s->id, sizeof s->id);
    }
    return keyproto_put(b, s->id, sizeof s->id) < 0 || keyproto_put(b, s->name, sizeof s->name) < 0
           || put_u16(b, s->version) < 0 || put_u16(b, s->suite) < 0
           || keyproto_put(b, s->master, sizeof s->master) < 0 ? -1 : 0;
}

int keyproto_get_session(const unsigned char *p, size_t len, struct keyproto_session *s,
                         int whole)
{
    struct cur c = { p, len };
    uint32_t v = 0, suite = 0;

    memset(s, 0, sizeof *s);
    if (len != (whole ? sizeof s->id + sizeof s->name + 4 + sizeof s->master : sizeof s->id)) {
        return -1;
    }
    (void)get(&c, s->id, sizeof s->id);
    if (!whole) {
        return 0;
    }
    (void)get(&c, s->name, sizeof s->name);
    (void)get_uint(&c, 2, &v);
    (void)get_uint(&c, 2, &suite);
    (void)get(&c, s->master, sizeof s->master);
    if (v < 0x0301 || v > 0x0303 || suite == 0) {
        explicit_bzero(s, sizeof *s);
        return -1;
    }
    s->version = v;
    s->suite = suite;
    return 0;
}

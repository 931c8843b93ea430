/* handoff.c: the TLS record layer handed from tlsd (yubin-tls) to its child (yubin-smtpd) */
#include "handoff.h"

#include <string.h>

#define REC_ALERT      21
#define REC_HANDSHAKE  22
#define REC_DATA       23
#define TLS12          0x0303

static const char magic[4] = { 'Y', 'B', 'H', '1' };

struct suite_shape {
    unsigned suite;
    size_t key, iv;         /* write key and IV octets (RFC 5288 §3, RFC 7905 §2) */
    int sha384;             /* the PRF's hash (RFC 5289 §3.2) */
    int chapol;
};

static const struct suite_shape shapes[] = {
    { BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 16, 4, 0, 0 },
    { BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 16, 4, 0, 0 },
    { BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 32, 4, 1, 0 },
    { BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 32, 4, 1, 0 },
    { BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 32, 12, 0, 1 },
    { BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 32, 12, 0, 1 },
};

static const struct suite_shape *shape_of(unsigned suite)
{
    size_t i;
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (shapes[i].suite == suite) {
            return &shapes[i];
        }
    }
    return NULL;
}

static void put64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

int handoff_from_engine(const br_ssl_engine_context *eng, struct handoff *h)
{
    const struct suite_shape *s = shape_of(eng->session.cipher_suite);
    unsigned char block[2 * 32 + 2 * 12];
    br_tls_prf_seed_chunk seed[2];
    const unsigned char *app;
    size_t napp = 0;

    if (!s || eng->session.version != BR_TLS12) {
        return -1;
    }
    memset(h, 0, offsetof(struct handoff, pending));
    h->suite = s->suite;
    /* RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion", server_random +
       client_random): the client's write key, the server's, the client's IV, the server's */
    seed[0].data = eng->server_random;
    seed[0].len = sizeof eng->server_random;
    seed[1].data = eng->client_random;
    seed[1].len = sizeof eng->client_random;
    (s->sha384 ? br_tls12_sha384_prf : br_tls12_sha256_prf)(
        block, 2 * s->key + 2 * s->iv, eng->session.master_secret,
        sizeof eng->session.master_secret, "key expansion", 2, seed);
    memcpy(h->key_in, block, s->key);
    memcpy(h->key_out, block + s->key, s->key);
    memcpy(h->iv_in, block + 2 * s->key, s->iv);
    memcpy(h->iv_out, block + 2 * s->key + s->iv, s->iv);
    explicit_bzero(block, sizeof block);
    /* the sequence numbers: after the Finished each way, 1 unless records followed them */
    h->seq_in = s->chapol ? eng->in.chapol.seq : eng->in.gcm.seq;
    h->seq_out = s->chapol ? eng->out.chapol.seq : eng->out.gcm.seq;
    if (eng->iaes_ctr == &br_aes_x86ni_ctr_vtable) {
        h->flags |= HANDOFF_AESNI;
    }
    if (eng->ighash == &br_ghash_pclmul) {
        h->flags |= HANDOFF_PCLMUL;
    }
    if (eng->ichacha == &br_chacha20_sse2_run) {
        h->flags |= HANDOFF_SSE2;
    }
    if (eng->ipoly == &br_poly1305_ctmulq_run) {
        h->flags |= HANDOFF_CTMULQ;
    }
    /* BearSSL reads one record at a time; an application record it already decrypted is
       passed on as it is */
    app = br_ssl_engine_recvapp_buf(eng, &napp);
    if (app && napp > 0) {
        if (napp > sizeof h->pending) {
            return -1;
        }
        memcpy(h->pending, app, napp);
        h->npending = napp;
    }
    return 0;
}

long handoff_encode(const struct handoff *h, unsigned char *out, size_t cap)
{
    unsigned char *p = out;

    if (h->npending > HANDOFF_PENDING_MAX || cap < HANDOFF_HEAD + h->npending) {
        return -1;
    }
    memcpy(p, magic, 4);
    p[4] = (unsigned char)(h->suite >> 8);
    p[5] = (unsigned char)h->suite;
    p[6] = (unsigned char)h->flags;
    put64(p + 7, h->seq_in);
    put64(p + 15, h->seq_out);
    memcpy(p + 23, h->key_in, 32);
    memcpy(p + 55, h->key_out, 32);
    memcpy(p + 87, h->iv_in, 12);
    memcpy(p + 99, h->iv_out, 12);
    p[111] = (unsigned char)(h->npending >> 8);
    p[112] = (unsigned char)h->npending;
    memcpy(p + HANDOFF_HEAD, h->pending, h->npending);
    return (long)(HANDOFF_HEAD + h->npending);
}

int handoff_decode(const unsigned char *p, size_t n, struct handoff *h)
{
    if (n < HANDOFF_HEAD || memcmp(p, magic, 4) != 0) {
        return -1;
    }
    memset(h, 0, offsetof(struct handoff, pending));
    h->suite = (unsigned)p[4] << 8 | p[5];
    h->flags = p[6];
    h->seq_in = get64(p + 7);
    h->seq_out = get64(p + 15);
    h->npending = (size_t)p[111] << 8 | p[112];
    /* a sequence number never nears 2^64 (RFC 5246 §6.1: renegotiate first; we never do) */
    if (!shape_of(h->suite) || h->flags > 15 || h->seq_in >> 62 || h->seq_out >> 62
        || h->npending > HANDOFF_PENDING_MAX || n != HANDOFF_HEAD + h->npending) {
        return -1;
    }
    memcpy(h->key_in, p + 23, 32);
    memcpy(h->key_out, p + 55, 32);
    memcpy(h->iv_in, p + 87, 12);
    memcpy(h->iv_out, p + 99, 12);
    memcpy(h->pending, p + HANDOFF_HEAD, h->npending);
    return 0;
}

void tlsrec_init(struct tlsrec *r, struct handoff *h)
{
    const struct suite_shape *s = shape_of(h->suite);

    memset(r, 0, offsetof(struct tlsrec, ibuf));
    if (s->chapol) {
        br_chacha20_run cc = h->flags & HANDOFF_SSE2 ? br_chacha20_sse2_run : br_chacha20_ct_run;
        br_poly1305_run pl = h->flags & HANDOFF_CTMULQ ? br_poly1305_ctmulq_run
                                                       : br_poly1305_ctmul_run;
        br_sslrec_in_chapol_vtable.init(&r->in.chapol.vtable.in, cc, pl, h->key_in, h->iv_in);
        br_sslrec_out_chapol_vtable.init(&r->out.chapol.vtable.out, cc, pl, h->key_out,
                                         h->iv_out);
        r->in.chapol.seq = h->seq_in;
        r->out.chapol.seq = h->seq_out;
    } else {
        const br_block_ctr_class *aes = h->flags & HANDOFF_AESNI ? &br_aes_x86ni_ctr_vtable
                                                                 : &br_aes_ct64_ctr_vtable;
        br_ghash gh = h->flags & HANDOFF_PCLMUL ? br_ghash_pclmul : br_ghash_ctmul64;
        br_sslrec_in_gcm_vtable.init(&r->in.gcm.vtable.in, aes, h->key_in, s->key, gh,
                                     h->iv_in);
        br_sslrec_out_gcm_vtable.init(&r->out.gcm.vtable.out, aes, h->key_out, s->key, gh,
                                      h->iv_out);
        r->in.gcm.seq = h->seq_in;
        r->out.gcm.seq = h->seq_out;
    }
    explicit_bzero(h->key_in, sizeof h->key_in);
    explicit_bzero(h->key_out, sizeof h->key_out);
    memcpy(r->ibuf, h->pending, h->npending);
    r->rpos = r->ilen = r->plen = h->npending;
    explicit_bzero(h->pending, h->npending);
}

unsigned char *tlsrec_space(struct tlsrec *r, size_t *space)
{
    if (r->plen == 0 && r->rpos > 0) {      /* nothing given out points into ibuf */
        memmove(r->ibuf, r->ibuf + r->rpos, r->ilen - r->rpos);
        r->ilen -= r->rpos;
        r->rpos = 0;
    }
    *space = sizeof r->ibuf - r->ilen;
    return r->ibuf + r->ilen;
}

void tlsrec_ack(struct tlsrec *r, size_t n)
{
    r->ilen += n;
}

int tlsrec_ready(const struct tlsrec *r)
{
    size_t avail = r->ilen - r->rpos, len;

    if (r->plen > 0 || r->why) {
        return 1;
    }
    if (avail < 5) {
        return 0;
    }
    len = (size_t)r->ibuf[r->rpos + 3] << 8 | r->ibuf[r->rpos + 4];
    return len > TLSREC_CIPHER_MAX || avail >= 5 + len;     /* the former: an error to tell */
}

static enum tlsrec_res fail(struct tlsrec *r, int alert, const char *why)
{
    r->alert_out = alert;
    r->why = why;
    return TLSREC_ERROR;
}

enum tlsrec_res tlsrec_get(struct tlsrec *r, void *dst, size_t cap, size_t *n)
{
    *n = 0;
    for (;;) {
        unsigned char *hd = r->ibuf + r->rpos, *pt;
        size_t avail = r->ilen - r->rpos, len, rlen;
        unsigned type, version;

        if (r->plen > 0) {
            *n = r->plen < cap ? r->plen : cap;
            memcpy(dst, r->ibuf + r->ppos, *n);
            r->ppos += *n;
            r->plen -= *n;
            return TLSREC_DATA;
        }
        if (r->why) {
            return TLSREC_ERROR;            /* an error stays */
        }
        if (avail < 5) {
            return TLSREC_MORE;
        }
        type = hd[0];
        version = (unsigned)hd[1] << 8 | hd[2];
        rlen = len = (size_t)hd[3] << 8 | hd[4];     /* len: the plaintext's, once opened */
        if (version != TLS12) {
            return fail(r, BR_ALERT_PROTOCOL_VERSION, "record of another TLS version");
        }
        if (len > TLSREC_CIPHER_MAX || !r->in.vtable->check_length(&r->in.vtable, len)) {
            return fail(r, BR_ALERT_RECORD_OVERFLOW, "record length out of bounds");
        }
        if (avail < 5 + len) {
            return TLSREC_MORE;             /* ibuf holds two whole records: there is room */
        }
        if (type != REC_DATA && type != REC_ALERT && type != REC_HANDSHAKE) {
            return fail(r, BR_ALERT_UNEXPECTED_MESSAGE, "unexpected record type");
        }
        pt = r->in.vtable->decrypt(&r->in.vtable, (int)type, version, hd + 5, &len);
        if (!pt) {
            return fail(r, BR_ALERT_BAD_RECORD_MAC, "record failed its integrity check");
        }
        r->rpos += 5 + rlen;
        if (type == REC_HANDSHAKE) {
            /* after the handshake only a renegotiation, which tlsd never allowed either */
            return fail(r, BR_ALERT_NO_RENEGOTIATION, "renegotiation refused");
        }
        if (type == REC_ALERT) {
            if (len != 2) {
                return fail(r, BR_ALERT_DECODE_ERROR, "malformed alert");
            }
            if (pt[1] == BR_ALERT_CLOSE_NOTIFY) {
                return TLSREC_CLOSED;
            }
            if (pt[0] != 1) {
                return fail(r, 0, "the client sent a fatal alert");
            }
            if (++r->empties > TLSREC_EMPTY_MAX) {  /* warnings cost a decryption each too */
                return fail(r, BR_ALERT_UNEXPECTED_MESSAGE, "too many warning alerts");
            }
            continue;                       /* RFC 5246 §7.2: a warning lets the session go on */
        }
        if (len == 0) {
            if (++r->empties > TLSREC_EMPTY_MAX) {
                return fail(r, BR_ALERT_UNEXPECTED_MESSAGE, "too many empty records");
            }
            continue;
        }
        r->empties = 0;
        r->ppos = (size_t)(pt - r->ibuf);
        r->plen = len;
    }
}

const unsigned char *tlsrec_seal(struct tlsrec *r, int type, const void *p, size_t n,
                                 size_t *used, size_t *len)
{
    size_t start = 5, end = sizeof r->obuf, take;

    r->out.vtable->max_plaintext(&r->out.vtable, &start, &end);
    take = end - start;
    if (take > n) {
        take = n;
    }
    memcpy(r->obuf + start, p, take);
    *used = take;
    *len = take;
    return r->out.vtable->encrypt(&r->out.vtable, type, TLS12, r->obuf + start, len);
}

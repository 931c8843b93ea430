/* test_handoff.c: tls/handoff against BearSSL's own engine. A BearSSL client and our server
   engine (tls/pump's set-up, as tlsd has it) do a real handshake in memory for each kind of
   suite; the server's state is handed over (handoff_from_engine, encode, decode) and the
   client engine then talks to tlsrec: both ways, a message of many records, a record fed an
   octet at a time, a flipped bit, close_notify each way, empty records, renegotiation. */
#include "tls/handoff.h"
#include "tls/pump.h"
#include "t.h"

#include <bearssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static br_hmac_drbg_context rng;
static br_ec_private_key skey;
static br_ec_public_key pkey;
static unsigned char skbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pkbuf[BR_EC_KBUF_PUB_MAX_SIZE];
static unsigned char junk_cert[16] = { 0x30, 0x0e };  /* never parsed: the client knows the key */
static const br_x509_certificate chain = { junk_cert, sizeof junk_cert };

struct pairing {
    br_ssl_server_context sc;
    br_ssl_client_context cc;
    br_x509_knownkey_context xk;
    br_x509_minimal_context xm;     /* init_full wants one; the known key replaces it */
    unsigned char sbuf[BR_SSL_BUFSIZE_BIDI], cbuf[BR_SSL_BUFSIZE_BIDI];
};

/* Move records from one engine to the other; 1 if any moved. */
static int move(br_ssl_engine_context *from, br_ssl_engine_context *to)
{
    size_t n, m;
    unsigned char *p = br_ssl_engine_sendrec_buf(from, &n), *q;
    if (!p || n == 0) {
        return 0;
    }
    q = br_ssl_engine_recvrec_buf(to, &m);
    if (!q || m == 0) {
        return 0;
    }
    if (m > n) {
        m = n;
    }
    memcpy(q, p, m);
    br_ssl_engine_sendrec_ack(from, m);
    br_ssl_engine_recvrec_ack(to, m);
    return 1;
}

static int handshake(struct pairing *x, unsigned suite)
{
    int i;

    memset(x, 0, sizeof *x);
    pump_server_init(&x->sc);
    br_ssl_engine_add_flags(&x->sc.eng, BR_OPT_NO_RENEGOTIATION);
    br_ssl_server_set_single_ec(&x->sc, &chain, 1, &skey, BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
                                br_ec_get_default(), br_ecdsa_i31_sign_asn1);
    br_ssl_engine_set_buffer(&x->sc.eng, x->sbuf, sizeof x->sbuf, 1);
    br_ssl_engine_inject_entropy(&x->sc.eng, "server entropy, 32 octets long..", 32);
    br_ssl_client_init_full(&x->cc, &x->xm, NULL, 0);
    br_x509_knownkey_init_ec(&x->xk, &pkey, BR_KEYTYPE_SIGN);
    br_ssl_engine_set_x509(&x->cc.eng, &x->xk.vtable);
    br_ssl_engine_set_suites(&x->cc.eng, (const uint16_t[]){ (uint16_t)suite }, 1);
    br_ssl_engine_set_buffer(&x->cc.eng, x->cbuf, sizeof x->cbuf, 1);
    br_ssl_engine_inject_entropy(&x->cc.eng, "client entropy, 32 octets long..", 32);
    if (!br_ssl_server_reset(&x->sc) || !br_ssl_client_reset(&x->cc, "mail.example.test", 0)) {
        return -1;
    }
    for (i = 0; i < 1000; i++) {
        unsigned ss = br_ssl_engine_current_state(&x->sc.eng);
        unsigned cs = br_ssl_engine_current_state(&x->cc.eng);
        if ((ss & BR_SSL_CLOSED) || (cs & BR_SSL_CLOSED)) {
            return -1;
        }
        if ((ss & BR_SSL_SENDAPP) && (cs & BR_SSL_SENDAPP) && !(ss & BR_SSL_SENDREC)
            && !(cs & BR_SSL_SENDREC)) {
            return 0;
        }
        if (!move(&x->cc.eng, &x->sc.eng) && !move(&x->sc.eng, &x->cc.eng)) {
            return -1;
        }
    }
    return -1;
}

/* The client's plaintext p as records, into out (cap); returns their length. */
static size_t client_send(br_ssl_engine_context *c, const void *p, size_t n, unsigned char *out,
                          size_t cap)
{
    size_t len = 0, room;
    const unsigned char *s = p;
    while (n > 0 || (br_ssl_engine_current_state(c) & BR_SSL_SENDREC)) {
        unsigned char *q;
        if (n > 0) {
            q = br_ssl_engine_sendapp_buf(c, &room);
            if (q && room > 0) {
                size_t k = room < n ? room : n;
                memcpy(q, s, k);
                br_ssl_engine_sendapp_ack(c, k);
                s += k;
                n -= k;
            }
            br_ssl_engine_flush(c, 0);
        }
        q = br_ssl_engine_sendrec_buf(c, &room);
        if (q && room > 0 && len + room <= cap) {
            memcpy(out + len, q, room);
            br_ssl_engine_sendrec_ack(c, room);
            len += room;
        } else if (n == 0) {
            break;
        }
    }
    return len;
}

/* Feed n octets to r in pieces of step, taking every plaintext octet into got. */
static enum tlsrec_res feed(struct tlsrec *r, const unsigned char *p, size_t n, size_t step,
                            unsigned char *got, size_t cap, size_t *glen)
{
    size_t off = 0;
    *glen = 0;
    for (;;) {
        size_t k, space, m = n - off < step ? n - off : step;
        unsigned char *q;
        enum tlsrec_res res = tlsrec_get(r, got + *glen, cap - *glen, &k);
        if (res == TLSREC_DATA) {
            *glen += k;
            continue;
        }
        if (res != TLSREC_MORE || off == n) {
            return res;
        }
        q = tlsrec_space(r, &space);
        if (m > space) {
            m = space;
        }
        memcpy(q, p + off, m);
        tlsrec_ack(r, m);
        off += m;
    }
}

/* Give the client engine the records at p; what it decrypted into got. */
static size_t client_take(br_ssl_engine_context *c, const unsigned char *p, size_t n,
                          unsigned char *got, size_t cap)
{
    size_t glen = 0;
    while (n > 0) {
        size_t room, k;
        unsigned char *q = br_ssl_engine_recvrec_buf(c, &room), *a;
        if (!q || room == 0) {
            break;
        }
        k = room < n ? room : n;
        memcpy(q, p, k);
        br_ssl_engine_recvrec_ack(c, k);
        p += k;
        n -= k;
        while ((a = br_ssl_engine_recvapp_buf(c, &room)) && room > 0 && glen + room <= cap) {
            memcpy(got + glen, a, room);
            br_ssl_engine_recvapp_ack(c, room);
            glen += room;
        }
    }
    return glen;
}

static void one_suite(unsigned suite, const char *name)
{
    static struct pairing x;
    static struct handoff h, h2, mirror, h2copy, mirrorcopy;
    static struct tlsrec r, peer;
    static unsigned char enc[HANDOFF_MAX], rec[200000], got[150000], big[100000];
    static const char reply[] = "250-mail.example.test Hello\r\n250 PIPELINING\r\n";
    size_t n, glen, used, len, i, total;
    const unsigned char *sealed;
    long elen;

    T_CHECK(handshake(&x, suite) == 0, "%s: BearSSL client and our server engine shake hands",
            name);
    T_CHECK(handoff_from_engine(&x.sc.eng, &h) == 0, "%s: the state is taken", name);
    T_EQ_INT(h.seq_in, 1, "sequence in after the client's Finished");
    T_EQ_INT(h.seq_out, 1, "sequence out after our Finished");
    elen = handoff_encode(&h, enc, sizeof enc);
    T_EQ_INT(elen, HANDOFF_HEAD, "encoded length");
    T_CHECK(handoff_decode(enc, (size_t)elen, &h2) == 0 && h2.suite == suite
                && memcmp(h2.key_in, h.key_in, 32) == 0 && memcmp(h2.iv_out, h.iv_out, 12) == 0,
            "%s: decode gives back what was encoded", name);
    /* the client's side as a second tlsrec: keys crossed, for crafted records */
    mirror = h2;
    memcpy(mirror.key_in, h2.key_out, 32);
    memcpy(mirror.key_out, h2.key_in, 32);
    memcpy(mirror.iv_in, h2.iv_out, 12);
    memcpy(mirror.iv_out, h2.iv_in, 12);
    mirror.seq_in = h2.seq_out;
    mirror.seq_out = h2.seq_in;
    h2copy = h2;
    mirrorcopy = mirror;
    tlsrec_init(&r, &h2);
    T_CHECK(h2.key_in[0] == 0 && memcmp(h2.key_in, h2.key_in + 1, 31) == 0,
            "%s: the keys are wiped from the state once taken", name);

    /* client -> us: a command, fed an octet at a time */
    n = client_send(&x.cc.eng, "EHLO client.example\r\n", 21, rec, sizeof rec);
    T_EQ_INT(feed(&r, rec, n, 1, got, sizeof got, &glen), TLSREC_MORE, "whole record waits");
    T_CHECK(glen == 21 && memcmp(got, "EHLO client.example\r\n", 21) == 0,
            "%s: the client's command, an octet at a time", name);
    /* us -> client */
    sealed = tlsrec_seal(&r, 23, reply, sizeof reply - 1, &used, &len);
    T_EQ_INT(used, sizeof reply - 1, "sealed all of a short reply");
    glen = client_take(&x.cc.eng, sealed, len, got, sizeof got);
    T_CHECK(glen == sizeof reply - 1 && memcmp(got, reply, glen) == 0,
            "%s: BearSSL's client reads our reply", name);
    /* a message of many records, in pieces of 1000 octets */
    for (i = 0; i < sizeof big; i++) {
        big[i] = (unsigned char)("abcdefghijklmnopqrstuvwxyz\r\n"[i % 28]);
    }
    n = client_send(&x.cc.eng, big, sizeof big, rec, sizeof rec);
    T_CHECK(n > sizeof big + 6 * 21, "%s: 100 KB made several records (%zu octets)", name, n);
    (void)feed(&r, rec, n, 1000, got, sizeof got, &glen);
    T_CHECK(glen == sizeof big && memcmp(got, big, sizeof big) == 0,
            "%s: 100 KB across records arrives whole", name);
    /* a long reply: records of at most 16 KB */
    total = 0;
    glen = 0;
    while (total < sizeof big) {
        sealed = tlsrec_seal(&r, 23, big + total, sizeof big - total, &used, &len);
        T_CHECK(used > 0 && used <= TLSREC_PLAIN_MAX && len <= TLSREC_RECORD_MAX,
                "record bounds (%zu of plaintext, %zu in all)", used, len);
        total += used;
        glen += client_take(&x.cc.eng, sealed, len, got + glen, sizeof got - glen);
    }
    T_CHECK(glen == sizeof big && memcmp(got, big, sizeof big) == 0,
            "%s: 100 KB from us arrives whole at the client", name);

    /* the peer's empty records (crafted by a tlsrec of the crossed keys; both started again
       at the handoff's sequence numbers): up to TLSREC_EMPTY_MAX in a row, then an error */
    tlsrec_init(&r, &h2copy);
    tlsrec_init(&peer, &mirrorcopy);
    sealed = tlsrec_seal(&peer, 23, "QUIT\r\n", 6, &used, &len);
    T_CHECK(feed(&r, sealed, len, len, got, sizeof got, &glen) == TLSREC_MORE && glen == 6
                && memcmp(got, "QUIT\r\n", 6) == 0, "%s: a record of the crossed keys reads", name);
    for (i = 0; i <= TLSREC_EMPTY_MAX; i++) {
        size_t space;
        unsigned char *q = tlsrec_space(&r, &space);
        sealed = tlsrec_seal(&peer, 23, "", 0, &used, &len);
        memcpy(q, sealed, len);
        tlsrec_ack(&r, len);
        (void)tlsrec_get(&r, got, sizeof got, &glen);
    }
    T_CHECK(tlsrec_get(&r, got, sizeof got, &glen) == TLSREC_ERROR
                && r.alert_out == BR_ALERT_UNEXPECTED_MESSAGE,
            "%s: %d empty records in a row end the session (%s)", name, TLSREC_EMPTY_MAX + 1,
            r.why ? r.why : "-");
}

static void tampering(void)
{
    static struct pairing x;
    static struct handoff h;
    static struct tlsrec r;
    static unsigned char rec[4096], got[4096];
    size_t n, glen, used, len;
    const unsigned char *sealed;
    unsigned st;

    /* a flipped bit in the ciphertext */
    (void)handshake(&x, BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    (void)handoff_from_engine(&x.sc.eng, &h);
    tlsrec_init(&r, &h);
    n = client_send(&x.cc.eng, "MAIL FROM:<a@example.test>\r\n", 28, rec, sizeof rec);
    rec[n - 20] ^= 0x04;
    T_EQ_INT(feed(&r, rec, n, n, got, sizeof got, &glen), TLSREC_ERROR, "flipped bit: error");
    T_CHECK(glen == 0 && r.alert_out == BR_ALERT_BAD_RECORD_MAC,
            "flipped bit: nothing given, bad_record_mac owed (%s)", r.why ? r.why : "-");
    T_EQ_INT(tlsrec_get(&r, got, sizeof got, &glen), TLSREC_ERROR, "the error stays");

    /* the client's close_notify; ours closes the client's engine cleanly */
    (void)handshake(&x, BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
    (void)handoff_from_engine(&x.sc.eng, &h);
    tlsrec_init(&r, &h);
    br_ssl_engine_close(&x.cc.eng);
    n = client_send(&x.cc.eng, "", 0, rec, sizeof rec);
    T_EQ_INT(feed(&r, rec, n, 3, got, sizeof got, &glen), TLSREC_CLOSED,
             "the client's close_notify");
    (void)handshake(&x, BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
    (void)handoff_from_engine(&x.sc.eng, &h);
    tlsrec_init(&r, &h);
    sealed = tlsrec_seal(&r, 21, "\1\0", 2, &used, &len);
    (void)client_take(&x.cc.eng, sealed, len, got, sizeof got);
    st = br_ssl_engine_current_state(&x.cc.eng);
    T_CHECK(!(st & BR_SSL_RECVAPP), "our close_notify ends the client's reading");

    /* a renegotiation: the client engine's new ClientHello */
    (void)handshake(&x, BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    (void)handoff_from_engine(&x.sc.eng, &h);
    tlsrec_init(&r, &h);
    T_CHECK(br_ssl_engine_renegotiate(&x.cc.eng), "the client asks to renegotiate");
    n = client_send(&x.cc.eng, "", 0, rec, sizeof rec);
    T_CHECK(n > 0 && feed(&r, rec, n, n, got, sizeof got, &glen) == TLSREC_ERROR
                && r.alert_out == BR_ALERT_NO_RENEGOTIATION,
            "renegotiation refused (%s)", r.why ? r.why : "-");

    /* a record header out of bounds, or of another version */
    tlsrec_init(&r, &h);
    memcpy(rec, "\x17\x03\x03\x48\x01", 5);
    T_CHECK(feed(&r, rec, 5, 5, got, sizeof got, &glen) == TLSREC_ERROR
                && r.alert_out == BR_ALERT_RECORD_OVERFLOW && tlsrec_ready(&r),
            "a record longer than TLS allows is refused at its header");
}

static void decoding(void)
{
    static struct handoff h, d;
    static unsigned char enc[HANDOFF_MAX + 8];
    long n;

    memset(&h, 0, sizeof h);
    h.suite = BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    h.seq_in = h.seq_out = 1;
    h.npending = 5;
    memcpy(h.pending, "EHLO ", 5);
    n = handoff_encode(&h, enc, sizeof enc);
    T_EQ_INT(n, HANDOFF_HEAD + 5, "encoded with pending plaintext");
    T_CHECK(handoff_decode(enc, (size_t)n, &d) == 0 && d.npending == 5
                && memcmp(d.pending, "EHLO ", 5) == 0, "pending plaintext decoded");
    T_EQ_INT(handoff_decode(enc, (size_t)n - 1, &d), -1, "one octet short");
    T_EQ_INT(handoff_decode(enc, (size_t)n + 1, &d), -1, "one octet over");
    enc[0] = 'X';
    T_EQ_INT(handoff_decode(enc, (size_t)n, &d), -1, "other magic");
    enc[0] = 'Y';
    enc[4] = 0;
    enc[5] = 0x2f;      /* TLS_RSA_WITH_AES_128_CBC_SHA */
    T_EQ_INT(handoff_decode(enc, (size_t)n, &d), -1, "a CBC suite");
    enc[4] = (unsigned char)(BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 >> 8);
    enc[5] = (unsigned char)BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    enc[6] = 16;
    T_EQ_INT(handoff_decode(enc, (size_t)n, &d), -1, "unknown flags");
    enc[6] = 0;
    enc[111] = 0x40;
    enc[112] = 0x01;    /* 16385 pending */
    T_EQ_INT(handoff_decode(enc, HANDOFF_HEAD + 16385, &d), -1, "pending over 16 KB");
    T_EQ_INT(handoff_encode(&h, enc, HANDOFF_HEAD + 4), -1, "encode into too small a buffer");
}

int main(void)
{
    static const struct { unsigned suite; const char *name; } suites[] = {
        { BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "AES128-GCM" },
        { BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384" },
        { BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "CHACHA20-POLY1305" },
    };
    size_t i;

    br_hmac_drbg_init(&rng, &br_sha256_vtable, "test_handoff seed", 17);
    if (br_ec_keygen(&rng.vtable, br_ec_get_default(), &skey, skbuf, BR_EC_secp256r1) == 0
        || br_ec_compute_pub(br_ec_get_default(), &pkey, pkbuf, &skey) == 0) {
        printf("FAIL: no EC key\n");
        return 1;
    }
    for (i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        one_suite(suites[i].suite, suites[i].name);
    }
    tampering();
    decoding();
    return T_DONE();
}

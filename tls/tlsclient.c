/* tlsclient.c: TLS client for remote (BearSSL): trust anchors from a PEM bundle, or none */
#include "tlsclient.h"
#include "fd.h"
#include "pump.h"
#include "str.h"
#include "x25519.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Client suites: ECDHE + AEAD first; CBC and static RSA stay available because opportunistic
   TLS with an old MX beats plaintext (RFC 7435). */
static const uint16_t client_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
    BR_TLS_RSA_WITH_AES_128_CBC_SHA,
    BR_TLS_RSA_WITH_AES_256_CBC_SHA,
};

static void set_error(struct tlsc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct tlsc *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(c->errtext, sizeof c->errtext, fmt, ap) < 0) {
        c->errtext[0] = '\0';
    }
    va_end(ap);
}

/* --- the no-verification X.509 engine: decode the leaf's key and accept it --- */

static void nv_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct tlsc_noverify *nv = (struct tlsc_noverify *)(void *)ctx;
    (void)server_name;
    nv->certs = 0;
    nv->decoded = 0;
}

static void nv_start_cert(const br_x509_class **ctx, uint32_t length)
{
    struct tlsc_noverify *nv = (struct tlsc_noverify *)(void *)ctx;
    (void)length;
    if (nv->certs == 0) {
        br_x509_decoder_init(&nv->dc, NULL, NULL);
    }
}

static void nv_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct tlsc_noverify *nv = (struct tlsc_noverify *)(void *)ctx;
    if (nv->certs == 0) {
        br_x509_decoder_push(&nv->dc, buf, len);
    }
}

static void nv_end_cert(const br_x509_class **ctx)
{
    struct tlsc_noverify *nv = (struct tlsc_noverify *)(void *)ctx;
    if (nv->certs == 0) {
        nv->decoded = br_x509_decoder_last_error(&nv->dc) == 0
                      && br_x509_decoder_get_pkey(&nv->dc) != NULL;
    }
    nv->certs++;
}

static unsigned nv_end_chain(const br_x509_class **ctx)
{
    struct tlsc_noverify *nv = (struct tlsc_noverify *)(void *)ctx;
    return nv->decoded ? 0 : BR_ERR_X509_INVALID_VALUE;
}

static const br_x509_pkey *nv_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    struct tlsc_noverify *nv = (struct tlsc_noverify *)(void *)ctx;
    if (usages) {
        *usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
    }
    return nv->decoded ? br_x509_decoder_get_pkey(&nv->dc) : NULL;
}

static const br_x509_class noverify_class = {
    sizeof(struct tlsc_noverify), nv_start_chain, nv_start_cert, nv_append, nv_end_cert,
    nv_end_chain, nv_get_pkey,
};

/* --- trust anchors from PEM --- */

struct ta_build {
    struct tlsc_anchors *c;
    br_x509_decoder_context dc;
    unsigned char *der;
    size_t len, cap;
    int overflow;
};

static void ta_der(void *ctx, const void *p, size_t n)
{
    struct ta_build *b = ctx;
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    memcpy(b->der + b->len, p, n);
    b->len += n;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q) {
        memcpy(q, p, n);
    }
    return q;
}

struct dn_sink {
    unsigned char *p;
    size_t len, cap;
};

static void dn_append(void *ctx, const void *p, size_t n)
{
    struct dn_sink *d = ctx;
    if (n <= d->cap - d->len) {
        memcpy(d->p + d->len, p, n);
    }
    d->len += n;     /* > cap means "did not fit": the anchor is skipped */
}

/* One CERTIFICATE object → one trust anchor (CA certificates get BR_X509_TA_CA). Bad ones
   are skipped: a bundle with one odd entry must not disable verification for the rest. */
static void ta_add(struct ta_build *b)
{
    struct tlsc_anchors *c = b->c;
    br_x509_trust_anchor *ta;
    const br_x509_pkey *pk;
    struct dn_sink dn;
    unsigned char dnbuf[1024];

    if (c->n == TLSC_ANCHORS_MAX) {
        return;
    }
    dn.p = dnbuf;
    dn.len = 0;
    dn.cap = sizeof dnbuf;
    br_x509_decoder_init(&b->dc, dn_append, &dn);
    br_x509_decoder_push(&b->dc, b->der, b->len);
    pk = br_x509_decoder_get_pkey(&b->dc);
    if (!pk || br_x509_decoder_last_error(&b->dc) != 0 || dn.len > dn.cap) {
        return;
    }
    ta = &c->ta[c->n];
    memset(ta, 0, sizeof *ta);
    ta->dn.data = dup_bytes(dnbuf, dn.len);
    ta->dn.len = dn.len;
    ta->flags = br_x509_decoder_isCA(&b->dc) ? BR_X509_TA_CA : 0;
    ta->pkey.key_type = pk->key_type;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
        ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
        ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
        ta->pkey.key.rsa.elen = pk->key.rsa.elen;
        if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e || !ta->dn.data) {
            return;     /* out of memory: freed with the rest in tlsc_close */
        }
    } else if (pk->key_type == BR_KEYTYPE_EC) {
        ta->pkey.key.ec.curve = pk->key.ec.curve;
        ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
        ta->pkey.key.ec.qlen = pk->key.ec.qlen;
        if (!ta->pkey.key.ec.q || !ta->dn.data) {
            return;
        }
    } else {
        free(ta->dn.data);
        return;
    }
    c->n++;
}

int tlsc_anchors_load(struct tlsc_anchors *c, const char *path, char *err, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *text;
    ssize_t r;
    br_pem_decoder_context pc;
    struct ta_build b;
    size_t off = 0;
    int pass, inobj = 0;

    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > TLSC_CAFILE_MAX) {
        snprintf(err, cap, "unable to read CA file %s: %s", path,
                 fd < 0 || errno ? strerror(errno) : "too large");
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    text = malloc((size_t)st.st_size + 1);
    b.cap = (size_t)st.st_size + 1;
    b.der = malloc(b.cap);
    c->ta = calloc(TLSC_ANCHORS_MAX, sizeof *c->ta);
    r = text && b.der && c->ta ? fd_read_full(fd, text, (size_t)st.st_size) : -1;
    close(fd);
    if (r < 0) {
        snprintf(err, cap, "unable to read CA file %s", path);
        free(text);
        free(b.der);
        return -1;
    }
    b.c = c;
    br_pem_decoder_init(&pc);
    for (pass = 0; pass < 2; pass++) {
        const char *s = pass == 0 ? text : "\n";
        size_t n = pass == 0 ? (size_t)r : 1;
        off = 0;
        while (off < n) {
            off += br_pem_decoder_push(&pc, s + off, n - off);
            switch (br_pem_decoder_event(&pc)) {
            case BR_PEM_BEGIN_OBJ:
                inobj = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0
                        || strcmp(br_pem_decoder_name(&pc), "TRUSTED CERTIFICATE") == 0;
                b.len = 0;
                b.overflow = 0;
                br_pem_decoder_setdest(&pc, inobj ? ta_der : NULL, &b);
                break;
            case BR_PEM_END_OBJ:
                if (inobj && !b.overflow) {
                    ta_add(&b);
                }
                inobj = 0;
                break;
            case BR_PEM_ERROR:
                off = n;    /* stop at a broken spot; keep what we have */
                pass = 2;
                break;
            default:
                break;
            }
        }
    }
    free(text);
    free(b.der);
    if (c->n == 0) {
        snprintf(err, cap, "no usable CA certificate in %s", path);
        return -1;
    }
    return 0;
}

void tlsc_anchors_free(struct tlsc_anchors *c)
{
    size_t i;
    if (!c->ta) {
        return;
    }
    for (i = 0; i < c->n; i++) {
        br_x509_trust_anchor *ta = &c->ta[i];
        free(ta->dn.data);
        if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
            free(ta->pkey.key.rsa.n);
            free(ta->pkey.key.rsa.e);
        } else {
            free(ta->pkey.key.ec.q);
        }
    }
    /* a failed ta_add may have left allocations in the slot past the last anchor */
    if (c->n < TLSC_ANCHORS_MAX) {
        br_x509_trust_anchor *ta = &c->ta[c->n];
        free(ta->dn.data);
        if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
            free(ta->pkey.key.rsa.n);
            free(ta->pkey.key.rsa.e);
        } else if (ta->pkey.key_type == BR_KEYTYPE_EC) {
            free(ta->pkey.key.ec.q);
        }
    }
    free(c->ta);
    c->ta = NULL;
    c->n = 0;
}

/* --- the session --- */

static long long deadline(const struct tlsc *c)
{
    return pump_now_ms() + (long long)c->timeout * 1000;
}

/* Record why pump_wait failed (r: 0 timeout, -1 closed/failed). */
static void wait_failed(struct tlsc *c, int r, const char *during)
{
    char why[64];
    int err = br_ssl_engine_last_error(&c->sc.eng);
    c->err = err;
    if (r == 0) {
        c->timed_out = 1;
        set_error(c, "timeout %s", during);
    } else if (err != 0) {
        set_error(c, "%s %s (BearSSL error %d)", during, pump_error_text(err, why, sizeof why),
                  err);
    } else if (errno == 0 || errno == EPIPE) {
        set_error(c, "connection closed by peer %s", during);
    } else {
        c->sys_errno = errno;
        set_error(c, "%s: %s", during, strerror(errno));
    }
}

static int is_ip_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The engine c->sc, set up by the caller, to the end of its handshake on fd: its I/O buffer,
   fresh entropy, a reset for the server name sni (NULL: none). 0 ok, -1 errtext. */
static int handshake(struct tlsc *c, int fd, const char *sni)
{
    unsigned char seed[32];
    int r;

    br_ssl_engine_set_buffer(&c->sc.eng, c->iobuf, sizeof c->iobuf, 1);
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        set_error(c, "unable to get random bytes: %s", strerror(errno));
        return -1;
    }
    br_ssl_engine_inject_entropy(&c->sc.eng, seed, sizeof seed);
    explicit_bzero(seed, sizeof seed);
    if (!br_ssl_client_reset(&c->sc, sni, 0)) {
        c->err = br_ssl_engine_last_error(&c->sc.eng);
        set_error(c, "unable to start TLS (BearSSL error %d)", c->err);
        return -1;
    }
    if (fd_nonblock(fd, 1) < 0) {
        set_error(c, "unable to set the socket non-blocking: %s", strerror(errno));
        return -1;
    }
    r = pump_wait(&c->sc.eng, fd, fd, BR_SSL_SENDAPP | BR_SSL_RECVAPP, deadline(c));
    if (r <= 0) {
        wait_failed(c, r, "during the handshake");
        return -1;
    }
    return 0;
}

int tlsc_start(struct tlsc *c, int fd, const char *servername, int verify, const char *cafile,
               unsigned timeout)
{
    const char *sni = servername && servername[0] && !is_ip_literal(servername) ? servername
                                                                                : NULL;

    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->timeout = timeout ? timeout : 300;
    c->verify = verify;
    if (verify && !sni) {
        /* BearSSL matches DNS names only; without one it would skip the name check */
        set_error(c, "cannot verify a certificate without a DNS host name");
        c->err = BR_ERR_X509_BAD_SERVER_NAME;
        return -1;
    }
    if (verify && tlsc_anchors_load(&c->ca, cafile ? cafile : TLSC_CAFILE_DEFAULT, c->errtext,
                                    sizeof c->errtext) < 0) {
        return -1;
    }
    br_ssl_client_init_full(&c->sc, &c->xc, c->ca.ta, c->ca.n);
    br_ssl_engine_set_ec(&c->sc.eng, x25519_ec());
    br_ssl_engine_set_versions(&c->sc.eng, BR_TLS10, BR_TLS12);
    br_ssl_engine_set_suites(&c->sc.eng, client_suites,
                             sizeof client_suites / sizeof client_suites[0]);
    if (!verify) {
        c->nv.vtable = &noverify_class;
        br_ssl_engine_set_x509(&c->sc.eng, &c->nv.vtable);
    }
    return handshake(c, fd, sni);
}

/* The OID of the subject's commonName (2.5.4.3), length-prefixed as BearSSL wants it. */
static const unsigned char oid_cn[] = { 3, 0x55, 0x04, 0x03 };

/* This node's certificate and key for the fleet route into c->client. 0 ok, -1 errtext. */
static int load_client(struct tlsc *c, const struct tlsc_fleet *f)
{
    char *pem = NULL, *key = NULL, err[KEYS_ERR_MAX];
    size_t plen = 0, klen = 0;
    int r = -1;

    c->client = calloc(1, sizeof *c->client);
    if (!c->client) {
        set_error(c, "out of memory");
        return -1;
    }
    if (keys_read_file(f->certfile, &pem, &plen) < 0 || keys_read_file(f->keyfile, &key, &klen) < 0) {
        set_error(c, "unable to read the fleet certificate %s or its key: %s", f->certfile,
                  strerror(errno));
    } else if (keys_parse_chain(c->client, pem, plen, err, sizeof err) < 0
               || keys_parse_key(c->client, key, klen, err, sizeof err) < 0) {
        set_error(c, "%s: %s", f->certfile, err);
    } else {
        r = 0;
    }
    if (key) {
        explicit_bzero(key, klen);
    }
    free(key);
    free(pem);
    return r;
}

int tlsc_start_fleet(struct tlsc *c, int fd, const struct tlsc_fleet *f, unsigned timeout)
{
    struct keys_cert *k;

    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->timeout = timeout ? timeout : 300;
    c->verify = 1;
    c->peer_cn = f->peer_cn;
    if (tlsc_anchors_load(&c->ca, f->cafile, c->errtext, sizeof c->errtext) < 0
        || load_client(c, f) < 0) {
        return -1;
    }
    k = c->client;
    br_ssl_client_init_full(&c->sc, &c->xc, c->ca.ta, c->ca.n);
    br_ssl_engine_set_ec(&c->sc.eng, x25519_ec());
    br_ssl_engine_set_versions(&c->sc.eng, BR_TLS12, BR_TLS12);
    c->cn.oid = oid_cn;
    c->cn.buf = c->cnbuf;
    c->cn.len = sizeof c->cnbuf;
    br_x509_minimal_set_name_elements(&c->xc, &c->cn, 1);
    if (k->key_type == BR_KEYTYPE_RSA) {
        br_ssl_client_set_single_rsa(&c->sc, k->chain, k->chain_len,
                                     br_skey_decoder_get_rsa(k->skey),
                                     br_rsa_pkcs1_sign_get_default());
    } else {
        br_ssl_client_set_single_ec(&c->sc, k->chain, k->chain_len,
                                    br_skey_decoder_get_ec(k->skey), BR_KEYTYPE_SIGN,
                                    k->issuer_key_type, br_ec_get_default(),
                                    br_ecdsa_sign_asn1_get_default());
    }
    if (handshake(c, fd, NULL) < 0) {
        return -1;
    }
    if (c->cn.status != 1 || strcmp(c->cnbuf, f->peer_cn) != 0) {
        c->err = BR_ERR_X509_BAD_SERVER_NAME;
        set_error(c, "the server's certificate is not %s's (CN %s)", f->peer_cn,
                  c->cn.status == 1 ? c->cnbuf : "absent");
        return -1;
    }
    return 0;
}

int tlsc_write(struct tlsc *c, const void *p, size_t n)
{
    const unsigned char *s = p;
    while (n > 0) {
        size_t len;
        unsigned char *buf;
        int r = pump_wait(&c->sc.eng, c->fd, c->fd, BR_SSL_SENDAPP, deadline(c));
        if (r <= 0) {
            wait_failed(c, r, "while sending");
            return -1;
        }
        buf = br_ssl_engine_sendapp_buf(&c->sc.eng, &len);
        if (!buf || len == 0) {
            continue;
        }
        if (len > n) {
            len = n;
        }
        memcpy(buf, s, len);
        br_ssl_engine_sendapp_ack(&c->sc.eng, len);
        s += len;
        n -= len;
    }
    return 0;
}

int tlsc_flush(struct tlsc *c)
{
    int r;
    br_ssl_engine_flush(&c->sc.eng, 0);
    /* SENDAPP comes back once every record is out (BearSSL's output buffer is then free) */
    r = pump_wait(&c->sc.eng, c->fd, c->fd, BR_SSL_SENDAPP, deadline(c));
    if (r <= 0) {
        wait_failed(c, r, "while sending");
        return -1;
    }
    return 0;
}

ssize_t tlsc_read(struct tlsc *c, void *p, size_t n)
{
    size_t len;
    unsigned char *buf;
    int r;

    if (n == 0) {
        return 0;
    }
    if (br_ssl_engine_current_state(&c->sc.eng) & BR_SSL_SENDAPP) {
        br_ssl_engine_flush(&c->sc.eng, 0);
    }
    r = pump_wait(&c->sc.eng, c->fd, c->fd, BR_SSL_RECVAPP, deadline(c));
    if (r < 0 && br_ssl_engine_last_error(&c->sc.eng) == 0 && (errno == 0 || errno == EPIPE)) {
        return 0;   /* close_notify or TCP close */
    }
    if (r <= 0) {
        wait_failed(c, r, "while receiving");
        return -1;
    }
    buf = br_ssl_engine_recvapp_buf(&c->sc.eng, &len);
    if (len > n) {
        len = n;
    }
    memcpy(p, buf, len);
    br_ssl_engine_recvapp_ack(&c->sc.eng, len);
    return (ssize_t)len;
}

void tlsc_close(struct tlsc *c)
{
    unsigned st = br_ssl_engine_current_state(&c->sc.eng);
    if (st != 0 && !(st & BR_SSL_CLOSED)) {
        long long end = pump_now_ms() + (c->timeout < 10 ? c->timeout : 10) * 1000LL;
        br_ssl_engine_close(&c->sc.eng);
        /* send our close_notify (drained before RECVREC is reported); we do not wait for
           the peer's (RFC 5246 §7.2.1) */
        (void)pump_wait(&c->sc.eng, c->fd, c->fd, BR_SSL_RECVREC, end);
    }
    tlsc_forget(c);
}

const char *tlsc_error(const struct tlsc *c)
{
    return c->errtext[0] ? c->errtext : "no error";
}

int tlsc_verify_failed(const struct tlsc *c)
{
    return c->verify && c->err >= 32 && c->err < 256;  /* BR_ERR_X509_* */
}

int tlsc_info(const struct tlsc *c, char *out, size_t cap)
{
    br_ssl_session_parameters sp;
    const char *v, *s;
    char hex[8];

    if (!(br_ssl_engine_current_state(&c->sc.eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP
                                                       | BR_SSL_SENDREC | BR_SSL_RECVREC))) {
        return -1;
    }
    br_ssl_engine_get_session_parameters(&c->sc.eng, &sp);
    v = pump_version_name(sp.version);
    s = pump_suite_name(sp.cipher_suite);
    if (!s) {
        (void)str_fmt(hex, sizeof hex, "0x%04X", sp.cipher_suite);
        s = hex;
    }
    return str_fmt(out, cap, "%s %s", v ? v : "TLS", s);
}

void tlsc_forget(struct tlsc *c)
{
    /* session keys live in the engine and its buffer; tlsc_error() stays readable */
    tlsc_anchors_free(&c->ca);
    if (c->client) {
        keys_free_cert(c->client);
        free(c->client);
        c->client = NULL;
    }
    explicit_bzero((unsigned char *)c + offsetof(struct tlsc, sc), sizeof c->sc);
    explicit_bzero(c->iobuf, sizeof c->iobuf);
}

br_ssl_engine_context *tlsc_engine(struct tlsc *c)
{
    return &c->sc.eng;
}

void tlsc_set_timeout(struct tlsc *c, unsigned timeout)
{
    c->timeout = timeout;
}

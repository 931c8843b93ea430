/* tlsd_engine.c: tlsd's BearSSL engine (SNI, -C, resumption), the handshake; runs as yubin-tls */
#include "tlsd.h"
#include "log.h"
#include "pump.h"
#include "str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define TLSD_ENTROPY           32       /* bytes of getrandom() injected per connection */

/* --- session resumption through tlskeyd ('W' after a full handshake, 'R' when a ClientHello
   names a session): a session resumes only under the server name it was made for (RFC 6066
   section 3), checked in handshake() since BearSSL looks it up before it reads the name. --- */

/* SHA-256 of the client's server name (SNI) in lower case, "" without one. BearSSL keeps at
   most 255 octets of the name. */
static void session_name(const br_ssl_server_context *sc, unsigned char *out)
{
    const char *n = br_ssl_engine_get_server_name(&sc->eng);
    char low[256];
    size_t len = strnlen(n, sizeof low);
    br_sha256_context h;

    memcpy(low, n, len);
    str_lower(low, len);
    br_sha256_init(&h);
    br_sha256_update(&h, low, len);
    br_sha256_out(&h, out);
}

static void cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                       const br_ssl_session_parameters *params)
{
    struct tlsd *t = ((const struct session_cache *)(const void *)ctx)->t;
    struct keyproto_session s;
    struct keyproto_buf b = { NULL, 0, 0 };

    t->resumed = 0;                 /* BearSSL saves after a full handshake only */
    if (t->kfd < 0 || params->session_id_len != KEYPROTO_SESSION_ID) {
        return;
    }
    memcpy(s.id, params->session_id, sizeof s.id);
    session_name(sc, s.name);
    s.version = params->version;
    s.suite = params->cipher_suite;
    memcpy(s.master, params->master_secret, sizeof s.master);
    if (keyproto_put_session(&b, &s, 1) < 0
        || keyproto_send(t->kfd, KEYPROTO_SAVE, b.p, b.len) < 0) {
        log_warn("ip=%s: the key holder %s did not take the TLS session", t->ip, t->keysock);
    }
    explicit_bzero(&s, sizeof s);
    keyproto_free(&b);
}

static int cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                      br_ssl_session_parameters *params)
{
    struct tlsd *t = ((const struct session_cache *)(const void *)ctx)->t;
    struct keyproto_session s, got;
    struct keyproto_buf b = { NULL, 0, 0 };
    unsigned char *ans = NULL;
    size_t alen = 0;
    int type = 0, ok = 0;

    (void)sc;
    if (params->session_id_len != KEYPROTO_SESSION_ID || holder_connect(t) < 0) {
        return 0;
    }
    memset(&s, 0, sizeof s);
    memset(&got, 0, sizeof got);
    memcpy(s.id, params->session_id, sizeof s.id);
    if (keyproto_put_session(&b, &s, 0) < 0
        || keyproto_send(t->kfd, KEYPROTO_RESUME, b.p, b.len) < 0
        || keyproto_recv(t->kfd, &type, &ans, &alen) < 0) {
        /* an answer may still come: the connection is out of step for the signature */
        log_warn("ip=%s: the key holder %s did not answer a session lookup", t->ip, t->keysock);
        close(t->kfd);
        t->kfd = -1;
    } else if (type == KEYPROTO_OK && alen > 0 && keyproto_get_session(ans, alen, &got, 1) == 0
               && memcmp(got.id, s.id, sizeof s.id) == 0) {
        params->version = (uint16_t)got.version;
        params->cipher_suite = (uint16_t)got.suite;
        memcpy(params->master_secret, got.master, sizeof got.master);
        memcpy(t->resumed_name, got.name, sizeof t->resumed_name);
        t->resumed = 1;
        ok = 1;
    }
    explicit_bzero(&got, sizeof got);
    if (ans) {
        explicit_bzero(ans, alen);
        free(ans);
    }
    keyproto_free(&b);
    return ok;
}

static const br_ssl_session_cache_class session_cache_class = {
    sizeof(struct session_cache), cache_save, cache_load
};

/* --- SNI: a policy that picks the pair by server name, then delegates to BearSSL's
   single-certificate policy for that pair (which chooses the suite and signs). --- */

static int sni_choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *cc,
                      br_ssl_server_choices *choices)
{
    struct sni_policy *p = (struct sni_policy *)(void *)pctx;
    const char *name = br_ssl_engine_get_server_name(&cc->eng);
    const struct keys_cert *c = keys_find(p->keys, name);

    p->chosen = c;
    if (!c) {
        return 0;   /* no usable pair (refuse()): BearSSL fails the handshake with an alert */
    }
    set_pair(p->t, p->sc, c);
    keys_wipe_keys(p->keys, c);     /* the other keys are no longer needed */
    /* set_single_* installed BearSSL's own policy; it makes the choice and does the signing */
    return (*p->sc->policy_vtable)->choose(p->sc->policy_vtable, cc, choices);
}

static uint32_t sni_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data,
                         size_t *len)
{
    (void)pctx;
    (void)data;
    (void)len;
    return 0;   /* never called: sni_choose replaced the policy; ECDHE only anyway */
}

static size_t sni_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id,
                       unsigned char *data, size_t hv_len, size_t len)
{
    (void)pctx;
    (void)algo_id;
    (void)data;
    (void)hv_len;
    (void)len;
    return 0;   /* never called: see sni_keyx */
}

static const br_ssl_server_policy_class sni_policy_class = {
    sizeof(struct sni_policy), sni_choose, sni_keyx, sni_sign,
};

/* -C: ask for a client certificate (naming the CA), validate its chain against the CA and
   read its CN. Without BR_OPT_TOLERATE_NO_CLIENT_AUTH BearSSL ends the handshake with an
   alert when the client sends none or one that does not validate. */
static void client_auth_setup(struct tlsd *t)
{
    static const unsigned char oid_cn[] = { 3, 0x55, 0x04, 0x03 };   /* 2.5.4.3 */
    br_x509_minimal_init(&t->xc, &br_sha256_vtable, t->ca.ta, t->ca.n);
    br_x509_minimal_set_hash(&t->xc, br_sha1_ID, &br_sha1_vtable);
    br_x509_minimal_set_hash(&t->xc, br_sha224_ID, &br_sha224_vtable);
    br_x509_minimal_set_hash(&t->xc, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&t->xc, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&t->xc, br_sha512_ID, &br_sha512_vtable);
    br_x509_minimal_set_rsa(&t->xc, br_rsa_pkcs1_vrfy_get_default());
    br_x509_minimal_set_ecdsa(&t->xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
    t->cn.oid = oid_cn;
    t->cn.buf = t->cnbuf;
    t->cn.len = sizeof t->cnbuf;
    br_x509_minimal_set_name_elements(&t->xc, &t->cn, 1);
    br_ssl_engine_set_x509(&t->sc.eng, &t->xc.vtable);
    br_ssl_engine_set_default_rsavrfy(&t->sc.eng);
    br_ssl_engine_set_default_ecdsa(&t->sc.eng);
    br_ssl_server_set_trust_anchor_names_alt(&t->sc, t->ca.ta, t->ca.n);
}

/* 1 if the CN can travel in the report: a name of [A-Za-z0-9._-] (a node's fleet-NODE). */
static int cn_ok(const char *s)
{
    size_t i, n = strlen(s);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return n > 0;
}

/* Initialise the server engine for one connection. 0 ok, -1 failure (logged). Without keys
   (refuse()) the engine only reads the ClientHello and answers with a fatal alert. */
int engine_setup(struct tlsd *t)
{
    unsigned char seed[TLSD_ENTROPY];

    pump_server_init(&t->sc);   /* the certificate and key: sni_choose, once SNI is known */
    br_ssl_engine_add_flags(&t->sc.eng,
                            BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
    t->policy.vtable = &sni_policy_class;
    t->policy.sc = &t->sc;
    t->policy.keys = &t->keys;
    t->policy.chosen = NULL;
    t->policy.t = t;
    br_ssl_server_set_policy(&t->sc, &t->policy.vtable);
    if (t->cafile) {
        client_auth_setup(t);       /* and no resumption: every session shows its certificate */
    } else if (t->holder) {
        t->cache.vtable = &session_cache_class;
        t->cache.t = t;
        br_ssl_server_set_cache(&t->sc, &t->cache.vtable);
    }
    br_ssl_engine_set_buffer(&t->sc.eng, t->iobuf, sizeof t->iobuf, 1);
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        log_warn_sys("unable to get random bytes");
        return -1;
    }
    br_ssl_engine_inject_entropy(&t->sc.eng, seed, sizeof seed);
    explicit_bzero(seed, sizeof seed);
    if (!br_ssl_server_reset(&t->sc)) {
        log_warn("unable to start the TLS engine (BearSSL error %d)",
                 br_ssl_engine_last_error(&t->sc.eng));
        return -1;
    }
    return 0;
}

int handshake(struct tlsd *t)
{
    char why[64];
    br_ssl_session_parameters sp;
    const char *v, *s;
    int r, one = 1;

    if (engine_setup(t) < 0) {
        return -1;
    }
    /* BearSSL writes each record by itself: without TCP_NODELAY, Nagle holds the second
       record of a flight until the peer's delayed ACK (40 ms per handshake) */
    if (setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 && errno != ENOTSOCK
        && errno != EOPNOTSUPP) {
        log_warn_sys("ip=%s: unable to set TCP_NODELAY", t->ip);
    }
    r = pump_wait(&t->sc.eng, 0, 1, BR_SSL_SENDAPP | BR_SSL_RECVAPP,
                  pump_now_ms() + (long long)t->handshake_s * 1000);
    if (r <= 0) {
        int err = br_ssl_engine_last_error(&t->sc.eng);
        if (r == 0) {
            log_info("handshake failed ip=%s error=timeout after %lus", t->ip, t->handshake_s);
        } else if (err != 0) {
            log_info("handshake failed ip=%s error=%d (%s)", t->ip, err,
                     pump_error_text(err, why, sizeof why));
        } else {
            log_info("handshake failed ip=%s error=%s", t->ip,
                     errno == EPIPE ? "connection closed by client" : strerror(errno));
        }
        return -1;
    }
    if (t->resumed) {
        unsigned char name[KEYPROTO_DIGEST];
        session_name(&t->sc, name);
        if (memcmp(name, t->resumed_name, sizeof name) != 0) {
            log_info("handshake failed ip=%s error=the client resumed a TLS session made for "
                     "another server name", t->ip);
            return -1;
        }
        /* the client's Finished was the handshake's last message, and nothing of ours answers
           it: without an ACK now, a client with Nagle holds its first command back until our
           delayed ACK (40 ms), where a full handshake's last flight carried it */
        (void)setsockopt(0, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    keys_wipe_keys(&t->keys, NULL);     /* no renegotiation: no key needed from now on */
    if (t->kfd >= 0) {
        close(t->kfd);
        t->kfd = -1;
    }
    br_ssl_engine_get_session_parameters(&t->sc.eng, &sp);
    v = pump_version_name(sp.version);
    s = pump_suite_name(sp.cipher_suite);
    memset(&t->report, 0, sizeof t->report);
    (void)str_fmt(t->report.protocol, sizeof t->report.protocol, "%s", v ? v : "unknown");
    (void)str_fmt(t->report.cipher, sizeof t->report.cipher, "%s", s ? s : "unknown");
    (void)str_fmt(t->report.sni, sizeof t->report.sni, "%s",
                  br_ssl_engine_get_server_name(&t->sc.eng));
    (void)str_fmt(t->report.resumed, sizeof t->report.resumed, "%s",
                  t->resumed ? "Resumed" : "Initial");
    if (t->cafile) {
        if (t->cn.status != 1 || !cn_ok(t->cnbuf)) {
            log_info("handshake failed ip=%s error=client certificate without a usable CN",
                     t->ip);
            return -1;
        }
        (void)str_fmt(t->report.client_cn, sizeof t->report.client_cn, "%s", t->cnbuf);
    }
    return 0;
}

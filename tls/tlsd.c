/* tlsd: TLS for one connection around its child; root to read the key, then yubin-tls */
#include "exitcode.h"
#include "fd.h"
#include "keyproto.h"
#include "keys.h"
#include "limits.h"
#include "log.h"
#include "pump.h"
#include "str.h"
#include "tlsclient.h"
#include "ucspi.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TLSD_HANDSHAKE_DEFAULT 30       /* seconds for the whole handshake */
#define TLSD_IDLE_DEFAULT      1200     /* seconds without traffic; > every protocol timeout */
#define TLSD_ENTROPY           32       /* bytes of getrandom() injected per connection */
#define TLSD_CHILD_WAIT_MS     5000     /* how long we wait for the child after the session */
#define TLSD_REFUSE_WAIT_MS    5000     /* for the ClientHello we answer with an alert */

enum mode { MODE_IMPLICIT, MODE_STARTTLS, MODE_CHECK };

struct tlsd;

/* The TLS sessions kept for resumption: tlskeyd holds them (docs/tls.md "Session
   resumption"); this is BearSSL's cache interface in front of it. */
struct session_cache {
    const br_ssl_session_cache_class *vtable;   /* first: BearSSL passes &vtable */
    struct tlsd *t;
};

struct sni_policy {
    const br_ssl_server_policy_class *vtable;   /* first: BearSSL passes &vtable */
    br_ssl_server_context *sc;
    struct keys *keys;
    const struct keys_cert *chosen;
    struct tlsd *t;
};

/* A key that tlskeyd holds: what BearSSL's single-certificate policy needs to choose (RSA
   modulus size, EC curve) and, through the pointer it passes to our sign function, the way
   back to the holder. The key itself is never here. */
struct remote_key {
    br_rsa_private_key rsa;         /* only n_bitlen is set */
    br_ec_private_key ec;           /* only curve is set */
    struct tlsd *t;
    unsigned idx;                   /* the pair in tlskeyd's folder */
};

struct tlsd {
    enum mode mode;
    const char *user;               /* -u NAME or UID:GID; NULL = stay who we are (not root) */
    int drop;                       /* 1: become uid/gid (-u) before reading the network */
    uid_t uid;
    gid_t gid;
    const char *child_ids;          /* -c as given, for messages; NULL = child keeps our ids */
    int child_drop;                 /* 1: the child drops to child_uid/child_gid before exec */
    uid_t child_uid;
    gid_t child_gid;
    unsigned long handshake_s, idle_s;
    const char *dir;
    char dirbuf[YUBIN_PATH_MAX];    /* $YUBIN_ROOT/etc/tls when -d is absent */
    char **prog;
    const char *ip;
    struct keys_raw raw;            /* the files' bytes, read as root; parsed when TLS starts */
    char keyerr[KEYS_ERR_MAX];
    struct keys keys;               /* parsed and checked: only once TLS is wanted */
    const char *keysock;            /* -k: tlskeyd's socket; NULL = keys parsed in-process */
    int holder;                     /* 1: tlskeyd has the folder (digest); keys.certs have no key */
    unsigned char digest[KEYPROTO_DIGEST];
    int kfd;                        /* to tlskeyd while TLS starts; -1 otherwise */
    struct keyproto_pair pairs[KEYS_CERTS_MAX];
    struct remote_key rkeys[KEYS_CERTS_MAX];
    br_ssl_server_context sc;
    struct sni_policy policy;
    struct session_cache cache;
    int resumed;                    /* 1: this handshake resumed a session tlskeyd kept */
    unsigned char resumed_name[KEYPROTO_DIGEST];    /* the server name it was made for */
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
    pid_t child;
    int ctl, appin, appout, info;   /* our ends: control socket, pipes; -1 if unused */
    struct ucspi_info report;
    const char *cafile;             /* -C: require a client certificate of this CA */
    struct tlsc_anchors ca;
    br_x509_minimal_context xc;
    br_name_element cn;             /* the client certificate's subject CN */
    char cnbuf[TLSC_CN_MAX + 1];
};

static void usage(void)
{
    die(EXIT_PERM, "usage: tlsd [-i|-s] [-u USER|UID:GID] [-c UID:GID] [-t SECONDS] "
                   "[-T SECONDS] [-d DIR] [-k SOCKET] [-C CAFILE] -- PROGRAM... "
                   "| tlsd --check [-d DIR]");
}

/* "UID:GID", both decimal, neither 0 (root) nor (id_t)-1 (the "unchanged" value of the
   set*id calls). 0 ok, -1 malformed or root. */
static int parse_ids(const char *s, uid_t *uid, gid_t *gid)
{
    const char *colon = strchr(s, ':');
    uint64_t u, g;

    if (!colon || str_to_u64(s, (size_t)(colon - s), &u) < 0
        || str_to_u64(colon + 1, strlen(colon + 1), &g) < 0) {
        return -1;
    }
    if (u == 0 || g == 0 || u >= (uid_t)-1 || g >= (gid_t)-1) {
        return -1;
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

static void parse_args(struct tlsd *t, int argc, char **argv)
{
    int i;
    const char *root = getenv("YUBIN_ROOT");

    t->mode = MODE_IMPLICIT;
    t->handshake_s = TLSD_HANDSHAKE_DEFAULT;
    t->idle_s = TLSD_IDLE_DEFAULT;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--check") == 0) {
            t->mode = MODE_CHECK;
        } else if (strcmp(a, "-i") == 0) {
            t->mode = MODE_IMPLICIT;
        } else if (strcmp(a, "-s") == 0) {
            t->mode = MODE_STARTTLS;
        } else if ((strcmp(a, "-u") == 0 || strcmp(a, "-t") == 0 || strcmp(a, "-T") == 0
                    || strcmp(a, "-d") == 0 || strcmp(a, "-c") == 0 || strcmp(a, "-k") == 0
                    || strcmp(a, "-C") == 0)
                   && i + 1 < argc) {
            const char *v = argv[++i];
            uint64_t n;
            if (a[1] == 'u') {
                t->user = v;
            } else if (a[1] == 'c') {
                if (parse_ids(v, &t->child_uid, &t->child_gid) < 0) {
                    die(EXIT_PERM, "-c %s: give numeric UID:GID, neither of them 0", v);
                }
                t->child_ids = v;
            } else if (a[1] == 'd') {
                t->dir = v;
            } else if (a[1] == 'k') {
                t->keysock = v;
            } else if (a[1] == 'C') {
                t->cafile = v;
            } else if (str_to_u64(v, strlen(v), &n) < 0 || n == 0 || n > 86400) {
                usage();
            } else if (a[1] == 't') {
                t->handshake_s = (unsigned long)n;
            } else {
                t->idle_s = (unsigned long)n;
            }
        } else if (a[0] == '-') {
            usage();
        } else {
            break;
        }
    }
    t->prog = argv + i;
    if (t->mode != MODE_CHECK && !t->prog[0]) {
        usage();
    }
    if (!t->dir) {
        if (!root || root[0] != '/'
            || str_fmt(t->dirbuf, sizeof t->dirbuf, "%s/etc/tls", root) < 0) {
            die(EXIT_PERM, "no certificate directory: give -d DIR or set YUBIN_ROOT");
        }
        t->dir = t->dirbuf;
    }
}

/* Check every parsed pair (key matches, dates). 0 ok; -1 with the reason in err and the
   keys freed. Warns about near expiry. */
static int check_keys(struct tlsd *t, char *err, size_t cap, int verbose)
{
    time_t now = time(NULL);
    size_t i;

    for (i = 0; i < t->keys.n; i++) {
        const struct keys_cert *c = &t->keys.certs[i];
        const char *name = c->host[0] ? c->host : "server";
        long days;
        if (keys_check(c, now, &days, err, cap) < 0) {
            keys_free(&t->keys);
            return -1;
        }
        if (days < KEYS_WARN_DAYS) {
            log_warn("certificate %s/%s.pem expires in %ld days: renew it", t->dir, name, days);
        } else if (verbose) {
            log_info("certificate %s/%s.pem ok: %s key, %zu in chain, expires in %ld days",
                     t->dir, name, c->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC", c->chain_len,
                     days);
        }
    }
    return 0;
}

/* TLS is wanted now: decode the bytes read at the start (wiping them) and check every pair.
   Runs after the privilege drop: the decoders never run as root. 0 ok (also when they are
   parsed already: t->keys.n > 0, as server.pem always is); -1 with the reason in t->keyerr
   (again on a second call: the bytes are gone). */
static int holder_chains(struct tlsd *t);

static int parse_keys(struct tlsd *t)
{
    if (t->keys.n > 0) {
        return 0;
    }
    if (t->holder) {
        return holder_chains(t);
    }
    if (t->raw.n == 0) {            /* reading or parsing them failed: keyerr says why */
        return -1;
    }
    if (keys_parse_raw(&t->keys, &t->raw, t->keyerr, sizeof t->keyerr) < 0) {
        return -1;
    }
    return check_keys(t, t->keyerr, sizeof t->keyerr, 0);
}

/* --- tlskeyd (-k): the key holder. As root, right after the files are read, their bytes go
   to tlskeyd and are wiped here; when TLS starts tlsd asks it for the chains, and for the one
   signature of the handshake. --- */

/* As root: give the folder's bytes to tlskeyd and forget them (t->holder = 1, t->digest
   names them there). If tlskeyd cannot take them (not running, folder too big), the bytes
   stay and are parsed here when TLS starts, as without -k. */
static void hand_over(struct tlsd *t)
{
    struct keyproto_buf b = { NULL, 0, 0 };
    br_sha256_context h;
    unsigned char *ans = NULL;
    size_t alen = 0;
    int fd = -1, type = 0;

    if (keyproto_put_raw(&b, &t->raw) < 0) {
        keyproto_free(&b);
        return;
    }
    br_sha256_init(&h);
    br_sha256_update(&h, b.p, b.len);
    br_sha256_out(&h, t->digest);
    fd = fd_connect_unix(t->keysock);
    if (fd < 0 || keyproto_send(fd, KEYPROTO_PUT, b.p, b.len) < 0
        || keyproto_recv(fd, &type, &ans, &alen) < 0 || type != KEYPROTO_OK || alen != 0) {
        log_warn("ip=%s: the key holder %s did not take the keys (%s): parsing them here",
                 t->ip, t->keysock, fd < 0 || type == 0 ? strerror(errno) : "bad answer");
    } else {
        keys_raw_free(&t->raw);
        t->holder = 1;
    }
    free(ans);
    keyproto_free(&b);
    if (fd >= 0) {
        close(fd);
    }
}

/* TLS is wanted: the chains from tlskeyd, which parsed and checked the folder. The
   connection stays open (t->kfd) for the signature. 0 ok, -1 with t->keyerr. */
static int holder_chains(struct tlsd *t)
{
    unsigned char *ans = NULL;
    size_t alen = 0, i;
    int type = 0;

    t->kfd = fd_connect_unix(t->keysock);
    if (t->kfd < 0 || keyproto_send(t->kfd, KEYPROTO_CHAINS, t->digest, sizeof t->digest) < 0
        || keyproto_recv(t->kfd, &type, &ans, &alen) < 0) {
        (void)str_fmt(t->keyerr, sizeof t->keyerr, "the key holder %s does not answer: %s",
                      t->keysock, strerror(errno));
        free(ans);
        return -1;
    }
    if (type == KEYPROTO_ERR) {
        size_t n = alen < sizeof t->keyerr - 1 ? alen : sizeof t->keyerr - 1;
        for (i = 0; i < n; i++) {       /* a sentence for the log: printable only */
            t->keyerr[i] = ans[i] >= 0x20 && ans[i] < 0x7f ? (char)ans[i] : '?';
        }
        t->keyerr[n] = '\0';
        free(ans);
        return -1;
    }
    if (type != KEYPROTO_OK || keyproto_get_chains(ans, alen, &t->keys, t->pairs) < 0) {
        (void)str_fmt(t->keyerr, sizeof t->keyerr, "the key holder %s sent a bad answer",
                      t->keysock);
        free(ans);
        return -1;
    }
    free(ans);
    for (i = 0; i < t->keys.n; i++) {
        struct remote_key *r = &t->rkeys[i];
        memset(r, 0, sizeof *r);
        r->t = t;
        r->idx = (unsigned)i;
        r->rsa.n_bitlen = t->pairs[i].bits;
        r->ec.curve = (int)t->pairs[i].bits;
        if (t->pairs[i].days_left < KEYS_WARN_DAYS) {
            log_warn("certificate %s/%s.pem expires in %ld days: renew it", t->dir,
                     t->pairs[i].name[0] ? t->pairs[i].name : "server", t->pairs[i].days_left);
        }
    }
    return 0;
}

/* One signature by tlskeyd: hv (hash hash_id) with pair r->idx into sig, at most cap octets.
   Length, or 0 (the handshake then fails). */
static size_t holder_sign(struct remote_key *r, unsigned hash_id, const unsigned char *hv,
                          size_t hv_len, unsigned char *sig, size_t cap)
{
    struct tlsd *t = r->t;
    struct keyproto_buf b = { NULL, 0, 0 };
    unsigned char *ans = NULL;
    size_t alen = 0, n = 0;
    int type = 0;

    if (t->kfd >= 0 && keyproto_put_sign(&b, t->digest, r->idx, hash_id, hv, hv_len) == 0
        && keyproto_send(t->kfd, KEYPROTO_SIGN, b.p, b.len) == 0
        && keyproto_recv(t->kfd, &type, &ans, &alen) == 0 && type == KEYPROTO_OK
        && alen > 0 && alen <= cap) {
        memcpy(sig, ans, alen);
        n = alen;
    } else {
        log_warn("ip=%s: the key holder %s did not sign", t->ip, t->keysock);
    }
    free(ans);
    keyproto_free(&b);
    return n;
}

/* BearSSL's br_rsa_pkcs1_sign, for a remote_key: the hash is named by its OID. */
static uint32_t holder_rsa_sign(const unsigned char *hash_oid, const unsigned char *hash,
                                size_t hash_len, const br_rsa_private_key *sk, unsigned char *x)
{
    static const struct { const unsigned char *oid; unsigned id; } oids[] = {
        { BR_HASH_OID_SHA1, br_sha1_ID }, { BR_HASH_OID_SHA224, br_sha224_ID },
        { BR_HASH_OID_SHA256, br_sha256_ID }, { BR_HASH_OID_SHA384, br_sha384_ID },
        { BR_HASH_OID_SHA512, br_sha512_ID },
    };
    struct remote_key *r = (struct remote_key *)(void *)((char *)(void *)sk
                                                         - offsetof(struct remote_key, rsa));
    size_t i, len = (sk->n_bitlen + 7) / 8;

    for (i = 0; hash_oid && i < sizeof oids / sizeof oids[0]; i++) {
        if (memcmp(hash_oid, oids[i].oid, (size_t)oids[i].oid[0] + 1) == 0) {
            return holder_sign(r, oids[i].id, hash, hash_len, x, len) == len;
        }
    }
    return 0;   /* MD5+SHA-1 (TLS 1.0/1.1): never, we speak TLS 1.2 only */
}

/* BearSSL's br_ecdsa_sign (DER signature), for a remote_key. The engine's buffer holds 139. */
static size_t holder_ec_sign(const br_ec_impl *impl, const br_hash_class *hf,
                             const void *hash_value, const br_ec_private_key *sk, void *sig)
{
    struct remote_key *r = (struct remote_key *)(void *)((char *)(void *)sk
                                                         - offsetof(struct remote_key, ec));
    unsigned id = (unsigned)(hf->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK;
    size_t hlen = (size_t)(hf->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;

    (void)impl;
    return holder_sign(r, id, hash_value, hlen, sig, 139);
}

/* Install pair c (index i) as BearSSL's single certificate, with its key here or at tlskeyd. */
static void set_pair(struct tlsd *t, br_ssl_server_context *sc, const struct keys_cert *c)
{
    size_t i = (size_t)(c - t->keys.certs);
    if (c->key_type == BR_KEYTYPE_RSA) {
        br_ssl_server_set_single_rsa(sc, c->chain, c->chain_len,
                                     t->holder ? &t->rkeys[i].rsa
                                               : br_skey_decoder_get_rsa(c->skey),
                                     BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
                                     t->holder ? holder_rsa_sign
                                               : br_rsa_pkcs1_sign_get_default());
    } else {
        br_ssl_server_set_single_ec(sc, c->chain, c->chain_len,
                                    t->holder ? &t->rkeys[i].ec : br_skey_decoder_get_ec(c->skey),
                                    BR_KEYTYPE_SIGN, c->issuer_key_type, br_ec_get_default(),
                                    t->holder ? holder_ec_sign
                                              : br_ecdsa_sign_asn1_get_default());
    }
}

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
    if (t->kfd < 0 || params->session_id_len != KEYPROTO_SESSION_ID) {
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
static int engine_setup(struct tlsd *t)
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

/* The checked drop (STYLE.md "Privileges"), for tlsd itself (-u, before touching the
   network) and for the child (-c, right after the fork): the gid as the only group, gid, uid,
   then proof that root cannot be regained. WHO names the target in messages. */
static void drop_to(uid_t uid, gid_t gid, const char *who)
{
    if (setgroups(1, &gid) < 0) {
        die_sys(EXIT_TEMP, "unable to setgroups %s", who);
    }
    if (setgid(gid) < 0) {
        die_sys(EXIT_TEMP, "unable to setgid %s", who);
    }
    if (setuid(uid) < 0) {
        die_sys(EXIT_TEMP, "unable to setuid %s", who);
    }
    if (setuid(0) == 0 || geteuid() == 0 || getuid() != uid || getegid() != gid
        || getgid() != gid) {
        die(EXIT_BUG, "privileges were not dropped to %s", who);
    }
}

/* -c: whether the child has to drop. Root: yes. Not root: only our own ids make sense, and
   then there is nothing to do. */
static void check_child_ids(struct tlsd *t)
{
    if (!t->child_ids) {
        return;
    }
    if (geteuid() == 0) {
        t->child_drop = 1;
    } else if (t->child_uid != geteuid() || t->child_gid != getegid()) {
        die(EXIT_PERM, "-c %s needs root", t->child_ids);
    }
}

/* -u: the ids tlsd becomes before it reads the network, as a user name (getpwnam: opens
   /etc/passwd, NSS) or as numeric UID:GID resolved once by the run script. Sets t->drop
   when there is something to drop (root); not root, -u may only name ourselves. */
static void resolve_user(struct tlsd *t)
{
    const struct passwd *pw;

    if (!t->user) {
        if (geteuid() == 0) {
            die(EXIT_PERM, "refusing to handle the network as root: give -u USER");
        }
        return;
    }
    if (strchr(t->user, ':')) {     /* no user name has a ':' (passwd(5)) */
        if (parse_ids(t->user, &t->uid, &t->gid) < 0) {
            die(EXIT_PERM, "-u %s: give a user name or numeric UID:GID, neither of them 0",
                t->user);
        }
    } else {
        pw = getpwnam(t->user);
        if (!pw) {
            die(EXIT_PERM, "unknown user %s", t->user);
        }
        if (pw->pw_uid == 0) {
            die(EXIT_PERM, "-u %s: refusing to run as root", t->user);
        }
        t->uid = pw->pw_uid;
        t->gid = pw->pw_gid;
    }
    if (geteuid() != 0) {
        if (t->uid != geteuid()) {
            die(EXIT_PERM, "-u %s needs root", t->user);
        }
        return;
    }
    t->drop = 1;
}

/* --- the child --- */

static void child_setfd(int from, int to)
{
    if (from != to) {
        if (dup2(from, to) < 0) {
            _exit(EXIT_TEMP);
        }
        close(from);
    }
}

static void setenv_num(const char *name, int v)
{
    char s[16];
    if (str_fmt(s, sizeof s, "%d", v) < 0 || setenv(name, s, 1) < 0) {
        _exit(EXIT_TEMP);
    }
}

/* Implicit mode: wait for tlsd's handshake report, put it in the environment, exec. No
   report (handshake failed) = exit 0 without running the program. */
static void child_implicit(struct tlsd *t, int in, int out, int info)
{
    char rep[UCSPI_INFO_MAX];
    size_t have = 0, used;
    struct ucspi_info ui;

    child_setfd(in, 0);
    child_setfd(out, 1);
    for (;;) {
        ssize_t r = fd_read(info, rep + have, sizeof rep - have);
        int x;
        if (r <= 0) {
            _exit(0);
        }
        have += (size_t)r;
        x = ucspi_info_parse(rep, have, &ui, &used);
        if (x < 0) {
            _exit(EXIT_BUG);
        }
        if (x > 0) {
            break;
        }
    }
    close(info);
    if (setenv("SSL_PROTOCOL", ui.protocol, 1) < 0 || setenv("SSL_CIPHER", ui.cipher, 1) < 0
        || (ui.sni[0] && setenv("SSL_TLS_SNI_SERVERNAME", ui.sni, 1) < 0)
        || (ui.client_cn[0] && setenv("SSL_CLIENT_S_DN_CN", ui.client_cn, 1) < 0)) {
        _exit(EXIT_TEMP);
    }
    execvp(t->prog[0], t->prog);
    log_warn_sys("unable to run %s", t->prog[0]);
    _exit(EXIT_TEMP);
}

static void child_starttls(struct tlsd *t, int ctl, int rd, int wr)
{
    setenv_num("SSLCTLFD", ctl);
    setenv_num("SSLREADFD", rd);
    setenv_num("SSLWRITEFD", wr);
    execvp(t->prog[0], t->prog);
    log_warn_sys("unable to run %s", t->prog[0]);
    _exit(EXIT_TEMP);
}

/* Fork the child with its pipes. Our ends go to t->appin/appout/ctl/info. */
static void spawn(struct tlsd *t)
{
    int in[2], out[2], side[2];
    pid_t pid;

    if (pipe(in) < 0 || pipe(out) < 0) {
        die_sys(EXIT_TEMP, "unable to create pipes");
    }
    if (t->mode == MODE_STARTTLS ? socketpair(AF_UNIX, SOCK_STREAM, 0, side) < 0
                                 : pipe(side) < 0) {
        die_sys(EXIT_TEMP, "unable to create the control channel");
    }
    pid = fork();
    if (pid < 0) {
        die_sys(EXIT_TEMP, "unable to fork");
    }
    if (pid == 0) {
        keys_raw_free(&t->raw);     /* the child never needs the key's bytes */
        if (t->child_drop) {
            drop_to(t->child_uid, t->child_gid, t->child_ids);
        }
        close(in[1]);
        close(out[0]);
        if (t->mode == MODE_STARTTLS) {
            close(side[0]);
            child_starttls(t, side[1], in[0], out[1]);
        }
        close(side[1]);
        child_implicit(t, in[0], out[1], side[0]);
    }
    t->child = pid;
    close(in[0]);
    close(out[1]);
    t->appout = in[1];
    t->appin = out[0];
    if (t->mode == MODE_STARTTLS) {
        close(side[1]);
        t->ctl = side[0];
    } else {
        close(side[0]);
        t->info = side[1];
    }
    if (fd_cloexec(t->appout, 1) < 0 || fd_cloexec(t->appin, 1) < 0
        || fd_nonblock(t->appout, 1) < 0 || fd_nonblock(t->appin, 1) < 0) {
        die_sys(EXIT_TEMP, "unable to set up pipes");
    }
}

static void close_ours(struct tlsd *t)
{
    int *fds[] = { &t->ctl, &t->appin, &t->appout, &t->info };
    size_t i;
    for (i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
}

/* Wait a bounded time for the child (it sees EOF on its stdin once we are done). */
static void reap(struct tlsd *t)
{
    long long end = pump_now_ms() + TLSD_CHILD_WAIT_MS;
    while (t->child > 0) {
        pid_t r = waitpid(t->child, NULL, WNOHANG);
        if (r == t->child || (r < 0 && errno != EINTR)) {
            t->child = 0;
            break;
        }
        if (pump_now_ms() > end) {
            break;  /* it runs as another uid: we cannot kill it; init adopts it */
        }
        usleep(20000);
    }
}

/* --- the session --- */

static int handshake(struct tlsd *t)
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

static int send_report(int fd, const struct ucspi_info *ui)
{
    char rep[UCSPI_INFO_MAX];
    long n = ucspi_info_build(ui, rep, sizeof rep);
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    return fd_write_all(fd, rep, (size_t)n);
}

/* STARTTLS: wait for the child's start byte. 1 start (with *want_report), 0 declined.
   A '?' first (lib/ucspi.h) is answered at once: the certificates are decoded and checked
   now, '+' if they are usable; if not, '-', one line for the operator, and the session goes
   on in plaintext without us (0). */
static int wait_start(struct tlsd *t, int *want_report)
{
    for (;;) {
        unsigned char c;
        ssize_t r = fd_read(t->ctl, &c, 1);
        int x;
        if (r < 0) {
            die_sys(EXIT_TEMP, "unable to read the control channel");
        }
        if (r == 0) {
            return 0;
        }
        x = ucspi_start_byte(c);
        if (x < 0) {
            log_warn("ip=%s: unknown byte 0x%02x on the control channel", t->ip, c);
            return 0;
        }
        if (x != UCSPI_ASK) {
            *want_report = x == UCSPI_START_INFO;
            return 1;
        }
        if (parse_keys(t) < 0) {
            log_warn("TLS unavailable ip=%s: %s", t->ip, t->keyerr);
            (void)fd_write_all(t->ctl, "-", 1);
            return 0;
        }
        if (fd_write_all(t->ctl, "+", 1) < 0) {
            return 0;
        }
    }
}

static void relay(struct tlsd *t)
{
    struct pump_relay r;
    char why[64];
    static const char *const ends[] = { "clean", "peer closed without close_notify",
                                        "TLS error", "I/O error", "idle timeout" };

    memset(&r, 0, sizeof r);
    r.eng = &t->sc.eng;
    r.netin = 0;
    r.netout = 1;
    r.appin = t->appin;
    r.appout = t->appout;
    r.idle_ms = (long long)t->idle_s * 1000;
    t->appin = t->appout = -1;          /* the pump owns and closes them */
    pump_relay(&r);
    if (r.end == PUMP_END_TLS_ERROR) {
        log_info("done ip=%s in=%llu out=%llu end=error %d (%s)", t->ip, r.bytes_in,
                 r.bytes_out, r.err, pump_error_text(r.err, why, sizeof why));
    } else if (r.end == PUMP_END_IO_ERROR) {
        log_info("done ip=%s in=%llu out=%llu end=%s", t->ip, r.bytes_in, r.bytes_out,
                 strerror(r.sys_errno));
    } else {
        log_info("done ip=%s in=%llu out=%llu end=%s", t->ip, r.bytes_in, r.bytes_out,
                 ends[r.end]);
    }
}

/* --check: read, parse and check everything at once. */
static int run_check(struct tlsd *t)
{
    char err[KEYS_ERR_MAX];
    if (keys_load_dir(&t->keys, t->dir, err, sizeof err) < 0
        || check_keys(t, err, sizeof err, 1) < 0) {
        die(EXIT_PERM, "%s", err);
    }
    log_info("%zu certificate(s) in %s ok", t->keys.n, t->dir);
    keys_free(&t->keys);
    return EXIT_DONE;
}

/* TLS was asked for (or, -i, is the point) but the certificates are unusable (t->keyerr).
   Closing our ends tells the child: smtpd/pop3-front see SSLCTLFD close without a report and
   end the session as after a failed handshake; the -i child exits without running PROGRAM.
   The client, whose ClientHello is on its way, gets a fatal alert rather than a bare close.
   Then the line operators know, exit 100. */
static void refuse(struct tlsd *t)
{
    close_ours(t);
    keys_raw_free(&t->raw);
    keys_free(&t->keys);
    if (engine_setup(t) == 0) {
        (void)pump_wait(&t->sc.eng, 0, 1, BR_SSL_SENDAPP | BR_SSL_RECVAPP,
                        pump_now_ms() + TLSD_REFUSE_WAIT_MS);
    }
    reap(t);
    die(EXIT_PERM, "refusing connection ip=%s: %s", t->ip, t->keyerr);
}

int main(int argc, char **argv)
{
    static struct tlsd t;       /* one per process; static only for its size (BearSSL buffers) */
    int want_report = 1;

    log_init("tlsd");
    parse_args(&t, argc, argv);
    if (t.mode == MODE_CHECK) {
        return run_check(&t);
    }
    t.ctl = t.appin = t.appout = t.info = t.kfd = -1;
    t.ip = getenv("TCPREMOTEIP") ? getenv("TCPREMOTEIP") : "unknown";
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
    }
    resolve_user(&t);
    check_child_ids(&t);
    if (t.cafile) {
        char err[TLSC_ERROR_MAX];
        if (t.mode != MODE_IMPLICIT) {
            die(EXIT_PERM, "-C needs implicit TLS (-i)");
        }
        unsetenv("SSL_CLIENT_S_DN_CN");     /* only a verified certificate sets it */
        if (tlsc_anchors_load(&t.ca, t.cafile, err, sizeof err) < 0) {
            die(EXIT_PERM, "%s", err);
        }
    }
    /* as root, only the bytes (open/read): most STARTTLS sessions never start TLS, and the
       decoders then never run at all. A failure is reported when TLS is wanted: t.raw.n
       stays 0 (server.pem is always read first) and t.keyerr says why. */
    (void)keys_read_dir(&t.raw, t.dir, t.keyerr, sizeof t.keyerr);
    if (t.keysock && t.raw.n > 0) {
        hand_over(&t);  /* still root: the key's bytes leave before the network is read */
    }
    if (!(t.raw.n == 0 && !t.holder && t.mode == MODE_IMPLICIT)) {
        spawn(&t);      /* as root: the child drops (-c) or its program chain does */
    }
    if (t.drop) {
        drop_to(t.uid, t.gid, t.user);
    }
    if (t.mode == MODE_STARTTLS) {
        if (!wait_start(&t, &want_report)) {
            keys_raw_free(&t.raw);
            keys_free(&t.keys);
            close_ours(&t);
            while (waitpid(t.child, NULL, 0) < 0 && errno == EINTR) {
            }
            return EXIT_DONE;
        }
    }
    if (parse_keys(&t) < 0) {
        refuse(&t);
    }
    if (handshake(&t) < 0) {
        keys_free(&t.keys);
        close_ours(&t);
        reap(&t);
        return EXIT_DONE;
    }
    if (t.mode == MODE_STARTTLS && want_report) {
        if (send_report(t.ctl, &t.report) < 0) {
            log_warn_sys("ip=%s: unable to send the handshake report", t.ip);
        }
    } else if (t.mode == MODE_IMPLICIT && send_report(t.info, &t.report) < 0) {
        log_warn_sys("ip=%s: unable to pass the handshake report to the child", t.ip);
    }
    log_info("tls ip=%s protocol=%s cipher=%s sni=%s%s%s%s", t.ip, t.report.protocol,
             t.report.cipher, t.report.sni[0] ? t.report.sni : "-",
             t.report.client_cn[0] ? " client=" : "", t.report.client_cn,
             t.resumed ? " resumed" : "");
    if (t.ctl >= 0) {
        close(t.ctl);
        t.ctl = -1;
    }
    if (t.info >= 0) {
        close(t.info);
        t.info = -1;
    }
    relay(&t);
    keys_free(&t.keys);
    close_ours(&t);
    close(0);
    close(1);
    reap(&t);
    return EXIT_DONE;
}

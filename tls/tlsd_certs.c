/* tlsd_certs.c: tlsd's certificates, checked here or held by tlskeyd (-k); root, then yubin-tls */
#include "tlsd.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int parse_keys(struct tlsd *t)
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
void hand_over(struct tlsd *t)
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
        || keyproto_recv(fd, &type, &ans, &alen) < 0 || type != KEYPROTO_OK) {
        log_warn("ip=%s: the key holder %s did not take the keys (%s): parsing them here",
                 t->ip, t->keysock, fd < 0 || type == 0 ? strerror(errno) : "bad answer");
        free(ans);
    } else {
        keys_raw_free(&t->raw);
        t->holder = 1;
        t->chains = ans;        /* the chains of a usable folder, decoded only after the drop */
        t->chains_len = alen;
        t->chains_at = time(NULL);
    }
    keyproto_free(&b);
    if (fd >= 0) {
        close(fd);
    }
}

int holder_connect(struct tlsd *t)
{
    if (t->kfd < 0) {
        t->kfd = fd_connect_unix(t->keysock);
    }
    return t->kfd < 0 ? -1 : 0;
}

/* TLS is wanted: the chains tlskeyd sent with its answer to the folder (or, for a folder it
   found unusable, its reason now, on the connection that stays open for the signature). 0 ok,
   -1 with t->keyerr. */
static int holder_chains(struct tlsd *t)
{
    unsigned char *ans = t->chains;
    size_t alen = t->chains_len, i;
    int type = KEYPROTO_OK;

    t->chains = NULL;
    t->chains_len = 0;
    if (ans && time(NULL) - t->chains_at > TLSD_CHAINS_FRESH) {
        free(ans);              /* checked too long ago (a certificate may have expired since) */
        ans = NULL;
        alen = 0;
    }
    if (!ans && (holder_connect(t) < 0
                 || keyproto_send(t->kfd, KEYPROTO_CHAINS, t->digest, sizeof t->digest) < 0
                 || keyproto_recv(t->kfd, &type, &ans, &alen) < 0)) {
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

    if (holder_connect(t) == 0 && keyproto_put_sign(&b, t->digest, r->idx, hash_id, hv, hv_len) == 0
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
void set_pair(struct tlsd *t, br_ssl_server_context *sc, const struct keys_cert *c)
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

/* --check: read, parse and check everything at once. */
int run_check(struct tlsd *t)
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

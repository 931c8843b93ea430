/* keys.h: certificate chains and private keys from PEM files, checks, and the SNI table */
#ifndef YUBIN_TLS_KEYS_H
#define YUBIN_TLS_KEYS_H

#include <bearssl.h>
#include <stddef.h>
#include <time.h>

#define KEYS_PEM_MAX      (256 * 1024)  /* bytes of one PEM file (a chain or a key); ours */
#define KEYS_CHAIN_MAX    8             /* certificates in one chain (leaf + intermediates) */
#define KEYS_CERTS_MAX    64            /* certificate/key pairs in one directory (SNI) */
#define KEYS_HOST_MAX     253           /* an SNI host name (RFC 1035 text form) */
#define KEYS_WARN_DAYS    30            /* warn when a certificate expires this soon */
#define KEYS_ERR_MAX      256           /* error text incl. NUL */
#define KEYS_RSA_MAX_BYTES 512          /* RSA modulus: BearSSL supports up to 4096 bits */

struct keys_cert {
    char host[KEYS_HOST_MAX + 1];       /* "" for the default server.pem */
    br_x509_certificate chain[KEYS_CHAIN_MAX];
    size_t chain_len;
    int key_type;                       /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    int issuer_key_type;                /* of the leaf's signer (for BearSSL's full_ec) */
    br_skey_decoder_context *skey;      /* malloc'd; the key lives inside it */
    time_t not_before, not_after;
};

struct keys {
    struct keys_cert certs[KEYS_CERTS_MAX];  /* certs[0] is the default (server.pem) */
    size_t n;
};

/* Decode a PEM chain (leaf first) from text. Certificates are malloc'd into c->chain.
   0 ok; -1 with a reason in err (cap bytes) for: no CERTIFICATE, too many, bad PEM/DER. */
int keys_parse_chain(struct keys_cert *c, const char *pem, size_t len, char *err, size_t cap);
/* Decode a PEM private key ("RSA PRIVATE KEY", "EC PRIVATE KEY", unencrypted PKCS#8
   "PRIVATE KEY"). 0 ok, -1 with a reason in err. Encrypted keys are refused. */
int keys_parse_key(struct keys_cert *c, const char *pem, size_t len, char *err, size_t cap);
/* Read DIR/NAME.pem and DIR/NAME.key into c (host = NAME, or "" for "server").
   0 ok, -1 with "FILE: reason" in err. (keys_read_pair + keys_parse_pair.) */
int keys_load_pair(struct keys_cert *c, const char *dir, const char *name, char *err,
                   size_t cap);
/* Load DIR/server.{pem,key} as certs[0] and every HOST.pem with a HOST.key beside it.
   0 ok, -1 with the first error in err (nothing half-loaded is kept).
   (keys_read_dir + keys_parse_raw: what tlsd --check does.) */
int keys_load_dir(struct keys *k, const char *dir, char *err, size_t cap);

/* --- Two steps, for tlsd: read the files as root (open/read only: no decoding), parse and
   check them later, after the privilege drop and only when TLS is wanted. --- */

/* The bytes of one pair as read from disk. pem and key are malloc'd (each at most
   KEYS_PEM_MAX bytes, NULL when not read); key holds the private key (and pem may: a chain
   file can hold one too), so both are wiped with explicit_bzero before they are freed
   (keys_parse_pair, keys_raw_free_pair). */
struct keys_raw_pair {
    char name[KEYS_HOST_MAX + 1];       /* "server" or the SNI host name (file stem) */
    char *pem, *key;
    size_t pem_len, key_len;
};

/* The bytes of a certificate folder: pairs[0] is server.{pem,key}, then the SNI pairs in
   name order; at most KEYS_CERTS_MAX pairs, so at most 2 * KEYS_CERTS_MAX * KEYS_PEM_MAX
   bytes (32 MiB) in all. dir is the caller's string (it must outlive r); errors name it. */
struct keys_raw {
    const char *dir;
    struct keys_raw_pair pairs[KEYS_CERTS_MAX];
    size_t n;
};

/* Read a whole regular file of at most KEYS_PEM_MAX bytes into a malloc'd buffer (*out, one
   spare byte, not NUL-terminated; the caller frees it). 0 ok; -1 with errno: the open/read
   errno, EFBIG over KEYS_PEM_MAX, EINVAL not a regular file, EAGAIN it grew while read. */
int keys_read_file(const char *path, char **out, size_t *len);
/* Read DIR/NAME.pem and DIR/NAME.key into p (nothing is decoded). 0 ok; -1 with
   "unable to read FILE: reason" in err and nothing kept. */
int keys_read_pair(struct keys_raw_pair *p, const char *dir, const char *name, char *err,
                   size_t cap);
/* Read DIR/server.{pem,key} and every HOST.pem with a HOST.key beside it (HOST: letters,
   digits, '-', '.', at most KEYS_HOST_MAX; not "ca", not "server"), at most KEYS_CERTS_MAX
   pairs in all: the rules of keys_load_dir, with opendir/readdir/access/open/read only.
   0 ok; -1 with the first error in err and nothing kept. */
int keys_read_dir(struct keys_raw *r, const char *dir, char *err, size_t cap);
/* Decode one pair read by keys_read_pair into c, as keys_load_pair would (same messages,
   "DIR/NAME.pem: reason"). p is consumed: its bytes are wiped and freed whatever the
   result. 0 ok; -1 with err set and c freed. */
int keys_parse_pair(struct keys_cert *c, struct keys_raw_pair *p, const char *dir, char *err,
                    size_t cap);
/* Decode every pair of r into k (k->certs[i] from r->pairs[i]). r is consumed: all its bytes
   are wiped and freed whatever the result. 0 ok; -1 with the first error in err and
   nothing half-loaded kept in k. Does not run keys_check. */
int keys_parse_raw(struct keys *k, struct keys_raw *r, char *err, size_t cap);
/* Wipe and free the bytes of one pair / of every pair (r->n becomes 0). Safe to call twice
   and on a zeroed struct. */
void keys_raw_free_pair(struct keys_raw_pair *p);
void keys_raw_free(struct keys_raw *r);

/* 1 if the private key belongs to the leaf certificate's public key, 0 if not. */
int keys_match(const struct keys_cert *c);
/* Validity of a DER certificate: notBefore/notAfter as UTC seconds. 0 ok, -1 malformed. */
int keys_validity(const unsigned char *der, size_t len, time_t *not_before, time_t *not_after);
/* Full check of one pair at time now: key matches, not expired, not yet valid.
   0 ok, -1 with a sentence in err; *days_left is set to the whole days until notAfter. */
int keys_check(const struct keys_cert *c, time_t now, long *days_left, char *err, size_t cap);

/* The pair for an SNI name (case-insensitive exact host match), else certs[0]. name may be
   NULL or "". */
const struct keys_cert *keys_find(const struct keys *k, const char *name);

/* Wipe and free one pair / all pairs. */
void keys_free_cert(struct keys_cert *c);
void keys_free(struct keys *k);
/* Wipe only the private keys of every pair except keep (may be NULL): after the handshake
   tlsd needs none, during it only the chosen one. */
void keys_wipe_keys(struct keys *k, const struct keys_cert *keep);

#endif

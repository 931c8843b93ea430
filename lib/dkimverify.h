/* dkimverify.h: DKIM verification (RFC 6376 §6, RFC 8301) of the signatures of one message in
   memory, keys asked through the caller's TXT function (lib/spfdns over lib/dns in smtpd; a
   table in the unit tests and fuzz_dkimverify). Canonicalization and parsers: lib/dkim.
   rsa-sha256 only; rsa-sha1 and keys under 1024 bits are refused (RFC 8301 §3.1, §3.2). */
#ifndef YUBIN_DKIMVERIFY_H
#define YUBIN_DKIMVERIFY_H

#include "dkim.h"
#include "spf.h"

#include <stddef.h>

#define DKIMV_SIGS_MAX      5       /* DKIM-Signature fields verified per message (the rest: not) */
#define DKIMV_FIELDS_MAX    4096    /* header fields indexed; more: every signature permerror */
#define DKIMV_FIELDS_FEW    64      /* indexed on the stack first; a longer header: the heap */
#define DKIMV_KEY_BITS_MIN  1024    /* RFC 8301 §3.2 */
#define DKIMV_WHY_MAX       96      /* the reason kept per signature */

enum dkimv_res { DKIMV_PASS, DKIMV_FAIL, DKIMV_NEUTRAL, DKIMV_TEMPERROR, DKIMV_PERMERROR };

struct dkimv_result {
    enum dkimv_res res;
    char d[SMTP_DOMAIN_MAX + 1];        /* "" when the signature could not be parsed */
    char s[DKIM_SELECTOR_MAX + 1];
    int partial;                        /* l= was given and the body has more than it signs */
    char why[DKIMV_WHY_MAX];
};

/* RFC 8601 result name ("pass", "fail" ...). */
const char *dkimv_result_name(enum dkimv_res r);

/* Verify the first DKIMV_SIGS_MAX DKIM-Signature fields of msg[0..n) (LF or CRLF line ends),
   key records through r->txt. now: seconds since the epoch (x= expiry). Returns the number of
   results written to out[0..DKIMV_SIGS_MAX); *more gets the number of signatures left out. */
size_t dkimv_verify(const char *msg, size_t n, const struct spf_resolver *r, long long now,
                    struct dkimv_result *out, size_t *more);

/* The RSA key of a DKIM key record (RFC 6376 §3.6.1) v[0..n): tags v (DKIM1), k (rsa), h
   (must allow sha256), p (SubjectPublicKeyInfo or RSAPublicKey DER, base64). Writes the
   modulus and exponent into nbuf[DKIMV_N_MAX] / ebuf[8]. 0 ok; -1 with why set. */
#define DKIMV_N_MAX 512                 /* 4096 bits, BearSSL's RSA limit */
int dkimv_key_parse(const char *v, size_t n, unsigned char *nbuf, size_t *nlen,
                    unsigned char *ebuf, size_t *elen, const char **why);

#endif

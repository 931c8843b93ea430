/* srs.h: the Sender Rewriting Scheme (SRS0/SRS1, as libsrs2 and postsrsd write it) for mail an
   alias forwards to another domain: queue-run rewrites the sender, smtpd decodes the bounce.
   Secrets in ROOT/etc/srs (one a line, the first signs, any verifies: rotation). */
#ifndef YUBIN_SRS_H
#define YUBIN_SRS_H

#include "limits.h"

#include <stddef.h>
#include <time.h>

#define SRS_SECRETS_MAX     8       /* lines of ROOT/etc/srs that count */
#define SRS_SECRET_MAX      256     /* octets of one secret */
#define SRS_HASH_LEN        4       /* base64 characters of HMAC-SHA1 kept */
#define SRS_MAX_AGE_DEFAULT 21      /* days a bounce address stays valid (SRS_MAX_AGE) */

struct srs_keys {
    unsigned n;                                 /* 0: SRS is off (no ROOT/etc/srs) */
    unsigned char s[SRS_SECRETS_MAX][SRS_SECRET_MAX];
    size_t len[SRS_SECRETS_MAX];
};

/* Read ROOT/etc/srs: blank lines and '#' lines skipped, each other line one secret (trailing
   blanks cut). 0 ok (k->n may be 0 when the file is missing: SRS off), -1 error (errno; EINVAL
   for a line over SRS_SECRET_MAX octets). */
int srs_keys_load(const char *root, struct srs_keys *k);

/* The address to send as when forwarding mail from sender through domain (our host name):
   a plain sender becomes SRS0=HHHH=TT=its.domain=its-local@domain; an SRS0 address of another
   forwarder becomes SRS1=HHHH=that.forwarder==HHHH=TT=...@domain; an SRS1 address keeps its
   first forwarder and gets our hash. TT is the day (now) mod 1024 in two base32 characters.
   k->n must be > 0. Writes out[cap] (NUL-terminated). 1 rewritten, 0 left as it is (empty
   sender, one without a domain, or one already at domain), -1 error (E2BIG: the result would
   exceed ADDR_MAX or cap; EINVAL: sender has no local part). */
int srs_forward(const struct srs_keys *k, const char *sender, const char *domain, time_t now,
                char *out, size_t cap);

enum srs_result {
    SRS_NOT,            /* not an SRS address (no SRS0/SRS1 prefix) */
    SRS_OK,             /* decoded into out */
    SRS_BAD,            /* the syntax is broken */
    SRS_FORGED,         /* the hash is not one any of our secrets makes */
    SRS_EXPIRED         /* the timestamp is more than max_age days old */
};

/* Decode the local part local[0..n) of an address at our SRS domain: SRS0 gives the original
   sender, SRS1 the SRS0 address at the first forwarder. Hashes compare without regard to case
   (some mailers lower-case addresses). max_age in days. out[cap] (NUL-terminated, at most
   ADDR_MAX octets) on SRS_OK. Pure apart from k; fuzzed. */
enum srs_result srs_reverse(const struct srs_keys *k, const char *local, size_t n, time_t now,
                            unsigned max_age, char *out, size_t cap);

#endif

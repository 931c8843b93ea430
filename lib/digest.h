/* digest.h: SHA-256 digests in lower-case hex (BearSSL): the member page's session file names,
   acctd's record of an administrator's hash, users.cdb's password fingerprint (pwid=) */
#ifndef YUBIN_DIGEST_H
#define YUBIN_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64       /* a SHA-256 in hex */

/* p[0..n) in lower hex into out[2 * n + 1]. */
void digest_hex(const unsigned char *p, size_t n, char *out);
/* The SHA-256 of s[0..n) in lower hex into out[DIGEST_HEX_LEN + 1]. */
void digest_sha256_hex(const void *s, size_t n, char *out);

#endif

/* digest.c: SHA-256 digests in lower-case hex (digest.h) */
#include "digest.h"

#include <bearssl.h>

void digest_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hexdig[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void digest_sha256_hex(const void *s, size_t n, char *out)
{
    br_sha256_context c;
    unsigned char h[br_sha256_SIZE];
    br_sha256_init(&c);
    br_sha256_update(&c, s, n);
    br_sha256_out(&c, h);
    digest_hex(h, sizeof h, out);
}

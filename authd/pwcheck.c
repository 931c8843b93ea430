/* pwcheck.c: verify a password against a crypt(3) hash (libxcrypt) in constant time */
#include "pwcheck.h"
#include "str.h"

#include <stdlib.h>
#include <string.h>

int pw_verify(const char *password, const char *hash)
{
    /* struct crypt_data is about 32 KB: on the heap, zeroed as crypt_rn requires */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *out;
    size_t n = strlen(hash);
    int r;

    if (!cd) {
        return -1;
    }
    out = crypt_rn(password, hash, cd, (int)sizeof *cd);
    if (!out || out[0] == '*' || n == 0) {
        r = -1;
    } else {
        r = strlen(out) == n && str_equal_ct(out, hash, n);
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return r;
}

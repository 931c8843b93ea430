/* fuzz_keyproto: the tlsd <-> tlskeyd decoders (tls/keyproto.c) on arbitrary bodies: what
   they accept stays inside its bounds, and a decoded folder or session encodes back to the
   same bytes */
#include "tls/keyproto.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct keys_raw r;
    static struct keys k;
    static struct keyproto_pair pairs[KEYS_CERTS_MAX];
    struct keyproto_session sess;
    int whole;
    char dir[256];
    unsigned char digest[KEYPROTO_DIGEST];
    const unsigned char *hv;
    unsigned idx, id;
    size_t hl, i;

    if (keyproto_get_raw(data, size, &r, dir, sizeof dir) == 0) {
        struct keyproto_buf b = { NULL, 0, 0 };
        if (r.n == 0 || r.n > KEYS_CERTS_MAX || keyproto_put_raw(&b, &r) < 0 || b.len != size
            || memcmp(b.p, data, size) != 0) {
            __builtin_trap();
        }
        keyproto_free(&b);
        keys_raw_free(&r);
    }
    if (keyproto_get_chains(data, size, &k, pairs) == 0) {
        for (i = 0; i < k.n; i++) {
            if (k.certs[i].chain_len == 0 || k.certs[i].chain_len > KEYS_CHAIN_MAX
                || strlen(k.certs[i].host) > KEYS_HOST_MAX || k.certs[i].skey) {
                __builtin_trap();
            }
        }
        keys_free(&k);
    }
    if (keyproto_get_sign(data, size, digest, &idx, &id, &hv, &hl) == 0
        && (idx >= KEYS_CERTS_MAX || hl > KEYPROTO_HASH_MAX || hv + hl != data + size)) {
        __builtin_trap();
    }
    for (whole = 0; whole <= 1; whole++) {
        if (keyproto_get_session(data, size, &sess, whole) == 0) {
            struct keyproto_buf b = { NULL, 0, 0 };
            if ((whole && (sess.version < 0x0301 || sess.version > 0x0303 || sess.suite == 0))
                || keyproto_put_session(&b, &sess, whole) < 0 || b.len != size
                || memcmp(b.p, data, size) != 0) {
                __builtin_trap();
            }
            keyproto_free(&b);
        }
    }
    return 0;
}

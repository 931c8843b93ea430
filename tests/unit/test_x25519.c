/* test_x25519.c: tls/x25519 against RFC 7748's vectors, and as a br_ec_impl against
   BearSSL's own m31 code (the implementation it replaces) on the same inputs. */
#include "tls/x25519.h"
#include "t.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void unhex(unsigned char *out, const char *hex)
{
    size_t i;
    for (i = 0; hex[2 * i]; i++) {
        unsigned v;
        (void)sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

static int eq_hex(const unsigned char *got, const char *want)
{
    unsigned char w[32];
    unhex(w, want);
    return memcmp(got, w, 32) == 0;
}

/* RFC 7748 section 5.2: scalar, u-coordinate, result (the second u has bit 255 set) */
static const char *const vectors[][3] = {
    { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
      "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
      "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
    { "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
      "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
      "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static void fill(unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        p[i] = (unsigned char)(rng_state >> 24);
    }
}

#ifdef __SIZEOF_INT128__
static void rfc_vectors(void)
{
    unsigned char k[32], u[32], out[32], next[32];
    unsigned char a_priv[32], b_priv[32], a_pub[32], b_pub[32], s1[32], s2[32];
    static const unsigned char nine[32] = { 9 };
    size_t i;
    int n;

    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        unhex(k, vectors[i][0]);
        unhex(u, vectors[i][1]);
        T_EQ_INT(x25519(out, k, u), 1, "RFC 7748 5.2 vector: not the zero point");
        T_CHECK(eq_hex(out, vectors[i][2]), "RFC 7748 5.2 vector %zu", i + 1);
    }
    /* the iterated test: k = u = 9; k, u = X25519(k, u), k */
    memcpy(k, nine, 32);
    memcpy(u, nine, 32);
    for (n = 1; n <= 1000; n++) {
        (void)x25519(next, k, u);
        memcpy(u, k, 32);
        memcpy(k, next, 32);
        if (n == 1) {
            T_CHECK(eq_hex(k, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"),
                    "RFC 7748 5.2: after one iteration");
        }
    }
    T_CHECK(eq_hex(k, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"),
            "RFC 7748 5.2: after 1,000 iterations");
    /* section 6.1: both sides' public keys and the shared secret */
    unhex(a_priv, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    unhex(b_priv, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    (void)x25519(a_pub, a_priv, nine);
    (void)x25519(b_pub, b_priv, nine);
    T_CHECK(eq_hex(a_pub, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
            "RFC 7748 6.1: Alice's public key");
    T_CHECK(eq_hex(b_pub, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
            "RFC 7748 6.1: Bob's public key");
    (void)x25519(s1, a_priv, b_pub);
    (void)x25519(s2, b_priv, a_pub);
    T_CHECK(eq_hex(s1, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
                && memcmp(s1, s2, 32) == 0,
            "RFC 7748 6.1: the same shared secret on both sides");
    /* u = 0 and u = 1 are of small order: the result is the zero point */
    memset(u, 0, 32);
    T_EQ_INT(x25519(out, a_priv, u), 0, "u = 0 gives the zero point");
    u[0] = 1;
    T_EQ_INT(x25519(out, a_priv, u), 0, "u = 1 gives the zero point");
}
#endif

/* Through the br_ec_impl, as BearSSL's handshake calls it, against br_ec_c25519_m31. */
static void against_bearssl(void)
{
    const br_ec_impl *ours = x25519_ec(), *theirs = &br_ec_c25519_m31;
    unsigned char x[32], g1[32], g2[32], r1[133], r2[133];
    size_t len1, len2, xlen;
    int i, same_mul = 1, same_ret = 1, same_gen = 1, same_len = 1;

    T_CHECK(ours->supported_curves == br_ec_get_default()->supported_curves,
            "the same curves as BearSSL's default (0x%x)", (unsigned)ours->supported_curves);
    for (i = 0; i < 300; i++) {
        xlen = i < 20 ? (size_t)(1 + i) : 32;   /* short big-endian multipliers too */
        fill(x, xlen);
        fill(g1, 32);
        if (i == 0) {
            memset(g1, 0, 32);                  /* small order: both must agree on it */
        }
        memcpy(g2, g1, 32);
        if (ours->mul(g1, 32, x, xlen, BR_EC_curve25519)
            != theirs->mul(g2, 32, x, xlen, BR_EC_curve25519)) {
            same_ret = 0;
        }
        if (memcmp(g1, g2, 32) != 0) {
            same_mul = 0;
        }
        len1 = ours->mulgen(r1, x, xlen, BR_EC_curve25519);
        len2 = theirs->mulgen(r2, x, xlen, BR_EC_curve25519);
        if (len1 != len2) {
            same_len = 0;
        }
        if (len1 != 32 || memcmp(r1, r2, 32) != 0) {
            same_gen = 0;
        }
    }
    T_CHECK(same_mul, "mul: the same points as br_ec_c25519_m31 (300 random cases)");
    T_CHECK(same_ret, "mul: the same return values as br_ec_c25519_m31");
    T_CHECK(same_gen, "mulgen: the same public keys as br_ec_c25519_m31");
    T_CHECK(same_len, "mulgen: the same lengths as br_ec_c25519_m31");
    T_EQ_INT(ours->mul(g1, 31, x, 32, BR_EC_curve25519), 0, "mul: a 31-byte point is refused");

    /* the other curves are BearSSL's: P-256 key generation gives the same point */
    fill(x, 32);
    x[0] &= 0x7f;
    len1 = ours->mulgen(r1, x, 32, BR_EC_secp256r1);
    len2 = br_ec_p256_m31.mulgen(r2, x, 32, BR_EC_secp256r1);
    T_CHECK(len1 == 65 && len1 == len2 && memcmp(r1, r2, len1) == 0,
            "P-256 mulgen is BearSSL's (%zu bytes)", len1);
    {
        size_t olen1, olen2;
        const unsigned char *o1 = ours->order(BR_EC_curve25519, &olen1);
        const unsigned char *o2 = theirs->order(BR_EC_curve25519, &olen2);
        T_CHECK(olen1 == olen2 && memcmp(o1, o2, olen1) == 0, "Curve25519 order as BearSSL's");
        T_EQ_INT(ours->xoff(BR_EC_curve25519, &olen1), 0, "Curve25519 x offset 0");
        T_EQ_INT(olen1, 32, "Curve25519 x length 32");
    }
}

int main(void)
{
#ifdef __SIZEOF_INT128__
    rfc_vectors();
#else
    T_CHECK(x25519_ec() == br_ec_get_default(), "no 128-bit integers: BearSSL's code");
#endif
    against_bearssl();
    return T_DONE();
}

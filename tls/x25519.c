/* x25519.c: X25519 (RFC 7748 section 5) with five 51-bit limbs, for tlsd's and remote's ECDHE */
#include "x25519.h"

#include <stdint.h>
#include <string.h>

#ifdef __SIZEOF_INT128__

/* A field element mod p = 2^255 - 19 is h[0] + h[1]*2^51 + ... + h[4]*2^204. Every function
   below returns limbs below 2^51 + 2^14 ("carried"), and takes carried limbs: then a product
   of two limbs times 19, summed five times, stays below 2^111, and the carry out of the top
   limb times 19 below 2^64. */
typedef uint64_t fe[5];
typedef unsigned __int128 u128;

#define LIMB_MASK ((UINT64_C(1) << 51) - 1)

static uint64_t load64_le(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static void store64_le(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* 32 bytes little-endian; bit 255 is ignored (RFC 7748 section 5) */
static void fe_load(fe h, const unsigned char s[32])
{
    uint64_t w0 = load64_le(s), w1 = load64_le(s + 8), w2 = load64_le(s + 16),
             w3 = load64_le(s + 24);
    h[0] = w0 & LIMB_MASK;
    h[1] = (w0 >> 51 | w1 << 13) & LIMB_MASK;
    h[2] = (w1 >> 38 | w2 << 26) & LIMB_MASK;
    h[3] = (w2 >> 25 | w3 << 39) & LIMB_MASK;
    h[4] = (w3 >> 12) & LIMB_MASK;
}

/* Carry each of limbs 0..3 into the next: h[0..3] end below 2^51, h[4] takes the rest. */
static void fe_carry_up(fe h)
{
    int i;
    for (i = 0; i < 4; i++) {
        h[i + 1] += h[i] >> 51;
        h[i] &= LIMB_MASK;
    }
}

/* Carry limbs below 2^63 into carried form; the top carry wraps around times 19 (2^255 = 19). */
static void fe_carry(fe h)
{
    uint64_t c;
    fe_carry_up(h);
    c = h[4] >> 51;
    h[4] &= LIMB_MASK;
    h[0] += c * 19;
    c = h[0] >> 51;
    h[0] &= LIMB_MASK;
    h[1] += c;
}

/* The unique value below p, 32 bytes little-endian. */
static void fe_store(unsigned char s[32], const fe f)
{
    fe h;
    uint64_t q;
    memcpy(h, f, sizeof h);
    fe_carry(h);
    fe_carry(h);
    /* q = 1 when h >= p, that is when h + 19 reaches 2^255 */
    q = (h[0] + 19) >> 51;
    q = (h[1] + q) >> 51;
    q = (h[2] + q) >> 51;
    q = (h[3] + q) >> 51;
    q = (h[4] + q) >> 51;
    h[0] += 19 * q;
    fe_carry_up(h);
    h[4] &= LIMB_MASK;      /* minus 2^255 * q */
    store64_le(s, h[0] | h[1] << 51);
    store64_le(s + 8, h[1] >> 13 | h[2] << 38);
    store64_le(s + 16, h[2] >> 26 | h[3] << 25);
    store64_le(s + 24, h[3] >> 39 | h[4] << 12);
}

static void fe_add(fe h, const fe f, const fe g)
{
    int i;
    for (i = 0; i < 5; i++) {
        h[i] = f[i] + g[i];
    }
    fe_carry(h);
}

/* f - g as f + 4p - g: 4p's limbs (2^53 - 76, then 2^53 - 4) exceed any carried limb of g */
static void fe_sub(fe h, const fe f, const fe g)
{
    h[0] = f[0] + (UINT64_C(1) << 53) - 76 - g[0];
    h[1] = f[1] + (UINT64_C(1) << 53) - 4 - g[1];
    h[2] = f[2] + (UINT64_C(1) << 53) - 4 - g[2];
    h[3] = f[3] + (UINT64_C(1) << 53) - 4 - g[3];
    h[4] = f[4] + (UINT64_C(1) << 53) - 4 - g[4];
    fe_carry(h);
}

/* t[0..4] (each below 2^115) into carried limbs */
static void fe_reduce(fe h, u128 t0, u128 t1, u128 t2, u128 t3, u128 t4)
{
    uint64_t c;
    t1 += (uint64_t)(t0 >> 51);
    h[0] = (uint64_t)t0 & LIMB_MASK;
    t2 += (uint64_t)(t1 >> 51);
    h[1] = (uint64_t)t1 & LIMB_MASK;
    t3 += (uint64_t)(t2 >> 51);
    h[2] = (uint64_t)t2 & LIMB_MASK;
    t4 += (uint64_t)(t3 >> 51);
    h[3] = (uint64_t)t3 & LIMB_MASK;
    c = (uint64_t)(t4 >> 51);
    h[4] = (uint64_t)t4 & LIMB_MASK;
    h[0] += c * 19;
    c = h[0] >> 51;
    h[0] &= LIMB_MASK;
    h[1] += c;
}

static void fe_mul(fe h, const fe f, const fe g)
{
    uint64_t g1 = 19 * g[1], g2 = 19 * g[2], g3 = 19 * g[3], g4 = 19 * g[4];
    u128 t0, t1, t2, t3, t4;
    t0 = (u128)f[0] * g[0] + (u128)f[1] * g4 + (u128)f[2] * g3 + (u128)f[3] * g2
         + (u128)f[4] * g1;
    t1 = (u128)f[0] * g[1] + (u128)f[1] * g[0] + (u128)f[2] * g4 + (u128)f[3] * g3
         + (u128)f[4] * g2;
    t2 = (u128)f[0] * g[2] + (u128)f[1] * g[1] + (u128)f[2] * g[0] + (u128)f[3] * g4
         + (u128)f[4] * g3;
    t3 = (u128)f[0] * g[3] + (u128)f[1] * g[2] + (u128)f[2] * g[1] + (u128)f[3] * g[0]
         + (u128)f[4] * g4;
    t4 = (u128)f[0] * g[4] + (u128)f[1] * g[3] + (u128)f[2] * g[2] + (u128)f[3] * g[1]
         + (u128)f[4] * g[0];
    fe_reduce(h, t0, t1, t2, t3, t4);
}

static void fe_sq(fe h, const fe f)
{
    uint64_t d0 = 2 * f[0], d1 = 2 * f[1], d3_19 = 2 * 19 * f[3], f3_19 = 19 * f[3],
             f4_19 = 19 * f[4];
    u128 t0, t1, t2, t3, t4;
    t0 = (u128)f[0] * f[0] + (u128)d1 * f4_19 + (u128)(2 * f[2]) * f3_19;
    t1 = (u128)d0 * f[1] + (u128)(2 * f[2]) * f4_19 + (u128)f[3] * f3_19;
    t2 = (u128)d0 * f[2] + (u128)f[1] * f[1] + (u128)d3_19 * f[4];
    t3 = (u128)d0 * f[3] + (u128)d1 * f[2] + (u128)f[4] * f4_19;
    t4 = (u128)d0 * f[4] + (u128)d1 * f[3] + (u128)f[2] * f[2];
    fe_reduce(h, t0, t1, t2, t3, t4);
}

/* f times 121665, the curve's (A - 2) / 4 */
static void fe_mul_a24(fe h, const fe f)
{
    fe_reduce(h, (u128)f[0] * 121665, (u128)f[1] * 121665, (u128)f[2] * 121665,
              (u128)f[3] * 121665, (u128)f[4] * 121665);
}

static void fe_sq_n(fe h, const fe f, int n)
{
    fe_sq(h, f);
    while (--n > 0) {
        fe_sq(h, h);
    }
}

/* z^(p - 2) = z^(2^255 - 21), the inverse (0 for 0) */
static void fe_invert(fe out, const fe z)
{
    fe z2, z9, z11, a, b, c;
    fe_sq(z2, z);                       /* 2 */
    fe_sq_n(a, z2, 2);                  /* 8 */
    fe_mul(z9, a, z);                   /* 9 */
    fe_mul(z11, z9, z2);                /* 11 */
    fe_sq(a, z11);                      /* 22 */
    fe_mul(a, a, z9);                   /* 2^5 - 1 */
    fe_sq_n(b, a, 5);
    fe_mul(b, b, a);                    /* 2^10 - 1 */
    fe_sq_n(c, b, 10);
    fe_mul(c, c, b);                    /* 2^20 - 1 */
    fe_sq_n(a, c, 20);
    fe_mul(a, a, c);                    /* 2^40 - 1 */
    fe_sq_n(a, a, 10);
    fe_mul(b, a, b);                    /* 2^50 - 1 */
    fe_sq_n(a, b, 50);
    fe_mul(c, a, b);                    /* 2^100 - 1 */
    fe_sq_n(a, c, 100);
    fe_mul(a, a, c);                    /* 2^200 - 1 */
    fe_sq_n(a, a, 50);
    fe_mul(a, a, b);                    /* 2^250 - 1 */
    fe_sq_n(a, a, 5);
    fe_mul(out, a, z11);                /* 2^255 - 32 + 11 */
}

/* swap f and g when bit is 1, without a branch */
static void fe_cswap(fe f, fe g, uint64_t bit)
{
    uint64_t mask = (uint64_t)0 - bit, x;
    int i;
    for (i = 0; i < 5; i++) {
        x = mask & (f[i] ^ g[i]);
        f[i] ^= x;
        g[i] ^= x;
    }
}

int x25519(unsigned char out[32], const unsigned char k[32], const unsigned char u[32])
{
    unsigned char e[32], zero = 0;
    fe x1, x2, z2, x3, z3, a, aa, b, bb, ee, c, d, da, cb;
    uint64_t swap = 0;
    int t, i;

    memcpy(e, k, 32);
    e[0] &= 248;
    e[31] &= 127;
    e[31] |= 64;
    fe_load(x1, u);
    memset(x2, 0, sizeof x2);
    x2[0] = 1;
    memset(z2, 0, sizeof z2);
    memcpy(x3, x1, sizeof x3);
    memset(z3, 0, sizeof z3);
    z3[0] = 1;
    for (t = 254; t >= 0; t--) {
        uint64_t bit = (uint64_t)(e[t >> 3] >> (t & 7)) & 1;
        swap ^= bit;
        fe_cswap(x2, x3, swap);
        fe_cswap(z2, z3, swap);
        swap = bit;
        fe_add(a, x2, z2);
        fe_sq(aa, a);
        fe_sub(b, x2, z2);
        fe_sq(bb, b);
        fe_sub(ee, aa, bb);
        fe_add(c, x3, z3);
        fe_sub(d, x3, z3);
        fe_mul(da, d, a);
        fe_mul(cb, c, b);
        fe_add(x3, da, cb);
        fe_sq(x3, x3);
        fe_sub(z3, da, cb);
        fe_sq(z3, z3);
        fe_mul(z3, z3, x1);
        fe_mul(x2, aa, bb);
        fe_mul_a24(z2, ee);
        fe_add(z2, z2, aa);
        fe_mul(z2, z2, ee);
    }
    fe_cswap(x2, x3, swap);
    fe_cswap(z2, z3, swap);
    fe_invert(z2, z2);
    fe_mul(x2, x2, z2);
    fe_store(out, x2);
    explicit_bzero(e, sizeof e);
    for (i = 0; i < 32; i++) {
        zero |= out[i];
    }
    return zero != 0;
}

/* --- the br_ec_impl --- */

static const unsigned char c25519_base[32] = { 9 };

/* As BearSSL's c25519 code takes the multiplier (whatever the br_ec_impl comment says of
   big-endian): its bytes are the scalar of RFC 7748, little-endian, up to 32, zero-extended.
   test_x25519 checks this against br_ec_c25519_m31. */
static uint32_t c25519_mul(unsigned char *G, size_t Glen, const unsigned char *x, size_t xlen)
{
    unsigned char k[32];
    if (Glen != 32 || xlen > 32) {
        return 0;
    }
    memset(k, 0, sizeof k);
    memcpy(k, x, xlen);
    (void)x25519(G, k, G);      /* u is read whole before out is written */
    explicit_bzero(k, sizeof k);
    return 1;
}

static const unsigned char *ec_generator(int curve, size_t *len)
{
    return br_ec_get_default()->generator(curve, len);
}

static const unsigned char *ec_order(int curve, size_t *len)
{
    return br_ec_get_default()->order(curve, len);
}

static size_t ec_xoff(int curve, size_t *len)
{
    return br_ec_get_default()->xoff(curve, len);
}

static uint32_t ec_mul(unsigned char *G, size_t Glen, const unsigned char *x, size_t xlen,
                       int curve)
{
    if (curve == BR_EC_curve25519) {
        return c25519_mul(G, Glen, x, xlen);
    }
    return br_ec_get_default()->mul(G, Glen, x, xlen, curve);
}

static size_t ec_mulgen(unsigned char *R, const unsigned char *x, size_t xlen, int curve)
{
    if (curve == BR_EC_curve25519) {
        memcpy(R, c25519_base, sizeof c25519_base);
        return c25519_mul(R, sizeof c25519_base, x, xlen) ? sizeof c25519_base : 0;
    }
    return br_ec_get_default()->mulgen(R, x, xlen, curve);
}

static uint32_t ec_muladd(unsigned char *A, const unsigned char *B, size_t len,
                          const unsigned char *x, size_t xlen, const unsigned char *y,
                          size_t ylen, int curve)
{
    return br_ec_get_default()->muladd(A, B, len, x, xlen, y, ylen, curve);
}

/* the curves of BearSSL's aggregate implementations (m31 and m15 alike) */
static const br_ec_impl ec_impl = {
    (uint32_t)1 << BR_EC_secp256r1 | (uint32_t)1 << BR_EC_secp384r1
        | (uint32_t)1 << BR_EC_secp521r1 | (uint32_t)1 << BR_EC_curve25519,
    ec_generator, ec_order, ec_xoff, ec_mul, ec_mulgen, ec_muladd,
};

const br_ec_impl *x25519_ec(void)
{
    return &ec_impl;
}

#else   /* no 128-bit integers: BearSSL's own code throughout */

const br_ec_impl *x25519_ec(void)
{
    return br_ec_get_default();
}

#endif

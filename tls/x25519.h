/* x25519.h: X25519 (RFC 7748) on 64-bit words, as a BearSSL EC implementation */
#ifndef YUBIN_X25519_H
#define YUBIN_X25519_H

#include <bearssl.h>

/* BearSSL's EC implementation for every curve, with Curve25519's mul and mulgen done by
   x25519() on 51-bit limbs (the Debian build of BearSSL has only its 31-bit code, about three
   times slower here). Same conventions as br_ec_c25519_m31: the point is the 32-byte
   little-endian u-coordinate, the multiplier RFC 7748's little-endian scalar, clamped
   inside. Without a 128-bit integer type it is br_ec_get_default() itself. */
const br_ec_impl *x25519_ec(void);

#ifdef __SIZEOF_INT128__
/* u (32 bytes, little-endian, top bit ignored) times the clamped scalar k (32 bytes,
   little-endian as in RFC 7748) into out (which may be u). Returns 0 when the result is the
   all-zero point (u of small order), else 1. Constant time in k and u. Only where the
   compiler has unsigned __int128 (x86-64, arm64 and the other 64-bit targets of gcc and
   clang). */
int x25519(unsigned char out[32], const unsigned char k[32], const unsigned char u[32]);
#endif

#endif

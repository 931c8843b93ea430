/* b64.h: strict base64 (RFC 4648 §4) for SASL (RFC 4954 §4, RFC 5034) */
#ifndef YUBIN_B64_H
#define YUBIN_B64_H

#include <stddef.h>

/* Decode n characters into out (cap bytes). Rejects characters outside the alphabet,
   misplaced '=' and lengths not a multiple of 4. Returns decoded length, -1 if invalid
   or if out is too small (needs n/4*3). */
long b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/* Encode n bytes into out (cap >= 4*((n+2)/3)+1, NUL-terminated). Returns length, -1 if small. */
long b64_encode(const unsigned char *in, size_t n, char *out, size_t cap);

#endif

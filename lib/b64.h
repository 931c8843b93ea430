/* b64.h: strict base64 (RFC 4648 §4) for SASL (RFC 4954 §4, RFC 5034) and MIME bodies */
#ifndef YUBIN_B64_H
#define YUBIN_B64_H

#include "buf.h"

#include <stddef.h>

/* Decode n characters into out (cap bytes). Rejects characters outside the alphabet,
   misplaced '=' and lengths not a multiple of 4. Returns decoded length, -1 if invalid
   or if out is too small (needs n/4*3). */
long b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/* Encode n bytes into out (cap >= 4*((n+2)/3)+1, NUL-terminated). Returns length, -1 if small. */
long b64_encode(const unsigned char *in, size_t n, char *out, size_t cap);
/* Append n bytes to out as a MIME base64 body (RFC 2045 §6.8): lines of 76 characters, each
   ended by LF. 0 ok, -1 (out's bound reached, errno from buf_append; out may hold a part). */
int b64_append_lines(struct buf *out, const void *in, size_t n);

#endif

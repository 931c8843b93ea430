/* pwcheck.h: verify a password against a crypt(3) hash (libxcrypt) in constant time */
#ifndef YUBIN_PWCHECK_H
#define YUBIN_PWCHECK_H

#include <crypt.h>
#include <stddef.h>

/* A stored hash is at most one crypt output ($6$, $y$, $2b$, $5$, $gy$, $7$, ...). */
#define PW_HASH_MAX CRYPT_OUTPUT_SIZE

/* Spent on unknown users when the map gives no better model: sha512-crypt, default cost. */
#define PW_DUMMY_SETTING "$6$yubin.dummy.salt$"

/* Hash password (NUL-terminated) with the setting in hash and compare the result with hash
   in constant time. 1 match, 0 no match, -1 hash unusable (unknown method, bad syntax, "!",
   "*") or out of memory. Wipes its working memory. */
int pw_verify(const char *password, const char *hash);

#endif

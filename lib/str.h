/* str.h: small string helpers over (pointer, length) */
#ifndef YUBIN_STR_H
#define YUBIN_STR_H

#include <stddef.h>
#include <stdint.h>

/* snprintf that fails instead of truncating: 0 ok, -1 (errno ENAMETOOLONG) if it did not fit. */
int str_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Lower-case ASCII in place. */
void str_lower(char *s, size_t n);
/* 1 if the first n bytes of a equal b ignoring ASCII case (b NUL-terminated, strlen(b) == n). */
int str_eq_nocase(const char *a, size_t n, const char *b);
/* 1 if s (length n) starts with prefix, ignoring ASCII case. */
int str_start_nocase(const char *s, size_t n, const char *prefix);
/* Decimal digits only, no sign, no overflow: 0 ok, -1 otherwise. */
int str_to_u64(const char *s, size_t n, uint64_t *out);
/* Sizes: "20M", "50m", "1G", "512K", "1048576" (bytes). M = 1048576. 0 ok, -1 bad. */
int str_to_size(const char *s, uint64_t *out);
/* "20 MB" style rendering of a byte count into out (cap >= 32). */
void str_size_human(uint64_t bytes, char *out, size_t cap);
/* 1 if any byte is < 0x20 or 0x7f (control characters, NUL, CR, LF). */
int str_has_ctl(const char *s, size_t n);
/* 1 if ip looks like a plain IPv4/IPv6 text address (hex digits, '.', ':'; 1..45 octets), so it
   is safe as a file name; 0 otherwise. Not a full address parser. */
int str_ip_text_ok(const char *ip);
/* The group a client address is counted in (authd's throttle, the per-address session slots
   of lib/ipslot): IPv4 as is, IPv4-mapped IPv6 ("::ffff:192.0.2.1") as IPv4, other IPv6 as
   its /64 ("2001:db8:1:2::/64": one home line or host holds a whole /64), anything else
   (including "") unchanged. The group is at most max(strlen(ip), 24) octets long (24:
   "ffff:ffff:ffff:ffff::/64"). 0 ok, -1 if it does not fit out[0..cap). */
int str_ip_group(const char *ip, char *out, size_t cap);
/* Find byte c in s[0..n); index or -1. */
long str_chr(const char *s, size_t n, char c);

/* FNV-1a, 64 bits, of p[0..n): hash tables, and rate records' check (on disk: never change). */
uint64_t str_fnv64(const void *p, size_t n);

/* 1 if a and b (n octets each) are equal; the time depends on n only (passwords, tokens). */
int str_equal_ct(const char *a, const char *b, size_t n);

#endif

/* authcache.h: authd's memory of recent successful verifications (docs/auth.md "The cache").
   Pure logic: the caller passes the key and the time, so unit tests drive both.

   An entry is found by a keyed hash of (service, login) and holds the keyed hash (HMAC-SHA256,
   a random key made when authd starts) of (service, login, password, stored hash) of a
   verification that succeeded, and its time. A later request matches only with the same
   password against the same stored hash: a new password (a new hash, a new salt) never matches
   an old entry. The table holds at most `max` entries; a login's entry lives in one set of 8
   slots chosen by that keyed hash (a look-up reads 8 entries, not the table), and a new one
   takes a free or expired slot of its set, else the oldest one's there. Entries are wiped
   when they leave and when the table is freed. Neither logins nor passwords are stored. */
#ifndef YUBIN_AUTHCACHE_H
#define YUBIN_AUTHCACHE_H

#include <stddef.h>
#include <stdint.h>

#define AUTHCACHE_KEY_LEN   32      /* the random key, octets */
#define AUTHCACHE_MAC_LEN   32      /* HMAC-SHA256 output */
#define AUTHCACHE_SLOTS_MAX 65536

struct authcache;

/* A table of max (1..AUTHCACHE_SLOTS_MAX) entries that live ttl_ms (> 0) after the verification
   that made them, keyed by key[AUTHCACHE_KEY_LEN] (copied). NULL with errno ENOMEM or EINVAL.
   Free with authcache_free. */
struct authcache *authcache_new(size_t max, uint64_t ttl_ms, const unsigned char *key);
/* Wipes the key and every entry, then frees. NULL is a no-op. */
void authcache_free(struct authcache *c);
/* Wipes every entry and keeps the key (a forked worker needs the key only). */
void authcache_forget_all(struct authcache *c);

/* The keyed hash of one verification into mac[AUTHCACHE_MAC_LEN]: service and login
   NUL-terminated, password passlen octets, hash hashlen octets (each field length-prefixed,
   so no two different tuples share an input). */
void authcache_mac(const struct authcache *c, const char *service, const char *login,
                   const char *password, size_t passlen, const char *hash, size_t hashlen,
                   unsigned char *mac);

/* 1 if (service, login) has an entry younger than ttl at now, else 0: whether reading the maps
   for authcache_match is worth it. */
int authcache_has(const struct authcache *c, const char *service, const char *login,
                  uint64_t now_ms);
/* 1 if (service, login) has an entry younger than ttl whose keyed hash equals mac (compared in
   constant time), else 0. An expired entry found on the way is wiped. */
int authcache_match(struct authcache *c, const char *service, const char *login,
                    const unsigned char *mac, uint64_t now_ms);
/* Remember a verification of (service, login) that succeeded at now with keyed hash mac:
   replaces that login's entry, else takes a free or expired slot of its set, else evicts the
   oldest of the set. */
void authcache_put(struct authcache *c, const char *service, const char *login,
                   const unsigned char *mac, uint64_t now_ms);
/* Entries in use (expired ones included until reused or wiped); for tests and the log. */
size_t authcache_used(const struct authcache *c);

#endif

/* authcache.c: authd's memory of recent successful verifications (rules in authcache.h) */
#include "authcache.h"
#include "str.h"

#include <bearssl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A login's entry lives in one set of AUTHCACHE_WAYS consecutive slots, chosen by its id (a
   keyed hash, so uniform): a look-up reads at most that many entries, not the whole table. */
#define AUTHCACHE_WAYS 8

struct entry {
    uint64_t at;                        /* time of the verification that made it */
    unsigned used;
    unsigned char id[AUTHCACHE_MAC_LEN];    /* keyed hash of (service, login) */
    unsigned char mac[AUTHCACHE_MAC_LEN];   /* keyed hash of the whole verification */
};

struct authcache {
    br_hmac_key_context key;
    uint64_t ttl_ms;
    size_t n;
    struct entry *e;
};

struct authcache *authcache_new(size_t max, uint64_t ttl_ms, const unsigned char *key)
{
    struct authcache *c;
    if (max == 0 || max > AUTHCACHE_SLOTS_MAX || ttl_ms == 0) {
        errno = EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->e = calloc(max, sizeof *c->e);
    if (!c->e) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    br_hmac_key_init(&c->key, &br_sha256_vtable, key, AUTHCACHE_KEY_LEN);
    c->ttl_ms = ttl_ms;
    c->n = max;
    return c;
}

void authcache_forget_all(struct authcache *c)
{
    explicit_bzero(c->e, c->n * sizeof *c->e);
}

void authcache_free(struct authcache *c)
{
    if (!c) {
        return;
    }
    authcache_forget_all(c);
    free(c->e);
    explicit_bzero(c, sizeof *c);
    free(c);
}

static void field(br_hmac_context *hc, const void *s, size_t n)
{
    unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n };
    br_hmac_update(hc, len, sizeof len);
    br_hmac_update(hc, s, n);
}

/* kind 'i': the entry's id (service, login); 'm': the verification (+ password, hash) */
static void keyed(const struct authcache *c, char kind, const char *service, const char *login,
                  const char *password, size_t passlen, const char *hash, size_t hashlen,
                  unsigned char *out)
{
    br_hmac_context hc;
    br_hmac_init(&hc, &c->key, 0);
    br_hmac_update(&hc, &kind, 1);
    field(&hc, service, strlen(service));
    field(&hc, login, strlen(login));
    if (kind == 'm') {
        field(&hc, password, passlen);
        field(&hc, hash, hashlen);
    }
    br_hmac_out(&hc, out);
    explicit_bzero(&hc, sizeof hc);
}

void authcache_mac(const struct authcache *c, const char *service, const char *login,
                   const char *password, size_t passlen, const char *hash, size_t hashlen,
                   unsigned char *mac)
{
    keyed(c, 'm', service, login, password, passlen, hash, hashlen, mac);
}

static int expired(const struct authcache *c, const struct entry *e, uint64_t now)
{
    return now >= e->at && now - e->at >= c->ttl_ms;
}

/* The first slot of id's set. */
static size_t set_of(const struct authcache *c, const unsigned char *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)(h % c->n);
}

static size_t ways(const struct authcache *c)
{
    return c->n < AUTHCACHE_WAYS ? c->n : AUTHCACHE_WAYS;
}

/* The entry of id in its set, or NULL. */
static struct entry *find(const struct authcache *c, const unsigned char *id)
{
    size_t i, first = set_of(c, id);
    for (i = 0; i < ways(c); i++) {
        struct entry *e = &c->e[(first + i) % c->n];
        if (e->used && memcmp(e->id, id, AUTHCACHE_MAC_LEN) == 0) {
            return e;
        }
    }
    return NULL;
}

int authcache_has(const struct authcache *c, const char *service, const char *login,
                  uint64_t now_ms)
{
    unsigned char id[AUTHCACHE_MAC_LEN];
    const struct entry *e;
    keyed(c, 'i', service, login, NULL, 0, NULL, 0, id);
    e = find(c, id);
    return e && !expired(c, e, now_ms);
}

int authcache_match(struct authcache *c, const char *service, const char *login,
                    const unsigned char *mac, uint64_t now_ms)
{
    unsigned char id[AUTHCACHE_MAC_LEN];
    struct entry *e;
    keyed(c, 'i', service, login, NULL, 0, NULL, 0, id);
    e = find(c, id);
    if (!e) {
        return 0;
    }
    if (expired(c, e, now_ms)) {
        explicit_bzero(e, sizeof *e);
        return 0;
    }
    return str_equal_ct((const char *)e->mac, (const char *)mac, AUTHCACHE_MAC_LEN);
}

void authcache_put(struct authcache *c, const char *service, const char *login,
                   const unsigned char *mac, uint64_t now_ms)
{
    unsigned char id[AUTHCACHE_MAC_LEN];
    struct entry *e, *slot = NULL;
    size_t i, first;
    keyed(c, 'i', service, login, NULL, 0, NULL, 0, id);
    e = find(c, id);
    first = set_of(c, id);
    for (i = 0; i < ways(c) && !e; i++) {
        struct entry *o = &c->e[(first + i) % c->n];
        if (!o->used || expired(c, o, now_ms)) {
            e = o;
        } else if (!slot || o->at < slot->at) {
            slot = o;   /* the oldest so far */
        }
    }
    if (!e) {
        e = slot;
    }
    explicit_bzero(e, sizeof *e);
    e->used = 1;
    e->at = now_ms;
    memcpy(e->id, id, sizeof e->id);
    memcpy(e->mac, mac, sizeof e->mac);
}

size_t authcache_used(const struct authcache *c)
{
    size_t i, n = 0;
    for (i = 0; i < c->n; i++) {
        n += c->e[i].used;
    }
    return n;
}

/* throttle.c: failure throttling for authd (rules in throttle.h) */
#include "throttle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FAILS_CAP 10000u    /* counters saturate here; delays saturate far earlier */

struct entry {
    uint64_t hash;
    uint64_t last_fail;     /* time of the last failure: expiry counts from here */
    uint64_t slot;          /* start of the last verification or time of the last failure */
    uint64_t touched;       /* last use, for LRU eviction */
    unsigned fails;
    unsigned pending;       /* admitted, not yet answered (counted as failures meanwhile) */
    unsigned used;
    size_t klen;
    char key[THROTTLE_KEY_MAX];
};

struct table {
    struct entry *e;
    size_t n;
};

struct throttle {
    struct throttle_cfg cfg;
    struct table tab[3];
};

void throttle_defaults(struct throttle_cfg *cfg)
{
    cfg->ip_free = 5;
    cfg->pair_free = 3;
    cfg->acct_free = 10;
    cfg->base_ms = 1000;
    cfg->max_ms = 16000;
    cfg->wait_max_ms = 20000;
    cfg->forget_ms = 900000;
    cfg->slots = 4096;
}

struct throttle *throttle_new(const struct throttle_cfg *cfg)
{
    struct throttle *t;
    int i;
    if (cfg->slots == 0 || cfg->slots > THROTTLE_SLOTS_MAX) {
        errno = EINVAL;
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->cfg = *cfg;
    for (i = 0; i < 3; i++) {
        t->tab[i].e = calloc(cfg->slots, sizeof(struct entry));
        t->tab[i].n = cfg->slots;
        if (!t->tab[i].e) {
            throttle_free(t);
            errno = ENOMEM;
            return NULL;
        }
    }
    return t;
}

void throttle_free(struct throttle *t)
{
    int i;
    if (!t) {
        return;
    }
    for (i = 0; i < 3; i++) {
        free(t->tab[i].e);
    }
    free(t);
}

/* FNV-1a: only to skip most key comparisons; equality is checked on the key itself */
static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Builds the key of a table; returns its length, 0 if it does not fit (never with valid input). */
static size_t make_key(enum throttle_table table, const char *ip, const char *login, char *k)
{
    size_t il = strlen(ip), ll = strlen(login);
    switch (table) {
    case THROTTLE_IP:
        if (il > AUTHREQ_IP_MAX) {
            return 0;
        }
        memcpy(k, ip, il);
        return il;
    case THROTTLE_PAIR:
        if (il > AUTHREQ_IP_MAX || ll > AUTH_FIELD_MAX) {
            return 0;
        }
        memcpy(k, ip, il);
        k[il] = '\0';
        memcpy(k + il + 1, login, ll);
        return il + 1 + ll;
    case THROTTLE_ACCT:
        if (ll > AUTH_FIELD_MAX) {
            return 0;
        }
        memcpy(k, login, ll);
        return ll;
    }
    return 0;
}

static int expired(const struct throttle *t, const struct entry *e, uint64_t now)
{
    return e->pending == 0 && now > e->last_fail && now - e->last_fail > t->cfg.forget_ms;
}

static struct entry *find(const struct throttle *t, enum throttle_table table, const char *ip,
                          const char *login, uint64_t now)
{
    const struct table *tb = &t->tab[table];
    char k[THROTTLE_KEY_MAX];
    size_t klen = make_key(table, ip, login, k), i;
    uint64_t h;
    if (klen == 0 && table != THROTTLE_IP) {
        return NULL;
    }
    h = key_hash(k, klen);
    for (i = 0; i < tb->n; i++) {
        struct entry *e = &tb->e[i];
        if (e->used && e->hash == h && e->klen == klen && memcmp(e->key, k, klen) == 0) {
            if (expired(t, e, now)) {
                e->used = 0;
                return NULL;
            }
            return e;
        }
    }
    return NULL;
}

/* The entry for a key, created (evicting an unused, expired or least recently used one). */
static struct entry *get(struct throttle *t, enum throttle_table table, const char *ip,
                         const char *login, uint64_t now)
{
    struct table *tb = &t->tab[table];
    struct entry *e = find(t, table, ip, login, now), *victim = NULL;
    size_t i;
    if (e) {
        return e;
    }
    for (i = 0; i < tb->n; i++) {
        e = &tb->e[i];
        if (!e->used || expired(t, e, now)) {
            victim = e;
            break;
        }
        if (!victim || e->touched < victim->touched) {
            victim = e;
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->klen = make_key(table, ip, login, victim->key);
    victim->hash = key_hash(victim->key, victim->klen);
    victim->used = 1;
    victim->touched = now;
    victim->last_fail = now;
    victim->slot = now;
    return victim;
}

static uint64_t delay(const struct throttle *t, unsigned fails, unsigned free)
{
    unsigned shift;
    if (fails < free || t->cfg.base_ms == 0) {
        return 0;
    }
    shift = fails - free;
    if (shift >= 32 || t->cfg.base_ms << shift >= t->cfg.max_ms) {
        return t->cfg.max_ms;
    }
    return t->cfg.base_ms << shift;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

int throttle_admit(struct throttle *t, const char *ip, const char *login, uint64_t now,
                   uint64_t *wait)
{
    struct entry *eip = find(t, THROTTLE_IP, ip, login, now);
    struct entry *epair = find(t, THROTTLE_PAIR, ip, login, now);
    struct entry *eacct = find(t, THROTTLE_ACCT, ip, login, now);
    uint64_t dip = 0, dpair = 0, start = now;

    /* Requests still being verified count as failures until they are answered, so guesses
       sent all at once are spaced like guesses sent one after another: always for one
       account from one IP; for the IP as a whole once it has failed (an office behind one
       address logging in at the same moment is not held back) */
    if (eip) {
        dip = delay(t, eip->fails + (eip->fails ? eip->pending : 0), t->cfg.ip_free);
        if (dip) {
            start = max64(start, eip->slot + dip);
        }
    }
    if (epair) {
        /* the account-wide level only reaches IPs that have failed on this account */
        dpair = max64(delay(t, epair->fails + epair->pending, t->cfg.pair_free),
                      eacct ? delay(t, eacct->fails, t->cfg.acct_free) : 0);
        if (dpair) {
            start = max64(start, epair->slot + dpair);
        }
    }
    if (start - now > t->cfg.wait_max_ms) {
        if (eip) {
            eip->touched = now;     /* a hammering IP stays the most recently used */
            eip->last_fail = now;
        }
        return -1;
    }
    if (eip && dip) {
        eip->slot = start;
        eip->touched = now;
    }
    if (epair && dpair) {
        epair->slot = start;
        epair->touched = now;
    }
    if (!eip) {
        eip = get(t, THROTTLE_IP, ip, login, now);
        eip->last_fail = 0;     /* nothing failed yet: it expires as soon as it is unused */
    }
    eip->pending++;
    if (login[0] != '\0') {
        if (!epair) {
            epair = get(t, THROTTLE_PAIR, ip, login, now);
            epair->last_fail = 0;
        }
        epair->pending++;
    }
    *wait = start - now;
    return 0;
}

void throttle_done(struct throttle *t, const char *ip, const char *login, uint64_t now)
{
    struct entry *e = find(t, THROTTLE_IP, ip, login, now);
    if (e && e->pending > 0) {
        e->pending--;
    }
    e = login[0] != '\0' ? find(t, THROTTLE_PAIR, ip, login, now) : NULL;
    if (e && e->pending > 0) {
        e->pending--;
    }
}

static void count_failure(struct entry *e, uint64_t now)
{
    if (e->fails < FAILS_CAP) {
        e->fails++;
    }
    e->last_fail = now;
    e->touched = now;
    e->slot = max64(e->slot, now);
}

void throttle_result(struct throttle *t, const char *ip, const char *login, int ok, uint64_t now)
{
    if (ok) {
        struct entry *e = find(t, THROTTLE_IP, ip, login, now);
        if (e) {
            e->used = 0;
        }
        e = find(t, THROTTLE_PAIR, ip, login, now);
        if (e) {
            e->used = 0;
        }
        return;
    }
    count_failure(get(t, THROTTLE_IP, ip, login, now), now);
    if (login[0] != '\0') {
        count_failure(get(t, THROTTLE_PAIR, ip, login, now), now);
        count_failure(get(t, THROTTLE_ACCT, ip, login, now), now);
    }
}

unsigned throttle_fails(const struct throttle *t, enum throttle_table table, const char *ip,
                        const char *login, uint64_t now)
{
    const struct entry *e = find(t, table, ip, login, now);
    return e ? e->fails : 0;
}

size_t throttle_used(const struct throttle *t, enum throttle_table table)
{
    size_t i, n = 0;
    for (i = 0; i < t->tab[table].n; i++) {
        n += t->tab[table].e[i].used;
    }
    return n;
}

/* test_authcache.c: authd's memory of successful verifications, with a fake clock */
#include "authd/authcache.h"
#include "t.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const unsigned char KEY[AUTHCACHE_KEY_LEN] = "0123456789abcdef0123456789abcdef";

/* the keyed hash of (service, login, password, hash) */
static void mac_of(const struct authcache *c, const char *svc, const char *login, const char *pw,
                   const char *hash, unsigned char *out)
{
    authcache_mac(c, svc, login, pw, strlen(pw), hash, strlen(hash), out);
}

/* remember one success at now */
static void put(struct authcache *c, const char *svc, const char *login, const char *pw,
                const char *hash, uint64_t now)
{
    unsigned char m[AUTHCACHE_MAC_LEN];
    mac_of(c, svc, login, pw, hash, m);
    authcache_put(c, svc, login, m, now);
}

static int match(struct authcache *c, const char *svc, const char *login, const char *pw,
                 const char *hash, uint64_t now)
{
    unsigned char m[AUTHCACHE_MAC_LEN];
    mac_of(c, svc, login, pw, hash, m);
    return authcache_match(c, svc, login, m, now);
}

static void test_bad_arguments(void)
{
    errno = 0;
    T_CHECK(!authcache_new(0, 1000, KEY) && errno == EINVAL, "no slots");
    T_CHECK(!authcache_new(AUTHCACHE_SLOTS_MAX + 1, 1000, KEY), "too many slots");
    T_CHECK(!authcache_new(16, 0, KEY), "ttl 0 (off is no table at all)");
    authcache_free(NULL);
}

/* Only the same service, login, password and stored hash match; nothing else does. */
static void test_match(void)
{
    static const struct {
        const char *svc, *login, *pw, *hash;
        int want;
        const char *name;
    } cases[] = {
        {"pop3", "a@example.test", "Pw 1", "$6$salt$hash", 1, "the same"},
        {"pop3", "a@example.test", "pw 1", "$6$salt$hash", 0, "password case differs"},
        {"pop3", "a@example.test", "Pw 1 ", "$6$salt$hash", 0, "password with a trailing space"},
        {"pop3", "a@example.test", "Pw 1", "$6$salt2$new", 0, "the password was changed"},
        {"smtp", "a@example.test", "Pw 1", "$6$salt$hash", 0, "another service"},
        {"pop3", "b@example.test", "Pw 1", "$6$salt$hash", 0, "another login"},
        /* length prefixes: moving octets between fields makes a different input */
        {"pop3", "a@example.test", "Pw 1$6$salt", "$hash", 0, "fields shifted"},
    };
    struct authcache *c = authcache_new(16, 60000, KEY);
    size_t i;
    T_CHECK(c != NULL, "new");
    put(c, "pop3", "a@example.test", "Pw 1", "$6$salt$hash", 1000);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(match(c, cases[i].svc, cases[i].login, cases[i].pw, cases[i].hash, 2000),
                 cases[i].want, cases[i].name);
    }
    T_EQ_INT(authcache_has(c, "pop3", "a@example.test", 2000), 1, "has the login");
    T_EQ_INT(authcache_has(c, "smtp", "a@example.test", 2000), 0, "not for smtp");
    /* a wrong password leaves the entry: the right one still matches */
    T_EQ_INT(match(c, "pop3", "a@example.test", "Pw 1", "$6$salt$hash", 3000), 1,
             "still there after a miss");
    authcache_free(c);
}

/* An entry lives ttl after the verification that made it, not after its last use. */
static void test_ttl(void)
{
    struct authcache *c = authcache_new(16, 60000, KEY);
    put(c, "smtp", "a@example.test", "pw", "h", 1000);
    T_EQ_INT(match(c, "smtp", "a@example.test", "pw", "h", 60999), 1, "just before the ttl");
    T_EQ_INT(match(c, "smtp", "a@example.test", "pw", "h", 61000), 0, "at the ttl");
    T_EQ_INT(authcache_used(c), 0, "the expired entry was wiped");
    T_EQ_INT(authcache_has(c, "smtp", "a@example.test", 61000), 0, "gone");
    put(c, "smtp", "a@example.test", "pw", "h", 61000);
    T_EQ_INT(match(c, "smtp", "a@example.test", "pw", "h", 61001), 1, "verified again");
    authcache_free(c);
}

/* A full table evicts the oldest verification; one login has one entry per service. */
static void test_bounded(void)
{
    struct authcache *c = authcache_new(4, 60000, KEY);
    char login[32];
    int i;
    for (i = 0; i < 4; i++) {
        snprintf(login, sizeof login, "u%d@example.test", i);
        put(c, "pop3", login, "pw", "h", 1000 + (uint64_t)i);
    }
    T_EQ_INT(authcache_used(c), 4, "full");
    put(c, "pop3", "u0@example.test", "pw2", "h2", 2000);      /* replaces its own entry */
    T_EQ_INT(authcache_used(c), 4, "a login's new verification takes its own entry");
    T_EQ_INT(match(c, "pop3", "u0@example.test", "pw", "h", 2001), 0, "old verification gone");
    T_EQ_INT(match(c, "pop3", "u0@example.test", "pw2", "h2", 2001), 1, "new one there");
    put(c, "pop3", "u9@example.test", "pw", "h", 3000);         /* u1 is now the oldest */
    T_EQ_INT(authcache_used(c), 4, "still 4");
    T_EQ_INT(authcache_has(c, "pop3", "u1@example.test", 3001), 0, "the oldest was evicted");
    T_EQ_INT(authcache_has(c, "pop3", "u2@example.test", 3001), 1, "the next one stays");
    T_EQ_INT(authcache_has(c, "pop3", "u9@example.test", 3001), 1, "the new one is in");
    put(c, "pop3", "u5@example.test", "pw", "h", 70000);        /* all others expired */
    T_EQ_INT(authcache_has(c, "pop3", "u5@example.test", 70001), 1, "an expired slot reused");
    authcache_forget_all(c);
    T_EQ_INT(authcache_used(c), 0, "forget_all empties the table");
    T_EQ_INT(match(c, "pop3", "u5@example.test", "pw", "h", 70001), 0, "and nothing matches");
    authcache_free(c);
}

/* Two tables with different keys give different keyed hashes (a restart forgets everything). */
static void test_key(void)
{
    static const unsigned char other[AUTHCACHE_KEY_LEN] = "fedcba9876543210fedcba9876543210";
    struct authcache *a = authcache_new(4, 1000, KEY), *b = authcache_new(4, 1000, other);
    unsigned char ma[AUTHCACHE_MAC_LEN], mb[AUTHCACHE_MAC_LEN];
    mac_of(a, "pop3", "x@example.test", "pw", "h", ma);
    mac_of(b, "pop3", "x@example.test", "pw", "h", mb);
    T_CHECK(memcmp(ma, mb, sizeof ma) != 0, "keyed");
    authcache_put(a, "pop3", "x@example.test", ma, 10);
    T_EQ_INT(authcache_match(a, "pop3", "x@example.test", mb, 11), 0, "other key: no match");
    authcache_free(a);
    authcache_free(b);
}

int main(void)
{
    test_bad_arguments();
    test_match();
    test_ttl();
    test_bounded();
    test_key();
    return T_DONE();
}

/* acct.c: accounts, domains, aliases and routes from the compiled maps */
#include "acct.h"
#include "cdbmap.h"
#include "str.h"

#include <errno.h>
#include <string.h>

static int lower_key(const char *in, char *key, size_t cap, size_t *len)
{
    size_t n = strlen(in);
    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(key, in, n + 1);
    str_lower(key, n);
    *len = n;
    return 0;
}

/* name, lower-cased into key (cap octets, *klen), looked up in cdb/MAP into val.
   1 found, 0 absent (or a name that cannot be a key), -1 error. */
static int lookup(const char *root, const char *map, const char *name, char *key, size_t cap,
                  size_t *klen, char *val, size_t valcap)
{
    if (lower_key(name, key, cap, klen) < 0) {
        return 0;
    }
    return cdbmap_get(root, map, key, *klen, val, valcap, NULL);
}

int acct_addon_applies(const char *plan, uint64_t quota)
{
    return strcmp(plan, "basic") == 0 && quota > 0 && quota < PLAN_ADDON_QUOTA;
}

int acct_user(const char *root, const char *addr, struct acct *a)
{
    char key[ADDR_MAX + 1], val[MAP_VALUE_MAX];
    unsigned long long q, flag;
    size_t klen;
    int r;

    memset(a, 0, sizeof *a);
    r = lookup(root, "users", addr, key, sizeof key, &klen, val, sizeof val);
    if (r <= 0) {
        return r;
    }
    memcpy(a->addr, key, klen + 1);
    if (cdbmap_kv_get_u64(val, "quota", &q) != 1
        || cdbmap_kv_get(val, "plan", a->plan, sizeof a->plan) != 1
        || cdbmap_kv_get(val, "home", a->home, sizeof a->home) != 1) {
        errno = EINVAL;
        return -1;
    }
    a->quota = q;
    a->pop3s = cdbmap_kv_get_u64(val, "pop3s", &flag) == 1 && flag == 1;
    a->disabled = cdbmap_kv_get_u64(val, "disabled", &flag) == 1 && flag == 1;
    if (cdbmap_kv_get(val, "host", a->host, sizeof a->host) < 0
        || cdbmap_kv_get(val, "pwid", a->pwid, sizeof a->pwid) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 1;
}

int acct_domain(const char *root, const char *domain, struct domain *d)
{
    char key[SMTP_DOMAIN_MAX + 1], val[MAP_VALUE_MAX];
    unsigned long long q, mq, flag;
    size_t klen;
    int r;

    memset(d, 0, sizeof *d);
    r = lookup(root, "domains", domain, key, sizeof key, &klen, val, sizeof val);
    if (r <= 0) {
        return r;
    }
    memcpy(d->name, key, klen + 1);
    if (cdbmap_kv_get(val, "plan", d->plan, sizeof d->plan) != 1
        || cdbmap_kv_get_u64(val, "quota", &q) != 1
        || cdbmap_kv_get_u64(val, "maxquota", &mq) != 1) {
        errno = EINVAL;
        return -1;
    }
    d->quota = q;
    d->maxquota = mq;
    d->pop3s = cdbmap_kv_get_u64(val, "pop3s", &flag) == 1 && flag == 1;
    return 1;
}

int acct_alias(const char *root, const char *addr, char *out, size_t cap)
{
    char key[ADDR_MAX + 1];
    size_t klen;
    return lookup(root, "aliases", addr, key, sizeof key, &klen, out, cap);
}

int acct_route(const char *root, const char *domain, struct route *rt)
{
    char key[SMTP_DOMAIN_MAX + 1], val[MAP_VALUE_MAX];
    unsigned long long port = 25, flag;
    size_t klen = 0;
    int r;

    memset(rt, 0, sizeof *rt);
    r = lookup(root, "routes", domain, key, sizeof key, &klen, val, sizeof val);
    if (r == 0) {
        r = cdbmap_get(root, "routes", "", 0, val, sizeof val, NULL);
    }
    if (r <= 0) {
        return r;
    }
    if (cdbmap_kv_get(val, "host", rt->host, sizeof rt->host) != 1) {
        errno = EINVAL;
        return -1;
    }
    if (cdbmap_kv_get_u64(val, "port", &port) < 0 || port == 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    rt->port = (unsigned)port;
    {
        char t[16];
        rt->tls_require = cdbmap_kv_get(val, "tls", t, sizeof t) == 1 && strcmp(t, "require") == 0;
    }
    rt->verify = cdbmap_kv_get_u64(val, "verify", &flag) == 1 && flag == 1;
    return 1;
}

int acct_maildir(const char *root, const struct acct *a, char *out, size_t cap)
{
    return str_fmt(out, cap, "%s/%s/Maildir", root, a->home);
}

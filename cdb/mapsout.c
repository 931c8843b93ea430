/* mapsout.c: the compiled maps read back: cdb records as docs/internals.md fixes them, and
   the queries mailacct makes */
#include "maps_impl.h"

#include "digest.h"
#include "str.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- records ---- */

/* users.cdb's pwid= of a crypt(3) hash into out[ACCT_PWID_LEN + 1]: the start of the SHA-256
   of the whole hash string, salt included (lib/acct.h: why the world-readable map may carry
   it). */
static void pwid_of(const char *hash, char *out)
{
    char hex[DIGEST_HEX_LEN + 1];
    digest_sha256_hex(hash, strlen(hash), hex);
    memcpy(out, hex, ACCT_PWID_LEN);
    out[ACCT_PWID_LEN] = '\0';
}

static int domain_value(const struct maps *m, const struct mdomain *d, char *v, size_t cap)
{
    const struct mplan *p = &m->plans[d->plan];
    return str_fmt(v, cap, "plan=%s quota=%llu maxquota=%llu pop3s=%d", p->name,
                   (unsigned long long)p->quota, (unsigned long long)p->maxquota, p->pop3s);
}

static int user_value(const struct maps *m, const struct muser *u, char *v, size_t cap)
{
    const struct mdomain *d = &m->domains[u->domain];
    const struct mplan *p = &m->plans[d->plan];
    size_t local = (size_t)(strchr(u->addr, '@') - u->addr);
    char rate[64] = "", pwid[ACCT_PWID_LEN + 1];
    unsigned long msgs = u->msgs_set ? u->msgs : p->msgs;
    unsigned long rcpts = u->rcpts_set ? u->rcpts : p->rcpts;
    /* the effective sending limits (docs/smtp.md), written only when there are any, so that
       the records of maps without limits are unchanged */
    if ((msgs || rcpts || u->nosend)
        && str_fmt(rate, sizeof rate, " msgs=%lu rcpts=%lu%s", msgs, rcpts,
                   u->nosend ? " nosend=1" : "") < 0) {
        return -1;
    }
    pwid_of(u->hash, pwid);
    return str_fmt(v, cap, "quota=%llu plan=%s pop3s=%d home=mail/%s/%.*s pwid=%s%s%s%s%s",
                   (unsigned long long)u->quota, p->name, p->pop3s, d->name, (int)local, u->addr,
                   pwid, u->disabled ? " disabled=1" : "", u->host[0] ? " host=" : "", u->host,
                   rate);
}

static int route_value(const struct mroute *r, char *v, size_t cap)
{
    return str_fmt(v, cap, "host=%s port=%u%s%s", r->host, r->port,
                   r->tls_require ? " tls=require" : "", r->verify ? " verify=1" : "");
}

int maps_records(const struct maps *m, enum maps_cdb c, maps_emit_fn emit, void *ctx)
{
    char v[MAP_VALUE_MAX];
    size_t i;
    switch (c) {
    case MAPS_CDB_DOMAINS:
        for (i = 0; i < m->ndomains; i++) {
            const struct mdomain *d = &m->domains[i];
            if (domain_value(m, d, v, sizeof v) < 0
                || emit(ctx, d->name, strlen(d->name), v, strlen(v)) < 0) {
                return -1;
            }
        }
        return 0;
    case MAPS_CDB_USERS:
        for (i = 0; i < m->nusers; i++) {
            const struct muser *u = &m->users[i];
            if (user_value(m, u, v, sizeof v) < 0
                || emit(ctx, u->addr, strlen(u->addr), v, strlen(v)) < 0) {
                return -1;
            }
        }
        return 0;
    case MAPS_CDB_AUTH:
        for (i = 0; i < m->nusers; i++) {
            const struct muser *u = &m->users[i];
            if (!u->disabled && emit(ctx, u->addr, strlen(u->addr), u->hash, strlen(u->hash)) < 0) {
                return -1;
            }
        }
        return 0;
    case MAPS_CDB_ALIASES:
        for (i = 0; i < m->naliases; i++) {
            const struct malias *a = &m->aliases[i];
            const char *flat = a->flat ? a->flat : a->targets;
            if (emit(ctx, a->addr, strlen(a->addr), flat, strlen(flat)) < 0) {
                return -1;
            }
        }
        return 0;
    case MAPS_CDB_ROUTES:
        for (i = 0; i < m->nroutes; i++) {
            const struct mroute *r = &m->routes[i];
            if (route_value(r, v, sizeof v) < 0
                || emit(ctx, r->domain, strlen(r->domain), v, strlen(v)) < 0) {
                return -1;
            }
        }
        return 0;
    case MAPS_CDB_NODES:
        for (i = 0; i < m->nnodes; i++) {
            const struct mnode *n = &m->nodes[i];
            if (str_fmt(v, sizeof v, "addr=%s smtp=%u pop3=%u", n->addr, n->smtp_port,
                        n->pop3_port) < 0
                || emit(ctx, n->name, strlen(n->name), v, strlen(v)) < 0) {
                return -1;
            }
        }
        return 0;
    case MAPS_CDB_HOMES:
        for (i = 0; i < m->nhomes; i++) {
            const struct mhome *h = &m->homes[i];
            if (str_fmt(v, sizeof v, "node=%s epoch=%llu state=%s", m->nodes[h->node].name,
                        (unsigned long long)h->epoch, h->frozen ? "frozen" : "live") < 0
                || emit(ctx, h->domain, strlen(h->domain), v, strlen(v)) < 0) {
                return -1;
            }
        }
        return 0;
    default:
        errno = EINVAL;
        return -1;
    }
}

/* ---- queries ---- */

const char *maps_me(const struct maps *m)
{
    return m->me;
}

const char *maps_admin(const struct maps *m)
{
    return m->admin;
}

const char *maps_warning(const struct maps *m)
{
    return m->warning;
}

static void fill_domain(const struct maps *m, const struct mdomain *md, struct domain *d)
{
    const struct mplan *p = &m->plans[md->plan];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", md->name);
    memcpy(d->plan, p->name, sizeof d->plan);
    d->quota = p->quota;
    d->maxquota = p->maxquota;
    d->pop3s = p->pop3s;
}

static void fill_user(const struct maps *m, const struct muser *mu, struct acct *a,
                      struct map_user *u)
{
    const struct mdomain *d = &m->domains[mu->domain];
    const struct mplan *p = &m->plans[d->plan];
    if (a) {
        size_t local = (size_t)(strchr(mu->addr, '@') - mu->addr);
        memset(a, 0, sizeof *a);
        snprintf(a->addr, sizeof a->addr, "%s", mu->addr);
        memcpy(a->plan, p->name, sizeof a->plan);
        a->quota = mu->quota;
        a->pop3s = p->pop3s;
        a->disabled = mu->disabled;
        snprintf(a->home, sizeof a->home, "mail/%s/%.*s", d->name, (int)local, mu->addr);
        snprintf(a->host, sizeof a->host, "%s", mu->host);
        pwid_of(mu->hash, a->pwid);
    }
    if (u) {
        memset(u, 0, sizeof *u);
        snprintf(u->addr, sizeof u->addr, "%s", mu->addr);
        snprintf(u->hash, sizeof u->hash, "%s", mu->hash);
        u->quota_set = mu->quota_set;
        u->quota = mu->quota_set ? mu->quota : 0;
        u->disabled = mu->disabled;
        u->force = mu->force;
        snprintf(u->host, sizeof u->host, "%s", mu->host);
        u->nosend = mu->nosend;
        u->msgs_set = mu->msgs_set;
        u->rcpts_set = mu->rcpts_set;
        u->msgs = mu->msgs;
        u->rcpts = mu->rcpts;
    }
}

int maps_plan(const struct maps *m, const char *name, struct map_plan *p)
{
    uint32_t i = maps_plan_find(m, name);
    if (i == NONE) {
        return 0;
    }
    memcpy(p->name, m->plans[i].name, sizeof p->name);
    p->quota = m->plans[i].quota;
    p->maxquota = m->plans[i].maxquota;
    p->pop3s = m->plans[i].pop3s;
    p->msgs = m->plans[i].msgs;
    p->rcpts = m->plans[i].rcpts;
    return 1;
}

int maps_domain(const struct maps *m, const char *name, struct domain *d)
{
    uint32_t i = maps_tab_get(&m->tdomains, name);
    if (i == NONE) {
        return 0;
    }
    fill_domain(m, &m->domains[i], d);
    return 1;
}

int maps_user(const struct maps *m, const char *addr, struct acct *a, struct map_user *u)
{
    uint32_t i = maps_tab_get(&m->tusers, addr);
    if (i == NONE) {
        return 0;
    }
    fill_user(m, &m->users[i], a, u);
    return 1;
}

int maps_is_alias(const struct maps *m, const char *addr)
{
    uint32_t i = maps_tab_get(&m->taliases, addr);
    if (i == NONE) {
        return 0;
    }
    return m->aliases[i].file == MAPS_ALIASES ? 1 : 2;
}

int maps_user_at(const struct maps *m, size_t i, struct acct *a, struct map_user *u)
{
    if (i >= m->nusers) {
        return 0;
    }
    fill_user(m, &m->users[i], a, u);
    return 1;
}

int maps_domain_at(const struct maps *m, size_t i, struct domain *d)
{
    if (i >= m->ndomains) {
        return 0;
    }
    fill_domain(m, &m->domains[i], d);
    return 1;
}

size_t maps_user_count(const struct maps *m)
{
    return m->nusers;
}

size_t maps_domain_users(const struct maps *m, const char *domain)
{
    uint32_t i = maps_tab_get(&m->tdomains, domain);
    return i == NONE ? 0 : m->domains[i].users;
}

int maps_node_at(const struct maps *m, size_t i, struct map_node *nd)
{
    const struct mnode *n;
    if (i >= m->nnodes) {
        return 0;
    }
    n = &m->nodes[i];
    memset(nd, 0, sizeof *nd);
    snprintf(nd->name, sizeof nd->name, "%s", n->name);
    snprintf(nd->addr, sizeof nd->addr, "%s", n->addr);
    nd->smtp_port = n->smtp_port;
    nd->pop3_port = n->pop3_port;
    return 1;
}

int maps_home(const struct maps *m, const char *domain, struct map_home *h)
{
    uint32_t i = maps_tab_get(&m->thomes, domain);
    if (i == NONE) {
        return 0;
    }
    memset(h, 0, sizeof *h);
    snprintf(h->domain, sizeof h->domain, "%s", m->homes[i].domain);
    snprintf(h->node, sizeof h->node, "%s", m->nodes[m->homes[i].node].name);
    h->epoch = m->homes[i].epoch;
    h->frozen = m->homes[i].frozen;
    return 1;
}

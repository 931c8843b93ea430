/* maps.c: the operator maps compiled in memory: lines loaded and their references checked
   (plans, domains, users), implicit aliases added, alias chains flattened. No I/O. */
#include "maps_impl.h"

#include "addr.h"
#include "buf.h"
#include "str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (1024 * 1024)

static const char *const file_names[MAPS_NFILES] = {
    "me", "admin", "plans", "domains", "users", "aliases", "routes", "nodes", "homes"
};
static const char *const cdb_names[MAPS_NCDB] = {
    "nodes.cdb", "homes.cdb", "domains.cdb", "routes.cdb", "auth.cdb", "users.cdb", "aliases.cdb"
};

const char *maps_file_name(enum maps_file f)
{
    return file_names[f];
}

const char *maps_cdb_name(enum maps_cdb c)
{
    return cdb_names[c];
}

static int fail(struct maps_err *err, enum maps_file f, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct maps_err *err, enum maps_file f, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    err->file = f;
    err->line = line;
    err->sys = 0;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_sys(struct maps_err *err, enum maps_file f, unsigned long line)
{
    err->file = f;
    err->line = line;
    err->sys = errno ? errno : ENOMEM;
    snprintf(err->reason, sizeof err->reason, "%s", strerror(err->sys));
    return -1;
}

/* ---- memory ---- */

static char *arena_dup(struct maps *m, const char *s, size_t n)
{
    struct chunk *c = m->arena;
    char *p;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c) {
            errno = ENOMEM;
            return NULL;
        }
        c->next = m->arena;
        c->used = 0;
        c->cap = cap;
        m->arena = c;
    }
    p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

/* Make room for one more element in *arr (size elem). 0 ok, -1 ENOMEM/E2BIG. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    return buf_grow_array(arr, cap, n, elem, MAPS_RECORDS_MAX * 2);
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) {
        h = (h ^ (unsigned char)*s++) * 16777619u;
    }
    return h;
}

uint32_t maps_tab_get(const struct tab *t, const char *key)
{
    size_t i;
    if (t->cap == 0) {
        return NONE;
    }
    for (i = hash_str(key) & (t->cap - 1); t->slot[i].key; i = (i + 1) & (t->cap - 1)) {
        if (strcmp(t->slot[i].key, key) == 0) {
            return t->slot[i].idx;
        }
    }
    return NONE;
}

static int tab_put(struct tab *t, const char *key, uint32_t idx)
{
    size_t i;
    if ((t->n + 1) * 2 > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024, j;
        struct slot *ns = calloc(nc, sizeof *ns);
        if (!ns) {
            errno = ENOMEM;
            return -1;
        }
        for (j = 0; j < t->cap; j++) {
            if (t->slot[j].key) {
                for (i = hash_str(t->slot[j].key) & (nc - 1); ns[i].key; i = (i + 1) & (nc - 1)) {
                }
                ns[i] = t->slot[j];
            }
        }
        free(t->slot);
        t->slot = ns;
        t->cap = nc;
    }
    for (i = hash_str(key) & (t->cap - 1); t->slot[i].key; i = (i + 1) & (t->cap - 1)) {
    }
    t->slot[i].key = key;
    t->slot[i].idx = idx;
    t->n++;
    return 0;
}

struct maps *maps_new(void)
{
    struct maps *m = calloc(1, sizeof *m);
    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    m->domains_from = MAPS_DOMAINS_FROM;
    return m;
}

void maps_set_domains_from(struct maps *m, const char *from)
{
    m->domains_from = from;
}

void maps_free(struct maps *m)
{
    struct chunk *c, *next;
    if (!m) {
        return;
    }
    for (c = m->arena; c; c = next) {
        next = c->next;
        free(c);
    }
    free(m->plans);
    free(m->domains);
    free(m->users);
    free(m->aliases);
    free(m->routes);
    free(m->tdomains.slot);
    free(m->tusers.slot);
    free(m->taliases.slot);
    free(m->troutes.slot);
    free(m->nodes);
    free(m->homes);
    free(m->tnodes.slot);
    free(m->thomes.slot);
    free(m);
}

/* ---- adding lines ---- */

uint32_t maps_plan_find(const struct maps *m, const char *name)
{
    size_t i;
    for (i = 0; i < m->nplans; i++) {
        if (strcmp(m->plans[i].name, name) == 0) {
            return (uint32_t)i;
        }
    }
    return NONE;
}

static void plan_list(const struct maps *m, char *out, size_t cap)
{
    size_t i, len = 0;
    out[0] = '\0';
    for (i = 0; i < m->nplans && len + PLAN_NAME_MAX + 3 < cap; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", m->plans[i].name);
    }
    if (m->nplans == 0) {
        snprintf(out, cap, "none");
    }
}

static int add_plan(struct maps *m, const struct map_plan *p, unsigned long line,
                    struct maps_err *err)
{
    uint32_t old = maps_plan_find(m, p->name);
    if (old != NONE) {
        return fail(err, MAPS_PLANS, line, "plan %s already defined on line %lu", p->name,
                    m->plans[old].line);
    }
    if (grow((void **)&m->plans, &m->cplans, m->nplans, sizeof *m->plans) < 0) {
        return fail_sys(err, MAPS_PLANS, line);
    }
    memcpy(m->plans[m->nplans].name, p->name, sizeof p->name);
    m->plans[m->nplans].quota = p->quota;
    m->plans[m->nplans].maxquota = p->maxquota;
    m->plans[m->nplans].pop3s = p->pop3s;
    m->plans[m->nplans].msgs = p->msgs;
    m->plans[m->nplans].rcpts = p->rcpts;
    m->plans[m->nplans].line = line;
    m->nplans++;
    return 0;
}

static int add_domain(struct maps *m, const struct map_domain *d, unsigned long line,
                      struct maps_err *err)
{
    uint32_t plan = maps_plan_find(m, d->plan), old = maps_tab_get(&m->tdomains, d->name);
    struct mdomain *md;
    if (plan == NONE) {
        char list[256];
        plan_list(m, list, sizeof list);
        return fail(err, MAPS_DOMAINS, line, "unknown plan %s (etc/plans defines: %s)", d->plan,
                    list);
    }
    if (old != NONE) {
        return fail(err, MAPS_DOMAINS, line, "domain %s already defined on line %lu", d->name,
                    m->domains[old].line);
    }
    if (grow((void **)&m->domains, &m->cdomains, m->ndomains, sizeof *m->domains) < 0) {
        return fail_sys(err, MAPS_DOMAINS, line);
    }
    md = &m->domains[m->ndomains];
    md->name = arena_dup(m, d->name, strlen(d->name));
    md->plan = plan;
    md->users = 0;
    md->line = line;
    if (!md->name || tab_put(&m->tdomains, md->name, (uint32_t)m->ndomains) < 0) {
        return fail_sys(err, MAPS_DOMAINS, line);
    }
    m->ndomains++;
    return 0;
}

static int check_quota(const struct maps *m, const struct map_user *u, uint32_t dom,
                       unsigned long line, struct maps_err *err)
{
    const struct mplan *p = &m->plans[m->domains[dom].plan];
    char q[32], mx[32];
    if (!u->quota_set || u->force || p->maxquota == 0) {
        return 0;
    }
    str_size_human(p->maxquota, mx, sizeof mx);
    if (u->quota == 0) {
        return fail(err, MAPS_USERS, line, "quota 0 (unlimited) of %s is above the %s plan's "
                    "maximum %s (add the option force to allow it)", u->addr, p->name, mx);
    }
    if (u->quota > p->maxquota) {
        str_size_human(u->quota, q, sizeof q);
        return fail(err, MAPS_USERS, line, "quota %s of %s is above the %s plan's maximum %s "
                    "(add the option force to allow it)", q, u->addr, p->name, mx);
    }
    return 0;
}

static int add_user(struct maps *m, const struct map_user *u, unsigned long line,
                    struct maps_err *err)
{
    const char *at = strchr(u->addr, '@');
    uint32_t dom = maps_tab_get(&m->tdomains, at + 1), old = maps_tab_get(&m->tusers, u->addr);
    struct muser *mu;
    if (dom == NONE) {
        return fail(err, MAPS_USERS, line, "domain %s of %s is not in %s", at + 1, u->addr,
                    m->domains_from);
    }
    if (old != NONE) {
        return fail(err, MAPS_USERS, line, "account %s already defined on line %lu", u->addr,
                    m->users[old].line);
    }
    if (check_quota(m, u, dom, line, err) < 0) {
        return -1;
    }
    if (grow((void **)&m->users, &m->cusers, m->nusers, sizeof *m->users) < 0) {
        return fail_sys(err, MAPS_USERS, line);
    }
    mu = &m->users[m->nusers];
    mu->addr = arena_dup(m, u->addr, strlen(u->addr));
    mu->hash = arena_dup(m, u->hash, strlen(u->hash));
    mu->host = u->host[0] ? arena_dup(m, u->host, strlen(u->host)) : "";
    mu->quota = u->quota_set ? u->quota : m->plans[m->domains[dom].plan].quota;
    mu->quota_set = (unsigned char)u->quota_set;
    mu->disabled = (unsigned char)u->disabled;
    mu->force = (unsigned char)u->force;
    mu->nosend = (unsigned char)u->nosend;
    mu->msgs_set = (unsigned char)u->msgs_set;
    mu->rcpts_set = (unsigned char)u->rcpts_set;
    mu->msgs = u->msgs;
    mu->rcpts = u->rcpts;
    mu->domain = dom;
    mu->line = line;
    if (!mu->addr || !mu->hash || !mu->host
        || tab_put(&m->tusers, mu->addr, (uint32_t)m->nusers) < 0) {
        return fail_sys(err, MAPS_USERS, line);
    }
    m->domains[dom].users++;
    m->nusers++;
    return 0;
}

static int push_alias(struct maps *m, const char *addr, const char *targets, enum maps_file f,
                      unsigned long line, struct maps_err *err)
{
    struct malias *ma;
    if (grow((void **)&m->aliases, &m->caliases, m->naliases, sizeof *m->aliases) < 0) {
        return fail_sys(err, f, line);
    }
    ma = &m->aliases[m->naliases];
    memset(ma, 0, sizeof *ma);
    ma->addr = arena_dup(m, addr, strlen(addr));
    ma->targets = arena_dup(m, targets, strlen(targets));
    ma->file = (unsigned char)f;
    ma->line = line;
    if (!ma->addr || !ma->targets || tab_put(&m->taliases, ma->addr, (uint32_t)m->naliases) < 0) {
        return fail_sys(err, f, line);
    }
    m->naliases++;
    return 0;
}

static int add_alias(struct maps *m, const struct map_alias *a, unsigned long line,
                     struct maps_err *err)
{
    const char *at = strchr(a->addr, '@');
    uint32_t old = maps_tab_get(&m->taliases, a->addr), user = maps_tab_get(&m->tusers, a->addr);
    if (at && maps_tab_get(&m->tdomains, at + 1) == NONE) {
        return fail(err, MAPS_ALIASES, line, "alias %s: domain %s is not in %s", a->addr,
                    at + 1, m->domains_from);
    }
    if (user != NONE) {
        return fail(err, MAPS_ALIASES, line, "%s is an account (users line %lu) and cannot "
                    "also be an alias", a->addr, m->users[user].line);
    }
    if (old != NONE) {
        return fail(err, MAPS_ALIASES, line, "alias %s already defined on line %lu", a->addr,
                    m->aliases[old].line);
    }
    return push_alias(m, a->addr, a->targets, MAPS_ALIASES, line, err);
}

static int add_route(struct maps *m, const struct map_route *r, unsigned long line,
                     struct maps_err *err)
{
    uint32_t old = maps_tab_get(&m->troutes, r->domain);
    struct mroute *mr;
    if (old != NONE) {
        return fail(err, MAPS_ROUTES, line, "route for %s already defined on line %lu",
                    r->domain[0] ? r->domain : "the default", m->routes[old].line);
    }
    if (grow((void **)&m->routes, &m->croutes, m->nroutes, sizeof *m->routes) < 0) {
        return fail_sys(err, MAPS_ROUTES, line);
    }
    mr = &m->routes[m->nroutes];
    mr->domain = arena_dup(m, r->domain, strlen(r->domain));
    mr->host = arena_dup(m, r->host, strlen(r->host));
    mr->port = r->port;
    mr->tls_require = (unsigned char)r->tls_require;
    mr->verify = (unsigned char)r->verify;
    mr->line = line;
    if (!mr->domain || !mr->host || tab_put(&m->troutes, mr->domain, (uint32_t)m->nroutes) < 0) {
        return fail_sys(err, MAPS_ROUTES, line);
    }
    m->nroutes++;
    return 0;
}

static int add_node(struct maps *m, const struct map_node *nd, unsigned long line,
                    struct maps_err *err)
{
    uint32_t old = maps_tab_get(&m->tnodes, nd->name);
    struct mnode *mn;
    if (old != NONE) {
        return fail(err, MAPS_NODES, line, "node %s already defined on line %lu", nd->name,
                    m->nodes[old].line);
    }
    if (grow((void **)&m->nodes, &m->cnodes, m->nnodes, sizeof *m->nodes) < 0) {
        return fail_sys(err, MAPS_NODES, line);
    }
    mn = &m->nodes[m->nnodes];
    mn->name = arena_dup(m, nd->name, strlen(nd->name));
    mn->addr = arena_dup(m, nd->addr, strlen(nd->addr));
    mn->smtp_port = nd->smtp_port;
    mn->pop3_port = nd->pop3_port;
    mn->line = line;
    if (!mn->name || !mn->addr || tab_put(&m->tnodes, mn->name, (uint32_t)m->nnodes) < 0) {
        return fail_sys(err, MAPS_NODES, line);
    }
    m->nnodes++;
    return 0;
}

static int add_home(struct maps *m, const struct map_home *h, unsigned long line,
                    struct maps_err *err)
{
    uint32_t old = maps_tab_get(&m->thomes, h->domain), node = maps_tab_get(&m->tnodes, h->node);
    struct mhome *mh;
    if (maps_tab_get(&m->tdomains, h->domain) == NONE) {
        return fail(err, MAPS_HOMES, line, "home of %s: the domain is not in %s", h->domain,
                    m->domains_from);
    }
    if (node == NONE) {
        return fail(err, MAPS_HOMES, line, "home of %s: unknown node %s (add it first: "
                    "yubin-fleet node add %s ADDRESS)", h->domain, h->node, h->node);
    }
    if (old != NONE) {
        return fail(err, MAPS_HOMES, line, "home of %s already defined on line %lu", h->domain,
                    m->homes[old].line);
    }
    if (grow((void **)&m->homes, &m->chomes, m->nhomes, sizeof *m->homes) < 0) {
        return fail_sys(err, MAPS_HOMES, line);
    }
    mh = &m->homes[m->nhomes];
    mh->domain = arena_dup(m, h->domain, strlen(h->domain));
    mh->node = node;
    mh->epoch = h->epoch;
    mh->frozen = (unsigned char)h->frozen;
    mh->line = line;
    if (!mh->domain || tab_put(&m->thomes, mh->domain, (uint32_t)m->nhomes) < 0) {
        return fail_sys(err, MAPS_HOMES, line);
    }
    m->nhomes++;
    return 0;
}

/* me / admin: one content line. */
static int add_single(struct maps *m, enum maps_file f, const char *s, size_t n,
                      unsigned long line, struct maps_err *err)
{
    char *out = f == MAPS_ME ? m->me : m->admin;
    size_t cap = f == MAPS_ME ? sizeof m->me : sizeof m->admin;
    unsigned long *at = f == MAPS_ME ? &m->me_line : &m->admin_line;
    char tmp[ADDR_MAX + 1], why[MAPS_REASON_MAX];
    int r = f == MAPS_ME ? map_parse_host(s, n, tmp, sizeof tmp, why)
                         : map_parse_target(s, n, tmp, sizeof tmp, why);
    if (r < 0) {
        return fail(err, f, line, "%s", why);
    }
    if (r == 0) {
        return 0;
    }
    if (*at) {
        return fail(err, f, line, "only one line expected (the first is line %lu)", *at);
    }
    if (strlen(tmp) >= cap) {
        return fail(err, f, line, "too long");
    }
    memcpy(out, tmp, strlen(tmp) + 1);
    *at = line;
    return 0;
}

static int load_line(struct maps *m, enum maps_file f, const char *s, size_t n,
                     unsigned long line, struct maps_err *err)
{
    union {
        struct map_plan p;
        struct map_domain d;
        struct map_user u;
        struct map_alias a;
        struct map_route r;
        struct map_node n;
        struct map_home h;
    } v;
    char why[MAPS_REASON_MAX] = "invalid line";     /* every parser says better when it fails */
    int r;
    switch (f) {
    case MAPS_ME:
    case MAPS_ADMIN:
        return add_single(m, f, s, n, line, err);
    case MAPS_PLANS:
        r = map_parse_plan(s, n, &v.p, why);
        return r < 0 ? fail(err, f, line, "%s", why) : r ? add_plan(m, &v.p, line, err) : 0;
    case MAPS_DOMAINS:
        r = map_parse_domain(s, n, &v.d, why);
        return r < 0 ? fail(err, f, line, "%s", why)
                     : r ? add_domain(m, &v.d, line, err) : 0;
    case MAPS_USERS:
        r = map_parse_user(s, n, &v.u, why);
        return r < 0 ? fail(err, f, line, "%s", why) : r ? add_user(m, &v.u, line, err) : 0;
    case MAPS_ALIASES:
        r = map_parse_alias(s, n, &v.a, why);
        return r < 0 ? fail(err, f, line, "%s", why)
                     : r ? add_alias(m, &v.a, line, err) : 0;
    case MAPS_ROUTES:
        r = map_parse_route(s, n, &v.r, why);
        return r < 0 ? fail(err, f, line, "%s", why)
                     : r ? add_route(m, &v.r, line, err) : 0;
    case MAPS_NODES:
        r = map_parse_node(s, n, &v.n, why);
        return r < 0 ? fail(err, f, line, "%s", why) : r ? add_node(m, &v.n, line, err) : 0;
    case MAPS_HOMES:
        r = map_parse_home(s, n, &v.h, why);
        return r < 0 ? fail(err, f, line, "%s", why) : r ? add_home(m, &v.h, line, err) : 0;
    default:
        errno = EINVAL;
        return fail_sys(err, f, line);
    }
}

int maps_load(struct maps *m, enum maps_file f, const char *text, size_t len,
              struct maps_err *err)
{
    size_t i = 0;
    unsigned long line = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (++line > MAPS_RECORDS_MAX) {
            return fail(err, f, line, "too many lines");
        }
        if (load_line(m, f, text + i, n, line, err) < 0) {
            return -1;
        }
        i += n + 1;
    }
    return 0;
}

/* ---- finishing: implicit aliases, targets, flattening ---- */

static void warn(struct maps *m, const char *text)
{
    if (!m->warning[0]) {
        snprintf(m->warning, sizeof m->warning, "%s", text);
    }
}

/* Without etc/admin there is no target: the aliases are left out with a warning (a new
   root gets its domains before the operator's account exists). */
static int implicit(struct maps *m, const char *addr, struct maps_err *err)
{
    unsigned long line = m->admin_line ? m->admin_line : 1;
    if (maps_tab_get(&m->taliases, addr) != NONE || maps_tab_get(&m->tusers, addr) != NONE) {
        return 0;
    }
    if (!m->admin[0]) {
        warn(m, "admin:1: etc/admin is empty: postmaster@ and abuse@ of each domain are not "
             "defined (RFC 5321 requires postmaster)");
        return 0;
    }
    return push_alias(m, addr, m->admin, MAPS_ADMIN, line, err);
}

static int add_implicit(struct maps *m, struct maps_err *err)
{
    static const char *const locals[] = { "postmaster", "abuse" };
    char addr[ADDR_MAX + 1];
    size_t i, k;
    if (m->ndomains == 0 && !m->admin[0]) {
        return 0;
    }
    for (i = 0; i < m->ndomains; i++) {
        for (k = 0; k < sizeof locals / sizeof locals[0]; k++) {
            if (str_fmt(addr, sizeof addr, "%s@%s", locals[k], m->domains[i].name) < 0) {
                continue;    /* a 250-octet domain: the address would not fit RFC 5321 */
            }
            if (implicit(m, addr, err) < 0) {
                return -1;
            }
        }
    }
    return implicit(m, "postmaster", err);
}

/* Every target in a local domain must be an account or an alias. The implicit aliases only
   warn: etc/admin may name the operator's account before mailacct has created it. */
static int check_targets(struct maps *m, const struct malias *a, struct maps_err *err)
{
    const char *t = a->targets;
    while (*t) {
        const char *end = strchr(t, ' ');
        size_t n = end ? (size_t)(end - t) : strlen(t);
        char addr[ADDR_MAX + 1];
        const char *at;
        memcpy(addr, t, n);
        addr[n] = '\0';
        at = strchr(addr, '@');
        if (at && maps_tab_get(&m->tdomains, at + 1) != NONE && maps_tab_get(&m->tusers, addr) == NONE
            && maps_tab_get(&m->taliases, addr) == NONE) {
            if (a->file == MAPS_ADMIN) {
                char w[MAPS_REASON_MAX];
                snprintf(w, sizeof w, "admin:%lu: %s is not an account yet: mail to postmaster@ "
                         "and abuse@ bounces until it is added", a->line, addr);
                warn(m, w);
                goto next;
            }
            return fail(err, (enum maps_file)a->file, a->line, "%s: target %s is neither an "
                        "account nor an alias, but %s is a local domain", a->addr, addr, at + 1);
        }
next:
        t += n;
        while (*t == ' ') {
            t++;
        }
    }
    return 0;
}

struct flat {
    char s[MAP_VALUE_MAX];
    size_t len, count;
};

static int flat_add(struct flat *f, const char *t, size_t n)
{
    size_t i = 0;
    while (i < f->len) {
        const char *sp = memchr(f->s + i, ' ', f->len - i);
        size_t e = sp ? (size_t)(sp - f->s) : f->len;
        if (e - i == n && memcmp(f->s + i, t, n) == 0) {
            return 0;
        }
        i = e + 1;
    }
    if (f->count + 1 > ALIAS_TARGETS_MAX || f->len + n + 2 > sizeof f->s) {
        return -1;
    }
    if (f->len) {
        f->s[f->len++] = ' ';
    }
    memcpy(f->s + f->len, t, n);
    f->len += n;
    f->s[f->len] = '\0';
    f->count++;
    return 0;
}

static int loop_error(const struct maps *m, const uint32_t *stack, unsigned depth, uint32_t i,
                      struct maps_err *err)
{
    char chain[MAPS_REASON_MAX / 2];
    size_t len = 0;
    unsigned k = 0;
    const struct malias *last = &m->aliases[stack[depth - 1]];
    while (k < depth && stack[k] != i) {
        k++;
    }
    chain[0] = '\0';
    for (; k < depth && len < sizeof chain; k++) {
        len += (size_t)snprintf(chain + len, sizeof chain - len, "%s -> ",
                                m->aliases[stack[k]].addr);
    }
    return fail(err, (enum maps_file)last->file, last->line, "alias loop: %s%s", chain,
                m->aliases[i].addr);
}

static int flatten(struct maps *m, uint32_t i, unsigned depth, uint32_t *stack,
                   struct maps_err *err)
{
    struct malias *a = &m->aliases[i];
    struct flat f;
    const char *t;
    unsigned height = 1;

    if (a->state == ALIAS_VISITING) {
        return loop_error(m, stack, depth, i, err);
    }
    if (depth >= ALIAS_DEPTH_MAX) {
        const struct malias *top = &m->aliases[stack[0]];
        return fail(err, (enum maps_file)top->file, top->line, "alias %s: chain deeper than %d "
                    "levels", top->addr, ALIAS_DEPTH_MAX);
    }
    a->state = ALIAS_VISITING;
    stack[depth] = i;
    f.len = f.count = 0;
    f.s[0] = '\0';
    for (t = a->targets; *t;) {
        const char *end = strchr(t, ' ');
        size_t n = end ? (size_t)(end - t) : strlen(t);
        char addr[ADDR_MAX + 1];
        uint32_t j;
        memcpy(addr, t, n);
        addr[n] = '\0';
        j = maps_tab_get(&m->taliases, addr);
        if (j == NONE) {
            if (flat_add(&f, addr, n) < 0) {
                goto toomany;
            }
        } else {
            const struct malias *b = &m->aliases[j];
            const char *u;
            if (b->state != ALIAS_DONE && flatten(m, j, depth + 1, stack, err) < 0) {
                return -1;
            }
            if (depth + 1 + b->height > ALIAS_DEPTH_MAX) {
                const struct malias *top = &m->aliases[stack[0]];
                return fail(err, (enum maps_file)top->file, top->line, "alias %s: chain deeper "
                            "than %d levels", top->addr, ALIAS_DEPTH_MAX);
            }
            if (b->height + 1u > height) {
                height = b->height + 1u;
            }
            for (u = b->flat; *u;) {
                const char *e2 = strchr(u, ' ');
                size_t n2 = e2 ? (size_t)(e2 - u) : strlen(u);
                if (flat_add(&f, u, n2) < 0) {
                    goto toomany;
                }
                u += n2 + (e2 != NULL);
            }
        }
        t += n + (end != NULL);
    }
    a->flat = arena_dup(m, f.s, f.len);
    if (!a->flat) {
        return fail_sys(err, (enum maps_file)a->file, a->line);
    }
    a->height = (unsigned char)height;
    a->state = ALIAS_DONE;
    return 0;
toomany:
    return fail(err, (enum maps_file)a->file, a->line, "alias %s expands to more than %d "
                "targets or %d octets", a->addr, ALIAS_TARGETS_MAX, MAP_VALUE_MAX - 1);
}

int maps_finish(struct maps *m, struct maps_err *err)
{
    uint32_t stack[ALIAS_DEPTH_MAX + 1];
    size_t i;
    if (add_implicit(m, err) < 0) {
        return -1;
    }
    for (i = 0; i < m->naliases; i++) {
        if (check_targets(m, &m->aliases[i], err) < 0) {
            return -1;
        }
    }
    for (i = 0; i < m->naliases; i++) {
        if (m->aliases[i].state != ALIAS_DONE && flatten(m, (uint32_t)i, 0, stack, err) < 0) {
            return -1;
        }
    }
    return 0;
}

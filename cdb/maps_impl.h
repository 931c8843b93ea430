/* maps_impl.h: the inside of struct maps, shared by maps.c (loading, checking, flattening)
   and mapsout.c (records and queries). Not for other modules: they use maps.h. */
#ifndef YUBIN_MAPS_IMPL_H
#define YUBIN_MAPS_IMPL_H

#include "maps.h"

#include <stdint.h>

#define NONE        UINT32_MAX

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

struct slot {
    const char *key;
    uint32_t idx;
};

struct tab {                    /* open addressing, power-of-two size, load <= 1/2 */
    struct slot *slot;
    size_t cap, n;
};

struct mplan {
    char name[PLAN_NAME_MAX + 1];
    uint64_t quota, maxquota;
    int pop3s;
    unsigned long msgs, rcpts;      /* sending limits per hour, 0 = none */
    unsigned long line;
};

struct mdomain {
    const char *name;
    uint32_t plan, users;
    unsigned long line;
};

struct muser {
    const char *addr, *hash, *host;
    uint64_t quota;
    unsigned long line;
    uint32_t domain;
    unsigned char quota_set, disabled, force;
    unsigned char nosend, msgs_set, rcpts_set;
    unsigned long msgs, rcpts;      /* the msgs= / rcpts= options (when set) */
};

enum { ALIAS_NEW, ALIAS_VISITING, ALIAS_DONE };

struct malias {
    const char *addr, *targets, *flat;
    unsigned long line;
    unsigned char file, state, height;
};

struct mroute {
    const char *domain, *host;
    unsigned port;
    unsigned char tls_require, verify;
    unsigned long line;
};

struct mnode {
    const char *name, *addr;
    unsigned smtp_port, pop3_port;
    unsigned long line;
};

struct mhome {
    const char *domain;
    uint32_t node;
    uint64_t epoch;
    unsigned char frozen;
    unsigned long line;
};

struct maps {
    struct chunk *arena;
    struct mplan *plans;
    struct mdomain *domains;
    struct muser *users;
    struct malias *aliases;
    struct mroute *routes;
    struct mnode *nodes;
    struct mhome *homes;
    size_t nplans, ndomains, nusers, naliases, nroutes, nnodes, nhomes;
    size_t cplans, cdomains, cusers, caliases, croutes, cnodes, chomes;
    struct tab tdomains, tusers, taliases, troutes, tnodes, thomes;
    char me[SMTP_DOMAIN_MAX + 1];
    char admin[ADDR_MAX + 1];
    unsigned long me_line, admin_line;
    char warning[MAPS_REASON_MAX + 32];   /* the first warning, "" if none */
    const char *domains_from;   /* where the domains come from, in the reasons (not owned) */
};

/* Index of key in t, or NONE. */
uint32_t maps_tab_get(const struct tab *t, const char *key);
/* Index of the plan called name, or NONE. */
uint32_t maps_plan_find(const struct maps *m, const char *name);

#endif

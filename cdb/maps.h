/* maps.h: the operator maps (etc/plans domains users aliases routes me admin) parsed,
   validated and compiled into cdb records, without any I/O. Shared by mkmaps and mailacct. */
#ifndef YUBIN_MAPS_H
#define YUBIN_MAPS_H

#include "acct.h"
#include "fleethome.h"
#include "limits.h"

#include <stddef.h>
#include <stdint.h>

#define MAPS_FILE_MAX     (256UL * 1024 * 1024)  /* one source file (100k users ~ 15 MB); ours */
#define MAPS_HASH_MAX     512     /* a crypt(3) hash (libxcrypt CRYPT_OUTPUT_SIZE is 384) */
#define MAPS_REASON_MAX   512     /* text after "FILE:LINE: " */
#define MAPS_RECORDS_MAX  4000000UL  /* lines per file; keeps indexes in 32 bits; ours */

enum maps_file {
    MAPS_ME, MAPS_ADMIN, MAPS_PLANS, MAPS_DOMAINS, MAPS_USERS, MAPS_ALIASES, MAPS_ROUTES,
    MAPS_NODES, MAPS_HOMES,             /* the fleet's nodes and domains' homes */
    MAPS_NFILES
};

/* Written in this order: a home names a node, a domain's home exists before the domain. */
enum maps_cdb { MAPS_CDB_NODES, MAPS_CDB_HOMES, MAPS_CDB_DOMAINS, MAPS_CDB_ROUTES, MAPS_CDB_AUTH, MAPS_CDB_USERS,
                MAPS_CDB_ALIASES, MAPS_NCDB };

/* Where and why compilation stopped. sys != 0: a system error (errno value, e.g. ENOMEM),
   not a bad line. */
struct maps_err {
    enum maps_file file;
    unsigned long line;
    int sys;
    char reason[MAPS_REASON_MAX];
};

/* One parsed line of each file (used by the parser, the unit tests and mailacct). */
#define MAPS_RATE_MAX 10000000UL      /* a sending limit per hour; ours */
struct map_plan {
    char name[PLAN_NAME_MAX + 1];
    uint64_t quota, maxquota;          /* 0 = unlimited */
    int pop3s;
    unsigned long msgs, rcpts;         /* sending limits per hour (RATE_WINDOW); 0 = none */
};
struct map_domain {
    char name[SMTP_DOMAIN_MAX + 1];
    char plan[PLAN_NAME_MAX + 1];
};
struct map_user {
    char addr[ADDR_MAX + 1];
    char hash[MAPS_HASH_MAX + 1];
    int quota_set;                     /* 0: the QUOTA field was empty (plan default) */
    uint64_t quota;                    /* 0 = unlimited */
    int disabled, force;
    char host[SMTP_DOMAIN_MAX + 1];    /* "" unless host=HOST */
    int nosend;                        /* sending suspended (mailacct suspend-sending) */
    int msgs_set, rcpts_set;           /* msgs=N / rcpts=N given: they replace the plan's */
    unsigned long msgs, rcpts;         /* per hour; 0 = none */
};
struct map_alias {
    char addr[ADDR_MAX + 1];           /* "postmaster" (bare) or local@domain */
    char targets[MAP_LINE_MAX];        /* lower-cased, separated by one space */
    size_t ntargets;
};
struct map_route {
    char domain[SMTP_DOMAIN_MAX + 1];  /* "" = the default smarthost */
    char host[SMTP_DOMAIN_MAX + 1];    /* name or IP, without brackets */
    unsigned port;
    int tls_require, verify;
};

/* etc/nodes: NODE:ADDRESS[:SMTP_PORT[:POP3_PORT]] (a host name or IPv4 address; ports
   default FLEET_SMTP_PORT, FLEET_POP3_PORT). */
struct map_node {
    char name[FLEET_NODE_MAX + 1];
    char addr[SMTP_DOMAIN_MAX + 1];
    unsigned smtp_port, pop3_port;
};
/* etc/homes: DOMAIN:NODE:EPOCH[:STATE] (STATE live, the default, or frozen). */
struct map_home {
    char domain[SMTP_DOMAIN_MAX + 1];
    char node[FLEET_NODE_MAX + 1];
    uint64_t epoch;                    /* 1..FLEET_EPOCH_MAX */
    int frozen;
};

/* The file's name under ROOT/etc ("users"). */
const char *maps_file_name(enum maps_file f);
/* The cdb's file name under ROOT/cdb ("users.cdb"). */
const char *maps_cdb_name(enum maps_cdb c);

/* Line parsers. s/n is one line without its '\n'. Return 1 parsed, 0 blank or comment
   ('#' as first non-blank), -1 bad (why: MAPS_REASON_MAX bytes, a sentence for the operator).
   Hostile input (CR, NUL, controls, over MAP_LINE_MAX) is refused, never truncated.
   Addresses and domains are lower-cased. They check syntax only; maps_load checks references. */
int map_parse_plan(const char *s, size_t n, struct map_plan *p, char *why);
int map_parse_domain(const char *s, size_t n, struct map_domain *d, char *why);
int map_parse_user(const char *s, size_t n, struct map_user *u, char *why);
int map_parse_alias(const char *s, size_t n, struct map_alias *a, char *why);
int map_parse_route(const char *s, size_t n, struct map_route *r, char *why);
int map_parse_node(const char *s, size_t n, struct map_node *nd, char *why);
int map_parse_home(const char *s, size_t n, struct map_home *h, char *why);
/* me: a host name; admin: an address (local or remote). */
int map_parse_host(const char *s, size_t n, char *out, size_t cap, char *why);
int map_parse_target(const char *s, size_t n, char *out, size_t cap, char *why);

/* 1 if s looks like a crypt(3) hash: "$id$...", characters [./0-9A-Za-z$=,-], <= MAPS_HASH_MAX. */
int map_hash_ok(const char *s, size_t n);
/* A quota or size as written in the maps ("50M", "1048576"): 0 ok, -1 bad. */
int map_size(const char *s, size_t n, uint64_t *out);
/* Render a size the way the maps write it: "50M" when a whole number of MiB, else bytes. */
void map_size_str(uint64_t v, char *out, size_t cap);

/* The compiled maps. Opaque; everything is owned by the struct. */
struct maps;

/* Where the domains come from, as the reasons of a record naming an unknown domain say ("the
   domain is not in etc/domains"): the default. */
#define MAPS_DOMAINS_FROM "etc/domains"

/* NULL on ENOMEM. Its domains come from MAPS_DOMAINS_FROM. */
struct maps *maps_new(void);
/* Name where the domains come from (a fleet node's: etcd), for the reasons; from is not
   copied and must outlive m. */
void maps_set_domains_from(struct maps *m, const char *from);
void maps_free(struct maps *m);
/* Load one source text (the whole file). Files must be loaded in enum order (plans before
   domains before users, aliases, routes) because lines are checked against earlier files.
   0 ok; -1 stopped at a bad line or system error (err filled). */
int maps_load(struct maps *m, enum maps_file f, const char *text, size_t len,
              struct maps_err *err);
/* After every file: implicit aliases (postmaster@D, abuse@D, bare postmaster -> admin),
   local-target checks, flattening (ALIAS_DEPTH_MAX, loops). 0 ok, -1 err filled. */
int maps_finish(struct maps *m, struct maps_err *err);

/* Emit every record of one cdb: emit() returns 0 to go on, -1 to stop (maps_records then
   returns -1). Values are formatted as docs/internals.md "cdb records" fixes them. */
typedef int (*maps_emit_fn)(void *ctx, const char *k, size_t kl, const char *v, size_t vl);
int maps_records(const struct maps *m, enum maps_cdb c, maps_emit_fn emit, void *ctx);

/* Queries on a finished model (for mailacct). */
const char *maps_me(const struct maps *m);       /* "" when etc/me is empty */
const char *maps_admin(const struct maps *m);    /* "" when etc/admin is empty */
/* The first warning of maps_finish ("admin:1: ..."), "" if none: etc/admin empty (no
   implicit aliases) or naming a local account that does not exist yet. */
const char *maps_warning(const struct maps *m);
/* 1 found (p filled), 0 absent. */
int maps_plan(const struct maps *m, const char *name, struct map_plan *p);
/* 1 found (d filled), 0 absent. */
int maps_domain(const struct maps *m, const char *name, struct domain *d);
/* 1 found (a filled like lib/acct's acct_user, u filled with the source fields), 0 absent. */
int maps_user(const struct maps *m, const char *addr, struct acct *a, struct map_user *u);
/* 1 if addr is an alias of etc/aliases, 2 if an implicit one (postmaster@, abuse@ -> admin;
   an account of that name replaces it), 0 if not an alias. */
int maps_is_alias(const struct maps *m, const char *addr);
/* Iterate users (in file order) / domains; i from 0; 1 = filled, 0 = past the end. */
int maps_user_at(const struct maps *m, size_t i, struct acct *a, struct map_user *u);
int maps_domain_at(const struct maps *m, size_t i, struct domain *d);
size_t maps_user_count(const struct maps *m);
/* Number of users in domain. */
size_t maps_domain_users(const struct maps *m, const char *domain);
/* Iterate nodes (file order); 1 filled, 0 past the end. */
int maps_node_at(const struct maps *m, size_t i, struct map_node *nd);
/* The home record of a domain: 1 found (h filled), 0 none. */
int maps_home(const struct maps *m, const char *domain, struct map_home *h);

/* Text editing helpers (mailacct). The key of a line is its first field up to ':' (trimmed,
   lower-cased); blank and comment lines have none. Find the line whose key equals key:
   1 found with [*start, *end) the line including its '\n', 0 absent. */
int maps_text_find(const char *text, size_t len, const char *key, size_t *start, size_t *end);

#endif

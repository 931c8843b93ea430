/* acct.h: accounts, domains, aliases and routes as the compiled maps describe them */
#ifndef YUBIN_ACCT_H
#define YUBIN_ACCT_H

#include "limits.h"

#include <stddef.h>
#include <stdint.h>

#define PLAN_NAME_MAX 32
/* The manual: the basic plan's 20 MB mailbox grows to 50 MB with the capacity add-on. */
#define PLAN_ADDON_QUOTA (50ULL * 1024 * 1024)
/* users.cdb's pwid=: the first 16 hex digits of the SHA-256 of the account's crypt(3) hash
   string (cdb/mapsout.c), new whenever the hash is. It tells the member page that a session
   made with one password is of an older one (web/session.h). users.cdb is world-readable and
   the member page must never learn a hash: this is a digest of the whole salted hash, and the
   salt is only in auth.cdb and etc/users, so it gives no way to test guesses offline. */
#define ACCT_PWID_LEN 16

struct acct {
    char addr[ADDR_MAX + 1];           /* lower case */
    char plan[PLAN_NAME_MAX + 1];
    uint64_t quota;                    /* bytes; 0 = unlimited */
    int pop3s;                         /* 1 if the plan allows POP3 over TLS */
    int disabled;
    char home[YUBIN_PATH_MAX];         /* relative to the root: mail/DOMAIN/LOCAL */
    char host[SMTP_DOMAIN_MAX + 1];    /* back end holding the mailbox, or "" */
    char pwid[ACCT_PWID_LEN + 1];      /* the password's fingerprint, "" in older maps */
};

struct domain {
    char name[SMTP_DOMAIN_MAX + 1];
    char plan[PLAN_NAME_MAX + 1];
    uint64_t quota;                    /* plan default */
    uint64_t maxquota;
    int pop3s;
};

struct route {
    char host[SMTP_DOMAIN_MAX + 1];    /* name or IP literal without brackets */
    unsigned port;
    int tls_require;
    int verify;
};

/* Each returns 1 found, 0 absent, -1 error (errno; a missing map is an error).
   Keys are lower-cased copies of the argument; arguments over the bounds are absent. */
int acct_user(const char *root, const char *addr, struct acct *a);
/* 1 if the capacity add-on can still raise a mailbox of this plan and quota: the basic plan
   below PLAN_ADDON_QUOTA (quota 0, unlimited, never). 0 otherwise. */
int acct_addon_applies(const char *plan, uint64_t quota);
int acct_domain(const char *root, const char *domain, struct domain *d);
/* Space-separated final targets into out (cap >= MAP_VALUE_MAX recommended). */
int acct_alias(const char *root, const char *addr, char *out, size_t cap);
/* The route for domain, falling back to the default (empty key). */
int acct_route(const char *root, const char *domain, struct route *r);

/* Maildir path of an account: ROOT/HOME/Maildir. 0 ok, -1 too long. */
int acct_maildir(const char *root, const struct acct *a, char *out, size_t cap);

#endif

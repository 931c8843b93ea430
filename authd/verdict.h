/* verdict.h: authd's verification of one login against the maps: what a worker runs, and the
   stored-hash lookups the parent's cache needs (docs/auth.md "How it works") */
#ifndef YUBIN_VERDICT_H
#define YUBIN_VERDICT_H

#include "pwcheck.h"
#include "web/apply.h"

/* what a worker reports: one octet on its socket */
enum verdict {
    V_OK = 'o',
    V_PASSWORD = 'p',   /* wrong password */
    V_UNKNOWN = 'u',    /* no such account */
    V_DISABLED = 'd',   /* right password, account disabled */
    V_BADHASH = 'h',    /* the stored hash is unusable */
    V_TEMP = 't',       /* map unreadable */
};

/* The verdict on login's (lower case) password against ROOT/cdb/auth.cdb and users.cdb; an
   unknown login costs a verification against the first hash of the map. hash[PW_HASH_MAX]
   gets the stored hash the password was checked against (meaningful with V_OK only). A map
   that cannot be read is logged as a warning (V_TEMP). */
enum verdict verdict_user(const char *root, const char *login, const char *password,
                          char *hash);
/* The same for a domain administrator of the member page (ROOT/etc/webadmins); an unknown
   domain costs a dummy verification. */
enum verdict verdict_admin(const char *root, const char *domain, const char *password,
                           char *hash);
/* domain's line in ROOT/etc/webadmins (root:yubin-auth 0640, written by mailacct; at most
   APPLY_ADMINS_MAX read): 1 found (w filled; the caller wipes it), 0 none, -1 unreadable
   (logged). */
int verdict_read_admin(const char *root, const char *domain, struct webadmin *w);
/* For the cache: the current stored hash of login (admin: a domain in etc/webadmins; else
   auth.cdb) into hash[PW_HASH_MAX], if the account may log in now (in users.cdb without
   disabled=1). 1 yes; 0 no or a map unreadable (then a worker verifies and says why). */
int verdict_stored(const char *root, int admin, const char *login, char *hash);

#endif

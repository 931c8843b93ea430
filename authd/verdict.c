/* verdict.c: authd's verification of one login against the maps (the workers' job, verdict.h) */
#include "verdict.h"
#include "acct.h"
#include "cdbmap.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first hash in the map models the cost of a real verification for unknown users. */
static void dummy_setting(struct cdbmap *m, char *out, size_t cap)
{
    unsigned pos, len;
    cdb_seqinit(&pos, &m->cdb);
    if (cdb_seqnext(&pos, &m->cdb) > 0) {
        len = cdb_datalen(&m->cdb);
        if (len > 0 && len < cap && cdb_read(&m->cdb, out, len, cdb_datapos(&m->cdb)) == 0) {
            out[len] = '\0';
            return;
        }
    }
    memcpy(out, PW_DUMMY_SETTING, sizeof PW_DUMMY_SETTING);
}

/* The verdict on login's password; hash[PW_HASH_MAX] gets the stored hash it was checked with
   (for the cache: only meaningful with V_OK). */
enum verdict verdict_user(const char *root, const char *login, const char *password, char *hash)
{
    struct cdbmap m;
    struct acct a;
    int r, known, match;

    if (cdbmap_open(&m, root, "auth") < 0) {
        log_warn_sys("unable to open %s/cdb/auth.cdb", root);
        return V_TEMP;
    }
    r = cdbmap_find(&m, login, strlen(login), hash, PW_HASH_MAX, NULL);
    if (r < 0 && errno != EMSGSIZE) {
        log_warn_sys("unable to read %s/cdb/auth.cdb", root);
        cdbmap_close(&m);
        return V_TEMP;
    }
    known = r == 1;
    if (!known) {
        dummy_setting(&m, hash, PW_HASH_MAX);
    }
    cdbmap_close(&m);
    match = pw_verify(password, hash);
    if (!known && match < 0) {
        match = pw_verify(password, PW_DUMMY_SETTING);
    }
    if (!known) {
        return r < 0 ? V_BADHASH : V_UNKNOWN;
    }
    if (match < 0) {
        return V_BADHASH;
    }
    r = acct_user(root, login, &a);
    if (r < 0) {
        log_warn_sys("unable to read %s/cdb/users.cdb", root);
        return V_TEMP;
    }
    if (r == 0) {
        return V_UNKNOWN;   /* a hash without an account: half-deleted, treat as unknown */
    }
    if (!match) {
        return V_PASSWORD;
    }
    return a.disabled ? V_DISABLED : V_OK;
}

/* A domain administrator's line in ROOT/etc/webadmins (web/apply.h), root:yubin-auth 0640,
   written by mailacct: 1 found (w filled), 0 none, -1 unreadable (logged). */
int verdict_read_admin(const char *root, const char *domain, struct webadmin *w)
{
    char path[YUBIN_PATH_MAX];
    ssize_t n;
    char *text = malloc(APPLY_ADMINS_MAX);
    int known = 0;
    if (!text || str_fmt(path, sizeof path, "%s/etc/webadmins", root) < 0) {
        free(text);
        return -1;
    }
    n = fd_read_file(path, text, APPLY_ADMINS_MAX);
    if (n < 0 && errno != ENOENT) {
        log_warn_sys("unable to read %s", path);
        free(text);
        return -1;
    }
    if (n > 0) {
        known = apply_admin_find(text, (size_t)n, domain, w) == 1;
    }
    free(text);
    return known;
}

/* A domain administrator of the member page; hash[PW_HASH_MAX] as for verdict_user(). Unknown
   domains cost a dummy verification. */
enum verdict verdict_admin(const char *root, const char *domain, const char *password,
                           char *hash)
{
    struct webadmin w;
    int known = verdict_read_admin(root, domain, &w), match;
    if (known < 0) {
        return V_TEMP;
    }
    match = pw_verify(password, known ? w.hash : PW_DUMMY_SETTING);
    /* an AUTH_FIELD_MAX hash always fits PW_HASH_MAX */
    memcpy(hash, known ? w.hash : "", known ? strlen(w.hash) + 1 : 1);
    explicit_bzero(&w, sizeof w);
    if (!known) {
        return V_UNKNOWN;
    }
    return match < 0 ? V_BADHASH : match ? V_OK : V_PASSWORD;
}

int verdict_stored(const char *root, int admin, const char *login, char *hash)
{
    struct cdbmap m;
    struct acct a;
    int r;
    if (admin) {
        struct webadmin w;
        r = verdict_read_admin(root, login, &w) == 1 && strlen(w.hash) < PW_HASH_MAX;
        if (r) {
            memcpy(hash, w.hash, strlen(w.hash) + 1);
        }
        explicit_bzero(&w, sizeof w);
        return r;
    }
    if (cdbmap_open(&m, root, "auth") < 0) {
        return 0;
    }
    r = cdbmap_find(&m, login, strlen(login), hash, PW_HASH_MAX, NULL);
    cdbmap_close(&m);
    return r == 1 && acct_user(root, login, &a) == 1 && !a.disabled;
}

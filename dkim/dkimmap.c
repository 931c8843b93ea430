/* dkimmap.c: ROOT/cdb/dkim.cdb from the directory's DKIM records; run by mapsync (yubin-sync) */
#include "dkimdir.h"

#include "dkim.h"
#include "dkimkey.h"
#include "cdb/mapsio.h"
#include "str.h"

#include <cdb.h>
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#define DKIMDIR_GROUPS 64   /* supplementary groups looked at (yubin-setup gives mapsync 2) */

struct cdb_job {
    const struct fleet_snap *s;
    size_t keys, bad;
};

/* A domain's selector record: the key record it names into the cdb. 0 added or left out
   (counted in bad), -1 write error. */
static int add_domain(struct cdb_make *mk, struct cdb_job *j, const char *domain,
                      const char *sel)
{
    char key[FLEET_KEY_MAX], name[SMTP_DOMAIN_MAX + DKIM_SELECTOR_MAX + 2];
    char pub[DKIMKEY_PUB_MAX];
    unsigned char der[DKIMDIR_DER_MAX];
    const struct fleet_kv *kv;
    size_t derlen;
    int r;
    if (!dkimkey_selector_ok(sel) || dkimdir_key(key, sizeof key, domain, sel) < 0
        || !(kv = fleet_snap_find(j->s, key))
        || dkimdir_parse(kv->val, sel, pub, sizeof pub, der, sizeof der, &derlen) < 0) {
        j->bad++;
        return 0;
    }
    str_fmt(name, sizeof name, "%s/%s", domain, sel);
    r = cdb_make_add(mk, domain, (unsigned)strlen(domain), sel, (unsigned)strlen(sel)) < 0
        || cdb_make_add(mk, name, (unsigned)strlen(name), der, (unsigned)derlen) < 0 ? -1 : 0;
    explicit_bzero(der, sizeof der);
    j->keys += r == 0;
    return r;
}

static int cdb_body(int fd, const void *ctx)
{
    struct cdb_job *j = (struct cdb_job *)ctx;
    char domain[SMTP_DOMAIN_MAX + 1], sel[DKIM_SELECTOR_MAX + 1];
    struct cdb_make mk;
    size_t i;
    if (cdb_make_start(&mk, fd) < 0) {
        return -1;
    }
    for (i = 0; i < j->s->n; i++) {
        if (dkimdir_which(j->s->kv[i].key, domain, sel) == 1
            && add_domain(&mk, j, domain, j->s->kv[i].val) < 0) {
            cdb_make_finish(&mk);
            return -1;
        }
    }
    return cdb_make_finish(&mk) < 0 ? -1 : 0;
}

/* The signer's group when this process may give a file to it (root, or mapsync started with
   that supplementary group by yubin-setup); -1 otherwise. */
static long signer_gid(void)
{
    struct group *g = getgrnam(DKIMDIR_GROUP);
    gid_t list[DKIMDIR_GROUPS];
    int n, i;
    if (!g) {
        return -1;
    }
    if (geteuid() == 0 || getegid() == g->gr_gid) {
        return (long)g->gr_gid;
    }
    n = getgroups(DKIMDIR_GROUPS, list);
    for (i = 0; i < n; i++) {
        if (list[i] == g->gr_gid) {
            return (long)g->gr_gid;
        }
    }
    return -1;
}

int dkimdir_write_cdb(const char *root, const struct fleet_snap *s, size_t *keys, size_t *bad,
                      int *nogroup)
{
    char dir[YUBIN_PATH_MAX], name[32];
    struct cdb_job j = { s, 0, 0 };
    long gid = signer_gid();
    int r;
    *nogroup = gid < 0 && getgrnam(DKIMDIR_GROUP) != NULL;
    if (str_fmt(dir, sizeof dir, "%s/cdb", root) < 0
        || str_fmt(name, sizeof name, "%s.cdb", DKIMDIR_CDB) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    r = mapsio_write_file(dir, name, gid >= 0 ? 0640 : 0600, gid >= 0,
                          geteuid() == 0 ? 0 : (uid_t)-1, gid >= 0 ? (gid_t)gid : (gid_t)-1,
                          cdb_body, &j);
    *keys = j.keys;
    *bad = j.bad;
    return r;
}

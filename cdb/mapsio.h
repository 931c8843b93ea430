/* mapsio.h: the maps on disk: reading ROOT/etc sources, writing them back atomically,
   compiling them (maps.h) and replacing ROOT/cdb/NAME.cdb by rename. Shared by mkmaps and
   mailacct; the lock on ROOT/etc/.lock serialises every writer. */
#ifndef YUBIN_MAPSIO_H
#define YUBIN_MAPSIO_H

#include "maps.h"

#include <stddef.h>
#include <sys/types.h>

struct maps_src {
    char *text[MAPS_NFILES];    /* malloc'd, NUL-terminated (may be "" for a missing file) */
    size_t len[MAPS_NFILES];
    int present[MAPS_NFILES];   /* the file existed */
    mode_t mode[MAPS_NFILES];   /* permission bits of the existing file */
    uid_t uid[MAPS_NFILES];
    gid_t gid[MAPS_NFILES];
    enum maps_file failed;      /* the file a failed mapsio_read could not read */
    const char *domains_from;   /* NULL: MAPS_DOMAINS_FROM (maps_set_domains_from) */
};

struct maps_change {
    unsigned long added, removed, changed;
};

/* What a build changed against the cdbs it replaced (docs/maps.md "mkmaps"): c[] counts
   records by key, except c[MAPS_CDB_USERS].changed, which counts accounts whose settings
   changed, not a new password alone (its pwid=); passwords counts the accounts, kept, whose
   login changed: a new password, or disabled or enabled again. */
struct maps_report {
    struct maps_change c[MAPS_NCDB];
    unsigned long passwords;
};

/* Read every ROOT/etc source (a missing file reads as empty). 0 ok; -1 with errno
   (EFBIG past MAPS_FILE_MAX) and src->failed set. Free with mapsio_src_free. */
int mapsio_read(const char *root, struct maps_src *src);
void mapsio_src_free(struct maps_src *src);
/* Replace one text; takes ownership of the malloc'd text (len bytes + NUL). */
void mapsio_src_set(struct maps_src *src, enum maps_file f, char *text, size_t len);
/* Compile every source in order. The maps, or NULL with err filled (err->sys for ENOMEM). */
struct maps *mapsio_compile(const struct maps_src *src, struct maps_err *err);
/* "users:12: reason" */
void mapsio_err_str(const struct maps_err *err, char *out, size_t cap);

/* Write src's text of f to ROOT/etc/NAME: temporary file, fsync, rename, fsync of etc/.
   Keeps the old file's mode and owner (new files: users 0600, others 0644). 0 / -1 errno. */
int mapsio_write_text(const char *root, const struct maps_src *src, enum maps_file f);
/* Remove the temporary files (.NAME.tmp.PID) of ROOT/cdb and ROOT/etc whose writer is gone
   (killed in the middle of a rebuild: mkmaps, mailacct, mapsync), each logged. A writer that
   still runs keeps its file. mapsio_write_cdbs calls it first: every rebuild cleans up. */
void mapsio_clean_tmp(const char *root);
/* Write every cdb: ROOT/cdb/.NAME.tmp, cdb_make, fsync, rename, fsync of cdb/. As root:
   auth.cdb root:yubin-auth 0640 (0600 root without that group), others root 0644; as
   another user whose group is yubin-auth (mapsync), auth.cdb 0640 that group; otherwise
   auth.cdb 0600. rep (may be NULL) counts changes against the cdbs replaced. 0 / -1 errno. */
int mapsio_write_cdbs(const char *root, const struct maps *m, struct maps_report *rep);
/* Compile the Public Suffix List file list (dmarc_psl_path) into ROOT/cdb/psl.cdb (0644;
   lib/dmarc's rules, and the list file's stamp under DMARC_PSL_STAMP), unless psl.cdb already
   holds that stamp. mapsio_write_cdbs calls it after the maps. 0 done (also: no list file),
   -1 errno. */
int mapsio_write_psl(const char *root, const char *list);
/* Fleet mode: record the etcd revision the cdbs were just built from in ROOT/cdb/revision
   (written like a cdb, after every cdb). 0 / -1 errno. */
int mapsio_write_revision(const char *root, long long rev);
/* Replace dir/name by rename: dir/.name.tmp.PID made 0600, fchown'd to uid:gid (chown_it),
   fchmod'd to mode, filled by body(fd, ctx), fsynced, renamed, dir fsynced (the way every cdb
   is written; other maps, e.g. dkim/dkimdir.c's dkim.cdb). 0 / -1 errno. */
int mapsio_write_file(const char *dir, const char *name, mode_t mode, int chown_it, uid_t uid,
                      gid_t gid, int (*body)(int fd, const void *ctx), const void *ctx);
/* That revision; 0 if there is none. */
long long mapsio_read_revision(const char *root);
/* "users: 1 added, 0 removed, 0 changed; domains: ..." */
void mapsio_report_str(const struct maps_report *rep, char *out, size_t cap);

/* Lock ROOT/etc/.lock (flock, exclusive or shared), waiting for it. The fd (keep it open
   while the lock is needed), or -1 errno. */
int mapsio_lock(const char *root, int exclusive);

#endif

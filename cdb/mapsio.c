/* mapsio.c: the maps on disk: sources read and written atomically, cdbs replaced by rename */
#include "mapsio.h"

#include "cdbmap.h"
#include "dmarc.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <cdb.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_one(const char *root, enum maps_file f, struct maps_src *src)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    ssize_t got;
    char *text;
    int fd;

    if (str_fmt(path, sizeof path, "%s/etc/%s", root, maps_file_name(f)) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        text = strdup("");
        if (!text) {
            return -1;
        }
        src->present[f] = 0;
        src->mode[f] = f == MAPS_USERS ? 0600 : 0644;
        src->uid[f] = geteuid();
        src->gid[f] = getegid();
        mapsio_src_set(src, f, text, 0);
        return 0;
    }
    if (fd < 0 || fstat(fd, &st) < 0) {
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAPS_FILE_MAX) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        goto fail;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        goto fail;
    }
    got = fd_read_full(fd, text, (size_t)st.st_size);
    if (got < 0) {
        free(text);
        goto fail;
    }
    text[got] = '\0';
    close(fd);
    src->present[f] = 1;
    src->mode[f] = st.st_mode & 07777;
    src->uid[f] = st.st_uid;
    src->gid[f] = st.st_gid;
    mapsio_src_set(src, f, text, (size_t)got);
    return 0;
fail:
    if (fd >= 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return -1;
}

int mapsio_read(const char *root, struct maps_src *src)
{
    int f;
    memset(src, 0, sizeof *src);
    for (f = 0; f < MAPS_NFILES; f++) {
        if (read_one(root, (enum maps_file)f, src) < 0) {
            src->failed = (enum maps_file)f;
            return -1;
        }
    }
    return 0;
}

void mapsio_src_free(struct maps_src *src)
{
    int f;
    for (f = 0; f < MAPS_NFILES; f++) {
        free(src->text[f]);
        src->text[f] = NULL;
    }
}

void mapsio_src_set(struct maps_src *src, enum maps_file f, char *text, size_t len)
{
    if (src->text[f] != text) {
        free(src->text[f]);
    }
    src->text[f] = text;
    src->len[f] = len;
}

struct maps *mapsio_compile(const struct maps_src *src, struct maps_err *err)
{
    struct maps *m = maps_new();
    int f;
    if (!m) {
        err->sys = ENOMEM;
        snprintf(err->reason, sizeof err->reason, "%s", strerror(ENOMEM));
        return NULL;
    }
    if (src->domains_from) {
        maps_set_domains_from(m, src->domains_from);
    }
    for (f = 0; f < MAPS_NFILES; f++) {
        if (maps_load(m, (enum maps_file)f, src->text[f], src->len[f], err) < 0) {
            maps_free(m);
            return NULL;
        }
    }
    if (maps_finish(m, err) < 0) {
        maps_free(m);
        return NULL;
    }
    return m;
}

void mapsio_err_str(const struct maps_err *err, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%lu: %s", maps_file_name(err->file), err->line, err->reason);
}

/* Write len bytes to dir/.name.tmp.PID with mode/owner, fsync, rename to dir/name, fsync dir.
   write_body fills the fd. */
static int atomic_file(const char *dir, const char *name, mode_t mode, int chown_it, uid_t uid,
                       gid_t gid, int (*body)(int fd, const void *ctx), const void *ctx)
{
    char tmp[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX];
    int fd, e;
    if (str_fmt(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) < 0
        || str_fmt(path, sizeof path, "%s/%s", dir, name) < 0) {
        return -1;
    }
    unlink(tmp);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -1;
    }
    if ((chown_it && fchown(fd, uid, gid) < 0) || fchmod(fd, mode) < 0 || body(fd, ctx) < 0
        || fsync(fd) < 0) {
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        goto fail;
    }
    return fd_fsync_dir(dir);
fail:
    e = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    errno = e;
    return -1;
}

struct text_ctx {
    const char *s;
    size_t n;
};

static int text_body(int fd, const void *ctx)
{
    const struct text_ctx *t = ctx;
    return fd_write_all(fd, t->s, t->n);
}

int mapsio_write_text(const char *root, const struct maps_src *src, enum maps_file f)
{
    char dir[YUBIN_PATH_MAX];
    struct text_ctx t;
    t.s = src->text[f];
    t.n = src->len[f];
    if (str_fmt(dir, sizeof dir, "%s/etc", root) < 0) {
        return -1;
    }
    return atomic_file(dir, maps_file_name(f), src->mode[f], geteuid() == 0, src->uid[f],
                       src->gid[f], text_body, &t);
}

struct cdb_ctx {
    const struct maps *m;
    enum maps_cdb which;
    struct cdb old;
    int have_old;
    unsigned long found;
    struct maps_change *change;
    unsigned long *passwords;       /* maps_report's, with change */
    struct cdb_make mk;
};

/* The next word of the users.cdb value s[0..n) from *pos, pwid= left out: its length (0 at
   the end) and *w. pwid= is the fingerprint of the password's hash: a new password changes it
   along with the auth.cdb record, and is counted there, as a password. */
static size_t user_word(const char *s, size_t n, size_t *pos, const char **w)
{
    while (*pos < n) {
        const char *p = s + *pos;
        const char *space = memchr(p, ' ', n - *pos);
        size_t len = space ? (size_t)(space - p) : n - *pos;
        *pos += len + 1;
        if (len > 0 && !(len >= 5 && memcmp(p, "pwid=", 5) == 0)) {
            *w = p;
            return len;
        }
    }
    *w = s + n;
    return 0;
}

static int user_has_word(const char *s, size_t n, const char *word)
{
    size_t pos = 0, len, wlen = strlen(word);
    const char *w;
    while ((len = user_word(s, n, &pos, &w)) > 0) {
        if (len == wlen && memcmp(w, word, wlen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The record of key changed from old to v. An account's users.cdb record counts as a
   changed account when more than pwid= changed, and as a changed login when it was disabled
   or enabled again (a disabled account is left out of auth.cdb); a new hash of a login kept
   is auth.cdb's changed record. */
static void count_changed(struct cdb_ctx *c, const char *old, size_t ol, const char *v,
                          size_t vl)
{
    size_t po = 0, pv = 0, lo, lv;
    const char *wo, *wv;
    if (c->which != MAPS_CDB_USERS) {
        c->change->changed++;
        if (c->which == MAPS_CDB_AUTH) {
            (*c->passwords)++;
        }
        return;
    }
    do {
        lo = user_word(old, ol, &po, &wo);
        lv = user_word(v, vl, &pv, &wv);
        if (lo != lv || memcmp(wo, wv, lo) != 0) {
            c->change->changed++;
            break;
        }
    } while (lo > 0);
    if (user_has_word(old, ol, "disabled=1") != user_has_word(v, vl, "disabled=1")) {
        (*c->passwords)++;
    }
}

static int emit_record(void *vctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct cdb_ctx *c = vctx;
    if (c->have_old && c->change) {
        int r = cdb_find(&c->old, k, (unsigned)kl);
        if (r > 0) {
            const char *old = cdb_getdata(&c->old);
            size_t ol = cdb_datalen(&c->old);
            c->found++;
            if (ol != vl || memcmp(old, v, vl) != 0) {
                count_changed(c, old, ol, v, vl);
            }
        } else {
            c->change->added++;
        }
    } else if (c->change) {
        c->change->added++;
    }
    return cdb_make_add(&c->mk, k, (unsigned)kl, v, (unsigned)vl) < 0 ? -1 : 0;
}

static int cdb_body(int fd, const void *vctx)
{
    struct cdb_ctx *c = (struct cdb_ctx *)vctx;
    if (cdb_make_start(&c->mk, fd) < 0) {
        return -1;
    }
    if (maps_records(c->m, c->which, emit_record, c) < 0) {
        int e = errno ? errno : EIO;
        cdb_make_finish(&c->mk);
        errno = e;
        return -1;
    }
    return cdb_make_finish(&c->mk) < 0 ? -1 : 0;
}

static unsigned long cdb_count(struct cdb *c)
{
    unsigned pos;
    unsigned long n = 0;
    cdb_seqinit(&pos, c);
    while (cdb_seqnext(&pos, c) > 0) {
        n++;
    }
    return n;
}

static int write_cdb(const char *dir, const struct maps *m, enum maps_cdb which,
                     struct maps_report *rep)
{
    struct maps_change *change = rep ? &rep->c[which] : NULL;
    char path[YUBIN_PATH_MAX];
    struct cdb_ctx c;
    mode_t mode = 0644;
    gid_t gid = 0;
    int oldfd, r, e, chown_it = geteuid() == 0;

    memset(&c, 0, sizeof c);
    c.m = m;
    c.which = which;
    c.change = change;
    c.passwords = rep ? &rep->passwords : NULL;
    if (which == MAPS_CDB_AUTH) {
        /* root, or mapsync running with the group yubin-auth (fleet mode) */
        struct group *g = getgrnam("yubin-auth");
        if (g && geteuid() != 0 && getegid() != g->gr_gid) {
            g = NULL;
        }
        mode = g ? 0640 : 0600;
        gid = g ? g->gr_gid : 0;
        chown_it = g != NULL;
    }
    if (str_fmt(path, sizeof path, "%s/%s", dir, maps_cdb_name(which)) < 0) {
        return -1;
    }
    oldfd = open(path, O_RDONLY | O_CLOEXEC);
    if (oldfd >= 0 && cdb_init(&c.old, oldfd) == 0) {
        c.have_old = 1;
    }
    r = atomic_file(dir, maps_cdb_name(which), mode, chown_it, geteuid() == 0 ? 0 : (uid_t)-1,
                    gid, cdb_body, &c);
    e = errno;
    if (c.have_old) {
        if (r == 0 && change) {
            unsigned long total = cdb_count(&c.old);
            change->removed = total > c.found ? total - c.found : 0;
        }
        cdb_free(&c.old);
    }
    if (oldfd >= 0) {
        close(oldfd);
    }
    errno = e;
    return r;
}

/* ---- psl.cdb: the Public Suffix List for lib/dmarc ---- */

struct psl_ctx {
    struct cdb_make mk;
    char *text;
    size_t n;
    const char *stamp;
};

static int psl_add(void *ctx, const char *rule, size_t len)
{
    return cdb_make_add(ctx, rule, (unsigned)len, "", 0) < 0 ? -1 : 0;
}

static int psl_body(int fd, const void *vctx)
{
    struct psl_ctx *c = (struct psl_ctx *)vctx;
    if (cdb_make_start(&c->mk, fd) < 0) {
        return -1;
    }
    if (cdb_make_add(&c->mk, DMARC_PSL_STAMP, sizeof DMARC_PSL_STAMP - 1, c->stamp,
                     (unsigned)strlen(c->stamp)) < 0
        || dmarc_psl_rules(c->text, c->n, psl_add, &c->mk) != 0) {
        int e = errno ? errno : EIO;
        cdb_make_finish(&c->mk);
        errno = e;
        return -1;
    }
    return cdb_make_finish(&c->mk) < 0 ? -1 : 0;
}

int mapsio_write_psl(const char *root, const char *list)
{
    char dir[YUBIN_PATH_MAX], stamp[DMARC_PSL_STAMP_MAX];
    struct cdbmap current;
    struct psl_ctx c;
    int r;

    if (dmarc_psl_stamp(list, stamp, sizeof stamp) < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (dmarc_psl_cdb_open(&current, root, list) == 0) {
        cdbmap_close(&current);
        return 0;
    }
    if (str_fmt(dir, sizeof dir, "%s/cdb", root) < 0) {
        return -1;
    }
    memset(&c, 0, sizeof c);
    c.stamp = stamp;
    if (!(c.text = dmarc_psl_read(list, &c.n))) {
        return -1;
    }
    r = atomic_file(dir, DMARC_PSL_CDB ".cdb", 0644, geteuid() == 0,
                    geteuid() == 0 ? 0 : (uid_t)-1, 0, psl_body, &c);
    free(c.text);
    return r;
}

/* ".NAME.tmp.PID" in dir: 1 and *pid when name is one of atomic_file's temporary files. */
static int tmp_name(const char *name, long *pid)
{
    const char *t = name[0] == '.' ? strstr(name, ".tmp.") : NULL;
    char *end;
    if (!t || t == name || !t[5]) {
        return 0;
    }
    errno = 0;
    *pid = strtol(t + 5, &end, 10);
    return errno == 0 && *end == '\0' && *pid > 0;
}

void mapsio_clean_tmp(const char *root)
{
    static const char *const dirs[] = { "cdb", "etc" };
    char dir[YUBIN_PATH_MAX];
    struct dirent *e;
    size_t i;
    long pid;
    DIR *d;

    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (str_fmt(dir, sizeof dir, "%s/%s", root, dirs[i]) < 0 || !(d = opendir(dir))) {
            continue;
        }
        while ((e = readdir(d)) != NULL) {
            if (tmp_name(e->d_name, &pid) && pid != (long)getpid()
                && kill((pid_t)pid, 0) < 0 && errno == ESRCH
                && unlinkat(dirfd(d), e->d_name, 0) == 0) {
                log_info("removed %s/%s, left by a rebuild that was cut short", dir, e->d_name);
            }
        }
        closedir(d);
    }
}

/* cdb/admin: the operator's address the maps were compiled with (etc/admin, or in a fleet the
   directory's admin record, which no node's etc/admin holds), one line or empty, for the
   programs that mail the operator (lib/cfg cfg_admin). Rewritten only when it changes. */
static int write_admin(const char *dir, const struct maps *m)
{
    char line[ADDR_MAX + 2], path[YUBIN_PATH_MAX], old[ADDR_MAX + 3];
    struct text_ctx t;
    ssize_t n;

    if (str_fmt(line, sizeof line, "%s%s", maps_admin(m), maps_admin(m)[0] ? "\n" : "") < 0
        || str_fmt(path, sizeof path, "%s/admin", dir) < 0) {
        return -1;
    }
    n = fd_read_file(path, old, sizeof old);
    if (n >= 0 && strcmp(old, line) == 0) {
        return 0;
    }
    t.s = line;
    t.n = strlen(line);
    return atomic_file(dir, "admin", 0644, 0, 0, 0, text_body, &t);
}

int mapsio_write_cdbs(const char *root, const struct maps *m, struct maps_report *rep)
{
    char dir[YUBIN_PATH_MAX], listbuf[YUBIN_PATH_MAX];
    const char *list;
    int c;
    if (rep) {
        memset(rep, 0, sizeof *rep);
    }
    if (str_fmt(dir, sizeof dir, "%s/cdb", root) < 0) {
        return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return -1;
    }
    mapsio_clean_tmp(root);     /* what a killed rebuild left, whoever's it was */
    /* Order: what others point at first (domains before users before aliases); auth before
       users, so that the member page's login, which reads users.cdb's pwid= after authd's yes
       and then asks authd again, never keeps a new hash's fingerprint for an old password. */
    for (c = 0; c < MAPS_NCDB; c++) {
        if (write_cdb(dir, m, (enum maps_cdb)c, rep) < 0) {
            return -1;
        }
    }
    if (write_admin(dir, m) < 0) {
        return -1;
    }
    /* not the maps' failure: without it smtpd reads the list file itself */
    list = dmarc_psl_path(root, listbuf, sizeof listbuf);
    if (mapsio_write_psl(root, list) < 0) {
        log_warn_sys("unable to compile %s into %s/psl.cdb", list, dir);
    }
    return 0;
}

void mapsio_report_str(const struct maps_report *rep, char *out, size_t cap)
{
    const struct maps_change *u = &rep->c[MAPS_CDB_USERS], *d = &rep->c[MAPS_CDB_DOMAINS],
                             *a = &rep->c[MAPS_CDB_ALIASES], *r = &rep->c[MAPS_CDB_ROUTES];
    snprintf(out, cap, "users: %lu added, %lu removed, %lu changed; "
             "domains: %lu added, %lu removed, %lu changed; "
             "aliases: %lu added, %lu removed, %lu changed; "
             "routes: %lu added, %lu removed, %lu changed; passwords: %lu changed",
             u->added, u->removed, u->changed, d->added, d->removed, d->changed,
             a->added, a->removed, a->changed, r->added, r->removed, r->changed, rep->passwords);
}

int mapsio_lock(const char *root, int exclusive)
{
    char path[YUBIN_PATH_MAX];
    if (str_fmt(path, sizeof path, "%s/etc/.lock", root) < 0) {
        return -1;
    }
    return fd_open_locked(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600,
                          exclusive ? LOCK_EX : LOCK_SH);
}

static int rev_body(int fd, const void *ctx)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%lld\n", *(const long long *)ctx);
    return fd_write_all(fd, line, (size_t)n);
}

int mapsio_write_revision(const char *root, long long rev)
{
    char dir[YUBIN_PATH_MAX];
    if (str_fmt(dir, sizeof dir, "%s/cdb", root) < 0) {
        return -1;
    }
    return atomic_file(dir, "revision", 0644, 0, 0, 0, rev_body, &rev);
}

int mapsio_write_file(const char *dir, const char *name, mode_t mode, int chown_it, uid_t uid,
                      gid_t gid, int (*body)(int fd, const void *ctx), const void *ctx)
{
    return atomic_file(dir, name, mode, chown_it, uid, gid, body, ctx);
}

long long mapsio_read_revision(const char *root)
{
    char path[YUBIN_PATH_MAX], line[32];
    if (str_fmt(path, sizeof path, "%s/cdb/revision", root) < 0
        || fd_read_file(path, line, sizeof line) <= 0) {
        return 0;
    }
    return strtoll(line, NULL, 10);
}

/* dkimacct.c: mailacct's DKIM keys and DNS records (domain add, domain dkim); run by root */
#include "dkimacct.h"

#include "buf.h"
#include "dkim.h"
#include "dkimdir.h"
#include "dkimkey.h"
#include "exitcode.h"
#include "fd.h"
#include "limits.h"
#include "log.h"
#include "cdb/sheet.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DKIM_USER "yubin-dkim"

/* As root, what mailacct writes under ROOT/dkim/ takes the owner of ROOT/dkim/ itself, which
   yubin-setup made: yubin-dkim (the signer), or the user everything runs as in a root set up
   without root. A ROOT/dkim/ made here goes to yubin-dkim when that user exists. */
static void give(const char *root, const char *path)
{
    char top[YUBIN_PATH_MAX];
    struct stat st;
    struct passwd *pw;
    if (geteuid() != 0) {
        return;
    }
    if (str_fmt(top, sizeof top, "%s/dkim", root) < 0 || stat(top, &st) < 0) {
        die_sys(EXIT_TEMP, "unable to stat %s/dkim", root);
    }
    if (st.st_uid == 0 && (pw = getpwnam(DKIM_USER)) != NULL) {
        st.st_uid = pw->pw_uid;
        st.st_gid = pw->pw_gid;
    }
    if (chown(path, st.st_uid, st.st_gid) < 0) {
        die_sys(EXIT_TEMP, "unable to chown %s", path);
    }
}

static void make_dir(const char *root, const char *path)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        die_sys(EXIT_TEMP, "unable to create %s", path);
    }
    give(root, path);
}

/* Write a new file (O_EXCL) 0600, fsync it, give it to the signer. */
static void write_new(const char *root, const char *path, const char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        die_sys(EXIT_TEMP, "unable to create %s", path);
    }
    if (fd_write_all(fd, p, n) < 0 || fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(path);
        errno = e;
        die_sys(EXIT_TEMP, "unable to write %s", path);
    }
    give(root, path);
}

static void path_of(char *out, size_t cap, const char *root, const char *domain,
                    const char *sel, const char *ext)
{
    char name[DKIM_SELECTOR_MAX + 8];
    if (str_fmt(name, sizeof name, "%s%s", sel, ext) < 0
        || dkimkey_path(out, cap, root, domain, name) < 0) {
        die(EXIT_PERM, "path too long for domain %s", domain);
    }
}

/* Today's selector: yYYYYMMDD, or yYYYYMMDDb ... when taken() says it has a key. */
static void pick_selector(const char *domain, char *sel, size_t cap,
                          int (*taken)(const void *ctx, const char *sel), const void *ctx)
{
    struct tm tm;
    time_t now = time(NULL);
    char c;
    if (!localtime_r(&now, &tm)) {
        die_sys(EXIT_TEMP, "unable to read the clock");
    }
    for (c = 'a'; c <= 'z'; c++) {
        char suffix[2] = { c == 'a' ? '\0' : c, '\0' };     /* y20261203, y20261203b, ... */
        str_fmt(sel, cap, "y%04d%02d%02d%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                suffix);
        if (!taken(ctx, sel)) {
            return;
        }
    }
    die(EXIT_PERM, "26 keys made today for %s: remove some (mailacct domain dkim %s remove "
        "SELECTOR)", domain, domain);
}

/* Where a domain's selectors are: ROOT/dkim/DOMAIN/ (s NULL) or the snapshot of etcd. */
struct key_place {
    const char *root, *domain;
    const struct fleet_snap *s;
};

static int local_taken(const void *ctx, const char *sel)
{
    const struct key_place *l = ctx;
    char path[YUBIN_PATH_MAX];
    struct stat st;
    path_of(path, sizeof path, l->root, l->domain, sel, ".key");
    return !(stat(path, &st) < 0 && errno == ENOENT);
}

void dkimacct_rotate(const char *root, const char *domain)
{
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX];
    char sel[DKIM_SELECTOR_MAX + 1], pub[DKIMKEY_PUB_MAX], line[DKIM_SELECTOR_MAX + 2];
    struct key_place l = { root, domain, NULL };
    struct buf pem;

    if (str_fmt(dir, sizeof dir, "%s/dkim", root) < 0) {
        die(EXIT_PERM, "mail root path too long");
    }
    make_dir(root, dir);
    if (dkimkey_path(dir, sizeof dir, root, domain, NULL) < 0) {
        die(EXIT_PERM, "path too long for domain %s", domain);
    }
    make_dir(root, dir);
    pick_selector(domain, sel, sizeof sel, local_taken, &l);
    path_of(path, sizeof path, root, domain, sel, ".key");
    buf_init(&pem, DKIMKEY_PEM_MAX);
    if (dkimkey_generate(&pem, pub, sizeof pub) < 0) {
        die_sys(EXIT_TEMP, "unable to make a DKIM key");
    }
    write_new(root, path, pem.s, pem.len);
    buf_wipe(&pem);
    path_of(path, sizeof path, root, domain, sel, ".pub");
    write_new(root, path, pub, strlen(pub));
    /* the switch: one rename of the selector file; dkim-sign reads it at every message */
    path_of(tmp, sizeof tmp, root, domain, "selector", ".tmp");
    unlink(tmp);
    str_fmt(line, sizeof line, "%s\n", sel);
    write_new(root, tmp, line, strlen(line));
    if (dkimkey_path(path, sizeof path, root, domain, "selector") < 0
        || rename(tmp, path) < 0 || fd_fsync_dir(dir) < 0) {
        die_sys(EXIT_TEMP, "unable to switch %s to selector %s", domain, sel);
    }
    printf("domain %s: DKIM selector %s made and signing (publish its record below)\n", domain,
           sel);
}

void dkimacct_remove(const char *root, const char *domain, const char *selector)
{
    char path[YUBIN_PATH_MAX], cur[DKIM_SELECTOR_MAX + 1];
    int r;
    if (!dkimkey_selector_ok(selector)) {
        die(EXIT_PERM, "invalid selector %s", selector);
    }
    r = dkimkey_current(root, domain, cur, sizeof cur);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read the selector of %s", domain);
    }
    if (r == 1 && strcmp(cur, selector) == 0) {
        die(EXIT_PERM, "selector %s signs %s now: make a new one first (mailacct domain dkim %s "
            "rotate)", selector, domain, domain);
    }
    path_of(path, sizeof path, root, domain, selector, ".key");
    if (unlink(path) < 0) {
        if (errno == ENOENT) {
            die(EXIT_PERM, "domain %s has no DKIM selector %s", domain, selector);
        }
        die_sys(EXIT_TEMP, "unable to remove %s", path);
    }
    path_of(path, sizeof path, root, domain, selector, ".pub");
    unlink(path);
    printf("domain %s: DKIM selector %s removed (its DNS record may go now)\n", domain, selector);
}

/* domain del: every file under ROOT/dkim/DOMAIN/ (its keys, their .pub, the selector) and the
   folder itself. The number of keys removed. */
size_t dkimacct_forget(const char *root, const char *domain)
{
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX];
    struct dirent *e;
    size_t keys = 0, len;
    DIR *d;

    if (dkimkey_path(dir, sizeof dir, root, domain, NULL) < 0) {
        die(EXIT_PERM, "path too long for domain %s", domain);
    }
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            return 0;
        }
        die_sys(EXIT_TEMP, "unable to list %s", dir);
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (unlinkat(dirfd(d), e->d_name, 0) < 0) {
            die_sys(EXIT_TEMP, "unable to remove %s/%s", dir, e->d_name);
        }
        len = strlen(e->d_name);
        keys += len > 4 && strcmp(e->d_name + len - 4, ".key") == 0;
    }
    closedir(d);
    if (rmdir(dir) < 0) {
        die_sys(EXIT_TEMP, "unable to remove %s", dir);
    }
    if (str_fmt(path, sizeof path, "%s/dkim", root) < 0 || fd_fsync_dir(path) < 0) {
        die_sys(EXIT_TEMP, "unable to sync %s/dkim", root);
    }
    return keys;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

/* The selectors with a key, newest first (the names sort by date). */
static size_t selectors(const char *root, const char *domain, char sels[][DKIM_SELECTOR_MAX + 1],
                        size_t max)
{
    char dir[YUBIN_PATH_MAX];
    char *order[DKIMKEY_SELECTORS];
    char tmp[DKIMKEY_SELECTORS][DKIM_SELECTOR_MAX + 1];
    struct dirent *e;
    size_t n = 0, i;
    DIR *d;

    if (dkimkey_path(dir, sizeof dir, root, domain, NULL) < 0) {
        return 0;
    }
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            return 0;
        }
        die_sys(EXIT_TEMP, "unable to list %s", dir);
    }
    while ((e = readdir(d)) != NULL && n < max && n < DKIMKEY_SELECTORS) {
        size_t len = strlen(e->d_name);
        if (len > 4 && len - 4 <= DKIM_SELECTOR_MAX && strcmp(e->d_name + len - 4, ".key") == 0) {
            memcpy(tmp[n], e->d_name, len - 4);
            tmp[n][len - 4] = '\0';
            if (dkimkey_selector_ok(tmp[n])) {
                order[n] = tmp[n];
                n++;
            }
        }
    }
    closedir(d);
    qsort(order, n, sizeof order[0], cmp_desc);
    for (i = 0; i < n; i++) {
        memcpy(sels[i], order[i], strlen(order[i]) + 1);
    }
    return n;
}

/* etc/spf (the fleet's sending addresses, "ip4:192.0.2.1 ip4:192.0.2.2"), else a:ME. */
static void spf_mechs(const char *root, char *out, size_t cap)
{
    char path[YUBIN_PATH_MAX], buf[MAP_LINE_MAX];
    const char *files[2] = { "spf", "me" };
    size_t f;
    for (f = 0; f < 2; f++) {
        char *line = buf;
        if (str_fmt(path, sizeof path, "%s/etc/%s", root, files[f]) < 0
            || fd_read_file(path, buf, sizeof buf) < 0) {
            continue;
        }
        while (line && *line) {     /* the first line that is not empty or a comment */
            char *nl = strchr(line, '\n');
            if (nl) {
                *nl = '\0';
            }
            line += strspn(line, " \t");
            if (*line && *line != '#') {
                str_fmt(out, cap, f == 0 ? "%s" : "a:%s", line);
                return;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    str_fmt(out, cap, "mx");
}

/* Print the sheet: the DKIM records of the n selectors (newest first) with their p= values,
   the one signing (cur, NULL: none), the SPF and DMARC records. */
static void print_records(const char *root, const char *domain, const char *cur,
                          char sels[][DKIM_SELECTOR_MAX + 1], char pubs[][DKIMKEY_PUB_MAX],
                          size_t n)
{
    char mechs[MAP_LINE_MAX], rua[ADDR_MAX + 1];
    struct buf dkim, spf, dmarc, out;
    struct sheet_dns s;
    size_t i;

    buf_init(&dkim, SHEET_MAX);
    buf_init(&spf, SHEET_MAX);
    buf_init(&dmarc, SHEET_MAX);
    buf_init(&out, SHEET_MAX);
    for (i = 0; i < n; i++) {
        if (dkimkey_record_dkim(&dkim, domain, sels[i], pubs[i]) < 0) {
            die_sys(EXIT_TEMP, "unable to format the records");
        }
    }
    spf_mechs(root, mechs, sizeof mechs);
    str_fmt(rua, sizeof rua, "postmaster@%s", domain);
    if (dkimkey_record_spf(&spf, domain, mechs) < 0
        || dkimkey_record_dmarc(&dmarc, domain, rua) < 0) {
        die_sys(EXIT_TEMP, "unable to format the records");
    }
    memset(&s, 0, sizeof s);
    s.domain = domain;
    s.selector = cur;
    s.dkim = dkim.s ? dkim.s : "";
    s.spf = spf.s;
    s.dmarc = dmarc.s;
    if (sheet_dns_text(&s, &out) < 0 || fwrite(out.s, 1, out.len, stdout) != out.len) {
        die_sys(EXIT_TEMP, "unable to print the records");
    }
    buf_free(&dkim);
    buf_free(&spf);
    buf_free(&dmarc);
    buf_free(&out);
}

void dkimacct_show(const char *root, const char *domain)
{
    char sels[DKIMKEY_SELECTORS][DKIM_SELECTOR_MAX + 1];
    char pubs[DKIMKEY_SELECTORS][DKIMKEY_PUB_MAX];
    char cur[DKIM_SELECTOR_MAX + 1], path[YUBIN_PATH_MAX];
    size_t n, i;
    int r;

    r = dkimkey_current(root, domain, cur, sizeof cur);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read the selector of %s", domain);
    }
    n = selectors(root, domain, sels, DKIMKEY_SELECTORS);
    for (i = 0; i < n; i++) {
        path_of(path, sizeof path, root, domain, sels[i], ".pub");
        if (fd_read_file(path, pubs[i], sizeof pubs[i]) < 0) {
            die_sys(EXIT_TEMP, "unable to read %s", path);
        }
        pubs[i][strcspn(pubs[i], "\n")] = '\0';
    }
    print_records(root, domain, r == 1 ? cur : NULL, sels, pubs, n);
}

/* ---- fleet mode: the keys live in etcd (dkim/dkimdir.h) ---- */

#define DKIMACCT_TXN_RECS 100   /* records deleted per transaction (etcd's limit: 128 ops) */

static int fleet_taken(const void *ctx, const char *sel)
{
    const struct key_place *l = ctx;
    char key[FLEET_KEY_MAX];
    return dkimdir_key(key, sizeof key, l->domain, sel) < 0 || fleet_snap_find(l->s, key) != NULL;
}

static void fleet_die(const char *err, int perm)
{
    die(perm ? EXIT_PERM : EXIT_TEMP, "%s", err);
}

void dkimacct_fleet_rotate(const struct fleet_conf *fc, struct fleet_snap *s, const char *domain,
                           long long *rev)
{
    char sel[DKIM_SELECTOR_MAX + 1], pub[DKIMKEY_PUB_MAX], body[DKIMDIR_VAL_MAX];
    char keyrec[FLEET_KEY_MAX], selrec[FLEET_KEY_MAX], err[FLEET_ERR_MAX + 256];
    char val[DKIMDIR_VAL_MAX + DKIMKEY_PUB_MAX];
    struct key_place l = { NULL, domain, s };
    struct fleet_rec recs[2];
    struct buf pem;
    int perm;

    pick_selector(domain, sel, sizeof sel, fleet_taken, &l);
    buf_init(&pem, DKIMKEY_PEM_MAX);
    if (dkimkey_generate(&pem, pub, sizeof pub) < 0) {
        die_sys(EXIT_TEMP, "unable to make a DKIM key");
    }
    if (dkimdir_pem_body(pem.s, pem.len, body, sizeof body) < 0
        || str_fmt(val, sizeof val, "%s:%s:%s", sel, pub, body) < 0
        || dkimdir_key(keyrec, sizeof keyrec, domain, sel) < 0
        || dkimdir_key(selrec, sizeof selrec, domain, NULL) < 0) {
        die(EXIT_BUG, "internal error: the key of %s does not fit its record", domain);
    }
    buf_wipe(&pem);
    explicit_bzero(body, sizeof body);
    /* the key and the switch to it in one transaction: every node signs with it from the
       revision that holds both */
    recs[0].key = keyrec;
    recs[0].line = val;
    recs[1].key = selrec;
    recs[1].line = sel;
    if (fleet_put(fc, s, recs, 2, rev, err, sizeof err, &perm) < 0) {
        explicit_bzero(val, sizeof val);
        fleet_die(err, perm);
    }
    explicit_bzero(val, sizeof val);
    printf("domain %s: DKIM selector %s made and signing (publish its record below)\n", domain,
           sel);
}

void dkimacct_fleet_remove(const struct fleet_conf *fc, struct fleet_snap *s, const char *domain,
                           const char *selector, long long *rev)
{
    char keyrec[FLEET_KEY_MAX], selrec[FLEET_KEY_MAX], err[FLEET_ERR_MAX + 256];
    const struct fleet_kv *cur;
    struct fleet_rec rec;
    int perm;

    if (!dkimkey_selector_ok(selector)) {
        die(EXIT_PERM, "invalid selector %s", selector);
    }
    if (dkimdir_key(keyrec, sizeof keyrec, domain, selector) < 0
        || dkimdir_key(selrec, sizeof selrec, domain, NULL) < 0) {
        die(EXIT_PERM, "invalid domain %s: too long", domain);
    }
    cur = fleet_snap_find(s, selrec);
    if (cur && strcmp(cur->val, selector) == 0) {
        die(EXIT_PERM, "selector %s signs %s now: make a new one first (mailacct domain dkim %s "
            "rotate)", selector, domain, domain);
    }
    if (!fleet_snap_find(s, keyrec)) {
        die(EXIT_PERM, "domain %s has no DKIM selector %s", domain, selector);
    }
    rec.key = keyrec;
    rec.line = NULL;
    if (fleet_put(fc, s, &rec, 1, rev, err, sizeof err, &perm) < 0) {
        fleet_die(err, perm);
    }
    printf("domain %s: DKIM selector %s removed (its DNS record may go now)\n", domain, selector);
}

size_t dkimacct_fleet_forget(const struct fleet_conf *fc, struct fleet_snap *s,
                             const char *domain, long long *rev)
{
    char d[SMTP_DOMAIN_MAX + 1], sel[DKIM_SELECTOR_MAX + 1], err[FLEET_ERR_MAX + 256];
    struct fleet_rec *recs = NULL;
    size_t n = 0, cap = 0, keys = 0, i, done;
    int perm;

    /* the domain's records, at most the snapshot's (FLEET_RECORDS_MAX) */
    for (i = 0; i < s->n; i++) {
        int w = dkimdir_which(s->kv[i].key, d, sel);
        if (w == 0 || strcmp(d, domain) != 0) {
            continue;
        }
        /* a copy: fleet_put replaces the snapshot when it has to read etcd again */
        if (buf_grow_array((void **)&recs, &cap, n, sizeof *recs, FLEET_RECORDS_MAX) < 0
            || !(recs[n].key = strdup(s->kv[i].key))) {
            die_sys(EXIT_TEMP, "unable to list the DKIM keys of %s", domain);
        }
        recs[n++].line = NULL;
        keys += w == 2;
    }
    /* etcd takes at most 128 operations per transaction: the keys go 100 at a time, the
       selector record (sorted before them) in the first */
    for (done = 0; done < n; done += DKIMACCT_TXN_RECS) {
        size_t k = n - done < DKIMACCT_TXN_RECS ? n - done : DKIMACCT_TXN_RECS;
        if (fleet_put(fc, s, recs + done, k, rev, err, sizeof err, &perm) < 0) {
            fleet_die(err, perm);
        }
    }
    for (i = 0; i < n; i++) {
        free((char *)recs[i].key);
    }
    free(recs);
    return keys;
}

void dkimacct_fleet_show(const char *root, const struct fleet_conf *fc, const char *domain)
{
    char sels[DKIMKEY_SELECTORS][DKIM_SELECTOR_MAX + 1];
    char pubs[DKIMKEY_SELECTORS][DKIMKEY_PUB_MAX];
    unsigned char der[DKIMDIR_DER_MAX];
    char prefix[FLEET_KEY_MAX], err[FLEET_ERR_MAX], d[SMTP_DOMAIN_MAX + 1];
    char sel[DKIM_SELECTOR_MAX + 1], cur[DKIM_SELECTOR_MAX + 1] = "";
    struct fleet_snap s;
    size_t n = 0, i, derlen;

    /* read now: a change this run made is in etcd, not in the snapshot it started from */
    if (dkimdir_key(prefix, sizeof prefix, domain, NULL) < 0
        || fleet_get(fc, prefix, FLEET_BAD_REFUSE, &s, err) < 0) {
        die(EXIT_TEMP, "unable to read the DKIM keys of %s from etcd (%s): %s", domain,
            fc->endpoints, err);
    }
    for (i = s.n; i-- > 0;) {               /* etcd's key order, reversed: newest first */
        int w = dkimdir_which(s.kv[i].key, d, sel);
        if (w == 0 || strcmp(d, domain) != 0) {
            continue;
        }
        if (w == 1) {
            snprintf(cur, sizeof cur, "%s", s.kv[i].val);
        } else if (n < DKIMKEY_SELECTORS
                   && dkimdir_parse(s.kv[i].val, sel, pubs[n], sizeof pubs[n], der, sizeof der,
                                    &derlen) == 0) {
            memcpy(sels[n++], sel, strlen(sel) + 1);
        }
    }
    explicit_bzero(der, sizeof der);
    fleet_snap_free(&s);
    print_records(root, domain, cur[0] ? cur : NULL, sels, pubs, n);
}

/* One local key (ROOT/dkim/DOMAIN/SEL.key and .pub) as the value of its etcd record. 0 ok,
   -1 unreadable or not what mailacct makes (warned). */
static int local_value(const char *root, const char *domain, const char *sel, char *val,
                       size_t cap)
{
    char pem[DKIMKEY_PEM_MAX + 1], body[DKIMDIR_VAL_MAX];
    char path[YUBIN_PATH_MAX], pub[DKIMKEY_PUB_MAX];
    ssize_t n;
    int r = -1;
    path_of(path, sizeof path, root, domain, sel, ".pub");
    if (fd_read_file(path, pub, sizeof pub) < 0) {
        log_warn_sys("not imported: unable to read %s", path);
        return -1;
    }
    pub[strcspn(pub, "\n")] = '\0';
    path_of(path, sizeof path, root, domain, sel, ".key");
    n = fd_read_file(path, pem, sizeof pem);
    if (n < 0 || dkimdir_pem_body(pem, (size_t)n, body, sizeof body) < 0) {
        log_warn_sys("not imported: %s is not a PEM \"RSA PRIVATE KEY\" that can be read", path);
    } else if (str_fmt(val, cap, "%s:%s:%s", sel, pub, body) < 0) {
        log_warn("not imported: %s is too long", path);
    } else {
        r = 0;
    }
    explicit_bzero(pem, sizeof pem);
    explicit_bzero(body, sizeof body);
    return r;
}

/* One domain's records for import_domain (~130 KB: on the heap). */
struct import_set {
    char sels[DKIMKEY_SELECTORS][DKIM_SELECTOR_MAX + 1];
    char vals[DKIMKEY_SELECTORS][DKIMDIR_VAL_MAX + DKIMKEY_PUB_MAX];
    char keys[DKIMKEY_SELECTORS + 1][FLEET_KEY_MAX];
    struct fleet_rec recs[DKIMKEY_SELECTORS + 1];
};

/* mailacct import: one domain's local keys that etcd lacks, and its selector if etcd has
   none, in one transaction. The number of records written. */
static size_t import_domain(const char *root, const struct fleet_conf *fc, struct fleet_snap *s,
                            const char *domain, struct import_set *w, long long *rev)
{
    char cur[DKIM_SELECTOR_MAX + 1], err[FLEET_ERR_MAX + 256];
    size_t n, i, k = 0;
    long long r = 0;
    int perm;

    if (dkimkey_current(root, domain, cur, sizeof cur) != 1) {
        return 0;
    }
    n = selectors(root, domain, w->sels, DKIMKEY_SELECTORS);
    for (i = 0; i < n; i++) {
        const struct fleet_kv *kv;
        if (dkimdir_key(w->keys[k], sizeof w->keys[k], domain, w->sels[i]) < 0) {
            continue;
        }
        kv = fleet_snap_find(s, w->keys[k]);
        if (kv) {
            if (local_value(root, domain, w->sels[i], w->vals[k], sizeof w->vals[k]) < 0
                || strcmp(kv->val, w->vals[k]) != 0) {
                log_warn("not imported: etcd has another key for %s selector %s; kept etcd's",
                         domain, w->sels[i]);
            }
            continue;
        }
        if (local_value(root, domain, w->sels[i], w->vals[k], sizeof w->vals[k]) == 0) {
            w->recs[k].key = w->keys[k];
            w->recs[k].line = w->vals[k];
            k++;
        }
    }
    if (k > 0 && dkimdir_key(w->keys[k], sizeof w->keys[k], domain, NULL) == 0
        && !fleet_snap_find(s, w->keys[k])) {
        w->recs[k].key = w->keys[k];
        w->recs[k].line = cur;
        k++;
    }
    if (k > 0 && fleet_put(fc, s, w->recs, k, &r, err, sizeof err, &perm) < 0) {
        explicit_bzero(w->vals, sizeof w->vals);
        fleet_die(err, perm);
    }
    explicit_bzero(w->vals, sizeof w->vals);
    *rev = r > *rev ? r : *rev;
    return k;
}

size_t dkimacct_fleet_import(const char *root, const struct fleet_conf *fc, struct fleet_snap *s,
                             int (*wanted)(const void *ctx, const char *domain), const void *ctx,
                             long long *rev)
{
    char dir[YUBIN_PATH_MAX];
    struct import_set *w;
    struct dirent *e;
    size_t added = 0;
    DIR *d;

    *rev = 0;
    if (str_fmt(dir, sizeof dir, "%s/dkim", root) < 0) {
        die(EXIT_PERM, "mail root path too long");
    }
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            return 0;
        }
        die_sys(EXIT_TEMP, "unable to list %s", dir);
    }
    w = malloc(sizeof *w);
    if (!w) {
        die_sys(EXIT_TEMP, "unable to import the DKIM keys");
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' && strlen(e->d_name) <= SMTP_DOMAIN_MAX
            && wanted(ctx, e->d_name)) {
            added += import_domain(root, fc, s, e->d_name, w, rev);
        }
    }
    closedir(d);
    free(w);
    return added;
}

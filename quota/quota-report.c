/* quota-report: usage against quota of every account; run by the operator (root drops to mail/) */
#include "acct.h"
#include "cdbmap.h"
#include "cfg.h"
#include "exitcode.h"
#include "limits.h"
#include "log.h"
#include "quota.h"
#include "str.h"
#include "usage.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Accounts one report lists; a bound on memory, far above one server's accounts. */
#define REPORT_ACCOUNTS_MAX 1000000

struct row {
    char addr[ADDR_MAX + 1];
    uint64_t bytes, count, quota;
    int percent;            /* -1 = unlimited */
};

struct report {
    const char *root;
    char rootbuf[YUBIN_PATH_MAX];
    int over;               /* list only rows at or above this percent; -1 = all */
    struct row *rows;
    size_t n, cap;
    int errors;
};

static void usage_die(void)
{
    die(EXIT_PERM, "usage: quota-report [--root DIR] [--over PERCENT]");
}

static void parse_args(struct report *r, int argc, char **argv)
{
    int i;
    uint64_t v;
    r->root = NULL;
    r->over = -1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            r->root = argv[++i];
        } else if (strcmp(argv[i], "--over") == 0 && i + 1 < argc) {
            i++;
            if (str_to_u64(argv[i], strlen(argv[i]), &v) < 0 || v > 1000) {
                usage_die();
            }
            r->over = (int)v;
        } else {
            usage_die();
        }
    }
    cfg_root_need(r->rootbuf, sizeof r->rootbuf, r->root);
    r->root = r->rootbuf;
    if (r->root[0] != '/') {
        die(EXIT_PERM, "the mail root must be an absolute path: %s", r->root);
    }
}

/* Maildirs and maildirsize belong to the mailbox uid: a root run must not leave root-owned
   files there, so it becomes the owner of ROOT/mail first. */
static void drop_root(const char *root)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    if (geteuid() != 0) {
        return;
    }
    if (cfg_path(path, sizeof path, root, "mail") < 0 || stat(path, &st) < 0) {
        die_sys(EXIT_TEMP, "unable to stat %s/mail", root);
    }
    if (st.st_uid == 0) {
        return;             /* a root-only installation: nothing to drop to */
    }
    if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
        die_sys(EXIT_TEMP, "unable to drop privileges to uid %ld", (long)st.st_uid);
    }
    if (setuid(0) == 0) {
        die(EXIT_BUG, "still able to become root after dropping privileges");
    }
}

static int percent_of(uint64_t bytes, uint64_t quota)
{
    uint64_t p;
    if (quota == 0) {
        return -1;
    }
    p = bytes / quota * 100 + bytes % quota * 100 / quota;
    return p > 100000 ? 100000 : (int)p;
}

static void add_account(struct report *r, const char *addr)
{
    char maildir[YUBIN_PATH_MAX];
    struct acct a;
    struct row *row;

    if (acct_user(r->root, addr, &a) != 1) {
        log_warn_sys("unable to look up %s in users.cdb", addr);
        r->errors++;
        return;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct row *p;
        if (cap > REPORT_ACCOUNTS_MAX || !(p = realloc(r->rows, cap * sizeof *p))) {
            die(EXIT_TEMP, "too many accounts or out of memory");
        }
        r->rows = p;
        r->cap = cap;
    }
    row = &r->rows[r->n];
    memset(row, 0, sizeof *row);
    memcpy(row->addr, a.addr, sizeof row->addr);
    row->quota = a.quota;
    if (acct_maildir(r->root, &a, maildir, sizeof maildir) < 0) {
        log_warn("mailbox path of %s is too long", a.addr);
        r->errors++;
        return;
    }
    if (access(maildir, F_OK) < 0 && errno == ENOENT) {
        row->bytes = row->count = 0;    /* no mail received yet */
    } else if (quota_read(maildir, a.quota, &row->bytes, &row->count) < 0) {
        log_warn_sys("unable to read the quota of %s", a.addr);
        r->errors++;
        return;
    } else if (usage_write(r->root, a.addr, row->bytes, row->count) < 0) {
        log_warn_sys("unable to update the usage summary of %s", a.addr);
    }
    row->percent = percent_of(row->bytes, row->quota);
    r->n++;
}

static void scan_users(struct report *r)
{
    struct cdbmap m;
    char key[ADDR_MAX + 1];
    unsigned pos, len;
    int s;

    if (cdbmap_open(&m, r->root, "users") < 0) {
        die_sys(EXIT_TEMP, "unable to open %s/cdb/users.cdb", r->root);
    }
    cdb_seqinit(&pos, &m.cdb);
    while ((s = cdb_seqnext(&pos, &m.cdb)) > 0) {
        len = cdb_keylen(&m.cdb);
        if (len == 0 || len > ADDR_MAX) {
            continue;
        }
        if (cdb_read(&m.cdb, key, len, cdb_keypos(&m.cdb)) < 0) {
            die_sys(EXIT_TEMP, "unable to read users.cdb");
        }
        key[len] = '\0';
        add_account(r, key);
    }
    if (s < 0) {
        die_sys(EXIT_TEMP, "unable to read users.cdb");
    }
    cdbmap_close(&m);
}

/* Fullest first, unlimited last, then by address. */
static int row_cmp(const void *x, const void *y)
{
    const struct row *a = x, *b = y;
    if (a->percent != b->percent) {
        return a->percent > b->percent ? -1 : 1;
    }
    if (a->bytes != b->bytes) {
        return a->bytes > b->bytes ? -1 : 1;
    }
    return strcmp(a->addr, b->addr);
}

static void print_rows(const struct report *r)
{
    char used[32], quota[32];
    size_t i;
    for (i = 0; i < r->n; i++) {
        const struct row *w = &r->rows[i];
        if (r->over >= 0 && w->percent < r->over) {
            continue;
        }
        str_size_human(w->bytes, used, sizeof used);
        if (w->quota) {
            str_size_human(w->quota, quota, sizeof quota);
            printf("%s %llu %llu %d%% (%s of %s, %llu messages)\n", w->addr,
                   (unsigned long long)w->bytes, (unsigned long long)w->quota, w->percent,
                   used, quota, (unsigned long long)w->count);
        } else {
            printf("%s %llu 0 - (%s, unlimited, %llu messages)\n", w->addr,
                   (unsigned long long)w->bytes, used, (unsigned long long)w->count);
        }
    }
}

int main(int argc, char **argv)
{
    struct report r;

    log_init("quota-report");
    memset(&r, 0, sizeof r);
    parse_args(&r, argc, argv);
    drop_root(r.root);
    scan_users(&r);
    qsort(r.rows, r.n, sizeof *r.rows, row_cmp);
    print_rows(&r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        die_sys(EXIT_TEMP, "unable to write the report");
    }
    free(r.rows);
    return r.errors ? EXIT_TEMP : EXIT_DONE;
}

/* edit.c: mailacct's editing session: load under the lock, edit in memory, compile, write */
#include "edit.h"

#include "addr.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "idna.h"
#include "log.h"
#include "sheet.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- maps ---- */

static void edit_maps_die(const struct maps_err *err, const char *prefix)
{
    char line[MAPS_REASON_MAX + 64];
    if (err->sys) {
        errno = err->sys;
        die_sys(EXIT_TEMP, "unable to compile the maps");
    }
    mapsio_err_str(err, line, sizeof line);
    die(EXIT_PERM, "%s%s", prefix, line);
}

/* etc/me of this node (each node keeps its own host name). */
static void read_me(struct ctx *c, char *me, size_t cap, size_t *len)
{
    char path[YUBIN_PATH_MAX];
    ssize_t got;
    int fd;
    *len = 0;
    if (str_fmt(path, sizeof path, "%s/etc/me", c->root) < 0) {
        die(EXIT_PERM, "mail root path too long");
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        die_sys(EXIT_TEMP, "unable to read %s", path);
    }
    if (fd >= 0) {
        got = fd_read_full(fd, me, cap);
        close(fd);
        if (got < 0 || (size_t)got == cap) {
            die(EXIT_TEMP, "unable to read %s (at most %zu octets)", path, cap - 1);
        }
        *len = (size_t)got;
    }
}

static void local_load(struct ctx *c, int write);

static void fleet_load(struct ctx *c)
{
    char why[FLEET_ERR_MAX + 64], me[MAP_LINE_MAX];
    struct maps_err err;
    size_t ml;
    if (fleet_conf_read(c->root, FLEET_OPERATOR, &c->fc, why, sizeof why) < 0) {
        die(EXIT_TEMP, "%s", why);
    }
    read_me(c, me, sizeof me, &ml);
    if (fleet_get_dir(&c->fc, &c->snap, why) < 0) {
        die(EXIT_TEMP, "unable to read the fleet's directory from etcd (%s): %s",
            c->fc.endpoints, why);
    }
    if (fleet_src(&c->snap, me, ml, &c->src) < 0) {
        die_sys(EXIT_TEMP, "unable to read the fleet's directory");
    }
    c->m = mapsio_compile(&c->src, &err);
    if (!c->m) {
        edit_maps_die(&err, "the maps in etcd have an error; fix it first: ");
    }
}

static void fleet_store(struct ctx *c, unsigned files)
{
    char err[FLEET_ERR_MAX + 256];
    long long rev;
    int perm;
    if (fleet_commit(&c->fc, &c->snap, &c->src, files, &rev, err, sizeof err, &perm) < 0) {
        die(perm ? EXIT_PERM : EXIT_TEMP, "%s", err);
    }
    edit_fleet_wait(c, rev);
}

void edit_fleet_wait(struct ctx *c, long long rev)
{
    char err[FLEET_ERR_MAX + 256], lag[1024];
    int w;
    if (rev == 0) {
        return;   /* nothing changed: no revision to wait for */
    }
    w = fleet_wait(&c->fc, &c->snap, rev, lag, sizeof lag, err);
    if (w < 0) {
        log_warn("committed at etcd revision %lld, but unable to check the nodes: %s", rev, err);
    } else if (w > 0) {
        log_warn("committed at etcd revision %lld, but after %u s these nodes have not applied "
                 "it yet: %s", rev, c->fc.wait, lag);
    }
}

void edit_load(struct ctx *c, int write)
{
    if (c->fleet) {
        fleet_load(c);
        return;
    }
    local_load(c, write);
}

static void local_load(struct ctx *c, int write)
{
    char path[YUBIN_PATH_MAX];
    struct maps_err err;
    struct stat st;
    if (str_fmt(path, sizeof path, "%s/etc", c->root) < 0 || stat(path, &st) < 0
        || !S_ISDIR(st.st_mode)) {
        die_sys(EXIT_TEMP, "unable to open %s/etc", c->root);
    }
    c->lock = -1;
    if (write && (c->lock = mapsio_lock(c->root, 1)) < 0) {
        die_sys(EXIT_TEMP, "unable to lock %s/etc/.lock", c->root);
    }
    if (mapsio_read(c->root, &c->src) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s/etc/%s", c->root, maps_file_name(c->src.failed));
    }
    c->m = mapsio_compile(&c->src, &err);
    if (!c->m) {
        edit_maps_die(&err, "the maps have an error; fix it first (mkmaps --check): ");
    }
}


/* 1 if the texts of src, with those of files taken from c->src, compile. */
static int compiles_with(const struct ctx *c, const struct maps_src *src, unsigned files)
{
    struct maps_src mix = *src;     /* pointers only: nothing of it is freed */
    struct maps_err err;
    struct maps *m;
    int f;
    for (f = 0; f < MAPS_NFILES; f++) {
        if (files & (1u << f)) {
            mix.text[f] = c->src.text[f];
            mix.len[f] = c->src.len[f];
        }
    }
    m = mapsio_compile(&mix, &err);
    if (!m) {
        return 0;
    }
    maps_free(m);
    return 1;
}

/* Write the edited texts one file at a time, in an order where the texts on disk compile
   after every file: a mailacct killed between two files (del: users, then the aliases that
   named the account) left texts no rebuild would take, and every later change refused. The
   next file is the first whose write leaves them compiling; the rest in file order when none
   does (the old order). */
static void write_texts(struct ctx *c, unsigned files)
{
    struct maps_src disk;
    unsigned done = 0;
    /* one file (add, passwd, quota: etc/users): there is only one order, and no compile of
       the texts on disk to choose it (at 200,000 accounts a compile is ~0.5 s and ~70 MB) */
    int f, have = (files & (files - 1)) != 0 && mapsio_read(c->root, &disk) == 0;

    while (done != files) {
        int next = -1;
        for (f = 0; f < MAPS_NFILES && have && next < 0; f++) {
            if ((files & ~done & (1u << f)) && compiles_with(c, &disk, done | (1u << f))) {
                next = f;
            }
        }
        for (f = 0; f < MAPS_NFILES && next < 0; f++) {
            if (files & ~done & (1u << f)) {
                next = f;
            }
        }
        if (mapsio_write_text(c->root, &c->src, (enum maps_file)next) < 0) {
            die_sys(EXIT_TEMP, "unable to write %s/etc/%s", c->root,
                    maps_file_name((enum maps_file)next));
        }
        done |= 1u << next;
    }
    if (have) {
        mapsio_src_free(&disk);
    }
}

/* Validate the edited texts, run the hook (e.g. create the Maildir), write the texts, then
   the cdbs. A refusal leaves every file as it was. */
void edit_commit(struct ctx *c, unsigned files, edit_hook_fn hook, const void *arg)
{
    struct maps_err err;
    struct maps *nm = mapsio_compile(&c->src, &err);
    if (!nm) {
        edit_maps_die(&err, "refused: ");
    }
    if (hook) {
        hook(c, arg);
    }
    if (c->fleet) {
        fleet_store(c, files);
        maps_free(c->m);
        c->m = nm;
        return;
    }
    write_texts(c, files);
    if (maps_warning(nm)[0] && strcmp(maps_warning(nm), maps_warning(c->m)) != 0) {
        log_warn("%s", maps_warning(nm));
    }
    if (mapsio_write_cdbs(c->root, nm, NULL) < 0) {
        die_sys(EXIT_TEMP, "unable to write %s/cdb (etc/ is updated: run mkmaps)", c->root);
    }
    maps_free(c->m);
    c->m = nm;
}

/* text[f] = text[0..start) + line "\n" (if line) + text[end..) */
void edit_splice(struct ctx *c, enum maps_file f, size_t start, size_t end, const char *line)
{
    const char *old = c->src.text[f];
    size_t len = c->src.len[f], ln = line ? strlen(line) + 1 : 0;
    size_t nlen = start + ln + (len - end);
    char *t;
    if (nlen > MAPS_FILE_MAX) {
        die(EXIT_PERM, "etc/%s would exceed %lu octets", maps_file_name(f), MAPS_FILE_MAX);
    }
    t = malloc(nlen + 1);
    if (!t) {
        die_sys(EXIT_TEMP, "unable to edit etc/%s", maps_file_name(f));
    }
    memcpy(t, old, start);
    if (line) {
        memcpy(t + start, line, ln - 1);
        t[start + ln - 1] = '\n';
    }
    memcpy(t + start + ln, old + end, len - end);
    t[nlen] = '\0';
    mapsio_src_set(&c->src, f, t, nlen);
}

void edit_append(struct ctx *c, enum maps_file f, const char *line)
{
    char tmp[MAP_LINE_MAX + 2];
    size_t len = c->src.len[f];
    if (len > 0 && c->src.text[f][len - 1] != '\n') {
        if (str_fmt(tmp, sizeof tmp, "\n%s", line) < 0) {
            die(EXIT_BUG, "internal error: line too long");
        }
        line = tmp;   /* the old last line had no newline */
    }
    edit_splice(c, f, len, len, line);
}

void edit_replace(struct ctx *c, enum maps_file f, const char *key, const char *line)
{
    size_t start, end;
    if (maps_text_find(c->src.text[f], c->src.len[f], key, &start, &end) != 1) {
        die(EXIT_BUG, "internal error: %s not found in etc/%s", key, maps_file_name(f));
    }
    edit_splice(c, f, start, end, line);
}

/* ---- arguments ---- */

void edit_addr(const char *arg, char *out, size_t cap)
{
    size_t n = strlen(arg);
    if (n >= cap) {
        die(EXIT_PERM, "invalid address: too long");
    }
    if (!addr_map_form(arg, out, cap)) {
        die(EXIT_PERM, "invalid address %s (expected local@domain, local part of a-z 0-9 . _ + -, "
            "domain a domain name)", str_has_ctl(arg, n) ? "(with control characters)" : arg);
    }
}

void edit_domain(const char *arg, char *out, size_t cap)
{
    size_t n = strlen(arg);
    if (n >= cap) {
        die(EXIT_PERM, "invalid domain: too long");
    }
    if (str_has_ctl(arg, n)) {
        die(EXIT_PERM, "invalid domain (with control characters)");
    }
    if (idna_to_ascii(arg, n, out, cap) < 0 || !addr_map_domain_ok(out, strlen(out))) {
        die(EXIT_PERM, "invalid domain %s", arg);
    }
}

/* This server's name: etc/me in the maps, else the host's (cfg_me), else "localhost". */
static void me_of(const struct maps *m, char *me, size_t mecap)
{
    if (maps_me(m)[0]) {
        snprintf(me, mecap, "%s", maps_me(m));
    } else if (cfg_me(me, mecap) < 0) {
        snprintf(me, mecap, "localhost");
    }
}

int edit_own_mail_domain(const struct maps *m, const char *name)
{
    char me[SMTP_DOMAIN_MAX + 1];
    const char *at = strrchr(maps_admin(m), '@');
    me_of(m, me, sizeof me);
    return str_eq_nocase(me, strlen(me), name) ? EDIT_OWN_ME
           : at && str_eq_nocase(at + 1, strlen(at + 1), name) ? EDIT_OWN_ADMIN : 0;
}

void edit_need_domain(const struct ctx *c, const char *domain, struct domain *d)
{
    if (maps_domain(c->m, domain, d) != 1) {
        die(EXIT_PERM, "unknown domain %s (add it first: mailacct domain add %s --plan PLAN)",
            domain, domain);
    }
}

void edit_need_plan(const struct ctx *c, const char *plan, struct map_plan *p)
{
    char name[PLAN_NAME_MAX + 1];
    size_t n = strlen(plan);
    if (n == 0 || n > PLAN_NAME_MAX) {
        die(EXIT_PERM, "unknown plan %s", n ? "(too long)" : "(empty)");
    }
    memcpy(name, plan, n + 1);
    str_lower(name, n);
    if (maps_plan(c->m, name, p) != 1) {
        die(EXIT_PERM, "unknown plan %s (see etc/plans)", str_has_ctl(plan, n) ? "?" : plan);
    }
}

void edit_need_user(const struct ctx *c, const char *addr, struct acct *a, struct map_user *u)
{
    if (maps_user(c->m, addr, a, u) != 1) {
        die(EXIT_PERM, "no such account %s", addr);
    }
}

/* The quota the operator asked for, checked against the plan: sets u->quota/quota_set/force. */
void edit_quota(const char *size, int force, const struct domain *d, struct map_user *u)
{
    char q[32], mx[32];
    uint64_t v;
    if (map_size(size, strlen(size), &v) < 0) {
        die(EXIT_PERM, "bad size %s (expected e.g. 20M, 50M or a number of bytes)",
            str_has_ctl(size, strlen(size)) ? "?" : size);
    }
    str_size_human(d->maxquota, mx, sizeof mx);
    u->force = 0;
    if (v == 0 && d->maxquota != 0) {
        if (!force) {
            die(EXIT_PERM, "quota 0 (unlimited) needs --force");
        }
        u->force = 1;
    } else if (d->maxquota != 0 && v > d->maxquota) {
        if (!force) {
            str_size_human(v, q, sizeof q);
            die(EXIT_PERM, "quota %s is above the %s plan's maximum %s (use --force to allow it)",
                q, d->plan, mx);
        }
        u->force = 1;
    }
    u->quota = v;
    u->quota_set = 1;
}

void edit_user_line(const struct map_user *u, char *out, size_t cap)
{
    char q[32] = "", opts[SMTP_DOMAIN_MAX + 32] = "", rate[80] = "";
    int v6 = strchr(u->host, ':') != NULL;    /* stored without the brackets */
    if (u->quota_set) {
        map_size_str(u->quota, q, sizeof q);
    }
    snprintf(opts, sizeof opts, "%s%s%s%s%s%s%s%s", u->disabled ? "disabled" : "",
             u->disabled && (u->force || u->host[0]) ? "," : "", u->force ? "force" : "",
             u->force && u->host[0] ? "," : "", u->host[0] ? "host=" : "", v6 ? "[" : "",
             u->host, v6 ? "]" : "");
    /* the sending options (docs/maps.md), after the others */
    if (u->nosend) {
        snprintf(rate + strlen(rate), sizeof rate - strlen(rate), ",nosend");
    }
    if (u->msgs_set) {
        snprintf(rate + strlen(rate), sizeof rate - strlen(rate), ",msgs=%lu", u->msgs);
    }
    if (u->rcpts_set) {
        snprintf(rate + strlen(rate), sizeof rate - strlen(rate), ",rcpts=%lu", u->rcpts);
    }
    if (str_fmt(out, cap, "%s:%s:%s:%s%s", u->addr, u->hash, q, opts,
                rate + (rate[0] && !opts[0])) < 0) {
        die(EXIT_BUG, "internal error: users line too long");
    }
}

/* ---- output ---- */

void edit_write(int fd, const struct buf *b)
{
    if (b->len && fd_write_all(fd, b->s, b->len) < 0) {
        die_sys(EXIT_TEMP, "unable to write the output");
    }
}

void edit_me(const struct ctx *c, char *me, size_t mecap)
{
    me_of(c->m, me, mecap);
}

void edit_fill_sheet(const struct ctx *c, const struct acct *a, const char *pw,
                       struct sheet *s, char *me, size_t mecap)
{
    const char *at = strchr(a->addr, '@');
    edit_me(c, me, mecap);
    s->addr = a->addr;
    s->domain = at + 1;
    s->me = me;
    s->password = pw;
    s->quota = a->quota;
    s->pop3s = a->pop3s;
}

void edit_print_sheet(const struct ctx *c, const struct acct *a, const char *pw)
{
    struct sheet s;
    struct buf b;
    char me[SMTP_DOMAIN_MAX + 1];
    edit_fill_sheet(c, a, pw, &s, me, sizeof me);
    buf_init(&b, SHEET_MAX);
    if (sheet_text(&s, &b) < 0) {
        die_sys(EXIT_TEMP, "unable to render the settings sheet");
    }
    edit_write(1, &b);
    buf_wipe(&b);
}

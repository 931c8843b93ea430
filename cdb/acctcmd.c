/* acctcmd.c: mailacct's account subcommands: add, del, passwd, quota, list, show, sheet,
   sending limits and import (docs/maps.md); run by root as part of mailacct */
#include "acctcmd.h"
#include "acctsys.h"
#include "cfg.h"
#include "dkim/dkimacct.h"
#include "edit.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "mapsio.h"
#include "rate.h"
#include "sheet.h"
#include "str.h"
#include "usage.h"
#include "web/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void get_password(const struct args *a, int from_stdin, char *pw, size_t cap, int *gen)
{
    *gen = 0;
    if (a->password) {
        if (str_fmt(pw, cap, "%s", a->password) < 0) {
            die(EXIT_PERM, "password too long (at most %d octets)", AUTH_FIELD_MAX);
        }
    } else if (from_stdin && !(a->seen & OPT_RANDOM)) {
        ssize_t r = fd_read(0, pw, cap - 1);
        size_t n;
        if (r < 0) {
            die_sys(EXIT_TEMP, "unable to read the password from stdin");
        }
        n = (size_t)r;
        pw[n] = '\0';
        n = strcspn(pw, "\n");
        if (n == (size_t)r && r == (ssize_t)(cap - 1)) {
            die(EXIT_PERM, "password too long (at most %d octets)", AUTH_FIELD_MAX);
        }
        pw[n] = '\0';
        if (n > 0 && pw[n - 1] == '\r') {
            pw[n - 1] = '\0';
        }
    } else {
        if (acctsys_random_password(pw, cap) < 0) {
            die_sys(EXIT_TEMP, "unable to make a random password");
        }
        *gen = 1;
    }
    if (!acctsys_password_ok(pw)) {
        die(EXIT_PERM, "bad password: 1 to %d octets without control characters",
            AUTH_FIELD_MAX);
    }
}

static void hash_into(const char *pw, struct map_user *u)
{
    if (acctsys_hash(pw, u->hash, sizeof u->hash) < 0) {
        die_sys(EXIT_TEMP, "unable to hash the password");
    }
}

/* 1 if the mailbox folder at home (ROOT/mail/DOMAIN/LOCAL) holds a message: a file in
   Maildir/new or Maildir/cur. */
static int has_mail(const char *home)
{
    static const char *const sub[] = { "Maildir/new", "Maildir/cur" };
    char path[YUBIN_PATH_MAX];
    struct dirent *e;
    size_t i;
    DIR *d;
    for (i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        if (str_fmt(path, sizeof path, "%s/%s", home, sub[i]) < 0) {
            return 1;
        }
        if (!(d = opendir(path))) {
            if (errno == ENOENT) {
                continue;
            }
            return 1;       /* not readable: assume the worst */
        }
        while ((e = readdir(d)) != NULL && e->d_name[0] == '.') {
        }
        closedir(d);
        if (e) {
            return 1;
        }
    }
    return 0;
}

/* The new account's Maildir, on this node only if its domain is homed here (a fleet domain
   homed on another node gets its Maildir there, from the first delivery: docs/fleet.md). */
static void make_maildir(struct ctx *c, const void *arg)
{
    const struct acct *a = arg;
    struct map_home h;
    const char *dom = strchr(a->home + 5, '/');     /* a->home: mail/DOMAIN/LOCAL */
    char name[SMTP_DOMAIN_MAX + 1], path[YUBIN_PATH_MAX];
    struct stat st;
    size_t n = dom ? (size_t)(dom - (a->home + 5)) : 0;

    if (c->fleet && strncmp(a->home, "mail/", 5) == 0 && n > 0 && n < sizeof name) {
        memcpy(name, a->home + 5, n);
        name[n] = '\0';
        if (maps_home(c->m, name, &h) == 1 && strcmp(h.node, c->fc.node) != 0) {
            return;
        }
    }
    if (str_fmt(path, sizeof path, "%s/%s", c->root, a->home) < 0) {
        die(EXIT_PERM, "address too long");
    }
    if (lstat(path, &st) == 0 && has_mail(path)) {
        /* Nobody's: a `del` stopped between the maps and the trash left it, or it was copied
           there. Given to the new account, the old owner's mail would be the new one's. (An
           empty one is an add's that stopped before its maps: taken again.) */
        die(EXIT_PERM, "%s already exists with mail in it, but no account owns it (a mailacct "
            "del that did not finish, or a copy): move it to %s/trash/ for an empty mailbox, or "
            "away and its mail back in after the add; nothing was done", path, c->root);
    }
    if (acctsys_maildir(c->root, a->home) < 0) {
        die_sys(EXIT_TEMP, "unable to create %s/%s/Maildir", c->root, a->home);
    }
    /* a summary the old mailbox left would refuse mail (552) by its figures */
    (void)usage_forget(c->root, a->addr);
}

/* The address's sessions on the member page end: its password is new, or its account gone, or
   new (nothing an earlier holder of the address left opens it). Those of this node's page, at
   once (also before a fleet's maps are rebuilt); the other nodes' pages end theirs at the
   member's next request once their maps have the change (users.cdb's pwid=, the account's
   absence: web/member.c load_session). */
static void end_sessions(const struct ctx *c, const char *addr)
{
    if (session_end_others(c->root, addr, 0, NULL) < 0) {
        log_warn_sys("unable to end the member page sessions of %s", addr);
    }
}

void cmd_add(struct ctx *c, const char *arg)
{
    char addr[ADDR_MAX + 1], pw[AUTH_FIELD_MAX + 2], line[MAP_LINE_MAX];
    struct map_user u;
    struct domain d;
    struct acct a;
    int gen;

    edit_addr(arg, addr, sizeof addr);
    edit_need_domain(c, strchr(addr, '@') + 1, &d);
    if (maps_user(c->m, addr, NULL, NULL) == 1) {
        die(EXIT_PERM, "account %s already exists", addr);
    }
    if (maps_is_alias(c->m, addr) == 1) {
        die(EXIT_PERM, "%s is already an alias in etc/aliases", addr);
    }
    memset(&u, 0, sizeof u);
    memcpy(u.addr, addr, sizeof addr);
    if (c->a.quota) {
        edit_quota(c->a.quota, (c->a.seen & OPT_FORCE) != 0, &d, &u);
    }
    get_password(&c->a, 0, pw, sizeof pw, &gen);
    hash_into(pw, &u);
    edit_user_line(&u, line, sizeof line);
    edit_append(c, MAPS_USERS, line);
    memset(&a, 0, sizeof a);
    memcpy(a.addr, addr, sizeof a.addr);
    if (str_fmt(a.home, sizeof a.home, "mail/%s/%.*s", d.name,
                (int)(strchr(addr, '@') - addr), addr) < 0) {
        die(EXIT_PERM, "address too long");
    }
    edit_commit(c, 1u << MAPS_USERS, make_maildir, &a);
    end_sessions(c, addr);
    edit_need_user(c, addr, &a, NULL);
    edit_print_sheet(c, &a, pw);
    explicit_bzero(pw, sizeof pw);
}

struct removed {
    char (*addr)[ADDR_MAX + 1];
    size_t n, cap;
};

static int removed_has(const struct removed *r, const char *t, size_t n)
{
    size_t i;
    for (i = 0; i < r->n; i++) {
        if (strlen(r->addr[i]) == n && memcmp(r->addr[i], t, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void removed_add(struct removed *r, const char *addr)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 8;
        void *p = realloc(r->addr, nc * sizeof *r->addr);
        if (!p) {
            die_sys(EXIT_TEMP, "unable to edit etc/aliases");
        }
        r->addr = p;
        r->cap = nc;
    }
    snprintf(r->addr[r->n++], sizeof r->addr[0], "%s", addr);
}

/* The alias line "ADDR: T1, T2" of al's targets not in r, into line[cap]; "ADDR:T1,T2" when
   that is longer than a map line may be (it is never longer than the line it came from, whose
   targets were separated by at least a comma). *kept: the targets left; *drop: those gone. */
static void alias_line(const struct map_alias *al, const struct removed *r, char *line,
                       size_t cap, int *kept, int *drop)
{
    int pass;
    for (pass = 0; pass < 2; pass++) {
        size_t ll = 0, an = strlen(al->addr);
        const char *t;
        int fits = an + 1 < cap;
        *kept = *drop = 0;
        if (fits) {
            memcpy(line, al->addr, an);
            line[an] = ':';
            ll = an + 1;
        }
        for (t = al->targets; *t;) {
            size_t tn = strcspn(t, " ");
            const char *sep = pass == 0 ? (*kept ? ", " : " ") : (*kept ? "," : "");
            if (removed_has(r, t, tn)) {
                (*drop)++;
            } else {
                size_t sn = strlen(sep);
                if (fits && ll + sn + tn < cap && ll + sn + tn <= MAP_LINE_MAX) {
                    memcpy(line + ll, sep, sn);
                    memcpy(line + ll + sn, t, tn);
                    ll += sn + tn;
                } else {
                    fits = 0;
                }
                (*kept)++;
            }
            t += tn + (t[tn] == ' ');
        }
        if (fits) {
            line[ll] = '\0';
            return;
        }
    }
    die(EXIT_PERM, "alias %s: its line would be longer than %d octets without the removed "
        "targets; edit etc/aliases by hand", al->addr, MAP_LINE_MAX);
}

/* One pass over etc/aliases: drop targets in r; an alias left empty is deleted and added to
   r. Returns 1 if something changed. */
static int prune_aliases(struct ctx *c, struct removed *r)
{
    const char *text = c->src.text[MAPS_ALIASES];
    size_t len = c->src.len[MAPS_ALIASES], i = 0;
    char why[MAPS_REASON_MAX], line[MAP_LINE_MAX + 2];
    struct map_alias al;

    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        int drop, kept;
        if (map_parse_alias(text + i, n, &al, why) != 1) {
            i += n + 1;
            continue;
        }
        alias_line(&al, r, line, sizeof line, &kept, &drop);
        if (drop) {
            if (kept) {
                printf("alias %s: removed %d target%s\n", al.addr, drop, drop == 1 ? "" : "s");
                edit_splice(c, MAPS_ALIASES, i, nl ? i + n + 1 : len, line);
            } else {
                printf("alias %s deleted (no target left)\n", al.addr);
                edit_splice(c, MAPS_ALIASES, i, nl ? i + n + 1 : len, NULL);
                removed_add(r, al.addr);
            }
            return 1;
        }
        i += n + 1;
    }
    return 0;
}

void cmd_del(struct ctx *c, const char *arg)
{
    char addr[ADDR_MAX + 1], dest[YUBIN_PATH_MAX];
    struct removed r = { NULL, 0, 0 };
    struct map_home h;
    const char *domain;
    struct acct a;
    int moved;

    edit_addr(arg, addr, sizeof addr);
    edit_need_user(c, addr, &a, NULL);
    if (strcmp(maps_admin(c->m), addr) == 0) {
        die(EXIT_PERM, "%s is the operator's address in etc/admin (postmaster): give another "
            "first (mailacct operator ADDR)", addr);
    }
    domain = strchr(addr, '@') + 1;     /* edit_addr: a map address has one */
    if (c->fleet && maps_home(c->m, domain, &h) == 1 && strcmp(h.node, c->fc.node) != 0) {
        /* the mailbox would stay behind on its home, with no account to reach it */
        die(EXIT_PERM, "the mailbox of %s is on node %s (the home of %s): run mailacct del "
            "there, so that it goes to that node's trash", addr, h.node, domain);
    }
    edit_replace(c, MAPS_USERS, addr, NULL);
    removed_add(&r, addr);
    while (prune_aliases(c, &r)) {
    }
    {
        size_t k;
        for (k = 1; k < r.n; k++) {     /* r.addr[0] is the account, checked above */
            if (strcmp(r.addr[k], maps_admin(c->m)) == 0) {
                die(EXIT_PERM, "deleting %s would leave the alias %s, the operator's address in "
                    "etc/admin (postmaster), without a target; give another (mailacct operator "
                    "ADDR) or give the alias another target first", addr, r.addr[k]);
            }
        }
    }
    free(r.addr);
    edit_commit(c, (1u << MAPS_USERS) | (1u << MAPS_ALIASES), NULL, NULL);
    end_sessions(c, addr);
    moved = acctsys_trash(c->root, addr, a.home, dest, sizeof dest);
    if (moved < 0) {
        die_sys(EXIT_TEMP, "account %s deleted, but unable to move %s/%s to trash", addr,
                c->root, a.home);
    }
    (void)usage_forget(c->root, addr);     /* the usage summary of the old mailbox */
    if (moved) {
        printf("account %s deleted; mailbox moved to %s\n", addr, dest);
    } else {
        printf("account %s deleted (it had no mailbox)\n", addr);
    }
}

void cmd_passwd(struct ctx *c, const char *arg)
{
    char addr[ADDR_MAX + 1], pw[AUTH_FIELD_MAX + 2], line[MAP_LINE_MAX];
    struct map_user u;
    struct acct a;
    int gen;

    edit_addr(arg, addr, sizeof addr);
    edit_need_user(c, addr, &a, &u);
    if (c->a.npos == 2) {
        if (c->a.seen & OPT_RANDOM) {
            die(EXIT_PERM, "usage: mailacct passwd ADDR [PW | --random]");
        }
        c->a.password = c->a.pos[1];
    }
    get_password(&c->a, 1, pw, sizeof pw, &gen);
    hash_into(pw, &u);
    edit_user_line(&u, line, sizeof line);
    edit_replace(c, MAPS_USERS, addr, line);
    edit_commit(c, 1u << MAPS_USERS, NULL, NULL);
    end_sessions(c, addr);      /* a stolen cookie stays out too, not only the old password */
    if (gen) {
        edit_print_sheet(c, &a, pw);
    } else {
        printf("password of %s changed\n", addr);
    }
    explicit_bzero(pw, sizeof pw);
}

void cmd_quota(struct ctx *c, const char *arg, const char *size)
{
    char addr[ADDR_MAX + 1], line[MAP_LINE_MAX], q[32];
    struct map_user u;
    struct domain d;
    struct acct a;

    edit_addr(arg, addr, sizeof addr);
    edit_need_user(c, addr, &a, &u);
    edit_need_domain(c, strchr(addr, '@') + 1, &d);
    if (strcmp(size, "default") == 0) {
        u.quota_set = 0;
        u.quota = 0;
        u.force = 0;
    } else {
        edit_quota(size, (c->a.seen & OPT_FORCE) != 0, &d, &u);
    }
    edit_user_line(&u, line, sizeof line);
    edit_replace(c, MAPS_USERS, addr, line);
    edit_commit(c, 1u << MAPS_USERS, NULL, NULL);
    edit_need_user(c, addr, &a, NULL);
    if (a.quota == 0) {
        snprintf(q, sizeof q, "unlimited");
    } else {
        str_size_human(a.quota, q, sizeof q);
    }
    printf("quota of %s: %s%s\n", addr, q, u.quota_set ? "" : " (plan default)");
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* import carries the keys of this node's domains and of the names its own mail comes from */
static int local_domain(const void *ctx, const char *domain)
{
    struct domain d;
    return maps_domain(ctx, domain, &d) == 1 || edit_own_mail_domain(ctx, domain);
}

/* Load this node's etc/ maps into the fleet's directory (the first node of a fleet), then the
   DKIM keys of its domains (ROOT/dkim/). */
void cmd_import(struct ctx *c)
{
    struct maps_src local;
    struct maps_err err;
    struct maps *m;
    char why[FLEET_ERR_MAX + 512];
    long long rev, krev;
    size_t added, keys;
    int perm;
    if (!c->fleet) {
        die(EXIT_PERM, "import needs fleet mode: %s/etc/fleet does not exist (yubin-setup --fleet)",
            c->root);
    }
    if (mapsio_read(c->root, &local) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s/etc/%s", c->root, maps_file_name(local.failed));
    }
    m = mapsio_compile(&local, &err);
    if (!m) {
        mapsio_err_str(&err, why, sizeof why);
        die(EXIT_PERM, "the maps in %s/etc have an error; fix it first: %s", c->root, why);
    }
    if (fleet_import(&c->fc, &c->snap, &local, &rev, &added, why, sizeof why, &perm) < 0) {
        die(perm ? EXIT_PERM : EXIT_TEMP, "%s", why);
    }
    mapsio_src_free(&local);
    keys = dkimacct_fleet_import(c->root, &c->fc, &c->snap, local_domain, m, &krev);
    maps_free(m);
    rev = krev > rev ? krev : rev;
    edit_fleet_wait(c, rev);
    printf("imported %zu records from %s/etc", added, c->root);
    if (keys) {
        printf(" and %zu DKIM records from %s/dkim", keys, c->root);
    }
    printf(" into etcd");
    if (rev) {
        printf(" (revision %lld)", rev);
    }
    printf("\n");
}

void cmd_list(struct ctx *c)
{
    char domain[SMTP_DOMAIN_MAX + 1], q[32];
    struct domain d;
    struct acct a;
    size_t i, n = maps_user_count(c->m), k = 0;
    char **lines;

    if (c->a.npos == 1) {
        edit_domain(c->a.pos[0], domain, sizeof domain);
        edit_need_domain(c, domain, &d);
    }
    lines = calloc(n ? n : 1, sizeof *lines);
    if (!lines) {
        die_sys(EXIT_TEMP, "unable to list");
    }
    for (i = 0; maps_user_at(c->m, i, &a, NULL) == 1; i++) {
        char buf[ADDR_MAX + PLAN_NAME_MAX + 64];
        if (c->a.npos == 1 && strcmp(strchr(a.addr, '@') + 1, domain) != 0) {
            continue;
        }
        if (a.quota == 0) {
            snprintf(q, sizeof q, "unlimited");
        } else {
            map_size_str(a.quota, q, sizeof q);
        }
        snprintf(buf, sizeof buf, "%s %s %s%s", a.addr, q, a.plan, a.disabled ? " disabled" : "");
        if (!(lines[k++] = strdup(buf))) {
            die_sys(EXIT_TEMP, "unable to list");
        }
    }
    qsort(lines, k, sizeof *lines, cmp_str);
    for (i = 0; i < k; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
}

struct alias_scan {
    const char *addr;
    size_t n;
};

static int show_alias(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct alias_scan *s = ctx;
    size_t i = 0, an = strlen(s->addr);
    while (i < vl) {
        size_t j = i;
        while (j < vl && v[j] != ' ') {
            j++;
        }
        if (j - i == an && memcmp(v + i, s->addr, an) == 0) {
            printf("%s%.*s", s->n++ ? ", " : "alias of it: ", (int)kl, k);
            break;
        }
        i = j + 1;
    }
    return 0;
}

/* "last hour", or the window's seconds when RATE_WINDOW is not an hour */
static void print_span(unsigned long secs)
{
    if (secs == 3600) {
        printf("hour");
    } else if (secs == 86400) {
        printf("day");
    } else {
        printf("%lu s", secs);
    }
}

/* In a fleet: what the account sent through the whole fleet (this node's ROOT/rate/ADDR and
   the other nodes' sum, ROOT/ratefleet/ADDR, as ratesync last read it from etcd), and
   through this node. own: this node's record. */
static void show_fleet_sent(const struct ctx *c, const struct acct *a, const struct rate_rec *own,
                            uint64_t now)
{
    struct rate_rec o;
    struct rate_sum h, d, oh, od;
    unsigned long window = rate_window(own);
    long age;
    int got = rate_fleet_read(c->root, a->addr, window, now, &o, &age);
    if (got < 0) {
        die_sys(EXIT_TEMP, "unable to read %s/%s/%s", c->root, RATE_FLEET_DIR, a->addr);
    }
    h = rate_recent(own, now, window);
    d = rate_day(own, now);
    oh = rate_recent(&o, now, window);
    od = rate_day(&o, now);
    if (got == 1) {
        printf("sent through the fleet in the last ");
        print_span(window);
        printf(": %lu messages, %lu recipients\nsent through the fleet in the last ",
               h.msgs + oh.msgs, h.rcpts + oh.rcpts);
        print_span(window * RATE_DAY_SLOTS);
        printf(": %lu messages, %lu recipients\n", d.msgs + od.msgs, d.rcpts + od.rcpts);
    } else if (age < 0) {
        printf("sent through the fleet: unknown (ratesync is stopped or has not reached etcd; "
               "the limits count this node's mail only)\n");
    } else {
        printf("sent through the fleet: unknown (ratesync last read etcd %ld s ago; the limits "
               "count this node's mail only)\n", age);
    }
    printf("sent through this node (%s) in the last ", c->fc.node);
    print_span(window);
    printf(": %lu messages, %lu recipients\nsent through this node in the last ", h.msgs,
           h.rcpts);
    print_span(window * RATE_DAY_SLOTS);
    printf(": %lu messages, %lu recipients\n", d.msgs, d.rcpts);
}

/* The account's sending: suspended or not, its limits, what it sent (ROOT/rate/ADDR). */
static void show_sending(const struct ctx *c, const struct acct *a, const struct map_user *u)
{
    char w[32] = "";
    struct map_plan p;
    struct rate_rec r;
    struct rate_sum h, d;
    unsigned long window = 3600, msgs, rcpts;
    uint64_t now = (uint64_t)time(NULL);
    if (cfg_setting(c->root, "RATE_WINDOW", w, sizeof w)
        && strtoul(w, NULL, 10) >= RATE_WINDOW_MIN) {
        window = strtoul(w, NULL, 10);
    }
    memset(&p, 0, sizeof p);
    maps_plan(c->m, a->plan, &p);
    msgs = u->msgs_set ? u->msgs : p.msgs;
    rcpts = u->rcpts_set ? u->rcpts : p.rcpts;
    printf("sending: %s\n", u->nosend ? "suspended (mailacct resume-sending restores it)"
                                      : "allowed");
    printf("sending limits per ");
    print_span(window);
    printf(": %lu messages, %lu recipients (0 = none; %s)\n", msgs, rcpts,
           u->msgs_set || u->rcpts_set ? "options of the account" : "the plan's");
    if (rate_read(c->root, a->addr, window, &r) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s/rate/%s", c->root, a->addr);
    }
    if (c->fleet) {
        show_fleet_sent(c, a, &r, now);
        return;
    }
    h = rate_recent(&r, now, rate_window(&r));
    d = rate_day(&r, now);
    printf("sent in the last ");
    print_span(rate_window(&r));
    printf(": %lu messages, %lu recipients\nsent in the last ", h.msgs, h.rcpts);
    print_span(rate_window(&r) * RATE_DAY_SLOTS);
    printf(": %lu messages, %lu recipients\n", d.msgs, d.rcpts);
}

/* suspend-sending (nosend 1) / resume-sending (0): the users line's nosend option, so that in
   fleet mode it reaches every node through etcd like any change of the maps. */
void cmd_sending(struct ctx *c, const char *arg, int nosend)
{
    char addr[ADDR_MAX + 1], line[MAP_LINE_MAX];
    struct map_user u;
    struct acct a;

    edit_addr(arg, addr, sizeof addr);
    edit_need_user(c, addr, &a, &u);
    if (u.nosend != nosend) {
        u.nosend = nosend;
        edit_user_line(&u, line, sizeof line);
        edit_replace(c, MAPS_USERS, addr, line);
        edit_commit(c, 1u << MAPS_USERS, NULL, NULL);
    }
    printf("sending from %s %s\n", addr, nosend ? "suspended" : "allowed");
}

/* A limit from the command line: a number up to MAPS_RATE_MAX (0 = none). */
static unsigned long limit_arg(const char *s, const char *what)
{
    uint64_t v;
    if (str_to_u64(s, strlen(s), &v) < 0 || v > MAPS_RATE_MAX) {
        die(EXIT_PERM, "invalid %s per window: %s (a number up to %lu, 0 = no limit)", what, s,
            (unsigned long)MAPS_RATE_MAX);
    }
    return (unsigned long)v;
}

/* sending-limits ADDR MSGS RCPTS: the account's own limits (the users line's msgs= and rcpts=
   options, so that in fleet mode they reach every node through etcd); sending-limits ADDR plan:
   back to its plan's. */
void cmd_limits(struct ctx *c)
{
    char addr[ADDR_MAX + 1], line[MAP_LINE_MAX];
    struct map_user u;
    struct acct a;
    int plan = c->a.npos == 2 && strcmp(c->a.pos[1], "plan") == 0;

    if (c->a.npos != 3 && !plan) {
        die(EXIT_PERM, "usage: mailacct sending-limits ADDR MSGS RCPTS | sending-limits ADDR plan");
    }
    edit_addr(c->a.pos[0], addr, sizeof addr);
    edit_need_user(c, addr, &a, &u);
    u.msgs_set = u.rcpts_set = !plan;
    u.msgs = plan ? 0 : limit_arg(c->a.pos[1], "messages");
    u.rcpts = plan ? 0 : limit_arg(c->a.pos[2], "recipients");
    edit_user_line(&u, line, sizeof line);
    edit_replace(c, MAPS_USERS, addr, line);
    edit_commit(c, 1u << MAPS_USERS, NULL, NULL);
    if (plan) {
        printf("sending limits of %s: its plan's\n", addr);
    } else {
        printf("sending limits of %s: %lu messages, %lu recipients per window (0 = no limit)\n",
               addr, u.msgs, u.rcpts);
    }
}

void cmd_operator(struct ctx *c, const char *arg)
{
    char addr[ADDR_MAX + 1], was[ADDR_MAX + 1];

    if (!arg) {
        if (maps_admin(c->m)[0]) {
            printf("%s\n", maps_admin(c->m));
        } else {
            printf("(none: postmaster@ and abuse@ go nowhere, double bounces are dropped and the "
                   "sending-limit alerts not sent; set one with mailacct operator ADDR)\n");
        }
        return;
    }
    edit_addr(arg, addr, sizeof addr);
    (void)str_fmt(was, sizeof was, "%s", maps_admin(c->m));
    if (strcmp(was, addr) == 0) {
        printf("operator address: %s (unchanged)\n", addr);
        return;
    }
    edit_splice(c, MAPS_ADMIN, 0, c->src.len[MAPS_ADMIN], addr);
    edit_commit(c, 1u << MAPS_ADMIN, NULL, NULL);
    printf("operator address: %s (was %s)%s\n", addr, was[0] ? was : "none",
           c->fleet ? ", on every node" : "");
}

void cmd_show(struct ctx *c, const char *arg)
{
    char addr[ADDR_MAX + 1], q[32];
    struct map_user u;
    struct acct a;
    struct alias_scan s;

    edit_addr(arg, addr, sizeof addr);
    edit_need_user(c, addr, &a, &u);
    if (a.quota == 0) {
        snprintf(q, sizeof q, "unlimited");
    } else {
        str_size_human(a.quota, q, sizeof q);
    }
    printf("address: %s\ndomain: %s\nplan: %s\nquota: %s%s\npop3s: %s\nstatus: %s\n", a.addr,
           strchr(a.addr, '@') + 1, a.plan, q,
           !u.quota_set ? " (plan default)" : u.force ? " (forced above the plan's maximum)" : "",
           a.pop3s ? "yes" : "no", a.disabled ? "disabled" : "active");
    if (a.host[0]) {
        printf("host: %s\n", a.host);
    }
    printf("home: %s\nmaildir: %s/%s/Maildir\n", a.home, c->root, a.home);
    s.addr = addr;
    s.n = 0;
    maps_records(c->m, MAPS_CDB_ALIASES, show_alias, &s);
    if (s.n) {
        printf("\n");
    }
    show_sending(c, &a, &u);
}

void cmd_sheet(struct ctx *c, const char *arg)
{
    char addr[ADDR_MAX + 1], me[SMTP_DOMAIN_MAX + 1], tmp[YUBIN_PATH_MAX];
    struct acct a;
    struct sheet s;
    struct buf b;
    int fd;

    edit_addr(arg, addr, sizeof addr);
    edit_need_user(c, addr, &a, NULL);
    if (!c->a.html) {
        edit_print_sheet(c, &a, NULL);
        return;
    }
    edit_fill_sheet(c, &a, NULL, &s, me, sizeof me);
    buf_init(&b, SHEET_MAX);
    if (sheet_html(&s, &b) < 0) {
        die_sys(EXIT_TEMP, "unable to render the settings sheet");
    }
    if (strcmp(c->a.html, "-") == 0) {
        edit_write(1, &b);
        buf_free(&b);
        return;
    }
    if (str_fmt(tmp, sizeof tmp, "%s.tmp.%ld", c->a.html, (long)getpid()) < 0) {
        die(EXIT_PERM, "--html: file name too long");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        die_sys(EXIT_TEMP, "unable to create %s", tmp);
    }
    edit_write(fd, &b);
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, c->a.html) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        die_sys(EXIT_TEMP, "unable to write %s", c->a.html);
    }
    buf_free(&b);
    printf("settings sheet of %s written to %s\n", addr, c->a.html);
}

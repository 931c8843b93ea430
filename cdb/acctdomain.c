/* acctdomain.c: mailacct's domain subcommands but the change of plan (domain add, del, list,
   dkim) and the DKIM keys they make and remove; runs as root inside mailacct */
#include "acctdomain.h"

#include "acctnode.h"
#include "dkim/dkimacct.h"
#include "dkim/dkimdir.h"
#include "dkim/dkimkey.h"
#include "dkim.h"
#include "exitcode.h"
#include "log.h"
#include "str.h"

#include <stdio.h>
#include <string.h>

/* The DKIM key commands: ROOT/dkim/ on one node; in a fleet, records in etcd that every
   node's mapsync compiles for its signer, live everywhere when mailacct returns. */
static void dkim_rotate(struct ctx *c, const char *domain)
{
    long long rev;
    if (!c->fleet) {
        dkimacct_rotate(c->root, domain);
        return;
    }
    dkimacct_fleet_rotate(&c->fc, &c->snap, domain, &rev);
    edit_fleet_wait(c, rev);
}

static void dkim_show(struct ctx *c, const char *domain)
{
    if (c->fleet) {
        dkimacct_fleet_show(c->root, &c->fc, domain);
    } else {
        dkimacct_show(c->root, domain);
    }
}

void acctdomain_add(struct ctx *c, const char *arg)
{
    char name[SMTP_DOMAIN_MAX + 1], line[MAP_LINE_MAX], home[FLEET_NODE_MAX + 1];
    struct domain d;
    struct map_plan p;
    unsigned files;
    if (!c->a.plan) {
        die(EXIT_PERM, "usage: mailacct domain add DOMAIN --plan PLAN");
    }
    edit_domain(arg, name, sizeof name);
    edit_need_plan(c, c->a.plan, &p);
    if (maps_domain(c->m, name, &d) == 1) {
        die(EXIT_PERM, "domain %s already exists (plan %s)", name, d.plan);
    }
    if (str_fmt(line, sizeof line, "%s:%s", name, p.name) < 0) {
        die(EXIT_PERM, "invalid domain: too long");
    }
    edit_append(c, MAPS_DOMAINS, line);
    files = acctnode_home_add(c, name, c->a.home, home, sizeof home);
    edit_commit(c, (1u << MAPS_DOMAINS) | files, NULL, NULL);
    printf("domain %s added (plan %s%s%s)\n", name, p.name, home[0] ? ", home " : "", home);
    dkim_rotate(c, name);               /* its first DKIM key, and the records to publish */
    dkim_show(c, name);
}

/* Remove every DKIM key of domain (domain del). Says what went, in what's words; the number
   of keys removed. */
static size_t dkim_forget(struct ctx *c, const char *domain, const char *what)
{
    size_t keys;
    long long rev = 0;
    if (c->fleet) {
        keys = dkimacct_fleet_forget(&c->fc, &c->snap, domain, &rev);
        edit_fleet_wait(c, rev);
    } else {
        keys = dkimacct_forget(c->root, domain);
    }
    if (keys > 0) {
        printf("domain %s: %s %zu DKIM key%s removed (their DNS records, "
               "SELECTOR._domainkey.%s, may go now)\n", domain, what, keys, keys == 1 ? "" : "s",
               domain);
    }
    return keys;
}

/* domain dkim D [rotate | remove SELECTOR]: the domain's DKIM keys and DNS records; D is a
   customer domain, or one the server's own mail comes from (edit_own_mail_domain) */
void acctdomain_dkim(struct ctx *c)
{
    char name[SMTP_DOMAIN_MAX + 1];
    struct domain d;
    edit_domain(c->a.pos[0], name, sizeof name);
    if (!edit_own_mail_domain(c->m, name)) {
        edit_need_domain(c, name, &d);
    }
    if (c->a.npos >= 2 && strcmp(c->a.pos[1], "rotate") == 0 && c->a.npos == 2) {
        dkim_rotate(c, name);
    } else if (c->a.npos == 3 && strcmp(c->a.pos[1], "remove") == 0 && c->fleet) {
        long long rev;
        dkimacct_fleet_remove(&c->fc, &c->snap, name, c->a.pos[2], &rev);
        edit_fleet_wait(c, rev);
    } else if (c->a.npos == 3 && strcmp(c->a.pos[1], "remove") == 0) {
        dkimacct_remove(c->root, name, c->a.pos[2]);
    } else if (c->a.npos != 1) {
        die(EXIT_PERM, "usage: mailacct domain dkim DOMAIN [rotate | remove SELECTOR]");
    }
    dkim_show(c, name);
}

/* The selector that signs for domain now into sel ("" when it has no key): ROOT/dkim/DOMAIN,
   in a fleet its selector record in the snapshot mailacct read. */
static void signing_selector(const struct ctx *c, const char *domain, char *sel, size_t cap)
{
    char d[SMTP_DOMAIN_MAX + 1], s[DKIM_SELECTOR_MAX + 1];
    size_t i;
    sel[0] = '\0';
    if (!c->fleet) {
        if (dkimkey_current(c->root, domain, sel, cap) < 0) {
            die_sys(EXIT_TEMP, "unable to read the DKIM selector of %s", domain);
        }
        return;
    }
    for (i = 0; i < c->snap.n; i++) {
        if (dkimdir_which(c->snap.kv[i].key, d, s) == 1 && strcmp(d, domain) == 0) {
            str_fmt(sel, cap, "%s", c->snap.kv[i].val);
        }
    }
}

/* What name's DKIM key is for when the server's own mail comes from it (own: EDIT_OWN_ME or
   EDIT_OWN_ADMIN), and how to change it, into out: one sentence for domain del. */
static void own_key_text(const struct ctx *c, const char *name, int own, char *out, size_t cap)
{
    char sel[DKIM_SELECTOR_MAX + 1];
    const char *mail = own == EDIT_OWN_ME
                       ? "the mail the server writes itself from MAILER-DAEMON@ (bounces, delay "
                         "warnings, alerts)"
                       : "the settings mail the server sends from etc/admin to the customers' "
                         "contacts";
    signing_selector(c, name, sel, sizeof sel);
    if (!sel[0]) {
        str_fmt(out, cap, "it has no DKIM key, so %s goes out unsigned (docs/dkim.md \"The "
                "server's own mail\"): mailacct domain dkim %s rotate makes one", mail, name);
        return;
    }
    str_fmt(out, cap, "its DKIM key (selector %s) signs %s and is kept (docs/dkim.md \"The "
            "server's own mail\"; unsigned, such mail is put in spam or refused by the large "
            "providers): mailacct domain dkim %s shows its records, rotate makes a new key that "
            "signs from then on, and remove SELECTOR then deletes an old one (the key signing "
            "cannot be removed)", sel, mail, name);
}

/* 1 if the address (alias key or target) is in domain. */
static int in_domain(const char *addr, size_t n, const char *domain)
{
    const char *at = memchr(addr, '@', n);
    size_t dl = strlen(domain);
    return at && (size_t)(addr + n - at - 1) == dl && memcmp(at + 1, domain, dl) == 0;
}

void acctdomain_del(struct ctx *c, const char *arg)
{
    char name[SMTP_DOMAIN_MAX + 1], why[MAPS_REASON_MAX], keys[1024];
    struct domain d;
    struct map_alias al;
    size_t users, i = 0, len = c->src.len[MAPS_ALIASES];
    unsigned long line = 0;
    const char *text = c->src.text[MAPS_ALIASES];
    int own;

    edit_domain(arg, name, sizeof name);
    own = edit_own_mail_domain(c->m, name);
    if (own) {
        own_key_text(c, name, own, keys, sizeof keys);
    }
    if (own && maps_domain(c->m, name, &d) != 1) {
        die(EXIT_PERM, "%s is %s, not a customer domain: it is not in etc/domains, so there is "
            "no domain to delete; %s", name, own == EDIT_OWN_ME ? "this server's own name "
            "(etc/me)" : "the domain of the operator's address (etc/admin)", keys);
    }
    if (maps_domain(c->m, name, &d) != 1 && dkim_forget(c, name, "no such domain; its left-over")) {
        return;     /* a del whose key removal failed, run again: it finishes */
    }
    edit_need_domain(c, name, &d);
    users = maps_domain_users(c->m, name);
    if (users > 0) {
        die(EXIT_PERM, "domain %s still has %zu account%s; delete them first (mailacct list %s)",
            name, users, users == 1 ? "" : "s", name);
    }
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text - i) : len - i;
        const char *t;
        line++;
        if (map_parse_alias(text + i, n, &al, why) == 1) {
            int hit = in_domain(al.addr, strlen(al.addr), name);
            for (t = al.targets; !hit && *t;) {
                size_t tn = strcspn(t, " ");
                hit = in_domain(t, tn, name);
                t += tn + (t[tn] == ' ');
            }
            if (hit) {
                die(EXIT_PERM, "domain %s is still used in etc/aliases line %lu (%s); edit it "
                    "first", name, line, al.addr);
            }
        }
        i += n + 1;
    }
    edit_replace(c, MAPS_DOMAINS, name, NULL);
    edit_commit(c, (1u << MAPS_DOMAINS) | acctnode_home_del(c, name), NULL, NULL);
    printf("domain %s deleted\n", name);
    fflush(stdout);
    if (own) {      /* the server's own mail still comes from it */
        printf("domain %s is %s: %s\n", name, own == EDIT_OWN_ME ? "this server's own name "
               "(etc/me)" : "the domain of the operator's address (etc/admin)", keys);
        return;
    }
    /* then its keys: a failure here leaves them, and running del again removes them */
    dkim_forget(c, name, "its");
}

void acctdomain_list(struct ctx *c)
{
    struct domain d;
    size_t i;
    for (i = 0; maps_domain_at(c->m, i, &d) == 1; i++) {
        printf("%s %s\n", d.name, d.plan);
    }
}

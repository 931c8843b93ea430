/* mailacct: the operator's account tool: edits ROOT/etc maps, rebuilds the cdbs; run by root */
/* usage:
     mailacct [--root DIR] domain add DOMAIN --plan PLAN [--home NODE] | domain plan DOMAIN PLAN
                           | domain del DOMAIN | domain list
                           | domain dkim DOMAIN [rotate | remove SELECTOR]
                             (DOMAIN: a customer domain, this server's name in etc/me,
                             or the domain of etc/admin: docs/dkim.md)
     mailacct [--root DIR] add ADDR [--password PW | --random] [--quota SIZE] [--force]
     mailacct [--root DIR] del ADDR | passwd ADDR [PW | --random] | quota ADDR SIZE [--force]
                           | list [DOMAIN] | show ADDR | sheet ADDR [--html [FILE]]
                           | suspend-sending ADDR | resume-sending ADDR
                           | sending-limits ADDR MSGS RCPTS | sending-limits ADDR plan
                           | operator [ADDR]   the operator's address (etc/admin; in a fleet
                                               the directory's): shown, or set
     mailacct [--root DIR] import      fleet mode: load this node's etc/ maps into etcd
     mailacct [--root DIR] node add NAME ADDRESS [SMTP_PORT [POP3_PORT]] | node list
                                       the fleet's nodes (yubin-fleet node add|list)
     mailacct [--root DIR] domain add DOMAIN --plan PLAN --admin CONTACT
                           | domain admin DOMAIN [--reset] [--contact CONTACT]
                           | domain set DOMAIN auto-approve on|off
                           | requests | approve ID | reject ID --reason TEXT
                           (the member page's domain administrators and their applications:
                           docs/web.md; etc/webadmins, ROOT/requests/, ROOT/log/audit)
     mailacct --help       this usage on stdout, exit 0
   sheet --html without FILE (or FILE "-") writes the page to stdout.
   Exit 0 done; 100 refused (one line on stderr: unknown domain, duplicate, bad size ...);
   111 system error. Edits happen under an exclusive flock on ROOT/etc/.lock; the cdbs are
   rebuilt before mailacct returns, so a change is live for the next session. In fleet mode
   (ROOT/etc/fleet) the maps and the DKIM keys live in etcd (dkim/dkimdir.h): a change is one
   guarded etcd transaction, and mailacct returns once every live node's maps hold it
   (docs/fleet.md); 111 also when etcd cannot be reached or a change made at the same time
   touched the same record. */
#include "acctcmd.h"
#include "acctdomain.h"
#include "acctnode.h"
#include "acctsys.h"
#include "audit.h"
#include "web/apply.h"
#include "webadmin.h"
#include "cfg.h"
#include "edit.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "mapsio.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE "usage: mailacct [--root DIR] domain add|plan|del|list|dkim ... | add ADDR " \
    "[--password PW | --random] [--quota SIZE] [--force] | del ADDR | " \
    "passwd ADDR [PW | --random] | quota ADDR SIZE [--force] | list [DOMAIN] | show ADDR | " \
    "sheet ADDR [--html [FILE]] | suspend-sending ADDR | resume-sending ADDR | " \
    "sending-limits ADDR MSGS RCPTS|plan | operator [ADDR] | import | " \
    "node add|list ... | " \
    "domain add D --plan P --admin CONTACT | domain admin D [--reset] [--contact C] | " \
    "domain set D auto-approve on|off | requests | approve ID | reject ID --reason TEXT"

static void usage(void)
{
    die(EXIT_PERM, USAGE);
}

/* 1 if s is an option ("-" alone is a file name: standard output). */
static int is_option(const char *s)
{
    return s[0] == '-' && s[1] != '\0';
}

/* Options after the subcommand, allowed ones only; "--" ends them. */
static void parse_args(int argc, char **argv, int i, unsigned allowed, int minpos, int maxpos,
                       struct args *a)
{
    static const struct {
        const char *name;
        enum opt opt;
    } opts[] = {
        { "--password", OPT_PASSWORD }, { "--random", OPT_RANDOM }, { "--quota", OPT_QUOTA },
        { "--force", OPT_FORCE }, { "--plan", OPT_PLAN }, { "--html", OPT_HTML },
        { "--home", OPT_HOME },
    };
    int dashdash = 0;
    memset(a, 0, sizeof *a);
    for (; i < argc; i++) {
        size_t k;
        if (!dashdash && strcmp(argv[i], "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (dashdash || argv[i][0] != '-' || argv[i][1] == '\0') {
            if (a->npos == maxpos) {
                usage();
            }
            a->pos[a->npos++] = argv[i];
            continue;
        }
        for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            if (strcmp(argv[i], opts[k].name) == 0) {
                break;
            }
        }
        if (k == sizeof opts / sizeof opts[0] || !(allowed & opts[k].opt)) {
            usage();
        }
        a->seen |= opts[k].opt;
        if (opts[k].opt & (OPT_PASSWORD | OPT_QUOTA | OPT_PLAN | OPT_HTML | OPT_HOME)) {
            const char **slot = opts[k].opt == OPT_PASSWORD ? &a->password
                                : opts[k].opt == OPT_QUOTA  ? &a->quota
                                : opts[k].opt == OPT_PLAN   ? &a->plan
                                : opts[k].opt == OPT_HOME   ? &a->home : &a->html;
            if (opts[k].opt == OPT_HTML && (i + 1 >= argc || is_option(argv[i + 1]))) {
                *slot = "-";   /* --html without a file name: standard output */
                continue;
            }
            if (i + 1 >= argc) {
                usage();
            }
            *slot = argv[++i];
        }
    }
    if (a->npos < minpos || ((a->seen & OPT_PASSWORD) && (a->seen & OPT_RANDOM))) {
        usage();
    }
}

/* ---- domain subcommands (domain add, del, list, dkim: acctdomain.c) ---- */

/* A change of plan: the domain and its plan before, with the POP over SSL that plan had. */
struct plan_change {
    char domain[SMTP_DOMAIN_MAX + 1];
    char was[PLAN_NAME_MAX + 1];
    int was_pop3s;
};

/* The domain's plan becomes plan. pc->was: its plan before, filled here unless the caller
   knows it already (an approval carried on after a stop: the plan may be changed by then). */
static void domain_plan(struct ctx *c, const char *arg, const char *plan, struct plan_change *pc)
{
    char name[SMTP_DOMAIN_MAX + 1], line[MAP_LINE_MAX];
    struct domain d;
    struct map_plan p;
    edit_domain(arg, name, sizeof name);
    edit_need_domain(c, name, &d);
    edit_need_plan(c, plan, &p);
    str_fmt(pc->domain, sizeof pc->domain, "%s", name);
    if (!pc->was[0]) {
        str_fmt(pc->was, sizeof pc->was, "%s", d.plan);
        pc->was_pop3s = d.pop3s;
    }
    if (str_fmt(line, sizeof line, "%s:%s", name, p.name) < 0) {
        die(EXIT_PERM, "invalid domain: too long");
    }
    edit_replace(c, MAPS_DOMAINS, name, line);
    edit_commit(c, 1u << MAPS_DOMAINS, NULL, NULL);
    printf("domain %s: plan %s (was %s)\n", name, p.name, pc->was);
}

/* After a change of plan that turned POP over SSL (port 995) on or off, the domain's mail
   programs need new settings: every address's sheet (without its password: only a hash is
   kept) goes to the domain's contact, with a notice of what changed (a program on 995 after a
   change down stops receiving). So it does when the size of a mailbox on the plan's default
   went down: mail beyond it bounces, so the notice says the new size and names the addresses
   whose mail already reaches it. Other changes take nothing away: nothing is sent.
   again: the command that sends the mail when run again, for the message should it fail. */
static void plan_notice(struct ctx *c, const struct plan_change *pc, const char *again)
{
    struct sheet_full *full = calloc(SHEET_FULL_MAX, sizeof *full);
    struct sheet_plan p;
    struct domain d;
    struct webadmin w;
    size_t n, i;
    if (!full) {
        die_sys(EXIT_TEMP, "unable to compose the settings mail");
    }
    edit_need_domain(c, pc->domain, &d);
    memset(&p, 0, sizeof p);
    p.was = pc->was;
    p.pop3s_changed = d.pop3s != pc->was_pop3s;
    webadmin_plan_quota(c, d.name, pc->was, &p, full);
    n = maps_domain_users(c->m, pc->domain);
    if (!p.pop3s_changed && p.lowered == 0) {
        free(full);
        return;
    }
    if (n == 0) {
        printf("domain %s: POP over SSL %s; it has no addresses: no settings mail\n", d.name,
               d.pop3s ? "on" : "off");
    } else if (webadmin_get(c, d.name, &w) != 1 || !w.contact[0]) {
        char size[32];
        str_size_human(p.quota, size, sizeof size);
        printf("domain %s has no contact: no settings mail sent; ", d.name);
        if (p.pop3s_changed) {
            printf("POP over SSL (port 995) is %s for its %zu address%s now%s", d.pop3s ? "on"
                   : "off", n, n == 1 ? "" : "es", p.lowered ? "; " : "");
        }
        if (p.lowered) {
            printf("the mailbox of %zu of its addresses is %s now", p.lowered, size);
        }
        for (i = 0; i < p.nfull; i++) {
            printf("%s%s", i == 0 ? " (full already: " : " ", full[i].addr);
        }
        if (p.full_total > p.nfull) {
            printf(" and %zu more", p.full_total - p.nfull);
        }
        printf("%s: hand them their sheets (mailacct sheet ADDR)\n", p.nfull ? ")" : "");
    } else {
        webadmin_mail_plan(c, &w, d.name, &p, again);
        explicit_bzero(&w, sizeof w);
    }
    free(full);
}

/* ---- the member page: domain administrators and their applications (docs/web.md) ---- */

/* "--NAME VALUE" anywhere from argv[from]: taken out of argv (argc shrinks), its value
   returned; NULL when absent. */
static const char *take_opt(int *argc, char **argv, int from, const char *name)
{
    int i;
    for (i = from; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            return NULL;
        }
        if (strcmp(argv[i], name) == 0) {
            const char *v;
            if (i + 1 >= *argc) {
                usage();
            }
            v = argv[i + 1];
            memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
            *argc -= 2;
            return v;
        }
    }
    return NULL;
}

/* "--NAME" anywhere from argv[from]: taken out of argv; 1 if it was there. */
static int take_flag(int *argc, char **argv, int from, const char *name)
{
    int i;
    for (i = from; i < *argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], name) == 0) {
            memmove(argv + i, argv + i + 1, (size_t)(*argc - i - 1) * sizeof *argv);
            (*argc)--;
            return 1;
        }
    }
    return 0;
}

/* ROOT/requests/.NAME (NAME: approving-ID, an approval under way: an added address, a change
   of plan; plan-DOMAIN, the operator's own change of plan), holding text. Made before the
   change, removed when it is done with its mail: a run that finds it was stopped after the
   change perhaps, and carries on (an added address with a new password; a change of plan with
   the plan before it, which the mark holds). Its path in path. */
static int mark_write(const struct ctx *c, const char *name, const char *text, char *path,
                      size_t cap)
{
    char dir[YUBIN_PATH_MAX];
    int fd;
    if (str_fmt(dir, sizeof dir, "%s/requests", c->root) < 0
        || str_fmt(path, cap, "%s/.%s", dir, name) < 0) {
        return -1;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -1;
    }
    if (text[0] && (fd_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (close(fd) < 0) {
        return -1;
    }
    return fd_fsync_dir(dir);
}

/* The plan of domain before a change of plan, into pc: from the mark ROOT/requests/.NAME
   ("PLAN 0|1\n", the plan and its POP over SSL) left by an earlier run of the same change that
   stopped before its mail (what says which, for the warning), else the domain's plan now,
   written in a new mark before anything changes. mark: its path. */
static void plan_mark(struct ctx *c, const char *domain, const char *name, const char *what,
                      struct plan_change *pc, char *mark, size_t cap)
{
    char text[PLAN_NAME_MAX + 8];
    struct domain d;
    ssize_t n;
    size_t k;
    if (str_fmt(mark, cap, "%s/requests/.%s", c->root, name) < 0) {
        die(EXIT_PERM, "root too long");
    }
    n = fd_read_file(mark, text, sizeof text - 1);
    if (n < 0 && errno != ENOENT) {
        die_sys(EXIT_TEMP, "unable to read %s", mark);
    }
    text[n > 0 ? n : 0] = '\0';
    k = strcspn(text, " ");
    if (n > 0 && k > 0 && k <= PLAN_NAME_MAX && (size_t)n == k + 3 && text[k] == ' '
        && (text[k + 1] == '0' || text[k + 1] == '1') && text[k + 2] == '\n') {
        memcpy(pc->was, text, k);
        pc->was[k] = '\0';
        pc->was_pop3s = text[k + 1] == '1';
        log_warn("%s; carrying on (the plan before it: %s)", what, pc->was);
        return;
    }
    /* none, or one cut short by a crash while it was written: the plan is not changed yet */
    edit_need_domain(c, domain, &d);
    str_fmt(pc->was, sizeof pc->was, "%s", d.plan);
    pc->was_pop3s = d.pop3s;
    if (str_fmt(text, sizeof text, "%s %d\n", d.plan, d.pop3s ? 1 : 0) < 0
        || mark_write(c, name, text, mark, cap) < 0) {
        die_sys(EXIT_TEMP, "unable to write %s", mark);
    }
}

/* mailacct domain plan DOMAIN PLAN: the change, then its mail (plan_notice). A run stopped in
   between (the mail could not be queued, a kill) left ROOT/requests/.plan-DOMAIN with the plan
   before it: the same command run again sends the mail then, once, and removes the mark. */
static void cmd_domain_plan(struct ctx *c, const char *arg, const char *plan)
{
    char name[SMTP_DOMAIN_MAX + 1], mark[YUBIN_PATH_MAX], key[SMTP_DOMAIN_MAX + 8];
    char what[SMTP_DOMAIN_MAX + 64], again[SMTP_DOMAIN_MAX + PLAN_NAME_MAX + 32];
    struct plan_change pc;
    struct domain d;
    struct map_plan p;
    edit_domain(arg, name, sizeof name);
    edit_need_domain(c, name, &d);      /* refused before any mark is made */
    edit_need_plan(c, plan, &p);
    memset(&pc, 0, sizeof pc);
    str_fmt(key, sizeof key, "plan-%s", name);
    str_fmt(what, sizeof what, "domain %s: a change of its plan stopped before its mail was "
            "sent", name);
    str_fmt(again, sizeof again, "mailacct domain plan %s %s", name, p.name);
    plan_mark(c, name, key, what, &pc, mark, sizeof mark);
    domain_plan(c, name, p.name, &pc);
    fflush(stdout);     /* what was done stays said, whatever follows */
    plan_notice(c, &pc, again);
    (void)unlink(mark);
}

static void cmd_approve(struct ctx *c, const char *id, const char *by)
{
    char who[64], ip[APPLY_IP_MAX + 1], pw[AUTH_FIELD_MAX + 2], mark[YUBIN_PATH_MAX];
    char key[APPLY_ID_LEN + 16], what[APPLY_ID_LEN + 64], again[APPLY_ID_LEN + 32];
    struct application a;
    struct plan_change pc;
    struct webadmin w;
    struct acct acc;
    int resumed = 0;
    webadmin_need_waiting(c->root, id, "approved", &a);
    mark[0] = '\0';
    memset(&pc, 0, sizeof pc);
    if (a.kind == APPLY_ADD) {
        if (str_fmt(mark, sizeof mark, "%s/requests/.approving-%s", c->root, a.id) == 0
            && access(mark, F_OK) == 0 && maps_user(c->m, a.target, NULL, NULL) == 1) {
            resumed = 1;
            log_warn("application %s: its approval stopped after %s was made; carrying on "
                     "with a new password", a.id, a.target);
        } else if (str_fmt(key, sizeof key, "approving-%s", a.id) < 0
                   || mark_write(c, key, "", mark, sizeof mark) < 0) {
            die_sys(EXIT_TEMP, "unable to write %s", mark);
        }
    } else if (a.kind == APPLY_PLAN) {
        str_fmt(key, sizeof key, "approving-%s", a.id);
        str_fmt(what, sizeof what, "application %s: its approval stopped before it was closed",
                a.id);
        plan_mark(c, a.domain, key, what, &pc, mark, sizeof mark);
    }
    if (webadmin_get(c, a.domain, &w) != 1) {
        memset(&w, 0, sizeof w);
    }
    if (by) {
        str_fmt(who, sizeof who, "%s", by);
        str_fmt(ip, sizeof ip, "-");
    } else {
        audit_operator(who, sizeof who, ip, sizeof ip);
    }
    pw[0] = '\0';
    switch (a.kind) {
    case APPLY_ADD:
    case APPLY_RESET:
        if (acctsys_random_password(pw, sizeof pw) < 0) {
            die_sys(EXIT_TEMP, "unable to make a password");
        }
        c->a.password = pw;
        if (a.kind == APPLY_ADD && !resumed) {
            cmd_add(c, a.target);           /* prints the sheet, as `mailacct add` does */
        } else {
            c->a.npos = 1;
            cmd_passwd(c, a.target);
            edit_need_user(c, a.target, &acc, NULL);
            edit_print_sheet(c, &acc, pw);      /* cmd_passwd ended its page sessions */
        }
        break;
    case APPLY_ADDON:
        cmd_quota(c, a.target, "50M");
        break;
    case APPLY_PLAN:
        domain_plan(c, a.domain, a.target, &pc);
        break;
    default:
        cmd_del(c, a.target);       /* its page sessions end with it */
        break;
    }
    if (fflush(stdout) != 0) {
        die_sys(EXIT_TEMP, "unable to write the output");
    }
    /* the settings mail before the application is closed: stopped in between, the approval
       is run again (a second mail, with the password that counts), never closed unmailed */
    if ((a.kind == APPLY_ADD || a.kind == APPLY_RESET)) {
        if (w.contact[0]) {
            webadmin_mail_sheet(c, &w, a.target, pw);
        } else {
            printf("domain %s has no contact: no settings mail sent\n", a.domain);
        }
    } else if (a.kind == APPLY_PLAN) {
        str_fmt(again, sizeof again, "mailacct approve %s", a.id);
        plan_notice(c, &pc, again);     /* POP over SSL on or off: the new sheets */
    }
    str_fmt(a.state, sizeof a.state, "approved");
    str_fmt(a.decided_by, sizeof a.decided_by, "%s", who);
    a.decided_at = (long long)time(NULL);
    webadmin_request_close(c->root, &a);
    if (mark[0]) {
        (void)unlink(mark);
    }
    if (apply_audit(c->root, "approve", &a, who, ip, NULL) < 0) {
        log_warn_sys("unable to write %s/log/audit", c->root);
    }
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(&w, sizeof w);
    printf("application %s approved (%s %s)\n", a.id, apply_kind_name(a.kind), a.target);
}

/* ---- the audit line of a change typed by the operator (lib/audit.h) ---- */

/* The line for argv[i..] (the command after --root), built before the command runs (it
   takes its options out of argv): "event=E target=T by=WHO ip=IP command=WORDS". E is the
   command's words ("passwd", "domain-plan"), T its first operand ("-" if none), WORDS the
   command as typed with each word made safe and a password given on the line as "-".
   main writes it once the command has succeeded. */
static void audit_command_line(int argc, char **argv, int i, char *line, size_t cap)
{
    char who[AUDIT_WHO_MAX + 1], ip[AUDIT_IP_MAX + 1], ev[64], target[ADDR_MAX + 1];
    char word[ADDR_MAX + 1];
    int two = i + 1 < argc && (strcmp(argv[i], "domain") == 0 || strcmp(argv[i], "node") == 0);
    int passwd = strcmp(argv[i], "passwd") == 0, operands = 0, k, dashdash = 0;
    size_t n;

    audit_operator(who, sizeof who, ip, sizeof ip);
    (void)str_fmt(ev, sizeof ev, "%s%s%s", argv[i], two ? "-" : "", two ? argv[i + 1] : "");
    audit_safe(ev, ev, sizeof ev);
    target[0] = '\0';
    for (k = i + 1 + two; k < argc && !target[0]; k++) {
        if (dashdash || argv[k][0] != '-' || !argv[k][1]) {
            audit_safe(argv[k], target, sizeof target);
        } else if (strcmp(argv[k], "--") == 0) {
            dashdash = 1;
        } else if (strcmp(argv[k], "--password") == 0 || strcmp(argv[k], "--plan") == 0
                   || strcmp(argv[k], "--quota") == 0 || strcmp(argv[k], "--home") == 0
                   || strcmp(argv[k], "--admin") == 0 || strcmp(argv[k], "--contact") == 0) {
            k++;    /* an option's value is not the operand */
        }
    }
    n = (size_t)snprintf(line, cap, "event=%s target=%s by=%s ip=%s command=", ev,
                         target[0] ? target : "-", who, ip);
    dashdash = 0;
    for (k = i; k < argc && n < cap; k++) {
        int secret = k > i && strcmp(argv[k - 1], "--password") == 0 && !dashdash;
        if (strcmp(argv[k], "--") == 0) {
            dashdash = 1;
        } else if (k > i && passwd && (dashdash || argv[k][0] != '-')) {
            secret = operands++ > 0;    /* passwd ADDR PW: the second operand */
        }
        audit_safe(secret ? "-" : argv[k], word, sizeof word);
        n += (size_t)snprintf(line + n, cap - n, "%s%s", k > i ? " " : "", word);
    }
}

/* Whether argv[i..] changes something when it takes the write lock (edit_load; a command
   that only reads does not take it): not approve and reject, which write their own audit
   lines, nor domain admin without --reset or --contact and domain dkim without rotate or
   remove, which only show. Asked before the command runs (it takes its options out of argv). */
static int audit_command_changes(int argc, char **argv, int i)
{
    int k;

    if (strcmp(argv[i], "approve") == 0 || strcmp(argv[i], "reject") == 0) {
        return 0;
    }
    if (i + 1 < argc && strcmp(argv[i], "domain") == 0 && strcmp(argv[i + 1], "dkim") == 0) {
        for (k = i + 3; k < argc; k++) {
            if (strcmp(argv[k], "rotate") == 0 || strcmp(argv[k], "remove") == 0) {
                return 1;
            }
        }
        return 0;
    }
    if (i + 1 < argc && strcmp(argv[i], "domain") == 0 && strcmp(argv[i + 1], "admin") == 0) {
        for (k = i + 2; k < argc; k++) {
            if (strcmp(argv[k], "--reset") == 0 || strcmp(argv[k], "--contact") == 0) {
                return 1;
            }
        }
        return 0;
    }
    return 1;
}

/* ---- main ---- */

static void run_domain(struct ctx *c, int argc, char **argv, int i)
{
    const char *sub = i < argc ? argv[i] : "";
    if (strcmp(sub, "add") == 0) {
        const char *admin = take_opt(&argc, argv, i + 1, "--admin");
        parse_args(argc, argv, i + 1, OPT_PLAN | OPT_HOME, 1, 1, &c->a);
        if (admin) {    /* refused before the domain is added, not after */
            char contact[ADDR_MAX + 1];
            edit_addr(admin, contact, sizeof contact);
        }
        edit_load(c, 1);
        acctdomain_add(c, c->a.pos[0]);
        fflush(stdout);     /* what was done stays said, whatever follows */
        if (admin) {
            char name[SMTP_DOMAIN_MAX + 1];
            edit_domain(c->a.pos[0], name, sizeof name);
            webadmin_reset(c, name, admin);
        }
    } else if (strcmp(sub, "admin") == 0) {
        const char *contact = take_opt(&argc, argv, i + 1, "--contact");
        int reset = take_flag(&argc, argv, i + 1, "--reset");
        parse_args(argc, argv, i + 1, 0, 1, 1, &c->a);
        edit_load(c, 1);
        webadmin_show(c, c->a.pos[0], contact, reset);
    } else if (strcmp(sub, "set") == 0) {
        parse_args(argc, argv, i + 1, 0, 3, 3, &c->a);
        edit_load(c, 1);
        webadmin_set(c, c->a.pos[0], c->a.pos[1], c->a.pos[2]);
    } else if (strcmp(sub, "plan") == 0) {
        parse_args(argc, argv, i + 1, 0, 2, 2, &c->a);
        edit_load(c, 1);
        cmd_domain_plan(c, c->a.pos[0], c->a.pos[1]);
    } else if (strcmp(sub, "del") == 0) {
        char name[SMTP_DOMAIN_MAX + 1];
        struct webadmin w;
        parse_args(argc, argv, i + 1, 0, 1, 1, &c->a);
        edit_load(c, 1);
        acctdomain_del(c, c->a.pos[0]);
        edit_domain(c->a.pos[0], name, sizeof name);
        if (webadmin_get(c, name, &w) == 1) {     /* its administrator login goes too */
            webadmin_put(c, name, NULL);
            webadmin_end_sessions(c, name);
            printf("administrator login of %s removed\n", name);
        }
    } else if (strcmp(sub, "list") == 0) {
        parse_args(argc, argv, i + 1, 0, 0, 0, &c->a);
        edit_load(c, 0);
        acctdomain_list(c);
    } else if (strcmp(sub, "dkim") == 0) {
        parse_args(argc, argv, i + 1, 0, 1, 3, &c->a);
        edit_load(c, 1);
        acctdomain_dkim(c);
    } else {
        usage();
    }
}

static void run(struct ctx *c, int argc, char **argv, int i)
{
    const char *cmd = argv[i++];
    if (strcmp(cmd, "requests") == 0) {
        parse_args(argc, argv, i, 0, 0, 0, &c->a);
        webadmin_requests(c);
    } else if (strcmp(cmd, "approve") == 0) {
        const char *by = take_opt(&argc, argv, i, "--by");
        parse_args(argc, argv, i, 0, 1, 1, &c->a);
        edit_load(c, 1);
        cmd_approve(c, c->a.pos[0], by);
    } else if (strcmp(cmd, "reject") == 0) {
        const char *reason = take_opt(&argc, argv, i, "--reason");
        parse_args(argc, argv, i, 0, 1, 1, &c->a);
        edit_load(c, 1);
        webadmin_reject(c, c->a.pos[0], reason);
    } else if (strcmp(cmd, "domain") == 0) {
        run_domain(c, argc, argv, i);
    } else if (strcmp(cmd, "add") == 0) {
        parse_args(argc, argv, i, OPT_PASSWORD | OPT_RANDOM | OPT_QUOTA | OPT_FORCE, 1, 1, &c->a);
        edit_load(c, 1);
        cmd_add(c, c->a.pos[0]);
    } else if (strcmp(cmd, "del") == 0) {
        parse_args(argc, argv, i, 0, 1, 1, &c->a);
        edit_load(c, 1);
        cmd_del(c, c->a.pos[0]);
    } else if (strcmp(cmd, "passwd") == 0) {
        parse_args(argc, argv, i, OPT_RANDOM | OPT_PASSWORD, 1, 2, &c->a);
        edit_load(c, 1);
        cmd_passwd(c, c->a.pos[0]);
    } else if (strcmp(cmd, "quota") == 0) {
        parse_args(argc, argv, i, OPT_FORCE, 2, 2, &c->a);
        edit_load(c, 1);
        cmd_quota(c, c->a.pos[0], c->a.pos[1]);
    } else if (strcmp(cmd, "node") == 0) {
        acctnode_run(c, argc, argv, i);
    } else if (strcmp(cmd, "import") == 0) {
        parse_args(argc, argv, i, 0, 0, 0, &c->a);
        edit_load(c, 1);
        cmd_import(c);
    } else if (strcmp(cmd, "list") == 0) {
        parse_args(argc, argv, i, 0, 0, 1, &c->a);
        edit_load(c, 0);
        cmd_list(c);
    } else if (strcmp(cmd, "show") == 0) {
        parse_args(argc, argv, i, 0, 1, 1, &c->a);
        edit_load(c, 0);
        cmd_show(c, c->a.pos[0]);
    } else if (strcmp(cmd, "suspend-sending") == 0 || strcmp(cmd, "resume-sending") == 0) {
        parse_args(argc, argv, i, 0, 1, 1, &c->a);
        edit_load(c, 1);
        cmd_sending(c, c->a.pos[0], cmd[0] == 's');
    } else if (strcmp(cmd, "sending-limits") == 0) {
        parse_args(argc, argv, i, 0, 2, 3, &c->a);
        edit_load(c, 1);
        cmd_limits(c);
    } else if (strcmp(cmd, "operator") == 0) {
        parse_args(argc, argv, i, 0, 0, 1, &c->a);
        edit_load(c, c->a.npos == 1);
        cmd_operator(c, c->a.npos == 1 ? c->a.pos[0] : NULL);
    } else if (strcmp(cmd, "sheet") == 0) {
        parse_args(argc, argv, i, OPT_HTML, 1, 1, &c->a);
        edit_load(c, 0);
        cmd_sheet(c, c->a.pos[0]);
    } else {
        usage();
    }
}

int main(int argc, char **argv)
{
    struct ctx c;
    char root[YUBIN_PATH_MAX], line[AUDIT_LINE_MAX];
    int i = 1, changes;

    log_init("mailacct");
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        if (printf("%s\n", USAGE) < 0 || fflush(stdout) != 0) {
            die_sys(EXIT_TEMP, "unable to write the output");
        }
        return EXIT_DONE;
    }
    memset(&c, 0, sizeof c);
    c.lock = -1;
    while (i < argc && strncmp(argv[i], "--root", 6) == 0) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            c.root = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--root=", 7) == 0) {
            c.root = argv[i++] + 7;
        } else {
            usage();
        }
    }
    if (i >= argc) {
        usage();
    }
    cfg_root_need(root, sizeof root, c.root);
    c.root = root;
    c.fleet = fleet_present(root);
    if (c.fleet < 0) {
        die_sys(EXIT_TEMP, "unable to look for %s/etc/fleet", root);
    }
    audit_command_line(argc, argv, i, line, sizeof line);
    changes = audit_command_changes(argc, argv, i);
    run(&c, argc, argv, i);
    if (fflush(stdout) != 0) {
        die_sys(EXIT_TEMP, "unable to write the output");
    }
    if (changes && c.lock >= 0 && audit_append(c.root, line) < 0) {
        log_warn_sys("unable to write %s/log/audit: the change is made, but not in the audit "
                     "log", c.root);
    }
    maps_free(c.m);
    mapsio_src_free(&c.src);
    fleet_snap_free(&c.snap);
    return EXIT_DONE;
}

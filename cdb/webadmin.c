/* webadmin.c: mailacct's side of the member page's domain administrators and applications
   (webadmin.h); runs as root inside mailacct */
#include "webadmin.h"

#include "acctsys.h"
#include "audit.h"
#include "buf.h"
#include "cfg.h"
#include "date.h"
#include "envelope.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "maps.h"
#include "sheet.h"
#include "str.h"
#include "usage.h"
#include "web/applist.h"
#include "web/apply.h"
#include "web/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Applications `mailacct requests` lists at most: a bound on its memory, far above what
   acctd lets wait (100 per domain). */
#define WEBADMIN_LIST_MAX 1000000
/* Addresses whose sheets go in one mail after a change of plan: at most SHEET_MAX of text and
   of page each, so a mail stays below 2 * 2 * 50 * 64 KB = 12.8 MB, under the 20 MB a message
   may have (real sheets are about 4 KB and 7 KB: 50 make about 0.8 MB). More go in more mails. */
#define WEBADMIN_SHEETS_PER_MAIL 50

/* Replace (or add) the line of w->domain in ROOT/etc/webadmins; w NULL with domain: delete.
   root:yubin-auth 0640 (authd checks the administrators' passwords), written atomically. */
void webadmin_put(const struct ctx *c, const char *domain, const struct webadmin *w)
{
    char path[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX], line[MAP_LINE_MAX + 600];
    char *text = malloc(APPLY_ADMINS_MAX);
    struct group *g;
    struct buf b;
    ssize_t n;
    size_t i = 0, dl = strlen(domain);
    int fd;
    if (!text || str_fmt(path, sizeof path, "%s/etc/webadmins", c->root) < 0
        || str_fmt(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        die(EXIT_TEMP, "unable to edit etc/webadmins");
    }
    n = fd_read_file(path, text, APPLY_ADMINS_MAX);
    if (n < 0 && errno != ENOENT) {
        die_sys(EXIT_TEMP, "unable to read %s", path);
    }
    buf_init(&b, APPLY_ADMINS_MAX + sizeof line);
    while (n > 0 && i < (size_t)n) {
        const char *l = text + i, *nl = memchr(l, '\n', (size_t)n - i);
        size_t len = nl ? (size_t)(nl - l) : (size_t)n - i;
        if (!(len > dl && memcmp(l, domain, dl) == 0 && l[dl] == ':')
            && (buf_append(&b, l, len) < 0 || buf_puts(&b, "\n") < 0)) {
            die(EXIT_TEMP, "etc/webadmins too large");
        }
        i += len + 1;
    }
    if (w) {
        if (apply_admin_line(w, line, sizeof line) < 0 || buf_puts(&b, line) < 0
            || buf_puts(&b, "\n") < 0) {
            die(EXIT_TEMP, "etc/webadmins too large");
        }
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        die_sys(EXIT_TEMP, "unable to create %s", tmp);
    }
    g = getuid() == 0 ? getgrnam("yubin-auth") : NULL;
    if ((g && fchown(fd, 0, g->gr_gid) < 0) || fchmod(fd, 0640) < 0
        || (b.len && fd_write_all(fd, b.s, b.len) < 0) || fsync(fd) < 0 || close(fd) < 0
        || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        die_sys(EXIT_TEMP, "unable to write %s", path);
    }
    buf_wipe(&b);
    buf_free(&b);
    explicit_bzero(text, APPLY_ADMINS_MAX);
    free(text);
}

/* The domain's line: 1 found, 0 none. */
int webadmin_get(const struct ctx *c, const char *domain, struct webadmin *w)
{
    char path[YUBIN_PATH_MAX];
    char *text = malloc(APPLY_ADMINS_MAX);
    ssize_t n;
    int r;
    if (!text || str_fmt(path, sizeof path, "%s/etc/webadmins", c->root) < 0) {
        die(EXIT_TEMP, "unable to read etc/webadmins");
    }
    n = fd_read_file(path, text, APPLY_ADMINS_MAX);
    if (n < 0 && errno != ENOENT) {
        die_sys(EXIT_TEMP, "unable to read %s", path);
    }
    r = n > 0 ? apply_admin_find(text, (size_t)n, domain, w) : 0;
    free(text);
    return r;
}

void webadmin_end_sessions(const struct ctx *c, const char *domain)
{
    if (session_end_others(c->root, domain, 1, NULL) < 0) {
        log_warn_sys("unable to end the member page sessions of the administrator of %s",
                     domain);
    }
}

/* A new password for the domain's administrator (contact: a new one, or NULL to keep). */
void webadmin_reset(struct ctx *c, const char *domain, const char *contact)
{
    char pw[AUTH_FIELD_MAX + 2], addr[ADDR_MAX + 1];
    struct webadmin w;
    int had = webadmin_get(c, domain, &w);
    if (!had) {
        memset(&w, 0, sizeof w);
        str_fmt(w.domain, sizeof w.domain, "%s", domain);
        if (!contact) {
            die(EXIT_PERM, "domain %s has no administrator yet: mailacct domain admin %s "
                "--contact ADDRESS", domain, domain);
        }
    }
    if (contact) {
        edit_addr(contact, addr, sizeof addr);
        str_fmt(w.contact, sizeof w.contact, "%s", addr);
    }
    if (acctsys_random_password(pw, sizeof pw) < 0
        || acctsys_hash(pw, w.hash, sizeof w.hash) < 0) {
        die_sys(EXIT_TEMP, "unable to make the administrator's password");
    }
    webadmin_put(c, domain, &w);
    /* the old password stops at once, and so does every page it opened: acctd holds an
       administrator's session to the password of its login (web/acctd_admin.c), and the page's
       sessions and acctd's records of them go now */
    webadmin_end_sessions(c, domain);
    printf("administrator of %s (member page login: %s)\ncontact: %s\npassword: %s\n"
           "applications: %s\n", domain, domain, w.contact, pw,
           w.auto_approve ? "carried out at once (auto-approve on)" : "wait for mailacct approve");
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(&w, sizeof w);
}

/* domain admin D: shows the administrator; with --reset or --contact a new password. */
/* An auto-approve domain: acctd's cap of new addresses (WEB_AUTO_ADD_MAX, read as acctd reads
   it) and what this node's auto-approval carried out against it in the last 24 hours, so that
   the operator who reads acctd's warning sees where the domain stands. */
static void show_auto_cap(const struct ctx *c, const char *domain)
{
    unsigned long cap = cfg_setting_num(c->root, "WEB_AUTO_ADD_MAX", APPLY_AUTO_ADD_MAX);
    long n;
    if (cap == 0) {
        printf("new addresses: no cap (WEB_AUTO_ADD_MAX=0)\n");
        return;
    }
    n = applist_auto_added(c->root, domain, time(NULL), (size_t)cap);
    if (n < 0) {
        printf("new addresses: at most %llu carried out at once in 24 hours (WEB_AUTO_ADD_MAX); "
               "unable to count them: %s/requests/done: %s\n", (unsigned long long)cap, c->root,
               strerror(errno));
        return;
    }
    printf("new addresses: %ld of at most %llu carried out at once in the last 24 hours on this "
           "node (WEB_AUTO_ADD_MAX)%s\n", n, (unsigned long long)cap,
           (unsigned long)n >= cap ? "; more wait for mailacct approve" : "");
}

void webadmin_show(struct ctx *c, const char *arg, const char *contact, int reset)
{
    char name[SMTP_DOMAIN_MAX + 1];
    struct domain d;
    struct webadmin w;
    edit_domain(arg, name, sizeof name);
    edit_need_domain(c, name, &d);
    if (reset || contact) {
        webadmin_reset(c, name, contact);
        return;
    }
    if (webadmin_get(c, name, &w) != 1) {
        die(EXIT_PERM, "domain %s has no administrator: mailacct domain admin %s --contact "
            "ADDRESS", name, name);
    }
    printf("administrator of %s (member page login: %s)\ncontact: %s\napplications: %s\n",
           name, name, w.contact, w.auto_approve ? "carried out at once (auto-approve on)"
           : "wait for mailacct approve");
    if (w.auto_approve) {
        show_auto_cap(c, name);
    }
    printf("(the password is stored as a hash: mailacct domain admin %s --reset prints a new "
           "one)\n", name);
    explicit_bzero(&w, sizeof w);
}

void webadmin_set(struct ctx *c, const char *arg, const char *what, const char *val)
{
    char name[SMTP_DOMAIN_MAX + 1];
    struct domain d;
    struct webadmin w;
    edit_domain(arg, name, sizeof name);
    edit_need_domain(c, name, &d);
    if (strcmp(what, "auto-approve") != 0 || (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)) {
        die(EXIT_PERM, "usage: mailacct domain set DOMAIN auto-approve on|off");
    }
    if (webadmin_get(c, name, &w) != 1) {
        die(EXIT_PERM, "domain %s has no administrator: mailacct domain admin %s --contact "
            "ADDRESS", name, name);
    }
    w.auto_approve = strcmp(val, "on") == 0;
    webadmin_put(c, name, &w);
    /* from val: w (it held the hash) is wiped before the line is printed */
    explicit_bzero(&w, sizeof w);
    printf("domain %s: applications %s\n", name, strcmp(val, "on") == 0
           ? "carried out at once" : "wait for mailacct approve");
}

/* ROOT/requests/ID (or done/ID with done): 1 read, 0 absent. */
int webadmin_request_read(const char *root, const char *id, int done, struct application *a)
{
    char path[YUBIN_PATH_MAX], body[APPLY_RECORD_MAX + 1];
    ssize_t n;
    if (!apply_id_ok(id)) {
        return 0;
    }
    if (str_fmt(path, sizeof path, "%s/requests/%s%s", root, done ? "done/" : "", id) < 0) {
        return 0;
    }
    n = fd_read_file(path, body, sizeof body);
    if (n < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        die_sys(EXIT_TEMP, "unable to read %s", path);
    }
    if (apply_parse(body, (size_t)n, a) != 1) {
        die(EXIT_PERM, "%s is malformed; move it away", path);
    }
    return 1;
}

/* One line of ROOT/log/audit ("TIME event=EVENT id=ID …"): when it is of the application
   needle (" id=ID "), its event and time into event[16] and when[32]; 1 if so. */
static int audit_line(const char *line, size_t len, const char *needle, char *event, char *when)
{
    const char *ev;
    char *frac;
    size_t el, tl;
    if (!memmem(line, len, needle, strlen(needle)) || !(ev = memmem(line, len, " event=", 7))) {
        return 0;
    }
    el = strcspn(ev + 7, " \n");
    tl = strcspn(line, " \n");
    if (el >= 16 || tl >= 32) {
        return 0;
    }
    memcpy(event, ev + 7, el);
    event[el] = '\0';
    memcpy(when, line, tl);
    when[tl] = '\0';
    if ((frac = strchr(when, '.'))) {      /* to the second: "…T06:10:00.250000Z" */
        frac[0] = 'Z';
        frac[1] = '\0';
    }
    return 1;
}

/* The last of id's events in ROOT/log/audit (one line each, at most 1 kB: web/apply.c
   apply_audit) into event[16] and when[32]: 1 found, 0 none, -1 unreadable. The file is read
   once, a block at a time. */
static int audit_last(const char *root, const char *id, char *event, char *when)
{
    char path[YUBIN_PATH_MAX], buf[65536], needle[APPLY_ID_LEN + 8];
    size_t have = 0, start;
    int fd, found = 0, skip = 0;
    ssize_t n;
    if (str_fmt(path, sizeof path, "%s/log/audit", root) < 0
        || str_fmt(needle, sizeof needle, " id=%s ", id) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    do {
        const char *nl;
        n = fd_read(fd, buf + have, sizeof buf - have);
        if (n < 0) {
            close(fd);
            return -1;
        }
        have += (size_t)n;
        start = 0;
        while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
            found |= !skip && audit_line(buf + start, (size_t)(nl - buf) - start, needle,
                                         event, when);
            skip = 0;
            start = (size_t)(nl - buf) + 1;
        }
        if (n == 0 && start < have && !skip) {     /* a last line without its newline */
            found |= audit_line(buf + start, have - start, needle, event, when);
        }
        if (start == 0 && have == sizeof buf) {
            skip = 1;       /* no line is this long: the rest of it is not read as a line */
            have = 0;
        } else {
            memmove(buf, buf + start, have - start);
            have -= start;
        }
    } while (n > 0);
    close(fd);
    return found;
}

void webadmin_need_waiting(const char *root, const char *id, const char *verb,
                           struct application *a)
{
    char event[16], when[32], day[APPLY_DATE_LEN + 1];
    time_t t;
    struct tm lt;
    int r;
    if (webadmin_request_read(root, id, 0, a)) {
        return;
    }
    if (!apply_id_ok(id)) {
        die(EXIT_PERM, "%s is not an application number (YYYYMMDD-HHMMSS-XXXXXXXX: mailacct "
            "requests lists the waiting ones)", id);
    }
    if (webadmin_request_read(root, id, 1, a)) {
        t = (time_t)a->decided_at;
        if (!localtime_r(&t, &lt) || strftime(day, sizeof day, "%Y-%m-%d", &lt) == 0) {
            str_fmt(day, sizeof day, "-");
        }
        die(EXIT_PERM, "application %s cannot be %s: it was %s on %s by %s", id, verb,
            a->state, day, a->decided_by[0] ? a->decided_by : "-");
    }
    r = audit_last(root, id, event, when);
    if (r < 0) {
        log_warn_sys("unable to read %s/log/audit", root);
    }
    if (r == 1 && (strcmp(event, "approve") == 0 || strcmp(event, "reject") == 0)) {
        die(EXIT_PERM, "application %s cannot be %s: it was %s at %s (log/audit), and its "
            "record was removed from requests/done %d days after", id, verb,
            strcmp(event, "approve") == 0 ? "approved" : "rejected", when, APPLY_DECIDED_DAYS);
    }
    if (r == 1) {
        die(EXIT_PERM, "application %s cannot be %s: log/audit has it filed at %s, but "
            "requests/%s is gone without a decision (moved away by hand?)", id, verb, when, id);
    }
    die(EXIT_PERM, "no application %s: none with that number is waiting%s (mailacct requests "
        "lists the waiting ones)", id, r == 0 ? " or in log/audit" : "");
}

/* The decided record to requests/done/ID (atomically), then requests/ID removed. */
void webadmin_request_close(const char *root, const struct application *a)
{
    char dir[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], old[YUBIN_PATH_MAX];
    struct buf b;
    int fd;
    if (str_fmt(dir, sizeof dir, "%s/requests/done", root) < 0
        || str_fmt(tmp, sizeof tmp, "%s/.tmp-%s", dir, a->id) < 0
        || str_fmt(path, sizeof path, "%s/%s", dir, a->id) < 0
        || str_fmt(old, sizeof old, "%s/requests/%s", root, a->id) < 0) {
        die(EXIT_TEMP, "path too long");
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        die_sys(EXIT_TEMP, "unable to create %s", dir);
    }
    buf_init(&b, APPLY_RECORD_MAX);
    if (apply_format(a, &b) < 0) {
        die(EXIT_TEMP, "record too long");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fd_write_all(fd, b.s, b.len) < 0 || fsync(fd) < 0 || close(fd) < 0
        || rename(tmp, path) < 0 || unlink(old) < 0) {
        die_sys(EXIT_TEMP, "unable to record the decision in %s", path);
    }
    buf_free(&b);
}

/* close(fd) if fd >= 0, errno as it was: the failure being reported is another's */
static void close_keep_errno(int fd)
{
    int e = errno;
    if (fd >= 0) {
        close(fd);
    }
    errno = e;
}

/* The message into the real queue: ROOT/bin/queue-inject run as the queue uid (as behind
   run/inject.sock), the message on its fd 0, the envelope on its fd 1, DKIM-signed for
   account when that is not "" (docs/dkim.md "The server's own mail"). Its queue id in qid.
   queue-inject's exit code (0 queued), or -1 when it could not be run. */
static int inject(const struct ctx *c, const char *account, const char *sender,
                  const char *rcpt, const struct buf *msg, char *qid, size_t qcap)
{
    char prog[YUBIN_PATH_MAX], rcpts[ADDR_MAX + 2], env[YUBIN_PATH_MAX + 16];
    struct buf e;
    struct passwd *q = getuid() == 0 ? getpwnam("yubin-q") : NULL;
    int mfd, sv[2], st;
    ssize_t n;
    pid_t pid;
    size_t rl = strlen(rcpt);
    if (getuid() == 0 && !q) {
        errno = ENOENT;
        return -1;
    }
    memcpy(rcpts, rcpt, rl + 1);
    buf_init(&e, ENVELOPE_MAX);
    if (envelope_encode_as(&e, account, sender, rcpts, rl + 1) < 0
        || str_fmt(prog, sizeof prog, "%s/bin/queue-inject", c->root) < 0
        || str_fmt(env, sizeof env, "YUBIN_ROOT=%s", c->root) < 0) {
        buf_free(&e);
        return -1;
    }
    mfd = memfd_create("sheet-mail", MFD_CLOEXEC);
    if (mfd < 0 || fd_write_all(mfd, msg->s, msg->len) < 0 || lseek(mfd, 0, SEEK_SET) < 0
        || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        close_keep_errno(mfd);
        buf_free(&e);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        close_keep_errno(mfd);
        close_keep_errno(sv[0]);
        close_keep_errno(sv[1]);
        buf_free(&e);
        return -1;
    }
    if (pid == 0) {
        char *const argv[] = { prog, NULL };
        char asan[256], ubsan[256];
        char *envp[4];
        size_t ne = 0;
        envp[ne++] = env;
        /* a sanitized build's settings (make check) reach queue-inject as they reach the
           services; unset in production */
        if (getenv("ASAN_OPTIONS")
            && str_fmt(asan, sizeof asan, "ASAN_OPTIONS=%s", getenv("ASAN_OPTIONS")) == 0) {
            envp[ne++] = asan;
        }
        if (getenv("UBSAN_OPTIONS")
            && str_fmt(ubsan, sizeof ubsan, "UBSAN_OPTIONS=%s", getenv("UBSAN_OPTIONS")) == 0) {
            envp[ne++] = ubsan;
        }
        envp[ne] = NULL;
        if (dup2(mfd, 0) < 0 || dup2(sv[1], 1) < 0
            || (q && (setgroups(0, NULL) < 0 || setgid(q->pw_gid) < 0
                      || setuid(q->pw_uid) < 0))) {
            _exit(EXIT_TEMP);
        }
        execve(prog, argv, envp);
        _exit(EXIT_TEMP);
    }
    close(sv[1]);
    close(mfd);
    if (fd_write_all(sv[0], e.s, e.len) < 0) {
        close_keep_errno(sv[0]);
        buf_free(&e);
        waitpid(pid, &st, 0);
        return -1;
    }
    shutdown(sv[0], SHUT_WR);
    n = fd_read(sv[0], qid, qcap - 1);
    qid[n > 0 ? (size_t)n : 0] = '\0';
    qid[strcspn(qid, "\n")] = '\0';
    close(sv[0]);
    buf_free(&e);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One settings mail (subject, the sheets' text, the printable page) from etc/admin (else
   postmaster@ME) to to, into the queue; its queue id in qid. 0, -1 (not queued). */
static int settings_mail(struct ctx *c, const char *to, const char *subject,
                         const struct buf *text, const struct buf *html, char *qid, size_t qcap)
{
    char me[SMTP_DOMAIN_MAX + 1], date[DATE_RFC5322_MAX], msgid[64], from[ADDR_MAX + 1];
    struct buf msg;
    int code;
    edit_me(c, me, sizeof me);
    if (str_fmt(from, sizeof from, "%s", maps_admin(c->m)[0] ? maps_admin(c->m) : "") < 0
        || !from[0]) {
        str_fmt(from, sizeof from, "postmaster@%s", me);
    }
    /* base64 grows the parts by 4/3 and a line end per 76 characters: twice is room enough */
    buf_init(&msg, 2 * (text->len + html->len) + 4096);
    if (date_rfc5322(time(NULL), date, sizeof date) < 0 || apply_id(time(NULL), msgid) < 0
        || apply_sheet_mail(&msg, from, to, me, subject, date, msgid, text->s, text->len,
                            html->s, html->len) < 0) {
        die(EXIT_TEMP, "unable to compose the settings mail");
    }
    /* signed for the From address's domain when it has a key; a signer that cannot answer
       would lose the mail (the approval is done): it goes unsigned then, and says so */
    code = inject(c, from, from, to, &msg, qid, qcap);
    if (code == ENVELOPE_EXIT_SIGNER) {
        log_warn("the DKIM signer did not answer (see log/inject, log/dkim): the settings mail "
                 "to %s goes unsigned", to);
        code = inject(c, "", from, to, &msg, qid, qcap);
    }
    buf_wipe(&msg);
    buf_free(&msg);
    return code == 0 ? 0 : -1;
}

/* The settings sheet of addr with pw to the domain's contact, through the queue. */
void webadmin_mail_sheet(struct ctx *c, const struct webadmin *w, const char *addr,
                         const char *pw)
{
    char me[SMTP_DOMAIN_MAX + 1], qid[64];
    struct sheet s;
    struct acct a;
    struct buf text, html;
    edit_need_user(c, addr, &a, NULL);
    edit_fill_sheet(c, &a, pw, &s, me, sizeof me);
    buf_init(&text, SHEET_MAX);
    buf_init(&html, SHEET_MAX);
    if (sheet_text(&s, &text) < 0 || sheet_html(&s, &html) < 0) {
        die(EXIT_TEMP, "unable to compose the settings mail");
    }
    if (settings_mail(c, w->contact, APPLY_SUBJECT_SHEET, &text, &html, qid, sizeof qid) < 0) {
        die_sys(EXIT_TEMP, "%s is done, but the settings mail to %s could not be queued: send "
                "mailacct sheet %s by hand", addr, w->contact, addr);
    }
    printf("settings sheet of %s mailed to %s (queue %s)\n", addr, w->contact, qid);
    buf_wipe(&text);
    buf_wipe(&html);
    buf_free(&text);
    buf_free(&html);
}

/* The next up to WEBADMIN_SHEETS_PER_MAIL accounts of domain from the users' index *i on:
   their sheets (no password) in s, their records in a. Their number. */
static size_t domain_sheets(const struct ctx *c, const char *domain, size_t *i, struct acct *a,
                            struct sheet *s, char *me, size_t mecap)
{
    size_t n = 0;
    while (n < WEBADMIN_SHEETS_PER_MAIL && maps_user_at(c->m, (*i)++, &a[n], NULL) == 1) {
        if (strcmp(strchr(a[n].addr, '@') + 1, domain) == 0) {
            edit_fill_sheet(c, &a[n], NULL, &s[n], me, mecap);
            n++;
        }
    }
    return n;
}

/* 1 if size (bytes, 0 = unlimited) is below was. */
static int size_below(uint64_t size, uint64_t was)
{
    return size != 0 && (was == 0 || size < was);
}

void webadmin_plan_quota(const struct ctx *c, const char *domain, const char *was,
                         struct sheet_plan *p, struct sheet_full *full)
{
    struct map_plan old;
    struct domain d;
    struct acct a;
    struct map_user u;
    size_t i;
    edit_need_domain(c, domain, &d);
    p->quota = p->was_quota = d.quota;
    p->lowered = p->nfull = p->full_total = 0;
    p->full = full;
    p->addon = acct_addon_applies(d.plan, d.quota);
    if (maps_plan(c->m, was, &old) != 1) {
        return;     /* a plan gone from etc/plans since: its size is not known */
    }
    p->was_quota = old.quota;
    if (!size_below(d.quota, old.quota)) {
        return;
    }
    for (i = 0; maps_user_at(c->m, i, &a, &u) == 1; i++) {
        uint64_t used = 0, count = 0;
        if (u.quota_set || strcmp(strchr(a.addr, '@') + 1, domain) != 0) {
            continue;       /* its own size: the plan does not change it */
        }
        p->lowered++;
        if (usage_read(c->root, a.addr, &used, &count) == 1 && used >= d.quota) {
            if (p->nfull < SHEET_FULL_MAX) {
                str_fmt(full[p->nfull].addr, sizeof full[p->nfull].addr, "%s", a.addr);
                full[p->nfull++].used = used;
            }
            p->full_total++;
        }
    }
}

void webadmin_mail_plan(struct ctx *c, const struct webadmin *w, const char *domain,
                        struct sheet_plan *p, const char *again)
{
    char me[SMTP_DOMAIN_MAX + 1], subject[256], qid[64], size[32];
    struct acct *a = calloc(WEBADMIN_SHEETS_PER_MAIL, sizeof *a);
    struct sheet *s = calloc(WEBADMIN_SHEETS_PER_MAIL, sizeof *s);
    struct domain d;
    struct buf text, html;
    size_t i = 0, n;
    if (!a || !s) {
        die_sys(EXIT_TEMP, "unable to compose the settings mail");
    }
    edit_need_domain(c, domain, &d);
    edit_me(c, me, sizeof me);
    p->domain = d.name;
    p->plan = d.plan;
    p->me = me;
    p->pop3s = d.pop3s;
    p->addrs = maps_domain_users(c->m, domain);
    p->parts = (p->addrs + WEBADMIN_SHEETS_PER_MAIL - 1) / WEBADMIN_SHEETS_PER_MAIL;
    str_size_human(p->quota, size, sizeof size);
    buf_init(&text, (WEBADMIN_SHEETS_PER_MAIL + 1) * SHEET_MAX + SHEET_FULL_MAX * 2 * 512);
    buf_init(&html, WEBADMIN_SHEETS_PER_MAIL * SHEET_MAX);
    for (p->part = 1; p->part <= p->parts; p->part++) {
        size_t k;
        n = domain_sheets(c, domain, &i, a, s, me, sizeof me);
        if (n == 0) {
            break;
        }
        buf_reset(&text);
        buf_reset(&html);
        if ((p->parts > 1 ? str_fmt(subject, sizeof subject, "%s (%zu/%zu)", APPLY_SUBJECT_PLAN,
                                    p->part, p->parts)
                          : str_fmt(subject, sizeof subject, "%s", APPLY_SUBJECT_PLAN)) < 0
            || sheet_plan_text(p, &text) < 0) {
            die(EXIT_TEMP, "unable to compose the settings mail");
        }
        for (k = 0; k < n; k++) {
            if (buf_puts(&text, "\n") < 0 || sheet_text(&s[k], &text) < 0) {
                die(EXIT_TEMP, "unable to compose the settings mail");
            }
        }
        if (sheet_html_list(s, n, d.name, &html) < 0) {
            die(EXIT_TEMP, "unable to compose the settings mail");
        }
        if (settings_mail(c, w->contact, subject, &text, &html, qid, sizeof qid) < 0) {
            die_sys(EXIT_TEMP, "domain %s is on plan %s now, but the settings mail%s to %s "
                    "could not be queued: once the queue takes mail again, run %s again, "
                    "which sends it", d.name, d.plan, p->parts > 1 ? " (a part)" : "",
                    w->contact, again);
        }
        printf("settings sheets of %zu address%s of %s (%s%s%s%s) mailed to %s (queue %s)\n", n,
               n == 1 ? "" : "es", d.name,
               p->pop3s_changed ? (d.pop3s ? "POP over SSL on" : "POP over SSL off") : "",
               p->pop3s_changed && p->lowered ? ", " : "",
               p->lowered ? "mailbox size " : "", p->lowered ? size : "", w->contact, qid);
    }
    buf_free(&text);
    buf_free(&html);
    free(a);
    free(s);
}

void webadmin_reject(struct ctx *c, const char *id, const char *reason)
{
    char who[64], ip[APPLY_IP_MAX + 1];
    struct application a;
    if (!reason || !reason[0] || strlen(reason) > APPLY_REASON_MAX
        || str_has_ctl(reason, strlen(reason))) {
        die(EXIT_PERM, "usage: mailacct reject ID --reason TEXT (one line without tabs or other "
            "control characters, at most %d octets)", APPLY_REASON_MAX);
    }
    webadmin_need_waiting(c->root, id, "rejected", &a);
    audit_operator(who, sizeof who, ip, sizeof ip);
    str_fmt(a.state, sizeof a.state, "rejected");
    str_fmt(a.decided_by, sizeof a.decided_by, "%s", who);
    str_fmt(a.reason, sizeof a.reason, "%s", reason);
    a.decided_at = (long long)time(NULL);
    webadmin_request_close(c->root, &a);
    if (apply_audit(c->root, "reject", &a, who, ip, reason) < 0) {
        log_warn_sys("unable to write %s/log/audit", c->root);
    }
    printf("application %s rejected\n", a.id);
}

static int cmp_app(const void *x, const void *y)
{
    const struct application *a = x, *b = y;
    int d = strcmp(a->due, b->due);
    return d ? d : a->time < b->time ? -1 : a->time > b->time;
}

/* The waiting applications, oldest due first; OVERDUE once their day has passed. */
void webadmin_requests(struct ctx *c)
{
    char dir[YUBIN_PATH_MAX], today[APPLY_DATE_LEN + 1];
    struct application *list = NULL;
    size_t n = 0, cap = 0, i;
    struct dirent *e;
    struct tm lt;
    time_t now = time(NULL);
    DIR *d;
    if (!localtime_r(&now, &lt)) {
        die_sys(EXIT_TEMP, "unable to read the time");
    }
    if (strftime(today, sizeof today, "%Y-%m-%d", &lt) != APPLY_DATE_LEN) {
        die(EXIT_TEMP, "unable to format today's date");
    }
    if (str_fmt(dir, sizeof dir, "%s/requests", c->root) < 0) {
        die(EXIT_PERM, "root too long");
    }
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            printf("no application is waiting\n");
            return;
        }
        die_sys(EXIT_TEMP, "unable to open %s", dir);
    }
    while ((e = readdir(d))) {
        struct application a;
        if (!apply_id_ok(e->d_name) || !webadmin_request_read(c->root, e->d_name, 0, &a)) {
            continue;
        }
        if (buf_grow_array((void **)&list, &cap, n, sizeof *list, WEBADMIN_LIST_MAX) < 0) {
            die_sys(EXIT_TEMP, "unable to list more than %d applications", WEBADMIN_LIST_MAX);
        }
        list[n++] = a;
    }
    closedir(d);
    if (n > 1) {
        qsort(list, n, sizeof *list, cmp_app);      /* list is NULL when n is 0 */
    }
    if (n == 0) {
        printf("no application is waiting\n");
    }
    for (i = 0; i < n; i++) {
        const struct application *a = &list[i];
        char when[32];
        time_t t = (time_t)a->time;
        struct tm at;
        localtime_r(&t, &at);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &at);
        printf("%s due %s%s %s %s %s by %s ip %s at %s\n", a->id, a->due,
               strcmp(a->due, today) < 0 ? " OVERDUE" : "", a->domain, apply_kind_name(a->kind),
               a->target, a->by, a->ip[0] ? a->ip : "-", when);
    }
    free(list);
}


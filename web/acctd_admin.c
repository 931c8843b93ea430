/* acctd_admin.c: acctd for a domain's administrator: login, list, applications; runs as root */
#include "acctd.h"
#include "authclient.h"
#include "addr.h"
#include "cfg.h"
#include "digest.h"
#include "exitcode.h"
#include "fd.h"
#include "limits.h"
#include "log.h"
#include "str.h"
#include "webparse.h"
#include "acct.h"
#include "apply.h"
#include "applist.h"
#include "buf.h"
#include "session.h"
#include "usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What a mailacct child may print for us: `mailacct list DOMAIN` of about 500,000 addresses
   of a typical length (30 octets a line), 50,000 of the longest (ADDR_MAX) */
#define ACCTD_OUT_MAX       (16 * 1024 * 1024)
#define ACCTD_PENDING_MAX   1000    /* applications of a domain looked at for a new one's twin */
/* What an auto-approval hands the page of what mailacct printed: the settings sheet of an added
   address or a new password (about 2 kB; cdb/sheet.c), shown once. Bounded so that the page
   that shows it always fits (web/member.h WEB_REPLY_MAX): longer, it goes by mail alone. */
#define ACCTD_SHEET_MAX     (16 * 1024)
#define ACCTD_ADMIN_SWEEP_MAX 1000  /* administrators' login records looked at per login */

/* An administrator's login as acctd saw it: ROOT/run/acctd/SHA256(id), "DOMAIN\nCREATED\nDIGEST\n"
   (root only), DIGEST the SHA-256 of the administrator's hash in etc/webadmins at the login.
   The page's session file (web/sessions) is the web uid's to write, so it proves nothing here:
   a page program taken over could write one for any domain; this record is made only when
   acctd itself checked the administrator's password (do_admin_login), and it holds only while
   that password does: `mailacct domain admin D --reset` (a new password, or a new contact)
   ends it even should the page's session file outlive the reset. */
#define ACCTD_ADMIN_DIR SESSION_ADMIN_DIR
#define ACCTD_DIGEST_LEN DIGEST_HEX_LEN

static void admin_sweep(const char *dir, time_t now);
static int webadmin(const char *root, const char *domain, struct webadmin *w);

/* The SHA-256 of domain's administrator's hash into out[ACCTD_DIGEST_LEN + 1]: 1, 0 the domain
   has no administrator, -1 etc/webadmins unreadable. */
static int admin_digest(const char *root, const char *domain, char *out)
{
    struct webadmin w;
    int r = webadmin(root, domain, &w);
    if (r == 1) {
        digest_sha256_hex(w.hash, strlen(w.hash), out);
    }
    explicit_bzero(&w, sizeof w);
    return r;
}

/* 1 the record of id is of domain, younger than WEB_SESSION_MAX_SECONDS and of the password
   the administrator has now; 0 no such record; -2 the password was reset since. */
static int admin_record_ok(const char *root, const char *id, const char *domain, time_t now)
{
    char path[YUBIN_PATH_MAX], body[SMTP_DOMAIN_MAX + ACCTD_DIGEST_LEN + 40];
    char want[SMTP_DOMAIN_MAX + 2], digest[ACCTD_DIGEST_LEN + 1];
    ssize_t n;
    uint64_t created;
    const char *nl, *got;
    if (session_path_in(root, ACCTD_ADMIN_DIR, id, path, sizeof path) < 0
        || (n = fd_read_file(path, body, sizeof body - 1)) <= 0) {
        return 0;
    }
    body[n] = '\0';
    nl = strchr(body, '\n');
    if (!nl || str_fmt(want, sizeof want, "%s\n", domain) < 0
        || strncmp(body, want, strlen(want)) != 0
        || str_to_u64(nl + 1, strcspn(nl + 1, "\n"), &created) < 0
        || (time_t)created + WEB_SESSION_MAX_SECONDS < now) {
        return 0;
    }
    got = strchr(nl + 1, '\n');
    if (!got || strlen(got + 1) != ACCTD_DIGEST_LEN + 1 || got[1 + ACCTD_DIGEST_LEN] != '\n') {
        return 0;
    }
    if (admin_digest(root, domain, digest) != 1
        || !str_equal_ct(got + 1, digest, ACCTD_DIGEST_LEN)) {
        return -2;
    }
    return 1;
}

/* The administrator's session whose id is on fd 0: 1 (s filled: s->addr is the domain), 0 none.
   Live in the page's sessions and made by acctd's own check of the password. */
static int admin_session(const struct acctd *d, struct session *s)
{
    char id[WEB_TOKEN_LEN + 2];
    ssize_t n = fd_read_full(0, id, sizeof id);
    time_t now = time(NULL);
    int r;
    if (n < WEB_TOKEN_LEN || n > WEB_TOKEN_LEN + 1 || (n == WEB_TOKEN_LEN + 1
                                                       && id[WEB_TOKEN_LEN] != '\n')) {
        return 0;
    }
    id[WEB_TOKEN_LEN] = '\0';
    if (session_load(d->root, id, now, 0, s) != 1 || !s->admin) {
        return 0;
    }
    r = admin_record_ok(d->root, id, s->addr, now);
    if (r == -2) {
        log_warn("refused: an administrator session of %s from before its password was reset",
                 s->addr);
        return 0;
    }
    if (r != 1) {
        log_warn("refused: an administrator session of %s that acctd did not open", s->addr);
        return 0;
    }
    return 1;
}

/* "admin-login IP DOMAIN", the password on fd 0: acctd checks it with authd (service=admin,
   the client's IP for the throttle) and, when right, makes a session id, records the login
   (admin_record_ok) and answers the id, which the page makes its session with. */
int do_admin_login(const struct acctd *d, int argc, char **argv)
{
    char domain[SMTP_DOMAIN_MAX + 1], pw[AUTH_FIELD_MAX + 2], id[WEB_TOKEN_LEN + 2];
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], rec[SMTP_DOMAIN_MAX + ACCTD_DIGEST_LEN + 40];
    char digest[ACCTD_DIGEST_LEN + 1];
    ssize_t n;
    int r, fd;
    if (argc != 3 || (argv[1][0] && !str_ip_text_ok(argv[1]))
        || str_fmt(domain, sizeof domain, "%s", argv[2]) < 0) {
        log_warn("refused: malformed admin-login request");
        return EXIT_PERM;
    }
    str_lower(domain, strlen(domain));
    n = fd_read_full(0, pw, sizeof pw);
    if (!addr_map_domain_ok(domain, strlen(domain)) || n <= 0 || (size_t)n > AUTH_FIELD_MAX) {
        explicit_bzero(pw, sizeof pw);
        log_warn("refused: malformed admin-login request");
        return EXIT_PERM;
    }
    /* the password the record holds to is read before it is checked: a reset in between
       leaves a record of the old one, which opens nothing */
    r = admin_digest(d->root, domain, digest);
    if (r == 1) {
        r = authclient_check(d->root, "admin", argv[1], domain, strlen(domain), pw, (size_t)n,
                             ACCTD_AUTH_TIMEOUT);
    } else if (r < 0) {
        log_warn_sys("unable to read %s/etc/webadmins", d->root);
    }
    explicit_bzero(pw, sizeof pw);
    if (r != 1) {
        return r == 0 ? ACCTD_EXIT_BADAUTH : EXIT_TEMP;
    }
    if (cfg_path(dir, sizeof dir, d->root, ACCTD_ADMIN_DIR) < 0
        || (mkdir(dir, 0700) < 0 && errno != EEXIST) || session_token(id) < 0
        || session_path_in(d->root, ACCTD_ADMIN_DIR, id, path, sizeof path) < 0
        || str_fmt(rec, sizeof rec, "%s\n%lld\n%s\n", domain, (long long)time(NULL), digest) < 0) {
        log_warn_sys("unable to record an administrator's login");
        return EXIT_TEMP;
    }
    admin_sweep(dir, time(NULL));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fd_write_all(fd, rec, strlen(rec)) < 0 || close(fd) < 0) {
        log_warn_sys("unable to record an administrator's login");
        return EXIT_TEMP;
    }
    str_fmt(id + WEB_TOKEN_LEN, 2, "\n");
    return fd_write_all(1, id, WEB_TOKEN_LEN + 1) < 0 ? EXIT_TEMP : EXIT_DONE;
}

/* The records of administrators' logins past WEB_SESSION_MAX_SECONDS go (at most
   ACCTD_ADMIN_SWEEP_MAX looked at per login). */
static void admin_sweep(const char *dir, time_t now)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    size_t seen = 0;
    if (!dp) {
        return;
    }
    while ((e = readdir(dp)) != NULL && seen++ < ACCTD_ADMIN_SWEEP_MAX) {
        struct stat st;
        char path[YUBIN_PATH_MAX];
        if (e->d_name[0] == '.' || str_fmt(path, sizeof path, "%s/%s", dir, e->d_name) < 0
            || lstat(path, &st) < 0) {
            continue;
        }
        if (st.st_mtime + WEB_SESSION_MAX_SECONDS < now) {
            unlink(path);
        }
    }
    closedir(dp);
}

/* "list [FROM]": "TOTAL FROM\n", then the domain's addresses FROM.. (0-based, at most
   WEB_LIST_PAGE, in mailacct list's order) with their usage; a FROM past the end is the last
   page's. Only the page's addresses have their usage read. */
int do_list(const struct acctd *d, int argc, char **argv)
{
    struct session s;
    struct buf out, ans;
    size_t i = 0, total = 0, k = 0;
    uint64_t from = 0;
    int r;
    if (argc == 2 && str_to_u64(argv[1], strlen(argv[1]), &from) < 0) {
        log_warn("refused: malformed list request");
        return EXIT_PERM;
    }
    if (!admin_session(d, &s)) {
        log_warn("refused: list without an administrator session");
        return EXIT_PERM;
    }
    buf_init(&out, ACCTD_OUT_MAX);
    buf_init(&ans, WEB_LIST_PAGE * (ADDR_MAX + 128));
    {
        const char *args[] = { "list", s.addr, NULL };
        r = run_mailacct(d->root, args, NULL, &out);
    }
    for (i = 0; r == 0 && i < out.len; i++) {
        total += out.s[i] == '\n';
    }
    if (out.len > 0 && out.s[out.len - 1] != '\n') {
        total++;
    }
    if (from >= total) {
        from = total ? (total - 1) / WEB_LIST_PAGE * WEB_LIST_PAGE : 0;
    }
    if (r == 0 && buf_printf(&ans, "%zu %llu\n", total, (unsigned long long)from) < 0) {
        r = EXIT_TEMP;
    }
    i = 0;
    while (r == 0 && i < out.len && k < from + WEB_LIST_PAGE) {
        /* "ADDR QUOTA PLAN[ disabled]" */
        const char *line = out.s + i, *nl = memchr(line, '\n', out.len - i), *sp;
        size_t len = nl ? (size_t)(nl - line) : out.len - i;
        char addr[ADDR_MAX + 1];
        uint64_t used = 0, count = 0;
        i += len + 1;
        if (k++ < from) {
            continue;
        }
        sp = memchr(line, ' ', len);
        if (!sp || (size_t)(sp - line) > ADDR_MAX) {
            continue;
        }
        memcpy(addr, line, (size_t)(sp - line));
        addr[sp - line] = '\0';
        if (usage_read(d->root, addr, &used, &count) < 0) {
            used = count = 0;
        }
        if (buf_printf(&ans, "%.*s %llu %llu\n", (int)len, line, (unsigned long long)used,
                       (unsigned long long)count) < 0) {
            log_warn("the list of %s does not fit its answer", s.addr);
            r = EXIT_TEMP;
        }
    }
    if (r == 0) {
        r = answer(&ans);
    }
    buf_free(&out);
    buf_free(&ans);
    return r;
}

/* Each application file in ROOT/SUB (requests, requests/done; at most ACCTD_PENDING_MAX) of
   domain: fn(a). */
static void each_request(const char *root, const char *sub, const char *domain,
                         void (*fn)(const struct application *, void *), void *ctx)
{
    char dir[YUBIN_PATH_MAX], body[APPLY_RECORD_MAX + 1];
    struct application a;
    struct dirent *e;
    size_t seen = 0;
    DIR *dp;
    if (str_fmt(dir, sizeof dir, "%s/%s", root, sub) < 0 || !(dp = opendir(dir))) {
        return;
    }
    while ((e = readdir(dp)) && seen < ACCTD_PENDING_MAX) {
        char path[YUBIN_PATH_MAX];
        ssize_t n;
        if (!apply_id_ok(e->d_name) || str_fmt(path, sizeof path, "%s/%s", dir, e->d_name) < 0) {
            continue;
        }
        n = fd_read_file(path, body, sizeof body);
        if (n > 0 && apply_parse(body, (size_t)n, &a) == 1 && strcmp(a.domain, domain) == 0) {
            seen++;
            fn(&a, ctx);
        }
    }
    closedir(dp);
}

/* "pending [FROM]": the domain's applications for its administrator's page (web/applist.h),
   of a bounded size (APPLIST_ANSWER_MAX) however many there are; the records of decided
   applications past APPLY_DECIDED_DAYS go on the way. */
int do_pending(const struct acctd *d, int argc, char **argv)
{
    struct session s;
    struct buf ans;
    uint64_t from = 0;
    size_t pruned = 0;
    int r;
    if (argc == 2 && str_to_u64(argv[1], strlen(argv[1]), &from) < 0) {
        log_warn("refused: malformed pending request");
        return EXIT_PERM;
    }
    if (!admin_session(d, &s)) {
        log_warn("refused: pending without an administrator session");
        return EXIT_PERM;
    }
    buf_init(&ans, APPLIST_ANSWER_MAX);
    if (applist_pending(d->root, s.addr, time(NULL), from, &ans, &pruned) < 0) {
        log_warn_sys("unable to list the applications of %s", s.addr);
        r = EXIT_TEMP;
    } else {
        r = answer(&ans);
    }
    if (pruned) {
        log_info("removed %zu records of applications decided more than %d days ago from "
                 "requests/done", pruned, APPLY_DECIDED_DAYS);
    }
    buf_free(&ans);
    return r;
}

/* The applications waiting for a domain, and the one among them that is the same as a new
   one (same kind and target: a reloaded result page, a double click) */
struct waiting {
    enum apply_kind kind;
    const char *target;
    size_t n;
    char same[APPLY_ID_LEN + 1];
};

static void waiting_one(const struct application *a, void *ctx)
{
    struct waiting *w = ctx;
    w->n++;
    if (!a->state[0] && a->kind == w->kind && strcmp(a->target, w->target) == 0) {
        memcpy(w->same, a->id, sizeof w->same);
    }
}

/* 1 if plan is a line's first field in ROOT/etc/plans */
static int plan_known(const char *root, const char *plan)
{
    char path[YUBIN_PATH_MAX], text[16384];
    size_t i = 0, pl = strlen(plan);
    ssize_t n;
    if (pl == 0 || pl > PLAN_NAME_MAX || cfg_path(path, sizeof path, root, "etc/plans") < 0
        || (n = fd_read_file(path, text, sizeof text)) < 0) {
        return 0;
    }
    while (i < (size_t)n) {
        const char *nl = memchr(text + i, '\n', (size_t)n - i);
        size_t len = nl ? (size_t)(nl - text) - i : (size_t)n - i;
        if (len > pl && memcmp(text + i, plan, pl) == 0 && text[i + pl] == ':') {
            return 1;
        }
        i += len + 1;
    }
    return 0;
}

/* The domain's line in etc/webadmins: 1, 0 none, -1 error */
static int webadmin(const char *root, const char *domain, struct webadmin *w)
{
    char path[YUBIN_PATH_MAX];
    char *text = malloc(APPLY_ADMINS_MAX);
    ssize_t n;
    int r = -1;
    if (text && cfg_path(path, sizeof path, root, "etc/webadmins") == 0) {
        n = fd_read_file(path, text, APPLY_ADMINS_MAX);
        r = n < 0 ? (errno == ENOENT ? 0 : -1) : apply_admin_find(text, (size_t)n, domain, w);
    }
    free(text);
    return r;
}

/* Checks an application's target against the maps; NULL fine, else why not (for the log). */
static const char *check_target(const char *root, const char *domain, enum apply_kind k,
                                char *target)
{
    struct acct a;
    struct domain dm;
    size_t n = strlen(target);
    const char *at;
    int u;
    if (acct_domain(root, domain, &dm) != 1) {
        return "the domain is not hosted";
    }
    if (k == APPLY_PLAN) {
        return plan_known(root, target) ? (strcmp(target, dm.plan) == 0 ? "already that plan"
                                                                         : NULL)
                                        : "no such plan";
    }
    str_lower(target, n);
    at = strchr(target, '@');
    if (!addr_map_ok(target, n) || !at || strcmp(at + 1, domain) != 0) {
        return "not an address of the domain";
    }
    u = acct_user(root, target, &a);
    if (u < 0) {
        return "users.cdb unreadable";
    }
    if (k == APPLY_ADD) {
        char al[ADDR_MAX + 1];
        return u == 1 ? "the address exists"
               : acct_alias(root, target, al, sizeof al) == 1 ? "the address is an alias" : NULL;
    }
    if (u == 0) {
        return "no such address";
    }
    if (k == APPLY_ADDON && (dm.maxquota < 50ULL * 1024 * 1024 || a.quota == 0
                             || a.quota >= 50ULL * 1024 * 1024)) {
        return "the add-on does not apply (the quota is already 50 MB or more)";
    }
    return NULL;
}

/* ROOT/requests/ID, atomically and durably: tmp, fsync, rename, fsync of requests/. 0 filed;
   -1 not filed, and nothing of it left: a file renamed into place whose folder could not be
   made durable is unlinked again (as queue-inject unlinks mess/ID), since the page then says
   it was not taken and the administrator applies again. */
static int write_request(const char *root, const struct application *a)
{
    char dir[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX];
    struct buf b;
    int fd, rc = -1, e = 0;
    if (str_fmt(dir, sizeof dir, "%s/requests", root) < 0
        || str_fmt(tmp, sizeof tmp, "%s/.tmp-%s", dir, a->id) < 0
        || str_fmt(path, sizeof path, "%s/%s", dir, a->id) < 0) {
        return -1;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        return -1;
    }
    buf_init(&b, APPLY_RECORD_MAX);
    if (apply_format(a, &b) < 0) {
        buf_free(&b);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        buf_free(&b);
        return -1;
    }
    if (fd_write_all(fd, b.s, b.len) < 0 || fsync(fd) < 0) {
        e = errno;
        close(fd);
        unlink(tmp);
    } else if (close(fd) < 0 || rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
    } else if (fd_fsync_dir(dir) < 0) {
        e = errno;
        unlink(path);
        (void)fd_fsync_dir(dir);    /* the removal durable too, if the disk lets it be */
    } else {
        rc = 0;
    }
    buf_free(&b);
    if (rc < 0) {
        errno = e;
    }
    return rc;
}

/* A lock in requests/ (an flock on requests/.lock: the filing; requests/.auto.lock: the cap
   of auto-approved new addresses), held until the descriptor is closed or the request's
   process ends: fd, or -1. */
static int requests_lock(const char *root, const char *rel)
{
    char path[YUBIN_PATH_MAX];

    if (cfg_path(path, sizeof path, root, rel) < 0) {
        return -1;
    }
    return fd_open_locked(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600, LOCK_EX);
}

/* Whether auto-approval carries out the new address of a (filed) now: 1 while the domain's
   auto-approval added fewer than WEB_AUTO_ADD_MAX in the last 24 hours, with *lk the lock of the
   count, to be held until the approval is done (applications sent at once would all count the
   same, and all pass); 0 past the cap, or when it cannot be counted: the application waits for
   the operator like any other, and the log and log/audit say why. */
static int auto_add_ok(const struct acctd *d, const struct application *a, int *lk)
{
    char why[128];
    long n = -1;
    *lk = -1;
    if (d->auto_add_max == 0) {
        return 1;
    }
    *lk = requests_lock(d->root, "requests/.auto.lock");
    if (*lk < 0) {
        log_warn_sys("unable to lock %s/requests/.auto.lock", d->root);
    } else if ((n = applist_auto_added(d->root, a->domain, time(NULL),
                                       (size_t)d->auto_add_max)) < 0) {
        log_warn_sys("unable to read %s/requests/done", d->root);
    }
    if (n >= 0 && (unsigned long)n < d->auto_add_max) {
        return 1;
    }
    if (n >= 0) {
        log_warn("application %s (add %s): domain %s has had %ld new addresses carried out by "
                 "auto-approval in 24 hours, its cap (WEB_AUTO_ADD_MAX=%lu): the application "
                 "waits for the operator (mailacct requests)", a->id, a->target, a->domain, n,
                 d->auto_add_max);
        (void)str_fmt(why, sizeof why, "auto-approval cap: %ld new addresses in 24 hours "
                      "(WEB_AUTO_ADD_MAX)", n);
    } else {
        log_warn("application %s (add %s): what domain %s's auto-approval added cannot be "
                 "counted: the application waits for the operator (mailacct requests)", a->id,
                 a->target, a->domain);
        (void)str_fmt(why, sizeof why, "auto-approval cap: not counted");
    }
    if (apply_audit(d->root, "held", a, "auto", "-", why) < 0) {
        log_warn_sys("unable to write %s/log/audit", d->root);
    }
    if (*lk >= 0) {
        close(*lk);
        *lk = -1;
    }
    return 0;
}

int do_apply(const struct acctd *d, int argc, char **argv)
{
    char hpath[YUBIN_PATH_MAX], hol[APPLY_HOLIDAYS_MAX], head[APPLY_ID_LEN + 32];
    struct application a;
    struct webadmin w;
    struct session s;
    struct tm lt;
    const char *why;
    time_t now = time(NULL);
    ssize_t hn;
    int k, r, lk, alk = -1;
    if (argc != 4 || (argv[1][0] && !str_ip_text_ok(argv[1]))
        || (k = apply_kind_of(argv[2])) < 0) {
        log_warn("refused: malformed apply request");
        return EXIT_PERM;
    }
    if (!admin_session(d, &s)) {
        log_warn("refused: apply without an administrator session ip=%s", argv[1]);
        return EXIT_PERM;
    }
    memset(&a, 0, sizeof a);
    if (str_fmt(a.target, sizeof a.target, "%s", argv[3]) < 0) {
        return EXIT_PERM;
    }
    why = check_target(d->root, s.addr, (enum apply_kind)k, a.target);
    if (why) {
        log_info("refused: application %s %s of domain %s: %s ip=%s", argv[2], a.target,
                 s.addr, why, argv[1]);
        memcpy(a.domain, s.addr, strlen(s.addr) + 1);
        a.kind = (enum apply_kind)k;
        str_fmt(a.id, sizeof a.id, "-");
        str_fmt(a.due, sizeof a.due, "-");
        str_fmt(a.by, sizeof a.by, "admin:%s", s.addr);
        if (apply_audit(d->root, "refused", &a, a.by, argv[1], why) < 0) {
            log_warn_sys("unable to write %s/log/audit", d->root);
        }
        return EXIT_PERM;
    }
    /* from the search for the same application to its file: one at a time, or a form sent
       twice at once (a double click) is filed twice */
    lk = requests_lock(d->root, "requests/.lock");
    if (lk < 0) {
        log_warn_sys("unable to lock %s/requests/.lock", d->root);
        return EXIT_TEMP;
    }
    {
        struct waiting wt = { (enum apply_kind)k, a.target, 0, "" };
        each_request(d->root, "requests", s.addr, waiting_one, &wt);
        if (wt.same[0]) {
            char ans[APPLY_ID_LEN + 16];
            log_info("refused: application %s %s of domain %s: the same application %s is "
                     "waiting ip=%s", argv[2], a.target, s.addr, wt.same, argv[1]);
            snprintf(ans, sizeof ans, "waiting %s\n", wt.same);
            (void)fd_write_all(1, ans, strlen(ans));
            return EXIT_PERM;
        }
        if (wt.n >= APPLY_WAITING_MAX) {
            log_warn("refused: domain %s has %zu applications waiting ip=%s", s.addr, wt.n,
                     argv[1]);
            (void)fd_write_all(1, "limit\n", 6);    /* the page says to wait for them */
            return EXIT_PERM;
        }
    }
    /* the session was opened with this line's password: gone since (the operator took the
       login away, or the file is being replaced), it is nothing the administrator can mend */
    r = webadmin(d->root, s.addr, &w);
    if (r != 1) {
        log_warn("refused: domain %s has no administrator in etc/webadmins", s.addr);
        return EXIT_TEMP;
    }
    hn = cfg_path(hpath, sizeof hpath, d->root, "etc/holidays") == 0
         ? fd_read_file(hpath, hol, sizeof hol) : -1;
    if (hn < 0) {
        if (errno != ENOENT) {
            log_warn_sys("unable to read %s", hpath);
        }
        hn = 0;
    }
    if (apply_id(now, a.id) < 0 || !localtime_r(&now, &lt)
        || apply_due(&lt, hol, (size_t)hn, a.due) < 0) {
        return EXIT_TEMP;
    }
    memcpy(a.domain, s.addr, strlen(s.addr) + 1);
    a.kind = (enum apply_kind)k;
    str_fmt(a.by, sizeof a.by, "admin:%s", s.addr);
    str_fmt(a.ip, sizeof a.ip, "%s", argv[1]);
    a.time = (long long)now;
    if (write_request(d->root, &a) < 0) {
        log_warn_sys("unable to write %s/requests/%s", d->root, a.id);
        return EXIT_TEMP;
    }
    close(lk);
    if (apply_audit(d->root, "apply", &a, a.by, a.ip, NULL) < 0) {
        log_warn_sys("unable to write %s/log/audit", d->root);
    }
    log_info("application %s: %s %s of domain %s due %s ip=%s", a.id, argv[2], a.target,
             a.domain, a.due, a.ip);
    snprintf(head, sizeof head, "%s %s\n", a.id, a.due);
    if (fd_write_all(1, head, strlen(head)) < 0) {
        return EXIT_TEMP;
    }
    if (w.auto_approve && (k != APPLY_ADD || auto_add_ok(d, &a, &alk))) {
        struct buf out;
        const char *args[] = { "approve", a.id, "--by", "auto", NULL };
        buf_init(&out, ACCTD_OUT_MAX);
        r = run_mailacct(d->root, args, NULL, &out);
        if (r == 0) {
            /* done: what is answered now must fit the page that shows it, or the sheet with
               its password, shown this once, would be lost with the page */
            int sheet = (k == APPLY_ADD || k == APPLY_RESET) && out.len <= ACCTD_SHEET_MAX;
            if ((k == APPLY_ADD || k == APPLY_RESET) && !sheet) {
                log_warn("application %s: mailacct approve printed %zu octets, more than a "
                         "sheet (%d): the page shows it done, the sheet goes by mail only", a.id,
                         out.len, ACCTD_SHEET_MAX);
            }
            if (fd_write_all(1, "approved\n", 9) < 0 || (sheet && answer(&out) != 0)) {
                r = EXIT_TEMP;
            }
        } else {
            /* filed all the same: the page says so (with its date), and the operator's
               approval finishes it (an add or reset stopped midway is carried on) */
            log_warn("mailacct approve %s exited %d; the application waits for the operator "
                     "(mailacct requests)", a.id, r);
            r = EXIT_DONE;
        }
        buf_wipe(&out);
        buf_free(&out);
        if (alk >= 0) {
            close(alk);     /* the approval is in requests/done/: the next one counts it */
        }
        return r;
    }
    return EXIT_DONE;
}

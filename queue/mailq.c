/* mailq: the operator's queue tool (list, flush, retry, delete, hold); run as root or yubin-q */
/*
   mailq [--root DIR] [list]            every message: id, age, size, sender, recipients;
                                        the destinations queue-run found down (queue/down)
   mailq [--root DIR] down              the destinations down alone, as the listing ends (for
                                        yubin-check); exit 111 when queue/down cannot be read
   mailq [--root DIR] flush             ask queue-run to retry every message now (and each
                                        destination down: one job first)
   mailq [--root DIR] retry ID          ... one message now (and each destination down of
                                        its recipients: that message tries it first)
   mailq [--root DIR] delete ID [--silent]   fail every pending recipient ("deleted by the
                                        operator"); --silent: and send no bounce
   mailq [--root DIR] hold ID           park the message (queue-run leaves it alone)
   mailq [--root DIR] release ID        give it back to queue-run
   When run as root it becomes yubin-q (if that user exists) before touching the queue.
   Exit 0 done, 100 bad usage or unknown id, 111 system error.
*/
#include "audit.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "limits.h"
#include "log.h"
#include "queue/qbackoff.h"
#include "queue/qdown.h"
#include "queue/qfile.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAILQ_USER       "yubin-q"
#define MAILQ_IDS_MAX    1000000   /* messages listed (ours) */
#define MAILQ_ERROR_SHOW 300       /* octets of a recipient's last error shown */

struct opts {
    const char *root;
    char rootbuf[YUBIN_PATH_MAX];
    const char *cmd;
    const char *id;
    int silent;
    int audit;                  /* ROOT/log/audit, opened before root is given up; -1 none */
    int audit_errno;            /* why it could not be opened */
    char who[AUDIT_WHO_MAX + 1], ip[AUDIT_IP_MAX + 1];
};

/* The destinations queue-run found down (queue/down), sorted by domain, and queue-run's
   retry schedule (QUEUE_BACKOFF), which says when a recipient that waits for one of them is
   due itself. */
struct downs {
    struct qdown *d;
    size_t n;
    struct qbackoff backoff;
    time_t flushed;         /* the last mailq flush (queue/flushed), 0: none */
};

/* The last line's text of each recipient, for the listing, and whether it said that no
   server of its destination answered (qdown_no_server; read whole, before the cut). */
struct last_text {
    size_t nrcpt;
    char (*text)[MAILQ_ERROR_SHOW + 1];
    unsigned char *no_server;
};

static void usage(void)
{
    die(EXIT_PERM, "usage: mailq [--root DIR] [list | down | flush | retry ID | delete ID "
        "[--silent] | hold ID | release ID]");
}

static int is_command(const char *s)
{
    static const char *const cmds[] = {"list", "down", "flush", "retry", "delete", "hold",
                                        "release"};
    size_t i;
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(s, cmds[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    int i, words = 0;

    memset(o, 0, sizeof *o);
    o->cmd = "list";
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            o->root = argv[++i];
        } else if (strcmp(argv[i], "--silent") == 0) {
            o->silent = 1;
        } else if (argv[i][0] == '-') {
            usage();
        } else if (words == 0 && is_command(argv[i])) {
            o->cmd = argv[i];
            words++;
        } else if (words == 1 && !o->id) {
            o->id = argv[i];
            words++;
        } else {
            usage();
        }
    }
    cfg_root_need(o->rootbuf, sizeof o->rootbuf, o->root);
    o->root = o->rootbuf;
    if ((strcmp(o->cmd, "list") == 0 || strcmp(o->cmd, "down") == 0
         || strcmp(o->cmd, "flush") == 0) != !o->id) {
        usage();
    }
    if (o->silent && strcmp(o->cmd, "delete") != 0) {
        usage();
    }
}

/* Root becomes the queue user: the queue's files stay owned by yubin-q. */
static void drop_root(void)
{
    struct passwd *pw;

    if (geteuid() != 0) {
        return;
    }
    pw = getpwnam(MAILQ_USER);
    if (!pw) {
        return;   /* a tree run without uid separation: everything is root's */
    }
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        die_sys(EXIT_TEMP, "unable to become %s", MAILQ_USER);
    }
    if (setuid(0) == 0) {
        die(EXIT_TEMP, "unable to drop root privileges");
    }
}

static void path(char *out, const struct opts *o, const char *dir, const char *id)
{
    if (qfile_path(out, YUBIN_PATH_MAX, o->root, dir, id) < 0) {
        die(EXIT_PERM, "mail root path too long");
    }
}

/* ---- listing ---- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* IDs in dir (sorted: an ID starts with the arrival time). */
static char (*list_dir(const struct opts *o, const char *dir, size_t *n))[QID_BUF]
{
    char p[YUBIN_PATH_MAX];
    char (*ids)[QID_BUF] = NULL;
    size_t cap = 0;
    struct dirent *d;
    DIR *dh;

    *n = 0;
    path(p, o, dir, NULL);
    dh = opendir(p);
    if (!dh) {
        if (errno == ENOENT) {
            return NULL;
        }
        die_sys(errno == EACCES ? EXIT_PERM : EXIT_TEMP, "unable to read %s (run me as root "
                "or %s)", p, MAILQ_USER);
    }
    while ((d = readdir(dh)) != NULL) {
        if (!qid_ok(d->d_name)) {
            continue;
        }
        if (*n == cap) {
            void *q;
            if (cap >= MAILQ_IDS_MAX) {
                break;
            }
            cap = cap ? cap * 2 : 64;
            q = realloc(ids, cap * sizeof *ids);
            if (!q) {
                die(EXIT_TEMP, "out of memory");
            }
            ids = q;
        }
        memcpy(ids[(*n)++], d->d_name, QID_BUF);
    }
    closedir(dh);
    if (*n) {
        qsort(ids, *n, sizeof *ids, cmp_id);
    }
    return ids;
}

static int keep_text(void *ctx, const struct qline *l)
{
    struct last_text *t = ctx;
    size_t n;

    if (l->kind != QL_RCPT || l->index >= t->nrcpt) {
        return 0;
    }
    n = l->text_len < MAILQ_ERROR_SHOW ? l->text_len : MAILQ_ERROR_SHOW;
    memcpy(t->text[l->index], l->text, n);
    t->text[l->index][n] = '\0';
    t->no_server[l->index] = (unsigned char)qdown_no_server(l->text, l->text_len);
    return 0;
}

static void age(time_t secs, char *out, size_t cap)
{
    if (secs < 0) {
        secs = 0;
    }
    if (secs >= 86400) {
        snprintf(out, cap, "%ldd%02ldh", (long)(secs / 86400), (long)(secs % 86400 / 3600));
    } else if (secs >= 3600) {
        snprintf(out, cap, "%ldh%02ldm", (long)(secs / 3600), (long)(secs % 3600 / 60));
    } else if (secs >= 60) {
        snprintf(out, cap, "%ldm%02lds", (long)(secs / 60), (long)(secs % 60));
    } else {
        snprintf(out, cap, "%lds", (long)secs);
    }
}

static const char *state_name(unsigned status)
{
    switch (status) {
    case QS_DONE:
        return "delivered";
    case QS_FAILED:
        return "failed";
    case QS_DEFERRED:
        return "deferred";
    default:
        return "pending";
    }
}

/* By domain, without regard to case (qdown_find): the mark of user@Example.COM is example.com's */
static int cmp_down(const void *a, const void *b)
{
    return strcasecmp(((const struct qdown *)a)->domain, ((const struct qdown *)b)->domain);
}

/* The marks of queue/down (none when it is missing). 0 ok; -1 when it cannot be read (said on
   stderr; none then). */
static int load_downs(const struct opts *o, time_t now, struct downs *dn)
{
    char b[256];
    size_t k;
    int before, rc = 0;
    qbackoff_parse(&dn->backoff, cfg_setting(o->root, "QUEUE_BACKOFF", b, sizeof b));
    dn->n = 0;
    dn->d = malloc(QUEUE_DOWN_MAX * sizeof *dn->d);
    if (!dn->d) {
        die(EXIT_TEMP, "out of memory");
    }
    if (qdown_load(o->root, now, dn->d, &dn->n) < 0) {
        log_warn_sys("unable to read %s/queue/%s: the destinations down are not shown", o->root,
                     QFILE_DOWN);
        rc = -1;
    }
    /* marks written before the last flush: queue-run makes their next try now (at the flush,
       or at its start if it was away), and writes them again */
    dn->flushed = qflush_time(o->root, now, &before);
    for (k = 0; before && k < dn->n; k++) {
        if (dn->d[k].until > dn->flushed) {
            dn->d[k].until = dn->flushed;
        }
    }
    if (dn->n > 1) {
        qsort(dn->d, dn->n, sizeof *dn->d, cmp_down);
    }
    return rc;
}

/* The mark of the destination of rcpt, or NULL. */
static const struct qdown *down_of(const struct downs *dn, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    struct qdown key;
    if (!at || dn->n == 0 || str_fmt(key.domain, sizeof key.domain, "%s", at + 1) < 0) {
        return NULL;
    }
    return bsearch(&key, dn->d, dn->n, sizeof *dn->d, cmp_down);
}

/* "in 1m58s", or "now" once its time has come (queue-run's try is due or running). */
static void next_try(time_t until, time_t now, char *out, size_t cap)
{
    char a[32];
    if (until <= now) {
        snprintf(out, cap, "now");
        return;
    }
    age(until - now, a, sizeof a);
    snprintf(out, cap, "in %s", a);
}

/* One message; returns 1 listed, 0 gone meanwhile. An open recipient of a destination that is
   down says that it waits for the destination's next try (queue-run holds it until then), or
   for its own when that is later; not in a held message: it waits for the operator. */
static int show(const struct opts *o, const char *dir, const char *id, time_t now,
                const struct downs *dn, size_t *pending)
{
    char p[YUBIN_PATH_MAX], sp[YUBIN_PATH_MAX], a[32];
    struct qenv e;
    struct qstate s;
    struct last_text t;
    struct stat st;
    off_t body;
    size_t i;
    int fd;

    path(p, o, dir, id);
    path(sp, o, QDIR_STATE, id);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;   /* delivered while we looked */
        }
        die_sys(EXIT_TEMP, "unable to open %s", p);
    }
    qenv_init(&e);
    if (fstat(fd, &st) < 0 || qfile_read_header(fd, &e, &body) < 0) {
        printf("%s  (unreadable: %s)\n", id, strerror(errno));
        close(fd);
        qenv_free(&e);
        return 1;
    }
    close(fd);
    t.nrcpt = e.nrcpt;
    t.text = calloc(e.nrcpt ? e.nrcpt : 1, sizeof *t.text);
    t.no_server = calloc(e.nrcpt ? e.nrcpt : 1, 1);
    if (!t.text || !t.no_server || qstate_load(sp, e.nrcpt, &s) < 0 ||
        qstate_replay(sp, e.nrcpt, keep_text, &t, NULL) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s", sp);
    }
    age(now - e.arrival, a, sizeof a);
    printf("%s  %-6s  %10lld  <%s>%s\n", id, a, (long long)(st.st_size - body), e.sender,
           strcmp(dir, QDIR_HOLD) == 0 ? "  held" : "");
    for (i = 0; i < e.nrcpt; i++) {
        const struct qrcpt_state *r = &s.r[i];
        int open_ = r->status == QS_PENDING || r->status == QS_DEFERRED;
        const struct qdown *down = open_ && strcmp(dir, QDIR_MESS) == 0
                                   ? down_of(dn, e.rcpt[i]) : NULL;
        printf("    %-9s  <%s>", state_name(r->status), e.rcpt[i]);
        if (r->status == QS_DEFERRED) {
            printf("  tries=%u", r->tries);
        }
        if (down) {
            /* queue-run looks at the mark once the recipient's own next try has come; a
               recipient last tried before the last flush has none (sched.h msg flushed) */
            time_t own = r->status == QS_DEFERRED && r->last > dn->flushed
                         ? r->last + qbackoff_step(&dn->backoff, r->tries) : 0;
            char when[40];
            if (own > down->until && own > now && !t.no_server[i]) {
                /* deferred for its own reason (a server's 4xx, ...) until after the mark's try:
                   that wait, not the destination, holds it (as long if a server answers) */
                next_try(own, now, when, sizeof when);
                printf("  waits for its own next try %s (its destination is down too)", when);
            } else {
                next_try(down->until, now, when, sizeof when);
                printf("  destination down: waits for its next try %s", when);
            }
        }
        if (r->status != QS_DONE && t.text[i][0]) {
            printf("  %s", t.text[i]);
        }
        printf("\n");
        if (open_) {
            (*pending)++;
        }
    }
    free(t.text);
    free(t.no_server);
    qstate_free(&s);
    qenv_free(&e);
    return 1;
}

/* The destinations down: a line each, before the summary (what `mailq | tail` shows). */
static void show_downs(const struct downs *dn, time_t now)
{
    size_t k;
    if (dn->n == 0) {
        return;
    }
    printf("destinations down (no server answered; their mail waits for the next try, "
           "mailq flush tries them now):\n");
    for (k = 0; k < dn->n; k++) {
        const struct qdown *d = &dn->d[k];
        char since[32], when[40];
        age(now - d->since, since, sizeof since);
        next_try(d->until, now, when, sizeof when);
        printf("    %s  down for %s  rounds=%u  next try %s  %s\n", d->domain, since, d->rounds,
               when, d->why);
    }
}

static int list(const struct opts *o)
{
    size_t nm, nh, i, shown = 0, held = 0, pending = 0;
    char (*mess)[QID_BUF] = list_dir(o, QDIR_MESS, &nm);
    char (*hold)[QID_BUF] = list_dir(o, QDIR_HOLD, &nh);
    time_t now = time(NULL);
    struct downs dn;

    (void)load_downs(o, now, &dn);     /* the messages are listed all the same */
    for (i = 0; i < nm; i++) {
        shown += (size_t)show(o, QDIR_MESS, mess[i], now, &dn, &pending);
    }
    for (i = 0; i < nh; i++) {
        int k = show(o, QDIR_HOLD, hold[i], now, &dn, &pending);
        shown += (size_t)k;
        held += (size_t)k;
    }
    show_downs(&dn, now);
    printf("-- %zu message%s (%zu held), %zu recipient%s not yet delivered", shown,
           shown == 1 ? "" : "s", held, pending, pending == 1 ? "" : "s");
    if (dn.n) {
        printf(", %zu destination%s down", dn.n, dn.n == 1 ? "" : "s");
    }
    printf("\n");
    free(mess);
    free(hold);
    free(dn.d);
    return EXIT_DONE;
}

/* mailq down: the section of the listing alone, without reading the messages (a large queue
   takes long to list): what yubin-check warns of. */
static int list_downs(const struct opts *o)
{
    struct downs dn;
    time_t now = time(NULL);
    int rc = load_downs(o, now, &dn);
    show_downs(&dn, now);
    free(dn.d);
    return rc < 0 ? EXIT_TEMP : EXIT_DONE;
}

/* ---- actions ---- */

/* Where the message is: QDIR_MESS or QDIR_HOLD; dies for an unknown id. */
static const char *locate(const struct opts *o)
{
    char p[YUBIN_PATH_MAX];

    if (!qid_ok(o->id)) {
        die(EXIT_PERM, "%s is not a queue id (16 lower-case hex digits, as mailq lists them)",
            o->id);
    }
    path(p, o, QDIR_MESS, o->id);
    if (access(p, F_OK) == 0) {
        return QDIR_MESS;
    }
    path(p, o, QDIR_HOLD, o->id);
    if (access(p, F_OK) == 0) {
        return QDIR_HOLD;
    }
    if (errno != ENOENT) {
        die_sys(EXIT_TEMP, "unable to look for %s", p);
    }
    die(EXIT_PERM, "no message %s in the queue (delivered or deleted already? see mailq)",
        o->id);
}

static void trigger(const struct opts *o, const char *msg)
{
    if (qtrigger_send(o->root, msg, strlen(msg)) < 0) {
        die_sys(EXIT_TEMP, "unable to write to queue/trigger");
    }
}

/* R<ID>: queue-run reads the message again and makes it due (delete, release); F<ID> (retry):
   and each destination down of its recipients is tried now, as a flush does for all. */
static void retry_one(const struct opts *o, char letter)
{
    char msg[QID_BUF + 3];
    str_fmt(msg, sizeof msg, "%c%s\n", letter, o->id);
    trigger(o, msg);
}

static void move(const struct opts *o, const char *from, const char *to)
{
    char a[YUBIN_PATH_MAX], b[YUBIN_PATH_MAX];

    path(a, o, from, o->id);
    path(b, o, to, o->id);
    if (rename(a, b) < 0) {
        die_sys(errno == ENOENT ? EXIT_PERM : EXIT_TEMP, "unable to move %s to %s", a, b);
    }
    path(b, o, to, NULL);
    if (fd_fsync_dir(b) < 0) {
        die_sys(EXIT_TEMP, "unable to sync %s", b);
    }
}

static int open_state(const struct opts *o)
{
    char p[YUBIN_PATH_MAX];
    int fd;

    path(p, o, QDIR_STATE, o->id);
    fd = qstate_open(p);
    if (fd < 0) {
        die_sys(EXIT_TEMP, "unable to open %s", p);
    }
    return fd;
}

static void append(int fd, enum qline_kind kind, size_t index, const char *text)
{
    struct qline l;

    memset(&l, 0, sizeof l);
    l.kind = kind;
    l.index = index;
    l.status = 'F';
    l.when = time(NULL);
    l.text = text;
    l.text_len = text ? strlen(text) : 0;
    if (qstate_append(fd, &l) < 0) {
        die_sys(EXIT_TEMP, "unable to write the state file");
    }
}

/* Of the recipients delete_msg marked (pending or deferred in before), how many state/ID now
   reads delivered: a delivery whose D line came between mailq's reading and its F lines (a D
   line is final, docs/queue.md "State log"). Only for what mailq tells: the lines are
   written, so a file it cannot read again counts none. */
static size_t delivered_meanwhile(const char *sp, const struct qstate *before)
{
    struct qstate now;
    size_t i, k = 0;

    if (qstate_load(sp, before->nrcpt, &now) < 0) {
        return 0;
    }
    for (i = 0; i < before->nrcpt; i++) {
        unsigned char b = before->r[i].status;
        if ((b == QS_PENDING || b == QS_DEFERRED) && now.r[i].status == QS_DONE) {
            k++;
        }
    }
    qstate_free(&now);
    return k;
}

/* The audit line of a change (lib/audit.h): "event=CMD [id=ID] [EXTRA] by=WHO ip=IP". A
   line that cannot be written is a warning: the change is made. */
static void audit(const struct opts *o, const char *extra)
{
    char line[AUDIT_LINE_MAX];

    (void)str_fmt(line, sizeof line, "event=%s%s%s%s%s by=%s ip=%s", o->cmd, o->id ? " id=" : "",
                  o->id ? o->id : "", extra ? " " : "", extra ? extra : "", o->who, o->ip);
    if (o->audit < 0 || audit_write(o->audit, line) < 0) {
        errno = o->audit < 0 ? o->audit_errno : errno;
        log_warn_sys("unable to write %s/log/audit: the change is made, but not in the audit "
                     "log", o->root);
    }
}

static int delete_msg(const struct opts *o)
{
    const char *dir = locate(o);
    char p[YUBIN_PATH_MAX], sp[YUBIN_PATH_MAX], extra[96];
    struct qenv e;
    struct qstate s;
    off_t body;
    size_t i, n = 0, done;
    int fd, silent;

    path(p, o, dir, o->id);
    path(sp, o, QDIR_STATE, o->id);
    qenv_init(&e);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || qfile_read_header(fd, &e, &body) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s", p);
    }
    close(fd);
    if (qstate_load(sp, e.nrcpt, &s) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s", sp);
    }
    /* A bounce (sender <>) the operator deletes is not bounced to etc/admin, the operator's
       own address, as queue-run would a failed one; a double bounce never is */
    silent = o->silent || e.sender[0] == '\0' || strcmp(e.sender, QFILE_DOUBLE_BOUNCE) == 0;
    fd = open_state(o);
    for (i = 0; i < e.nrcpt; i++) {
        if (s.r[i].status == QS_PENDING || s.r[i].status == QS_DEFERRED) {
            append(fd, QL_RCPT, i, QUEUE_DELETED);
            n++;
        }
    }
    if (silent) {
        append(fd, QL_BOUNCE, 0, NULL);   /* the bounce is "made": none will be sent */
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        die_sys(EXIT_TEMP, "unable to write %s", sp);
    }
    done = delivered_meanwhile(sp, &s);
    n -= done;
    if (strcmp(dir, QDIR_HOLD) == 0) {
        move(o, QDIR_HOLD, QDIR_MESS);   /* queue-run removes it on its next look */
    }
    retry_one(o, 'R');
    log_info("deleted id=%s recipients=%zu delivered=%zu bounce=%s by=operator", o->id, n,
             done, silent || !n ? "no" : "yes");
    (void)str_fmt(extra, sizeof extra, "recipients=%zu delivered=%zu bounce=%s", n, done,
                  silent || !n ? "no" : "yes");
    audit(o, extra);
    printf("%s: %zu recipient%s marked failed (deleted by the operator); ", o->id, n,
           n == 1 ? "" : "s");
    if (done) {
        printf("%zu delivered meanwhile (not bounced); ", done);
    }
    printf("%s\n", o->silent || !n ? "no bounce will be sent"
           : silent ? "no bounce (the message is a bounce itself)" : "the sender gets a bounce");
    qstate_free(&s);
    qenv_free(&e);
    return EXIT_DONE;
}

static int hold_msg(const struct opts *o)
{
    int fd;

    if (strcmp(locate(o), QDIR_HOLD) == 0) {
        die(EXIT_PERM, "%s is already held (mailq release %s gives it back)", o->id, o->id);
    }
    move(o, QDIR_MESS, QDIR_HOLD);
    fd = open_state(o);
    append(fd, QL_HELD, 0, NULL);
    close(fd);
    log_info("held id=%s by=operator", o->id);
    audit(o, NULL);
    printf("%s: held; queue-run leaves it alone until mailq release %s\n", o->id, o->id);
    return EXIT_DONE;
}

static int release_msg(const struct opts *o)
{
    if (strcmp(locate(o), QDIR_MESS) == 0) {
        die(EXIT_PERM, "%s is not held", o->id);
    }
    move(o, QDIR_HOLD, QDIR_MESS);
    retry_one(o, 'R');
    log_info("released id=%s by=operator", o->id);
    audit(o, NULL);
    printf("%s: released; queue-run retries it now\n", o->id);
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    struct opts o;

    log_init("mailq");
    parse_args(argc, argv, &o);
    o.audit = -1;
    if (strcmp(o.cmd, "list") != 0 && strcmp(o.cmd, "down") != 0) {    /* changes only */
        audit_operator(o.who, sizeof o.who, o.ip, sizeof o.ip);
        o.audit = audit_open(o.root);   /* as root: the log is root's */
        o.audit_errno = errno;
    }
    drop_root();
    if (strcmp(o.cmd, "list") == 0) {
        return list(&o);
    }
    if (strcmp(o.cmd, "down") == 0) {
        return list_downs(&o);
    }
    if (strcmp(o.cmd, "flush") == 0) {
        /* recorded first, so that the listing and a queue-run that starts later know it */
        if (qflush_mark(o.root) < 0) {
            log_warn_sys("unable to write %s/queue/%s: the flush is not kept across a restart "
                         "of queue-run", o.root, QFILE_FLUSHED);
        }
        trigger(&o, "F\n");
        audit(&o, NULL);
        printf("queue-run asked to retry every message now\n");
        return EXIT_DONE;
    }
    if (strcmp(o.cmd, "retry") == 0) {
        if (strcmp(locate(&o), QDIR_HOLD) == 0) {
            die(EXIT_PERM, "%s is held: mailq release %s first", o.id, o.id);
        }
        retry_one(&o, 'F');
        audit(&o, NULL);
        printf("%s: queue-run asked to retry it now\n", o.id);
        return EXIT_DONE;
    }
    if (strcmp(o.cmd, "delete") == 0) {
        return delete_msg(&o);
    }
    if (strcmp(o.cmd, "hold") == 0) {
        return hold_msg(&o);
    }
    return release_msg(&o);
}

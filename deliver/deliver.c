/* deliver: stores one message in a Maildir (loop check, quota); runs as yubin-mbox (ipcfd) */
#include "acct.h"
#include "buf.h"
#include "cfg.h"
#include "date.h"
#include "exitcode.h"
#include "fd.h"
#include "fleethome.h"
#include "ipcserve.h"
#include "limits.h"
#include "log.h"
#include "maildir.h"
#include "msghdr.h"
#include "queue/qfile.h"
#include "quota/quota.h"
#include "str.h"
#include "usage.h"
#include "warnmsg.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: deliver SENDER RECIPIENT, message on fd 0 (LF line ends, file or pipe), one line of
 * reason text ending in "(#X.Y.Z)" on fd 1, log on fd 2.
 * Exit: 0 delivered; 100 permanent (no such mailbox, disabled, loop, over quota, bad usage);
 * 111 temporary (any failed system call, maps unreadable, run as root).
 */

#define DELIVER_TIMEOUT   86400     /* SPECS.md §5.2: 24 h, then a temporary failure */
#define DELIVER_CHUNK     65536     /* bytes copied per read() */
#define UNIQUE_MAX        256       /* a Maildir unique name (host part escaped) */
#define UNIQUE_TRIES      3         /* SPECS.md §5.2: on EEXIST sleep 2 s and retry */
#define WARNED_MARKER     ".quota-warned"
#define DELIVER_CONN_MAX  64        /* deliveries at once behind run/deliver.sock */
#define DELIVER_PROCESS_USES 100    /* deliveries one child of the loop makes, then ends */

/* One file being written into tmp/ and moved into new/. */
struct mdfile {
    int fd;                         /* -1 when closed */
    char unique[UNIQUE_MAX];
    char tmp[YUBIN_PATH_MAX];       /* "" when there is nothing to clean up */
    char final[YUBIN_PATH_MAX];     /* new/UNIQUE,S=SIZE once committed */
    uint64_t size;
    const char *what;               /* the step that failed, for the log */
};

struct deliver {
    const char *root;
    const char *sender;
    struct acct acct;
    char maildir[YUBIN_PATH_MAX];
    char host[UNIQUE_MAX / 2];      /* this host's name, escaped for unique names */
    char me[SMTP_DOMAIN_MAX + 1];
    struct msghdr hdr;
    struct mdfile msg;
    uint64_t bytes, count;          /* usage before the delivery */
    int qlock;                      /* quota_lock's descriptor while held, else -1 */
    char idkv[QUEUE_ID_LEN + 5];    /* "id=QUEUEID " from queue-run's 3rd argument, or "" */
};

/* Remove a file that will not be delivered (SPECS.md §5.2 step 5). */
static void maildrop_abort(struct mdfile *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->tmp[0]) {
        unlink(f->tmp);
        f->tmp[0] = '\0';
    }
}

/* One line for the caller on fd 1. */
static void reply(struct deliver *d, const char *text)
{
    char line[SMTP_REPLY_MAX];
    int n;
    maildrop_abort(&d->msg);
    n = snprintf(line, sizeof line, "%s\n", text);
    if (n > 0 && (size_t)n < sizeof line) {
        fd_write_all(1, line, (size_t)n);
    }
}

/* The line, then exit: every way out but a delivery made. */
static void reply_exit(struct deliver *d, int code, const char *text)
{
    reply(d, text);
    _exit(code);
}

static void refuse(struct deliver *d, int code, const char *reason)
{
    log_info("refused %sto=<%s> reason=%s", d->idkv, d->acct.addr[0] ? d->acct.addr : "?", reason);
    reply_exit(d, code, reason);
}

/* A failed system call: log it, remove the tmp file, exit 111 (ENOSPC: say so). */
static void temp_fail(struct deliver *d, const char *what)
{
    int e = errno;
    log_warn_sys("unable to %s %sfor %s", what, d->idkv, d->acct.addr[0] ? d->acct.addr : "?");
    if (e == ENOSPC || e == EDQUOT) {
        reply_exit(d, EXIT_TEMP, "the mail server's disk is full; will retry (#4.3.1)");
    }
    reply_exit(d, EXIT_TEMP, "temporary failure storing the message; will retry (#4.3.0)");
}

/* SPECS.md §5.1: '/' -> \057, ':' -> \072 so names never hold either. */
static void host_escape(struct deliver *d)
{
    const char *h = d->me;
    size_t n = 0;
    for (; *h && n + 5 < sizeof d->host; h++) {
        if (*h == '/' || *h == ':') {
            memcpy(d->host + n, *h == '/' ? "\\057" : "\\072", 4);
            n += 4;
        } else {
            d->host[n++] = *h;
        }
    }
    d->host[n] = '\0';
}

/* The maildrop_* functions return 0, or -1 with errno set and f->what naming the failed step. */

/* tmp/TIME.M<usec>P<pid>R<random>.HOST, O_EXCL; EEXIST: wait 2 s, new name (SPECS §5.2). */
static int maildrop_create(const struct deliver *d, struct mdfile *f)
{
    struct timeval tv;
    uint64_t rnd;
    int tries;

    memset(f, 0, sizeof *f);
    f->fd = -1;
    for (tries = 0; tries < UNIQUE_TRIES; tries++) {
        if (tries) {
            sleep(2);
        }
        gettimeofday(&tv, NULL);
        f->what = "get random bytes";
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            return -1;
        }
        f->what = "build a file name";
        if (str_fmt(f->unique, sizeof f->unique, "%lld.M%06ldP%ldR%016llx.%s",
                    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
                    (unsigned long long)rnd, d->host) < 0
            || str_fmt(f->tmp, sizeof f->tmp, "%s/tmp/%s", d->maildir, f->unique) < 0) {
            f->tmp[0] = '\0';
            return -1;
        }
        f->what = "create a file in tmp/";
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (f->fd >= 0) {
            return 0;
        }
        f->tmp[0] = '\0';      /* not ours: never unlink it */
        if (errno != EEXIST) {
            return -1;
        }
    }
    return -1;
}

static int maildrop_write(struct mdfile *f, const void *p, size_t n)
{
    f->what = "write the message";
    if (fd_write_all(f->fd, p, n) < 0) {
        return -1;
    }
    f->size += n;
    return 0;
}

/* fsync and close the message (both checked: NFS reports errors there). */
static int maildrop_sync(struct mdfile *f)
{
    int fd = f->fd, e;

    f->fd = -1;
    f->what = "fsync the message";
    if (fsync(fd) < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    f->what = "close the message";
    return close(fd);
}

/* Link the synced file into new/ with ,S=SIZE and unlink tmp: the file counts from the link
   on (not yet durable: maildrop_durable). */
static int maildrop_link(const struct deliver *d, struct mdfile *f)
{
    f->what = "build a file name";
    if (str_fmt(f->final, sizeof f->final, "%s/new/%s,S=%llu", d->maildir, f->unique,
                (unsigned long long)f->size) < 0) {
        return -1;
    }
    f->what = "link the message into new/";
    if (link(f->tmp, f->final) < 0) {
        return -1;
    }
    if (unlink(f->tmp) < 0) {
        log_warn_sys("unable to remove %s", f->tmp);
    }
    f->tmp[0] = '\0';
    return 0;
}

/* fsync new/ so the link itself is durable. If that fails the link is taken back and the
   caller retries, so nobody hears "delivered" for a link a crash could still undo. */
static int maildrop_durable(const struct deliver *d, struct mdfile *f)
{
    char newdir[YUBIN_PATH_MAX];
    int e;

    f->what = "fsync new/";
    if (str_fmt(newdir, sizeof newdir, "%s/new", d->maildir) < 0 || fd_fsync_dir(newdir) < 0) {
        e = errno;
        unlink(f->final);
        errno = e;
        return -1;
    }
    return 0;
}

static int maildrop_commit(const struct deliver *d, struct mdfile *f)
{
    return maildrop_sync(f) < 0 || maildrop_link(d, f) < 0 || maildrop_durable(d, f) < 0 ? -1
                                                                                       : 0;
}

/* A Maildir is created on first delivery when the account tool has not made it yet
   (only after tmp/ was found missing, so a normal delivery pays nothing for it). */
static int maildir_first(const struct deliver *d)
{
    char path[YUBIN_PATH_MAX];
    int i;

    if (maildir_create(d->maildir, (uid_t)-1, (gid_t)-1) < 0) {
        return -1;
    }
    /* The new folders' entries, up to ROOT/mail (mail/DOMAIN/LOCAL/Maildir): the fsync of
       new/ after the link would not keep a folder whose own entry a crash could lose. */
    if (str_fmt(path, sizeof path, "%s", d->maildir) < 0) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        char *slash = strrchr(path, '/');
        if (fd_fsync_dir(path) < 0) {
            return -1;
        }
        if (!slash || slash == path) {
            break;
        }
        *slash = '\0';
    }
    log_info("created Maildir for %s", d->acct.addr);
    return 0;
}

static void maildir_open(struct deliver *d)
{
    if (acct_maildir(d->root, &d->acct, d->maildir, sizeof d->maildir) < 0) {
        errno = ENAMETOOLONG;
        temp_fail(d, "build the Maildir path");
    }
    if (maildrop_create(d, &d->msg) == 0) {
        return;
    }
    if (errno != ENOENT || maildir_first(d) < 0) {
        temp_fail(d, errno == ENOENT ? "create the Maildir" : d->msg.what);
    }
    if (maildrop_create(d, &d->msg) < 0) {
        temp_fail(d, d->msg.what);
    }
}

/* Fleet mode: the domain must be homed here and not frozen, now. queue-run decided "local"
   a moment ago, but a move may have frozen or switched the domain since (a job that waited for
   a free slot): its mail is deferred, never written into the old home's copy. */
static void home_check(struct deliver *d)
{
    const char *at = strrchr(d->acct.addr, '@');
    struct fleethome h;
    if (!at) {
        return;
    }
    if (fleethome_get(d->root, at + 1, &h) < 0) {
        log_warn("unable to read the home of %s: %s", at + 1, fleethome_strerror(errno));
        reply_exit(d, EXIT_TEMP, QUEUE_HOME_UNREADABLE);    /* no try (queue/qfile.h) */
    }
    if (!h.here) {
        log_info("deferred %sto=<%s> reason=homed on %s now", d->idkv, d->acct.addr,
                 h.node.name);
        reply_exit(d, EXIT_TEMP, QUEUE_HOMED_ELSEWHERE);    /* no try either */
    }
    if (h.state == FLEETHOME_FROZEN) {
        reply_exit(d, EXIT_TEMP, QUEUE_MOVING);     /* the queue counts it as no try */
    }
}

static void lookup(struct deliver *d, const char *rcpt)
{
    int r = acct_user(d->root, rcpt, &d->acct);
    if (r < 0) {
        log_warn_sys("unable to look up %s in users.cdb", rcpt);
        reply_exit(d, EXIT_TEMP, "temporary failure reading the account maps (#4.3.0)");
    }
    if (r == 0) {
        log_info("refused %sto=<%s> reason=no such mailbox", d->idkv, rcpt);
        reply_exit(d, EXIT_PERM, "no such mailbox (#5.1.1)");
    }
    if (d->acct.disabled) {
        refuse(d, EXIT_PERM, "mailbox disabled, not accepting messages (#5.2.1)");
    }
    home_check(d);
}

/* Return-Path (RFC 5321 §4.4) and Delivered-To (qmail-local). CR and LF cannot come from our
   queue but would break the header, so they become '_' as in qmail-local. */
static void write_trace(struct deliver *d)
{
    char sender[SMTP_PATH_MAX + 1], line[SMTP_PATH_MAX + ADDR_MAX + 64];
    size_t i, n = strlen(d->sender);

    if (n > SMTP_PATH_MAX) {
        refuse(d, EXIT_PERM, "sender address too long (#5.1.7)");
    }
    for (i = 0; i < n; i++) {
        sender[i] = (d->sender[i] == '\r' || d->sender[i] == '\n') ? '_' : d->sender[i];
    }
    sender[n] = '\0';
    if (str_fmt(line, sizeof line, "Return-Path: <%s>\nDelivered-To: %s\n", sender,
                d->acct.addr) < 0) {
        refuse(d, EXIT_PERM, "sender address too long (#5.1.7)");
    }
    if (maildrop_write(&d->msg, line, strlen(line)) < 0) {
        temp_fail(d, d->msg.what);
    }
}

/* Copy fd 0 (file or pipe, from its current offset) into tmp/, scanning the header. */
static void copy_message(struct deliver *d)
{
    char chunk[DELIVER_CHUNK];
    ssize_t r;

    for (;;) {
        r = fd_read(0, chunk, sizeof chunk);
        if (r < 0) {
            temp_fail(d, "read the message");
        }
        if (r == 0) {
            break;
        }
        msghdr_feed(&d->hdr, chunk, (size_t)r);
        if (maildrop_write(&d->msg, chunk, (size_t)r) < 0) {
            temp_fail(d, d->msg.what);
        }
    }
    msghdr_finish(&d->hdr);
}

/* SPECS.md §5.4: refuse when usage + size exceeds the quota. Ours: permanent (5.2.2), so the
   sender gets a bounce at once, as the manual promises. */
static void check_quota(struct deliver *d)
{
    char reason[128], human[32];
    uint64_t limit = d->acct.quota, size = d->msg.size;

    if (quota_read_for(d->maildir, limit, size, d->qlock >= 0, &d->bytes, &d->count) < 0) {
        temp_fail(d, "read the quota (maildirsize)");
    }
    if (limit == 0 || (d->bytes <= limit && size <= limit - d->bytes)) {
        return;
    }
    str_size_human(limit, human, sizeof human);
    if (str_fmt(reason, sizeof reason, "mailbox full (quota %s) (#5.2.2)", human) < 0) {
        refuse(d, EXIT_PERM, "mailbox full (#5.2.2)");
    }
    log_info("refused %sto=<%s> reason=over quota size=%llu usage=%llu quota=%llu",
             d->idkv, d->acct.addr, (unsigned long long)size, (unsigned long long)d->bytes,
             (unsigned long long)limit);
    reply_exit(d, EXIT_PERM, reason);
}

static int write_warning(const struct deliver *d, struct mdfile *f, uint64_t after)
{
    char date[DATE_RFC5322_MAX];
    struct warnmsg w;
    struct buf b;
    int r;

    if (maildrop_create(d, f) < 0) {
        return -1;
    }
    if (date_rfc5322(time(NULL), date, sizeof date) < 0) {
        date[0] = '\0';
    }
    w = (struct warnmsg){ d->acct.addr, d->me, d->acct.plan, date, f->unique, after,
                          d->acct.quota };
    buf_init(&b, WARN_MSG_MAX);
    f->what = "build the message";
    r = warnmsg_build(&b, &w) < 0 || maildrop_write(f, b.s, b.len) < 0 || maildrop_commit(d, f) < 0;
    buf_free(&b);
    return r ? -1 : 0;
}

static void account_warn(void *ctx, enum quota_step step)
{
    const struct deliver *d = ctx;
    if (step == QUOTA_STEP_SUMMARY) {
        log_warn_sys("unable to write the usage summary quota/%s", d->acct.addr);
    } else {
        log_warn_sys("unable to %s %s/maildirsize", step == QUOTA_STEP_ADD ? "update" : "read",
                     d->maildir);
    }
}

/* The 90% warning, once per crossing: the marker is set when a warning was written and
   cleared by the first delivery that finds usage below 90% again. The message is already
   delivered, so nothing here may fail the delivery. Returns the warning's size, or 0. */
static uint64_t quota_warning(struct deliver *d, uint64_t after)
{
    char marker[YUBIN_PATH_MAX];
    struct mdfile f;
    int fd, lk;

    if (str_fmt(marker, sizeof marker, "%s/%s", d->maildir, WARNED_MARKER) < 0) {
        return 0;
    }
    if (!warn_above(after, d->acct.quota)) {
        if (unlink(marker) < 0 && errno != ENOENT) {
            log_warn_sys("unable to remove %s", marker);
        }
        return 0;
    }
    if (!warn_crossed(d->bytes, after, d->acct.quota) && access(marker, F_OK) == 0) {
        return 0;
    }
    /* its link and its "+SIZE 1" under the Maildir's lock, as a delivery's (rare: once per
       crossing, so its fsyncs inside it cost nothing that matters) */
    lk = quota_lock(d->maildir);
    if (write_warning(d, &f, after) < 0) {
        quota_unlock(lk);
        log_warn_sys("unable to %s for the quota warning to %s", f.what, d->acct.addr);
        maildrop_abort(&f);
        return 0;
    }
    if (quota_add(d->maildir, (int64_t)f.size, 1) < 0) {
        account_warn(d, QUOTA_STEP_ADD);
    }
    quota_unlock(lk);
    fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || close(fd) < 0) {
        log_warn_sys("unable to create %s", marker);
    }
    log_info("quota warning %sto=<%s> usage=%llu quota=%llu file=new/%s", d->idkv, d->acct.addr,
             (unsigned long long)after, (unsigned long long)d->acct.quota,
             strrchr(f.final, '/') + 1);
    return f.size;
}


/* After the link (whose "+size 1" is in maildirsize already): the quota warning (its own
   "+warned 1") and smtpd's summary of the new usage (quota_update). The message is delivered whatever
   happens here; a lost line is repaired by the next recalculation. */
static void account(struct deliver *d)
{
    const struct quota_account qa = { d->root, d->acct.addr, d->maildir, d->acct.quota };
    uint64_t size = d->msg.size, warned, bytes, count;

    warned = quota_warning(d, d->bytes + size);
    bytes = d->bytes + size + warned;           /* the estimate if maildirsize is unreadable */
    count = d->count + 1 + (warned > 0);
    (void)quota_update(&qa, 0, 0, 1, &bytes, &count, account_warn, d);     /* read, summary */
}

static void setup(struct deliver *d, int argc, char **argv)
{
    memset(d, 0, sizeof *d);
    d->msg.fd = -1;
    d->qlock = -1;
    if (argc != 3 && argc != 4) {
        log_warn("usage: deliver SENDER RECIPIENT [QUEUE_ID]");
        reply_exit(d, EXIT_PERM, "deliver called without sender and recipient (#5.3.5)");
    }
    d->root = cfg_root();
    if (!d->root) {
        log_warn("YUBIN_ROOT is not set");
        reply_exit(d, EXIT_TEMP, "mail system misconfigured: no mail root (#4.3.5)");
    }
    if (cfg_me(d->me, sizeof d->me) < 0) {
        memcpy(d->me, "localhost", sizeof "localhost");
    }
    host_escape(d);
    d->sender = argv[1];
    /* the queue id ties our lines to smtpd's and queue-run's (mailtrace); ignored if odd */
    if (argc == 4 && strlen(argv[3]) == QUEUE_ID_LEN
        && strspn(argv[3], "0123456789abcdef") == QUEUE_ID_LEN) {
        str_fmt(d->idkv, sizeof d->idkv, "id=%s ", argv[3]);
    }
}

/* The file being written, for SIGALRM (DELIVER_TIMEOUT): without this the default action
   killed deliver and left the partial file in tmp/ for good. */
static struct mdfile *alarm_file;

static void on_alarm(int sig)
{
    static const char line[] = "timed out writing the message (#4.3.0)\n";
    (void)sig;
    if (alarm_file && alarm_file->tmp[0]) {
        (void)unlink(alarm_file->tmp);      /* async-signal-safe, like write and _exit */
    }
    (void)write(1, line, sizeof line - 1);
    _exit(EXIT_TEMP);
}

/* One delivery: argv "deliver SENDER RECIPIENT [QUEUE_ID]", the message on fd 0, the reason
   line on fd 1. Run by hand, or in a child of the run/deliver.sock loop; a delivery made
   returns 0 (the child may then serve the next request: nothing here stays open), every
   other way out is reply_exit. */
static int deliver_one(int argc, char **argv, void *unused)
{
    struct deliver d;

    (void)unused;
    umask(077);
    setup(&d, argc, argv);      /* d.msg empty from here: on_alarm may look at it */
    alarm_file = &d.msg;
    if (signal(SIGALRM, on_alarm) == SIG_ERR) {
        alarm_file = NULL;      /* the default action then, as before */
    }
    alarm(DELIVER_TIMEOUT);
    lookup(&d, argv[2]);
    if (msghdr_init(&d.hdr, d.acct.addr) < 0) {
        refuse(&d, EXIT_PERM, "no such mailbox (#5.1.1)");
    }
    maildir_open(&d);
    write_trace(&d);
    copy_message(&d);
    if (msghdr_looping(&d.hdr)) {
        log_info("refused %sto=<%s> reason=looping received=%zu delivered-to=%d", d.idkv,
                 d.acct.addr, d.hdr.received, d.hdr.delivered_to);
        reply_exit(&d, EXIT_PERM, "message is looping (#5.4.6)");
    }
    if (maildrop_sync(&d.msg) < 0) {
        temp_fail(&d, d.msg.what);
    }
    /* The quota check, the link and its "+SIZE 1" under the Maildir's lock: deliveries
       running at once would each see the usage before the others and all pass. */
    d.qlock = quota_lock(d.maildir);
    if (d.qlock < 0) {
        log_warn_sys("unable to lock %s (quota checked without it)", d.maildir);
    }
    check_quota(&d);
    if (maildrop_link(&d, &d.msg) < 0) {
        quota_unlock(d.qlock);
        d.qlock = -1;
        temp_fail(&d, d.msg.what);
    }
    if (quota_add(d.maildir, (int64_t)d.msg.size, 1) < 0) {
        account_warn(&d, QUOTA_STEP_ADD);
    }
    quota_unlock(d.qlock);
    d.qlock = -1;
    if (maildrop_durable(&d, &d.msg) < 0) {
        int e = errno, lk = quota_lock(d.maildir);     /* the link went: its line goes too */
        (void)quota_add(d.maildir, -(int64_t)d.msg.size, -1);
        quota_unlock(lk);
        errno = e;
        temp_fail(&d, d.msg.what);
    }
    alarm(0);       /* delivered: a timeout now would make queue-run deliver it again */
    log_info("delivered %sto=<%s> size=%llu file=new/%s", d.idkv, d.acct.addr,
             (unsigned long long)d.msg.size, strrchr(d.msg.final, '/') + 1);
    account(&d);
    reply(&d, "message delivered (#2.0.0)");
    alarm(0);
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    /* run/deliver.sock: each request is one delivery, the caller's fds 0/1 (lib/ipcserve) */
    static const struct ipcserve srv = {
        "run/deliver.sock", IPCFD_FDS, DELIVER_CONN_MAX, 0, deliver_one, NULL,
        DELIVER_PROCESS_USES
    };

    log_init("deliver");
    if ((geteuid() == 0 || getuid() == 0) && !cfg_flag("YUBIN_ALLOW_ROOT")) {
        static const char why[] = "mail system misconfigured: delivery as root (#4.3.5)\n";
        log_warn("refusing to run as root");
        if (!ipcserve_listening(0)) {
            fd_write_all(1, why, sizeof why - 1);
        }
        return EXIT_TEMP;
    }
    if (ipcserve_listening(0)) {
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve run/deliver.sock");
        }
        return EXIT_DONE;
    }
    return deliver_one(argc, argv, NULL);
}

/* pop3d: POP3 TRANSACTION and UPDATE on one Maildir; runs as yubin-mbox, exec'd by checkpw -s */
/*
 * Environment (docs/internals.md "pop3d (through run/pop3d.sock)", docs/pop3.md):
 *   YUBIN_ROOT, USER (the address), MAILDIR, QUOTA (bytes, 0 = unlimited), PLAN, POP3S (0/1),
 *   POP3_PENDING (hex of the client bytes pop3-front read past the login command),
 *   TCPREMOTEIP, SSL_PROTOCOL (empty without TLS), POP3_TIMEOUT (seconds, default 600).
 * fd 0/1: the client (plaintext); fd 2: the log (a socketpair back to pop3-front).
 * Exit: 0 once pop3d has answered the client (every path after the environment checks),
 *       111 before that (pop3-front answers -ERR [SYS/TEMP]).
 */
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "fleethome.h"
#include "grant.h"
#include "ipcfd.h"
#include "limits.h"
#include "lineio.h"
#include "log.h"
#include "maildir.h"
#include "maildrop.h"
#include "pop3_parse.h"
#include "quota/quota.h"
#include "str.h"
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Output: one RETR chunk can double (CRLF, stuffing), plus room for replies. */
#define OUT_CAP     (3 * MAILDROP_CHUNK)
#define OUT_SPARE   (2 * MAILDROP_CHUNK + 16)

struct session {
    const char *root, *user, *maildir, *ip, *tls;
    uint64_t quota;
    unsigned timeout;           /* seconds */
    int dirfd, lockfd;
    struct maildrop md;
    char inbuf[POP3_PENDING_MAX];
    struct lineio_in in;        /* pipelined commands, over inbuf */
    struct lineio_out out;      /* replies and messages, over OUT_CAP malloc()ed bytes */
    char *chunk;                /* MAILDROP_CHUNK bytes read from a message */
    int done;                   /* QUIT answered, or the connection is unusable */
    unsigned long nretr;
    uint64_t retr_octets;
};

/* ---- output ---- */

/* The sink of s->out. A client that stops reading is an idle client: the default SIGALRM
   action ends the session without UPDATE (RFC 1939 §3 autologout). */
static int out_write(void *ctx, const char *p, size_t n)
{
    struct session *s = ctx;
    int rc;
    alarm(s->timeout);
    rc = fd_write_all(1, p, n);
    alarm(0);
    if (rc < 0) {
        log_warn_sys("write to client failed user=%s", s->user);
        s->done = 1;
    }
    return rc;
}

static void out_put(struct session *s, const char *p, size_t n)
{
    (void)lineio_put(&s->out, p, n);
}

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
    char line[POP3_REPLY_MAX];
    va_list ap;
    size_t n;
    va_start(ap, fmt);
    n = lineio_vformat(line, sizeof line, fmt, ap);
    va_end(ap);
    out_put(s, line, n);
}

/* ---- messages ---- */

static int visible(const struct maildrop_msg *m)
{
    return !m->deleted && !m->gone;
}

/* Message argument n (1-based) -> index, or -1 after answering -ERR. */
static long msg_arg(struct session *s, unsigned long n)
{
    const struct maildrop_msg *m;
    if (n == 0 || n > s->md.n) {
        reply(s, "-ERR no such message");
        return -1;
    }
    m = &s->md.msg[n - 1];
    if (m->gone) {
        reply(s, "-ERR message %lu has been removed from the server", n);
        return -1;
    }
    if (m->deleted) {
        reply(s, "-ERR message %lu already deleted", n);
        return -1;
    }
    return (long)(n - 1);
}

static int need_sizes(struct session *s)
{
    if (maildrop_sizes(&s->md) < 0) {
        log_warn_sys("unable to read message sizes user=%s", s->user);
        reply(s, "-ERR [SYS/TEMP] unable to read the mailbox; try again later");
        return -1;
    }
    return 0;
}

static void totals(const struct session *s, size_t *count, uint64_t *octets)
{
    size_t i;
    *count = 0;
    *octets = 0;
    for (i = 0; i < s->md.n; i++) {
        if (visible(&s->md.msg[i])) {
            (*count)++;
            *octets += s->md.msg[i].size;
        }
    }
}

static void cmd_stat(struct session *s)
{
    size_t count;
    uint64_t octets;
    if (need_sizes(s) < 0) {
        return;
    }
    totals(s, &count, &octets);
    reply(s, "+OK %zu %llu", count, (unsigned long long)octets);
}

static void cmd_list(struct session *s, const struct pop3_req *r)
{
    size_t i, count;
    uint64_t octets;
    long k;
    if (need_sizes(s) < 0) {
        return;
    }
    if (r->nnum == 1) {
        if ((k = msg_arg(s, r->num[0])) >= 0) {
            reply(s, "+OK %lu %llu", r->num[0], (unsigned long long)s->md.msg[k].size);
        }
        return;
    }
    totals(s, &count, &octets);
    reply(s, "+OK %zu messages (%llu octets)", count, (unsigned long long)octets);
    for (i = 0; i < s->md.n; i++) {
        if (visible(&s->md.msg[i])) {
            char line[48];
            int n = snprintf(line, sizeof line, "%zu %llu\r\n", i + 1,
                             (unsigned long long)s->md.msg[i].size);
            out_put(s, line, (size_t)n);
        }
    }
    out_put(s, ".\r\n", 3);
}

static void cmd_uidl(struct session *s, const struct pop3_req *r)
{
    char uid[MAILDROP_UIDL_MAX + 1], line[MAILDROP_UIDL_MAX + 32];
    size_t i;
    long k;
    if (r->nnum == 1) {
        if ((k = msg_arg(s, r->num[0])) >= 0) {
            maildrop_uidl(&s->md, (size_t)k, uid);
            reply(s, "+OK %lu %s", r->num[0], uid);
        }
        return;
    }
    reply(s, "+OK unique-id listing follows");
    for (i = 0; i < s->md.n; i++) {
        if (visible(&s->md.msg[i])) {
            int n;
            maildrop_uidl(&s->md, i, uid);
            n = snprintf(line, sizeof line, "%zu %s\r\n", i + 1, uid);
            out_put(s, line, (size_t)n);
        }
    }
    out_put(s, ".\r\n", 3);
}

/* Copy the open message fd to the client byte-stuffed by st, with the final ".\r\n".
   0 ok (*sent = the message octets sent: without stuffing and the final dot), -1 read error. */
static int stream(struct session *s, int fd, struct maildrop_stuff *st, uint64_t *sent)
{
    ssize_t r = 0;
    size_t w;

    *sent = 0;
    while (!st->done && !s->done && (r = fd_read(fd, s->chunk, MAILDROP_CHUNK)) > 0) {
        size_t used;
        (void)lineio_room(&s->out, OUT_SPARE);
        w = maildrop_stuff(st, s->chunk, (size_t)r, s->out.buf + s->out.len, &used);
        s->out.len += w;
        *sent += w;
    }
    if (r < 0) {
        return -1;
    }
    (void)lineio_room(&s->out, 8);
    w = maildrop_stuff_end(st, s->out.buf + s->out.len);
    s->out.len += w;
    *sent += w - 3;
    *sent -= st->stuffed;
    return 0;
}

/* RETR (top = 0) and TOP (top = 1, lines body lines): stream the message byte-stuffed. */
static void send_message(struct session *s, unsigned long n, int top, unsigned long lines)
{
    struct maildrop_stuff st;
    uint64_t sent = 0;
    long k;
    int fd, r;

    if ((k = msg_arg(s, n)) < 0 || need_sizes(s) < 0) {
        return;
    }
    if (s->md.msg[k].gone) {
        reply(s, "-ERR message %lu has been removed from the server", n);
        return;
    }
    fd = maildrop_open(&s->md, (size_t)k);
    if (fd < 0) {
        if (errno == ENOENT) {
            reply(s, "-ERR message %lu has been removed from the server", n);
        } else {
            log_warn_sys("unable to open %s user=%s", s->md.msg[k].path, s->user);
            reply(s, "-ERR [SYS/TEMP] unable to read message %lu; try again later", n);
        }
        return;
    }
    if (top) {
        reply(s, "+OK top of message %lu follows", n);
    } else {
        reply(s, "+OK %llu octets", (unsigned long long)s->md.msg[k].size);
    }
    maildrop_stuff_init(&st, top, lines);
    r = stream(s, fd, &st, &sent);
    close(fd);
    if (r < 0) {
        /* the +OK is out: the only honest end is to drop the connection (no UPDATE) */
        log_warn_sys("read error in %s user=%s; closing", s->md.msg[k].path, s->user);
        s->done = 1;
        s->out.len = 0;
        return;
    }
    if (!top) {
        s->nretr++;
        s->retr_octets += sent;
        if (sent != s->md.msg[k].size) {
            log_warn("size of %s changed: listed %llu, sent %llu", s->md.msg[k].path,
                     (unsigned long long)s->md.msg[k].size, (unsigned long long)sent);
        }
    }
}

static void cmd_rset(struct session *s)
{
    size_t i, count;
    uint64_t octets;
    for (i = 0; i < s->md.n; i++) {
        s->md.msg[i].deleted = 0;
    }
    if (need_sizes(s) < 0) {
        return;
    }
    totals(s, &count, &octets);
    reply(s, "+OK maildrop has %zu messages (%llu octets)", count, (unsigned long long)octets);
}

static void cmd_capa(struct session *s)
{
    static const char capa[] = POP3_CAPA_HEAD POP3_CAPA_TAIL;
    out_put(s, capa, sizeof capa - 1);
}

static void quit_warn(void *ctx, enum quota_step step)
{
    static const char *const what[] = {
        [QUOTA_STEP_ADD] = "update maildirsize", [QUOTA_STEP_READ] = "read the quota",
        [QUOTA_STEP_SUMMARY] = "write the usage summary"
    };
    const struct session *s = ctx;
    log_warn_sys("unable to %s user=%s", what[step], s->user);
}

static int deletes_any(const struct session *s)
{
    size_t i;
    for (i = 0; i < s->md.n; i++) {
        if (s->md.msg[i].deleted && !s->md.msg[i].gone) {
            return 1;
        }
    }
    return 0;
}

/* UPDATE (RFC 1939 §6), then the quota: Maildir++ delta, then the summary smtpd reads. The
   summary is removed first (usage_forget), so that a pop3d killed between the two leaves
   none rather than one that still counts the removed mail and makes smtpd refuse with 552. */
static void cmd_quit(struct session *s)
{
    uint64_t bytes, count, ub, uc;
    size_t failed;
    int deletes = deletes_any(s), lk = -1;

    /* the unlinks and their "-BYTES -COUNT" under the Maildir's lock: a recount in between
       would subtract them twice */
    if (deletes && (lk = quota_lock(s->maildir)) < 0) {
        log_warn_sys("unable to lock %s user=%s", s->maildir, s->user);
    }
    if (s->quota > 0 && deletes && usage_forget(s->root, s->user) < 0) {
        quit_warn(s, QUOTA_STEP_SUMMARY);
    }
    maildrop_update(&s->md, &bytes, &count, &failed);
    if (count > 0 && quota_add(s->maildir, -(int64_t)bytes, -(int64_t)count) < 0) {
        quit_warn(s, QUOTA_STEP_ADD);
    }
    quota_unlock(lk);
    if (count > 0) {
        const struct quota_account qa = { s->root, s->user, s->maildir, s->quota };
        (void)quota_update(&qa, 0, 0, 0, &ub, &uc, quit_warn, s);     /* read, summary */
    }
    if (count == 0 && s->quota > 0 && usage_read(s->root, s->user, &ub, &uc) == 1
        && ub >= s->quota) {
        /* nothing deleted, but smtpd's summary says full (smtpd refuses with 552): count the
           Maildir again, as mail removed behind our back (by the operator, by hand) would
           otherwise keep it refused until a delivery gets through */
        if (quota_recalc(s->maildir, s->quota, &ub, &uc) < 0) {
            quit_warn(s, QUOTA_STEP_READ);
        } else if (usage_write(s->root, s->user, ub, uc) < 0) {
            quit_warn(s, QUOTA_STEP_SUMMARY);
        }
    }
    /* UPDATE is done: release the lock before the client sees the answer, so that its next
       login (which may come before this process has exited) finds the mailbox free */
    close(s->lockfd);
    s->lockfd = -1;
    log_info("logout user=%s retr=%lu octets=%llu deleted=%llu freed=%llu failed=%zu",
             s->user, s->nretr, (unsigned long long)s->retr_octets,
             (unsigned long long)count, (unsigned long long)bytes, failed);
    if (failed > 0) {
        reply(s, "-ERR [SYS/TEMP] %zu deleted messages were not removed; they will be listed "
                 "again next time", failed);
    } else {
        reply(s, "+OK yubin POP3 server signing off (%llu messages deleted)",
              (unsigned long long)count);
    }
    s->done = 1;
}

static void dispatch(struct session *s, const char *line, size_t len)
{
    struct pop3_req r;
    enum pop3_syntax syn = pop3_parse(line, len, &r);

    if (syn == POP3_SYNTAX_CTL) {
        reply(s, "-ERR control characters are not allowed in commands");
        return;
    }
    if (syn == POP3_SYNTAX_ARGS) {
        reply(s, "-ERR syntax error in the arguments of %s", pop3_cmd_name(r.cmd));
        return;
    }
    switch (r.cmd) {
    case POP3_STAT: cmd_stat(s); break;
    case POP3_LIST: cmd_list(s, &r); break;
    case POP3_UIDL: cmd_uidl(s, &r); break;
    case POP3_RETR: send_message(s, r.num[0], 0, 0); break;
    case POP3_TOP: send_message(s, r.num[0], 1, r.num[1]); break;
    case POP3_DELE: {
        long k = msg_arg(s, r.num[0]);
        if (k >= 0) {
            s->md.msg[k].deleted = 1;
            reply(s, "+OK message %lu deleted", r.num[0]);
        }
        break;
    }
    case POP3_NOOP: reply(s, "+OK"); break;
    case POP3_RSET: cmd_rset(s); break;
    case POP3_CAPA: cmd_capa(s); break;
    case POP3_QUIT: cmd_quit(s); break;
    case POP3_USER: case POP3_PASS: case POP3_AUTH: case POP3_APOP: case POP3_STLS:
        reply(s, "-ERR already logged in");
        break;
    default:
        reply(s, "-ERR unknown command");
        break;
    }
}

/* Answer every complete line in the input buffer (RFC 2449 PIPELINING). */
static void run_lines(struct session *s)
{
    while (!s->done) {
        const char *line;
        size_t len;
        enum lineio_res r = lineio_next(&s->in, POP3_CMD_MAX, &line, &len);
        if (r == LINEIO_PARTIAL) {
            break;
        }
        if (r == LINEIO_LONG) {
            reply(s, "-ERR line too long (at most %d octets)", POP3_CMD_MAX);
            continue;
        }
        dispatch(s, line, len);
    }
}

static void session_loop(struct session *s)
{
    for (;;) {
        struct pollfd p = {0, POLLIN, 0};
        char *space;
        size_t room;
        ssize_t r;
        int k;
        run_lines(s);
        if (lineio_flush(&s->out) < 0 || s->done) {
            return;
        }
        k = poll(&p, 1, (int)(s->timeout * 1000));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k == 0) {
            log_info("timeout user=%s; closing without UPDATE", s->user);
            return;
        }
        space = lineio_in_space(&s->in, &room);
        r = fd_read(0, space, room);
        if (r <= 0) {
            log_info("connection closed without QUIT user=%s; nothing deleted", s->user);
            return;
        }
        lineio_in_got(&s->in, (size_t)r);
    }
}

/* ---- start ---- */

/* A reply before the session proper, then exit 0 (pop3-front ends the connection). */
static void refuse(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void refuse(struct session *s, const char *fmt, ...)
{
    char line[POP3_REPLY_MAX];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n > sizeof line - 3) {
        n = (int)(sizeof line - 3);
    }
    memcpy(line + n, "\r\n", 2);
    alarm(s->timeout);
    (void)fd_write_all(1, line, (size_t)n + 2);
    _exit(EXIT_DONE);
}

static void getenv_all(struct session *s)
{
    const char *q = getenv("QUOTA"), *pending = getenv("POP3_PENDING");
    uint64_t v;

    s->root = cfg_root();
    s->user = getenv("USER");
    s->maildir = getenv("MAILDIR");
    s->ip = getenv("TCPREMOTEIP");
    s->tls = getenv("SSL_PROTOCOL");
    s->timeout = (unsigned)cfg_num("POP3_TIMEOUT", 600);
    if (s->timeout == 0) {
        s->timeout = 600;
    }
    if (!s->root || !s->user || !*s->user || !s->maildir || s->maildir[0] != '/') {
        die(EXIT_TEMP, "YUBIN_ROOT, USER and MAILDIR must be set (run by checkpw -s)");
    }
    s->quota = (q && str_to_u64(q, strlen(q), &v) == 0) ? v : 0;
    if (pending && *pending) {
        long n = pop3_hex_decode(pending, strlen(pending), s->inbuf, sizeof s->inbuf);
        if (n < 0) {
            log_warn("POP3_PENDING is not hex of at most %d octets; ignored", POP3_PENDING_MAX);
        } else {
            lineio_in_got(&s->in, (size_t)n);
        }
    }
}

/* TLS plan rule (the manual: POP over SSL, port 995, only on the plans that include it;
   STLS on 110 is for every plan). */
static void check_plan(struct session *s)
{
    const char *plan = getenv("PLAN"), *pop3s = getenv("POP3S");
    char line[POP3_REPLY_MAX];
    size_t n;
    if (!pop3_tls_implicit(s->tls) || (pop3s && strcmp(pop3s, "1") == 0)) {
        return;
    }
    log_info("refused user=%s ip=%s: POP3 over TLS not in plan %s", s->user,
             s->ip ? s->ip : "", plan && *plan ? plan : "current");
    n = pop3_plan_refusal(line, sizeof line, plan);
    alarm(s->timeout);
    (void)fd_write_all(1, line, n);
    _exit(EXIT_DONE);
}

/* A domain frozen for the last pass of a move (docs/fleet.md): no new session starts, here or
   through a front, until the home is switched. */
static void check_frozen(struct session *s)
{
    const char *at = strrchr(s->user, '@');
    struct fleethome h;
    if (at && fleethome_get(s->root, at + 1, &h) == 1 && h.state == FLEETHOME_FROZEN) {
        log_info("refused user=%s ip=%s: domain frozen for a move", s->user,
                 s->ip ? s->ip : "");
        alarm(s->timeout);
        (void)fd_write_all(1, POP3_FROZEN_REPLY, sizeof POP3_FROZEN_REPLY - 1);
        _exit(EXIT_DONE);
    }
}

/* In a fleet the other nodes must see the grant too (docs/fleet.md "POP-before-SMTP across
   nodes"): hand it to grant-push (pop3-link -g, the link uid holds the fleet key), without
   waiting for it. */
static void push_grant(struct session *s)
{
    char sock[YUBIN_PATH_MAX], self[FLEET_NODE_MAX + 1];
    const char *argv[] = { "grant", s->ip, s->user, NULL };
    int fds[1], conn;
    if (fleethome_self(s->root, self, sizeof self) != 1
        || cfg_path(sock, sizeof sock, s->root, "run/grant-push.sock") < 0) {
        return;
    }
    /* the request carries one fd: /dev/null, not our log, which pop3-front reads to EOF */
    fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fds[0] < 0) {
        log_warn_sys("grant not passed on to the other nodes ip=%s: /dev/null", s->ip);
        return;
    }
    conn = ipcfd_call_fds(sock, fds, 1, argv);
    close(fds[0]);
    if (conn < 0) {
        log_warn_sys("grant not passed on to the other nodes ip=%s: %s", s->ip, sock);
        return;
    }
    close(conn);
}

static void open_maildir(struct session *s)
{
    s->dirfd = open(s->maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0 && errno == ENOENT) {
        /* a new account that has never received mail (a failure shows in the open below) */
        (void)maildir_create(s->maildir, (uid_t)-1, (gid_t)-1);
        s->dirfd = open(s->maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (s->dirfd < 0) {
        log_warn_sys("unable to open %s user=%s", s->maildir, s->user);
        refuse(s, "-ERR [SYS/TEMP] your mailbox cannot be opened right now; try again later");
    }
}

/* The listing. A Maildir without cur/ or new/ is one another process is making right now
   (maildir_create makes its folders one after the other, and a login can come in between: a
   customer's first mail arriving as the mail program asks) or one a crash left half-made:
   its folders are made here too (those there are left alone) and it is scanned again. */
static void scan_maildir(struct session *s)
{
    size_t max = cfg_num("POP3_LIST_MAX", MAILDROP_MSGS_MAX);
    int r = maildrop_scan(&s->md, s->dirfd, max);
    if (r < 0 && errno == ENOENT) {
        maildrop_free(&s->md);
        if (maildir_create(s->maildir, (uid_t)-1, (gid_t)-1) == 0) {
            log_info("made the missing folders of %s user=%s", s->maildir, s->user);
            r = maildrop_scan(&s->md, s->dirfd, max);
        } else {
            r = -1;
        }
    }
    if (r < 0) {
        log_warn_sys("unable to scan %s user=%s", s->maildir, s->user);
        refuse(s, "-ERR [SYS/TEMP] your mailbox cannot be read right now; try again later");
    }
}

static void take_lock(struct session *s)
{
    s->lockfd = openat(s->dirfd, MAILDROP_LOCK_NAME,
                       O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lockfd < 0) {
        log_warn_sys("unable to open the lock user=%s", s->user);
        refuse(s, "-ERR [SYS/TEMP] your mailbox cannot be locked right now; try again later");
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            log_info("in use user=%s ip=%s", s->user, s->ip ? s->ip : "");
            refuse(s, "-ERR [IN-USE] mailbox in use by another session; close the other mail "
                      "program and try again / 他のセッションが受信中です");
        }
        log_warn_sys("unable to lock user=%s", s->user);
        refuse(s, "-ERR [SYS/TEMP] your mailbox cannot be locked right now; try again later");
    }
}

int main(int argc, char **argv)
{
    static struct session sess;
    struct session *s = &sess;
    char *out;

    (void)argc;
    log_init(argv[0] ? argv[0] : "pop3d");
    if (getuid() == 0 || geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, SIG_DFL);       /* the write timeout ends the process (out_write) */
    lineio_in_init(&s->in, s->inbuf, sizeof s->inbuf);
    getenv_all(s);
    check_plan(s);
    check_frozen(s);
    open_maildir(s);
    take_lock(s);
    if (s->ip && *s->ip) {
        if (grant_write(s->root, s->ip, s->user) < 0) {
            log_warn_sys("unable to record the POP-before-SMTP grant ip=%s user=%s", s->ip,
                         s->user);
        } else {
            push_grant(s);
        }
    }
    if (grant_sweep(s->root, cfg_num("RELAY_WINDOW", 600)) < 0) {
        log_warn_sys("unable to remove expired POP-before-SMTP grants");
    }
    scan_maildir(s);
    out = malloc(OUT_CAP);
    s->chunk = malloc(MAILDROP_CHUNK);
    if (!out || !s->chunk) {
        refuse(s, "-ERR [SYS/TEMP] the server is short of memory; try again later");
    }
    lineio_out_init(&s->out, out, OUT_CAP, out_write, s);
    log_info("login user=%s ip=%s tls=%s messages=%zu moved=%zu", s->user,
             s->ip ? s->ip : "", (s->tls && *s->tls) ? s->tls : "no", s->md.n, s->md.moved);
    if (s->md.more) {
        /* RFC 1939 lets a session see part of the maildrop; the customer is told why and
           what to do, the operator sees it in the log */
        log_warn("listing bound reached user=%s listed=%zu max=%zu", s->user, s->md.n,
                 s->md.max);
        reply(s, "+OK logged in; %zu messages listed, more are waiting (at most %zu a session):"
                 " delete these and log in again for the rest", s->md.n, s->md.max);
    } else {
        reply(s, "+OK logged in; %zu messages", s->md.n);
    }
    session_loop(s);
    (void)lineio_flush(&s->out);
    return EXIT_DONE;
}

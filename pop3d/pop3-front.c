/* pop3-front: POP3 AUTHORIZATION state, then the login to pop3d over ipcfd; runs as yubin-pop */
/*
 * Started by tcpserver (port 110) or tlsd (995; STLS on 110 when tlsd sets SSLCTLFD).
 * Environment: YUBIN_ROOT, TCPREMOTEIP, POP3_TIMEOUT (seconds, default 600), POP3_MAXPERIP
 * (connections per address, default 10, 0 = no limit; slots in ROOT/run/pop), SSL_PROTOCOL
 * (non-empty: already in TLS), SSLCTLFD/SSLREADFD/SSLWRITEFD (UCSPI-TLS, SPECS.md §7.2).
 * On credentials it sends one ipcfd request (lib/ipcfd.h) to ROOT/run/pop3d.sock: argv
 * "checkpw" "TCPREMOTEIP=IP" "SSL_PROTOCOL=PROTO" with three fds, 0/1 = the client and
 * 2 = a socketpair on which it writes "LOGIN\0PASSWORD\0" + pipelined bytes
 * (docs/internals.md), then relays what comes back there (pop3d's log) to its own stderr and
 * reads the status line. Status: 0 pop3d served the session (we exit), 1 bad credentials
 * (-ERR [AUTH], stay), 111 or no answer: temporary (-ERR [SYS/TEMP], stay), 2/100
 * misconfigured (-ERR [SYS/PERM], stay), anything else (128+N: killed by a signal): we exit.
 * Exit: 0 session over; 111 system error before the greeting or running as root.
 */
#include "addr.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "fleethome.h"
#include "ipcfd.h"
#include "ipslot.h"
#include "limits.h"
#include "lineio.h"
#include "log.h"
#include "pop3_parse.h"
#include "str.h"
#include "ucspi.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRONT_OUT_MAX   2048    /* queued replies (pipelining); flushed before any read */
/* "TCPREMOTEIP=..." / "SSL_PROTOCOL=..." arguments to checkpw, the longer name included */
#define FRONT_ARG_MAX   (sizeof "SSL_PROTOCOL=" + CHECKPW_ARG_MAX)

struct front {
    int rfd, wfd;               /* the client: 0/1, or tlsd's plaintext pipes after STLS */
    int sslctl;                 /* SSLCTLFD, -1 when STLS is not available */
    int tls;                    /* the session is encrypted */
    unsigned timeout;           /* POP3_TIMEOUT: seconds of silence */
    unsigned login_timeout;     /* POP3_LOGIN_TIMEOUT: seconds from the greeting to a login */
    time_t login_deadline;      /* CLOCK_MONOTONIC seconds */
    const char *ip, *root;
    char sock[YUBIN_PATH_MAX];  /* ROOT/run/pop3d.sock */
    char linksock[YUBIN_PATH_MAX];  /* ROOT/run/pop3-link.sock: mailboxes homed elsewhere */
    char inbuf[POP3_PENDING_MAX];
    struct lineio_in in;        /* pipelined commands, over inbuf */
    enum { AUTH_NONE, AUTH_PLAIN, AUTH_LOGIN_USER, AUTH_LOGIN_PASS }
        auth_wait;              /* what the next line answers */
    char outbuf[FRONT_OUT_MAX];
    struct lineio_out out;      /* queued replies, over outbuf */
    char user[AUTH_FIELD_MAX + 1];
    size_t userlen;             /* 0: no USER yet */
    int done;
};

/* ---- output ---- */

/* The sink of f->out: the client (tlsd's pipe after STLS). */
static int out_write(void *ctx, const char *p, size_t n)
{
    struct front *f = ctx;
    int rc;
    alarm(f->timeout);
    rc = fd_write_all(f->wfd, p, n);
    if (rc < 0) {
        f->done = 1;
    }
    alarm(0);
    return rc;
}

static void flush(struct front *f)
{
    (void)lineio_flush(&f->out);
}

/* Queue a reply whole (every one is a literal or a bounded line, far below FRONT_OUT_MAX). */
static void say(struct front *f, const char *s)
{
    size_t n = strlen(s);
    if (lineio_room(&f->out, n) == 0) {
        (void)lineio_put(&f->out, s, n);
    }
}

/* ---- the login: ipcfd -> checkpw -s -> pop3d ---- */

static void relay_log(int fd)
{
    char buf[LOG_LINE_MAX];
    ssize_t r;
    while ((r = fd_read(fd, buf, sizeof buf)) > 0) {
        (void)fd_write_all(2, buf, (size_t)r);
    }
}

/* Returns the exit code of the crossing (EXIT_TEMP when it could not be made or gave no
   answer; 128+N when checkpw or pop3d was killed by signal N). */
static int run_login(struct front *f, const char *pass, size_t passlen, const char *rest,
                     size_t restlen)
{
    char payload[CHECKPW_MAX + POP3_PENDING_MAX];
    char iparg[FRONT_ARG_MAX], protoarg[FRONT_ARG_MAX];
    const char *argv[] = { "checkpw", iparg, protoarg, NULL };
    const char *proto = getenv("SSL_PROTOCOL"), *sock = f->sock, *at;
    struct fleethome home;
    size_t n = 0;
    int sp[2], fds[3], conn, rc;

    if (f->userlen + passlen + 2 > CHECKPW_MAX) {
        return 1;
    }
    /* fleet (docs/fleet.md): a mailbox homed on another node is reached through pop3-link,
       which checks the password here too; a login without a domain is checked here */
    at = strrchr(f->user, '@');
    if (at && fleethome_get(f->root, at + 1, &home) < 0) {
        log_warn("unable to read the home of user=%.*s: %s", (int)f->userlen, f->user,
                 fleethome_strerror(errno));
        return EXIT_TEMP;
    }
    if (at && !home.here) {
        sock = f->linksock;
    }
    if (str_fmt(iparg, sizeof iparg, "TCPREMOTEIP=%s", f->ip) < 0
        || str_fmt(protoarg, sizeof protoarg, "SSL_PROTOCOL=%s", proto ? proto : "") < 0) {
        log_warn("remote address or TLS protocol name too long ip=%s", f->ip);
        return EXIT_TEMP;
    }
    memcpy(payload, f->user, f->userlen);
    payload[f->userlen] = '\0';
    memcpy(payload + f->userlen + 1, pass, passlen);
    payload[f->userlen + 1 + passlen] = '\0';
    n = f->userlen + passlen + 2;
    memcpy(payload + n, rest, restlen);
    n += restlen;

    flush(f);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        memset(payload, 0, sizeof payload);
        log_warn_sys("socketpair");
        return EXIT_TEMP;
    }
    fds[0] = f->rfd;
    fds[1] = f->wfd;
    fds[2] = sp[1];
    conn = ipcfd_call_fds(sock, fds, 3, argv);
    close(sp[1]);
    if (conn < 0) {
        memset(payload, 0, sizeof payload);
        close(sp[0]);
        log_warn_sys("unable to send the login to %s", sock);
        return EXIT_TEMP;
    }
    /* fits the socket buffer: at most CHECKPW_MAX + POP3_PENDING_MAX octets */
    (void)fd_write_all(sp[0], payload, n);
    memset(payload, 0, sizeof payload);
    shutdown(sp[0], SHUT_WR);
    /* EOF there: checkpw (or pop3d) is done, or the request was refused */
    relay_log(sp[0]);
    close(sp[0]);
    rc = ipcfd_status(conn, IPCFD_TIMEOUT);
    close(conn);
    return rc < 0 ? EXIT_TEMP : rc;
}

static void login(struct front *f, const char *pass, size_t passlen, const char *rest,
                  size_t restlen)
{
    char form[AUTH_FIELD_MAX + 1];
    size_t flen = addr_login_form(f->user, f->userlen, form, sizeof form);
    int rc;

    if (flen > 0) {             /* taro@日本語.jp: taro@xn--wgv71a119e.jp from here on */
        memcpy(f->user, form, flen + 1);
        f->userlen = flen;
    }
    rc = run_login(f, pass, passlen, rest, restlen);
    switch (rc) {
    case 1:
        log_info("auth failed user=%.*s ip=%s", (int)f->userlen, f->user, f->ip);
        say(f, "-ERR [AUTH] invalid user name or password\r\n");
        break;
    case EXIT_TEMP:
        log_warn("login service unavailable user=%.*s ip=%s", (int)f->userlen, f->user, f->ip);
        say(f, "-ERR [SYS/TEMP] the login service is unavailable right now; try again later\r\n");
        break;
    case 2:
    case EXIT_PERM:
        log_warn("login service misconfigured (exit %d) user=%.*s", rc, (int)f->userlen,
                 f->user);
        say(f, "-ERR [SYS/PERM] the login service is misconfigured; please tell the server "
               "operator\r\n");
        break;
    default:
        /* 0: pop3d served the session; anything else: it ended it after answering */
        flush(f);
        _exit(EXIT_DONE);
    }
    f->userlen = 0;
}

/* ---- STLS (RFC 2595 §4, UCSPI-TLS) ---- */

static void stls(struct front *f)
{
    struct ucspi_info info;
    int rfd = ucspi_env_fd("SSLREADFD"), wfd = ucspi_env_fd("SSLWRITEFD");
    if (f->tls) {
        say(f, "-ERR already using TLS\r\n");
        return;
    }
    if (f->sslctl < 0 || rfd <= 2 || wfd <= 2) {
        say(f, "-ERR STLS is not available on this port; use port 995 for POP3 over SSL\r\n");
        return;
    }
    if (!ucspi_ask(f->sslctl)) {
        /* tlsd logged why; the session goes on in plaintext, without STLS on offer */
        close(f->sslctl);
        f->sslctl = -1;
        log_info("TLS unavailable ip=%s", f->ip);
        say(f, "-ERR [SYS/TEMP] TLS is not available at the moment; try again later\r\n");
        return;
    }
    say(f, "+OK Begin TLS negotiation\r\n");
    flush(f);
    /* CVE-2011-0411: plaintext sent after STLS must not be read as commands */
    lineio_in_clear(&f->in);
    if (ucspi_start(f->sslctl, &info) < 0) {
        log_info("TLS negotiation failed ip=%s", f->ip);
        f->done = 1;
        return;
    }
    /* for the login request (SSL_PROTOCOL=...); the value is printable ASCII; the mark says
       TLS began here on 110, where the plan rule of 995 does not apply */
    {
        char proto[sizeof info.protocol + sizeof POP3_STLS_MARK];
        (void)str_fmt(proto, sizeof proto, "%s" POP3_STLS_MARK,
                      info.protocol[0] ? info.protocol : "TLS");
        setenv("SSL_PROTOCOL", proto, 1);
    }
    close(f->sslctl);
    f->sslctl = -1;
    /* the crossing gets them as fd 0/1 (dup2 clears the flag there), never under their own
       numbers */
    if (fd_cloexec(rfd, 1) < 0 || fd_cloexec(wfd, 1) < 0) {
        f->done = 1;
        return;
    }
    f->rfd = rfd;
    f->wfd = wfd;
    f->tls = 1;
    f->userlen = 0;     /* forget everything learned before TLS */
}

/* ---- commands ---- */

static void capa(struct front *f)
{
    say(f, POP3_CAPA_HEAD);
    if (f->sslctl >= 0 && !f->tls) {
        say(f, "STLS\r\n");
    }
    say(f, POP3_CAPA_TAIL);
}

static void auth_plain(struct front *f, const char *b64, size_t n, const char *rest,
                       size_t restlen)
{
    char login_[AUTH_FIELD_MAX + 1], pass[AUTH_FIELD_MAX + 1];
    size_t loginlen, passlen;
    if (pop3_sasl_plain(b64, n, login_, &loginlen, pass, &passlen) < 0) {
        log_info("auth failed (malformed PLAIN response) ip=%s", f->ip);
        say(f, "-ERR [AUTH] invalid user name or password\r\n");
        return;
    }
    memcpy(f->user, login_, loginlen + 1);
    f->userlen = loginlen;
    login(f, pass, passlen, rest, restlen);
    memset(pass, 0, sizeof pass);
}

/* AUTH LOGIN (the mechanism Outlook and Apple Mail know): "Username:" and "Password:" as
   base64 challenges, one base64 line each; the user name may come as the initial response. */
static void auth_login(struct front *f, const char *b64, size_t n, const char *rest,
                       size_t restlen)
{
    char field[AUTH_FIELD_MAX + 1];
    size_t len;
    int pass = f->auth_wait == AUTH_LOGIN_PASS;

    f->auth_wait = AUTH_NONE;
    if (pop3_sasl_field(b64, n, field, &len) < 0) {
        log_info("auth failed (malformed LOGIN response) ip=%s", f->ip);
        say(f, "-ERR [AUTH] invalid user name or password\r\n");
        f->userlen = 0;
        return;
    }
    if (!pass) {
        memcpy(f->user, field, len + 1);
        f->userlen = len;
        say(f, "+ UGFzc3dvcmQ6\r\n");
        f->auth_wait = AUTH_LOGIN_PASS;
        return;
    }
    login(f, field, len, rest, restlen);
    explicit_bzero(field, sizeof field);
}

static void cmd_auth(struct front *f, const struct pop3_req *r, const char *rest,
                     size_t restlen)
{
    if (!r->arg) {
        /* the pre-RFC 5034 listing Outlook asks for */
        say(f, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
        return;
    }
    if (str_eq_nocase(r->arg, r->arglen, "LOGIN") && r->arglen == 5) {
        f->auth_wait = AUTH_LOGIN_USER;
        if (r->arg2) {
            auth_login(f, r->arg2, r->arg2len, rest, restlen);
        } else {
            say(f, "+ VXNlcm5hbWU6\r\n");
        }
        return;
    }
    if (!str_eq_nocase(r->arg, r->arglen, "PLAIN") || r->arglen != 5) {
        say(f, "-ERR unsupported authentication mechanism; use PLAIN or LOGIN\r\n");
        return;
    }
    if (!r->arg2) {
        say(f, "+ \r\n");
        f->auth_wait = AUTH_PLAIN;
        return;
    }
    auth_plain(f, r->arg2, r->arg2len, rest, restlen);
}

static void dispatch(struct front *f, const char *line, size_t len, const char *rest,
                     size_t restlen)
{
    struct pop3_req r;
    enum pop3_syntax syn;

    if (f->auth_wait != AUTH_NONE) {
        if (len == 1 && line[0] == '*') {
            f->auth_wait = AUTH_NONE;
            f->userlen = 0;
            say(f, "-ERR authentication cancelled\r\n");
        } else if (f->auth_wait == AUTH_PLAIN) {
            f->auth_wait = AUTH_NONE;
            auth_plain(f, line, len, rest, restlen);
        } else {
            auth_login(f, line, len, rest, restlen);
        }
        return;
    }
    syn = pop3_parse(line, len, &r);
    if (syn == POP3_SYNTAX_CTL) {
        say(f, "-ERR control characters are not allowed in commands\r\n");
        return;
    }
    if (syn == POP3_SYNTAX_ARGS) {
        say(f, "-ERR syntax error in the arguments of ");
        say(f, pop3_cmd_name(r.cmd));
        say(f, "\r\n");
        if (r.cmd == POP3_PASS) {
            f->userlen = 0;
        }
        return;
    }
    switch (r.cmd) {
    case POP3_CAPA: capa(f); break;
    case POP3_USER:
        memcpy(f->user, r.arg, r.arglen);
        f->user[r.arglen] = '\0';
        f->userlen = r.arglen;
        say(f, "+OK send your password\r\n");
        break;
    case POP3_PASS:
        if (f->userlen == 0) {
            say(f, "-ERR send USER with your mail address first\r\n");
        } else {
            login(f, r.arg, r.arglen, rest, restlen);
        }
        break;
    case POP3_AUTH: cmd_auth(f, &r, rest, restlen); break;
    case POP3_STLS: stls(f); break;
    case POP3_QUIT:
        say(f, "+OK yubin POP3 server signing off\r\n");
        f->done = 1;
        break;
    case POP3_APOP:
        say(f, "-ERR APOP is not supported; use USER and PASS\r\n");
        break;
    case POP3_UNKNOWN:
        say(f, "-ERR unknown command\r\n");
        break;
    default:
        say(f, "-ERR log in first with USER and PASS\r\n");
        break;
    }
}

/* Answer every complete line in the input buffer (RFC 2449 PIPELINING). Every line may be
   as long as an AUTH PLAIN response: RFC 2449's 255 octets bound what a client sends, but a
   USER or PASS line with a whole AUTH_FIELD_MAX field (a password the member page accepts),
   or AUTH PLAIN with its initial response, is longer, and Dovecot takes them too. dispatch
   gets the octets after the line too: a login hands them on to pop3d (through checkpw). */
static void run_lines(struct front *f)
{
    while (!f->done) {
        const char *line, *rest;
        size_t len, restlen;
        enum lineio_res r = lineio_next(&f->in, POP3_AUTH_LINE_MAX, &line, &len);
        if (r == LINEIO_PARTIAL) {
            break;
        }
        if (r == LINEIO_LONG) {
            say(f, "-ERR line too long\r\n");
            f->auth_wait = AUTH_NONE;
            continue;
        }
        rest = lineio_in_rest(&f->in, &restlen);
        dispatch(f, line, len, rest, restlen);     /* STLS clears f->in */
    }
}

static void loop(struct front *f)
{
    for (;;) {
        struct timespec now;
        time_t left;
        struct pollfd p;
        char *space;
        size_t room;
        ssize_t r;
        int k;
        run_lines(f);
        flush(f);
        if (f->done) {
            return;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = f->login_deadline - now.tv_sec;
        if (left <= 0) {
            /* bytes trickling in do not extend it: ten addresses could hold a port for good */
            log_info("login timeout ip=%s seconds=%u", f->ip, f->login_timeout);
            say(f, "-ERR [SYS/TEMP] no login within the time allowed; connect again and log "
                   "in\r\n");
            flush(f);
            return;
        }
        p.fd = f->rfd;
        p.events = POLLIN;
        k = poll(&p, 1, (int)((unsigned)left < f->timeout ? (unsigned)left : f->timeout) * 1000);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k == 0 && (unsigned)left > f->timeout) {
            log_info("timeout ip=%s", f->ip);   /* RFC 1939 §3: close silently */
            return;
        }
        if (k == 0) {
            continue;       /* the login deadline, said above */
        }
        space = lineio_in_space(&f->in, &room);
        r = fd_read(f->rfd, space, room);
        if (r <= 0) {
            return;
        }
        lineio_in_got(&f->in, (size_t)r);
    }
}

/* POP3_MAXPERIP (default 10, 0 = no limit): one address cannot take every connection slot.
   The slot (a flock()ed file in ROOT/run/pop) is held until this process ends. */
static int per_ip_slot(struct front *f, const char *root)
{
    unsigned long max = cfg_num("POP3_MAXPERIP", 10);
    char dir[YUBIN_PATH_MAX], line[POP3_REPLY_MAX];
    int fd, r;
    if (max == 0 || !*f->ip) {
        return 0;
    }
    if (cfg_path(dir, sizeof dir, root, "run/pop") < 0) {
        return 0;
    }
    r = ipslot_take(dir, f->ip, max, &fd);
    if (r == 1) {
        return 0;       /* fd kept open: the slot lives as long as the session */
    }
    if (r < 0) {
        log_warn_sys("per-IP limit not applied: cannot use %s", dir);
        return 0;
    }
    log_info("refused ip=%s: more than %lu connections", f->ip, max);
    snprintf(line, sizeof line, "-ERR [SYS/TEMP] too many connections from your address (at "
             "most %lu); close another mail program and try again\r\n", max);
    say(f, line);
    return -1;
}

int main(int argc, char **argv)
{
    static struct front fr;
    struct front *f = &fr;
    const char *root, *tls;

    (void)argc;
    log_init(argv[0] ? argv[0] : "pop3-front");
    if (getuid() == 0 || geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, SIG_DFL);       /* the write timeout ends the process (flush) */
    root = cfg_root();
    if (!root || cfg_path(f->sock, sizeof f->sock, root, "run/pop3d.sock") < 0
        || cfg_path(f->linksock, sizeof f->linksock, root, "run/pop3-link.sock") < 0) {
        die(EXIT_TEMP, "YUBIN_ROOT must be an absolute path");
    }
    f->root = root;
    f->rfd = 0;
    f->wfd = 1;
    lineio_in_init(&f->in, f->inbuf, sizeof f->inbuf);
    lineio_out_init(&f->out, f->outbuf, sizeof f->outbuf, out_write, f);
    f->ip = getenv("TCPREMOTEIP");
    if (!f->ip) {
        f->ip = "";
    }
    f->timeout = (unsigned)cfg_num("POP3_TIMEOUT", 600);
    if (f->timeout == 0) {
        f->timeout = 600;
    }
    tls = getenv("SSL_PROTOCOL");
    f->tls = tls && *tls;
    f->sslctl = ucspi_env_fd("SSLCTLFD");
    if (f->sslctl >= 0) {
        fd_cloexec(f->sslctl, 1);
    }
    if (per_ip_slot(f, root) < 0) {
        flush(f);
        return EXIT_DONE;
    }
    f->login_timeout = (unsigned)cfg_num("POP3_LOGIN_TIMEOUT", 180);
    if (f->login_timeout == 0 || f->login_timeout > 86400) {
        f->login_timeout = 180;
    }
    f->login_deadline = ipcfd_deadline(f->login_timeout);
    say(f, "+OK yubin POP3 server ready\r\n");
    loop(f);
    flush(f);
    return EXIT_DONE;
}

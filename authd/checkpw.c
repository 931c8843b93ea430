/* checkpw: checkpassword-style login check through authd, then exec PROG; runs as yubin-mbox
   (as yubin-link with -L) */
/*
 * usage: checkpw PROG...      classic checkpassword: reads "login\0password\0timestamp\0"
 *                             (at most 512 octets) from fd 3
 *        checkpw -s PROG...   pop3d crossing: reads "LOGIN\0PASSWORD\0" and up to
 *                             4096 octets of pipelined client input from fd 2 to EOF; fd 2
 *                             stays open as the log. Started on a listening socket
 *                             (run/pop3d.sock; lib/ipcserve: a child per login) each child
 *                             takes one ipcfd request with three fds (0/1 the client, 2 the
 *                             credentials) and
 *                             argv exactly "checkpw" "TCPREMOTEIP=IP" "SSL_PROTOCOL=PROTO"
 *                             (values at most 64 printable octets, may be empty), which it
 *                             exports; PROG comes from its own command line only
 *        checkpw -s -L PROG... the same on run/pop3-link.sock, as yubin-link, for a mailbox
 *                             homed on another node: PROG (pop3-link) runs in / instead of
 *                             the Maildir, which is not on this node
 *        checkpw -f PROG...   the internal POP3 service of a fleet node (docs/fleet.md), run
 *                             by tlsd -C per connection: the caller is the node whose
 *                             verified certificate CN (SSL_CLIENT_S_DN_CN) is fleet-NODE, NODE
 *                             in cdb/nodes.cdb; reads one request line on fd 0 (authreq.h
 *                             fleetreq): "login ..." runs PROG for that account with no
 *                             password (the front checked it) if its domain is homed here;
 *                             "grant IP ADDRESS" records a POP-before-SMTP grant and answers
 *                             "+OK"
 * Asks authd (service pop3, client TCPREMOTEIP); on success looks the account up in
 * cdb/users.cdb and execs PROG in the Maildir with USER, HOME, MAILDIR, QUOTA, PLAN, POP3S
 * (and POP3_PENDING, hex, with -s and -f).
 * Exit: 1 bad credentials, 2 misuse, 111 temporary failure (authd down, maps missing); on
 * success PROG's status.
 */
#include "acct.h"
#include "authclient.h"
#include "authreq.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "fleethome.h"
#include "grant.h"
#include "ipcserve.h"
#include "log.h"
#include "maildir.h"
#include "str.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECKPW_BAD         1       /* bad credentials (checkpassword interface) */
#define CHECKPW_MISUSE      2       /* misused (checkpassword interface) */
#define CHECKPW_TIMEOUT_S   30      /* for the input and for authd's answer */
#define CHECKPW_INPUT_MAX   (CHECKPW_MAX + POP3_PENDING_MAX)

struct checkpw {
    const char *root;
    int pending_mode;
    int link_mode;              /* -L: the Maildir is on another node */
    char **prog;
    char input[CHECKPW_INPUT_MAX + 1];  /* one octet more, to notice over-long input */
    size_t len;
    struct checkpw_input in;
    char login[AUTH_FIELD_MAX + 1];
    struct acct acct;
};

/* Read fd to EOF into cp->input within CHECKPW_TIMEOUT_S; over-long input is misuse. */
static void read_input(struct checkpw *cp, int fd)
{
    time_t deadline = time(NULL) + CHECKPW_TIMEOUT_S;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        time_t left = deadline - time(NULL);
        ssize_t r;
        int pr;
        if (left <= 0) {
            die(EXIT_TEMP, "timed out reading the credentials from fd %d", fd);
        }
        pr = poll(&p, 1, (int)left * 1000);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr < 0) {
            die_sys(EXIT_TEMP, "unable to poll fd %d", fd);
        }
        if (pr == 0) {
            continue;
        }
        r = fd_read(fd, cp->input + cp->len, sizeof cp->input - cp->len);
        if (r < 0) {
            if (errno == EBADF) {
                die(CHECKPW_MISUSE, "fd %d is not open for reading", fd);
            }
            die_sys(EXIT_TEMP, "unable to read fd %d", fd);
        }
        if (r == 0) {
            return;
        }
        cp->len += (size_t)r;
        if (cp->len == sizeof cp->input) {
            explicit_bzero(cp->input, sizeof cp->input);
            die(CHECKPW_MISUSE, "more than %d octets of input on fd %d",
                cp->pending_mode ? CHECKPW_INPUT_MAX : CHECKPW_MAX, fd);
        }
    }
}

static void set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) < 0) {
        die_sys(EXIT_TEMP, "unable to set %s", name);
    }
}

/* arg is "NAME=value" with value 0..CHECKPW_ARG_MAX printable ASCII octets: export it. */
static int take_arg(const char *arg, const char *name)
{
    size_t n = strlen(name), i;
    if (strncmp(arg, name, n) != 0 || arg[n] != '=' || strlen(arg + n + 1) > CHECKPW_ARG_MAX) {
        return -1;
    }
    for (i = n + 1; arg[i]; i++) {
        if ((unsigned char)arg[i] <= ' ' || (unsigned char)arg[i] > '~') {
            return -1;
        }
    }
    set_env(name, arg + n + 1);
    return 0;
}

/* The environment PROG gets (docs/internals.md "pop3d"). */
static void export_account(struct checkpw *cp, char *maildir, size_t cap)
{
    char home[YUBIN_PATH_MAX], num[24];
    char pending[2 * POP3_PENDING_MAX + 1];

    if (str_fmt(home, sizeof home, "%s/%s", cp->root, cp->acct.home) < 0
        || acct_maildir(cp->root, &cp->acct, maildir, cap) < 0) {
        die(EXIT_TEMP, "mailbox path too long for user=%s", cp->acct.addr);
    }
    set_env("USER", cp->acct.addr);
    set_env("HOME", home);
    set_env("MAILDIR", maildir);
    if (str_fmt(num, sizeof num, "%llu", (unsigned long long)cp->acct.quota) < 0) {
        die(EXIT_BUG, "quota does not fit");
    }
    set_env("QUOTA", num);
    set_env("PLAN", cp->acct.plan);
    set_env("POP3S", cp->acct.pop3s ? "1" : "0");
    if (cp->pending_mode) {
        if (hex_encode(cp->in.pending, cp->in.pendinglen, pending, sizeof pending) < 0) {
            die(EXIT_BUG, "pending input does not fit");
        }
        set_env("POP3_PENDING", pending);
    } else if (unsetenv("POP3_PENDING") < 0) {
        die_sys(EXIT_TEMP, "unable to unset POP3_PENDING");
    }
}

/* chdir to the Maildir; a new account that has had no mail yet gets an empty one. */
static void enter_maildir(const char *maildir, const char *user)
{
    if (chdir(maildir) == 0) {
        return;
    }
    if (errno != ENOENT) {
        die_sys(EXIT_TEMP, "unable to enter the Maildir of user=%s", user);
    }
    if (maildir_create(maildir, (uid_t)-1, (gid_t)-1) < 0) {
        die_sys(EXIT_TEMP, "unable to create the Maildir of user=%s", user);
    }
    log_info("created an empty Maildir for user=%s", user);
    if (chdir(maildir) < 0) {
        die_sys(EXIT_TEMP, "unable to enter the Maildir of user=%s", user);
    }
}

static void check(struct checkpw *cp)
{
    const char *ip = getenv("TCPREMOTEIP");
    int r = checkpw_parse(cp->input, cp->len, cp->pending_mode, &cp->in);

    if (r != 0) {
        explicit_bzero(cp->input, sizeof cp->input);
        if (r == CHECKPW_MISUSE) {
            die(CHECKPW_MISUSE, "malformed input: expected login\\0password\\0");
        }
        _exit(CHECKPW_BAD);
    }
    memcpy(cp->login, cp->in.login, cp->in.loginlen + 1);
    r = authclient_check(cp->root, "pop3", ip ? ip : "", cp->in.login, cp->in.loginlen,
                         cp->in.password, cp->in.passlen, CHECKPW_TIMEOUT_S);
    /* the pending bytes stay; the password goes */
    explicit_bzero((char *)cp->in.password, cp->in.passlen);
    if (r == 0) {
        _exit(CHECKPW_BAD);
    }
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to get an answer from authd");
    }
    r = acct_user(cp->root, cp->login, &cp->acct);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read %s/cdb/users.cdb", cp->root);
    }
    if (r == 0 || cp->acct.disabled) {
        _exit(CHECKPW_BAD);     /* removed or disabled since authd answered */
    }
}

/* In a fleet, a mailbox homed on another node is not served from this node's disk (a stale
   copy, or a Maildir made here by mistake): pop3-front sends such logins to pop3-link; this
   catches the moment its maps and ours disagree. */
static void not_elsewhere(struct checkpw *cp)
{
    static const char reply[] = "-ERR [SYS/TEMP] your mailbox was just moved to another "
                                "server; log in again\r\n";
    const char *at = strrchr(cp->acct.addr, '@');
    struct fleethome h;
    int r = at ? fleethome_get(cp->root, at + 1, &h) : 0;
    if (r < 0) {
        log_warn("unable to read the home of user=%s (served here): %s", cp->acct.addr,
                 fleethome_strerror(errno));
    }
    if (r == 1 && !h.here) {
        log_warn("refused user=%s: homed on node %s, not here", cp->acct.addr, h.node.name);
        (void)fd_write_all(1, reply, sizeof reply - 1);
        _exit(EXIT_DONE);
    }
}

/* One login: the credentials on fd 2 (-s) or 3, the account checked, PROG run in its Maildir.
   Never returns. */
static int login(struct checkpw *cp)
{
    char maildir[YUBIN_PATH_MAX];

    if (cp->pending_mode) {
        read_input(cp, 2);
    } else {
        read_input(cp, 3);
        close(3);
    }
    check(cp);
    if (cp->pending_mode && !cp->link_mode) {
        not_elsewhere(cp);
    }
    export_account(cp, maildir, sizeof maildir);
    if (cp->link_mode) {
        if (chdir("/") < 0) {
            die_sys(EXIT_TEMP, "unable to enter /");
        }
    } else {
        enter_maildir(maildir, cp->acct.addr);
    }
    explicit_bzero(cp->input, cp->in.pending ? (size_t)(cp->in.pending - cp->input) : cp->len);
    execvp(cp->prog[0], cp->prog);
    die_sys(EXIT_TEMP, "unable to run %s", cp->prog[0]);
}

/* -f: write a reply to the calling node and end. */
static void fleet_reply(const char *line)
{
    (void)fd_write_all(1, line, strlen(line));
    _exit(EXIT_DONE);
}

/* -f: the request line from fd 0 (the calling front sends nothing more until we answer). */
static void fleet_read(char *buf, size_t cap, size_t *len)
{
    time_t deadline = time(NULL) + CHECKPW_TIMEOUT_S;
    *len = 0;
    while (*len == 0 || buf[*len - 1] != '\n') {
        struct pollfd p = { 0, POLLIN, 0 };
        time_t left = deadline - time(NULL);
        ssize_t r;
        if (left <= 0) {
            die(EXIT_TEMP, "timed out reading the request of a fleet node");
        }
        if (poll(&p, 1, (int)left * 1000) < 0 && errno != EINTR) {
            die_sys(EXIT_TEMP, "unable to poll fd 0");
        }
        r = fd_read(0, buf + *len, cap - *len);
        if (r < 0 && errno == EAGAIN) {
            continue;
        }
        if (r <= 0 || (*len += (size_t)r) == cap) {
            die(CHECKPW_MISUSE, "a fleet node's request ended early or is too long");
        }
    }
}

/* -f: who calls (tlsd -C put the verified CN in SSL_CLIENT_S_DN_CN), into node: only a
   node's pop3-link (CN link-NODE), never its remote (fleet-NODE), whose key the outbound
   network parser holds. */
static void fleet_caller(const char *root, char *node, size_t cap)
{
    const char *cn = getenv("SSL_CLIENT_S_DN_CN");
    size_t k = sizeof FLEET_LINK_CN_PREFIX - 1;
    struct fleethome_node n;
    if (!cn || strncmp(cn, FLEET_LINK_CN_PREFIX, k) != 0 || fleethome_node(root, cn + k, &n) != 1
        || strlen(cn + k) >= cap) {
        die(CHECKPW_MISUSE, "refused a caller that is not a fleet node's POP3 link (certificate "
            "CN %s; link-NODE expected)", cn ? cn : "missing; run under tlsd -C");
    }
    memcpy(node, cn + k, strlen(cn + k) + 1);
}

/* -f: one request of a front (docs/fleet.md "POP3 through any node"). Never returns. */
static int fleet_request(struct checkpw *cp)
{
    static const char moving[] = "-ERR [SYS/TEMP] your mailbox is being moved between servers; "
                                 "try again in a minute\r\n";
    char buf[FLEETREQ_MAX], node[FLEET_NODE_MAX + 1], maildir[YUBIN_PATH_MAX];
    const char *at;
    struct fleetreq rq;
    struct fleethome h;
    size_t len;

    fleet_caller(cp->root, node, sizeof node);
    fleet_read(buf, sizeof buf, &len);
    if (fleetreq_parse(buf, len, &rq) < 0) {
        die(CHECKPW_MISUSE, "malformed request from node %s", node);
    }
    if (rq.kind == FLEETREQ_GRANT) {
        if (grant_write(cp->root, rq.ip, rq.user) < 0) {
            log_warn_sys("unable to record the grant of node %s ip=%s user=%s", node, rq.ip,
                         rq.user);
            fleet_reply("-ERR [SYS/TEMP] grant not recorded\r\n");
        }
        if (grant_sweep(cp->root, cfg_num("RELAY_WINDOW", 600)) < 0) {
            log_warn_sys("unable to remove expired POP-before-SMTP grants");
        }
        log_info("grant ip=%s user=%s from node %s", rq.ip, rq.user, node);
        fleet_reply("+OK\r\n");
    }
    at = strrchr(rq.user, '@');
    if (at && fleethome_get(cp->root, at + 1, &h) < 0) {
        log_warn("refused a session of node %s for user=%s: unable to read the home: %s", node,
                 rq.user, fleethome_strerror(errno));
        fleet_reply(moving);
    }
    if (!at || !h.here) {
        /* the front's maps and ours disagree (a move in progress): it will agree soon */
        log_warn("refused a session of node %s for user=%s: not homed here", node, rq.user);
        fleet_reply(moving);
    }
    if (acct_user(cp->root, rq.user, &cp->acct) != 1 || cp->acct.disabled) {
        log_warn("refused a session of node %s for user=%s: no such account here", node,
                 rq.user);
        fleet_reply("-ERR [SYS/TEMP] your account is not known on the server that keeps your "
                    "mailbox yet; try again in a minute\r\n");
    }
    set_env("TCPREMOTEIP", rq.ip);
    set_env("SSL_PROTOCOL", rq.proto);
    export_account(cp, maildir, sizeof maildir);
    set_env("POP3_PENDING", rq.hex);
    enter_maildir(maildir, cp->acct.addr);
    log_info("session for node %s user=%s ip=%s", node, rq.user, rq.ip);
    execvp(cp->prog[0], cp->prog);
    die_sys(EXIT_TEMP, "unable to run %s", cp->prog[0]);
}

/* A request on run/pop3d.sock (docs/internals.md "pop3d"): the client on fds 0/1, the
   credentials on fd 2, argv exactly checkpw TCPREMOTEIP=IP SSL_PROTOCOL=PROTO. */
static int serve_login(int argc, char **argv, void *ctx)
{
    if (argc != 3 || strcmp(argv[0], "checkpw") != 0 || take_arg(argv[1], "TCPREMOTEIP") < 0
        || take_arg(argv[2], "SSL_PROTOCOL") < 0) {
        die(CHECKPW_MISUSE, "malformed request: expected checkpw TCPREMOTEIP=IP "
            "SSL_PROTOCOL=PROTO");
    }
    return login(ctx);
}

int main(int argc, char **argv)
{
    struct checkpw cp;
    int opt, fleet = 0;

    log_init("checkpw");
    memset(&cp, 0, sizeof cp);
    if ((getuid() == 0 || geteuid() == 0) && !cfg_flag("YUBIN_ALLOW_ROOT")) {
        die(EXIT_TEMP, "refusing to run as root (run it as the mailbox user)");
    }
    while ((opt = getopt(argc, argv, "+sLf")) != -1) {
        if (opt == 's') {
            cp.pending_mode = 1;
        } else if (opt == 'L') {
            cp.link_mode = 1;
        } else if (opt == 'f') {
            fleet = 1;
        } else {
            die(CHECKPW_MISUSE, "usage: checkpw [-s [-L] | -f] PROG...");
        }
    }
    if (optind >= argc || (fleet && (cp.pending_mode || cp.link_mode))) {
        die(CHECKPW_MISUSE, "usage: checkpw [-s [-L] | -f] PROG...");
    }
    cp.prog = argv + optind;
    cp.root = cfg_root();
    if (!cp.root) {
        die(EXIT_TEMP, "YUBIN_ROOT is not set to an absolute path");
    }
    if (fleet) {
        return fleet_request(&cp);
    }
    if (cp.pending_mode && ipcserve_listening(0)) {
        /* run/pop3d.sock (run/pop3-link.sock): each request is one login; a killed child
           answers 128+N so that pop3-front can tell a crash from a temporary failure */
        const char *sock = cp.link_mode ? "run/pop3-link.sock" : "run/pop3d.sock";
        struct ipcserve srv = { sock, 3, (unsigned)cfg_num("POP3D_MAXCONN", 400),
                                IPCSERVE_SIGNAL_HIGH, serve_login, &cp, 1 };
        if (srv.maxconn < 1 || srv.maxconn > IPCSERVE_CONN_MAX) {
            srv.maxconn = 400;
        }
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve %s", sock);
        }
        return EXIT_DONE;
    }
    return login(&cp);
}

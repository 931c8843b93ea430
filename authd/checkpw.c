/* checkpw: checkpassword-style login check through authd, then exec PROG; runs as yubin-mbox */
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
 * Asks authd (service pop3, client TCPREMOTEIP); on success looks the account up in
 * cdb/users.cdb and execs PROG in the Maildir with USER, HOME, MAILDIR, QUOTA, PLAN, POP3S
 * (and POP3_PENDING, hex, with -s).
 * Exit: 1 bad credentials, 2 misuse, 111 temporary failure (authd down, maps missing); on
 * success PROG's status.
 */
#include "acct.h"
#include "authclient.h"
#include "authreq.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
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
    export_account(cp, maildir, sizeof maildir);
    enter_maildir(maildir, cp->acct.addr);
    explicit_bzero(cp->input, cp->in.pending ? (size_t)(cp->in.pending - cp->input) : cp->len);
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
    int opt;

    log_init("checkpw");
    memset(&cp, 0, sizeof cp);
    if ((getuid() == 0 || geteuid() == 0) && !cfg_flag("YUBIN_ALLOW_ROOT")) {
        die(EXIT_TEMP, "refusing to run as root (run it as the mailbox user)");
    }
    while ((opt = getopt(argc, argv, "+s")) != -1) {
        if (opt != 's') {
            die(CHECKPW_MISUSE, "usage: checkpw [-s] PROG...");
        }
        cp.pending_mode = 1;
    }
    if (optind >= argc) {
        die(CHECKPW_MISUSE, "usage: checkpw [-s] PROG...");
    }
    cp.prog = argv + optind;
    cp.root = cfg_root();
    if (!cp.root) {
        die(EXIT_TEMP, "YUBIN_ROOT is not set to an absolute path");
    }
    if (cp.pending_mode && ipcserve_listening(0)) {
        /* run/pop3d.sock: each request is one login; a killed child answers 128+N so that
           pop3-front can tell a crash from a temporary failure */
        struct ipcserve srv = { "run/pop3d.sock", 3, (unsigned)cfg_num("POP3D_MAXCONN", 400),
                                IPCSERVE_SIGNAL_HIGH, serve_login, &cp };
        if (srv.maxconn < 1 || srv.maxconn > IPCSERVE_CONN_MAX) {
            srv.maxconn = 400;
        }
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve run/pop3d.sock");
        }
        return EXIT_DONE;
    }
    return login(&cp);
}

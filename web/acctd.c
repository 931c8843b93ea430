/* acctd: the member page's one crossing to the account maps: changes a member's password,
   answers quota use, lists a domain and files its administrator's applications; serves
   run/acctd.sock for yubin-web; runs as root (mailacct's uid) */
/*
 * Started on the listening socket by service/acctd (lib/ipcserve: the caller's uid must be in
 * IPCFD_PEERS, the uids of the roles in service/acctd/access: web). Every request carries two
 * fds: fd 0 what the caller sends beyond argv (secrets, a session id), fd 1 where the answer's
 * text goes (the exit status is the verdict). Requests:
 *     "passwd" ADDRESS CLIENT-IP   fd 0 "CURRENT\0NEW\0" (never in argv; wiped after use)
 *     "usage" ADDRESS              fd 1 "BYTES COUNT KNOWN\n" (the summary in quota/)
 *     "list" [FROM]                fd 0 "SESSION\n"; fd 1 "TOTAL FROM\n", then at most
 *                                  WEB_LIST_PAGE lines "ADDR QUOTA PLAN USED COUNT\n" from the
 *                                  domain's FROM-th address (0-based; past the end: the last
 *                                  page)
 *     "pending" [FROM]             fd 0 "SESSION\n"; fd 1 "WAITING DECIDED FROM\n", then
 *                                  "ID KIND TARGET DATE STATE[ REASON]\n"...: the waiting ones
 *                                  (at most 100, oldest first), then a page of those decided in
 *                                  the last 14 days, newest first, from the FROM-th (DATE: the
 *                                  due date while waiting, the day it was decided after;
 *                                  web/applist.h); decided records past the 14 days are removed
 *     "apply" CLIENT-IP KIND TARGET fd 0 "SESSION\n"; fd 1 "ID DUE\n", then "approved\n" and
 *                                  what `mailacct approve` printed when the domain applies at once
 *                                  (only for an added address or a new password, and only up
 *                                  to ACCTD_SHEET_MAX: the sheet; an approval that fails, or an
 *                                  added address past the domain's cap of WEB_AUTO_ADD_MAX in
 *                                  24 hours: exit 0 without it; the application is filed and
 *                                  waits for the operator); exit 100 with "limit\n":
 *                                  APPLY_WAITING_MAX wait
 * acctd trusts none of it. passwd: the address must be a map address, the new password 1..255
 * octets without control characters and at least WEB_PASSWORD_MIN long, and the current
 * password must be right, asked of authd (service=web, the client's IP: the same throttling
 * as every login), so a caller that is not the member gains nothing; then `mailacct passwd`.
 * list, pending, apply: SESSION is the administrator's session id (the cookie); acctd reads
 * the session file itself (ROOT/web/sessions) and takes the domain from it, never from the
 * caller, so a broken page program cannot act for a domain without a live administrator
 * session of that domain. An application is checked (the address in that domain, existing or
 * not as the kind needs, a known plan), written to ROOT/requests/ID (root 0600, atomically and
 * durably: 111 with nothing filed when it cannot be),
 * logged in ROOT/log/audit, and carried out at once by `mailacct approve ID` when the domain
 * is set to auto-approve (etc/webadmins); new addresses only while the domain's auto-approval
 * has added fewer than WEB_AUTO_ADD_MAX (etc/env, default APPLY_AUTO_ADD_MAX; 0 no cap) in the
 * last 24 hours (applist_auto_added), so that a stolen administrator password cannot make
 * accounts by the hundred, each with its own sending limits. docs/web.md.
 * Exit status: 0 done; 1 the current password is wrong (or throttled); 100 refused (bad
 * request, no such account, not applicable, no administrator session); 111 temporary.
 */
#include "acctd.h"
#include "authclient.h"
#include "addr.h"
#include "apply.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcserve.h"
#include "limits.h"
#include "log.h"
#include "str.h"
#include "webparse.h"
#include "buf.h"
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACCTD_SECRETS_MAX   (2 * (AUTH_FIELD_MAX + 1) + 1)    /* + 1: a full buffer = too long */

/* "CURRENT\0NEW\0" from fd 0, exactly; 0 ok, -1 malformed. */
static int read_secrets(char *buf, size_t cap, const char **cur, const char **pw)
{
    ssize_t n = fd_read_full(0, buf, cap);
    char *nul;
    if (n <= 0 || (size_t)n == cap) {
        return -1;
    }
    nul = memchr(buf, '\0', (size_t)n);
    if (!nul || (size_t)(nul - buf) + 1 >= (size_t)n || buf[n - 1] != '\0'
        || memchr(nul + 1, '\0', (size_t)(buf + n - 1 - (nul + 1)))) {
        return -1;
    }
    *cur = buf;
    *pw = nul + 1;
    return 0;
}

/* ROOT/bin/mailacct --root ROOT ARGS...: stdin the text in (NULL: /dev/null), stdout
   captured into out (NULL: discarded), stderr our log. Its exit status; EXIT_TEMP (logged)
   when it printed more than out's max. */
int run_mailacct(const char *root, const char *const *args, const char *in, struct buf *out)
{
    char prog[YUBIN_PATH_MAX];
    const char *argv[12];
    int p[2] = { -1, -1 }, o[2] = { -1, -1 }, st, over = 0;
    size_t k = 0;
    pid_t pid;
    if (str_fmt(prog, sizeof prog, "%s/bin/mailacct", root) < 0) {
        return EXIT_TEMP;
    }
    argv[k++] = prog;
    argv[k++] = "--root";
    argv[k++] = root;
    while (*args && k < sizeof argv / sizeof argv[0] - 1) {
        argv[k++] = *args++;
    }
    argv[k] = NULL;
    if (in) {
        /* a password and its newline fit the pipe's buffer (AUTH_FIELD_MAX < PIPE_BUF) */
        if (pipe(p) < 0) {
            return EXIT_TEMP;
        }
        if (fd_write_all(p[1], in, strlen(in)) < 0 || fd_write_all(p[1], "\n", 1) < 0) {
            close(p[0]);
            close(p[1]);
            return EXIT_TEMP;
        }
        close(p[1]);
    }
    if (out && pipe(o) < 0) {
        if (in) {
            close(p[0]);
        }
        return EXIT_TEMP;
    }
    pid = fork();
    if (pid < 0) {
        st = EXIT_TEMP;
        goto done;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(in ? p[0] : null, 0) < 0 || dup2(out ? o[1] : null, 1) < 0) {
            _exit(EXIT_TEMP);
        }
        execv(prog, (char *const *)argv);
        _exit(EXIT_TEMP);
    }
    if (out) {
        char chunk[4096];
        ssize_t n;
        close(o[1]);
        o[1] = -1;
        while ((n = fd_read(o[0], chunk, sizeof chunk)) > 0) {
            /* over out's max: read to the end (the child must not block on a full pipe),
               and the request fails rather than answer with part of the text */
            if (!over && buf_append(out, chunk, (size_t)n) < 0) {
                over = 1;
            }
        }
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            st = -1;
            break;
        }
    }
    st = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP;
    if (over) {
        log_warn("mailacct %s printed more than %zu octets: not answered", argv[3] ? argv[3] : "",
                 out->max);
        st = EXIT_TEMP;
    }
done:
    if (in) {
        close(p[0]);
    }
    if (out) {
        close(o[0]);
        if (o[1] >= 0) {
            close(o[1]);
        }
    }
    return st;
}

static int do_passwd(const struct acctd *d, int argc, char **argv)
{
    char addr[ADDR_MAX + 1], secrets[ACCTD_SECRETS_MAX];
    const char *cur = NULL, *pw = NULL, *ip;
    size_t n;
    int r;

    if (argc != 3) {
        log_warn("refused: malformed passwd request");
        return EXIT_PERM;
    }
    n = strlen(argv[1]);
    ip = argv[2];
    if (str_fmt(addr, sizeof addr, "%s", argv[1]) < 0) {
        log_warn("refused: address too long");
        return EXIT_PERM;
    }
    str_lower(addr, n);
    if (!addr_map_ok(addr, n) || (ip[0] && !str_ip_text_ok(ip))) {
        log_warn("refused: bad address or client address");
        return EXIT_PERM;
    }
    if (read_secrets(secrets, sizeof secrets, &cur, &pw) < 0) {
        explicit_bzero(secrets, sizeof secrets);
        log_warn("refused: malformed secrets user=%s", addr);
        return EXIT_PERM;
    }
    if (!web_password_ok(pw)) {
        explicit_bzero(secrets, sizeof secrets);
        log_info("refused: new password not acceptable user=%s ip=%s", addr, ip);
        return EXIT_PERM;
    }
    r = authclient_check(d->root, "web", ip, addr, strlen(addr), cur, strlen(cur),
                         ACCTD_AUTH_TIMEOUT);
    if (r != 1) {
        explicit_bzero(secrets, sizeof secrets);
        log_info("refused: current password %s user=%s ip=%s",
                 r == 0 ? "wrong" : "not checked (authd unreachable)", addr, ip);
        return r == 0 ? ACCTD_EXIT_BADAUTH : EXIT_TEMP;
    }
    {
        const char *args[] = { "passwd", addr, NULL };
        r = run_mailacct(d->root, args, pw, NULL);
    }
    explicit_bzero(secrets, sizeof secrets);
    if (r == 0) {
        log_info("password changed user=%s ip=%s", addr, ip);
    } else {
        log_warn("mailacct passwd exited %d user=%s ip=%s", r, addr, ip);
    }
    return r;
}

int answer(const struct buf *b)
{
    return b->len && fd_write_all(1, b->s, b->len) < 0 ? EXIT_TEMP : EXIT_DONE;
}

static int do_usage(const struct acctd *d, int argc, char **argv)
{
    char addr[ADDR_MAX + 1], line[64];
    uint64_t used = 0, count = 0;
    int u;
    if (argc != 2 || str_fmt(addr, sizeof addr, "%s", argv[1]) < 0) {
        return EXIT_PERM;
    }
    str_lower(addr, strlen(addr));
    if (!addr_map_ok(addr, strlen(addr))) {
        return EXIT_PERM;
    }
    u = usage_read(d->root, addr, &used, &count);
    if (u < 0) {
        log_warn_sys("unable to read quota/%s", addr);
        return EXIT_TEMP;
    }
    snprintf(line, sizeof line, "%llu %llu %d\n", (unsigned long long)used,
             (unsigned long long)count, u);
    return fd_write_all(1, line, strlen(line)) < 0 ? EXIT_TEMP : EXIT_DONE;
}

static int serve(int argc, char **argv, void *ctx)
{
    const struct acctd *d = ctx;
    if (argc >= 1 && strcmp(argv[0], "passwd") == 0) {
        return do_passwd(d, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "usage") == 0) {
        return do_usage(d, argc, argv);
    }
    if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0) {
        return do_list(d, argc, argv);
    }
    if ((argc == 1 || argc == 2) && strcmp(argv[0], "pending") == 0) {
        return do_pending(d, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "apply") == 0) {
        return do_apply(d, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "admin-login") == 0) {
        return do_admin_login(d, argc, argv);
    }
    log_warn("refused: unknown request");
    return EXIT_PERM;
}

int main(void)
{
    struct acctd d;
    log_init("acctd");
    d.root = cfg_root();
    if (!d.root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    d.auto_add_max = cfg_num("WEB_AUTO_ADD_MAX", APPLY_AUTO_ADD_MAX);
    if (ipcserve_listening(0) != 1) {
        die(EXIT_PERM, "fd 0 is not a listening socket (start me under "
            "s6-ipcserver-socketbinder)");
    }
    {
        struct ipcserve srv = { "run/acctd.sock", 2, 8, 0, serve, &d, 1 };
        return ipcserve(&srv) < 0 ? EXIT_TEMP : EXIT_DONE;
    }
}

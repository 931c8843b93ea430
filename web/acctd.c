/* acctd: the member page's one crossing to the account maps: changes a member's password with
   mailacct's own code; serves run/acctd.sock for yubin-web; runs as root (mailacct's uid) */
/*
 * Started on the listening socket by service/acctd (lib/ipcserve: the caller's uid must be in
 * IPCFD_PEERS, the uids of the roles in service/acctd/access: web). One request:
 *     argv   "passwd" ADDRESS CLIENT-IP
 *     fd 0   "CURRENT\0NEW\0" (the secrets travel on a pipe, never in argv; wiped after use)
 * acctd trusts none of it: the address must be a map address, the new password 1..255 octets
 * without control characters and at least WEB_PASSWORD_MIN long, and the current password
 * must be right, asked of authd (service=web, the client's IP: the same throttling as every
 * login), so a caller that is not the member gains nothing. Then it runs
 * `mailacct --root ROOT passwd ADDRESS` with the new password on its standard input: the
 * same code as the operator's command (single server: etc/users and the cdbs; fleet: the etcd
 * transaction), live for POP3 and SMTP when it returns. mailacct's stdout is discarded, its
 * stderr is this service's log.
 * Exit status (the answer the caller gets): 0 changed; 1 the current password is wrong (or
 * throttled); 100 refused (bad request, bad new password, no such account); 111 temporary.
 */
#include "authclient.h"
#include "addr.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcserve.h"
#include "limits.h"
#include "log.h"
#include "str.h"
#include "webparse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACCTD_EXIT_BADAUTH  1
#define ACCTD_SECRETS_MAX   (2 * (AUTH_FIELD_MAX + 1))
#define ACCTD_AUTH_TIMEOUT  30      /* seconds authd may take (its throttle waits up to 20) */

struct acctd {
    const char *root;
};

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

/* mailacct --root ROOT passwd ADDR, the new password on its stdin; its exit status. */
static int run_mailacct(const char *root, const char *addr, const char *pw)
{
    char prog[YUBIN_PATH_MAX];
    int p[2], st;
    pid_t pid;
    if (str_fmt(prog, sizeof prog, "%s/bin/mailacct", root) < 0 || pipe(p) < 0) {
        return EXIT_TEMP;
    }
    /* the password and its newline fit the pipe's buffer (AUTH_FIELD_MAX < PIPE_BUF) */
    if (fd_write_all(p[1], pw, strlen(pw)) < 0 || fd_write_all(p[1], "\n", 1) < 0) {
        close(p[0]);
        close(p[1]);
        return EXIT_TEMP;
    }
    close(p[1]);
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        return EXIT_TEMP;
    }
    if (pid == 0) {
        const char *argv[] = { prog, "--root", root, "passwd", addr, NULL };
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null < 0 || dup2(p[0], 0) < 0 || dup2(null, 1) < 0) {
            _exit(EXIT_TEMP);
        }
        execv(prog, (char *const *)argv);
        _exit(EXIT_TEMP);
    }
    close(p[0]);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return EXIT_TEMP;
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP;
}

static int serve(int argc, char **argv, void *ctx)
{
    const struct acctd *d = ctx;
    char addr[ADDR_MAX + 1], secrets[ACCTD_SECRETS_MAX];
    const char *cur = NULL, *pw = NULL, *ip;
    size_t n;
    int r;

    if (argc != 3 || strcmp(argv[0], "passwd") != 0) {
        log_warn("refused: not a passwd request");
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
    r = run_mailacct(d->root, addr, pw);
    explicit_bzero(secrets, sizeof secrets);
    if (r == 0) {
        log_info("password changed user=%s ip=%s", addr, ip);
    } else {
        log_warn("mailacct passwd exited %d user=%s ip=%s", r, addr, ip);
    }
    return r;
}

int main(void)
{
    struct acctd d;
    log_init("acctd");
    d.root = cfg_root();
    if (!d.root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    if (ipcserve_listening(0) != 1) {
        die(EXIT_PERM, "fd 0 is not a listening socket (start me under "
            "s6-ipcserver-socketbinder)");
    }
    {
        struct ipcserve srv = { "run/acctd.sock", 1, 8, 0, serve, &d };
        return ipcserve(&srv) < 0 ? EXIT_TEMP : EXIT_DONE;
    }
}

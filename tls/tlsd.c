/* tlsd: TLS for one connection (-S: per STARTTLS request); root to read the key, then yubin-tls */
#include "tlsd.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcserve.h"
#include "log.h"
#include "pump.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TLSD_HANDSHAKE_DEFAULT 30       /* seconds for the whole handshake */
#define TLSD_IDLE_DEFAULT      1200     /* seconds without traffic; > every protocol timeout */
#define TLSD_REFUSE_WAIT_MS    5000     /* for the ClientHello we answer with an alert */
#define TLSD_SERVE_DEFAULT     1000     /* -S: handshakes at once (SMTP_MAXCONN's default) */
#define TLSD_SERVE_FD_SPARE    32       /* -S: the loop's fds besides one per handshake */

static void usage(void)
{
    die(EXIT_PERM, "usage: tlsd [-i|-s] [-h] [-u USER|UID:GID] [-c UID:GID] [-t SECONDS] "
                   "[-T SECONDS] [-d DIR] [-k SOCKET] [-C CAFILE] -- PROGRAM... "
                   "| tlsd -S [-u USER|UID:GID] [-n MAX] [-t SECONDS] [-d DIR] [-k SOCKET] "
                   "| tlsd --check [-d DIR]");
}

/* "UID:GID", both decimal, neither 0 (root) nor (id_t)-1 (the "unchanged" value of the
   set*id calls). 0 ok, -1 malformed or root. */
static int parse_ids(const char *s, uid_t *uid, gid_t *gid)
{
    const char *colon = strchr(s, ':');
    uint64_t u, g;

    if (!colon || str_to_u64(s, (size_t)(colon - s), &u) < 0
        || str_to_u64(colon + 1, strlen(colon + 1), &g) < 0) {
        return -1;
    }
    if (u == 0 || g == 0 || u >= (uid_t)-1 || g >= (gid_t)-1) {
        return -1;
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

static void parse_args(struct tlsd *t, int argc, char **argv)
{
    int i;
    const char *root = getenv("YUBIN_ROOT");

    t->mode = MODE_IMPLICIT;
    t->handshake_s = TLSD_HANDSHAKE_DEFAULT;
    t->idle_s = TLSD_IDLE_DEFAULT;
    t->maxconn = TLSD_SERVE_DEFAULT;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--check") == 0) {
            t->mode = MODE_CHECK;
        } else if (strcmp(a, "-i") == 0) {
            t->mode = MODE_IMPLICIT;
        } else if (strcmp(a, "-s") == 0) {
            t->mode = MODE_STARTTLS;
        } else if (strcmp(a, "-S") == 0) {
            t->mode = MODE_SERVE;
        } else if (strcmp(a, "-h") == 0) {
            t->handoff = 1;
        } else if ((strcmp(a, "-u") == 0 || strcmp(a, "-t") == 0 || strcmp(a, "-T") == 0
                    || strcmp(a, "-d") == 0 || strcmp(a, "-c") == 0 || strcmp(a, "-k") == 0
                    || strcmp(a, "-C") == 0 || strcmp(a, "-n") == 0)
                   && i + 1 < argc) {
            const char *v = argv[++i];
            uint64_t n;
            if (a[1] == 'u') {
                t->user = v;
            } else if (a[1] == 'c') {
                if (parse_ids(v, &t->child_uid, &t->child_gid) < 0) {
                    die(EXIT_PERM, "-c %s: give numeric UID:GID, neither of them 0", v);
                }
                t->child_ids = v;
            } else if (a[1] == 'd') {
                t->dir = v;
            } else if (a[1] == 'k') {
                t->keysock = v;
            } else if (a[1] == 'C') {
                t->cafile = v;
            } else if (str_to_u64(v, strlen(v), &n) < 0 || n == 0 || n > 86400) {
                usage();
            } else if (a[1] == 'n') {
                if (n > IPCSERVE_CONN_MAX) {
                    die(EXIT_PERM, "-n %s: at most %d handshakes at once", v, IPCSERVE_CONN_MAX);
                }
                t->maxconn = (unsigned)n;
            } else if (a[1] == 't') {
                t->handshake_s = (unsigned long)n;
            } else {
                t->idle_s = (unsigned long)n;
            }
        } else if (a[0] == '-') {
            usage();
        } else {
            break;
        }
    }
    t->prog = argv + i;
    if (t->mode == MODE_SERVE ? t->prog[0] != NULL : t->mode != MODE_CHECK && !t->prog[0]) {
        usage();
    }
    if (!t->dir) {
        if (!root || root[0] != '/'
            || str_fmt(t->dirbuf, sizeof t->dirbuf, "%s/etc/tls", root) < 0) {
            die(EXIT_PERM, "no certificate directory: give -d DIR or set YUBIN_ROOT");
        }
        t->dir = t->dirbuf;
    }
}

/* The checked drop (STYLE.md "Privileges"), for tlsd itself (-u, before touching the
   network) and for the child (-c, right after the fork): the gid as the only group, gid, uid,
   then proof that root cannot be regained. WHO names the target in messages. */
void drop_to(uid_t uid, gid_t gid, const char *who)
{
    if (setgroups(1, &gid) < 0) {
        die_sys(EXIT_TEMP, "unable to setgroups %s", who);
    }
    if (setgid(gid) < 0) {
        die_sys(EXIT_TEMP, "unable to setgid %s", who);
    }
    if (setuid(uid) < 0) {
        die_sys(EXIT_TEMP, "unable to setuid %s", who);
    }
    if (setuid(0) == 0 || geteuid() == 0 || getuid() != uid || getegid() != gid
        || getgid() != gid) {
        die(EXIT_BUG, "privileges were not dropped to %s", who);
    }
}

/* -c: whether the child has to drop. Root: yes. Not root: only our own ids make sense, and
   then there is nothing to do. */
static void check_child_ids(struct tlsd *t)
{
    if (!t->child_ids) {
        return;
    }
    if (geteuid() == 0) {
        t->child_drop = 1;
    } else if (t->child_uid != geteuid() || t->child_gid != getegid()) {
        die(EXIT_PERM, "-c %s needs root", t->child_ids);
    }
}

/* -u: the ids tlsd becomes before it reads the network, as a user name (getpwnam: opens
   /etc/passwd, NSS) or as numeric UID:GID resolved once by the run script. Sets t->drop
   when there is something to drop (root); not root, -u may only name ourselves. */
static void resolve_user(struct tlsd *t)
{
    const struct passwd *pw;

    if (!t->user) {
        if (geteuid() == 0) {
            die(EXIT_PERM, "refusing to handle the network as root: give -u USER");
        }
        return;
    }
    if (strchr(t->user, ':')) {     /* no user name has a ':' (passwd(5)) */
        if (parse_ids(t->user, &t->uid, &t->gid) < 0) {
            die(EXIT_PERM, "-u %s: give a user name or numeric UID:GID, neither of them 0",
                t->user);
        }
    } else {
        pw = getpwnam(t->user);
        if (!pw) {
            die(EXIT_PERM, "unknown user %s", t->user);
        }
        if (pw->pw_uid == 0) {
            die(EXIT_PERM, "-u %s: refusing to run as root", t->user);
        }
        t->uid = pw->pw_uid;
        t->gid = pw->pw_gid;
    }
    if (geteuid() != 0) {
        if (t->uid != geteuid()) {
            die(EXIT_PERM, "-u %s needs root", t->user);
        }
        return;
    }
    t->drop = 1;
}

/* TLS was asked for (or, -i, is the point) but the certificates are unusable (t->keyerr).
   Closing our ends tells the child: smtpd/pop3-front see SSLCTLFD close without a report and
   end the session as after a failed handshake; the -i child exits without running PROGRAM.
   The client, whose ClientHello is on its way, gets a fatal alert rather than a bare close.
   Then the line operators know, exit 100. */
static void refuse(struct tlsd *t)
{
    close_ours(t);
    keys_raw_free(&t->raw);
    keys_free(&t->keys);
    if (engine_setup(t) == 0) {
        (void)pump_wait(&t->sc.eng, 0, 1, BR_SSL_SENDAPP | BR_SSL_RECVAPP,
                        pump_now_ms() + TLSD_REFUSE_WAIT_MS);
    }
    reap(t);
    die(EXIT_PERM, "refusing connection ip=%s: %s", t->ip, t->keyerr);
}

/* The session from the drop on: for STARTTLS the child's start byte first (or the end of
   the session without TLS), then the handshake, and the records handed to the child (-h) or
   relayed until the session ends. t->child is 0 under -S: the daemon is not our child. */
static int run_session(struct tlsd *t)
{
    int want_report = 1, logged = 0;

    if (t->mode == MODE_STARTTLS) {
        if (!wait_start(t, &want_report)) {
            keys_raw_free(&t->raw);
            keys_free(&t->keys);
            close_ours(t);
            while (t->child > 0 && waitpid(t->child, NULL, 0) < 0 && errno == EINTR) {
            }
            return EXIT_DONE;
        }
    }
    if (parse_keys(t) < 0) {
        refuse(t);
    }
    if (handshake(t) < 0) {
        keys_free(&t->keys);
        close_ours(t);
        reap(t);
        return EXIT_DONE;
    }
    if (t->handoff && hand_off(t) < 0) {
        keys_free(&t->keys);
        close_ours(t);
        reap(t);
        return EXIT_DONE;
    }
    /* smtpd logs a STARTTLS session it took over (its line names the SMTP session too):
       one line per handshake, not two */
    if (t->mode == MODE_STARTTLS && want_report) {
        if (send_report(t->ctl, &t->report) < 0) {
            log_warn_sys("ip=%s: unable to send the handshake report", t->ip);
        } else {
            logged = t->handoff;
        }
    } else if (t->mode == MODE_IMPLICIT && send_report(t->info, &t->report) < 0) {
        log_warn_sys("ip=%s: unable to pass the handshake report to the child", t->ip);
    }
    if (!logged) {
        log_info("tls ip=%s protocol=%s cipher=%s sni=%s%s%s%s", t->ip, t->report.protocol,
                 t->report.cipher, t->report.sni[0] ? t->report.sni : "-",
                 t->report.client_cn[0] ? " client=" : "", t->report.client_cn,
                 t->resumed ? " resumed" : "");
    }
    if (t->ctl >= 0) {
        close(t->ctl);
        t->ctl = -1;
    }
    if (t->info >= 0) {
        close(t->info);
        t->info = -1;
    }
    if (t->handoff) {
        /* the child has the connection now: its exit closes it; we only wait, so that
           tcpserver counts the session until it ends (under -S tcpserver counts the daemon
           itself, and we are done) */
        int status = 0;
        keys_free(&t->keys);
        close(0);
        close(1);
        if (t->child <= 0) {
            return EXIT_DONE;
        }
        while (waitpid(t->child, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(status)) {
            log_warn("ip=%s: %s ended by signal %d", t->ip, t->prog[0], WTERMSIG(status));
        }
        return EXIT_DONE;
    }
    relay(t);
    keys_free(&t->keys);
    close_ours(t);
    close(0);
    close(1);
    reap(t);
    return EXIT_DONE;
}

/* -S, one request in a child of the service's loop, still root: fd 0 smtpd's connection,
   fd 1 its control channel, fd 2 its handoff pipe; argv "starttls" IP, IP "" or a plain
   address (lib/ucspi.h ucspi_serve_connect). The rest is a STARTTLS tlsd's, without the
   child: the key files read as root and handed to tlskeyd, the drop, then the session. */
static int serve_one(int argc, char **argv, void *ctx)
{
    static char *caller[] = { "smtpd", NULL };  /* the one role service/starttls/access names */
    struct tlsd *t = ctx;

    t->hand = fcntl(2, F_DUPFD_CLOEXEC, 3);
    t->ctl = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (dup2(t->logfd, 2) < 0) {
        return EXIT_TEMP;       /* no log left to say it on; the daemon answers 454 */
    }
    close(t->logfd);
    if (t->hand < 0 || t->ctl < 0 || dup2(0, 1) < 0) {
        die_sys(EXIT_TEMP, "unable to take the fds of a STARTTLS request");
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
    }
    if (argc != 2 || strcmp(argv[0], "starttls") != 0
        || (argv[1][0] && !str_ip_text_ok(argv[1]))) {
        log_warn("refused a STARTTLS request that is not \"starttls IP\"");
        return EXIT_PERM;
    }
    t->serving = 1;
    t->ip = argv[1][0] ? argv[1] : "unknown";
    t->prog = caller;
    (void)keys_read_dir(&t->raw, t->dir, t->keyerr, sizeof t->keyerr);
    if (t->keysock && t->raw.n > 0) {
        hand_over(t);
    }
    if (t->drop) {
        drop_to(t->uid, t->gid, t->user);
    }
    return run_session(t);
}

/* -S: the loop (lib/ipcserve) on the socket s6-ipcserver-socketbinder bound on fd 0. It stays
   root, to read the key files in each child as a per-connection tlsd does; what it reads
   itself is the callers' uids (IPCFD_PEERS) and their requests (lib/ipcfd). */
static int serve(struct tlsd *t)
{
    struct ipcserve srv = { "run/starttls.sock", 3, t->maxconn, 0, serve_one, t, 0 };
    unsigned long have;

    if (ipcserve_listening(0) != 1) {
        die(EXIT_PERM, "-S serves the listening socket on fd 0 (s6-ipcserver-socketbinder)");
    }
    if (t->cafile || t->child_ids) {
        die(EXIT_PERM, "-S takes neither -C nor -c");
    }
    /* the loop holds each running handshake's connection, to write its status */
    if (fd_limit_raise(t->maxconn + TLSD_SERVE_FD_SPARE, &have) < 0) {
        die_sys(EXIT_TEMP, "unable to raise the fd limit");
    }
    if (have < t->maxconn + TLSD_SERVE_FD_SPARE) {
        if (have < 2 * TLSD_SERVE_FD_SPARE) {
            die(EXIT_TEMP, "fd limit %lu too low for -n %u", have, t->maxconn);
        }
        log_warn("fd limit %lu below %u: at most %lu STARTTLS handshakes at once", have,
                 t->maxconn + TLSD_SERVE_FD_SPARE, have - TLSD_SERVE_FD_SPARE);
        srv.maxconn = (unsigned)(have - TLSD_SERVE_FD_SPARE);
    }
    t->mode = MODE_STARTTLS;
    t->handoff = 1;
    t->logfd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (t->logfd < 0) {
        die_sys(EXIT_TEMP, "unable to keep the log's fd");
    }
    return ipcserve(&srv) < 0 ? EXIT_TEMP : EXIT_DONE;
}

int main(int argc, char **argv)
{
    static struct tlsd t;       /* one per process; static only for its size (BearSSL buffers) */

    log_init("tlsd");
    parse_args(&t, argc, argv);
    if (t.mode == MODE_CHECK) {
        return run_check(&t);
    }
    t.ctl = t.appin = t.appout = t.info = t.kfd = t.hand = -1;
    t.ip = getenv("TCPREMOTEIP") ? getenv("TCPREMOTEIP") : "unknown";
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
    }
    resolve_user(&t);
    if (t.mode == MODE_SERVE) {
        return serve(&t);
    }
    check_child_ids(&t);
    if (t.cafile) {
        char err[TLSC_ERROR_MAX];
        if (t.mode != MODE_IMPLICIT) {
            die(EXIT_PERM, "-C needs implicit TLS (-i)");
        }
        if (t.handoff) {
            die(EXIT_PERM, "-C and -h do not go together");
        }
        unsetenv("SSL_CLIENT_S_DN_CN");     /* only a verified certificate sets it */
        if (tlsc_anchors_load(&t.ca, t.cafile, err, sizeof err) < 0) {
            die(EXIT_PERM, "%s", err);
        }
    }
    /* as root, only the bytes (open/read): most STARTTLS sessions never start TLS, and the
       decoders then never run at all. A failure is reported when TLS is wanted: t.raw.n
       stays 0 (server.pem is always read first) and t.keyerr says why. */
    (void)keys_read_dir(&t.raw, t.dir, t.keyerr, sizeof t.keyerr);
    if (t.keysock && t.raw.n > 0) {
        hand_over(&t);  /* still root: the key's bytes leave before the network is read */
    }
    if (!(t.raw.n == 0 && !t.holder && t.mode == MODE_IMPLICIT)) {
        spawn(&t);      /* as root: the child drops (-c) or its program chain does */
    }
    if (t.drop) {
        drop_to(t.uid, t.gid, t.user);
    }
    return run_session(&t);
}

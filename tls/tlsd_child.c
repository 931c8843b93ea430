/* tlsd_child.c: tlsd's child (fork, -c drop, exec), control channel, relay; root, then yubin-tls */
#include "tlsd.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "pump.h"
#include "str.h"
#include "ucspi.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TLSD_CHILD_WAIT_MS     5000     /* how long we wait for the child after the session */

static void child_setfd(int from, int to)
{
    if (from != to) {
        if (dup2(from, to) < 0) {
            _exit(EXIT_TEMP);
        }
        close(from);
    }
}

static void setenv_num(const char *name, int v)
{
    char s[16];
    if (str_fmt(s, sizeof s, "%d", v) < 0 || setenv(name, s, 1) < 0) {
        _exit(EXIT_TEMP);
    }
}

/* Implicit mode: wait for tlsd's handshake report, put it in the environment, exec. No
   report (handshake failed) = exit 0 without running the program. With -h (in and out -1)
   the program keeps the connection on fds 0 and 1 and reads the records' state from
   SSLHANDOFFFD. */
static void child_implicit(struct tlsd *t, int in, int out, int info)
{
    char rep[UCSPI_INFO_MAX];
    size_t have = 0, used;
    struct ucspi_info ui;

    if (in >= 0) {
        child_setfd(in, 0);
        child_setfd(out, 1);
    }
    for (;;) {
        ssize_t r = fd_read(info, rep + have, sizeof rep - have);
        int x;
        if (r <= 0) {
            _exit(0);
        }
        have += (size_t)r;
        x = ucspi_info_parse(rep, have, &ui, &used);
        if (x < 0) {
            _exit(EXIT_BUG);
        }
        if (x > 0) {
            break;
        }
    }
    close(info);
    if (setenv("SSL_PROTOCOL", ui.protocol, 1) < 0 || setenv("SSL_CIPHER", ui.cipher, 1) < 0
        || (ui.sni[0] && setenv("SSL_TLS_SNI_SERVERNAME", ui.sni, 1) < 0)
        || (ui.client_cn[0] && setenv("SSL_CLIENT_S_DN_CN", ui.client_cn, 1) < 0)
        || (ui.resumed[0] && setenv("SSL_SESSION_RESUMED", ui.resumed, 1) < 0)) {
        _exit(EXIT_TEMP);
    }
    execvp(t->prog[0], t->prog);
    log_warn_sys("unable to run %s", t->prog[0]);
    _exit(EXIT_TEMP);
}

static char *env_entry(struct tlsd *t, int i, const char *name, int v)
{
    if (str_fmt(t->envbuf[i], sizeof t->envbuf[i], "%s=%d", name, v) < 0) {
        die(EXIT_BUG, "environment entry too long");
    }
    return t->envbuf[i];
}

/* The child's environment for STARTTLS mode, built before the vfork (the child may not touch
   the heap): ours without any SSL*FD, then SSLCTLFD and SSLREADFD/SSLWRITEFD or SSLHANDOFFFD.
   The strings live in t->envbuf. */
static char **starttls_env(struct tlsd *t, int ctl, int rd, int wr, int hand)
{
    extern char **environ;
    static const char *const ours[] = { "SSLCTLFD=", "SSLREADFD=", "SSLWRITEFD=",
                                        "SSLHANDOFFFD=" };
    size_t n = 0, k = 0, i;
    char **env;

    while (environ[n]) {
        n++;
    }
    env = malloc((n + 4) * sizeof *env);
    if (!env) {
        die(EXIT_TEMP, "out of memory");
    }
    for (i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < sizeof ours / sizeof ours[0]; j++) {
            if (strncmp(environ[i], ours[j], strlen(ours[j])) == 0) {
                break;
            }
        }
        if (j == sizeof ours / sizeof ours[0]) {
            env[k++] = environ[i];
        }
    }
    env[k++] = env_entry(t, 0, "SSLCTLFD", ctl);
    if (hand >= 0) {
        env[k++] = env_entry(t, 1, "SSLHANDOFFFD", hand);
    } else {
        env[k++] = env_entry(t, 1, "SSLREADFD", rd);
        env[k++] = env_entry(t, 2, "SSLWRITEFD", wr);
    }
    env[k] = NULL;
    return env;
}

/* Three pieces on stderr (the service log), from the vfork()ed child: no stdio, no heap; one
   writev, so the line reaches the log whole, not interleaved with another process's. */
static void child_say(const char *a, const char *b, const char *c)
{
    struct iovec v[3] = { { (void *)a, strlen(a) }, { (void *)b, strlen(b) },
                          { (void *)c, strlen(c) } };
    (void)fd_writev_all(2, v, 3);
}

/* The drop of the vfork()ed child: system calls only (it shares our memory until it execs),
   with drop_to's checks, its words and its exit codes. Returns only when dropped. */
static void drop_raw(const struct tlsd *t)
{
    gid_t gid = t->child_gid;
    uid_t uid = t->child_uid;

    if (syscall(SYS_setgroups, 1, &gid) < 0 || syscall(SYS_setgid, gid) < 0
        || syscall(SYS_setuid, uid) < 0) {
        child_say("tlsd: fatal: unable to drop to ", t->child_ids, "\n");
        _exit(EXIT_TEMP);
    }
    if (syscall(SYS_setuid, 0) == 0 || geteuid() == 0 || getuid() != uid || getgid() != gid
        || getegid() != gid) {
        child_say("tlsd: fatal: privileges were not dropped to ", t->child_ids, "\n");
        _exit(EXIT_BUG);
    }
}

/* STARTTLS mode: the child only drops and execs, so a vfork() serves: no copy of our address
   space to make and tear down, and no copy-on-write faults in us afterwards (fork: ~125-190 us
   on the benchmarks' VMs, vfork ~60). Our ends are close-on-exec; the child's ends are not.
   Sanitizer builds fork (their run-time does not follow a vfork child). */
static pid_t spawn_starttls(struct tlsd *t, int ctl, int rd, int wr, int hand)
{
    pid_t pid;

    t->childenv = starttls_env(t, ctl, rd, wr, hand);  /* in t: a vfork may clobber locals */
#if defined(__SANITIZE_ADDRESS__)
    pid = fork();
#else
    pid = vfork();
#endif
    if (pid == 0) {
        if (t->child_drop) {
            drop_raw(t);
        }
        execvpe(t->prog[0], t->prog, t->childenv);
        child_say("tlsd: warning: unable to run ", t->prog[0], "\n");
        _exit(EXIT_TEMP);
    }
    free(t->childenv);
    t->childenv = NULL;
    return pid;
}

/* Fork the child with its pipes. Our ends go to t->appin/appout/ctl/info, and with -h
   to t->hand (no relay pipes then: the child keeps the connection). */
void spawn(struct tlsd *t)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, side[2], hand[2] = { -1, -1 };
    pid_t pid;

    if (t->handoff ? pipe(hand) < 0 : pipe(in) < 0 || pipe(out) < 0) {
        die_sys(EXIT_TEMP, "unable to create pipes");
    }
    if (t->mode == MODE_STARTTLS ? socketpair(AF_UNIX, SOCK_STREAM, 0, side) < 0
                                 : pipe(side) < 0) {
        die_sys(EXIT_TEMP, "unable to create the control channel");
    }
    if (t->mode == MODE_STARTTLS) {
        if (fd_cloexec(side[0], 1) < 0 || (t->handoff ? fd_cloexec(hand[1], 1) < 0
                                                      : fd_cloexec(in[1], 1) < 0
                                                            || fd_cloexec(out[0], 1) < 0)) {
            die_sys(EXIT_TEMP, "unable to set up pipes");
        }
        pid = spawn_starttls(t, side[1], in[0], out[1], hand[0]);
    } else {
        pid = fork();
    }
    if (pid < 0) {
        die_sys(EXIT_TEMP, "unable to fork");
    }
    if (pid == 0) {
        keys_raw_free(&t->raw);     /* the child never needs the key's bytes */
        if (t->child_drop) {
            drop_to(t->child_uid, t->child_gid, t->child_ids);
        }
        if (t->handoff) {
            close(hand[1]);
            setenv_num("SSLHANDOFFFD", hand[0]);
        } else {
            close(in[1]);
            close(out[0]);
        }
        close(side[1]);
        child_implicit(t, in[0], out[1], side[0]);
    }
    t->child = pid;
    if (t->handoff) {
        close(hand[0]);
        t->hand = hand[1];
    } else {
        close(in[0]);
        close(out[1]);
        t->appout = in[1];
        t->appin = out[0];
    }
    if (t->mode == MODE_STARTTLS) {
        close(side[1]);
        t->ctl = side[0];
    } else {
        close(side[0]);
        t->info = side[1];
    }
    if (t->handoff) {
        if (fd_cloexec(t->hand, 1) < 0) {
            die_sys(EXIT_TEMP, "unable to set up pipes");
        }
    } else if (fd_cloexec(t->appout, 1) < 0 || fd_cloexec(t->appin, 1) < 0
               || fd_nonblock(t->appout, 1) < 0 || fd_nonblock(t->appin, 1) < 0) {
        die_sys(EXIT_TEMP, "unable to set up pipes");
    }
}

void close_ours(struct tlsd *t)
{
    int *fds[] = { &t->ctl, &t->appin, &t->appout, &t->info, &t->hand };
    size_t i;
    for (i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
}

/* Wait a bounded time for the child (it sees EOF on its stdin once we are done). */
void reap(struct tlsd *t)
{
    long long end = pump_now_ms() + TLSD_CHILD_WAIT_MS;
    while (t->child > 0) {
        pid_t r = waitpid(t->child, NULL, WNOHANG);
        if (r == t->child || (r < 0 && errno != EINTR)) {
            t->child = 0;
            break;
        }
        if (pump_now_ms() > end) {
            break;  /* it runs as another uid: we cannot kill it; init adopts it */
        }
        usleep(20000);
    }
}

int send_report(int fd, const struct ucspi_info *ui)
{
    char rep[UCSPI_INFO_MAX];
    long n = ucspi_info_build(ui, rep, sizeof rep);
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    return fd_write_all(fd, rep, (size_t)n);
}

/* STARTTLS: wait for the child's start byte. 1 start (with *want_report), 0 declined.
   A '?' first (lib/ucspi.h) is answered at once: the certificates are decoded and checked
   now, '+' if they are usable; if not, '-', one line for the operator, and the session goes
   on in plaintext without us (0). Under -S the caller asked because its client said
   STARTTLS: each byte must come within the idle timeout (-T), or we are done (a per-connection
   tlsd waits as long as the plaintext session lasts, which its child bounds). */
int wait_start(struct tlsd *t, int *want_report)
{
    for (;;) {
        unsigned char c;
        ssize_t r;
        int x;

        if (t->serving) {
            struct pollfd p = { t->ctl, POLLIN, 0 };
            int k;
            do {
                k = poll(&p, 1, (int)(t->idle_s * 1000));
            } while (k < 0 && errno == EINTR);
            if (k == 0) {
                log_warn("ip=%s: %s neither started TLS nor closed the control channel in %lu s",
                         t->ip, t->prog[0], t->idle_s);
                return 0;
            }
        }
        r = fd_read(t->ctl, &c, 1);
        if (r < 0) {
            die_sys(EXIT_TEMP, "unable to read the control channel");
        }
        if (r == 0) {
            return 0;
        }
        x = ucspi_start_byte(c);
        if (x < 0) {
            log_warn("ip=%s: unknown byte 0x%02x on the control channel", t->ip, c);
            return 0;
        }
        if (x != UCSPI_ASK) {
            *want_report = x == UCSPI_START_INFO;
            return 1;
        }
        if (parse_keys(t) < 0) {
            log_warn("TLS unavailable ip=%s: %s", t->ip, t->keyerr);
            (void)fd_write_all(t->ctl, "-", 1);
            return 0;
        }
        if (fd_write_all(t->ctl, "+", 1) < 0) {
            return 0;
        }
    }
}

void relay(struct tlsd *t)
{
    struct pump_relay r;
    char why[64];
    static const char *const ends[] = { "clean", "peer closed without close_notify",
                                        "TLS error", "I/O error", "idle timeout" };

    memset(&r, 0, sizeof r);
    r.eng = &t->sc.eng;
    r.netin = 0;
    r.netout = 1;
    r.appin = t->appin;
    r.appout = t->appout;
    r.idle_ms = (long long)t->idle_s * 1000;
    t->appin = t->appout = -1;          /* the pump owns and closes them */
    pump_relay(&r);
    if (r.end == PUMP_END_TLS_ERROR) {
        log_info("done ip=%s in=%llu out=%llu end=error %d (%s)", t->ip, r.bytes_in,
                 r.bytes_out, r.err, pump_error_text(r.err, why, sizeof why));
    } else if (r.end == PUMP_END_IO_ERROR) {
        log_info("done ip=%s in=%llu out=%llu end=%s", t->ip, r.bytes_in, r.bytes_out,
                 strerror(r.sys_errno));
    } else {
        log_info("done ip=%s in=%llu out=%llu end=%s", t->ip, r.bytes_in, r.bytes_out,
                 ends[r.end]);
    }
}

int hand_off(struct tlsd *t)
{
    static struct handoff h;        /* static only for its size (the pending plaintext) */
    static unsigned char enc[HANDOFF_MAX];
    long n;
    int r = 0;

    if (handoff_from_engine(&t->sc.eng, &h) < 0
        || (n = handoff_encode(&h, enc, sizeof enc)) < 0) {
        log_warn("ip=%s: the TLS session cannot be handed to %s (suite 0x%04x)", t->ip,
                 t->prog[0], t->sc.eng.session.cipher_suite);
        r = -1;
    } else if (fd_write_all(t->hand, enc, (size_t)n) < 0) {
        log_warn_sys("ip=%s: unable to hand the TLS session to %s", t->ip, t->prog[0]);
        r = -1;
    }
    /* only what was written: wiping the whole 16 KB would fault in pages never touched */
    explicit_bzero(&h, offsetof(struct handoff, pending) + h.npending);
    explicit_bzero(enc, HANDOFF_HEAD + h.npending);
    close(t->hand);
    t->hand = -1;
    return r;
}

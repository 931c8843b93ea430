/* queue-inject: commits one message to queue/ (fsync, link); runs as yubin-q (inject.sock) */
/* Interface (qmail-queue, docs/internals.md "queue-inject"): the message on fd 0 to EOF, then
   the envelope on fd 1 (lib/envelope.h); on success "ID\n" goes back on fd 1 and the exit code is
   0. Exit codes (enum envelope_exit): 11 address too long, 31 message refused (too big),
   51 out of memory, 52 timeout, 53 write error or disk full, 54 cannot read the message or
   envelope, 71 the DKIM signer is unavailable, 81 internal error (no YUBIN_ROOT), 91 bad
   envelope, 111 run as root.

   Design (docs/queue.md "queue-inject"): the envelope arrives after the message, but the
   message file starts with it. The message is kept in memory up to INJECT_MEM_MAX and
   spilled beyond that into an unnamed O_TMPFILE in tmp/ (never synced); once the envelope
   is known, qfile_commit writes header + message into one tmp/ file, fsyncs it once, links
   it into mess/ and fsyncs mess/ once.

   DKIM (docs/dkim.md): when the envelope names the account that authenticated ("A"), the
   message goes to dkim-sign (yubin-dkim, run/dkim.sock: a pipe with the message, one for the
   answer; queue/signcall) before the commit, and the DKIM-Signature it answers is stored in
   front of the message: every recipient gets the signed copy and the queue holds what was
   signed. A signer that cannot answer queues nothing (exit 71: the client gets 451 4.3.0 and
   sends again). */
#include "cfg.h"
#include "dkim.h"
#include "envelope.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcfd.h"
#include "ipcserve.h"
#include "log.h"
#include "qfile.h"
#include "signcall.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INJECT_MEM_MAX      (256 * 1024)    /* message bytes kept in memory before spilling */
#define INJECT_TIMEOUT_DEF  3600            /* seconds for the whole transaction */
#define INJECT_CONN_MAX     100             /* messages at once behind run/inject.sock */

#define INJECT_SIGN_TIMEOUT 60              /* seconds for the signing: message in, answer out */
#define INJECT_PROCESS_USES 100             /* messages one child of the loop commits, then ends */

struct inject {
    const char *root;
    char *mem;              /* first INJECT_MEM_MAX octets of the message, after DKIM_SIG_MAX
                               octets of room for the signature */
    size_t memlen;
    int spill;              /* O_TMPFILE holding the whole message once it outgrew mem, or -1 */
    size_t total;
    char *env;              /* envelope octets */
    size_t envlen;
    struct qenv e;
    char account[ADDR_MAX + 1];     /* the envelope's "A": sign for it; "" = do not sign */
    int dkim;               /* dkim-sign's exit (enum dkim_sign_exit), -1 not asked */
    size_t siglen;          /* the DKIM-Signature field, just before mem */
    struct signcall sig;    /* what dkim-sign answered (d=, s=, or the unsigned domain) */
};

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

static void read_fail(void) __attribute__((noreturn));
static void read_fail(void)
{
    if (timed_out) {
        die(ENVELOPE_EXIT_TIMEOUT, "timeout reading the message or envelope");
    }
    die_sys(ENVELOPE_EXIT_READ, "unable to read the message or envelope");
}

/* An unnamed file in queue/tmp: nothing to clean up after a crash. */
static int spill_open(const char *root)
{
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX];
    int fd;
    if (qfile_path(dir, sizeof dir, root, QDIR_TMP, NULL) < 0) {
        return -1;
    }
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) {
        return fd;
    }
    if (snprintf(path, sizeof path, "%s/%ld.spill", dir, (long)getpid()) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        unlink(path);
    }
    return fd;
}

static void read_message(struct inject *in)
{
    char buf[65536];
    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR && !timed_out) {
                continue;
            }
            read_fail();
        }
        if (r == 0) {
            return;
        }
        if ((size_t)r > QUEUE_MESSAGE_MAX - in->total) {
            die(ENVELOPE_EXIT_REFUSED, "message refused: larger than %lu octets",
                (unsigned long)QUEUE_MESSAGE_MAX);
        }
        in->total += (size_t)r;
        if (in->spill < 0 && in->memlen + (size_t)r <= INJECT_MEM_MAX) {
            memcpy(in->mem + in->memlen, buf, (size_t)r);
            in->memlen += (size_t)r;
            continue;
        }
        if (in->spill < 0) {
            in->spill = spill_open(in->root);
            if (in->spill < 0 || fd_write_all(in->spill, in->mem, in->memlen) < 0) {
                die_sys(ENVELOPE_EXIT_WRITE, "unable to write to queue/tmp");
            }
            in->memlen = 0;
        }
        if (fd_write_all(in->spill, buf, (size_t)r) < 0) {
            die_sys(ENVELOPE_EXIT_WRITE, "unable to write to queue/tmp");
        }
    }
}

/* The envelope's records: "A" here, the rest into the qenv (qenv_parse_envelope's way). */
static int envelope_record(void *ctx, char kind, const char *a, size_t n)
{
    struct inject *in = ctx;
    if (kind == 'A') {
        memcpy(in->account, a, n);      /* n <= ADDR_MAX (envelope_decode) */
        in->account[n] = '\0';
        return 0;
    }
    return kind == 'F' ? qenv_set_sender(&in->e, a, n) : qenv_add_rcpt(&in->e, a, n);
}

static void read_envelope(struct inject *in)
{
    for (;;) {
        size_t used;
        ssize_t r;
        int p;
        if (in->envlen == ENVELOPE_MAX) {
            die(ENVELOPE_EXIT_BAD, "envelope too long");
        }
        r = read(1, in->env + in->envlen, ENVELOPE_MAX - in->envlen);
        if (r < 0) {
            if (errno == EINTR && !timed_out) {
                continue;
            }
            read_fail();
        }
        if (r == 0) {
            die(ENVELOPE_EXIT_READ, "envelope truncated: nothing queued");
        }
        in->envlen += (size_t)r;
        qenv_free(&in->e);              /* each try decodes from the start (and inits) */
        in->account[0] = '\0';
        p = envelope_decode(in->env, in->envlen, envelope_record, in, &used);
        if (p == 1) {
            return;
        }
        if (p < 0) {
            if (errno == ENAMETOOLONG) {
                die(ENVELOPE_EXIT_TOOLONG, "envelope address too long");
            }
            if (errno == ENOMEM) {
                die_sys(ENVELOPE_EXIT_WRITE, "unable to parse the envelope");
            }
            die(ENVELOPE_EXIT_BAD, "bad envelope (%s)",
                errno == E2BIG ? "too many recipients" : "format");
        }
    }
}

/* Have dkim-sign sign the message for in->account (queue/signcall); its field goes just
   before mem. Nothing usable from the signer: nothing is queued (exit 71). */
static void sign(struct inject *in)
{
    alarm(0);                   /* the signing has its own deadline */
    if (signcall_sign(in->root, in->account, in->e.sender, in->mem, in->memlen, in->spill,
                      ipcfd_deadline(INJECT_SIGN_TIMEOUT), &in->sig) < 0) {
        die(ENVELOPE_EXIT_SIGNER, "%s: nothing queued", in->sig.why);
    }
    in->dkim = in->sig.code;
    if (in->dkim == DKIM_SIGN_OK) {
        memcpy(in->mem - in->sig.len, in->sig.field, in->sig.len);
        in->siglen = in->sig.len;
    }
}

static void commit(struct inject *in)
{
    char id[QID_BUF], line[QID_BUF + 2];
    int n;

    const char *head = in->mem - in->siglen;
    size_t headlen = in->siglen + in->memlen;

    if (qfile_commit(in->root, &in->e, head, headlen, in->spill, id) < 0) {
        if (errno == ENOENT && qfile_setup(in->root) == 0
            && qfile_commit(in->root, &in->e, head, headlen, in->spill, id) == 0) {
            goto done;
        }
        if (errno == EINVAL) {
            die(ENVELOPE_EXIT_BAD, "bad envelope");
        }
        die_sys(ENVELOPE_EXIT_WRITE, "unable to commit the message to queue/mess");
    }
done:
    n = snprintf(line, sizeof line, "%s\n", id);
    if (in->dkim == DKIM_SIGN_OK) {
        log_info("queued id=%s from=<%s> rcpts=%zu size=%zu dkim=signed d=%s s=%s", id,
                 in->e.sender, in->e.nrcpt, in->total, in->sig.domain, in->sig.sel);
    } else {
        log_info("queued id=%s from=<%s> rcpts=%zu size=%zu", id, in->e.sender, in->e.nrcpt,
                 in->total);
    }
    if (in->dkim == DKIM_SIGN_NOKEY) {
        log_info("not signed id=%s domain=%s: the domain has no DKIM key (mailacct domain dkim "
                 "%s rotate makes one)", id, in->sig.domain, in->sig.domain);
    } else if (in->dkim == DKIM_SIGN_FOREIGN) {
        log_info("not signed id=%s domain=%s: the From address is missing, not single, or not "
                 "in the domain of account %s", id, in->sig.domain[0] ? in->sig.domain : "-",
                 in->account);
    } else if (in->dkim == DKIM_SIGN_TOOBIG) {
        log_info("not signed id=%s: header section over %lu octets", id,
                 (unsigned long)DKIM_HEADER_MAX);
    }
    if (fd_write_all(1, line, (size_t)n) < 0) {
        log_warn_sys("queued id=%s but unable to send the id back", id);
    }
    n = snprintf(line, sizeof line, "N%s\n", id);
    if (qtrigger_send(in->root, line, (size_t)n) < 0) {
        log_warn_sys("unable to write queue/trigger (queue-run will find id=%s by its scan)", id);
    }
}

/* One message: fd 0 and fd 1 as the header says; run by hand or in a child of the
   run/inject.sock loop. A committed message returns 0 (the child may take the next one);
   every other way out is an exit. */
static int inject_one(int argc, char **argv, void *unused)
{
    static char *room, *env;    /* kept for the next message a reused child commits */
    struct inject in;
    struct sigaction sa;

    (void)argc;
    (void)argv;
    (void)unused;
    timed_out = 0;
    memset(&in, 0, sizeof in);
    in.spill = -1;
    qenv_init(&in.e);
    in.root = cfg_root();
    if (!in.root) {
        die(ENVELOPE_EXIT_BUG, "YUBIN_ROOT is not set to an absolute path");
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) < 0) {
        die_sys(ENVELOPE_EXIT_BUG, "unable to set SIGALRM");
    }
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)cfg_num("QUEUE_INJECT_TIMEOUT", INJECT_TIMEOUT_DEF));
    in.dkim = -1;
    if (!room) {
        room = malloc(DKIM_SIG_MAX + INJECT_MEM_MAX);
    }
    if (!env) {
        env = malloc(ENVELOPE_MAX);
    }
    if (!room || !env) {
        die(ENVELOPE_EXIT_NOMEM, "out of memory");
    }
    in.mem = room + DKIM_SIG_MAX;
    in.env = env;
    read_message(&in);
    read_envelope(&in);
    if (in.account[0]) {
        sign(&in);
    }
    commit(&in);
    /* what a reused child must not carry into the next message (every failure above exits) */
    alarm(0);
    qenv_free(&in.e);
    if (in.spill >= 0) {
        close(in.spill);
    }
    return ENVELOPE_EXIT_OK;
}

int main(int argc, char **argv)
{
    /* run/inject.sock: each request is one message, the caller's fds 0/1 (lib/ipcserve) */
    static const struct ipcserve srv = {
        "run/inject.sock", IPCFD_FDS, INJECT_CONN_MAX, 0, inject_one, NULL, INJECT_PROCESS_USES
    };

    log_init("queue-inject");
    if (geteuid() == 0 || getuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    if (ipcserve_listening(0)) {
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve run/inject.sock");
        }
        return EXIT_DONE;
    }
    return inject_one(argc, argv, NULL);
}

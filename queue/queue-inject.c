/* queue-inject: commits one message to queue/ (fsync, link); runs as yubin-q (inject.sock) */
/* Interface (qmail-queue, docs/internals.md "queue-inject"): the message on fd 0 to EOF, then
   the envelope on fd 1 (lib/envelope.h); on success "ID\n" goes back on fd 1 and the exit code is
   0. Exit codes (enum envelope_exit): 11 address too long, 31 message refused (too big),
   51 out of memory, 52 timeout, 53 write error or disk full, 54 cannot read the message or
   envelope, 81 internal error (no YUBIN_ROOT), 91 bad envelope, 111 run as root.

   Design (docs/queue.md "queue-inject"): the envelope arrives after the message, but the
   message file starts with it. The message is kept in memory up to INJECT_MEM_MAX and
   spilled beyond that into an unnamed O_TMPFILE in tmp/ (never synced); once the envelope
   is known, qfile_commit writes header + message into one tmp/ file, fsyncs it once, links
   it into mess/ and fsyncs mess/ once. */
#include "cfg.h"
#include "envelope.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcserve.h"
#include "log.h"
#include "qfile.h"

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

struct inject {
    const char *root;
    char *mem;              /* first INJECT_MEM_MAX octets of the message */
    size_t memlen;
    int spill;              /* O_TMPFILE holding the whole message once it outgrew mem, or -1 */
    size_t total;
    char *env;              /* envelope octets */
    size_t envlen;
    struct qenv e;
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
        p = qenv_parse_envelope(in->env, in->envlen, &in->e, &used);
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

static void commit(struct inject *in)
{
    char id[QID_BUF], line[QID_BUF + 2];
    int n;

    if (qfile_commit(in->root, &in->e, in->mem, in->memlen, in->spill, id) < 0) {
        if (errno == ENOENT && qfile_setup(in->root) == 0
            && qfile_commit(in->root, &in->e, in->mem, in->memlen, in->spill, id) == 0) {
            goto done;
        }
        if (errno == EINVAL) {
            die(ENVELOPE_EXIT_BAD, "bad envelope");
        }
        die_sys(ENVELOPE_EXIT_WRITE, "unable to commit the message to queue/mess");
    }
done:
    n = snprintf(line, sizeof line, "%s\n", id);
    log_info("queued id=%s from=<%s> rcpts=%zu size=%zu", id, in->e.sender, in->e.nrcpt,
             in->total);
    if (fd_write_all(1, line, (size_t)n) < 0) {
        log_warn_sys("queued id=%s but unable to send the id back", id);
    }
    n = snprintf(line, sizeof line, "N%s\n", id);
    if (qtrigger_send(in->root, line, (size_t)n) < 0) {
        log_warn_sys("unable to write queue/trigger (queue-run will find id=%s by its scan)", id);
    }
}

/* One message: fd 0 and fd 1 as the header says; run by hand or in a child of the
   run/inject.sock loop. Every way out is an exit. */
static int inject_one(int argc, char **argv, void *unused)
{
    struct inject in;
    struct sigaction sa;

    (void)argc;
    (void)argv;
    (void)unused;
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
    in.mem = malloc(INJECT_MEM_MAX);
    in.env = malloc(ENVELOPE_MAX);
    if (!in.mem || !in.env) {
        die(ENVELOPE_EXIT_NOMEM, "out of memory");
    }
    read_message(&in);
    read_envelope(&in);
    commit(&in);
    return ENVELOPE_EXIT_OK;
}

int main(int argc, char **argv)
{
    /* run/inject.sock: each request is one message, the caller's fds 0/1 (lib/ipcserve) */
    static const struct ipcserve srv = {
        "run/inject.sock", IPCFD_FDS, INJECT_CONN_MAX, 0, inject_one, NULL
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

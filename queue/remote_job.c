/* remote_job.c: remote's job: the message on fd 0, each recipient's result, the lines on fd 1 */
#include "queue/remote.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- results ---- */

/* text = "HOST [IP] said: REPLY (#X.Y.Z)" or "HOST [IP]: WHAT (#X.Y.Z)", at most 511 octets. */
void job_describe(struct remote *rm, char *out, size_t cap, const char *what,
                     const char *status)
{
    char tail[SMTPREPLY_STATUS_MAX + 8];
    size_t n, t;

    str_fmt(tail, sizeof tail, " (#%s)", status);
    t = strlen(tail);
    if (cap <= t + 1) {
        out[0] = '\0';
        return;
    }
    if (rm->host) {
        snprintf(out, cap - t, "%s [%s]%s%s", rm->host, rm->ip,
                 what[0] >= '2' && what[0] <= '5' ? " said: " : ": ", what);
    } else {
        snprintf(out, cap - t, "%s", what);
    }
    n = strlen(out);
    memcpy(out + n, tail, t + 1);
}

/* Describe the current reply. */
void job_describe_reply(struct remote *rm, char *out, size_t cap)
{
    char q[SMTPREPLY_QUOTE_MAX], st[SMTPREPLY_STATUS_MAX];

    smtpreply_quote(&rm->reply, q, sizeof q);
    smtpreply_status(&rm->reply, st, sizeof st);
    job_describe(rm, out, cap, q, st);
}

void job_set_result(struct remote *rm, struct rcpt *r, char status, const char *text)
{
    r->status = status;
    str_fmt(r->text, sizeof r->text, "%s", text);
    log_info("%s id=%s domain=%s host=%s ip=%s to=<%s> from=<%s> reply=\"%s\"",
             status == 'D' ? "delivered" : status == 'F' ? "failed" : "deferred",
             rm->id, rm->domain, rm->host ? rm->host : "-", rm->ip[0] ? rm->ip : "-",
             r->addr, rm->sender, text);
}

/* Give every recipient without a result (and, if only_accepted, accepted in this session)
   the status and text. */
void job_set_all(struct remote *rm, char status, const char *text, int only_accepted)
{
    size_t i;

    for (i = 0; i < rm->nrcpt; i++) {
        if (!rm->rcpt[i].status && (!only_accepted || rm->rcpt[i].accepted)) {
            job_set_result(rm, &rm->rcpt[i], status, text);
        }
    }
}

char job_reply_status(const struct smtpreply *r)
{
    return r->code >= 200 && r->code < 300 ? 'D' : r->code >= 500 ? 'F' : 'Z';
}

enum attempt_result job_all_final(struct remote *rm, char status, const char *what,
                                     const char *st)
{
    char text[REMOTE_TEXT_MAX];
    job_describe(rm, text, sizeof text, what, st);
    job_set_all(rm, status, text, 0);
    return A_DONE;
}

/* ---- input and output ---- */

/* The message on fd 0: mapped when it is a file (queue-run passes mess/ID positioned after
   the header), else read into memory up to QFILE-sized bound. 0 ok, -1 error. */
static int read_message(struct remote *rm)
{
    struct stat st;
    off_t off;
    char *p = NULL;
    size_t len = 0, cap = 0;

    if (fstat(0, &st) == 0 && S_ISREG(st.st_mode) && (off = lseek(0, 0, SEEK_CUR)) >= 0 &&
        off <= st.st_size) {
        void *base;
        if (st.st_size == off) {
            rm->msg = "";
            rm->msglen = 0;
            return 0;
        }
        if ((uint64_t)st.st_size > QUEUE_MESSAGE_MAX) {
            errno = EFBIG;
            return -1;
        }
        base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, 0, 0);
        if (base == MAP_FAILED) {
            return -1;
        }
        rm->map = base;
        rm->maplen = (size_t)st.st_size;
        rm->msg = (const char *)base + off;
        rm->msglen = (size_t)(st.st_size - off);
        return 0;
    }
    for (;;) {
        ssize_t r;
        if (len == cap) {
            char *q;
            if (cap >= QUEUE_MESSAGE_MAX) {
                free(p);
                errno = EFBIG;
                return -1;
            }
            cap = cap ? cap * 2 : 65536;
            q = realloc(p, cap);
            if (!q) {
                free(p);
                return -1;
            }
            p = q;
        }
        r = fd_read(0, p + len, cap - len);
        if (r < 0) {
            free(p);
            return -1;
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    rm->heap = p;
    rm->msg = p ? p : "";
    rm->msglen = len;
    return 0;
}

static int has_8bit_str(const char *s)
{
    return data_has_8bit(s, strlen(s));
}

static int addr_sendable(const char *s)
{
    size_t n = strlen(s);
    return n <= ADDR_MAX && !str_has_ctl(s, n) && !memchr(s, '<', n) && !memchr(s, '>', n);
}

int job_write_results(const struct remote *rm)
{
    size_t i;

    for (i = 0; i < rm->nrcpt; i++) {
        char line[REMOTE_TEXT_MAX + 4];
        int n = snprintf(line, sizeof line, "%c %s\n", rm->rcpt[i].status, rm->rcpt[i].text);
        if (n < 0 || (size_t)n >= sizeof line || fd_write_all(1, line, (size_t)n) < 0) {
            return -1;
        }
    }
    return 0;
}

/* A temporary result cannot carry a permanent status code. */
void job_make_temporary(char *text)
{
    char *p = strstr(text, "(#5.");
    while (p) {
        char *q = strstr(p + 1, "(#5.");
        if (!q) {
            p[2] = '4';
        }
        p = q;
    }
}

/* 1 if some recipient has no result yet. */
int job_pending(const struct remote *rm)
{
    size_t i;
    for (i = 0; i < rm->nrcpt; i++) {
        if (!rm->rcpt[i].status) {
            return 1;
        }
    }
    return 0;
}

/* Arguments (DOMAIN SENDER RCPT... in argv[1..]), settings, the message; refusals that need
   no server. Dies on local trouble. */
struct remote *job_setup(int argc, char **argv, const char *id)
{
    struct remote *rm = calloc(1, sizeof *rm);
    size_t i;

    if (!rm || !(rm->rcpt = calloc((size_t)(argc - 3), sizeof *rm->rcpt))) {
        die(EXIT_TEMP, "out of memory");
    }
    rm->domain = argv[1];
    rm->sender = argv[2];
    rm->nrcpt = (size_t)(argc - 3);
    rm->root = cfg_root();
    rm->id = id;
    rm->t_connect = (unsigned)cfg_num("REMOTE_TIMEOUT_CONNECT", 60);
    rm->t_reply = (unsigned)cfg_num("REMOTE_TIMEOUT", 300);
    rm->t_data = (unsigned)cfg_num("REMOTE_TIMEOUT_DATA", 600);
    rm->c.fd = -1;
    if (cfg_me(rm->me, sizeof rm->me) < 0) {
        die(EXIT_TEMP, "cannot tell this host's name: set YUBIN_ME or etc/me");
    }
    if (!addr_sendable(rm->sender) || strlen(rm->domain) > SMTP_DOMAIN_MAX ||
        str_has_ctl(rm->domain, strlen(rm->domain)) || !rm->domain[0]) {
        die(EXIT_PERM, "bad domain or sender argument");
    }
    if (read_message(rm) < 0) {
        die_sys(EXIT_TEMP, "unable to read the message");
    }
    rm->eightbit = data_has_8bit(rm->msg, rm->msglen);
    rm->size = data_enc_size(rm->msg, rm->msglen);
    rm->utf8 = has_8bit_str(rm->sender) || has_8bit_str(rm->domain);
    for (i = 0; i < rm->nrcpt; i++) {
        rm->rcpt[i].addr = argv[i + 3];
        rm->utf8 |= has_8bit_str(rm->rcpt[i].addr);
        if (!addr_sendable(rm->rcpt[i].addr)) {
            job_set_result(rm, &rm->rcpt[i], 'F', "invalid recipient address (#5.1.3)");
        }
    }
    if (has_8bit_str(rm->domain)) {
        job_all_final(rm, 'F', "internationalized domain names are not supported for outbound "
                  "mail; use the domain's ASCII (xn--) form", "5.6.7");
    }
    return rm;
}

void job_free(struct remote *rm)
{
    if (rm->map) {
        munmap(rm->map, rm->maplen);
    }
    free(rm->heap);
    free(rm->rcpt);
    free(rm);
}

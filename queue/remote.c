/* remote: delivers one message to one domain's mail servers by SMTP; runs as yubin-remote */
/*
   remote [-i QUEUE_ID] DOMAIN SENDER RCPT...   fd 0 = the message (LF line ends)

   Started by s6 on run/remote.sock (service/remote), remote is its own server (lib/ipcserve):
   each request from queue-run is one such run, with queue-run's fd 0 (mess/ID, opened by
   queue-run read-only, positioned after the header) and fd 1 (a pipe) passed over the
   socket. Its uid, yubin-remote, can open nothing in queue/: the process that parses remote
   servers' replies cannot change the queue (docs/remote.md "Privileges"). Run by hand it
   reads its own fds and arguments.

   Writes one line per recipient on fd 1, in argument order: "D text", "F text" or "Z text",
   text ending in "(#X.Y.Z)" (docs/internals.md "remote"). Exit 0 when every line was written,
   100 on bad usage, 111 on a local problem (no line then: queue-run retries).
   Settings: REMOTE_TIMEOUT_CONNECT (60), REMOTE_TIMEOUT (300), REMOTE_TIMEOUT_DATA (600),
   REMOTE_PORT (tests: port used instead of 25 for MX hosts), YUBIN_RESOLVER; as a server
   REMOTE_CACHE_IDLE (2) and REMOTE_CACHE_USES (100) for connection reuse (queue/conncache.h).
   -i QUEUE_ID: the id in the log lines (mailtrace).
   A domain homed on another node of the fleet (cdb/homes.cdb, docs/fleet.md "SMTP routing")
   goes to that node's internal SMTP port over implicit TLS with this node's certificate
   (etc/fleet.d/remote.pem, remote.key; the server's CN must be fleet-NODE), each RCPT
   carrying XEPOCH=N, the home's epoch in our maps.
*/
#include "queue/remote.h"
#include "acct.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcserve.h"
#include "log.h"
#include "str.h"
#ifdef SMTPCONN_TLS
#include "tls/tlsclient.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Why this server failed becomes the final Z's text if no server works, unless an earlier
   failure ranks higher (enum lasterr_rank): "421 too busy" from the first MX says more than
   "cannot connect" from the second, and a destination is down (queue/sched.c: the text ends
   in "(#4.4.1)" and no server said it) only when none of its servers could be reached, also
   when the last one has no address. */
static enum attempt_result host_failed(struct remote *rm, const char *text,
                                       enum lasterr_rank rank)
{
    log_info("host failed id=%s domain=%s host=%s ip=%s reason=\"%s\"", rm->id, rm->domain,
             rm->host, rm->ip, text);
    if (rank >= rm->lasterr_rank) {
        str_fmt(rm->lasterr, sizeof rm->lasterr, "%s", text);
        rm->lasterr_rank = rank;
    }
    return A_NEXT;
}

/* A connection-level failure: remember why, for the final Z if no server works. */
static enum attempt_result give_up_host(struct remote *rm, const char *what, const char *st)
{
    char text[REMOTE_TEXT_MAX];
    int no_address = strcmp(st, "4.4.3") == 0 || strcmp(st, "4.4.4") == 0;
    job_describe(rm, text, sizeof text, what, st);
    return host_failed(rm, text, no_address                 ? LASTERR_NO_ADDRESS
                                 : strcmp(st, "4.4.1") == 0 ? LASTERR_NO_CONNECTION
                                                            : LASTERR_REACHED);
}

/* The server refused in a way that lets another server try (greeting, EHLO, STARTTLS). */
static enum attempt_result give_up_reply(struct remote *rm)
{
    char text[REMOTE_TEXT_MAX];
    job_describe_reply(rm, text, sizeof text);
    return host_failed(rm, text, LASTERR_REACHED);
}

static enum attempt_result broken(struct remote *rm, const char *when)
{
    char what[256];
    str_fmt(what, sizeof what, "connection lost %s: %s", when, rm->c.why);
    return give_up_host(rm, what, "4.4.2");
}

/* ---- one SMTP session ---- */

/* EHLO, or HELO when EHLO gets a 5xx (RFC 5321 §4.1.4). 0 ok, -1 (rm->lasterr set). */
static int hello(struct remote *rm, struct ehlo_caps *caps)
{
    struct smtpconn *c = &rm->c;

    memset(caps, 0, sizeof *caps);
    if (smtpconn_cmd(c, "EHLO %s", rm->me) < 0 || smtpconn_reply(c, &rm->reply, rm->t_reply) < 0) {
        broken(rm, "after EHLO");
        return -1;
    }
    if (rm->reply.code == 250) {
        ehlo_parse(&rm->reply, caps);
        return 0;
    }
    if (rm->reply.code >= 500) {
        if (smtpconn_cmd(c, "HELO %s", rm->me) < 0
            || smtpconn_reply(c, &rm->reply, rm->t_reply) < 0) {
            broken(rm, "after HELO");
            return -1;
        }
        if (rm->reply.code == 250) {
            return 0;
        }
    }
    give_up_reply(rm);
    return -1;
}

/* What STARTTLS (RFC 3207) came to. */
enum tls_result {
    TLS_GIVE_UP,        /* give up this server (lasterr set) */
    TLS_PLAIN,          /* refused, and TLS is not required: continue in plaintext */
    TLS_ON,             /* encrypted, EHLO sent again */
    TLS_RETRY_PLAIN     /* the handshake failed: retry this server without TLS */
};

static enum tls_result start_tls(struct remote *rm, struct ehlo_caps *caps)
{
    struct smtpconn *c = &rm->c;
    const char *name = rm->host;
    char info[SMTPCONN_INFO_MAX], what[SMTPCONN_WHY_MAX + 32];
    unsigned char a[16];

    if (smtpconn_cmd(c, "STARTTLS") < 0 || smtpconn_reply(c, &rm->reply, rm->t_reply) < 0) {
        broken(rm, "after STARTTLS");
        return TLS_GIVE_UP;
    }
    if (rm->reply.code != 220) {
        if (!rm->tls_require) {
            return TLS_PLAIN;   /* RFC 3207 §4: the client may go on without TLS */
        }
        give_up_reply(rm);
        return TLS_GIVE_UP;
    }
    if (inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1) {
        name = NULL;   /* no SNI, no name check for an address literal */
    }
    if (smtpconn_starttls(c, name, rm->verify, rm->t_reply, info, sizeof info) < 0) {
        str_fmt(what, sizeof what, "TLS handshake failed: %s", c->why);
        give_up_host(rm, what, rm->tls_require ? "4.7.5" : "4.7.0");
        return rm->tls_require ? TLS_GIVE_UP : TLS_RETRY_PLAIN;
    }
    log_info("tls id=%s domain=%s host=%s ip=%s cipher=\"%s\" verified=%d", rm->id, rm->domain,
             rm->host, rm->ip, info, rm->verify);
    return hello(rm, caps) < 0 ? TLS_GIVE_UP : TLS_ON;
}

/* The connection broke in the middle of the envelope: whatever the server accepted is
   forgotten, the next server gets another try. */
static enum attempt_result lost_envelope(struct remote *rm, const char *when)
{
    size_t i;
    for (i = 0; i < rm->nrcpt; i++) {
        rm->rcpt[i].accepted = 0;
    }
    return broken(rm, when);
}

static int mail_cmd(struct remote *rm, const struct ehlo_caps *caps)
{
    char size[40] = "";

    if (caps->size) {
        str_fmt(size, sizeof size, " SIZE=%llu", (unsigned long long)rm->size);
    }
    return smtpconn_cmd(&rm->c, "MAIL FROM:<%s>%s%s%s", rm->sender, size,
                    rm->eightbit && caps->eightbitmime ? " BODY=8BITMIME" : "",
                    rm->utf8 ? " SMTPUTF8" : "");
}

/* How MAIL and the RCPTs went. */
enum txn_result {
    TXN_OK,         /* MAIL accepted (and the RCPTs answered) */
    TXN_REFUSED,    /* MAIL refused: every recipient has its result */
    TXN_BROKEN,     /* the connection broke */
    TXN_STALE,      /* a reused connection had gone stale while idle: nothing was taken */
    TXN_SESSION     /* the server ended or refused the session, not the message: the next
                       server may take it (session_refused) */
};

/* The current reply refuses the session rather than the message: 421, the server closing the
   channel (RFC 5321 §3.8), or, in plaintext with a server that offers STARTTLS we did not
   complete, 530 / 5.7.0 (TLS required, RFC 3207 §4): a verdict on us, not on a recipient. */
static int session_refused(const struct remote *rm)
{
    char st[SMTPREPLY_STATUS_MAX];
    if (rm->reply.code == 421) {
        return 1;
    }
    if (!rm->tls_skipped) {
        return 0;
    }
    smtpreply_status(&rm->reply, st, sizeof st);
    return rm->reply.code == 530 || (rm->reply.code >= 500 && strcmp(st, "5.7.0") == 0);
}

/* The server ended the session (session_refused): what it accepted is forgotten, the
   connection is not kept, the next server gets the message. */
static enum attempt_result session_ended(struct remote *rm)
{
    size_t i;
    for (i = 0; i < rm->nrcpt; i++) {
        rm->rcpt[i].accepted = 0;
    }
    rm->park_ok = 0;
    return give_up_reply(rm);
}

/* A refused RCPT: F for 5xx, Z for 4xx, and Z for a 552 that says 5.5.3 or nothing more (RFC
   5321 §4.5.3.1.10: RFC 821's "too many recipients", to be taken as 452); a 552 5.2.2
   (mailbox full) stays a failure. */
static char rcpt_status(const struct remote *rm)
{
    char st[SMTPREPLY_STATUS_MAX];
    if (rm->reply.code == 552) {
        smtpreply_status(&rm->reply, st, sizeof st);
        if (strcmp(st, "5.5.3") == 0 || strcmp(st, "5.0.0") == 0) {
            return 'Z';
        }
    }
    return job_reply_status(&rm->reply) == 'F' ? 'F' : 'Z';
}

/* The reply to MAIL: TXN_OK, TXN_REFUSED, TXN_BROKEN or TXN_SESSION. */
static enum txn_result mail_reply(struct remote *rm)
{
    char text[REMOTE_TEXT_MAX];

    if (smtpconn_reply(&rm->c, &rm->reply, rm->t_reply) < 0) {
        return TXN_BROKEN;
    }
    if (rm->reply.code >= 200 && rm->reply.code < 300) {
        return TXN_OK;
    }
    if (session_refused(rm)) {
        return TXN_SESSION;
    }
    job_describe_reply(rm, text, sizeof text);
    job_set_all(rm, job_reply_status(&rm->reply) == 'F' ? 'F' : 'Z', text, 0);
    return TXN_REFUSED;
}

/* On a connection from the cache, RSET comes first (RFC 5321 §4.1.1.5) and its reply is read
   before any other: when it is not 250 the connection went stale while idle (a 421, EOF),
   and nothing of this message was taken. 0 ok, -1 stale. */
static int rset_reply(struct remote *rm)
{
    if (!rm->reused) {
        return 0;
    }
    if (smtpconn_reply(&rm->c, &rm->reply, rm->t_reply) < 0 || rm->reply.code != 250) {
        return -1;
    }
    return 0;
}

/* [RSET,] MAIL and the RCPTs; with PIPELINING, MAIL, up to REMOTE_BATCH RCPTs and, after the
   last RCPT, DATA go in one write, then their replies are read in order (RFC 2920 §3.1:
   DATA may end a group; rm->data_sent says it went). On TXN_OK *accepted is the number of
   recipients the server took. */
static enum txn_result envelope(struct remote *rm, const struct ehlo_caps *caps,
                                size_t *accepted)
{
    size_t step = caps->pipelining ? REMOTE_BATCH : 1, i = 0, g, k;
    size_t group[REMOTE_BATCH];
    int mail_pending = 1;
    enum txn_result r;
    char text[REMOTE_TEXT_MAX];

    rm->data_sent = 0;
    *accepted = 0;
    if (rm->reused
        && (smtpconn_cmd(&rm->c, "RSET") < 0 || (!caps->pipelining && rset_reply(rm) < 0))) {
        return TXN_STALE;
    }
    if (mail_cmd(rm, caps) < 0) {
        return TXN_BROKEN;
    }
    if (!caps->pipelining) {
        if ((r = mail_reply(rm)) != TXN_OK) {
            return r;
        }
        mail_pending = 0;
    }
    while (i < rm->nrcpt) {
        for (g = 0; i < rm->nrcpt && g < step; i++) {
            if (rm->rcpt[i].status) {
                continue;
            }
            if ((rm->fleet ? smtpconn_cmd(&rm->c, "RCPT TO:<%s> XEPOCH=%llu", rm->rcpt[i].addr,
                                          (unsigned long long)rm->epoch)
                           : smtpconn_cmd(&rm->c, "RCPT TO:<%s>", rm->rcpt[i].addr)) < 0) {
                return TXN_BROKEN;
            }
            group[g++] = i;
        }
        if (caps->pipelining && i == rm->nrcpt) {
            if (smtpconn_cmd(&rm->c, "DATA") < 0) {
                return TXN_BROKEN;
            }
            rm->data_sent = 1;
        }
        if (mail_pending) {
            if (caps->pipelining && rset_reply(rm) < 0) {
                return TXN_STALE;
            }
            if ((r = mail_reply(rm)) != TXN_OK) {
                return r;
            }
            mail_pending = 0;
        }
        for (k = 0; k < g; k++) {
            struct rcpt *rc = &rm->rcpt[group[k]];
            if (smtpconn_reply(&rm->c, &rm->reply, rm->t_reply) < 0) {
                return TXN_BROKEN;
            }
            if (session_refused(rm)) {
                return TXN_SESSION;
            }
            if (rm->reply.code >= 200 && rm->reply.code < 300) {
                rc->accepted = 1;
                (*accepted)++;
            } else {
                job_describe_reply(rm, text, sizeof text);
                job_set_result(rm, rc, rcpt_status(rm), text);
            }
        }
    }
    return TXN_OK;
}

/* The message after 354: CRLF line ends, dot-stuffed (SPECS §1.4). 0 ok, -1 broken. */
static int send_body(struct remote *rm)
{
    struct smtpconn *c = &rm->c;
    struct data_enc e;
    size_t off = 0, k;

    c->timeout = rm->t_reply;   /* each block: §4.5.3.2.5 asks >= 3 minutes */
    data_enc_init(&e);
    while (off < rm->msglen) {
        off += data_enc_run(&e, rm->msg + off, rm->msglen - off, c->out + c->outlen,
                            sizeof c->out - c->outlen, &k);
        c->outlen += k;
        if (sizeof c->out - c->outlen < 8 && smtpconn_flush(c) < 0) {
            return -1;
        }
    }
    c->outlen += data_enc_finish(&e, c->out + c->outlen, sizeof c->out - c->outlen);
    return smtpconn_flush(c);
}

/* Everything after EHLO (and STARTTLS): MAIL, RCPT, DATA. */
static enum attempt_result transaction(struct remote *rm, const struct ehlo_caps *caps)
{
    char text[REMOTE_TEXT_MAX], what[128];
    size_t i, n = 0;
    enum txn_result r;

    rm->park_ok = 1;   /* until replies are left unread (a broken connection is never kept) */
    for (i = 0; i < rm->nrcpt && rm->rcpt[i].status; i++) {
    }
    if (i == rm->nrcpt) {
        return A_DONE;
    }
    if (rm->utf8 && !caps->smtputf8) {
        return job_all_final(rm, 'F', "the address needs SMTPUTF8 (RFC 6531), which this server "
                         "does not offer; ask the recipient for an ASCII address", "5.6.7");
    }
    if (caps->size && caps->size_max && rm->size > caps->size_max) {
        str_fmt(what, sizeof what, "message of %llu bytes exceeds the server's limit of %llu",
                (unsigned long long)rm->size, (unsigned long long)caps->size_max);
        return job_all_final(rm, 'F', what, "5.3.4");
    }
    r = envelope(rm, caps, &n);
    if (r == TXN_STALE) {
        return A_STALE;
    }
    if (r == TXN_SESSION) {
        return session_ended(rm);
    }
    if (r == TXN_BROKEN) {
        return lost_envelope(rm, "during MAIL/RCPT");
    }
    if (r == TXN_REFUSED || (n == 0 && !rm->data_sent)) {
        rm->park_ok = r == TXN_OK || !caps->pipelining;   /* else RCPT replies left unread */
        return A_DONE;
    }
    if ((!rm->data_sent && smtpconn_cmd(&rm->c, "DATA") < 0) ||
        smtpconn_reply(&rm->c, &rm->reply, rm->t_reply) < 0) {
        return lost_envelope(rm, "after DATA");
    }
    if (n == 0) {
        /* DATA went with the RCPTs, all refused: a server that still says 354 gets the
           end of an empty message, and the connection is not kept (RFC 2920 §3.1) */
        rm->park_ok = rm->reply.code != 354;
        if (!rm->park_ok && smtpconn_cmd(&rm->c, ".") == 0) {
            smtpconn_reply(&rm->c, &rm->reply, rm->t_data);
        }
        return A_DONE;
    }
    if (rm->reply.code != 354 && session_refused(rm)) {
        return session_ended(rm);
    }
    if (rm->reply.code != 354) {
        job_describe_reply(rm, text, sizeof text);
        job_set_all(rm, job_reply_status(&rm->reply) == 'F' ? 'F' : 'Z', text, 1);
        return A_DONE;
    }
    if (send_body(rm) < 0) {
        return lost_envelope(rm, "while sending the message");
    }
    if (smtpconn_reply(&rm->c, &rm->reply, rm->t_data) < 0) {
        /* the server may have the message: a retry can deliver it twice, never lose it */
        str_fmt(what, sizeof what, "connection lost after the message was sent (%s)",
                rm->c.why);
        job_describe(rm, text, sizeof text, what, "4.4.2");
        job_set_all(rm, 'Z', text, 1);
        return A_DONE;
    }
    job_describe_reply(rm, text, sizeof text);
    job_set_all(rm, job_reply_status(&rm->reply), text, 1);
    return A_DONE;
}

/* The fleet's internal route: implicit TLS with this node's certificate, the home proving
   it is node NODE. 0 ok, -1 (lasterr set). */
static int fleet_tls(struct remote *rm)
{
#ifdef SMTPCONN_TLS
    char ca[YUBIN_PATH_MAX], cert[YUBIN_PATH_MAX], key[YUBIN_PATH_MAX];
    char info[SMTPCONN_INFO_MAX], what[SMTPCONN_WHY_MAX + 64];
    struct tlsc_fleet f;

    if (str_fmt(ca, sizeof ca, "%s/etc/fleet.d/ca.pem", rm->root) < 0
        || str_fmt(cert, sizeof cert, "%s/etc/fleet.d/remote.pem", rm->root) < 0
        || str_fmt(key, sizeof key, "%s/etc/fleet.d/remote.key", rm->root) < 0) {
        give_up_host(rm, "the mail root's path is too long for etc/fleet.d", "4.3.5");
        return -1;
    }
    f.cafile = ca;
    f.certfile = cert;
    f.keyfile = key;
    f.peer_cn = rm->fleet_cn;
    if (smtpconn_start_fleet(&rm->c, &f, rm->t_reply, info, sizeof info) < 0) {
        str_fmt(what, sizeof what, "TLS with fleet node %s failed: %s",
                rm->fleet_cn + sizeof FLEET_CN_PREFIX - 1, rm->c.why);
        give_up_host(rm, what, "4.7.5");
        return -1;
    }
    log_info("tls id=%s domain=%s host=%s ip=%s cipher=\"%s\" verified=1 peer=%s", rm->id,
             rm->domain, rm->host, rm->ip, info, rm->fleet_cn);
    return 0;
#else
    give_up_host(rm, "this remote was built without TLS: no fleet route", "4.3.5");
    return -1;
#endif
}

/* One server address: greeting, EHLO, STARTTLS, the transaction. */
static enum attempt_result attempt(struct remote *rm, const struct dns_addr *a, unsigned port,
                                   int plain)
{
    struct smtpconn *c = &rm->c;
    struct ehlo_caps caps;
    char what[200];

    if (smtpconn_open(c, &a->sa, a->len, port, rm->t_connect) < 0) {
        str_fmt(what, sizeof what, "cannot connect to port %u: %s", port, strerror(errno));
        return give_up_host(rm, what, "4.4.1");
    }
    if (rm->fleet && fleet_tls(rm) < 0) {
        return A_NEXT;
    }
    if (smtpconn_reply(c, &rm->reply, rm->t_reply) < 0) {
        return broken(rm, "before the greeting");
    }
    if (rm->reply.code != 220) {
        return give_up_reply(rm);
    }
    if (hello(rm, &caps) < 0) {
        return A_NEXT;
    }
    if (caps.starttls && !plain && SMTPCONN_HAVE_TLS) {
        enum tls_result t = start_tls(rm, &caps);
        if (t == TLS_RETRY_PLAIN && !rm->fleet) {
            return A_RETRY_PLAIN;
        }
        if (t == TLS_GIVE_UP) {
            return A_NEXT;
        }
    }
    rm->tls_skipped = caps.starttls && !c->secure;
    if (rm->tls_require && !c->secure) {
        return give_up_host(rm, "TLS is required for this route but the server does not "
                            "offer STARTTLS", "4.7.4");
    }
    rm->ce.caps = caps;
    rm->ce.uses = 0;
    rm->ce.born = time(NULL);
    str_fmt(rm->ce.ip, sizeof rm->ce.ip, "%s", rm->ip);
    return transaction(rm, &caps);
}

static void quit(struct remote *rm)
{
    if (rm->c.fd < 0) {
        return;
    }
    if (!rm->c.broken && smtpconn_cmd(&rm->c, "QUIT") == 0) {
        smtpconn_reply(&rm->c, &rm->reply, REMOTE_QUIT_WAIT);
    }
    smtpconn_close(&rm->c);
}

/* After a transaction: a plaintext connection whose every reply was read goes to the cache
   for the next message to the same server, while it has carried fewer than
   REMOTE_CACHE_USES messages and is younger than REMOTE_REUSE_LIFE; any other is closed with
   QUIT. A server offering STARTTLS is always met afresh (its sessions are encrypted). A
   fleet node's TLS connection is kept too: its session moves into a pump process and the
   cache holds the pump's plaintext end (smtpconn_park_tls). */
static void finish(struct remote *rm)
{
    const struct ehlo_caps *caps = &rm->ce.caps;
    int keep = rm->park_ok && rm->ctx && rm->ctx->cache_fd >= 0 &&
               ++rm->ce.uses < rm->ctx->reuse_max && time(NULL) - rm->ce.born < REMOTE_REUSE_LIFE;

    if (keep && smtpconn_is_idle(&rm->c) &&
        ((!rm->tls_require && !(caps->starttls && SMTPCONN_HAVE_TLS))
         || rm->fleet)) {          /* fleet: idle without c.tls = a pump's end (below) */
        conncache_put(rm->ctx->cache_fd, &rm->ce, rm->c.fd);
        rm->c.fd = -1;
    } else if (keep && rm->fleet && rm->c.tls) {
        /* the fleet's internal route: the TLS session stays in a pump (smtpconn_park_tls)
           and its plaintext end goes to the cache under a key that names the node */
        int fd = smtpconn_park_tls(&rm->c, REMOTE_REUSE_LIFE);
        if (fd >= 0) {
            conncache_put(rm->ctx->cache_fd, &rm->ce, fd);
        }
    }
    rm->park_ok = 0;
    quit(rm);
}

/* An idle connection to this host from the cache, if there is one: the transaction over it.
   A_NEXT when there is none, or when every one taken was stale (closed while idle). */
static enum attempt_result try_cached(struct remote *rm, const struct target *t)
{
    enum attempt_result r;
    int fd, k;

    if (!rm->ctx || rm->ctx->cache_fd < 0 || (rm->tls_require && !rm->fleet)) {
        return A_NEXT;
    }
    /* a fleet node's connection is TLS kept by a pump, verified as fleet-NODE: its key
       names the node, so no other route (nor a plaintext one to the same port) gets it */
    if (str_fmt(rm->ce.key, sizeof rm->ce.key, "%s %u%s%s", t->host, t->port,
                rm->fleet ? " " : "", rm->fleet ? rm->fleet_cn : "") < 0) {
        rm->ce.key[0] = '\0';
        return A_NEXT;
    }
    for (k = 0; k < 3; k++) {
        char key[CONNCACHE_KEY_MAX];
        memcpy(key, rm->ce.key, sizeof key);
        fd = conncache_get(rm->ctx->cache_fd, key, &rm->ce);
        if (fd < 0) {
            return A_NEXT;
        }
        smtpconn_adopt(&rm->c, fd);
        rm->host = t->host;
        str_fmt(rm->ip, sizeof rm->ip, "%s", rm->ce.ip);
        rm->reused = 1;
        r = transaction(rm, &rm->ce.caps);
        rm->reused = 0;
        if (r != A_STALE) {
            finish(rm);
            return r;
        }
        log_info("idle connection closed by the server id=%s domain=%s host=%s ip=%s (%s)",
                 rm->id, rm->domain, rm->host, rm->ip, rm->c.broken ? rm->c.why : "no 250 to RSET");
        smtpconn_close(&rm->c);
    }
    return A_NEXT;
}

/* Try every address of one host (an idle connection to it first). A_DONE when the message
   is settled. */
static enum attempt_result try_host(struct remote *rm, const struct target *t)
{
    struct dns_addr addrs[DNS_ADDR_MAX];
    size_t n = 0, i;
    enum dns_result d;
    enum attempt_result r;

    if (try_cached(rm, t) == A_DONE) {
        return A_DONE;
    }
    d = dns_addrs(&rm->dns, t->host, addrs, DNS_ADDR_MAX, &n);
    rm->host = t->host;
    rm->ip[0] = '\0';
    if (d != DNS_FOUND) {
        /* RFC 3463: X.4.3 is a directory server that failed; a host without an address is
           X.4.4, "unable to route" */
        str_fmt(rm->ip, sizeof rm->ip, "-");
        return d == DNS_TEMP ? give_up_host(rm, "temporary DNS failure looking up the address",
                                            "4.4.3")
                             : give_up_host(rm, "the host has no address in DNS", "4.4.4");
    }
    for (i = 0; i < n; i++) {
        const struct sockaddr_storage *sa = &addrs[i].sa;
        const void *ip = sa->ss_family == AF_INET
                             ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                             : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        inet_ntop(sa->ss_family, ip, rm->ip, sizeof rm->ip);
        r = attempt(rm, &addrs[i], t->port, 0);
        finish(rm);
        if (r == A_RETRY_PLAIN) {
            log_info("retrying without TLS id=%s domain=%s host=%s ip=%s", rm->id, rm->domain,
                     rm->host, rm->ip);
            r = attempt(rm, &addrs[i], t->port, 1);
            quit(rm);
        }
        if (r == A_DONE) {
            return A_DONE;
        }
    }
    return A_NEXT;
}

/* ---- destination ---- */

/* A domain of the fleet homed on another node: its internal SMTP port. 1 the target is set,
   0 not a fleet route (go on with routes and DNS), -1 no target now (rm->lasterr set). */
static int fleet_target(struct remote *rm, struct target *t)
{
    struct fleethome h;
    int r = rm->root ? fleethome_get(rm->root, rm->domain, &h) : 0;

    if (r < 0) {
        int e = errno;
        /* the reason in our log; the queue's text, which a delay notice carries, names no
           path */
        log_warn("unable to read the home of %s id=%s: %s", rm->domain, rm->id,
                 fleethome_strerror(e));
        str_fmt(rm->lasterr, sizeof rm->lasterr, "cannot read the fleet's maps (homes.cdb, "
                "nodes.cdb): %s (#4.3.0)", strerror(e));
        return -1;
    }
    if (r == 0) {
        return 0;
    }
    if (h.here) {
        /* the home moved here after queue-run chose this job: never out by DNS (it would
           come back to us); queue-run delivers it locally at the next try */
        str_fmt(rm->lasterr, sizeof rm->lasterr, "the domain is homed on this node now; it is "
                "delivered here at the next try (#4.3.0)");
        return -1;
    }
    str_fmt(t->host, sizeof t->host, "%s", h.node.addr);
    t->port = h.node.smtp_port;
    str_fmt(rm->fleet_cn, sizeof rm->fleet_cn, "%s%s", FLEET_CN_PREFIX, h.node.name);
    rm->fleet = 1;
    rm->epoch = h.epoch;
    rm->tls_require = 1;    /* never the connection cache; never plaintext */
    rm->verify = 1;
    log_info("route id=%s domain=%s host=%s port=%u fleet=%s epoch=%llu", rm->id, rm->domain,
             t->host, t->port, h.node.name, (unsigned long long)h.epoch);
    return 1;
}

/* Fill targets from the route or from DNS. Returns the count; 0 when the message is settled
   (results set) or no target is known (rm->lasterr set). */
static size_t targets(struct remote *rm, struct target *t, size_t max)
{
    struct route rt;
    struct dns_mx mx[DNS_MX_MAX];
    size_t n = 0, i;
    unsigned port = (unsigned)cfg_num("REMOTE_PORT", 25);
    int f = fleet_target(rm, &t[0]);
    int r = f == 0 && rm->root ? acct_route(rm->root, rm->domain, &rt) : 0;
    enum dns_result d;

    if (f != 0) {
        return f > 0 ? 1 : 0;
    }
    if (r < 0 && errno != ENOENT) {
        str_fmt(rm->lasterr, sizeof rm->lasterr, "cannot read the routes map: %s (#4.3.0)",
                strerror(errno));
        return 0;
    }
    if (r == 1) {
        str_fmt(t[0].host, sizeof t[0].host, "%s", rt.host);
        t[0].port = rt.port;
        rm->tls_require = rt.tls_require;
        rm->verify = rt.verify;
        log_info("route id=%s domain=%s host=%s port=%u tls=%s verify=%d", rm->id, rm->domain,
                 rt.host, rt.port, rt.tls_require ? "require" : "may", rt.verify);
        return 1;
    }
    if (port == 0 || port > 65535) {
        port = 25;
    }
    d = dns_mx(&rm->dns, rm->domain, mx, DNS_MX_MAX, &n);
    switch (d) {
    case DNS_FOUND:
        for (i = 0; i < n && i < max; i++) {
            memcpy(t[i].host, mx[i].host, sizeof t[i].host);
            t[i].port = port;
        }
        return i;
    case DNS_NODATA:   /* RFC 5321 §5.1: the domain itself is the implicit MX */
        str_fmt(t[0].host, sizeof t[0].host, "%s", rm->domain);
        t[0].port = port;
        return 1;
    case DNS_NXDOMAIN:
        job_all_final(rm, 'F', "the domain does not exist (DNS NXDOMAIN); check the address",
                  "5.1.2");
        return 0;
    case DNS_NULLMX:
        job_all_final(rm, 'F', "the domain accepts no mail (null MX, RFC 7505)", "5.1.10");
        return 0;
    case DNS_TEMP:
        break;
    }
    str_fmt(rm->lasterr, sizeof rm->lasterr,
            "temporary DNS failure looking up the mail servers of %s (#4.4.3)", rm->domain);
    return 0;
}

/* One run: argv "remote [-i QUEUE_ID] DOMAIN SENDER RCPT...", the message on fd 0, one
   result line per recipient on fd 1. Run by hand, or in a child of the run/remote.sock loop. */
static int remote_one(int argc, char **argv, void *ctx)
{
    struct remote *rm;
    struct target t[REMOTE_TARGETS];
    const char *id = "-";
    size_t n = 0, i;

    if (argc >= 3 && strcmp(argv[1], "-i") == 0) {
        id = argv[2][0] ? argv[2] : "-";
        argc -= 2;
        argv += 2;
    }
    if (argc < 4) {
        die(EXIT_PERM, "usage: remote [-i QUEUE_ID] DOMAIN SENDER RCPT...");
    }
    if ((size_t)(argc - 3) > SMTP_RCPT_MAX) {
        die(EXIT_PERM, "too many recipients (at most %d)", SMTP_RCPT_MAX);
    }
    signal(SIGPIPE, SIG_IGN);
    rm = job_setup(argc, argv, id);
    rm->ctx = ctx;
    if (job_pending(rm)) {
        if (dns_init(&rm->dns) < 0) {
            die_sys(EXIT_TEMP, "unable to set up the DNS resolver (YUBIN_RESOLVER=IP:PORT?)");
        }
        n = targets(rm, t, REMOTE_TARGETS);
        for (i = 0; i < n && job_pending(rm); i++) {
            try_host(rm, &t[i]);
        }
        dns_close(&rm->dns);
    }
    rm->host = NULL;
    rm->ip[0] = '\0';
    if (!rm->lasterr[0]) {
        str_fmt(rm->lasterr, sizeof rm->lasterr, "no mail server of %s could be reached "
                "(#4.4.1)", rm->domain);
    }
    job_make_temporary(rm->lasterr);
    job_set_all(rm, 'Z', rm->lasterr, 0);
    if (job_write_results(rm) < 0) {
        die_sys(EXIT_TEMP, "unable to write the results");
    }
    job_free(rm);       /* the process may serve the next message (REMOTE_PROCESS_USES) */
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    log_init("remote");
    if (geteuid() == 0 || getuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root: run me as the remote user");
    }
    if (ipcserve_listening(0)) {
        /* run/remote.sock: each request is one run for queue-run; a child killed by signal N
           answers 128+N, which queue-run logs as such */
        struct remote_ctx ctx = { -1, (unsigned)cfg_num("REMOTE_CACHE_USES", 100) };
        struct ipcserve srv = { "run/remote.sock", IPCFD_FDS, QUEUE_CONC_DEF,
                                IPCSERVE_SIGNAL_HIGH, remote_one, &ctx,
                                (unsigned)cfg_num("REMOTE_PROCESS_USES", 100) };
        unsigned idle = (unsigned)cfg_num("REMOTE_CACHE_IDLE", 2);
        unsigned long conc, need, have = 0;
        /* as queue-run reads it (which logs a value it cuts or does not take): as many
           children as it runs jobs */
        (void)cfg_num_max("QUEUE_REMOTE_CONC", QUEUE_CONC_DEF, QUEUE_CONC_MAX, &conc);
        srv.maxconn = (unsigned)conc;
        /* the loop holds each child's connection and its control socket */
        need = 2UL * srv.maxconn + 64;
        if (fd_limit_raise(need, &have) < 0 || have < need) {
            log_warn("the fd limit (%lu) is below the %lu that %u jobs at once may need: a job "
                     "past it is refused and queue-run defers it", have, need, srv.maxconn);
        }
        /* idle connections kept: two per job slot (the jobs of a burst park theirs) */
        if (idle > 0 && ctx.reuse_max > 1 &&
            (ctx.cache_fd = conncache_start(srv.maxconn * 2 < CONNCACHE_MAX
                                            ? srv.maxconn * 2 : CONNCACHE_MAX, idle)) < 0) {
            log_warn_sys("unable to start the connection cache: one connection per message");
        }
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve run/remote.sock");
        }
        return EXIT_DONE;
    }
    return remote_one(argc, argv, NULL);
}

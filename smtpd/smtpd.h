/* smtpd.h: the state of one smtpd session, shared by the files of the smtpd program
   (smtpd.c: main and simple commands; smtpd_io.c: input, replies, timeouts; smtpd_rcpt.c:
   MAIL/RCPT policy; smtpd_data.c: DATA and queue-inject; smtpd_auth.c: AUTH;
   smtpd_limits.c: sending limits) */
#ifndef YUBIN_SMTPD_H
#define YUBIN_SMTPD_H

#include "buf.h"
#include "fleethome.h"
#include "limits.h"
#include "lineio.h"
#include "rate.h"
#include "smtp_parse.h"

#include <stddef.h>
#include <stdint.h>

#define SMTPD_OUT_FLUSH     8192    /* send queued replies once this many octets wait */
#define SMTPD_OUT_MAX       65536   /* reply queue bound (flushed long before) */
#define SMTPD_CLOSE_WAIT    2       /* seconds for a TLS alert (close_notify) at the end */
/* an AUTH line decoded from base64 (RFC 4648 §4: 4 octets carry 3) */
#define SMTPD_AUTH_DECODED_MAX (SMTP_AUTH_LINE_MAX / 4 * 3)
#define SMTPD_AUTH_FAIL_MAX 3       /* close after this many failed AUTH (RFC 4954 §9: >= 3) */
#define SMTPD_AUTH_TIMEOUT  30      /* seconds to wait for authd */
#define SMTPD_INJECT_TIMEOUT 600    /* seconds to wait for queue-inject after the final dot */
#define SMTPD_INJECT_BUF (64 * 1024) /* octets of a message gathered for one write into
                                        queue-inject's pipe (a pipe holds 64 KB) */
#define SMTPD_DRAIN_MAX     (1024 * 1024)   /* octets of one over-long command line we discard */
#define SMTPD_IP_MAX        64      /* TCPREMOTEIP text */
#define SMTPD_ID_MAX        40
#define SMTPD_HEAD_MAX      16      /* octets of an over-long line kept to name its command */
/* Defaults of the settings (smtpd/defaults.env, docs/smtp.md). Postfix: smtpd_timeout 300 s,
   10 s under stress; smtpd_min_data_rate 500 octets/s. */
#define SMTPD_TIMEOUT       300     /* SMTP_TIMEOUT: seconds for one command line */
#define SMTPD_STRESS_TIMEOUT 10     /* SMTP_STRESS_TIMEOUT */
#define SMTPD_ERROR_LIMIT   20      /* SMTP_ERROR_LIMIT: refusals a session gets (Postfix's
                                       smtpd_hard_error_limit), then 421 */
#define SMTPD_RCPT_OVERSHOOT 1000   /* "too many recipients" replies not counted as errors */
#define SMTPD_SPOOL_MEM (128 * 1024) /* octets of a message held in memory for the inbound
                                       checks; beyond, in an unnamed file in run/smtpd */
#define SMTPD_MIN_DATA_RATE 500     /* SMTP_MIN_DATA_RATE, octets per second inside DATA */
#define SMTPD_MAXCONN       1000    /* SMTP_MAXCONN, as the run scripts default it */
#define SMTPD_STRESS_PERCENT 80     /* SMTP_STRESS_PERCENT of SMTP_MAXCONN */
#define SMTPD_TIMEOUT_MAX   86400   /* bound of SMTP_TIMEOUT / SMTP_STRESS_TIMEOUT, seconds */
#define SMTPD_MAXCONN_MAX   100000  /* SMTP_MAXCONN beyond this: no port table (bound of files) */

/* The reply to a message over MESSAGE_MAX (SIZE= at MAIL, or counted in DATA). */
#define SMTPD_TOO_BIG \
    "552 5.3.4 message exceeds 20 MB; attachments grow about 1.37x when encoded"

/* SMTPD_MODE_FLEET: the fleet's internal port (smtpd -f behind tlsd -i -C, docs/fleet.md
   "SMTP routing"): only other nodes, named by their verified certificate, hand over mail for
   domains homed on this node. */
enum smtpd_mode { SMTPD_MODE_MX, SMTPD_MODE_SUBMISSION, SMTPD_MODE_FLEET };
enum smtpd_state { SMTPD_ST_GREETED, SMTPD_ST_READY, SMTPD_ST_MAIL, SMTPD_ST_RCPT };
/* what let the open transaction send to another domain (the "relay=" of the accepted line) */
enum smtpd_relay { SMTPD_RELAY_NONE, SMTPD_RELAY_AUTH, SMTPD_RELAY_GRANT, SMTPD_RELAY_CLIENT };
enum smtpd_phase { SMTPD_PHASE_COMMAND, SMTPD_PHASE_DATA };

struct smtpd_session {
    const char *root;
    char me[SMTP_DOMAIN_MAX + 1];
    char ip[SMTPD_IP_MAX];
    char host[SMTP_DOMAIN_MAX + 1];    /* TCPREMOTEHOST (sanitised) or "" */
    char id[SMTPD_ID_MAX];             /* session id: hex time + pid */
    unsigned nmsg;                     /* messages accepted or tried in this session */
    enum smtpd_mode mode;
    char peer[FLEET_NODE_MAX + 1];     /* SMTPD_MODE_FLEET: the calling node (its CN's name) */
    unsigned timeout;                  /* SMTP_TIMEOUT: seconds for one command line */
    unsigned stress_timeout;           /* SMTP_STRESS_TIMEOUT: the same, port nearly full */
    unsigned long min_rate;            /* SMTP_MIN_DATA_RATE: octets/s inside DATA, 0 = none */
    int require_tls;
    int relayclient;
    unsigned long relay_window;

    int rfd, wfd;                      /* client: 0/1, or SSLREADFD/SSLWRITEFD after STARTTLS */
    int sslctl;                        /* SSLCTLFD, or the STARTTLS service's channel, or -1 */
    const char *starttls_sock;         /* STARTTLS_SOCKET: tlsd -S asked at STARTTLS (no tlsd
                                          in front; lib/ucspi.h), or NULL */
    int handfd;                        /* SSLHANDOFFFD (tlsd -h) or -1 */
    struct tlsrec *rec;                /* TLS records on fds 0/1 once tlsd handed them over
                                          (tls/handoff.h), NULL otherwise */
    int slotfd;                        /* the per-IP slot (lib/ipslot) or -1 */
    int portfd;                        /* this session's slot in the port's table, or -1 */
    int loadfd;                        /* the port table's stress slot (watched), or -1 */

    /* the deadline for the input being read (smtpd_io_deadline) */
    enum smtpd_phase phase;
    unsigned limit;                    /* seconds allowed: timeout or stress_timeout */
    int stressed;                      /* limit is the stress one */
    unsigned long errors;              /* 4xx/5xx replies sent */
    unsigned long overshoot;           /* "452 4.5.3 too many recipients" replies sent */
    unsigned long error_limit;         /* SMTP_ERROR_LIMIT; 0 = none */
    uint64_t deadline;                 /* CLOCK_MONOTONIC milliseconds */
    int tls;
    int implicit_tls;                  /* port 465: TLS before the greeting (tlsd -i) */
    char in[SMTP_IN_MAX];
    size_t inlen;
    char line[SMTP_IN_MAX + 1];        /* the current line, NUL-terminated */
    struct lineio_out out;             /* queued replies, over SMTPD_OUT_MAX malloc()ed octets
                                          (only the pages used become resident) */

    enum smtpd_state state;
    int esmtp;
    char helo[SMTP_DOMAIN_MAX + 1];    /* sanitised EHLO/HELO argument */
    int authed;
    char user[ADDR_MAX + 1];           /* authenticated login, lower case */
    unsigned auth_fail;

    /* the open transaction */
    char sender[ADDR_MAX + 1];         /* "" = <> */
    char grant_user[ADDR_MAX + 1];     /* the POP-before-SMTP account the sender was checked
                                          against, or "" */
    enum smtpd_relay relay;            /* set by the first recipient in another domain */
    int has_size;
    uint64_t size;
    int smtputf8;
    struct buf rcpts;                  /* final recipients, each NUL-terminated (bounded by
                                          ENVELOPE_MAX: they travel in the envelope) */
    unsigned nrcpt;                    /* entries in rcpts */
    unsigned nrcptcmd;                 /* accepted RCPT commands */
    /* the addresses a refusal is logged with (from=, rcpt=), set while MAIL or RCPT is being
       answered; NULL otherwise (after MAIL, from= is the open transaction's sender) */
    const char *log_from;
    const char *log_rcpt;

    /* sending limits (smtpd_limits.c): settings, and what the open transaction is counted
       under: an account, "ip-" + the client's IP (RELAYCLIENT), or "" (not counted) */
    unsigned long rate_window, rate_burst, rate_burst_secs, rate_ip_msgs, rate_ip_rcpts;
    char rate_name[ADDR_MAX + 1];
    unsigned long rate_msgs, rate_rcpts;   /* its limits per window, 0 = none */
    struct rate_sum rate_used;             /* what it sent in the window, read at binding */
};

/* smtpd_io.c */
enum smtpd_getline_res { SMTPD_GL_OK, SMTPD_GL_LONG };
/* Next CRLF line (without CRLF) into s->line; flushes replies first when no complete line is
   buffered (RFC 2920 §3.2). The whole line must arrive within one command deadline
   (smtpd_io_deadline SMTPD_PHASE_COMMAND). Over max octets incl. CRLF: drained,
   SMTPD_GL_LONG, and s->line holds the line's first octets (at most SMTPD_HEAD_MAX) to tell
   its command. Bare CR/LF: refuses and exits. EOF or timeout: exits (421 4.4.2 on timeout).
   *len = line length. */
enum smtpd_getline_res smtpd_io_getline(struct smtpd_session *s, size_t max, size_t *len);
/* Start a deadline: the limit is SMTP_TIMEOUT, or SMTP_STRESS_TIMEOUT while the port's stress
   slot is held. SMTPD_PHASE_COMMAND: one line must arrive within it. SMTPD_PHASE_DATA: each
   octet read adds 1/min_rate s, never past limit s from now (min_rate 0: each read restarts
   it). */
void smtpd_io_deadline(struct smtpd_session *s, enum smtpd_phase phase);
/* Read more client input into s->in; returns octets read; exits on EOF or when the deadline
   passes (421 4.4.2). */
size_t smtpd_io_fill(struct smtpd_session *s);
/* Make s->out (called once, before any reply). */
void smtpd_io_init(struct smtpd_session *s);

/* tlsd -h: take the TLS session's record state from s->handfd (closed afterwards); from then
   on the replies and the client's input go through s->rec on fds 0/1. 0 ok, -1 (logged). */
int smtpd_io_take_tls(struct smtpd_session *s);
/* Queue one reply line; 4xx/5xx are logged as "refused", with from=<> and rcpt=<> when known
   (s->log_from, s->log_rcpt, the open transaction's sender). "\r\n" is added. */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_io_flush(struct smtpd_session *s);
/* Flush, then exit (after a 221 or 421 reply). */
void smtpd_io_quit(struct smtpd_session *s, int code) __attribute__((noreturn));
/* Write all of p to a non-blocking or blocking fd within timeout seconds in all (a reader
   taking a few octets at a time cannot stretch it). 0 ok, -1 error/timeout (ETIMEDOUT). */
int smtpd_io_write_timeout(int fd, const void *p, size_t n, unsigned timeout);

/* smtpd.c */
void smtpd_reset_mail(struct smtpd_session *s);

/* smtpd_rcpt.c */
void smtpd_cmd_mail(struct smtpd_session *s, const char *arg, size_t n);
void smtpd_cmd_rcpt(struct smtpd_session *s, const char *arg, size_t n);

/* smtpd_data.c */
void smtpd_cmd_data(struct smtpd_session *s, const char *arg, size_t n);

/* smtpd_data.c: queue one message of ours (an operator alert): text (LF line ends) from
   sender to one recipient through queue-inject, DKIM-signed for account (the address the
   text has in From:) when its domain has a key; when the signer cannot answer it is queued
   unsigned rather than lost (logged). 0 queued (id filled), -1 not. */
int smtpd_inject_text(struct smtpd_session *s, const char *account, const char *sender,
                      const char *rcpt, const char *text, size_t n, char *id, size_t cap);

/* smtpd_limits.c (docs/smtp.md "Sending limits") */
/* Read the settings (RATE_*) into s. */
void smtpd_limits_init(struct smtpd_session *s);
/* Bind the open transaction to account (a login or a POP-before-SMTP account) or, with
   account NULL, to the client's IP (RELAYCLIENT); refuse when sending is suspended (550
   5.7.1) or the window's messages are used up (451 4.7.1, one operator alert per day).
   1 allowed, 0 refused (reply sent). */
int smtpd_limits_bind(struct smtpd_session *s, const char *account);
/* Before one more recipient of a bound transaction: 451 4.7.1 when the window's recipients
   are used up. 1 allowed, 0 refused (reply sent). */
int smtpd_limits_rcpt(struct smtpd_session *s);
/* After a bound message is queued: count it (one file write), alert on a burst. */
void smtpd_limits_sent(struct smtpd_session *s);

/* smtpd_auth.c */
void smtpd_cmd_auth(struct smtpd_session *s, const char *arg, size_t n);

#endif

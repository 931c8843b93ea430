/* smtpconn.h: remote's connection to one mail server: connect with a timeout, buffered
   commands (CRLF added), replies parsed by smtpreply, STARTTLS through tls/tlsclient. */
#ifndef YUBIN_SMTPCONN_H
#define YUBIN_SMTPCONN_H

#include "queue/smtpreply.h"

#include <stddef.h>
#include <sys/socket.h>

/* tls/tlsclient is linked when its source exists (queue/remote.mk uses $(wildcard)). */
#if defined(__has_include)
#if __has_include("tls/tlsclient.h") && __has_include("tls/tlsclient.c")
#define SMTPCONN_TLS 1
#endif
#endif
#ifdef SMTPCONN_TLS
#define SMTPCONN_HAVE_TLS 1
#else
#define SMTPCONN_HAVE_TLS 0
#endif

#define SMTPCONN_IN_MAX   4096     /* read buffer */
#define SMTPCONN_OUT_MAX  16384    /* write buffer: one pipelined group, one DATA block */
#define SMTPCONN_WHY_MAX  160      /* why the connection broke */
#define SMTPCONN_INFO_MAX 96       /* "TLSv1.2 ECDHE-RSA-..." */

struct tlsc;

/* All fields are read-only for callers except out/outlen (send_body fills out directly and
   calls smtpconn_flush). */
struct smtpconn {
    int fd;                        /* -1 when closed */
    struct tlsc *tls;              /* NULL: plaintext */
    int secure;                    /* STARTTLS done */
    int broken;                    /* no more I/O possible; why says what happened */
    unsigned timeout;              /* seconds per wait */
    char in[SMTPCONN_IN_MAX];
    size_t inpos, inlen;
    char out[SMTPCONN_OUT_MAX];
    size_t outlen;
    char why[SMTPCONN_WHY_MAX];
};

/* Connect to sa (its port replaced by port) within timeout seconds. 0 ok, -1 errno
   (ETIMEDOUT on timeout). The struct is reset first. */
int smtpconn_open(struct smtpconn *c, const struct sockaddr_storage *sa, socklen_t len,
                  unsigned port, unsigned timeout);
/* Take over an open plaintext connection (one from remote's connection cache): the struct is
   reset and uses fd from now on. */
void smtpconn_adopt(struct smtpconn *c, int fd);
/* 1 if nothing is queued to send, nothing is buffered unread and the connection works:
   a state in which it may wait idle for the next message. */
int smtpconn_is_idle(const struct smtpconn *c);
/* Queue one command (printf format, CRLF added, at most SMTP_CMD_MAX octets: longer → -1
   E2BIG, nothing queued); flushes when the buffer is full. 0 ok, -1 broken. */
int smtpconn_cmd(struct smtpconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send everything queued. 0 ok, -1 broken. */
int smtpconn_flush(struct smtpconn *c);
/* Flush, then read one complete reply into r, waiting at most timeout seconds per read.
   0 ok, -1 broken (timeout, EOF, a broken reply: c->why). */
int smtpconn_reply(struct smtpconn *c, struct smtpreply *r, unsigned timeout);
/* After "220" to STARTTLS: drop buffered plaintext (CVE-2011-0411), handshake. servername:
   SNI and the name checked with verify (NULL for IP literals). info receives the protocol
   and cipher. 0 ok; -1 failed (c->why; the connection is broken; also in a build without
   TLS, where SMTPCONN_HAVE_TLS is 0 and remote never asks). */
int smtpconn_starttls(struct smtpconn *c, const char *servername, int verify, unsigned timeout,
                  char *info, size_t infocap);
/* Implicit TLS on the fleet's internal route, right after connecting (before the greeting):
   tlsc_start_fleet with f (this node's client certificate; the server must show the fleet
   CA's certificate with the CN f->peer_cn). 0 ok (c->secure); -1 failed (c->why; broken; a
   build without TLS always fails). */
struct tlsc_fleet;
int smtpconn_start_fleet(struct smtpconn *c, const struct tlsc_fleet *f, unsigned timeout,
                         char *info, size_t infocap);
/* Keep an idle TLS connection (nothing queued or unread, the session open) for the next
   message: a forked child (same uid) holds the TCP socket and the TLS session and relays
   plaintext between it and one end of a socketpair (tls/pump.c) until that end is closed
   (then close_notify) or idle_s pass; the other end is returned, a plaintext connection the
   cache can hold like a TCP one; c is then closed here without close_notify. -1 when it
   cannot be kept (not idle, no TLS, no socketpair or fork): c is untouched, the caller QUITs
   and closes it. */
int smtpconn_park_tls(struct smtpconn *c, unsigned idle_s);
/* Close (TLS close_notify first). Safe to call twice. */
void smtpconn_close(struct smtpconn *c);

#endif

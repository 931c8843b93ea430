/* tlsclient.h: client side of TLS (BearSSL) for remote's STARTTLS to another mail server.
   Link: tls/tlsclient.c tls/pump.c with -lbearssl (remote_SRCS += tls/tlsclient.c tls/pump.c,
   remote_LIBS += -lbearssl).

   Use after the peer answered "220" to STARTTLS, and after discarding any plaintext the
   client had already read past that reply (CVE-2011-0411):

       struct tlsc *c = malloc(sizeof *c);    (about 40 KB: allocate it, not on a small stack)
       if (tlsc_start(c, fd, "mx.example.net", verify, NULL, 300) < 0) {
           log_info("TLS failed: %s", tlsc_error(c)); tlsc_close(c); ... temporary failure
       }
       tlsc_write(c, "EHLO me\r\n", 9); n = tlsc_read(c, buf, sizeof buf);   (read flushes)
       tlsc_close(c);                         (sends close_notify, wipes; fd left open)

   TLS 1.0-1.2 are offered (BearSSL has no 1.3); ECDHE and AEAD suites first, then CBC, so
   opportunistic TLS still works with old peers. verify=1 checks the chain against cafile
   (NULL = TLSC_CAFILE_DEFAULT, the system bundle) and the server name; verify=0 accepts any
   certificate (expired, self-signed, other name) but still does the full handshake, i.e. the
   traffic is encrypted but the peer is not authenticated (RFC 7435 opportunistic security). */
#ifndef YUBIN_TLSCLIENT_H
#define YUBIN_TLSCLIENT_H

#include "keys.h"

#include <bearssl.h>
#include <stddef.h>
#include <sys/types.h>

#define TLSC_CAFILE_DEFAULT "/etc/ssl/certs/ca-certificates.crt"
#define TLSC_CAFILE_MAX     (4 * 1024 * 1024)   /* bytes of PEM read from the CA file */
#define TLSC_ANCHORS_MAX    1024                /* trust anchors kept from the CA file */
#define TLSC_ERROR_MAX      160                 /* tlsc_error() text incl. NUL */
#define TLSC_INFO_MAX       96                  /* tlsc_info() text incl. NUL */
#define TLSC_CN_MAX         64                  /* a subject CN compared (RFC 5280 ub-common-name) */

/* Private: the no-verification X.509 engine (decodes the leaf key, trusts it). */
struct tlsc_noverify {
    const br_x509_class *vtable;
    br_x509_decoder_context dc;
    unsigned certs;          /* certificates seen in this chain */
    int decoded;             /* the leaf was decoded without error */
};

/* Trust anchors read from a PEM file (every CERTIFICATE in it; odd entries skipped). */
struct tlsc_anchors {
    br_x509_trust_anchor *ta;        /* malloc'd (TLSC_ANCHORS_MAX slots) */
    size_t n;
};

/* The fleet's internal route (docs/fleet.md "Part 2"): this node's client certificate and
   the fleet CA; the server must present a certificate of that CA whose subject CN is
   peer_cn ("fleet-NODE"). */
struct tlsc_fleet {
    const char *cafile, *certfile, *keyfile, *peer_cn;
};

/* All fields private. One struct per connection; tlsc_start initialises it. */
struct tlsc {
    br_ssl_client_context sc;
    br_x509_minimal_context xc;
    struct tlsc_noverify nv;
    struct tlsc_anchors ca;          /* freed by tlsc_close */
    struct keys_cert *client;        /* tlsc_start_fleet's certificate and key, or NULL */
    br_name_element cn;              /* the server's subject CN (tlsc_start_fleet) */
    char cnbuf[TLSC_CN_MAX + 1];
    const char *peer_cn;
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
    int fd;
    unsigned timeout;        /* seconds to wait for the peer in each call */
    int verify;
    int err;                 /* BearSSL error, or 0 */
    int sys_errno;           /* errno of a failed system call, or 0 */
    int timed_out;
    char errtext[TLSC_ERROR_MAX];
};

/* Handshake on fd (a connected socket; it is made non-blocking for the session). servername
   is sent as SNI and, with verify=1, must match the certificate (NULL: no SNI, no name check;
   an IP literal is not sent as SNI). timeout: seconds without progress before giving up.
   0 ok (encrypted; verified if verify=1); -1 failure: tlsc_error() says why, tlsc_verify_failed()
   says whether the peer's certificate was the reason. Always call tlsc_close() afterwards. */
int tlsc_start(struct tlsc *c, int fd, const char *servername, int verify, const char *cafile,
               unsigned timeout);

/* Implicit TLS on the fleet's internal route: TLS 1.2, the client certificate of f, the
   server verified against f->cafile with subject CN f->peer_cn (no SNI, no host name
   check: nodes are named by the CN). 0 ok, -1 as tlsc_start. */
int tlsc_start_fleet(struct tlsc *c, int fd, const struct tlsc_fleet *f, unsigned timeout);

/* Read the CERTIFICATEs of a PEM file (at most TLSC_CAFILE_MAX bytes) as trust anchors.
   0 ok; -1 with a sentence in err (cap bytes). Free with tlsc_anchors_free (also after -1). */
int tlsc_anchors_load(struct tlsc_anchors *a, const char *path, char *err, size_t cap);
void tlsc_anchors_free(struct tlsc_anchors *a);

/* Queue n bytes for sending (sent when the engine's buffer fills, on tlsc_flush, or before
   tlsc_read waits). 0 ok, -1 error (connection broken / timeout). */
int tlsc_write(struct tlsc *c, const void *p, size_t n);
/* Send everything queued. 0 ok, -1 error. */
int tlsc_flush(struct tlsc *c);
/* Flush, then read up to n decrypted bytes. Returns > 0 bytes, 0 when the peer closed the TLS
   session (close_notify, or a TCP close; both end the session), -1 error or timeout. */
ssize_t tlsc_read(struct tlsc *c, void *p, size_t n);

/* Send close_notify (best effort, bounded by the timeout), wipe the keys and free memory. The
   fd stays open: the caller closes it. Safe after a failed tlsc_start. */
void tlsc_close(struct tlsc *c);

/* Why the last call failed: e.g. "certificate not trusted (BearSSL error 62)",
   "timeout", "connection closed by peer". Never NULL. */
const char *tlsc_error(const struct tlsc *c);
/* After a successful start: the session's engine, for pump_relay (tls/pump.h) between the
   socket and two plaintext fds (pop3-link). The caller still ends with tlsc_close. */
br_ssl_engine_context *tlsc_engine(struct tlsc *c);
/* Like tlsc_close without the close_notify: another process (a fork that holds a copy of the
   session) carries the connection on; this copy's keys and buffers are wiped. */
void tlsc_forget(struct tlsc *c);
/* Seconds each later call waits for the peer (tlsc_start's timeout until then). */
void tlsc_set_timeout(struct tlsc *c, unsigned timeout);
/* 1 if tlsc_start failed because the certificate did not verify (verify=1), else 0. */
int tlsc_verify_failed(const struct tlsc *c);
/* After a successful tlsc_start: "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384" style text for the
   Received: header / logs, written into out (cap >= TLSC_INFO_MAX). 0 ok, -1 no session. */
int tlsc_info(const struct tlsc *c, char *out, size_t cap);

#endif

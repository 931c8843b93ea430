/* handoff.h: the TLS record layer handed from tlsd to its child after the handshake
   (docs/tls.md "The handoff"). tlsd does the handshake as yubin-tls (the key stays with
   tlskeyd), then gives the child (smtpd, started with tlsd -h) the session's traffic keys and
   record sequence numbers over a pipe; the child then reads and writes the TLS records of
   its own connection, and no process relays the session's bytes. Only our server suites
   (TLS 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305: tls/pump.h) can be handed over. */
#ifndef YUBIN_TLS_HANDOFF_H
#define YUBIN_TLS_HANDOFF_H

#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

#define HANDOFF_PENDING_MAX  16384  /* plaintext tlsd's engine had already decrypted */
#define HANDOFF_HEAD         113    /* the encoding without the pending plaintext */
#define HANDOFF_MAX          (HANDOFF_HEAD + HANDOFF_PENDING_MAX)

/* The code paths tlsd's engine found on this CPU (one CPUID each, ~15 us on a VM: the child
   need not ask again). */
#define HANDOFF_AESNI   1u          /* br_aes_x86ni_ctr_vtable */
#define HANDOFF_PCLMUL  2u          /* br_ghash_pclmul */
#define HANDOFF_SSE2    4u          /* br_chacha20_sse2_run */
#define HANDOFF_CTMULQ  8u          /* br_poly1305_ctmulq_run */

struct handoff {
    unsigned suite;                 /* one of pump_server_suites */
    unsigned flags;                 /* HANDOFF_* */
    uint64_t seq_in, seq_out;       /* the next record's sequence number, each way */
    unsigned char key_in[32], key_out[32];  /* the client's and the server's write keys */
    unsigned char iv_in[12], iv_out[12];    /* GCM: 4 octets used; ChaCha20: 12 */
    size_t npending;
    unsigned char pending[HANDOFF_PENDING_MAX];
};

/* tlsd: the state of server engine eng, whose handshake is done (SENDAPP|RECVAPP, nothing
   left to send), into h. 0 ok, -1 a suite that cannot be handed over. */
int handoff_from_engine(const br_ssl_engine_context *eng, struct handoff *h);

/* Encode h into out (cap >= HANDOFF_HEAD + h->npending). Returns the length, -1 too small. */
long handoff_encode(const struct handoff *h, unsigned char *out, size_t cap);

/* Decode exactly n octets. 0 ok, -1 malformed (unknown magic or suite, bad lengths, flags). */
int handoff_decode(const unsigned char *p, size_t n, struct handoff *h);

/* --- the child's side: records in and out with the handed-over state --- */

#define TLSREC_PLAIN_MAX     16384                  /* RFC 5246 §6.2.1 */
#define TLSREC_CIPHER_MAX    (TLSREC_PLAIN_MAX + 2048)  /* §6.2.3 */
#define TLSREC_RECORD_MAX    (5 + TLSREC_CIPHER_MAX)
#define TLSREC_EMPTY_MAX     32     /* empty application records in a row (OpenSSL's limit) */

enum tlsrec_res {
    TLSREC_DATA = 0,    /* plaintext given */
    TLSREC_MORE,        /* no whole record buffered: read more from the network */
    TLSREC_CLOSED,      /* the peer's close_notify */
    TLSREC_ERROR,       /* r->why says what; r->alert_out is the alert owed to the peer (0 none) */
};

struct tlsrec {
    union {
        const br_sslrec_in_class *vtable;
        br_sslrec_gcm_context gcm;
        br_sslrec_chapol_context chapol;
    } in;
    union {
        const br_sslrec_out_class *vtable;
        br_sslrec_gcm_context gcm;
        br_sslrec_chapol_context chapol;
    } out;
    size_t rpos, ilen;              /* ibuf[rpos, ilen): received, not yet taken as records */
    size_t ppos, plen;              /* the plaintext not yet given, inside ibuf */
    unsigned empties;               /* empty application records in a row */
    int alert_out;                  /* the fatal alert to send after TLSREC_ERROR; 0 none */
    const char *why;                /* after TLSREC_ERROR: a short reason for the log */
    unsigned char ibuf[2 * TLSREC_RECORD_MAX];  /* one whole record, and room to read ahead */
    unsigned char obuf[TLSREC_RECORD_MAX];
};

/* Set r up from h (keys wiped from h afterwards); h's pending plaintext comes out first. */
void tlsrec_init(struct tlsrec *r, struct handoff *h);

/* Where the next octets from the network go: *space octets at the returned address (never 0
   while tlsrec_get asks for more); tlsrec_ack says how many arrived. */
unsigned char *tlsrec_space(struct tlsrec *r, size_t *space);
void tlsrec_ack(struct tlsrec *r, size_t n);

/* 1 if tlsrec_get has something to say without more octets from the network: plaintext, a
   whole record, or the error it stopped at. */
int tlsrec_ready(const struct tlsrec *r);

/* Take plaintext: at most cap octets into dst, *n set. */
enum tlsrec_res tlsrec_get(struct tlsrec *r, void *dst, size_t cap, size_t *n);

/* Protect at most TLSREC_PLAIN_MAX of the n octets at p as one record of type (23 data, 21
   alert). *used = the octets taken; returns the record (*len octets, header included), valid
   until the next call. */
const unsigned char *tlsrec_seal(struct tlsrec *r, int type, const void *p, size_t n,
                                 size_t *used, size_t *len);

#endif

/* pump.h: the non-blocking BearSSL engine pump (SPECS.md §8.3), shared by tlsd (relay between
   the network and the child's plaintext pipes) and tlsclient (blocking-style calls). */
#ifndef YUBIN_TLS_PUMP_H
#define YUBIN_TLS_PUMP_H

#include <bearssl.h>
#include <stddef.h>

#define PUMP_CLOSE_MS   10000   /* time allowed to send close_notify once a side is done */

/* Milliseconds of CLOCK_MONOTONIC. */
long long pump_now_ms(void);

/* Move records between eng and the network (netin readable, netout writable; may be the
   same socket; need not be O_NONBLOCK: sockets use MSG_DONTWAIT) until the engine state has
   one of the bits in want, always sending pending records first. Gives up at deadline_ms
   (pump_now_ms() clock). Returns 1 reached, 0 timeout, -1 closed or failed: errno is set for
   a failed system call (0 when the engine closed: see br_ssl_engine_last_error; EPIPE for a
   TCP close by the peer). */
int pump_wait(br_ssl_engine_context *eng, int netin, int netout, unsigned want,
              long long deadline_ms);

enum pump_end {
    PUMP_END_CLEAN = 0,     /* close_notify exchanged, or the app ended and we sent ours */
    PUMP_END_PEER_EOF,      /* TCP closed without close_notify (truncation) */
    PUMP_END_TLS_ERROR,     /* engine error: see err */
    PUMP_END_IO_ERROR,      /* read/write failed: see sys_errno */
    PUMP_END_IDLE,          /* nothing moved for idle_ms */
};

struct pump_relay {
    br_ssl_engine_context *eng;
    int netin, netout;      /* the network */
    int appin;              /* plaintext from the app (child's stdout); O_NONBLOCK; -1 = none */
    int appout;             /* plaintext to the app (child's stdin); O_NONBLOCK; -1 = none */
    long long idle_ms;      /* end the session after this long without traffic; 0 = never */
    /* results */
    enum pump_end end;
    int err;                /* br_ssl_engine_last_error at the end */
    int sys_errno;
    unsigned long long bytes_in, bytes_out;  /* plaintext octets to / from the app */
};

/* Relay until both directions are done. Closes appin/appout (sets them to -1) when done with
   them: the app sees EOF on its stdin when the peer closed. Sends close_notify when the app
   closes its output. Returns 0 for PUMP_END_CLEAN, -1 otherwise (r->end says why). */
int pump_relay(struct pump_relay *r);

/* OpenSSL-style names for logs and SSL_CIPHER: "ECDHE-RSA-AES128-GCM-SHA256"; NULL if
   unknown. "TLSv1.2" for BR_TLS12 etc. */
const char *pump_suite_name(unsigned suite);
const char *pump_version_name(unsigned version);
/* A short text for a BearSSL error code (alerts: "received alert 40", "sent alert 70"),
   written into out (cap >= 64). Returns out. */
const char *pump_error_text(int err, char *out, size_t cap);

/* Our server suites: TLS 1.2 ECDHE + AEAD, in server preference order. */
extern const uint16_t pump_server_suites[];
extern const size_t pump_server_suites_len;

/* Reset sc for our server suites (TLS 1.2, pump_server_suites) with only what they use:
   SHA-1..SHA-512 and the TLS 1.2 PRFs, AES-GCM, ChaCha20-Poly1305, and the EC code of
   x25519_ec() (tls/x25519.h: our X25519, BearSSL's default for the other curves).
   BearSSL's br_ssl_server_init_full_* also sets up CBC, CCM and 3DES, and each of its
   *_get_vtable picks the AES-NI/PCLMUL/SSE2 code with a CPUID, which is a trap into the
   hypervisor in a virtual machine (~15 us each on the benchmarks' VM): 2 here instead of 6
   per connection (75 -> 30 us). The caller sets the policy (the certificate and the key) afterwards. */
void pump_server_init(br_ssl_server_context *sc);

#endif

/* ucspi.h: the UCSPI-TLS control channel (SPECS.md §7.2): the app's start byte and tlsd's
   handshake report "SSL_PROTOCOL=TLSv1.2\0SSL_CIPHER=ECDHE-...\0\0". Also used in implicit
   mode, where tlsd hands the same report to its waiting child before the child execs.
   One addition of ours, so that STARTTLS/STLS can be refused before the "go ahead" reply
   (RFC 3207 §4: 454): the app may first write '?'; tlsd decodes and checks its certificates
   and answers one byte, '+' (then 'Y'/'y' follows as usual) or '-' (TLS is unavailable; tlsd
   closes the channel and the session goes on in plaintext). */
#ifndef YUBIN_TLS_UCSPI_H
#define YUBIN_TLS_UCSPI_H

#include <stddef.h>

#define UCSPI_VALUE_MAX  253    /* one value (an SNI host name is the longest) */
#define UCSPI_NAME_MAX   32     /* one variable name */
#define UCSPI_INFO_MAX   1024   /* a whole report incl. the final NULs */

/* The app writes one byte on SSLCTLFD. */
enum ucspi_start {
    UCSPI_START_INFO = 1,   /* 'Y': start TLS and send the report on the control fd */
    UCSPI_START_QUIET,      /* 'y': start TLS, close the control fd without a report */
    UCSPI_ASK,              /* '?': can TLS start? answered with UCSPI_READY or UCSPI_UNAVAILABLE */
};
#define UCSPI_READY       '+'
#define UCSPI_UNAVAILABLE '-'
#define UCSPI_ASK_WAIT_MS 10000 /* the app's wait for the answer (tlsd decodes the key files) */

struct ucspi_info {
    char protocol[UCSPI_VALUE_MAX + 1];   /* SSL_PROTOCOL, e.g. "TLSv1.2" */
    char cipher[UCSPI_VALUE_MAX + 1];     /* SSL_CIPHER, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256" */
    char sni[UCSPI_VALUE_MAX + 1];        /* SSL_TLS_SNI_SERVERNAME, "" if none */
    char client_cn[UCSPI_VALUE_MAX + 1];  /* SSL_CLIENT_S_DN_CN: the verified client
                                             certificate's CN (tlsd -C), "" if none */
    char resumed[UCSPI_VALUE_MAX + 1];    /* SSL_SESSION_RESUMED (mod_ssl's name): "Resumed"
                                             for an abbreviated handshake, "Initial" for a
                                             full one, "" if not said */
};

/* The descriptor named by environment variable name (SSLCTLFD, SSLREADFD, SSLWRITEFD: decimal,
   at most UCSPI_FD_MAX); -1 when unset or not such a number. */
#define UCSPI_FD_MAX 65535
int ucspi_env_fd(const char *name);

/* 'Y' / 'y' / '?' → the enum; any other byte → -1. */
int ucspi_start_byte(unsigned char c);

/* Write the report for info into out (cap bytes): each non-empty field as NAME=value\0,
   then one more \0. Returns its length, -1 if it does not fit or a value holds a byte
   outside printable ASCII 0x21-0x7e. */
long ucspi_info_build(const struct ucspi_info *info, char *out, size_t cap);

/* Decode a report from the first n bytes of s. Names are [A-Z0-9_]{1,32}, values printable
   ASCII 0x21-0x7e, at most UCSPI_VALUE_MAX; unknown names are skipped; a repeated known name
   is malformed; the whole report must fit UCSPI_INFO_MAX.
   Returns 1 complete (*used = octets through the final NUL), 0 incomplete (give more bytes),
   -1 malformed. */
int ucspi_info_parse(const char *s, size_t n, struct ucspi_info *info, size_t *used);

/* The app's side. ucspi_ask: write '?' on ctl and wait (at most UCSPI_ASK_WAIT_MS) for the
   answer: 1 TLS can start, 0 it cannot (tlsd said '-', closed the channel, or did not answer).
   ucspi_start: write 'Y' and read the report of the finished handshake into info:
   0 ok, -1 the handshake failed (tlsd closed the channel) or the report is malformed. */
int ucspi_ask(int ctl);
int ucspi_start(int ctl, struct ucspi_info *info);

/* The STARTTLS service (tlsd -S behind run/starttls.sock; docs/tls.md "The STARTTLS
   service"): smtpd, which tcpserver started without tlsd in front on port 25, asks for its
   tlsd only when the client says STARTTLS. One lib/ipcfd request to sock carries the
   connection net and the other ends of a new control channel and handoff pipe, with the
   arguments "starttls" IP (the client's address, only for tlsd's log lines: sent when
   str_ip_text_ok accepts it, "" otherwise). *ctl and *hand get our ends (close-on-exec), to
   be used as SSLCTLFD and SSLHANDOFFFD are: ucspi_ask, ucspi_start, then the record state.
   0 ok, -1 errno (the service not there: ENOENT, ECONNREFUSED). */
int ucspi_serve_connect(const char *sock, int net, const char *ip, int *ctl, int *hand);

#endif

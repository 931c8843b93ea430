/* ucspi.h: the UCSPI-TLS control channel (SPECS.md §7.2): the app's start byte and tlsd's
   handshake report "SSL_PROTOCOL=TLSv1.2\0SSL_CIPHER=ECDHE-...\0\0". Also used in implicit
   mode, where tlsd hands the same report to its waiting child before the child execs. */
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
};

struct ucspi_info {
    char protocol[UCSPI_VALUE_MAX + 1];   /* SSL_PROTOCOL, e.g. "TLSv1.2" */
    char cipher[UCSPI_VALUE_MAX + 1];     /* SSL_CIPHER, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256" */
    char sni[UCSPI_VALUE_MAX + 1];        /* SSL_TLS_SNI_SERVERNAME, "" if none */
};

/* 'Y' / 'y' → the enum; any other byte → -1. */
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

#endif

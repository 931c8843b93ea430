/* smtpreply.h: parser of a remote SMTP server's replies (RFC 5321 §4.2), EHLO keywords
   (§4.1.1.1) and the client's DATA encoding (§4.5.2). Pure functions over bytes: the remote
   server is hostile input, so every line and every reply is bounded. */
#ifndef YUBIN_SMTPREPLY_H
#define YUBIN_SMTPREPLY_H

#include "limits.h"

#include <stddef.h>
#include <stdint.h>

/* One reply line, CRLF included. RFC 5321 §4.5.3.1.5 says 512; real servers overshoot a
   little, so we tolerate twice that before calling the reply broken. */
#define SMTPREPLY_LINE_MAX   1024
/* Lines of one reply (an EHLO answer has one per extension). Ours. */
#define SMTPREPLY_LINES_MAX  100
/* Text kept from all lines of a reply, lines separated by '\n'. Later text is dropped. */
#define SMTPREPLY_TEXT_MAX   4096
/* A reply quoted in one line (our output to queue-run, bounces, logs). */
#define SMTPREPLY_QUOTE_MAX  SMTP_REPLY_MAX
/* "X.Y.Z": class 1 digit, subject and detail up to 3 digits each (RFC 3463 §2). */
#define SMTPREPLY_STATUS_MAX 12

enum smtpreply_err {
    SMTPREPLY_OK = 0,
    SMTPREPLY_ESYNTAX,     /* a line does not start with a valid 3-digit code */
    SMTPREPLY_EMIXED,      /* lines of one multi-line reply carry different codes */
    SMTPREPLY_ETOOLONG,    /* a line longer than SMTPREPLY_LINE_MAX */
    SMTPREPLY_ETOOMANY,    /* more than SMTPREPLY_LINES_MAX lines */
};

struct smtpreply {
    int code;                               /* 200..599 once complete; 0 before */
    unsigned lines;                         /* complete lines seen */
    char text[SMTPREPLY_TEXT_MAX + 1];      /* the text after "NNN-"/"NNN ", control bytes
                                               removed, lines separated by '\n' */
    size_t textlen;
    int truncated;                          /* text did not fit; the rest was dropped */
    enum smtpreply_err err;
    /* the line being read */
    char line[SMTPREPLY_LINE_MAX + 1];
    size_t linelen;
};

/* Ready for a new reply. */
void smtpreply_init(struct smtpreply *r);
/* Feed n bytes. A line ends at LF; a CR right before it is dropped (we accept bare-LF
   replies: reading them is harmless, unlike a server accepting bare-LF commands). Stops at
   the end of the reply: *used says how many bytes were consumed, the rest belongs to the
   next reply (pipelining). Returns 1 reply complete, 0 need more bytes, -1 broken reply
   (r->err says why; the connection should be dropped). */
int smtpreply_feed(struct smtpreply *r, const char *p, size_t n, size_t *used);

/* The enhanced status code (RFC 2034/3463) at the start of the reply's text when it is
   well-formed and its class matches the reply code, else the generic "C.0.0" of the code's
   class. out: cap >= SMTPREPLY_STATUS_MAX. */
void smtpreply_status(const struct smtpreply *r, char *out, size_t cap);
/* "CODE text text" on one line: lines joined by one space, at most cap-1 octets (cut at the
   bound; cap <= SMTPREPLY_QUOTE_MAX recommended), always NUL-terminated. */
void smtpreply_quote(const struct smtpreply *r, char *out, size_t cap);
/* Human-readable name of an error. */
const char *smtpreply_strerror(enum smtpreply_err e);

/* What an EHLO reply offers (keywords case-insensitive, §4.1.1.1). */
struct ehlo_caps {
    int starttls;
    int pipelining;
    int eightbitmime;
    int smtputf8;
    int size;            /* SIZE advertised */
    uint64_t size_max;   /* its limit; 0 = no fixed limit (RFC 1870 §4) */
};
/* Fill caps from a complete 250 reply to EHLO (first line is the greeting, not a keyword). */
void ehlo_parse(const struct smtpreply *r, struct ehlo_caps *caps);

/* DATA encoding (§4.5.2, SPECS §1.4): the message is stored with LF line ends; on the wire
   every line ends in CRLF and a line starting with '.' gets one more '.'. A CR right before
   an LF is taken as part of that line end; any other CR (never stored by our smtpd) is sent
   as a space so that no bare CR reaches the wire. */
struct data_enc {
    int bol;          /* at the beginning of a line */
    int cr;           /* a CR was held back, waiting to see whether LF follows */
};
void data_enc_init(struct data_enc *e);
/* Encode n input bytes into out (cap bytes). Returns the input bytes consumed (may be < n
   when out is nearly full; out needs room for at least 3 bytes to make progress) and sets
   *outlen. */
size_t data_enc_run(struct data_enc *e, const char *in, size_t n, char *out, size_t cap,
                    size_t *outlen);
/* The end: CRLF if the last line was unterminated, then ".\r\n". out: cap >= 6. */
size_t data_enc_finish(struct data_enc *e, char *out, size_t cap);
/* Octets data_enc would send for the message, terminator excluded (for SIZE=, RFC 1870). */
uint64_t data_enc_size(const char *in, size_t n);
/* 1 if any byte >= 0x80 (BODY=8BITMIME, RFC 6152). */
int data_has_8bit(const char *in, size_t n);

#endif

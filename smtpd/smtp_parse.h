/* smtp_parse.h: SMTP command lines, MAIL/RCPT parameters and the DATA state machine
   (RFC 5321 §2.3.8, §4.1, §4.5.2; RFC 1870, 6152, 6531, 4954 §5). Pure functions over bytes:
   no I/O, so unit tests and libFuzzer call them directly. */
#ifndef YUBIN_SMTP_PARSE_H
#define YUBIN_SMTP_PARSE_H

#include "addr.h"
#include "limits.h"

#include <stddef.h>
#include <stdint.h>

/* The input buffer of one session: the longest line we accept (an AUTH line) plus room
   for pipelined commands behind it. */
#define SMTP_IN_MAX         16384

/* Command lines are found with lineio_find_crlf (lib/lineio.h): CRLF is the only
   terminator (RFC 5321 §2.3.8). */

enum smtp_verb {
    VERB_UNKNOWN, VERB_EHLO, VERB_HELO, VERB_MAIL, VERB_RCPT, VERB_DATA, VERB_RSET,
    VERB_NOOP, VERB_QUIT, VERB_VRFY, VERB_HELP, VERB_EXPN, VERB_AUTH, VERB_STARTTLS,
};

struct smtp_cmd {
    enum smtp_verb verb;
    const char *arg;    /* points into the line; spaces after the verb skipped */
    size_t arglen;      /* trailing spaces removed */
};

/* Split a command line (without CRLF). 0 ok; -1 if the line holds a NUL or another control
   character except TAB (500 5.5.2). An unknown verb is VERB_UNKNOWN, not an error. */
int smtp_cmd_parse(const char *line, size_t n, struct smtp_cmd *c);
/* Verb name for logs ("MAIL"), "?" for unknown. */
const char *smtp_verb_name(enum smtp_verb v);

enum smtp_perr {
    PARSE_OK,
    PARSE_NOPREFIX,     /* not "FROM:" / "TO:" */
    PARSE_PATH,         /* path syntax */
    PARSE_TOOLONG,      /* local-part, domain or path over RFC 5321 §4.5.3.1 bounds */
    PARSE_PARAM,        /* unknown parameter (555 5.5.4) */
    PARSE_PARAMVAL,     /* bad value or repeated parameter (501 5.5.4) */
};

enum smtp_body { BODY_NONE, BODY_7BIT, BODY_8BITMIME };

struct smtp_mailcmd {
    struct addr path;
    int has_size;
    uint64_t size;      /* SIZE= (RFC 1870), capped at UINT64_MAX-ish by the digit limit */
    enum smtp_body body;
    int smtputf8;
    int has_auth;       /* AUTH=<xtext> seen (RFC 4954 §5): accepted and ignored */
};

/* arg = everything after "MAIL " / "RCPT ". "FROM: <a>" (space after the colon) tolerated. */
enum smtp_perr smtp_parse_mail(const char *arg, size_t n, struct smtp_mailcmd *m);
/* RCPT takes no parameters here (no DSN advertised): any parameter is PARSE_PARAM. */
enum smtp_perr smtp_parse_rcpt(const char *arg, size_t n, struct addr *a);
/* RCPT on the fleet's internal route (smtpd -f, docs/fleet.md "SMTP routing"): the one
   parameter XEPOCH=N, the epoch of the domain's home in the sending node's maps (decimal,
   1..FLEET_EPOCH_MAX, no leading zero); *epoch = 0 when absent. A bad or repeated XEPOCH is
   PARSE_PARAMVAL, any other parameter PARSE_PARAM. */
enum smtp_perr smtp_parse_rcpt_fleet(const char *arg, size_t n, struct addr *a, uint64_t *epoch);

/* DATA (RFC 5321 §4.1.1.4, §4.5.2): only CRLF "." CRLF ends the data; a leading dot is
   removed; CRLF becomes LF in the output; bare CR or LF is refused. */
enum smtp_dstate { DS_BOL, DS_MID, DS_CR, DS_DOT, DS_DOTCR };

struct smtp_data {
    enum smtp_dstate state;
    uint64_t size;          /* message octets as received with CRLF, dots unstuffed */
    size_t linelen;         /* octets of the current line so far (saturates) */
    int in_header;
    uint64_t header_len;
    unsigned received;      /* "Received:" header lines */
    int recv_match;         /* current header line still matches "Received:" */
    int too_big;            /* size > MESSAGE_MAX (552 5.3.4) */
    int line_long;          /* a line over SMTP_TEXT_MAX (RFC 5321 §4.5.3.1.6) */
    int header_long;        /* header section over SMTP_HEADER_MAX */
    int loop;               /* more than RECEIVED_MAX Received: lines (554 5.4.6) */
};

enum smtp_dres {
    DATA_MORE,      /* all input consumed, the end not seen yet */
    DATA_END,       /* end of data: *used octets consumed (the rest is the next command) */
    DATA_BARE,      /* bare CR or LF: abort the message, refuse, close */
};

void smtp_data_init(struct smtp_data *d);
/* Feed n octets. Unstuffed, LF-terminated message bytes are written to out (cap >= n: the
   output is never longer than the input) and their count to *outlen; once any flag is set
   nothing more is written. *used = octets consumed. */
enum smtp_dres smtp_data_feed(struct smtp_data *d, const char *in, size_t n, char *out,
                              size_t *outlen, size_t *used);
/* 1 if the message must be refused (any flag set). */
int smtp_data_refused(const struct smtp_data *d);

/* AUTH PLAIN message (RFC 4616 §2): authzid NUL authcid NUL passwd. On success points
   *user and *pass into msg. Fails when authcid or passwd is empty or over AUTH_FIELD_MAX, or when
   a non-empty authzid differs from authcid. 0 ok, -1 bad. */
int smtp_plain_split(const char *msg, size_t n, const char **user, size_t *ulen,
                     const char **pass, size_t *plen);

/* Copy a client-supplied name (EHLO argument) into out for a header: printable ASCII
   letters, digits and "-._:[]" kept, anything else becomes '?'; cut at cap-1. */
void smtp_sanitize(const char *in, size_t n, char *out, size_t cap);

#endif

/* pop3_parse.h: POP3 command lines (RFC 1939 §3, RFC 2449 §4), message-number arguments and
   the SASL PLAIN message (RFC 4616 §2, RFC 5034). Pure functions over bytes: no I/O, so unit
   tests and libFuzzer call them directly. Used by pop3-front (AUTHORIZATION) and pop3d
   (TRANSACTION). */
#ifndef YUBIN_POP3_PARSE_H
#define YUBIN_POP3_PARSE_H

#include "limits.h"

#include <stddef.h>

/* Message numbers are at most this many decimal digits (more is "no such message"). */
#define POP3_NUM_DIGITS_MAX 9

/* The CAPA answer (RFC 2449 §5), written once for both programs: pop3-front sends HEAD,
   "STLS\r\n" when STLS is on offer, then TAIL; pop3d (logged in) sends HEAD then TAIL. */
#define POP3_CAPA_HEAD "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\n" \
                       "AUTH-RESP-CODE\r\nPIPELINING\r\nSASL PLAIN LOGIN\r\n"
#define POP3_CAPA_TAIL "EXPIRE NEVER\r\nIMPLEMENTATION yubin\r\n.\r\n"

/* Command lines are found with lineio_find_lf / lineio_next (lib/lineio.h): LF ends a line,
   one CR before it is dropped. */

enum pop3_cmd {
    POP3_UNKNOWN, POP3_USER, POP3_PASS, POP3_AUTH, POP3_STLS, POP3_CAPA, POP3_QUIT,
    POP3_STAT, POP3_LIST, POP3_RETR, POP3_DELE, POP3_NOOP, POP3_RSET, POP3_TOP, POP3_UIDL,
    POP3_APOP,
};

enum pop3_syntax {
    POP3_SYNTAX_OK,
    POP3_SYNTAX_CTL,        /* NUL or another control character in the line */
    POP3_SYNTAX_ARGS,       /* missing, extra or non-numeric arguments */
};

struct pop3_req {
    enum pop3_cmd cmd;
    const char *arg;        /* USER/PASS: the rest of the line (PASS keeps its spaces);
                               AUTH: the mechanism; points into the line */
    size_t arglen;
    const char *arg2;       /* AUTH: the initial response, or NULL */
    size_t arg2len;
    int nnum;               /* numbers given: 0, 1 (LIST/UIDL/RETR/DELE/TOP) or 2 (TOP) */
    unsigned long num[2];   /* a number too long is 0 ("no such message"), except TOP's line
                               count: (unsigned long)-1, the whole message */
};

/* Parse one command line (without CRLF). The keyword is case-insensitive. Returns the
   syntax verdict; r->cmd is set even when the arguments are wrong (so the reply can name
   the command). An unknown keyword is POP3_UNKNOWN with POP3_SYNTAX_OK. */
enum pop3_syntax pop3_parse(const char *line, size_t len, struct pop3_req *r);

/* Name of a command for replies and logs ("RETR"); "?" for POP3_UNKNOWN. */
const char *pop3_cmd_name(enum pop3_cmd c);

/* Decode an AUTH PLAIN response (base64 of "[authzid] NUL authcid NUL passwd").
   authcid goes to login (cap >= AUTH_FIELD_MAX + 1, NUL-terminated), passwd to pass (same).
   authcid and passwd must be 1..AUTH_FIELD_MAX octets without NUL; an authzid must be empty
   or equal to authcid. "=" is an empty response (refused). Returns 0 ok, -1 malformed. The
   caller wipes pass. */
int pop3_sasl_plain(const char *b64, size_t n, char *login, size_t *loginlen, char *pass,
                    size_t *passlen);

/* Decode one AUTH LOGIN response (base64 of the user name or of the password) into out (cap
   >= AUTH_FIELD_MAX + 1, NUL-terminated): 1..AUTH_FIELD_MAX octets without NUL. Returns 0,
   or -1 when malformed ("=" too). The caller wipes a password. */
int pop3_sasl_field(const char *b64, size_t n, char *out, size_t *outlen);

/* Hex (POP3_PENDING) decoding: 2*n hex digits into out (cap >= n). Returns bytes or -1. */
long pop3_hex_decode(const char *hex, size_t n, char *out, size_t cap);
/* SSL_PROTOCOL as pop3-front hands it on: the protocol's name, and POP3_STLS_MARK after it
   when TLS began with STLS on port 110 rather than on port 995. The plan rule (the manual's
   POP over SSL, port 995) is for the latter: 1 if proto names TLS begun on 995. */
#define POP3_STLS_MARK "+STLS"
int pop3_tls_implicit(const char *proto);

/* The TLS plan rule's refusal for plan (NULL or "": "current"), with CRLF, into out (cap >=
   POP3_REPLY_MAX): pop3d on the home node and pop3-link on a front say the same. Returns its
   length. */
size_t pop3_plan_refusal(char *out, size_t cap, const char *plan);
/* Refusals of a fleet's mailbox sessions (docs/fleet.md "POP3 through any node"), with CRLF. */
#define POP3_FROZEN_REPLY "-ERR [IN-USE] your mailbox is under maintenance; try again in a " \
    "minute / メンテナンス中です。1 分ほどしてから再度お試しください\r\n"
#define POP3_HOME_DOWN_REPLY "-ERR [SYS/TEMP] the server that keeps your mailbox cannot be " \
    "reached right now; your mail is safe there: try again in a few minutes\r\n"

#endif

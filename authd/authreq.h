/* authreq.h: strict decoder of one authd request (docs/internals.md "authd request") */
#ifndef YUBIN_AUTHREQ_H
#define YUBIN_AUTHREQ_H

#include "limits.h"

#include <stddef.h>

/* "yubin-auth1\0SERVICE\0REMOTEIP\0LOGIN\0PASSWORD\0", at most AUTH_REQ_MAX octets. */
#define AUTHREQ_MAGIC       "yubin-auth1"
#define AUTHREQ_SERVICE_MAX 8       /* "smtp", "pop3", "web" (the member page) or "admin" (its
                                       domain administrators: etc/webadmins, a domain as login) */
#define AUTHREQ_IP_MAX      45      /* INET6_ADDRSTRLEN - 1: text form of an IPv6 address */

enum authreq_err {
    AUTHREQ_OK = 0,
    AUTHREQ_ETOOLONG,   /* more than AUTH_REQ_MAX octets */
    AUTHREQ_EMAGIC,     /* does not start with the version word */
    AUTHREQ_EFIELDS,    /* not exactly five NUL-terminated fields */
    AUTHREQ_ESERVICE,   /* service is not smtp, pop3, web or admin */
    AUTHREQ_EIP,        /* remote address is not empty nor an IP address in text form */
    AUTHREQ_ELOGIN,     /* login empty, over AUTH_FIELD_MAX, or with control characters */
    AUTHREQ_EPASSWORD,  /* password empty or over AUTH_FIELD_MAX */
};

/* Pointers into the caller's buffer; each field is NUL-terminated there. */
struct authreq {
    const char *service;
    const char *ip;          /* "" when the client does not know the address */
    const char *login;
    size_t loginlen;
    const char *password;
    size_t passlen;
};

/* Decode n octets at buf. Every field must end in NUL and nothing may follow the fifth.
   Fills r only on AUTHREQ_OK. Never reads past buf[n-1]. */
enum authreq_err authreq_parse(const char *buf, size_t n, struct authreq *r);
/* A short English text for an error, for the log. */
const char *authreq_strerror(enum authreq_err e);
/* Copy s (length n) into out (cap >= 1) for a log line: bytes outside 0x21..0x7e and '='
   become '?'; cut to cap-1 octets. */
void authreq_logsafe(const char *s, size_t n, char *out, size_t cap);

/* checkpw's input (SPECS.md §6.1; docs/internals.md "pop3d (through run/pop3d.sock)").
   Classic (fd 3): "login\0password\0" then anything (timestamp\0 ...), at most CHECKPW_MAX
   octets in all. Pending mode (-s, fd 2): "LOGIN\0PASSWORD\0" at most CHECKPW_MAX octets,
   then up to POP3_PENDING_MAX octets of pipelined client input. */
struct checkpw_input {
    const char *login;       /* NUL-terminated in the caller's buffer */
    size_t loginlen;
    const char *password;    /* NUL-terminated in the caller's buffer */
    size_t passlen;
    const char *pending;     /* pending mode only; may contain any octet */
    size_t pendinglen;
};

/* Returns checkpw's verdict on the shape of the input: 0 usable, 1 bad credentials (empty or
   over AUTH_FIELD_MAX, control characters in the login), 2 misuse (a field without its NUL,
   input over the bounds). Fills in only when it returns 0. */
int checkpw_parse(const char *buf, size_t n, int pending_mode, struct checkpw_input *in);

/* Lower-case hex of n octets into out; needs cap >= 2n+1. Returns 0, or -1 if out is small. */
int hex_encode(const char *s, size_t n, char *out, size_t cap);

/* A request on a node's internal POP3 service (docs/fleet.md "POP3 through any node"), one
   line from a front that tlsd -C authenticated as fleet-NODE, "-" standing for an empty field:
     "login ADDRESS IP PROTO HEX\n"  a mailbox session for ADDRESS (the front checked the
                                     password); IP the customer's address, PROTO the TLS
                                     protocol of the customer's session, HEX the commands the
                                     customer pipelined behind the login (lower-case hex)
     "grant IP ADDRESS\n"            a POP-before-SMTP grant made on another node */
#define FLEETREQ_HEX_MAX    (2 * POP3_PENDING_MAX)
#define FLEETREQ_MAX        (sizeof "login " + ADDR_MAX + 1 + AUTHREQ_IP_MAX + 1 \
                             + CHECKPW_ARG_MAX + 1 + FLEETREQ_HEX_MAX + 1)
enum fleetreq_kind { FLEETREQ_LOGIN, FLEETREQ_GRANT };
struct fleetreq {
    enum fleetreq_kind kind;
    char user[ADDR_MAX + 1];             /* a map address (lower case) */
    char ip[AUTHREQ_IP_MAX + 1];         /* "" or an IP text address */
    char proto[CHECKPW_ARG_MAX + 1];     /* "" or printable ASCII */
    char hex[FLEETREQ_HEX_MAX + 1];      /* "" or an even number of hex digits */
};
/* Decode the line buf[0..n) (its newline included, nothing after it). 0 ok, -1 malformed. */
int fleetreq_parse(const char *buf, size_t n, struct fleetreq *r);

#endif

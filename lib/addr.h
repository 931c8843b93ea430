/* addr.h: the SMTP path grammar (RFC 5321 §4.1.2) and the stricter grammar of our maps */
#ifndef YUBIN_ADDR_H
#define YUBIN_ADDR_H

#include "limits.h"

#include <stddef.h>

enum addr_err {
    ADDR_OK = 0,
    ADDR_ESYNTAX,      /* not a path */
    ADDR_ETOOLONG,     /* local-part > 64, domain > 255 or path > 256 (RFC 5321 §4.5.3.1) */
};

struct addr {
    char s[ADDR_MAX + 1];  /* "local@domain", NUL-terminated; "" = <>; a quoted local part
                              keeps its quotes unless its content is a dot-string, which is
                              stored plain ("bob"@x as bob@x: one mailbox) */
    size_t len;
    size_t at;             /* index of the '@' before the domain; == len if no domain */
    int null;              /* <> */
    int route;             /* a source route <@a,@b:...> was present (and dropped from s) */
    int quoted;            /* the local part is a quoted-string (one that needs its quotes) */
    int literal;           /* the domain is an address literal [...] */
    int utf8;              /* bytes >= 0x80 appear (needs SMTPUTF8) */
    int percent;           /* '%' in the local part (the % hack) */
    int bang;              /* '!' in the local part (UUCP path) */
};

/* Parse a path that starts at s[0] == '<'. On success fill a, set *used to the octets
   consumed (through '>') and return ADDR_OK. A path without a domain (<postmaster>) is
   accepted with a->at == a->len; the caller decides what it allows. */
enum addr_err addr_parse_path(const char *s, size_t n, struct addr *a, size_t *used);

/* A domain with U-labels in its A-labels (idna.h), in place: the form our maps, the DNS and
   servers without SMTPUTF8 know. a->utf8 is then set by the local part alone. 0 done (or
   nothing to do: ASCII, a literal, no domain), -1 not a valid IDN or the path would pass
   SMTP_PATH_MAX (a unchanged). */
int addr_domain_to_ascii(struct addr *a);

/* Domain syntax: LDH labels (or UTF-8 when allow_utf8), no trailing dot, <= 255, labels <= 63. */
int addr_domain_ok(const char *s, size_t n, int allow_utf8);
/* Our maps: lower-case local@domain, local = [a-z0-9][a-z0-9._+-]* without "..", not ending
   in '.', <= 64; domain as addr_domain_ok without UTF-8 and in lower case. 1 valid, 0 not. */
int addr_map_ok(const char *s, size_t n);
/* Octets of an address as a person types it (UTF-8: a U-label takes up to 4 octets a
   character, full-width ASCII 3, for one octet of the A-label form): longer is refused. */
#define ADDR_TYPED_MAX (3 * ADDR_MAX)
/* An address typed by a person (mailacct's argument, the member page's field) in the form our
   maps keep: full-width ASCII (an input method's full-width mode: ｔａｒｏ＠ＥＸＡＭＰＬＥ．ｔｅｓｔ)
   as ASCII (idna_fold_fullwidth), the local part in lower case, the domain through
   idna_to_ascii (lower case, U-labels in A-labels: taro@日本語.jp is taro@xn--wgv71a119e.jp),
   into out (cap octets). 1 when that is a map address (addr_map_ok), 0 not. */
int addr_map_form(const char *in, char *out, size_t cap);
/* A login (SMTP AUTH, POP3 USER or AUTH) as a mail program sends what the customer typed: an
   address whose domain may be in Unicode, UTF-8 (RFC 4616 §2: authcid is UTF-8), perhaps
   typed in full-width (ｔａｒｏ＠日本語．ｊｐ). When the n octets of in have an 8-bit octet and
   come out as a map address (addr_map_form: taro@xn--wgv71a119e.jp) of at most
   AUTH_FIELD_MAX octets, that is written to out (cap octets, NUL included) and its length
   returned; else 0: an ASCII login goes on as it came (authd lower-cases it), one that does
   not convert fails as an unknown login does. */
size_t addr_login_form(const char *in, size_t n, char *out, size_t cap);
int addr_map_domain_ok(const char *s, size_t n);

#endif

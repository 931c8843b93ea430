/* webparse.h: the member page's request parsers (query strings, form bodies, cookies, the
   Autodiscover request) and its HTML/XML escaper. Pure functions over (pointer, length):
   unit-tested (tests/unit/test_webparse.c) and fuzzed (tests/fuzz/fuzz_webparse.c). */
#ifndef YUBIN_WEBPARSE_H
#define YUBIN_WEBPARSE_H

#include "buf.h"

#include <stddef.h>

/* Bounds of what the CGI reads (docs/web.md "Limits"); lighttpd refuses more before us. */
#define WEB_QUERY_MAX   2048    /* QUERY_STRING bytes */
#define WEB_BODY_MAX    8192    /* a POST body: a form, or an Autodiscover request */
#define WEB_COOKIE_MAX  4096    /* the Cookie header */
#define WEB_FIELD_MAX   512     /* one decoded form or query value (an address, a password) */
#define WEB_TOKEN_LEN   64      /* a session id or CSRF token: 32 random bytes in lower hex */
#define WEB_PASSWORD_MIN 8      /* octets of a password a member chooses on the page */
/* Addresses on one page of a domain administrator's list (acctd's "list FROM" answers that
   many): at most 100 * (ADDR_MAX + 60) octets of answer and, rendered with the forms' address
   choices, well inside the page program's bounds whatever the domain's size. */
#define WEB_LIST_PAGE   100

/* The value of name in an application/x-www-form-urlencoded string s[0..n) (a query string
   or a form body): '+' is a space, %XX a byte. The first occurrence counts. Decoded into
   out[0..cap), NUL-terminated, its length in *len (may be NULL).
   1 found, 0 absent, -1 malformed (bad %XX, a decoded NUL or control byte other than none,
   n over WEB_BODY_MAX) or the value does not fit cap-1. Never reads past s[n-1]. */
int web_form_get(const char *s, size_t n, const char *name, char *out, size_t cap, size_t *len);

/* The value of the cookie name in a Cookie header h[0..n) ("a=b; c=d", RFC 6265 §4.2.1).
   Values are taken as they are (no decoding). 1 found (out NUL-terminated), 0 absent, -1 the
   header is over WEB_COOKIE_MAX or the value does not fit cap-1. */
int web_cookie_get(const char *h, size_t n, const char *name, char *out, size_t cap);

/* 1 if pw is acceptable as a member's new password (checked by the page and again by acctd):
   mailacct's rule (1..AUTH_FIELD_MAX octets, no control characters) and at least
   WEB_PASSWORD_MIN octets. */
int web_password_ok(const char *pw);

/* 1 if s is exactly WEB_TOKEN_LEN lower-case hex digits. */
int web_token_ok(const char *s);

/* Append s[0..n) escaped for HTML text and attribute values, and for XML: & < > " ' become
   entities; bytes below 0x20 other than tab, CR, LF become U+FFFD (XML 1.0 forbids them).
   0 ok, -1 (buf_append's errno) when the buffer is full. */
int web_escape(struct buf *b, const char *s, size_t n);

/* The e-mail address of a Microsoft Autodiscover (POX) request body[0..n): the text of the
   first <EMailAddress> element (any namespace prefix-free form), without markup or entity
   references. 1 found (out NUL-terminated), 0 none, -1 malformed or over cap-1 / WEB_BODY_MAX. */
int web_autodiscover_email(const char *body, size_t n, char *out, size_t cap);

#endif

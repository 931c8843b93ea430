/* dkim.h: the DKIM parts a signer and a verifier share (RFC 6376): relaxed canonicalization of
   header fields (§3.4.2) and of the body (§3.4.4, streamed), the header fields of a message
   and their selection for h= (§5.4.2), the tag-list of a DKIM-Signature (§3.2, §3.5) and the
   From domain (d= must be aligned with it for DMARC, RFC 7489 §3.1). Pure: no I/O, no hashing
   (the caller's output function feeds its SHA-256), no allocation except dkim_fields.
   Formats and where signing happens: docs/dkim.md. Fuzzed: tests/fuzz/fuzz_dkim.c. */
#ifndef YUBIN_DKIM_H
#define YUBIN_DKIM_H

#include "limits.h"

#include <stddef.h>

/* The header section a signer or verifier takes: smtpd's SMTP_HEADER_MAX plus room for the
   trace fields added after it (Received:, our DKIM-Signature). Larger: not signed/verified. */
#define DKIM_HEADER_MAX     (SMTP_HEADER_MAX + 65536)
/* One DKIM-Signature field as we write it or accept it (a 4096-bit b= is 684 octets). */
#define DKIM_SIG_MAX        4096
#define DKIM_TAGS_MAX       32      /* tags in one tag-list (RFC 6376 defines 14 for a signature) */
#define DKIM_HNAMES_MAX     64      /* names in h= */
#define DKIM_NAME_MAX       64      /* a header field name in h= */
#define DKIM_SELECTOR_MAX   63      /* one DNS label */
#define DKIM_OUTBUF         4096    /* bytes dkim_body collects before calling its output */

/* dkim-sign's answer to queue-inject (run/dkim.sock; docs/dkim.md "The crossing"): exit 0 and
   the DKIM-Signature field (folded, LF line ends, final LF) on fd 1; exits 1..3: not signed,
   fd 1 holds the From domain (or nothing) and "\n"; 100 bad request; 111 temporary (the key
   cannot be read): queue-inject then queues nothing (451 4.3.0 to the client). */
enum dkim_sign_exit {
    DKIM_SIGN_OK = 0,
    DKIM_SIGN_NOKEY = 1,        /* the From domain has no key (mailacct domain dkim D rotate) */
    DKIM_SIGN_FOREIGN = 2,      /* no single From address, or its domain is not the sender's */
    DKIM_SIGN_TOOBIG = 3        /* header section over DKIM_HEADER_MAX */
};

/* The output of canonicalization: bytes to hash. */
typedef void dkim_out_fn(void *ctx, const char *p, size_t n);

/* Relaxed header canonicalization (§3.4.2) of one whole field f[0..n) ("Name: value", folded
   or not, its final line end included or not): the name in lower case, ':' with no WSP around
   it, the value unfolded with each WSP run as one SP and none at either end. Ends with CRLF
   when crlf is 1 (a signed field), without when 0 (the DKIM-Signature itself, §3.7).
   A field without ':' is all name (lower case, unfolded); a caller should not select one. */
void dkim_canon_header(const char *f, size_t n, int crlf, dkim_out_fn *out, void *ctx);

/* Relaxed body canonicalization (§3.4.4), streamed: feed the body in pieces of any size.
   Lines end in LF or CRLF (a CR not before LF is an ordinary octet). Output: WSP runs as one
   SP, no WSP at line ends, CRLF line ends, no empty lines at the end; a body that is not
   empty ends with CRLF; an empty body gives nothing. */
struct dkim_body {
    dkim_out_fn *out;
    void *ctx;
    size_t blank;       /* empty lines seen and not yet written (trailing ones never are) */
    int wsp;            /* WSP seen since the last octet written on this line */
    int cr;             /* the last octet was a CR (written later unless an LF follows) */
    int content;        /* the current line has an octet other than WSP */
    size_t n;
    char buf[DKIM_OUTBUF];
};
void dkim_body_init(struct dkim_body *b, dkim_out_fn *out, void *ctx);
void dkim_body_update(struct dkim_body *b, const char *p, size_t n);
void dkim_body_final(struct dkim_body *b);

/* The header section h[0..n) (without the empty line that ends it) as fields: a field is a
   line that does not start with WSP and the continuation lines after it. */
struct dkim_field {
    size_t off, len;    /* the whole field in h, its last line end included */
    size_t namelen;     /* octets of the name (before any WSP and the ':') */
};
/* The length of the header section of msg[0..n): the octets before the first empty line
   (LF LF or CRLF CRLF), its line end included; *body gets the offset of the body. 1 found,
   0 not within n (a message without a body has its whole text as header: *body = n). */
int dkim_header_end(const char *msg, size_t n, size_t *hlen, size_t *body);
/* Index the fields of h[0..n) into f[0..max). Returns the count (at most max), -1 (errno
   E2BIG) when there are more than max: f[0..max) then holds the first max fields, whole. A
   line before the first field (starting with WSP) is skipped. */
long dkim_fields(const char *h, size_t n, struct dkim_field *f, size_t max);
/* 1 if field f of h is named name (case-insensitive, NUL-terminated), else 0. */
int dkim_field_is(const char *h, const struct dkim_field *f, const char *name);
/* §5.4.2: the field for the k-th time (k from 0) name appears in h=: the k-th occurrence from
   the bottom. Its index, or -1 when there are not that many (the name then adds nothing). */
long dkim_select(const char *h, const struct dkim_field *f, size_t nf, const char *name,
                 size_t k);

/* The names a signer lists in h= (RFC 6376 §5.4.1 and SPECS.md §10), lower case, From first. */
extern const char *const dkim_sign_names[];

/* Tag-list (§3.2): "tag=value" separated by ';', FWS around names, '=' and values. */
struct dkim_tag {
    const char *name, *value;   /* into the parsed text; value keeps its inner FWS */
    size_t namelen, valuelen;
};
struct dkim_tags {
    struct dkim_tag t[DKIM_TAGS_MAX];
    size_t n;
};
/* Parse v[0..n) (a header field's value). 0 ok; -1 (errno EINVAL) for a syntax error, a tag
   given twice (§3.2: permerror), or more than DKIM_TAGS_MAX tags. */
int dkim_tags_parse(const char *v, size_t n, struct dkim_tags *t);
/* The tag named name, or NULL. */
const struct dkim_tag *dkim_tag_find(const struct dkim_tags *t, const char *name);

/* Copy the value of tag name without FWS into out[0..cap) ("" when absent). -1 if too long. */
int dkim_tag_copy(const struct dkim_tags *t, const char *name, char *out, size_t cap);

/* A DKIM-Signature checked as §6.1.1 asks, with its values copied out (FWS removed). */
struct dkim_sig {
    char a[16];                                     /* "rsa-sha256" */
    char c[32];                                     /* "relaxed/relaxed" ("simple" if absent) */
    char d[SMTP_DOMAIN_MAX + 1];
    char s[DKIM_SELECTOR_MAX + 1];
    char h[DKIM_HNAMES_MAX][DKIM_NAME_MAX + 1];     /* lower case */
    size_t nh;
    char bh[64], b[1024];                           /* base64 as written, FWS removed */
    unsigned long long t;                           /* 0 if absent */
};
/* Parse and check the value v[0..n) of a DKIM-Signature: v=1; a, b, bh, d, h, s present; h
   lists from; d a domain; i=, if present, in d or a subdomain of it (§6.1.1); sizes within
   the bounds above. 0 ok, -1 (errno EINVAL). */
int dkim_sig_parse(const char *v, size_t n, struct dkim_sig *s);

/* The address domain of a From field f[0..n) ("From: Name <a@b>"), lower case, into
   dom[0..cap). 1 found; 0 when there is no address, more than one (RFC 7489 §6.6.1: not
   evaluable), or its domain is not a plain domain name. Comments and quoted strings are
   skipped. A domain in U-labels comes out in its A-labels (RFC 8616). */
int dkim_from_domain(const char *f, size_t n, char *dom, size_t cap);

#endif

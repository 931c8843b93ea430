/* spf.h: SPF check_host() (RFC 7208) over a caller's DNS functions: the record parser, macros
   (§7), the mechanisms and the processing limits (§4.6.4). Pure apart from the resolver it is
   given, so unit tests and the fuzz target drive it with a table of records. */
#ifndef YUBIN_SPF_H
#define YUBIN_SPF_H

#include "limits.h"

#include <stddef.h>

#define SPF_DNS_TERMS_MAX   10      /* include a mx ptr exists redirect per check (§4.6.4) */
#define SPF_VOID_MAX        2       /* lookups answered NXDOMAIN or with no record (§4.6.4) */
#define SPF_MX_MAX          10      /* MX names one mx mechanism may look up (§4.6.4) */
#define SPF_PTR_MAX         10      /* PTR names one ptr mechanism or %{p} may use (§4.6.4) */
#define SPF_ADDRS_MAX       32      /* A/AAAA records of one name that are compared */
#define SPF_TXT_MAX         8192    /* octets of the TXT records of one name, strings joined
                                       and each with its NUL: DNS_ANSWER_MAX, so every record of
                                       an answer fits (lib/spfdns.c checks it) and the SPF record
                                       of a domain with many others is never left out */
#define SPF_TERMS_MAX       64      /* terms in one record (a record is at most SPF_TXT_MAX) */
#define SPF_NAME_MAX        253     /* a domain-spec after macro expansion (§7.3: cut from the left) */

enum spf_result {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR
};

/* The lower-case result name of RFC 7208 §2.6 ("pass", "softfail" ...). */
const char *spf_result_name(enum spf_result r);

enum spf_dns {
    SPF_DNS_OK,             /* *n records (>= 1) */
    SPF_DNS_NODATA,         /* the name exists without a record of that type */
    SPF_DNS_NXDOMAIN,       /* the name does not exist */
    SPF_DNS_TEMP            /* timeout, SERVFAIL: try again later */
};

struct spf_ip {
    int v6;                         /* 0: b[0..4) is IPv4 */
    unsigned char b[16];
};

struct spf_resolver {
    void *ctx;
    /* TXT records of name, each one's strings joined, the records NUL-separated in out[cap];
       records that do not fit are left out. */
    enum spf_dns (*txt)(void *ctx, const char *name, char *out, size_t cap, size_t *n);
    /* A (v6 = 0) or AAAA (v6 = 1) records of name, at most max. */
    enum spf_dns (*addr)(void *ctx, const char *name, int v6, struct spf_ip *out, size_t max,
                         size_t *n);
    /* MX exchange names of name, at most max. */
    enum spf_dns (*mx)(void *ctx, const char *name, char (*out)[SMTP_DOMAIN_MAX + 1],
                       size_t max, size_t *n);
    /* PTR names of ip, at most max. */
    enum spf_dns (*ptr)(void *ctx, const struct spf_ip *ip, char (*out)[SMTP_DOMAIN_MAX + 1],
                        size_t max, size_t *n);
};

struct spf_query {
    struct spf_ip ip;               /* the client (an IPv4-mapped IPv6 address counts as IPv4) */
    const char *sender;             /* MAIL FROM; for <> give "postmaster@" HELO */
    const char *helo;               /* EHLO/HELO argument ("" if none) */
};

/* check_host(ip, domain, sender): domain is the MAIL FROM domain, or the HELO name for the
   HELO identity (§2.3, §2.4). why[cap] gets a short reason ("pass matched +ip4:192.0.2.0/24
   in the record of example.com", "more than 10 DNS lookups" ...). */
enum spf_result spf_check(const struct spf_resolver *r, const struct spf_query *q,
                          const char *domain, char *why, size_t cap);

/* 1 if name is a fully qualified domain name, the form RFC 7208 §2.3 asks of a HELO identity
   before it is checked ("only ... when the HELO identity is a valid fully qualified domain
   name"): at most SPF_NAME_MAX octets, at least two labels of 1..63 letters, digits, '-' or '_',
   the last not all digits, one trailing dot allowed. A single label ("localhost"), an address
   literal ("[192.0.2.1]", "[IPv6:::1]") or a bare address is not: its SPF result is none. */
int spf_is_fqdn(const char *name);

/* Parse text ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" becomes IPv4). 0 ok, -1 not an
   address. */
int spf_ip_parse(const char *text, struct spf_ip *ip);

#endif

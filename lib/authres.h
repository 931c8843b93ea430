/* authres.h: the inbound checks of one message from outside (SPF RFC 7208, DKIM RFC 6376,
   DMARC RFC 7489) and their Authentication-Results header (RFC 8601): the builder, and the
   remover of such fields claiming our authserv-id (§5). smtpd runs it at the end of DATA on
   port 25 (docs/inbound.md). DNS through the caller's resolver functions, bounded by it. */
#ifndef YUBIN_AUTHRES_H
#define YUBIN_AUTHRES_H

#include "buf.h"
#include "dkim.h"
#include "dkimverify.h"
#include "dns.h"
#include "dmarc.h"
#include "spf.h"

#include <stddef.h>

#define AUTHRES_WHY_MAX     120     /* octets of one reason comment in the header */
#define AUTHRES_HEADER_MAX  4096    /* octets of the header we write (5 signatures, reasons) */
#define AUTHRES_AHEAD_KEYS  2       /* DKIM keys asked ahead: those of the first signatures */
#define AUTHRES_AHEAD_MAX   (3 + AUTHRES_AHEAD_KEYS)    /* names authres_ahead gives */
#define AUTHRES_NAME_MAX    (SMTP_DOMAIN_MAX + DKIM_SELECTOR_MAX + 16)  /* one of them: a
                                   DKIM key's SELECTOR._domainkey.DOMAIN and a NUL */

/* The envelope facts of the message. */
struct authres_in {
    const char *me;                 /* our authserv-id: etc/me's name */
    const struct spf_ip *ip;        /* the client */
    const char *helo;               /* "" if none */
    const char *sender;             /* MAIL FROM, "" for <> */
};

struct authres_out {
    enum spf_result spf;
    char spf_why[512];
    char spf_domain[SMTP_DOMAIN_MAX + 1];       /* MAIL FROM domain, or HELO for <> */
    int helo_checked;                           /* the HELO identity checked apart (§2.3) */
    enum spf_result spf_helo;
    char helo_why[256];
    struct dkimv_result dkim[DKIMV_SIGS_MAX];
    size_t ndkim, dkim_more;
    int from_ok;                                /* one From address with a domain */
    char from[SMTP_DOMAIN_MAX + 1];
    struct dmarc_out dmarc;
};

/* The SPF checks of the envelope (RFC 7208 §2.3, §2.4): MAIL FROM (for <>: postmaster@HELO),
   and the HELO identity apart when MAIL FROM is not <> and HELO is a domain name. DMARC
   takes the MAIL FROM result only. */
void authres_spf(const struct authres_in *in, const struct spf_resolver *r,
                 struct authres_out *out);
/* The TXT names the checks of this message ask first, which authres_run asks together ahead
   of them (dns_ahead; this call gives the same names to the unit test and fuzz_dmarc): the
   SPF records of the MAIL FROM domain and of the HELO name (a fully qualified one), the DMARC
   record of the From domain, and the keys of the first AUTHRES_AHEAD_KEYS DKIM signatures
   that parse. Returns how many (at most AUTHRES_AHEAD_MAX). */
size_t authres_ahead(const struct authres_in *in, const char *msg, size_t n,
                     char names[AUTHRES_AHEAD_MAX][AUTHRES_NAME_MAX]);
/* The checks as smtpd runs them at the end of DATA, through d: the names of authres_ahead
   asked together (dns_ahead), then authres_spf within one SPF_TIMEOUT, and DKIM and DMARC
   (now: time(NULL); rnd: 0..99 for DMARC pct; l: the Public Suffix List, may be empty) within
   another (spfdns_resolver). msg[0..n) is the message as queued (LF line ends); the header is
   walked once for the From domain and the DKIM keys. d stays the caller's (dns_close after). */
void authres_run(struct dns *d, const struct authres_in *in, struct dmarc_psl *l,
                 const char *msg, size_t n, long long now, unsigned rnd, struct authres_out *out);

/* The field "Authentication-Results: ME; spf=...; dkim=...; dmarc=..." (folded, LF line
   ends, final LF) appended to b. 0 ok, -1 out of memory. */
int authres_header(struct buf *b, const struct authres_in *in, const struct authres_out *o);

/* The short summary for the log line: "spf=pass dkim=pass dmarc=none from=example.org". */
int authres_summary(char *out, size_t cap, const struct authres_out *o);

/* 1 if the field f[0..n) is an Authentication-Results field whose authserv-id is me
   (case-insensitive), else 0. */
int authres_is_ours(const char *f, size_t n, const char *me);

/* Pass the header section h[0..n) to out, leaving out the fields authres_is_ours finds.
   Returns the number of fields left out. */
size_t authres_strip(const char *h, size_t n, const char *me, dkim_out_fn *out, void *ctx);

#endif

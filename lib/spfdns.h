/* spfdns.h: lib/spf's DNS functions (struct spf_resolver) answered by lib/dns, with one total
   time budget per check (RFC 7208 §4.6.4: an elapsed-time limit of at least 20 seconds). */
#ifndef YUBIN_SPFDNS_H
#define YUBIN_SPFDNS_H

#include "dns.h"
#include "spf.h"

#define SPF_TIME_DEF    20      /* seconds one check may take (setting SPF_TIMEOUT, 1..60) */

/* r's callbacks query d (ctx = d): TXT records with their strings joined (a record holding a
   NUL octet is left out: it cannot be an SPF record), A/AAAA, MX exchanges (the null MX "."
   left out), PTR names from in-addr.arpa / ip6.arpa. Sets d's budget to SPF_TIMEOUT seconds
   from now: call it right before each spf_check. d stays the caller's. */
void spfdns_resolver(struct dns *d, struct spf_resolver *r);

#endif

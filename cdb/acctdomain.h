/* acctdomain.h: mailacct's domain subcommands (docs/maps.md "Domains"); each exits on a
   refusal like every edit. The change of plan is mailacct.c's (its settings mail). */
#ifndef YUBIN_ACCTDOMAIN_H
#define YUBIN_ACCTDOMAIN_H

#include "edit.h"

/* domain add DOMAIN --plan PLAN [--home NODE]: the domain, its home in a fleet, its first DKIM
   key, and the DNS records to publish printed. */
void acctdomain_add(struct ctx *c, const char *arg);
/* domain del DOMAIN: refused while it has accounts or is in etc/aliases; then its home record
   and its DKIM keys go (a del whose key removal failed, run again, removes them). */
void acctdomain_del(struct ctx *c, const char *arg);
/* domain list: "DOMAIN PLAN" a line */
void acctdomain_list(struct ctx *c);
/* domain dkim D [rotate | remove SELECTOR]: c->a.pos holds the arguments; D a customer
   domain or one the server's own mail comes from (edit_own_mail_domain). */
void acctdomain_dkim(struct ctx *c);

#endif

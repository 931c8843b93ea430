/* sheet.h: the settings sheet handed to a customer for a new account (Japanese, then
   English, in the manual's wording), as plain text or as one printable HTML page. */
#ifndef YUBIN_SHEET_H
#define YUBIN_SHEET_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define SHEET_MAX (64 * 1024)   /* a rendered sheet; the buf given should have this max */

struct sheet {
    const char *addr;       /* the account name = the full address (NULL: sheet_servers_html) */
    const char *domain;     /* pop3.DOMAIN, smtp.DOMAIN (NULL: sheet_servers_html) */
    const char *me;         /* this server's TLS host name (etc/me): ports 995 and 465 */
    const char *password;   /* NULL: not shown (a reprint) */
    uint64_t quota;         /* bytes, 0 = unlimited */
    int pop3s;              /* the plan offers POP3 over TLS on port 995 */
};

/* Append the sheet to out. 0 ok, -1 (errno E2BIG/ENOMEM) if it did not fit. Every value is
   escaped in the HTML version; the HTML is well-formed XML (UTF-8, CSS inside). */
int sheet_text(const struct sheet *s, struct buf *out);
int sheet_html(const struct sheet *s, struct buf *out);
/* The sheets s[0..n) (n >= 1) on one printable page, each on its own A4 page, titled with
   title (sheet_html: one sheet, titled with its address). out needs n * SHEET_MAX. */
int sheet_html_list(const struct sheet *s, size_t n, const char *title, struct buf *out);

/* A change of plan that turns POP over SSL (port 995) on or off for a domain's mailboxes:
   the notice that goes before their sheets (mailacct domain plan, approve), in the manual's
   wording, Japanese then English. Plans are named as the manual names them (lib/plan.h). */
struct sheet_plan {
    const char *domain;
    const char *was, *plan;     /* plan ids, before and after */
    const char *me;             /* the POP over SSL server: this server's name (etc/me) */
    int pop3s;                  /* 1: the new plan has POP over SSL and the old had not; 0: the
                                   other way round (a mail program on 995 stops receiving) */
    size_t addrs;               /* the domain's mailboxes (their sheets follow) */
    size_t part, parts;         /* this mail's place when the sheets take more than one mail */
};
/* Append the notice. 0 ok, -1 (E2BIG/ENOMEM). */
int sheet_plan_text(const struct sheet_plan *p, struct buf *out);

/* The servers' part of the sheet (the incoming and outgoing servers and ports, no quota) as
   an HTML fragment for a page: per section an <h3> and a <table class="servers">, Japanese
   with English beside it in <span class="en" lang="en">. addr NULL: "the whole address";
   domain NULL: pop3./smtp. of "your domain", and POP over SSL (when pop3s) titled as the
   secure and premium plans'. The password row never shows a password unless given. Every
   value is escaped. 0 ok, -1 (E2BIG/ENOMEM). */
int sheet_servers_html(const struct sheet *s, struct buf *out);

/* The DNS records the domain's administrator publishes (mailacct domain add, domain dkim D):
   each value is zone-file lines ending in "\n"; selector is the DKIM selector signing now,
   or NULL when the domain has no key (its mail goes out unsigned). */
struct sheet_dns {
    const char *domain;
    const char *selector;
    const char *dkim;       /* one record per selector, newest first ("" when none) */
    const char *spf;
    const char *dmarc;
};
/* Append the records block (Japanese, then English). 0 ok, -1 (E2BIG/ENOMEM). */
int sheet_dns_text(const struct sheet_dns *d, struct buf *out);

#endif

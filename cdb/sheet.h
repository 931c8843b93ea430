/* sheet.h: the settings sheet handed to a customer for a new account (Japanese, then
   English, in the manual's wording), as plain text or as one printable HTML page. */
#ifndef YUBIN_SHEET_H
#define YUBIN_SHEET_H

#include "buf.h"
#include "limits.h"

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

/* A change of plan that turns POP over SSL (port 995) on or off for a domain's mailboxes, or
   lowers the size of some of them: the notice that goes before their sheets (mailacct domain
   plan, approve), in the manual's wording, Japanese then English. Plans are named as the
   manual names them (lib/plan.h). */
#define SHEET_FULL_MAX 100      /* addresses the notice names as full; more are counted */
struct sheet_full {
    char addr[ADDR_MAX + 1];
    uint64_t used;              /* bytes in the mailbox */
};
struct sheet_plan {
    const char *domain;
    const char *was, *plan;     /* plan ids, before and after */
    const char *me;             /* the POP over SSL server: this server's name (etc/me) */
    int pop3s_changed;          /* 0: POP over SSL stays as it was, and is not spoken of */
    int pop3s;                  /* 1: the new plan has POP over SSL and the old had not; 0: the
                                   other way round (a mail program on 995 stops receiving) */
    uint64_t was_quota, quota;  /* the plans' default mailbox size, bytes (0 = unlimited) */
    size_t lowered;             /* addresses on the default whose size went down (0: the size
                                   is not spoken of) */
    const struct sheet_full *full;  /* of them, those whose mail reaches the new size already: */
    size_t nfull, full_total;       /* nfull named (<= SHEET_FULL_MAX) of full_total */
    int addon;                  /* the new plan has the capacity add-on (PLAN_ADDON_QUOTA) */
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

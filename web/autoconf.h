/* autoconf.h: the documents mail programs configure themselves from (SPECS.md §15), made from
   the same data as the settings sheet (cdb/sheet.h): Thunderbird autoconfig, Microsoft
   Autodiscover (POX) and an Apple configuration profile. Hosts, ports and TLS:
     incoming  the server's own name (etc/me) 995 SSL, first, when the plan has POP3 over TLS;
               pop3.DOMAIN 110 without TLS (customers' domains have no certificate)
     outgoing  the server's own name 465 SSL, first; smtp.DOMAIN 587 without TLS
   Autodiscover and the profile carry the first of each. Every value is XML-escaped. */
#ifndef YUBIN_AUTOCONF_H
#define YUBIN_AUTOCONF_H

#include "buf.h"
#include "cdb/sheet.h"

#define AUTOCONF_UUID_LEN 36    /* 8-4-4-4-12 hex */

/* 0 ok, -1 (errno E2BIG/ENOMEM) when out is full. s->addr may be NULL for Thunderbird
   (the username is then the placeholder %EMAILADDRESS%). */
int autoconf_thunderbird(const struct sheet *s, struct buf *out);
int autoconf_autodiscover(const struct sheet *s, struct buf *out);
/* uuid: two fresh AUTOCONF_UUID_LEN-character UUIDs (the profile's and the mail payload's). */
int autoconf_mobileconfig(const struct sheet *s, const char *uuid_profile,
                          const char *uuid_mail, struct buf *out);

#endif

/* dkimacct.h: mailacct's DKIM commands (run as root): make a domain's key and switch signing
   to it, remove an old one, print the DNS records (DKIM, SPF, DMARC) as the domain
   administrator's sheet. Errors die (exit 100 refused, 111 system error) like the rest of
   mailacct. Layout of ROOT/dkim: dkim/dkimkey.h; the commands: docs/dkim.md. */
#ifndef YUBIN_DKIMACCT_H
#define YUBIN_DKIMACCT_H

/* A new key with a selector of today's date (yYYYYMMDD, then yYYYYMMDDb ... when taken),
   stored for yubin-dkim, and made the one that signs. The old keys stay (and stay listed). */
void dkimacct_rotate(const char *root, const char *domain);
/* Delete the key of selector (not the one signing now: rotate first). */
void dkimacct_remove(const char *root, const char *domain, const char *selector);
/* Print the domain's records sheet on stdout (Japanese, then English). */
void dkimacct_show(const char *root, const char *domain);

#endif

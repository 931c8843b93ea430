/* dkimacct.h: mailacct's DKIM commands (run as root): make a domain's key and switch signing
   to it, remove an old one, print the DNS records (DKIM, SPF, DMARC) as the domain
   administrator's sheet. Errors die (exit 100 refused, 111 system error) like the rest of
   mailacct. Layout of ROOT/dkim: dkim/dkimkey.h; the commands: docs/dkim.md. */
#ifndef YUBIN_DKIMACCT_H
#define YUBIN_DKIMACCT_H

#include "cdb/fleet.h"

#include <stddef.h>

/* A new key with a selector of today's date (yYYYYMMDD, then yYYYYMMDDb ... when taken),
   stored for yubin-dkim, and made the one that signs. The old keys stay (and stay listed). */
void dkimacct_rotate(const char *root, const char *domain);
/* Delete the key of selector (not the one signing now: rotate first). */
void dkimacct_remove(const char *root, const char *domain, const char *selector);
/* domain del: remove every key of domain (ROOT/dkim/DOMAIN/ and all in it). The number of
   keys removed (0 when it had none). */
size_t dkimacct_forget(const char *root, const char *domain);
/* Print the domain's records sheet on stdout (Japanese, then English). */
void dkimacct_show(const char *root, const char *domain);

/* Fleet mode (ROOT/etc/fleet): the keys are records in etcd (dkim/dkimdir.h), written by
   guarded transactions (fleet_put) from the snapshot s mailacct read; *rev the revision that
   holds the change (the caller waits for the nodes). rotate: a new key and the switch to it in
   one transaction; remove: as above; show: the records as etcd holds them now. */
void dkimacct_fleet_rotate(const struct fleet_conf *fc, struct fleet_snap *s, const char *domain,
                           long long *rev);
void dkimacct_fleet_remove(const struct fleet_conf *fc, struct fleet_snap *s, const char *domain,
                           const char *selector, long long *rev);
void dkimacct_fleet_show(const char *root, const struct fleet_conf *fc, const char *domain);
/* domain del in a fleet: delete every DKIM record of domain in s (its keys and its selector
   record), guarded like the rest. The number of keys deleted. */
size_t dkimacct_fleet_forget(const struct fleet_conf *fc, struct fleet_snap *s,
                             const char *domain, long long *rev);
/* mailacct import: the keys under ROOT/dkim/ of the domains wanted() says 1 for, which etcd
   lacks (a selector record only when etcd has none; a key etcd holds otherwise is kept and
   warned about), one transaction per domain. The records written (*rev the last revision). */
size_t dkimacct_fleet_import(const char *root, const struct fleet_conf *fc, struct fleet_snap *s,
                             int (*wanted)(const void *ctx, const char *domain), const void *ctx,
                             long long *rev);

#endif

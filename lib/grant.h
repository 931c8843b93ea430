/* grant.h: POP-before-SMTP grants in ROOT/relay/IP (written by pop3d as the mailbox uid,
   read by smtpd, which may read but not write the folder) */
#ifndef YUBIN_GRANT_H
#define YUBIN_GRANT_H

/* Record a grant for ip now (create or touch relay/IP, mode 0640). 0 ok, -1 error.
   ip must be a plain IPv4/IPv6 text address (checked: hex digits, '.', ':' only). */
int grant_write(const char *root, const char *ip);
/* 1 if a grant for ip is younger than window seconds, 0 if not, -1 on error. */
int grant_check(const char *root, const char *ip, unsigned long window);

#endif

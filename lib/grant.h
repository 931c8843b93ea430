/* grant.h: POP-before-SMTP grants in ROOT/relay/IP (written by pop3d as the mailbox uid,
   read by smtpd, which may read but not write the folder) */
#ifndef YUBIN_GRANT_H
#define YUBIN_GRANT_H

#include <stddef.h>

/* Record a grant for ip now, bound to the account that logged in: relay/IP holds "ACCOUNT\n"
   and its mtime is the login time. Written to a temporary file and renamed into place, so a
   reader sees the old record or the new one, never a part. 0 ok, -1 error (EINVAL for an ip
   that is not a plain IPv4/IPv6 text address -- hex digits, '.', ':' only -- or an account
   that is not a lower-case map address). */
int grant_write(const char *root, const char *ip, const char *account);
/* 1 if a grant for ip is younger than window seconds: its account (NUL-terminated, at most
   ADDR_MAX octets) is copied into account[cap]; 0 if there is none or it expired; -1 on error
   (EINVAL: a fresh grant whose record is not one map address and a newline, e.g. one written
   before grants named their account). */
int grant_check(const char *root, const char *ip, unsigned long window, char *account,
                size_t cap);
/* Remove the grants of ROOT/relay/ older than window seconds (and temporary files a killed
   writer left, older than that too), at most once per GRANT_SWEEP_EVERY seconds or window,
   whichever is shorter: ROOT/relay/.sweep's mtime is the last sweep. Names that are not an IP
   text address or a temporary file are left alone. Returns the number removed, -1 on error
   (errno). */
#define GRANT_SWEEP_EVERY   60
long grant_sweep(const char *root, unsigned long window);

#endif

/* authclient.h: ask authd (ROOT/run/authd.sock) whether a login and password are right */
#ifndef YUBIN_AUTHCLIENT_H
#define YUBIN_AUTHCLIENT_H

#include <stddef.h>

/* service: "smtp", "pop3" or "web" (the member page and acctd); ip: client address for throttling ("" if unknown).
   login/password: bytes without NUL, each at most AUTH_FIELD_MAX.
   Returns 1 credentials good, 0 bad (or unknown user, or throttled), -1 temporary failure
   (authd unreachable, timeout, malformed reply; errno set). Waits at most timeout seconds. */
int authclient_check(const char *root, const char *service, const char *ip, const char *login,
                     size_t loginlen, const char *password, size_t passlen, unsigned timeout);

#endif

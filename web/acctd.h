/* acctd.h: what the two files of the acctd program share (acctd.c: the request loop, a
   member's password and quota use, the mailacct child; acctd_admin.c: a domain administrator's
   login, its session's proof, its domain's list and its applications). Not for other modules. */
#ifndef YUBIN_ACCTD_H
#define YUBIN_ACCTD_H

#include "buf.h"

#define ACCTD_EXIT_BADAUTH  1
#define ACCTD_AUTH_TIMEOUT  30      /* seconds authd may take (its throttle waits up to 20) */

struct acctd {
    const char *root;
    unsigned long auto_add_max;     /* WEB_AUTO_ADD_MAX: 0 no cap */
};

/* acctd.c */
/* `mailacct ARGS...` of root: in on its stdin (NULL: none), its stdout into out (NULL:
   discarded). Its exit status; EXIT_TEMP when it printed more than out's max. */
int run_mailacct(const char *root, const char *const *args, const char *in, struct buf *out);
/* b's text on fd 1 (the caller's): EXIT_DONE, or EXIT_TEMP when it cannot be written. */
int answer(const struct buf *b);

/* acctd_admin.c: the requests of a domain's administrator, argv as the caller sent it (serve
   checked its length for list and pending); each returns acctd's exit status. */
int do_admin_login(const struct acctd *d, int argc, char **argv);
int do_list(const struct acctd *d, int argc, char **argv);
int do_pending(const struct acctd *d, int argc, char **argv);
int do_apply(const struct acctd *d, int argc, char **argv);

#endif

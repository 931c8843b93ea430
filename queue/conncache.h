/* conncache.h: remote's cache of idle plaintext SMTP connections. One process (a child of
   the run/remote.sock loop, named remote-cache) holds them; a job's process takes one for
   its server, or gives its own back after a clean transaction, the socket itself passing
   over a socketpair (SCM_RIGHTS). The next message for the same server then skips connect,
   greeting, EHLO and QUIT (docs/remote.md "Connection reuse"). The cache never reads or
   writes a byte of SMTP except a QUIT when it drops an idle connection. */
#ifndef YUBIN_CONNCACHE_H
#define YUBIN_CONNCACHE_H

#include "queue/smtpreply.h"

#include <netinet/in.h>
#include <time.h>

#define CONNCACHE_MAX      256     /* idle connections held at once (REMOTE_CACHE_MAX) */
#define CONNCACHE_KEY_MAX  (SMTP_DOMAIN_MAX + 16)   /* "HOST PORT" */
#define CONNCACHE_WAIT_MS  1000    /* a job waits at most this long for the cache's answer */

/* What a cached connection carries along: the server it goes to and what it offered. */
struct conncache_entry {
    char key[CONNCACHE_KEY_MAX];   /* "HOST PORT" of the target it was opened for */
    char ip[INET6_ADDRSTRLEN];     /* the address it is connected to (for logs) */
    struct ehlo_caps caps;         /* the EHLO answer of this session */
    unsigned uses;                 /* messages sent over it so far */
    time_t born;                   /* when it was opened */
};

/* Fork the cache process with at most max idle connections, each kept at most idle
   seconds. Returns the fd jobs use (inherited by the loop's children), -1 on error (then
   remote runs without reuse). The cache ends when every holder of that fd is gone. */
int conncache_start(unsigned max, unsigned idle);

/* Take an idle connection for key: its fd (the entry filled in), or -1 when there is none
   (or the cache does not answer within CONNCACHE_WAIT_MS). */
int conncache_get(int cfd, const char *key, struct conncache_entry *e);

/* Give an idle connection (no command pending, no unread input) to the cache; fd is closed
   here in every case. */
void conncache_put(int cfd, const struct conncache_entry *e, int fd);

#endif

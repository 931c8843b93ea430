/* throttle.h: failure throttling for authd, kept in memory by its long-running parent.
   Pure logic: the caller passes the time, so unit tests drive the clock.

   Rules (docs/auth.md "Throttling"):
   - per client IP (IPv6 grouped by /64): after ip_free failures, each further verification
     from that IP starts at least delay(n) after the previous failure or verification;
   - per (IP, account): after pair_free failures by that IP on that account, the same;
   - per account: once an account has acct_free failures from anywhere, IPs that have failed on
     it at least once are slowed by the account's level too. IPs that never failed on the
     account are not slowed by it, so an attacker cannot lock the real user out from elsewhere;
   - delay(n) = base << (n - free), at most max; a request that would have to wait more than
     wait_max is failed at once without verifying the password (a guess is never tried);
   - success clears the IP's counter and the (IP, account) counter; counters expire forget
     after their last failure; each table holds at most `slots` entries, least recently used
     evicted first. */
#ifndef YUBIN_THROTTLE_H
#define YUBIN_THROTTLE_H

#include "authreq.h"

#include <stddef.h>
#include <stdint.h>

/* key: "IP" or "IP\0LOGIN" or "LOGIN" */
#define THROTTLE_KEY_MAX (AUTHREQ_IP_MAX + 1 + AUTH_FIELD_MAX + 1)
#define THROTTLE_SLOTS_MAX 65536

struct throttle_cfg {
    unsigned ip_free;        /* failures from one IP before any delay (5) */
    unsigned pair_free;      /* failures by one IP on one account before a delay (3) */
    unsigned acct_free;      /* failures on one account from all IPs before its level counts (10) */
    uint64_t base_ms;        /* first delay (1000) */
    uint64_t max_ms;         /* longest delay (16000) */
    uint64_t wait_max_ms;    /* longer waits are failed at once (20000) */
    uint64_t forget_ms;      /* a counter is dropped this long after its last failure (900000) */
    size_t slots;            /* entries per table, 1..THROTTLE_SLOTS_MAX (4096) */
};

enum throttle_table { THROTTLE_IP, THROTTLE_PAIR, THROTTLE_ACCT };

struct throttle;

void throttle_defaults(struct throttle_cfg *cfg);
/* NULL with errno ENOMEM or EINVAL (slots out of range). Free with throttle_free. */
struct throttle *throttle_new(const struct throttle_cfg *cfg);
void throttle_free(struct throttle *t);

/* A request from ip (already grouped by str_ip_group: IPv6 by /64) for login (lower case)
   arrives at now.
   0: it may be verified after *wait_ms (0 = at once); its slot is reserved.
   -1: it would wait longer than wait_max: fail it without verifying. */
int throttle_admit(struct throttle *t, const char *ip, const char *login, uint64_t now_ms,
                   uint64_t *wait_ms);
/* An admitted request has been answered (whatever the answer, or the connection ended): it
   no longer counts as pending. Called once for every admission. */
void throttle_done(struct throttle *t, const char *ip, const char *login, uint64_t now_ms);
/* The verification finished: ok 1 = right password, 0 = failure (wrong, unknown, disabled). */
void throttle_result(struct throttle *t, const char *ip, const char *login, int ok,
                     uint64_t now_ms);
/* Failures counted for a key (0 if absent or expired); for tests and the log. */
unsigned throttle_fails(const struct throttle *t, enum throttle_table table, const char *ip,
                        const char *login, uint64_t now_ms);
/* Entries in use in a table (expired ones included until reused). */
size_t throttle_used(const struct throttle *t, enum throttle_table table);

#endif

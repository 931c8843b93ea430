/* test_throttle.c: authd's failure throttling, driven with a fake clock */
#include "authd/throttle.h"
#include "t.h"

#include <stdio.h>

static struct throttle *fresh(size_t slots)
{
    struct throttle_cfg c;
    throttle_defaults(&c);
    if (slots) {
        c.slots = slots;
    }
    return throttle_new(&c);
}

/* admit, then fail, at time now; returns the wait admit gave (or -1 if refused) */
static long long fail_at(struct throttle *t, const char *ip, const char *user, uint64_t now)
{
    uint64_t w;
    if (throttle_admit(t, ip, user, now, &w) < 0) {
        return -1;
    }
    throttle_result(t, ip, user, 0, now + w);
    throttle_done(t, ip, user, now + w);    /* answered, as authd's conn_close does */
    return (long long)w;
}

static long long wait_of(struct throttle *t, const char *ip, const char *user, uint64_t now)
{
    uint64_t w;
    if (throttle_admit(t, ip, user, now, &w) < 0) {
        return -1;
    }
    return (long long)w;
}

/* T_EQ_INT evaluates its first argument twice: check side-effecting calls through this */
#define EQ(expr, want, name)                                                 \
    do {                                                                     \
        long long got_ = (expr);                                             \
        T_EQ_INT(got_, want, name);                                          \
    } while (0)

static void test_defaults(void)
{
    struct throttle_cfg c;
    throttle_defaults(&c);
    T_EQ_INT(c.ip_free, 5, "ip_free");
    T_EQ_INT(c.pair_free, 3, "pair_free");
    T_EQ_INT(c.acct_free, 10, "acct_free");
    T_CHECK(c.max_ms < c.wait_max_ms, "one maximal delay fits the wait limit");
    c.slots = 0;
    T_CHECK(throttle_new(&c) == NULL, "zero slots refused");
    c.slots = THROTTLE_SLOTS_MAX + 1;
    T_CHECK(throttle_new(&c) == NULL, "too many slots refused");
}

/* One IP trying many accounts (password spraying): the IP counter slows it. */
static void test_ip(void)
{
    struct throttle *t = fresh(0);
    char user[32];
    uint64_t now = 1000000;
    int i;
    for (i = 0; i < 5; i++) {
        snprintf(user, sizeof user, "u%d@x.test", i);
        EQ(fail_at(t, "1.2.3.4", user, now), 0, "first five failures are not slowed");
        now += 10;
    }
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "1.2.3.4", "", now), 5, "ip counted 5");
    EQ(wait_of(t, "1.2.3.4", "new@x.test", now), 990, "sixth waits 1 s after the fifth");
    throttle_result(t, "1.2.3.4", "new@x.test", 0, now + 990);
    throttle_done(t, "1.2.3.4", "new@x.test", now + 990);
    now += 990;
    EQ(wait_of(t, "1.2.3.4", "other@x.test", now), 2000, "seventh waits 2 s");
    throttle_result(t, "1.2.3.4", "other@x.test", 0, now + 2000);
    throttle_done(t, "1.2.3.4", "other@x.test", now + 2000);
    now += 2000;
    EQ(wait_of(t, "1.2.3.4", "third@x.test", now + 5000), 0, "wait counts from the failure");
    EQ(wait_of(t, "5.6.7.8", "u0@x.test", now), 0, "another IP is not slowed");
    for (i = 0; i < 40; i++) {
        fail_at(t, "9.9.9.9", "spray@x.test", now);
        now += 100000;
    }
    EQ(wait_of(t, "9.9.9.9", "z@x.test", now), 0, "waits end after max");
    EQ(wait_of(t, "9.9.9.9", "z@x.test", now), 16000, "delay saturates at 16 s");
    EQ(wait_of(t, "9.9.9.9", "z@x.test", now), -1, "beyond 20 s of waiting: refused");
    throttle_free(t);
}

/* Parallel requests from one IP are spaced, not released together. */
static void test_reservation(void)
{
    struct throttle *t = fresh(0);
    uint64_t now = 50000;
    int i;
    for (i = 0; i < 5; i++) {
        fail_at(t, "10.0.0.1", i % 2 ? "a@x.test" : "b@x.test", now);
    }
    /* counters: ip 5, pairs 3 (b) and 2 (a); each request still unanswered counts as one
       more failure of the IP: the slots double like those of guesses one after another */
    EQ(wait_of(t, "10.0.0.1", "c@x.test", now), 1000, "first parallel request: 1 s");
    EQ(wait_of(t, "10.0.0.1", "d@x.test", now), 3000, "second: 2 s after the first's slot");
    EQ(wait_of(t, "10.0.0.1", "e@x.test", now + 500), 6500, "third: 4 s after the second's");
    throttle_free(t);
}

/* Guesses on one account sent all at once (a burst of parallel connections) are spaced as
   if sent one after another: each unanswered one counts as a failure; an answered one no
   longer counts beyond its result. */
static void test_parallel_burst(void)
{
    struct throttle *t = fresh(0);
    uint64_t now = 900000;
    int i;
    for (i = 0; i < 3; i++) {
        EQ(wait_of(t, "10.9.9.9", "target@x.test", now), 0, "three at once are free");
    }
    EQ(wait_of(t, "10.9.9.9", "target@x.test", now), 1000, "the fourth at once waits 1 s");
    EQ(wait_of(t, "10.9.9.9", "target@x.test", now), 3000, "the fifth 2 s more");
    EQ(wait_of(t, "10.9.9.9", "target@x.test", now), 7000, "the sixth 4 s more");
    EQ(wait_of(t, "10.9.9.9", "target@x.test", now), 15000, "the seventh 8 s more");
    EQ(wait_of(t, "10.9.9.9", "target@x.test", now), -1, "then refused (over 20 s)");
    EQ(wait_of(t, "10.9.9.10", "someone@x.test", now), 0, "another IP is not held back");
    EQ(wait_of(t, "10.9.9.9", "colleague@x.test", now), 0,
       "the same IP for another account, with no failure yet: not held back (one office)");
    for (i = 0; i < 7; i++) {
        throttle_result(t, "10.9.9.9", "target@x.test", 0, now + 16000);
        throttle_done(t, "10.9.9.9", "target@x.test", now + 16000);
    }
    T_EQ_INT(throttle_fails(t, THROTTLE_PAIR, "10.9.9.9", "target@x.test", now + 16000), 7,
             "seven answered failures");
    EQ(wait_of(t, "10.9.9.9", "target@x.test", now + 100000), 0,
       "none pending any more: the next waits only for the failures' delay, long past");
    throttle_free(t);
}

/* One IP guessing one account: the pair counter starts earlier than the IP counter. */
static void test_pair_and_account(void)
{
    struct throttle *t = fresh(0);
    uint64_t now = 7000000;
    char ip[32];
    int i;

    for (i = 0; i < 3; i++) {
        EQ(fail_at(t, "1.1.1.1", "victim@x.test", now), 0, "three free guesses");
    }
    EQ(wait_of(t, "1.1.1.1", "victim@x.test", now), 1000, "fourth guess on it waits");
    EQ(wait_of(t, "1.1.1.1", "other@x.test", now), 0, "same IP, other account: free");
    EQ(wait_of(t, "2.2.2.2", "victim@x.test", now), 0, "the real user elsewhere: free");

    /* a distributed attack: many IPs, one guess each, on one account */
    for (i = 0; i < 20; i++) {
        snprintf(ip, sizeof ip, "172.16.0.%d", i);
        fail_at(t, ip, "victim@x.test", now);
    }
    T_CHECK(throttle_fails(t, THROTTLE_ACCT, "", "victim@x.test", now) >= 20, "account counted");
    EQ(wait_of(t, "172.16.0.3", "victim@x.test", now) >= 1000, 1,
            "an IP that failed on the account is slowed by the account's level");
    EQ(wait_of(t, "3.3.3.3", "victim@x.test", now), 0,
             "an IP that never failed on it is not: no lock-out from elsewhere");
    EQ(wait_of(t, "172.16.0.3", "bystander@x.test", now), 0,
             "the account's level does not spill to other accounts");
    throttle_free(t);
}

static void test_success_and_expiry(void)
{
    struct throttle *t = fresh(0);
    uint64_t now = 100;
    int i;
    for (i = 0; i < 6; i++) {
        now += 20000;
        fail_at(t, "4.4.4.4", "me@x.test", now);
    }
    EQ(wait_of(t, "4.4.4.4", "me@x.test", now) > 0, 1, "slowed after six failures");
    throttle_result(t, "4.4.4.4", "me@x.test", 1, now);
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "4.4.4.4", "", now), 0, "success clears the IP");
    T_EQ_INT(throttle_fails(t, THROTTLE_PAIR, "4.4.4.4", "me@x.test", now), 0,
             "success clears the pair");
    EQ(wait_of(t, "4.4.4.4", "me@x.test", now), 0, "not slowed after success");

    for (i = 0; i < 6; i++) {
        now += 20000;   /* each failure after its wait */
        fail_at(t, "5.5.5.5", "you@x.test", now);
    }
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "5.5.5.5", "", now + 899000), 6, "kept 15 min");
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "5.5.5.5", "", now + 901000), 0, "forgotten after");
    EQ(wait_of(t, "5.5.5.5", "you@x.test", now + 901000), 0, "no wait once forgotten");
    throttle_free(t);
}

static void test_bounded(void)
{
    struct throttle *t = fresh(4);
    char ip[32];
    uint64_t now = 1;
    int i;
    for (i = 0; i < 100; i++) {
        snprintf(ip, sizeof ip, "192.0.2.%d", i);
        fail_at(t, ip, "x@x.test", now++);
    }
    T_EQ_INT(throttle_used(t, THROTTLE_IP), 4, "ip table bounded");
    T_EQ_INT(throttle_used(t, THROTTLE_PAIR), 4, "pair table bounded");
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "192.0.2.99", "", now), 1, "newest kept");
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "192.0.2.0", "", now), 0, "oldest evicted");
    /* a hammered entry stays while others churn through */
    for (i = 0; i < 6; i++) {
        fail_at(t, "198.51.100.1", "y@x.test", now++);
    }
    for (i = 0; i < 2; i++) {
        snprintf(ip, sizeof ip, "203.0.113.%d", i);
        fail_at(t, ip, "z@x.test", now++);
    }
    T_EQ_INT(throttle_fails(t, THROTTLE_IP, "198.51.100.1", "", now), 6, "recent entry kept");
    throttle_free(t);
}

int main(void)
{
    test_defaults();
    test_ip();
    test_reservation();
    test_parallel_burst();
    test_pair_and_account();
    test_success_and_expiry();
    test_bounded();
    return T_DONE();
}

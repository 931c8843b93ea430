/* test_rate: the sending counters (lib/rate): window and day sums, slots that age out, the
   burst span, the two copies of the file (a torn newest copy costs one message), names; the
   text form ratesync puts in etcd (round trip, hostile values), the sum of nodes, and the
   other nodes' file smtpd adds only while ratesync's stamp is fresh */
#include "t.h"
#include "rate.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HOUR 3600UL

static void test_window(void)
{
    struct rate_rec r;
    struct rate_sum t;
    uint64_t t0 = 1700000000ULL - 1700000000ULL % HOUR;    /* the start of an hour */
    unsigned i;

    rate_init(&r, HOUR);
    T_EQ_INT((int)rate_window(&r), 3600, "window of an hour");
    t = rate_recent(&r, t0, HOUR);
    T_CHECK(t.msgs == 0 && t.rcpts == 0, "empty record counts nothing");
    for (i = 0; i < 10; i++) {
        rate_add(&r, t0 + i * 60, 1, 3);       /* one message a minute for 10 minutes */
    }
    t = rate_recent(&r, t0 + 600, HOUR);
    T_CHECK(t.msgs == 10 && t.rcpts == 30, "10 messages, 30 recipients in the hour (got %lu/%lu)",
            t.msgs, t.rcpts);
    t = rate_recent(&r, t0 + 599, 300);
    T_CHECK(t.msgs == 5, "the last 5 minutes: the slot of minutes 5-9 (got %lu)", t.msgs);
    t = rate_recent(&r, t0 + HOUR + 299, HOUR);
    T_CHECK(t.msgs == 5, "an hour later the first slot has aged out (got %lu)", t.msgs);
    t = rate_recent(&r, t0 + 2 * HOUR, HOUR);
    T_CHECK(t.msgs == 0, "two hours later: nothing in the window (got %lu)", t.msgs);
    t = rate_day(&r, t0 + 2 * HOUR);
    T_CHECK(t.msgs == 10 && t.rcpts == 30, "still in the day (got %lu)", t.msgs);
    rate_add(&r, t0 + 2 * HOUR, 1, 1);
    t = rate_day(&r, t0 + 2 * HOUR);
    T_CHECK(t.msgs == 11, "day sums the hours (got %lu)", t.msgs);
    t = rate_day(&r, t0 + 24 * HOUR + 1);
    T_CHECK(t.msgs == 1, "a day later only the later hour is left (got %lu)", t.msgs);
    t = rate_recent(&r, t0 - 10, HOUR);
    T_CHECK(t.msgs == 0, "a clock set back sees no future slots (got %lu)", t.msgs);
    T_CHECK(rate_day_no(&r, t0) != rate_day_no(&r, t0 + 24 * HOUR), "day numbers change");
    /* slot reuse: a slot 12 windows later is a new slot, not an addition */
    rate_init(&r, 12);
    rate_add(&r, 1000, 4, 4);
    rate_add(&r, 1012, 1, 1);
    t = rate_recent(&r, 1012, 12);
    T_CHECK(t.msgs == 1, "a 12 s window: the reused slot starts from zero (got %lu)", t.msgs);
    rate_init(&r, 5);
    T_EQ_INT((int)rate_window(&r), RATE_WINDOW_MIN, "window clamped to the minimum");
    rate_add(&r, 1000, UINT32_MAX, 0);
    rate_add(&r, 1000, 5, 0);
    T_CHECK(r.fine[(1000 / r.slot_secs) % RATE_FINE_SLOTS].msgs == UINT32_MAX,
            "a counter saturates instead of wrapping");
}

static void test_copies(void)
{
    unsigned char buf[2 * sizeof(struct rate_rec)];
    struct rate_rec r, got;
    size_t off;
    struct rate_sum t;

    memset(buf, 0, sizeof buf);
    T_EQ_INT(rate_pick(buf, &got, HOUR), 0, "zeros: no valid copy");
    rate_init(&r, HOUR);
    rate_add(&r, 7200, 1, 1);
    off = rate_seal(&r);
    memcpy(buf + off, &r, sizeof r);
    rate_add(&r, 7201, 1, 1);
    off = rate_seal(&r);
    T_CHECK(off != (size_t)((r.seq - 1) % 2) * sizeof r, "the next store goes to the other copy");
    memcpy(buf + off, &r, sizeof r);
    T_EQ_INT(rate_pick(buf, &got, HOUR), 1, "two copies: the newer is read");
    t = rate_recent(&got, 7201, HOUR);
    T_CHECK(t.msgs == 2, "newer copy: 2 messages (got %lu)", t.msgs);
    buf[off + 40] ^= 0x55;                     /* a write torn by a crash */
    T_EQ_INT(rate_pick(buf, &got, HOUR), 1, "torn newest copy: the older is read");
    t = rate_recent(&got, 7201, HOUR);
    T_CHECK(t.msgs == 1, "torn write under-counts by one message (got %lu)", t.msgs);
    T_EQ_INT(rate_pick(buf, &got, 60), 0, "another window: counting starts again");
    T_EQ_INT((int)rate_window(&got), 60, "... with the new window");
}

static void test_file(void)
{
    char root[] = "/tmp/test_rate.XXXXXX", path[256];
    struct rate_rec r;
    struct rate_sum t;
    uint64_t now = 1700000000ULL;
    int fd, i, wfd;

    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/rate", root);
    mkdir(path, 0700);
    T_EQ_INT(rate_read(root, "a@example.test", HOUR, &r), 0, "no file: 0");
    for (i = 0; i < 3; i++) {
        T_EQ_INT(rate_open(root, "a@example.test", HOUR, &fd, &r), 0, "open and lock");
        rate_add(&r, now, 1, 2);
        T_EQ_INT(rate_store(fd, &r), 0, "store");
        close(fd);
    }
    T_EQ_INT(rate_read(root, "a@example.test", 60, &r), 1, "read back");
    T_EQ_INT((int)rate_window(&r), 3600, "read uses the file's window");
    t = rate_recent(&r, now, HOUR);
    T_CHECK(t.msgs == 3 && t.rcpts == 6, "3 messages, 6 recipients (got %lu/%lu)", t.msgs,
            t.rcpts);
    /* tear the newest copy the way a crash mid-write would */
    snprintf(path, sizeof path, "%s/rate/a@example.test", root);
    wfd = open(path, O_WRONLY);
    T_CHECK(wfd >= 0 && pwrite(wfd, "\xff\xff\xff\xff", 4, (off_t)((r.seq % 2) * sizeof r) + 32)
            == 4, "tear the newest copy");
    close(wfd);
    rate_read(root, "a@example.test", HOUR, &r);
    t = rate_recent(&r, now, HOUR);
    T_CHECK(t.msgs == 2, "after a torn write: one message less (got %lu)", t.msgs);
    T_EQ_INT(rate_read(root, "../x", HOUR, &r), -1, "a name with / is refused");
    T_EQ_INT(rate_read(root, ".hidden", HOUR, &r), -1, "a leading dot is refused");
    T_EQ_INT(rate_open(root, "a\nb", HOUR, &fd, &r), -1, "a control character is refused");
    unlink(path);
    snprintf(path, sizeof path, "%s/rate", root);
    rmdir(path);
    rmdir(root);
}

static void test_text(void)
{
    struct rate_rec r, back, other;
    struct rate_sum t;
    char text[RATE_TEXT_MAX], later[RATE_TEXT_MAX], small[24];
    uint64_t t0 = 1700000000ULL - 1700000000ULL % HOUR, now = t0 + 1000;
    static const char *const bad[] = {
        "", "w=3600", "w=3600 f=", "w=3600 d=", "w=3601 f= d=", "w=0 f= d=", "w=99999999 f= d=",
        "w=3600 f=1:2 d=", "w=3600 f=0:1:1 d=", "w=3600 f=5:1:1,5:1:1 d=",
        "w=3600 f=5:1:1, d=", "w=3600 f=5:4294967296:1 d=", "w=3600 f=5:1:1 d= ",
        "w=3600 f=x:1:1 d=", "w=3600 f=5:1:-1 d=", "w=3600 f=5:1:1 d=7:1:1 e=1",
        "w=3600 f=123456789012345678901:1:1 d=", " w=3600 f= d=", "w=3600  f= d=",
    };
    size_t i;

    rate_init(&r, HOUR);
    T_EQ_INT(rate_text(&r, now, text, sizeof text), 0, "an empty record: no slot");
    T_CHECK(strcmp(text, "w=3600 f= d=") == 0, "empty text (got %s)", text);
    rate_add(&r, t0 - 2 * HOUR, 7, 7);      /* in the day, not in the window */
    rate_add(&r, t0 + 10, 2, 5);            /* (its fine slot reused: an older one left out) */
    rate_add(&r, t0 + 700, 1, 1);
    T_EQ_INT(rate_text(&r, now, text, sizeof text), 4, "2 fine and 2 day slots");
    T_EQ_INT(rate_parse_text(text, &back), 0, "parses back");
    t = rate_recent(&back, now, HOUR);
    T_CHECK(t.msgs == 3 && t.rcpts == 6, "window after the round trip (got %lu/%lu)", t.msgs,
            t.rcpts);
    t = rate_day(&back, now);
    T_CHECK(t.msgs == 10 && t.rcpts == 13, "day after the round trip (got %lu/%lu)", t.msgs,
            t.rcpts);
    T_EQ_INT(rate_text(&r, now, small, sizeof small), -1, "too small a buffer: -1");
    T_EQ_INT(rate_text(&r, now + 25 * HOUR, later, sizeof later), 0, "a day later: nothing");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(rate_parse_text(bad[i], &back) == -1, "refused: '%s'", bad[i]);
    }
    /* two nodes' counts of one account add up; an older slot at the same index is dropped */
    rate_init(&other, HOUR);
    rate_add(&other, t0 - HOUR + 10, 50, 50);  /* back's first fine index, an hour before */
    rate_add(&other, t0 + 320, 3, 3);
    T_EQ_INT(rate_parse_text(text, &back), 0, "parses again");
    rate_merge(&back, &other);
    t = rate_recent(&back, now, HOUR);
    T_CHECK(t.msgs == 6 && t.rcpts == 9, "merged window (got %lu/%lu)", t.msgs, t.rcpts);
}

static void test_fleet_file(void)
{
    char root[] = "/tmp/test_rate.XXXXXX", path[256];
    struct rate_rec r;
    struct rate_sum t;
    struct timeval old[2] = { { 0, 0 }, { 0, 0 } };
    uint64_t now;
    long age;
    int fd;

    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    now = (uint64_t)time(NULL);
    T_EQ_INT(rate_fleet_read(root, "a@example.test", HOUR, now, &r, &age), 0,
             "no ratefleet/: a single server, nothing to add");
    T_EQ_INT((int)age, -1, "no stamp: age -1");
    snprintf(path, sizeof path, "%s/ratefleet", root);
    mkdir(path, 0750);
    T_EQ_INT(rate_open_in(root, RATE_FLEET_DIR, "a@example.test", HOUR, &fd, &r), 0, "write");
    rate_add(&r, now, 4, 8);
    T_EQ_INT(rate_store(fd, &r), 0, "store");
    close(fd);
    T_EQ_INT(rate_fleet_read(root, "a@example.test", HOUR, now, &r, NULL), 0,
             "no stamp: ratesync stopped, nothing added");
    snprintf(path, sizeof path, "%s/ratefleet/.fresh", root);
    fd = open(path, O_WRONLY | O_CREAT, 0640);
    close(fd);
    T_EQ_INT(rate_fleet_read(root, "a@example.test", HOUR, now, &r, &age), 1, "fresh: read");
    t = rate_recent(&r, now, HOUR);
    T_CHECK(t.msgs == 4 && t.rcpts == 8, "the other nodes' counts (got %lu/%lu)", t.msgs,
            t.rcpts);
    T_EQ_INT(rate_fleet_read(root, "b@example.test", HOUR, now, &r, NULL), 1,
             "fresh, no file for the account: 1, empty");
    t = rate_recent(&r, now, HOUR);
    T_CHECK(t.msgs == 0, "empty (got %lu)", t.msgs);
    T_EQ_INT(rate_fleet_read(root, "a@example.test", 60, now, &r, NULL), 0,
             "written for another window: nothing added");
    old[0].tv_sec = old[1].tv_sec = (time_t)(now - RATE_FLEET_STALE - 5);
    utimes(path, old);
    T_EQ_INT(rate_fleet_read(root, "a@example.test", HOUR, now, &r, &age), 0,
             "a stale stamp: nothing added");
    T_CHECK(age >= RATE_FLEET_STALE, "its age (got %ld)", age);
    unlink(path);
    snprintf(path, sizeof path, "%s/ratefleet/a@example.test", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/ratefleet", root);
    rmdir(path);
    rmdir(root);
}

int main(void)
{
    test_window();
    test_copies();
    test_file();
    test_text();
    test_fleet_file();
    printf("# %d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

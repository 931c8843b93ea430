/* test_rate: the sending counters (lib/rate): window and day sums, slots that age out, the
   burst span, the two copies of the file (a torn newest copy costs one message), names */
#include "t.h"
#include "rate.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
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

int main(void)
{
    test_window();
    test_copies();
    test_file();
    printf("# %d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

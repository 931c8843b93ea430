/* test_quota: maildirsize parsing, ,S= names, and recalculation on a temporary Maildir */
#include "t.h"
#include "quota/quota.h"
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <unistd.h>

static const struct {
    const char *name;
    const char *text;
    size_t len;             /* 0 = strlen */
    int ok;
    uint64_t limit;
    int64_t bytes, count;
    size_t lines;
} parse_cases[] = {
    { "definition only", "1000S\n", 0, 1, 1000, 0, 0, 0 },
    { "deltas summed", "1000S\n10 1\n-5 -1\n300 2\n", 0, 1, 1000, 305, 2, 3 },
    { "size and count", "1000S,50C\n1 1\n", 0, 1, 1000, 1, 1, 1 },
    { "count first", "50C,2000S\n", 0, 1, 2000, 0, 0, 0 },
    { "count only", "50C\n7 1\n", 0, 1, 0, 7, 1, 1 },
    { "Courier padding", "1000S\n       10      1\n", 0, 1, 1000, 10, 1, 1 },
    { "plus sign", "1000S\n+10 +1\n", 0, 1, 1000, 10, 1, 1 },
    { "no final LF", "1000S\n10 1", 0, 1, 1000, 10, 1, 1 },
    { "blank line skipped", "1000S\n\n10 1\n", 0, 1, 1000, 10, 1, 1 },
    { "negative total", "1000S\n-10 -1\n", 0, 1, 1000, -10, -1, 1 },
    { "empty file", "", 0, 0, 0, 0, 0, 0 },
    { "empty definition", "\n10 1\n", 0, 0, 0, 0, 0, 0 },
    { "bad unit", "1000X\n", 0, 0, 0, 0, 0, 0 },
    { "unit without number", "S\n", 0, 0, 0, 0, 0, 0 },
    { "trailing comma", "1000S,\n", 0, 0, 0, 0, 0, 0 },
    { "one number", "1000S\n10\n", 0, 0, 0, 0, 0, 0 },
    { "three numbers", "1000S\n10 1 1\n", 0, 0, 0, 0, 0, 0 },
    { "letters", "1000S\nten one\n", 0, 0, 0, 0, 0, 0 },
    { "lone minus", "1000S\n- 1\n", 0, 0, 0, 0, 0, 0 },
    { "NUL in a line", "1000S\n10\0 1\n", 12, 0, 0, 0, 0, 0 },
    { "CR in a line", "1000S\r\n10 1\n", 0, 0, 0, 0, 0, 0 },
    { "overflow of one number", "1000S\n99999999999999999999 1\n", 0, 0, 0, 0, 0, 0 },
    { "overflow of the sum", "1000S\n9223372036854775807 1\n1 1\n", 0, 0, 0, 0, 0, 0 },
    { "overflow of the limit", "99999999999999999999S\n", 0, 0, 0, 0, 0, 0 },
};

static void test_parse(void)
{
    size_t i;
    for (i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        uint64_t limit = 0;
        int64_t b = 0, c = 0;
        size_t lines = 0, len = parse_cases[i].len;
        int r;
        if (!len) {
            len = strlen(parse_cases[i].text);
        }
        r = quota_parse(parse_cases[i].text, len, &limit, &b, &c, &lines);
        if (!parse_cases[i].ok) {
            T_EQ_INT(r, -1, parse_cases[i].name);
            continue;
        }
        T_CHECK(r == 0 && limit == parse_cases[i].limit && b == parse_cases[i].bytes
                && c == parse_cases[i].count && lines == parse_cases[i].lines,
                "%s: r %d limit %llu bytes %lld count %lld lines %zu", parse_cases[i].name, r,
                (unsigned long long)limit, (long long)b, (long long)c, lines);
    }
}

static void test_name_size(void)
{
    static const struct {
        const char *name;
        int found;
        uint64_t size;
    } n[] = {
        { "1795894102.M081014P12007R1.mx,S=91", 1, 91 },
        { "1795894102.M081014P12007R1.mx,S=91:2,S", 1, 91 },
        { "1795894102.M1P2.mx,S=99,W=101:2,", 1, 99 },
        { "1795894102.M1P2.mx", 0, 0 },
        { "1795894102.M1P2.mx,S=", 0, 0 },
        { "1795894102.M1P2.mx,S=12a", 0, 0 },
        { "1795894102.M1P2.mx,S=-5", 0, 0 },
        { "x,S=99999999999999999999", 0, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof n / sizeof n[0]; i++) {
        uint64_t size = 0;
        int r = quota_name_size(n[i].name, &size);
        T_CHECK(r == n[i].found && (!r || size == n[i].size), "name size %s: %d %llu",
                n[i].name, r, (unsigned long long)size);
    }
}

/* --- on disk --- */

static char md[256];

static void put(const char *rel, const char *text)
{
    char p[512];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", md, rel);
    f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void mk(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", md, rel);
    mkdir(p, 0700);
}

static const char *slurp(const char *rel)
{
    static char buf[8192];
    char p[512];
    FILE *f;
    size_t n;
    snprintf(p, sizeof p, "%s/%s", md, rel);
    f = fopen(p, "r");
    if (!f) {
        return "(missing)";
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void age(const char *rel, long seconds)
{
    char p[512];
    struct timeval tv[2];
    snprintf(p, sizeof p, "%s/%s", md, rel);
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= seconds;
    tv[1] = tv[0];
    utimes(p, tv);
}

/* 10 (,S=) + 5 (stat) + 20 (.Sent) = 35 bytes in 3 messages; .Trash and tmp/ do not count. */
static void make_maildir(void)
{
    const char *dirs[] = { "tmp", "new", "cur", ".Sent", ".Sent/new", ".Sent/cur", ".Sent/tmp",
                           ".Trash", ".Trash/cur", ".Empty" };
    size_t i;
    snprintf(md, sizeof md, "/tmp/test_quota.%ld", (long)getpid());
    mkdir(md, 0700);
    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        mk(dirs[i]);
    }
    put("new/1.M1P1.host,S=10", "a file whose ,S= size wins");
    put("cur/2.M1P1.host:2,S", "12345");
    put(".Sent/cur/3.M1P1.host,S=20:2,S", "x");
    put(".Sent/maildirfolder", "");
    put(".Trash/cur/4.M1P1.host,S=1000:2,T", "x");
    put("tmp/5.M1P1.host", "not yet delivered");
    put(".quota-warned", "");
}

static void test_recalc(void)
{
    int r;
    uint64_t b = 0, c = 0;

    r = quota_read(md, 1000, &b, &c);
    T_EQ_INT(r, 0, "missing maildirsize: recalculated");
    T_CHECK(b == 35 && c == 3, "recalc sums new/ cur/ and folders, not .Trash or tmp/ (%llu %llu)",
            (unsigned long long)b, (unsigned long long)c);
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n", "recalc writes definition and total");

    r = quota_add(md, 100, 1);
    T_EQ_INT(r, 0, "quota_add");
    r = quota_add(md, -10, -1);
    T_EQ_INT(r, 0, "quota_add negative");
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n100 1\n-10 -1\n", "deltas appended");
    r = quota_read(md, 1000, &b, &c);
    T_EQ_INT(r, 0, "read deltas");
    T_CHECK(b == 125 && c == 3, "deltas summed, not recalculated (%llu %llu)",
            (unsigned long long)b, (unsigned long long)c);

    r = quota_read(md, 2000, &b, &c);
    T_EQ_INT(r, 0, "quota changed");
    T_EQ_STR(slurp("maildirsize"), "2000S\n35 3\n", "new definition line, recalculated");

    put("maildirsize", "0S\n-500 -9\n");
    r = quota_read(md, 0, &b, &c);
    T_EQ_INT(r, 0, "negative sum");
    T_CHECK(b == 0 && c == 0, "negative sum read as 0");

    put("maildirsize", "garbage\n");
    r = quota_read(md, 1000, &b, &c);
    T_EQ_INT(r, 0, "malformed file");
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n", "malformed file recalculated");
}

static void test_stale(void)
{
    int r;
    uint64_t b = 0, c = 0;
    char big[QUOTA_FILE_MAX + 100];
    size_t i;

    /* Over quota, several lines: the sum is not trusted. */
    put("maildirsize", "100S\n50 1\n60 1\n");
    r = quota_read(md, 100, &b, &c);
    T_EQ_INT(r, 0, "over quota with two lines");
    T_CHECK(b == 35 && c == 3, "over quota with two lines: recalculated (%llu)",
            (unsigned long long)b);

    /* Over quota, one line, fresh: trusted (Courier). */
    put("maildirsize", "100S\n150 1\n");
    r = quota_read(md, 100, &b, &c);
    T_EQ_INT(r, 0, "over quota with one fresh line");
    T_EQ_INT(b, 150, "one fresh line trusted");

    /* Same but older than 15 minutes: recalculated. */
    age("maildirsize", QUOTA_STALE_SECS + 60);
    r = quota_read(md, 100, &b, &c);
    T_EQ_INT(r, 0, "over quota, old");
    T_EQ_INT(b, 35, "old over-quota file recalculated");

    /* Under quota but the incoming message would not fit: quota_read_for recalculates. */
    put("maildirsize", "100S\n80 1\n10 1\n");
    r = quota_read(md, 100, &b, &c);
    T_EQ_INT(r, 0, "under quota, no incoming");
    T_EQ_INT(b, 90, "under quota: sum trusted");
    r = quota_read_for(md, 100, 20, 0, &b, &c);
    T_EQ_INT(r, 0, "incoming does not fit");
    T_EQ_INT(b, 35, "incoming over quota: recalculated before refusing");

    /* >= 5120 bytes: recalculated. */
    i = (size_t)snprintf(big, sizeof big, "1000S\n");
    while (i + 5 < QUOTA_FILE_MAX + 10) {
        memcpy(big + i, "1 0\n", 4);
        i += 4;
    }
    big[i] = '\0';
    put("maildirsize", big);
    r = quota_read(md, 1000, &b, &c);
    T_EQ_INT(r, 0, "big file");
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n", "file >= 5120 bytes recalculated");
}

static void test_missing(void)
{
    int r;
    uint64_t b = 0, c = 0;
    char p[512];

    snprintf(p, sizeof p, "%s/maildirsize", md);
    unlink(p);
    r = quota_add(md, 10, 1);
    T_EQ_INT(r, 0, "quota_add without maildirsize");
    T_EQ_STR(slurp("maildirsize"), "(missing)", "quota_add does not create the file");

    /* A message vanishing is not an error (SPECS.md §5.3). */
    put("cur/6.M1P1.host", "12");
    snprintf(p, sizeof p, "%s/cur/6.M1P1.host", md);
    unlink(p);
    r = quota_recalc(md, 1000, &b, &c);
    T_EQ_INT(r, 0, "recalc");
    T_EQ_INT(b, 35, "recalc after a file vanished");

    r = quota_read("/nonexistent/Maildir", 1000, &b, &c);
    T_EQ_INT(r, -1, "no Maildir: error");
}

/* A recalculation while another process keeps adding messages to new/ (a steady stream of
   deliveries): every scan sees the Maildir change. The sum is kept (not the file removed, which
   made every following delivery scan again), and it lies between the usage before and after. */
static void test_recalc_while_changing(void)
{
    uint64_t before_b = 0, before_c = 0, b = 0, c = 0, after_b = 0, after_c = 0;
    int stop[2], r, st;
    pid_t pid;

    T_EQ_INT(quota_recalc(md, 0, &before_b, &before_c), 0, "quiet recalc");
    T_CHECK(pipe(stop) == 0, "pipe");
    pid = fork();
    if (pid == 0) {
        char name[64], c1;
        long i;
        close(stop[1]);
        fcntl(stop[0], F_SETFL, O_NONBLOCK);
        for (i = 0; read(stop[0], &c1, 1) != 0; i++) {     /* until the parent closes */
            snprintf(name, sizeof name, "new/%ld.M1P2.flood,S=7", i);
            put(name, "x");
        }
        _exit(0);
    }
    close(stop[0]);
    usleep(400 * 1000);     /* thousands of messages: a scan outlasts the clock's tick */
    r = quota_recalc(md, 0, &b, &c);
    close(stop[1]);
    waitpid(pid, &st, 0);
    T_EQ_INT(r, 0, "recalc during a stream of deliveries");
    T_CHECK(strcmp(slurp("maildirsize"), "(missing)") != 0,
            "maildirsize kept although the Maildir changed during every scan");
    T_EQ_INT(quota_recalc(md, 0, &after_b, &after_c), 0, "quiet recalc after");
    T_CHECK(b >= before_b && b <= after_b && c >= before_c && c <= after_c,
            "kept sum between before and after (%llu in %llu..%llu)", (unsigned long long)b,
            (unsigned long long)before_b, (unsigned long long)after_b);
    T_CHECK(after_c > before_c + 100, "the stream really ran (%llu messages)",
            (unsigned long long)(after_c - before_c));
}

/* The steps quota_update reported, in order ("A", "R", "S"). */
static void note_step(void *ctx, enum quota_step step)
{
    char *log = ctx;
    strcat(log, step == QUOTA_STEP_ADD ? "A" : step == QUOTA_STEP_READ ? "R" : "S");
}

/* quota_update: delta, read back, the summary smtpd reads; failed steps reported. */
static void test_update(void)
{
    char root[sizeof md + 8], qdir[sizeof md + 32], sum[sizeof md + 64], log[16] = "";
    struct quota_account qa;
    uint64_t b = 0, c = 0, sb = 0, sc = 0;

    snprintf(root, sizeof root, "%s.root", md);
    snprintf(qdir, sizeof qdir, "%s/quota", root);
    mkdir(root, 0755);
    mkdir(qdir, 0750);
    qa.root = root;
    qa.addr = "demo@example.test";
    qa.maildir = md;
    qa.limit = 1000;
    T_EQ_INT(quota_recalc(md, 1000, &b, &c), 0, "start from a recalculated file");
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n", "recalculated");

    T_EQ_INT(quota_update(&qa, 100, 1, 0, &b, &c, note_step, log), 0, "update after a delivery");
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n100 1\n", "the delta appended");
    T_CHECK(b == 135 && c == 4, "usage read back (%llu %llu)", (unsigned long long)b,
            (unsigned long long)c);
    T_EQ_INT(usage_read(root, qa.addr, &sb, &sc), 1, "summary written");
    T_CHECK(sb == 135 && sc == 4, "summary holds the usage read back");
    T_EQ_STR(log, "", "no step failed");

    T_EQ_INT(quota_update(&qa, 0, 0, 0, &b, &c, note_step, log), 0, "no change: no delta line");
    T_EQ_STR(slurp("maildirsize"), "1000S\n35 3\n100 1\n", "nothing appended");

    T_EQ_INT(quota_update(&qa, -100, -1, 0, &b, &c, note_step, log), 0, "update after removal");
    T_CHECK(b == 35 && c == 3, "usage back down");
    T_EQ_INT(usage_read(root, qa.addr, &sb, &sc), 1, "summary rewritten");
    T_CHECK(sb == 35 && sc == 3, "summary follows");

    /* no quota/ folder: the summary step fails, the others are done */
    snprintf(sum, sizeof sum, "rm -rf '%s'", qdir);
    T_CHECK(system(sum) == 0, "quota/ removed");
    T_EQ_INT(quota_update(&qa, 7, 1, 0, &b, &c, note_step, log), -1, "summary cannot be written");
    T_EQ_STR(log, "S", "the summary step reported");
    T_CHECK(b == 42 && c == 4, "usage still read back");

    /* an unreadable Maildir: the caller's estimate goes to the summary, or nothing */
    mkdir(qdir, 0750);
    log[0] = '\0';
    qa.maildir = "/nonexistent/Maildir";
    b = 500;
    c = 5;
    T_EQ_INT(quota_update(&qa, 1, 1, 1, &b, &c, note_step, log), -1, "read fails");
    T_EQ_STR(log, "R", "the read step reported (a missing maildirsize is no add failure)");
    T_EQ_INT(usage_read(root, qa.addr, &sb, &sc), 1, "summary from the estimate");
    T_CHECK(sb == 500 && sc == 5, "the estimate written");
    log[0] = '\0';
    T_EQ_INT(quota_update(&qa, 1, 1, 0, &b, &c, NULL, NULL), -1, "without estimate");
    T_EQ_INT(usage_read(root, qa.addr, &sb, &sc), 1, "summary untouched");
    T_CHECK(sb == 500 && sc == 5, "still the old one");

    snprintf(qdir, sizeof qdir, "rm -rf '%s'", root);
    T_CHECK(system(qdir) == 0, "cleanup");
}

int main(void)
{
    char cmd[512];
    test_parse();
    test_name_size();
    make_maildir();
    test_recalc();
    test_stale();
    test_missing();
    test_update();
    test_recalc_while_changing();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", md);
    if (system(cmd) != 0) {
        perror("rm");
    }
    return T_DONE();
}

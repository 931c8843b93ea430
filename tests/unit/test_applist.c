/* test_applist.c: acctd's list of a domain's applications (web/applist.h): the largest few of
   many in order, the waiting ones oldest first, a page of the decided ones newest first with
   their count, a bounded answer however many records there are, the pruning of decided
   records past APPLY_DECIDED_DAYS, and the count of a domain's auto-approved new addresses */
#include "web/applist.h"
#include "buf.h"
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int cmp_desc(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The kept entries are the cap largest keys, largest first, for inputs in any order. */
static void test_top(void)
{
    static const size_t caps[] = { 1, 2, 7, 20, 1000 };
    size_t c, i;
    unsigned seed = 12345;
    for (c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        size_t n = 3000, cap = caps[c], want_n = cap < n ? cap : n;
        long long *keys = malloc(n * sizeof *keys);
        struct applist_top t;
        int same = 1;
        char id[APPLY_ID_LEN + 1];
        T_CHECK(applist_top_init(&t, cap) == 0, "init %zu", cap);
        for (i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            keys[i] = (long long)(seed >> 8) % 100000 - 50000;
            snprintf(id, sizeof id, "20261204-060000-%08zx", i);
            applist_top_add(&t, keys[i] / 100, keys[i] % 100, id, "line");
        }
        applist_top_sort(&t);
        qsort(keys, n, sizeof *keys, cmp_desc);
        T_EQ_INT(t.n, want_n, "kept");
        for (i = 0; i < t.n; i++) {
            same &= t.e[i].key == keys[i] / 100 && t.e[i].key2 == keys[i] % 100;
        }
        T_CHECK(same, "the %zu largest of %zu, largest first", cap, n);
        applist_top_free(&t);
        free(keys);
    }
    {
        struct applist_top t;
        char line[APPLIST_LINE_MAX + 2];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\0';
        applist_top_init(&t, 4);
        applist_top_add(&t, 1, 0, "20261204-060000-00000000", line);
        T_EQ_INT(t.n, 0, "a line over APPLIST_LINE_MAX is not kept (nor cut)");
        applist_top_free(&t);
        T_EQ_INT(applist_top_init(&t, 0), -1, "no room for nothing");
    }
}

static char root[64];

/* A record written as acctd and mailacct write them (apply_format), into requests/ (waiting)
   or requests/done/ (decided at decided, with state). */
static void record(const char *domain, int n, long long filed, long long decided,
                   const char *state, const char *reason)
{
    struct application a;
    struct buf b;
    char path[256];
    int fd;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "20261204-060000-%08x", (unsigned)n);
    snprintf(a.domain, sizeof a.domain, "%s", domain);
    a.kind = APPLY_DEL;
    snprintf(a.target, sizeof a.target, "u%d@%s", n, domain);
    snprintf(a.by, sizeof a.by, "admin:%s", domain);
    a.time = filed;
    snprintf(a.due, sizeof a.due, "2026-12-04");
    if (state) {
        snprintf(a.state, sizeof a.state, "%s", state);
        snprintf(a.decided_by, sizeof a.decided_by, "auto");
        a.decided_at = decided;
        snprintf(a.reason, sizeof a.reason, "%s", reason ? reason : "");
    }
    buf_init(&b, APPLY_RECORD_MAX);
    apply_format(&a, &b);
    snprintf(path, sizeof path, "%s/requests/%s%s", root, state ? "done/" : "", a.id);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, b.s, b.len) != (ssize_t)b.len || close(fd) < 0) {
        T_CHECK(0, "write %s", path);
    }
    buf_free(&b);
}

static size_t files_in(const char *sub)
{
    char dir[128];
    struct dirent *e;
    size_t n = 0;
    DIR *dp;
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    dp = opendir(dir);
    while (dp && (e = readdir(dp))) {
        n += e->d_name[0] != '.';
    }
    if (dp) {
        closedir(dp);
    }
    return n;
}

/* The n-th line of the answer (0: the head), into out */
static int answer_line(const struct buf *b, size_t n, char *out, size_t cap)
{
    const char *p = b->s, *end = b->s + b->len;
    while (n-- > 0 && p < end) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p) {
            return -1;
        }
        p++;
    }
    if (p >= end) {
        return -1;
    }
    snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
    return 0;
}

static size_t lines_of(const struct buf *b)
{
    size_t i, n = 0;
    for (i = 0; i < b->len; i++) {
        n += b->s[i] == '\n';
    }
    return n;
}

static void test_pending(void)
{
    const long long now = 1796000000LL, day = 86400;
    char line[APPLIST_LINE_MAX + 1], want[128];
    struct buf b;
    size_t pruned = 0;
    int i;
    snprintf(root, sizeof root, "/tmp/test_applist.XXXXXX");
    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    snprintf(want, sizeof want, "%s/requests", root);
    mkdir(want, 0700);
    snprintf(want, sizeof want, "%s/requests/done", root);
    mkdir(want, 0700);
    /* shop.test: 100 waiting filed at now - i, 900 decided in the last days (decided at
       now - 100 * i), 30 decided past the days; another domain's 10 old and 5 new */
    for (i = 0; i < APPLY_WAITING_MAX; i++) {
        record("shop.test", i, now - i, 0, NULL, NULL);
    }
    for (i = 0; i < 900; i++) {
        record("shop.test", 1000 + i, now - 100 * i - 10, now - 100 * i,
               i % 3 ? "approved" : "rejected", i % 3 ? NULL : "the name is \"taken\"");
    }
    for (i = 0; i < 30; i++) {
        record("shop.test", 3000 + i, now - APPLY_DECIDED_DAYS * day - 100 - i,
               now - APPLY_DECIDED_DAYS * day - 1 - i, "approved", NULL);
    }
    for (i = 0; i < 15; i++) {
        record("other.test", 5000 + i, now - day, i < 10 ? now - 20 * day : now - day,
               "approved", NULL);
    }
    record("other.test", 6000, now, 0, NULL, NULL);

    buf_init(&b, APPLIST_ANSWER_MAX);
    T_EQ_INT(applist_pending(root, "shop.test", (time_t)now, 0, &b, &pruned), 0, "listed");
    answer_line(&b, 0, line, sizeof line);
    T_EQ_STR(line, "100 900 0", "head: 100 waiting, 900 decided in the days, from 0");
    T_EQ_INT(lines_of(&b), 1 + APPLY_WAITING_MAX + APPLY_DECIDED_PAGE,
             "the waiting ones and one page of decided ones");
    T_CHECK(b.len <= APPLIST_ANSWER_MAX, "answer within APPLIST_ANSWER_MAX (%zu)", b.len);
    answer_line(&b, 1, line, sizeof line);
    T_EQ_STR(line, "20261204-060000-00000063 del u99@shop.test 2026-12-04 pending",
             "the oldest waiting one first");
    answer_line(&b, APPLY_WAITING_MAX, line, sizeof line);
    T_CHECK(strncmp(line, "20261204-060000-00000000 ", 25) == 0, "the newest waiting last: %s",
            line);
    answer_line(&b, APPLY_WAITING_MAX + 1, line, sizeof line);
    T_CHECK(strncmp(line, "20261204-060000-000003e8 del u1000@shop.test ", 45) == 0
            && strstr(line, " rejected the name is \"taken\"") != NULL,
            "the newest decided first, with its reason: %s", line);
    T_EQ_INT(pruned, 40, "the decided records past the days, of either domain, removed");
    T_EQ_INT(files_in("requests/done"), 900 + 5, "the others kept");
    T_EQ_INT(files_in("requests"), APPLY_WAITING_MAX + 1 + 1, "no waiting one touched");

    /* the page from 40: lines 41..60 newest first */
    buf_reset(&b);
    T_EQ_INT(applist_pending(root, "shop.test", (time_t)now, 40, &b, &pruned), 0, "page 3");
    answer_line(&b, 0, line, sizeof line);
    T_EQ_STR(line, "100 900 40", "head of page 3");
    answer_line(&b, APPLY_WAITING_MAX + 1, line, sizeof line);
    snprintf(want, sizeof want, "20261204-060000-%08x ", 1000 + 40);
    T_CHECK(strncmp(line, want, strlen(want)) == 0, "page 3 begins with the 41st newest: %s",
            line);
    T_EQ_INT(pruned, 0, "nothing left to prune");

    /* past the end: the last page (900 = 45 pages of 20: from 880) */
    buf_reset(&b);
    applist_pending(root, "shop.test", (time_t)now, 100000, &b, &pruned);
    answer_line(&b, 0, line, sizeof line);
    snprintf(want, sizeof want, "100 900 %d", APPLY_DECIDED_REACH > 900 ? 880
             : APPLY_DECIDED_REACH - APPLY_DECIDED_PAGE);
    T_EQ_STR(line, want, "a page past the end is the last one reached");

    /* the other domain sees its own alone */
    buf_reset(&b);
    applist_pending(root, "other.test", (time_t)now, 0, &b, &pruned);
    answer_line(&b, 0, line, sizeof line);
    T_EQ_STR(line, "1 5 0", "another domain's own counts");
    T_EQ_INT(lines_of(&b), 1 + 1 + 5, "and lines");
    buf_free(&b);

    /* a folder that does not exist yet: nothing, no error */
    snprintf(want, sizeof want, "%s/none", root);
    buf_init(&b, APPLIST_ANSWER_MAX);
    T_EQ_INT(applist_pending(want, "shop.test", (time_t)now, 0, &b, &pruned), 0, "no folder");
    answer_line(&b, 0, line, sizeof line);
    T_EQ_STR(line, "0 0 0", "no applications");
    buf_free(&b);
    snprintf(want, sizeof want, "rm -rf '%s'", root);
    if (system(want) != 0) {
        T_CHECK(0, "clean %s", root);
    }
}

/* A decided record in requests/done/ as mailacct approve leaves it: its id from the UTC time
   it was filed (as apply_id makes it), n its random part. */
static void decided(const char *domain, unsigned n, enum apply_kind kind, const char *state,
                    const char *by, long long filed, long long at)
{
    struct application a;
    struct buf b;
    struct tm tm;
    time_t t = (time_t)filed;
    char path[256], stamp[16];
    int fd;
    memset(&a, 0, sizeof a);
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(a.id, sizeof a.id, "%.15s-%08x", stamp, n);
    snprintf(a.domain, sizeof a.domain, "%s", domain);
    a.kind = kind;
    snprintf(a.target, sizeof a.target, kind == APPLY_PLAN ? "secure" : "u%u@%s", n, domain);
    snprintf(a.by, sizeof a.by, "admin:%s", domain);
    a.time = filed;
    snprintf(a.due, sizeof a.due, "2026-12-04");
    snprintf(a.state, sizeof a.state, "%s", state);
    snprintf(a.decided_by, sizeof a.decided_by, "%s", by);
    a.decided_at = at;
    buf_init(&b, APPLY_RECORD_MAX);
    apply_format(&a, &b);
    snprintf(path, sizeof path, "%s/requests/done/%s", root, a.id);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, b.s, b.len) != (ssize_t)b.len || close(fd) < 0) {
        T_CHECK(0, "write %s", path);
    }
    buf_free(&b);
}

/* What auto-approval added to a domain in the last 24 hours: the approved applications to add
   decided by "auto" in them, no other kind, decision, decider, domain or time; up to the cap. */
static void test_auto_added(void)
{
    const long long now = 1796000000LL, day = APPLY_AUTO_SECONDS;
    char dir[128];
    unsigned i;
    snprintf(root, sizeof root, "/tmp/test_applist.XXXXXX");
    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)now, 20), 0,
             "no requests/ yet: none");
    snprintf(dir, sizeof dir, "%s/requests", root);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/requests/done", root);
    mkdir(dir, 0700);
    /* shop.test: 5 added by auto in the last 24 hours, filed 1 to 4 hours ago (the first
       decided a second ago) and 10 s after the 24 hours began */
    for (i = 0; i < 5; i++) {
        long long filed = i == 4 ? now - day + 10 : now - 3600 * (i + 1);
        decided("shop.test", i, APPLY_ADD, "approved", "auto", filed, i ? filed + 1 : now - 1);
    }
    /* and what does not count: added by auto just over a day ago, and one filed two days ago
       that the operator approved as auto today; the operator's own approvals; a rejection; a
       new password, an add-on, a deletion and a change of plan by auto; another domain's */
    decided("shop.test", 100, APPLY_ADD, "approved", "auto", now - day - 5, now - day);
    decided("shop.test", 101, APPLY_ADD, "approved", "auto", now - 2 * day, now - 60);
    decided("shop.test", 102, APPLY_ADD, "approved", "root", now - 60, now - 30);
    decided("shop.test", 103, APPLY_ADD, "approved", "taro", now - 60, now - 30);
    decided("shop.test", 104, APPLY_ADD, "rejected", "auto", now - 60, now - 30);
    decided("shop.test", 105, APPLY_RESET, "approved", "auto", now - 60, now - 59);
    decided("shop.test", 106, APPLY_ADDON, "approved", "auto", now - 60, now - 59);
    decided("shop.test", 107, APPLY_DEL, "approved", "auto", now - 60, now - 59);
    decided("shop.test", 108, APPLY_PLAN, "approved", "auto", now - 60, now - 59);
    for (i = 0; i < 7; i++) {
        decided("other.test", 200 + i, APPLY_ADD, "approved", "auto", now - 60, now - 59);
    }
    T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)now, 20), 5,
             "shop.test: its 5 auto-approved adds of the day");
    T_EQ_INT(applist_auto_added(root, "other.test", (time_t)now, 20), 7, "other.test: its 7");
    T_EQ_INT(applist_auto_added(root, "none.test", (time_t)now, 20), 0, "a third domain: none");
    T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)now, 3), 3, "counted up to the cap");
    T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)now, 0), 0, "no cap: nothing counted");
    T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)(now + 3600 * 2), 20), 4,
             "two hours on, the oldest is out of the 24 hours");
    T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)(now + day), 20), 0,
             "a day on, none");
    /* a folder that cannot be read is an error, not "none" (unless root reads anything) */
    if (geteuid() != 0) {
        chmod(dir, 0);
        T_EQ_INT(applist_auto_added(root, "shop.test", (time_t)now, 20), -1,
                 "requests/done unreadable: -1");
        chmod(dir, 0700);
    }
    snprintf(dir, sizeof dir, "rm -rf '%s'", root);
    if (system(dir) != 0) {
        T_CHECK(0, "clean %s", root);
    }
}

int main(void)
{
    test_top();
    test_pending();
    test_auto_added();
    return T_DONE();
}

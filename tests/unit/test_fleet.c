/* test_fleet: etcdctl's JSON read into the fleet's records (hostile shapes included), the
   responses of a watch (parsed, and read from its output in pieces), the key of a map line,
   the maps' sources assembled from the records */
#include "t.h"

#include "../../cdb/fleet.h"
#include "../../cdb/fleet_impl.h"
#include "b64.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* {"key":"B64","mod_revision":M,"value":"B64"} */
static void kv(char *out, size_t cap, const char *k, const char *v, long long mod)
{
    char kb[256], vb[512];
    b64_encode((const unsigned char *)k, strlen(k), kb, sizeof kb);
    if (v) {
        b64_encode((const unsigned char *)v, strlen(v), vb, sizeof vb);
        snprintf(out, cap, "{\"key\":\"%s\",\"create_revision\":2,\"mod_revision\":%lld,"
                 "\"version\":1,\"value\":\"%s\"}", kb, mod, vb);
    } else {
        snprintf(out, cap, "{\"key\":\"%s\",\"create_revision\":2,\"mod_revision\":%lld,"
                 "\"version\":1}", kb, mod);
    }
}

static int parse(const char *json, struct fleet_snap *s)
{
    int r;
    memset(s, 0, sizeof *s);
    errno = 0;
    r = fleet_parse_range(s, json, strlen(json));
    return r;
}

static void test_range(void)
{
    char a[2048], b[2048], c[2048], j[8192];
    struct fleet_snap s;
    struct maps_src src;
    int r;
    static const struct {
        const char *key, *val;
        const char *name;
    } bad[] = {
        { "/yubin/dir/users/a@x.test", "a@x.test:$6$h::", "no schema version" },
        { "/yubin/dir/users/a@x.test", "2 a@x.test:$6$h::", "schema 2" },
        { "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::\nb@x.test:$6$h::", "two lines" },
        { "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::\r", "CR" },
        { "/yubin/dir/users/a@x.test", "1 b@x.test:$6$h::", "line under another key" },
        { "/yubin/dir/users/a@x.test", NULL, "no value" },
    };
    size_t i;

    kv(a, sizeof a, "/yubin/dir/domains/x.test", "1 x.test:basic", 3);
    kv(b, sizeof b, "/yubin/dir/serial", "mailacct@a", 9);
    kv(c, sizeof c, "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::", 7);
    snprintf(j, sizeof j, "{\"header\":{\"cluster_id\":1,\"member_id\":2,\"revision\":12,"
             "\"raft_term\":2},\"kvs\":[%s,%s,%s],\"count\":3}", a, b, c);
    r = parse(j, &s);
    T_EQ_INT(r, 0, "a range parses");
    T_EQ_INT(s.rev, 12, "header revision");
    T_EQ_INT(s.serial_mod, 9, "the guard's revision, not a record");
    T_EQ_INT(s.n, 2, "two records");
    T_EQ_STR(s.n == 2 ? s.kv[1].val : "", "a@x.test:$6$h::", "value without its version");
    T_EQ_INT(s.n == 2 ? s.kv[1].mod : 0, 7, "mod_revision");
    T_EQ_INT(fleet_src(&s, "mail.a.test\n", 12, &src), 0, "sources");
    T_EQ_STR(src.text[MAPS_USERS], "a@x.test:$6$h::\n", "users text");
    T_EQ_STR(src.text[MAPS_DOMAINS], "x.test:basic\n", "domains text");
    T_EQ_STR(src.text[MAPS_ME], "mail.a.test\n", "me stays local");
    T_EQ_STR(src.text[MAPS_ALIASES], "", "no aliases");
    mapsio_src_free(&src);
    fleet_snap_free(&s);

    r = parse("{\"header\":{\"cluster_id\":1,\"revision\":5}}", &s);
    T_CHECK(r == 0 && s.rev == 5 && s.n == 0, "an empty range");
    fleet_snap_free(&s);
    /* mailacct's read (fleet_get_dir): etcdctl txn -w json of two range reads, as etcd 3.4
       prints it; the records of both in turn, the guard from the first, the outer revision */
    kv(a, sizeof a, "/yubin/dir/serial", "mailacct@a", 9);
    kv(b, sizeof b, "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::", 7);
    kv(c, sizeof c, "/yubin/node/b", "1 rev=9", 11);
    snprintf(j, sizeof j, "{\"header\":{\"cluster_id\":1,\"member_id\":2,\"revision\":12,"
             "\"raft_term\":2},\"succeeded\":true,\"responses\":[{\"Response\":{\"ResponseRange\":"
             "{\"header\":{\"revision\":12},\"kvs\":[%s,%s],\"count\":2}}},{\"Response\":"
             "{\"ResponseRange\":{\"header\":{\"revision\":12},\"kvs\":[%s],\"count\":1}}}]}",
             a, b, c);
    r = parse(j, &s);
    T_CHECK(r == 0 && s.rev == 12 && s.serial_mod == 9 && s.n == 2
            && strcmp(s.kv[0].key, "/yubin/dir/users/a@x.test") == 0
            && strcmp(s.kv[1].key, "/yubin/node/b") == 0 && strcmp(s.kv[1].val, "rev=9") == 0
            && fleet_snap_find(&s, "/yubin/node/b") == &s.kv[1], "a transaction of two reads");
    fleet_snap_free(&s);
    snprintf(j, sizeof j, "{\"header\":{\"cluster_id\":1,\"revision\":4},\"succeeded\":true,"
             "\"responses\":[{\"Response\":{\"ResponseRange\":{\"header\":{\"revision\":4}}}},"
             "{\"Response\":{\"ResponseRange\":{\"header\":{\"revision\":4},\"kvs\":[%s],"
             "\"count\":1}}}]}", c);
    r = parse(j, &s);
    T_CHECK(r == 0 && s.rev == 4 && s.serial_mod == 0 && s.n == 1
            && strcmp(s.kv[0].key, "/yubin/node/b") == 0, "a transaction: the first read empty");
    fleet_snap_free(&s);
    r = parse("{\"header\":{\"cluster_id\":1}}", &s);
    T_CHECK(r < 0 && errno == EPROTO, "no revision refused");
    fleet_snap_free(&s);
    {   /* the digits after the end of the output are not the revision's */
        const char *t = "{\"header\":{\"revision\":12}}";
        memset(&s, 0, sizeof s);
        r = fleet_parse_range(&s, t, (size_t)(strchr(t, '1') - t));
        T_CHECK(r < 0, "a number cut at the end of the output refused");
        fleet_snap_free(&s);
    }
    r = parse("", &s);
    T_CHECK(r < 0, "empty output refused");
    fleet_snap_free(&s);
    snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[{\"key\":\"L3l1Ymlu!!==\","
             "\"mod_revision\":1,\"value\":\"MSB4\"}]}");
    T_CHECK(parse(j, &s) < 0, "bad base64 refused");
    fleet_snap_free(&s);
    snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[{\"key\":\"L3l1Ymlu\"");
    T_CHECK(parse(j, &s) < 0, "truncated object refused");
    fleet_snap_free(&s);
    /* a record that cannot be read: flagged by the parser; under /yubin/dir/ it fails the
       read (naming it), elsewhere it is left out of the directory's reads (another program's
       record), and a reader that keeps such records has it with why */
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[FLEET_ERR_MAX];
        kv(a, sizeof a, bad[i].key, bad[i].val, 4);
        kv(b, sizeof b, "/yubin/dir/users/b@x.test", "1 b@x.test:$6$h::", 3);
        snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[%s,%s]}", a, b);
        r = parse(j, &s);
        T_CHECK(r == 0 && s.n == 2 && s.kv[0].bad && !s.kv[0].val && !s.kv[0].key_bad
                && !s.kv[1].bad && s.kv[1].val, "flagged: %s (%s)", bad[i].name,
                s.n ? s.kv[0].bad : "none");
        errno = 0;
        T_CHECK(fleet_snap_settle(&s, FLEET_BAD_REFUSE, err) < 0 && errno == EPROTO
                && strstr(err, bad[i].key), "refused under /yubin/dir/: %s (%s)", bad[i].name,
                err);
        fleet_snap_free(&s);
        if (strcmp(bad[i].name, "line under another key") == 0) {
            continue;   /* a map line's rule: the directory's only */
        }
        kv(a, sizeof a, "/yubin/rate/c/a@x.test", bad[i].val, 4);
        snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[%s,%s]}", b, a);
        T_CHECK(parse(j, &s) == 0 && fleet_snap_settle(&s, FLEET_BAD_KEEP, err) == 0
                && s.n == 2 && s.kv[1].bad && !s.kv[1].val
                && strcmp(s.kv[1].key, "/yubin/rate/c/a@x.test") == 0,
                "kept flagged: %s of another program", bad[i].name);
        T_CHECK(fleet_snap_settle(&s, FLEET_BAD_REFUSE, err) == 0 && s.n == 1
                && strcmp(s.kv[0].key, "/yubin/dir/users/b@x.test") == 0,
                "left out of the directory's read: %s of another program", bad[i].name);
        fleet_snap_free(&s);
    }
    /* a NUL in a key: no string; a copy for the log, and it names no record */
    snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[{\"key\":\"L3l1YmluL3JhdGUvYwBk\","
             "\"mod_revision\":1,\"value\":\"MSB4\"}]}");
    r = parse(j, &s);
    T_CHECK(r == 0 && s.n == 1 && s.kv[0].key_bad && s.kv[0].bad && !s.kv[0].val
            && strcmp(s.kv[0].key, "/yubin/rate/c?d") == 0, "a NUL in a key flagged");
    fleet_snap_free(&s);
    kv(a, sizeof a, "/yubin/node/b", "1 rev=40", 41);
    snprintf(j, sizeof j, "{\"header\":{\"revision\":50},\"kvs\":[%s]}", a);
    T_CHECK(parse(j, &s) == 0 && s.n == 1 && strcmp(s.kv[0].val, "rev=40") == 0,
            "a node's status");
    fleet_snap_free(&s);
}

/* Lines as etcdctl 3.4 `watch -w json` prints them (keys /yubin/rate/a/x@y and
   /yubin/rate/b/x@y) */
#define W_HDR "{\"Header\":{\"cluster_id\":14841639068965178418,\"member_id\":1027665774393297" \
              "5437,\"revision\":%s,\"raft_term\":2},\"Events\":["
#define W_END "],\"CompactRevision\":%s,\"Canceled\":%s,\"Created\":false}"
#define W_PUT_A "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"create_revision\":2," \
                "\"mod_revision\":2,\"version\":1,\"value\":\"MSB3PTM2MDA=\"}}"
#define W_DEL_A "{\"type\":1,\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":4}}"
#define W_PUT_B "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYi94QHk=\",\"create_revision\":3," \
                "\"mod_revision\":3,\"version\":1,\"value\":\"MSB3PTM2MDAgZj0xOjE6MQ==\"}}"

static int parse_w(const char *line, struct fleet_snap *ev, long long *compact)
{
    memset(ev, 0, sizeof *ev);
    errno = 0;
    return fleet_parse_watch(ev, line, strlen(line), compact);
}

static void test_watch_parse(void)
{
    char j[4096], a[2048];
    struct fleet_snap ev;
    long long compact;
    int r;
    static const struct {
        const char *events, *name;
    } bad[] = {
        { "{\"type\":2,\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":4}}",
          "an unknown event type" },
        { "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"value\":\"MSB4\"}}", "no mod_revision" },
        { "{\"type\":1,\"kv\":{\"mod_revision\":4}}", "a deletion without key" },
        { "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":2,\"value\":\"M!!4\"}}",
          "bad base64" },
        { W_PUT_A W_PUT_B, "two events without a comma" },
        { W_PUT_A ",", "a comma and no event" },
        { "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":2}",
          "an event not closed" },
        { "{\"other\":1}", "not an event" },
    };
    size_t i;

    snprintf(j, sizeof j, W_HDR W_PUT_A W_END, "2", "0", "false");
    r = parse_w(j, &ev, &compact);
    T_CHECK(r == 0 && ev.rev == 2 && ev.n == 1, "one put");
    T_CHECK(ev.n == 1 && strcmp(ev.kv[0].key, "/yubin/rate/a/x@y") == 0
            && ev.kv[0].val && strcmp(ev.kv[0].val, "w=3600") == 0 && ev.kv[0].mod == 2,
            "its key, value without its version, mod_revision");
    fleet_snap_free(&ev);

    snprintf(j, sizeof j, W_HDR W_PUT_A "," W_PUT_B "," W_DEL_A W_END, "4", "0", "false");
    r = parse_w(j, &ev, &compact);
    T_CHECK(r == 0 && ev.rev == 4 && ev.n == 3, "three events in one response");
    T_CHECK(ev.n == 3 && strcmp(ev.kv[1].val, "w=3600 f=1:1:1") == 0 && !ev.kv[2].val
            && strcmp(ev.kv[2].key, "/yubin/rate/a/x@y") == 0 && ev.kv[2].mod == 4,
            "in etcd's order, the deletion without value");
    fleet_snap_free(&ev);

    snprintf(j, sizeof j, W_HDR W_END, "9", "0", "false");
    T_CHECK(parse_w(j, &ev, &compact) == 0 && ev.n == 0 && ev.rev == 9, "no event (progress)");
    fleet_snap_free(&ev);

    /* the guard is no record, as in a range */
    kv(a, sizeof a, "/yubin/dir/serial", "mailacct@a", 9);
    snprintf(j, sizeof j, W_HDR "{\"kv\":%s}," W_PUT_A W_END, "9", a, "0", "false");
    r = parse_w(j, &ev, &compact);
    T_CHECK(r == 0 && ev.n == 1 && ev.serial_mod == 9, "the guard's event sets serial_mod");
    fleet_snap_free(&ev);

    /* etcd ends a watch whose start revision was compacted: no header revision */
    r = parse_w("{\"Header\":{\"cluster_id\":1,\"member_id\":2,\"raft_term\":2},\"Events\":[],"
                "\"CompactRevision\":5,\"Canceled\":true,\"Created\":false}", &ev, &compact);
    T_CHECK(r < 0 && errno == ECANCELED && compact == 5, "a cancel after a compaction");
    fleet_snap_free(&ev);
    snprintf(j, sizeof j, W_HDR W_END, "9", "0", "true");
    r = parse_w(j, &ev, &compact);
    T_CHECK(r < 0 && errno == ECANCELED && compact == 0, "a cancel without compaction");
    fleet_snap_free(&ev);

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(j, sizeof j, W_HDR "%s" W_END, "5", bad[i].events, "0", "false");
        r = parse_w(j, &ev, &compact);
        T_CHECK(r < 0 && errno == EPROTO, "refused: %s", bad[i].name);
        fleet_snap_free(&ev);
    }
    /* a record that cannot be read is one event, flagged; the others of the response stay */
    {
        static const struct {
            const char *event, *name;
            int key_bad;
        } flagged[] = {
            { "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":4}}",
              "a put without value (an empty one)", 0 },
            { "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":2,"
              "\"value\":\"MiB4\"}}", "a value of schema 2", 0 },
            { "{\"kv\":{\"key\":\"L3l1YmluL3JhdGUvYS94QHk=\",\"mod_revision\":2,"
              "\"value\":\"MSB4Cnk=\"}}", "a value of two lines", 0 },
            { "{\"kv\":{\"key\":\"L3l1YmluAA==\",\"mod_revision\":2,\"value\":\"MSB4\"}}",
              "a put under a key with a NUL", 1 },
        };
        for (i = 0; i < sizeof flagged / sizeof flagged[0]; i++) {
            snprintf(j, sizeof j, W_HDR "%s," W_PUT_B W_END, "5", flagged[i].event, "0",
                     "false");
            r = parse_w(j, &ev, &compact);
            T_CHECK(r == 0 && ev.n == 2 && ev.kv[0].bad && !ev.kv[0].val
                    && ev.kv[0].key_bad == flagged[i].key_bad && !ev.kv[1].bad
                    && ev.kv[1].val, "flagged: %s (%s)", flagged[i].name,
                    ev.n ? ev.kv[0].bad : "none");
            fleet_snap_free(&ev);
        }
        snprintf(j, sizeof j, W_HDR "{\"type\":1,\"kv\":{\"key\":\"L3l1YmluAA==\","
                 "\"mod_revision\":4}}" W_END, "5", "0", "false");
        r = parse_w(j, &ev, &compact);
        T_CHECK(r == 0 && ev.n == 1 && ev.kv[0].key_bad && !ev.kv[0].bad && !ev.kv[0].val,
                "a deletion under a key with a NUL: key_bad, no why");
        fleet_snap_free(&ev);
    }
    /* clientv3 ends a watch it cancels itself (no leader) with Go's nil slice */
    r = parse_w("{\"Header\":{},\"Events\":null,\"CompactRevision\":0,\"Canceled\":true,"
                "\"Created\":false}", &ev, &compact);
    T_CHECK(r < 0 && errno == ECANCELED && compact == 0 && ev.n == 0,
            "\"Events\":null, canceled: a cancel");
    fleet_snap_free(&ev);
    snprintf(j, sizeof j, "{\"Header\":{\"revision\":7},\"Events\":null,"
             "\"CompactRevision\":0,\"Canceled\":false,\"Created\":false}");
    r = parse_w(j, &ev, &compact);
    T_CHECK(r == 0 && ev.n == 0 && ev.rev == 7, "\"Events\":null: no event");
    fleet_snap_free(&ev);
    T_CHECK(parse_w("{\"Header\":{},\"Events\":nul", &ev, &compact) < 0 && errno == EPROTO,
            "\"Events\":nul refused");
    fleet_snap_free(&ev);
    r = parse_w("{\"Header\":{\"revision\":5}}", &ev, &compact);
    T_CHECK(r < 0 && errno == EPROTO, "no Events refused");
    fleet_snap_free(&ev);
    snprintf(j, sizeof j, W_HDR W_PUT_A, "2");
    T_CHECK(parse_w(j, &ev, &compact) < 0 && errno == EPROTO, "a response cut short refused");
    fleet_snap_free(&ev);
    snprintf(j, sizeof j, W_HDR W_PUT_A, "2");
    j[strlen(j) - 3] = '\0';    /* inside the value */
    T_CHECK(parse_w(j, &ev, &compact) < 0, "a response cut in a value refused");
    fleet_snap_free(&ev);
    T_CHECK(parse_w("", &ev, &compact) < 0, "nothing refused");
    fleet_snap_free(&ev);
}

/* A new pipe whose reading end p[0] a fresh watch reads, non-blocking as etcdctl's pipe is;
   the writing end p[1] stays blocking for a writer process. 0 ok, -1 errno. */
static int watch_on_pipe(struct fleet_watch *w, int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    fleet_watch_init(w);
    w->fd = p[0];
    return fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ? -1 : 0;
}

/* fleet_watch_next on a pipe: lines in pieces, several at once, an over-long one, the end. */
static void test_watch_read(void)
{
    struct fleet_watch w;
    struct fleet_snap ev;
    char why[FLEET_ERR_MAX], j[4096], two[8192];
    int p[2], r;
    pid_t pid;

    fleet_watch_init(&w);
    T_CHECK(fleet_watch_next(&w, 1, &ev, why) == 0, "no watch: nothing, after the wait");
    T_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
    w.fd = p[0];
    snprintf(j, sizeof j, W_HDR W_PUT_A W_END "\n", "2", "0", "false");
    T_CHECK(write(p[1], j, 40) == 40, "a piece of a line");
    T_EQ_INT(fleet_watch_next(&w, 100, &ev, why), 0, "part of a line: nothing yet");
    T_CHECK(write(p[1], j + 40, strlen(j) - 40) == (ssize_t)(strlen(j) - 40), "the rest");
    r = fleet_watch_next(&w, 100, &ev, why);
    T_CHECK(r == 1 && ev.n == 1 && ev.rev == 2, "the line once whole");
    fleet_snap_free(&ev);
    snprintf(two, sizeof two, W_HDR W_PUT_B W_END "\n" W_HDR W_DEL_A W_END "\n", "3", "0",
             "false", "4", "0", "false");
    T_CHECK(write(p[1], two, strlen(two)) == (ssize_t)strlen(two), "two lines at once");
    r = fleet_watch_next(&w, 100, &ev, why);
    T_CHECK(r == 1 && ev.n == 1 && ev.rev == 3 && ev.kv[0].val, "the first");
    fleet_snap_free(&ev);
    r = fleet_watch_next(&w, 0, &ev, why);
    T_CHECK(r == 1 && ev.n == 1 && ev.rev == 4 && !ev.kv[0].val, "the second, without waiting");
    fleet_snap_free(&ev);
    T_EQ_INT(fleet_watch_next(&w, 10, &ev, why), 0, "then nothing");
    close(p[1]);
    r = fleet_watch_next(&w, 100, &ev, why);
    T_CHECK(r < 0 && w.fd < 0 && strstr(why, "ended"), "the end: stopped (%s)", why);

    /* a line longer than the bound, written by another process */
    T_CHECK(watch_on_pipe(&w, p) == 0, "pipe");
    pid = fork();
    if (pid == 0) {
        static char x[65536];
        size_t n = 0;
        memset(x, 'x', sizeof x);
        close(p[0]);
        while (n <= FLEET_WATCH_LINE_MAX && write(p[1], x, sizeof x) > 0) {
            n += sizeof x;
        }
        _exit(0);
    }
    close(p[1]);
    while ((r = fleet_watch_next(&w, 1000, &ev, why)) == 0) {
    }
    T_CHECK(r < 0 && w.fd < 0 && strstr(why, "longer than"), "an over-long line (%s)", why);
    waitpid(pid, NULL, 0);

    /* a line of exactly the bound, its newline read with the next line's start: taken whole
       (the bound is the line's, not the read's) */
    {
        static const char pad_end[] = "\"}\n";
        size_t n0, n1, n2, at;
        char *all, l0[4096], l2[4096];
        int got = 0;
        snprintf(l0, sizeof l0, W_HDR W_PUT_A W_END "\n", "2", "0", "false");
        snprintf(l2, sizeof l2, W_HDR W_PUT_B W_END "\n", "3", "0", "false");
        snprintf(j, sizeof j, W_HDR W_DEL_A "],\"CompactRevision\":0,\"Canceled\":false,"
                 "\"pad\":\"", "4");
        n0 = strlen(l0);
        n1 = FLEET_WATCH_LINE_MAX;
        n2 = strlen(l2);
        all = malloc(n0 + n1 + 40 * n2);
        T_CHECK(all != NULL, "memory");
        memcpy(all, l0, n0);
        memcpy(all + n0, j, strlen(j));
        memset(all + n0 + strlen(j), 'x', n1 - strlen(j) - (sizeof pad_end - 1));
        memcpy(all + n0 + n1 - (sizeof pad_end - 1), pad_end, sizeof pad_end - 1);
        for (at = n0 + n1; at < n0 + n1 + 40 * n2; at += n2) {
            memcpy(all + at, l2, n2);       /* the next lines: more than one read's worth */
        }
        T_CHECK(watch_on_pipe(&w, p) == 0, "pipe");
        pid = fork();
        if (pid == 0) {
            size_t off = 0;
            ssize_t k;
            close(p[0]);
            while (off < n0 + n1 + 40 * n2 && (k = write(p[1], all + off, n0 + n1 + 40 * n2
                                                                 - off)) > 0) {
                off += (size_t)k;
            }
            _exit(0);
        }
        close(p[1]);
        free(all);
        while (got < 3 && (r = fleet_watch_next(&w, 1000, &ev, why)) >= 0) {
            got += r > 0 && ev.rev == (got == 0 ? 2 : got == 1 ? 4 : 3);
            fleet_snap_free(&ev);
        }
        T_CHECK(got == 3, "a line of %lu octets with its newline, then the next (%d taken; %s)",
                FLEET_WATCH_LINE_MAX, got, why);
        fleet_watch_stop(&w);
        waitpid(pid, NULL, 0);
    }

    /* a cancel is the end of the watch, said */
    T_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
    fleet_watch_init(&w);
    w.fd = p[0];
    snprintf(j, sizeof j, "{\"Header\":{\"cluster_id\":1},\"Events\":[],\"CompactRevision\":5,"
             "\"Canceled\":true,\"Created\":false}\n");
    T_CHECK(write(p[1], j, strlen(j)) == (ssize_t)strlen(j), "a cancel");
    r = fleet_watch_next(&w, 100, &ev, why);
    T_CHECK(r < 0 && w.fd < 0 && strstr(why, "compacted to revision 5"), "stopped (%s)", why);
    close(p[1]);
}

/* fleet_ctl with a stand-in etcdctl first on PATH (a script). */
static void fake_etcdctl(const char *dir, const char *script)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/etcdctl", dir);
    f = fopen(path, "w");
    T_CHECK(f && fputs(script, f) >= 0 && fclose(f) == 0 && chmod(path, 0755) == 0,
            "a stand-in etcdctl");
}

static void test_ctl(void)
{
    char dir[] = "/tmp/test_fleet.XXXXXX", none[] = "/tmp/test_fleet.XXXXXX";
    char err[FLEET_ERR_MAX], path[8192], *was = getenv("PATH");
    const char *args[] = { "get", "/yubin/", NULL };
    struct fleet_conf c;
    struct buf out;
    int st, r;
    pid_t pid;

    memset(&c, 0, sizeof c);
    snprintf(c.endpoints, sizeof c.endpoints, "https://127.0.0.1:1");
    T_CHECK(mkdtemp(dir) && mkdtemp(none), "folders");
    was = was ? strdup(was) : NULL;

    /* output without end: refused past the bound, etcdctl killed, no wait for it */
    fake_etcdctl(dir, "#!/bin/sh\nexec yes 0123456789abcdef\n");
    r = snprintf(path, sizeof path, "%s:%s", dir, was ? was : "/usr/bin:/bin");
    T_CHECK(r > 0 && (size_t)r < sizeof path, "PATH with the stand-in first");
    setenv("PATH", path, 1);
    pid = fork();
    if (pid == 0) {
        alarm(20);      /* the code before waited for it for ever */
        buf_init(&out, 4096);
        r = fleet_ctl(&c, args, NULL, &out, err);
        printf("# fleet_ctl: %d (%s)\n", r, err);
        fflush(stdout);
        _exit(r < 0 && errno == E2BIG && out.len == 0
              && strcmp(err, "etcdctl's output is longer than 4096 octets") == 0 ? 0 : 1);
    }
    T_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "endless output: refused, said, and etcdctl killed (status %d)", st);

    /* output and a stderr line, then a failure: its last line */
    fake_etcdctl(dir, "#!/bin/sh\necho out; echo '{\"level\":\"warn\"}' >&2; "
                 "echo 'Error: etcdserver: permission denied' >&2; exit 1\n");
    buf_init(&out, 4096);
    r = fleet_ctl(&c, args, NULL, &out, err);
    T_CHECK(r == 1 && strcmp(err, "Error: etcdserver: permission denied") == 0 && out.len == 4,
            "a failure: etcdctl's last line (%s)", err);
    buf_free(&out);

    /* no etcdctl: why */
    setenv("PATH", none, 1);
    buf_init(&out, 4096);
    r = fleet_ctl(&c, args, NULL, &out, err);
    T_CHECK(r == 127 && strcmp(err, "unable to run etcdctl: No such file or directory") == 0,
            "no etcdctl: %d (%s)", r, err);
    buf_free(&out);

    if (was) {
        setenv("PATH", was, 1);
        free(was);
    }
    snprintf(path, sizeof path, "%s/etcdctl", dir);
    unlink(path);
    rmdir(dir);
    rmdir(none);
}

static void test_line_key(void)
{
    static const struct {
        enum maps_file f;
        const char *line, *want;   /* want NULL: no key */
    } c[] = {
        { MAPS_USERS, "a@x.test:$6$h::", "a@x.test" },
        { MAPS_ALIASES, "  Info@X.Test : a@x.test", "info@x.test" },
        { MAPS_ROUTES, ":127.0.0.1:2525", "*" },
        { MAPS_ROUTES, "remote.test:127.0.0.1", "remote.test" },
        { MAPS_ADMIN, "Ops@Example.net", "ops@example.net" },
        { MAPS_DOMAINS, "# a comment", NULL },
        { MAPS_DOMAINS, "   ", NULL },
        { MAPS_DOMAINS, "a/b.test:basic", NULL },
    };
    char key[MAP_LINE_MAX];
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        int r = fleet_line_key(c[i].f, c[i].line, strlen(c[i].line), key, sizeof key);
        if (c[i].want) {
            T_CHECK(r == 0 && strcmp(key, c[i].want) == 0, "key of \"%s\" (got %s)", c[i].line,
                    r == 0 ? key : "none");
        } else {
            T_CHECK(r < 0, "no key in \"%s\"", c[i].line);
        }
    }
}

int main(void)
{
    test_range();
    test_watch_parse();
    test_watch_read();
    test_ctl();
    test_line_key();
    return T_DONE();
}

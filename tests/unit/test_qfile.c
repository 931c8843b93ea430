/* test_qfile: envelope and header parsing, the commit, state log replay (queue/qfile.c) */
#include "t.h"
#include "queue/qfile.h"
#include "envelope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct env_case {
    const char *name;
    const char *p;
    size_t n;
    int want;           /* 1 complete, 0 incomplete, -1 bad */
    int err;            /* errno when bad */
    size_t nrcpt;
};

static void test_envelope(void)
{
    static const struct env_case cases[] = {
        {"simple", "Fa@b.c\0Tx@y.z\0\0", 15, 1, 0, 1},
        {"null sender", "F\0Tx@y.z\0Tq@r.s\0\0", 17, 1, 0, 2},
        {"incomplete rcpt", "Fa@b.c\0Tx@y", 11, 0, 0, 0},
        {"missing final nul", "Fa@b.c\0Tx@y.z\0", 14, 0, 0, 0},
        {"empty", "", 0, 0, 0, 0},
        {"no recipient", "Fa@b.c\0\0", 8, -1, EINVAL, 0},
        {"rcpt first", "Tx@y.z\0\0", 8, -1, EINVAL, 0},
        {"two senders", "Fa\0Fb\0Tc\0\0", 10, -1, EINVAL, 0},
        {"bad letter", "Fa\0Xc\0\0", 7, -1, EINVAL, 0},
        {"CR in rcpt", "Fa\0Tx\r@y\0\0", 10, -1, EINVAL, 0},
        {"LF in sender", "Fa\nb\0Tx\0\0", 9, -1, EINVAL, 0},
        {"LF in partial", "Fa\0Tx\n", 6, -1, EINVAL, 0},
        {"empty rcpt", "Fa\0T\0\0", 6, -1, EINVAL, 0},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qenv e;
        size_t used = 0;
        int r;
        qenv_init(&e);
        errno = 0;
        r = qenv_parse_envelope(cases[i].p, cases[i].n, &e, &used);
        T_EQ_INT(r, cases[i].want, cases[i].name);
        if (r < 0) {
            T_EQ_INT(errno, cases[i].err, cases[i].name);
        }
        if (r == 1) {
            T_EQ_INT(e.nrcpt, cases[i].nrcpt, cases[i].name);
            T_EQ_INT(used, cases[i].n, cases[i].name);
        }
        qenv_free(&e);
    }
}

static void test_envelope_bounds(void)
{
    size_t cap = ENVELOPE_MAX + 4096, n = 0, i, used;
    char *p = malloc(cap);
    struct qenv e;

    /* an address one octet over ADDR_MAX: qmail-queue's "address too long" */
    p[n++] = 'F';
    p[n++] = '\0';
    p[n++] = 'T';
    memset(p + n, 'a', ADDR_MAX + 1);
    n += ADDR_MAX + 1;
    p[n++] = '\0';
    p[n++] = '\0';
    qenv_init(&e);
    T_EQ_INT(qenv_parse_envelope(p, n, &e, &used), -1, "address over ADDR_MAX refused");
    T_EQ_INT(errno, ENAMETOOLONG, "address over ADDR_MAX is ENAMETOOLONG");
    /* a partial address already over the bound is refused before the rest arrives */
    T_EQ_INT(qenv_parse_envelope(p, 3 + ADDR_MAX + 1, &e, &used), -1, "partial over bound");

    /* exactly ADDR_MAX is fine */
    n = 2;
    p[n++] = 'T';
    memset(p + n, 'a', ADDR_MAX);
    n += ADDR_MAX;
    p[n++] = '\0';
    p[n++] = '\0';
    T_EQ_INT(qenv_parse_envelope(p, n, &e, &used), 1, "address of ADDR_MAX accepted");

    /* SMTP_RCPT_MAX recipients ok, one more refused */
    n = 2;
    for (i = 0; i < SMTP_RCPT_MAX + 1; i++) {
        n += (size_t)snprintf(p + n, cap - n, "Tr%zu@x.y", i) + 1;
    }
    p[n++] = '\0';
    T_EQ_INT(qenv_parse_envelope(p, n, &e, &used), -1, "too many recipients refused");
    T_EQ_INT(errno, E2BIG, "too many recipients is E2BIG");
    qenv_free(&e);
    free(p);
}

static void test_header_roundtrip(void)
{
    struct qenv e, d;
    char *h;
    size_t hn, body;
    char buf[4096];

    qenv_init(&e);
    qenv_init(&d);
    e.arrival = 1764355200;
    T_EQ_INT(qenv_set_sender(&e, "a@b.c", 5), 0, "set sender");
    T_EQ_INT(qenv_add_rcpt(&e, "x@y.z", 5), 0, "add rcpt 1");
    T_EQ_INT(qenv_add_rcpt(&e, "q@r.s", 5), 0, "add rcpt 2");
    T_EQ_INT(qenv_add_rcpt(&e, "bad\n@r.s", 9), -1, "rcpt with LF refused");
    T_EQ_INT(qenv_format_header(&e, &h, &hn), 0, "format header");
    T_EQ_STR((memcpy(buf, h, hn), buf[hn] = '\0', buf), "Y1\nT1764355200\nFa@b.c\nRx@y.z\nRq@r.s\n\n",
             "header text");
    memcpy(buf + hn, "Subject: x\n\nbody\n", 18);
    T_EQ_INT(qenv_parse_header(buf, hn + 17, &d, &body), 0, "parse header");
    T_EQ_INT(body, hn, "body offset");
    T_EQ_INT(d.arrival, 1764355200, "arrival");
    T_EQ_STR(d.sender, "a@b.c", "sender");
    T_EQ_INT(d.nrcpt, 2, "rcpt count");
    T_EQ_STR(d.rcpt[1], "q@r.s", "rcpt 2");
    T_EQ_INT(qenv_parse_header(buf, 10, &d, &body), -1, "truncated header");
    T_EQ_INT(errno, ENODATA, "truncated header is ENODATA");
    T_EQ_INT(qenv_parse_header("Y2\nT1\nF\nRa\n\n", 12, &d, &body), -1, "wrong version");
    T_EQ_INT(qenv_parse_header("Y1\nT1\nF\n\n", 9, &d, &body), -1, "no recipient");
    T_EQ_INT(qenv_parse_header("Y1\nF\nT1\nRa\n\n", 12, &d, &body), -1, "records out of order");
    T_EQ_INT(qenv_parse_header("Y1\nTx\nF\nRa\n\n", 12, &d, &body), -1, "bad time");
    free(h);
    qenv_free(&e);
    qenv_free(&d);
}

static void test_ids(void)
{
    char id[QID_BUF];
    qid_make(0x6b0b2e4e, 999999, 0x1234abcdULL | (7ULL << 32), id);
    T_EQ_STR(id, "6b0b2e4ef423fbcd", "id from seconds, microseconds and inode low bits");
    qid_make(0x16b0b2e4eLL, 5, 0xfff, id);
    T_EQ_STR(id, "6b0b2e4e00005fff", "seconds past 32 bits wrap");
    T_EQ_INT(qid_ok(id), 1, "id ok");
    T_EQ_INT(qid_ok("6B0B2E4E1234ABCD"), 0, "upper case refused");
    T_EQ_INT(qid_ok("6b0b2e4e1234abc"), 0, "short refused");
    T_EQ_INT(qid_ok("../../etc/passwd"), 0, "path refused");
}

static int count_cb(void *ctx, const struct qline *l)
{
    (void)l;
    (*(int *)ctx)++;
    return 0;
}

static void test_state_log(const char *dir)
{
    char path[512];
    struct qstate s;
    struct qline l;
    size_t skipped;
    int fd, lines = 0;
    static const char torn[] = "1 D 1700000003 ok\n"
                               "garbage line\n"
                               "\0\0\0\0\n"
                               "7 D 1700000004 index out of range\n"
                               "0 D 17000";

    snprintf(path, sizeof path, "%s/state", dir);
    unlink(path);
    fd = qstate_open(path);
    T_CHECK(fd >= 0, "open the state file");
    memset(&l, 0, sizeof l);
    l.kind = QL_RCPT;
    l.index = 0;
    l.status = 'Z';
    l.when = 1700000000;
    l.text = "mailbox full\r\nX-Injected: yes (#4.2.2)";
    l.text_len = strlen(l.text);
    T_EQ_INT(qstate_append(fd, &l), 0, "append Z");
    l.when = 1700000001;
    T_EQ_INT(qstate_append(fd, &l), 0, "append Z again");
    l.index = 2;
    l.status = 'F';
    l.text = "no such user (#5.1.1)";
    l.text_len = strlen(l.text);
    T_EQ_INT(qstate_append(fd, &l), 0, "append F");
    l.kind = QL_BOUNCE;
    l.when = 1700000002;
    T_EQ_INT(qstate_append(fd, &l), 0, "append B");
    T_EQ_INT(write(fd, torn, sizeof torn - 1), (long)(sizeof torn - 1), "append torn tail");
    close(fd);

    T_EQ_INT(qstate_load(path, 3, &s), 0, "load");
    T_EQ_INT(s.r[0].status, QS_DEFERRED, "rcpt 0 deferred (torn D ignored)");
    T_EQ_INT(s.r[0].tries, 2, "rcpt 0 two tries");
    T_EQ_INT(s.r[0].last, 1700000001, "rcpt 0 last time");
    T_EQ_INT(s.r[1].status, QS_DONE, "rcpt 1 delivered after B");
    T_EQ_INT(s.r[2].status, QS_FAILED, "rcpt 2 failed");
    T_EQ_INT(s.r[2].bounced, 1, "rcpt 2 bounce made");
    T_EQ_INT(s.bounce_time, 1700000002, "B time");
    qstate_free(&s);
    T_EQ_INT(qstate_replay(path, 3, count_cb, &lines, &skipped), 0, "replay");
    T_EQ_INT(lines, 5, "five good lines");
    T_EQ_INT(skipped, 4, "four bad lines skipped");
    /* Appending after the torn tail: "0 D 17000" + "3 Z ..." must not read as one line
       ("0 D 170003 Z ...": rcpt 3 never deferred); nor "1" + "5 D" as "15 D". */
    fd = qstate_open(path);
    l.kind = QL_RCPT;
    l.index = 3;
    l.status = 'Z';
    l.when = 1700000005;
    l.text = "try again (#4.0.0)";
    l.text_len = strlen(l.text);
    T_EQ_INT(qstate_append(fd, &l), 0, "append after the torn tail");
    T_EQ_INT(write(fd, "1", 1), 1, "a short write's fragment");
    l.index = 5;
    l.status = 'D';
    l.when = 1700000006;
    l.text = "delivered (#2.0.0)";
    l.text_len = strlen(l.text);
    T_EQ_INT(qstate_append(fd, &l), 0, "append after the fragment");
    close(fd);
    T_EQ_INT(qstate_load(path, 16, &s), 0, "load again");
    /* the torn tail, a line of its own now, is a prefix of a D line: written after a delivery */
    T_EQ_INT(s.r[0].status, QS_DONE, "rcpt 0 done by the torn D, now a line");
    T_EQ_INT(s.r[0].last, 17000, "rcpt 0 from the torn line's own time");
    T_EQ_INT(s.r[3].status, QS_DEFERRED, "rcpt 3 deferred by its own line");
    T_EQ_INT(s.r[3].last, 1700000005, "rcpt 3 from its own line");
    T_EQ_INT(s.r[5].status, QS_DONE, "rcpt 5 done by its own line");
    T_EQ_INT(s.r[5].last, 1700000006, "rcpt 5 from the line after the fragment");
    T_EQ_INT(s.r[15].status, QS_PENDING, "no rcpt 15 made of a fragment and a line");
    qstate_free(&s);
    T_EQ_INT(qstate_load("/nonexistent/state", 2, &s), 0, "missing log is empty");
    T_EQ_INT(s.r[1].status, QS_PENDING, "missing log: pending");
    qstate_free(&s);
}

/* Replay rule: a recipient's last line counts, but a D line is final. The files are written
   as any writer, old or new, leaves them (mailq's F lines after queue-run's D in a race). */
struct replay_case {
    const char *name;
    const char *log;
    const char *want;           /* per recipient: '-' pending, D, F, Z */
    const char *bounced;        /* per recipient: '1' when its F is covered by a B */
    time_t last0;               /* recipient 0's last time */
    unsigned tries0;            /* recipient 0's Z lines that count */
};

static void test_replay_d_final(const char *dir)
{
    static const struct replay_case cases[] = {
        {"delete written after the delivery",
         "0 D 100 delivered (#2.0.0)\n1 Z 101 later (#4.2.0)\n"
         "0 F 102 deleted by the operator (#5.0.0)\n1 F 102 deleted by the operator (#5.0.0)\n",
         "DF", "00", 100, 0},
        {"delete written before the last delivery's D",
         "0 F 102 deleted by the operator (#5.0.0)\n0 D 103 delivered (#2.0.0)\n",
         "D-", "00", 103, 0},
        {"B covers the failed one only", "0 D 100 ok\n0 F 101 x\n1 F 101 x\nB 102\n",
         "DF", "01", 100, 0},
        {"Z lines after D do not count", "0 Z 99 a\n0 D 100 ok\n0 Z 105 b\n0 D 106 again\n",
         "D-", "00", 100, 1},
        {"without D the last line counts", "0 Z 1 a\n0 Z 2 b\n0 F 3 c\n1 F 4 d\n1 Z 5 e\n",
         "FZ", "00", 3, 2},
        {"a torn D is no D", "0 Z 1 a\n1 D 2 ok\n0 D 17", "ZD", "00", 1, 1},
    };
    char path[512];
    size_t k, i;

    snprintf(path, sizeof path, "%s/replay", dir);
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct replay_case *c = &cases[k];
        static const char letter[] = {'-', 'D', 'F', 'Z'};
        struct qstate s;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        T_CHECK(fd >= 0 && write(fd, c->log, strlen(c->log)) == (ssize_t)strlen(c->log),
                "%s: write the log", c->name);
        close(fd);
        if (qstate_load(path, 2, &s) < 0) {
            T_CHECK(0, "%s: load", c->name);
            continue;
        }
        for (i = 0; i < 2; i++) {
            char got = letter[s.r[i].status];
            T_CHECK(got == c->want[i], "%s: rcpt %zu status (got %c, want %c)", c->name, i, got,
                    c->want[i]);
            T_CHECK(s.r[i].bounced == (c->bounced[i] == '1'), "%s: rcpt %zu bounced %d",
                    c->name, i, s.r[i].bounced);
        }
        T_CHECK(s.r[0].last == c->last0 && s.r[0].tries == c->tries0,
                "%s: rcpt 0 last %lld tries %u", c->name, (long long)s.r[0].last, s.r[0].tries);
        qstate_free(&s);
    }
}

/* Lines that record no attempt (qline_attempt): not counted as tries, not the last try's time */
static void test_no_attempt(const char *dir)
{
    static const struct {
        const char *name, *log;
        unsigned tries;
        time_t tried, last;
        int held;       /* enum qline_why of a last Z that is no attempt (sched.c writes the
                           next one with the same reason no more) */
    } cases[] = {
        {"map unreadable after a try", "0 Z 10 h [1.2.3.4] said: 451 later\n"
         "0 Z 13 " QUEUE_MAP_UNREADABLE "\n0 Z 16 " QUEUE_MAP_UNREADABLE "\n", 1, 10, 16,
         QW_MAP_UNREADABLE},
        {"held while the domain moves", "0 Z 20 " QUEUE_MOVING "\n", 0, 0, 20, QW_MOVING},
        {"deleted after two tries", "0 Z 1 a\n0 Z 2 b\n0 F 9 " QUEUE_DELETED "\n", 2, 2, 9, 0},
        {"expired while the map was unreadable", "0 Z 5 a\n0 F 8 message expired after 5 days in "
         "the queue; last error: " QUEUE_MAP_UNREADABLE " (#4.4.7)\n", 1, 5, 8, 0},
        {"expired after a try", "0 Z 5 a\n0 F 8 message expired after 5 days in the queue; "
         "last error: h [1.2.3.4] said: 451 later (#4.4.7)\n", 1, 8, 8, 0},
        {"expired waiting for its destination", "0 F 8 " QUEUE_EXPIRED_DOWN "message expired "
         "after 5 days in the queue; last error: refused (#4.4.7)\n", 0, 0, 8, 0},
        {"the text only at the start counts", "0 Z 7 x " QUEUE_MOVING "\n", 1, 7, 7, 0},
        {"deliver could not read the home", "0 Z 3 a\n0 Z 6 " QUEUE_HOME_UNREADABLE "\n", 1, 3, 6,
         QW_HOME_UNREADABLE},
        {"homed on another node meanwhile", "0 Z 4 " QUEUE_HOMED_ELSEWHERE "\n", 0, 0, 4,
         QW_HOMED_ELSEWHERE},
        {"another reason after one", "0 Z 4 " QUEUE_UNREACHABLE_LOCAL "deliver.sock: x (#4.3.0)\n"
         "0 Z 6 " QUEUE_MAP_UNREADABLE "\n", 0, 0, 6, QW_MAP_UNREADABLE},
        {"a try after a held line", "0 Z 4 " QUEUE_MOVING "\n0 Z 9 h [1.2.3.4] said: 451 x\n", 1,
         9, 9, 0},
        {"deliver's service down", "0 Z 2 " QUEUE_UNREACHABLE_LOCAL "deliver.sock: Connection "
         "refused (#4.3.0)\n0 Z 5 " QUEUE_UNREACHABLE_REMOTE "remote.sock: No such file or "
         "directory (#4.3.0)\n", 0, 0, 5, QW_UNREACHABLE_REMOTE},
    };
    char path[512];
    size_t k;

    snprintf(path, sizeof path, "%s/attempts", dir);
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct qstate s;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        size_t n = strlen(cases[k].log);
        T_CHECK(fd >= 0 && write(fd, cases[k].log, n) == (ssize_t)n, "%s: write", cases[k].name);
        close(fd);
        if (qstate_load(path, 1, &s) < 0) {
            T_CHECK(0, "%s: load", cases[k].name);
            continue;
        }
        T_CHECK(s.r[0].tries == cases[k].tries && s.r[0].tried == cases[k].tried
                && s.r[0].last == cases[k].last && s.r[0].held == cases[k].held,
                "%s: tries %u tried %lld last %lld held %d", cases[k].name, s.r[0].tries,
                (long long)s.r[0].tried, (long long)s.r[0].last, s.r[0].held);
        qstate_free(&s);
    }
}

static void test_format_line(void)
{
    char out[QUEUE_STATE_LINE_MAX];
    char big[3000];
    struct qline l, p;
    size_t n;

    memset(big, 'x', sizeof big);
    big[5] = '\n';
    big[6] = '\0';
    memset(&l, 0, sizeof l);
    l.kind = QL_RCPT;
    l.index = 12;
    l.status = 'D';
    l.when = 5;
    l.text = big;
    l.text_len = sizeof big;
    n = qstate_format(out, sizeof out, &l);
    T_CHECK(n > 0 && n < QUEUE_STATE_LINE_MAX, "long text cut to the line bound (%zu)", n);
    T_CHECK(out[n - 1] == '\n' && memchr(out, '\n', n) == out + n - 1, "one line only");
    T_EQ_INT(qstate_parse_line(out, n - 1, &p), 0, "formatted line parses");
    T_EQ_INT(p.index, 12, "index kept");
    T_CHECK(p.text[5] == '_' && p.text[6] == '_', "controls replaced");
    T_EQ_INT(qstate_parse_line("1 Q 5 x", 7, &p), -1, "unknown status");
    T_EQ_INT(qstate_parse_line("B x", 3, &p), -1, "bad B time");
    T_EQ_INT(qstate_parse_line("W 17", 4, &p), 0, "W line");
    T_EQ_INT(p.kind, QL_WARNED, "W kind");
    T_EQ_INT(qstate_parse_line("123456 D 5 x", 12, &p), -1, "index too long");
}

/* One commit followed through its files in order: longer than a screen because each check
   reads what the one before left. */
static void test_commit(const char *dir)
{
    char root[512], path[600], id[QID_BUF], buf[256];
    struct qenv e, d;
    struct stat st;
    off_t body;
    int fd, spill;
    ssize_t n;

    snprintf(root, sizeof root, "%s/root", dir);
    mkdir(root, 0700);
    T_EQ_INT(qfile_setup(root), 0, "setup");
    snprintf(path, sizeof path, "%s/queue/trigger", root);
    T_CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "trigger is a FIFO");
    T_EQ_INT(qtrigger_send(root, "F\n", 2), 0, "trigger without reader is fine");

    qenv_init(&e);
    qenv_add_rcpt(&e, "x@y.z", 5);
    snprintf(path, sizeof path, "%s/spill", dir);
    spill = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(spill, "second part\n", 12);
    lseek(spill, 0, SEEK_SET);
    T_EQ_INT(qfile_commit(root, &e, "first part\n", 11, spill, id), 0, "commit");
    close(spill);
    T_EQ_INT(qid_ok(id), 1, "commit gives an id");
    snprintf(path, sizeof path, "%s/queue/mess/%s", root, id);
    fd = open(path, O_RDONLY);
    T_CHECK(fd >= 0, "mess/ID exists");
    qenv_init(&d);
    T_EQ_INT(qfile_read_header(fd, &d, &body), 0, "read header back");
    T_EQ_STR(d.sender, "", "null sender back");
    T_EQ_STR(d.rcpt[0], "x@y.z", "rcpt back");
    n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    T_EQ_STR(buf, "first part\nsecond part\n", "message after the header");
    close(fd);
    snprintf(path, sizeof path, "%s/queue/tmp", root);
    T_CHECK(rmdir(path) == 0, "tmp/ is empty after the commit");
    mkdir(path, 0700);
    /* a message delivered and removed within the same second: the next one usually gets the
       freed inode, and must still get an ID of its own (the logs trace a message by it) */
    {
        char first[QID_BUF];
        struct stat st1, st2;
        int k, reused = 0, distinct = 1;
        for (k = 0; k < 20; k++) {
            T_EQ_INT(qfile_commit(root, &e, "a\n", 2, -1, first), 0, "commit a");
            snprintf(path, sizeof path, "%s/queue/mess/%s", root, first);
            stat(path, &st1);
            unlink(path);
            T_EQ_INT(qfile_commit(root, &e, "b\n", 2, -1, id), 0, "commit b");
            snprintf(path, sizeof path, "%s/queue/mess/%s", root, id);
            stat(path, &st2);
            unlink(path);
            reused += st1.st_ino == st2.st_ino;
            distinct &= strcmp(first, id) != 0;
        }
        T_CHECK(distinct, "a removed message's ID is not given to the next one (inode reused %d of 20 times)",
                reused);
        snprintf(path, sizeof path, "%s/queue/tmp", root);
    }
    /* a bad envelope commits nothing */
    qenv_free(&d);
    qenv_init(&d);
    T_EQ_INT(qfile_commit(root, &d, "x", 1, -1, id), -1, "no recipient: refused");
    T_CHECK(rmdir(path) == 0, "tmp/ still empty");
    qenv_free(&e);
    qenv_free(&d);
}

int main(void)
{
    char dir[] = "/tmp/test_qfile.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_envelope();
    test_envelope_bounds();
    test_header_roundtrip();
    test_ids();
    test_state_log(dir);
    test_replay_d_final(dir);
    test_no_attempt(dir);
    test_format_line();
    test_commit(dir);
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", dir);
        }
    }
    return T_DONE();
}

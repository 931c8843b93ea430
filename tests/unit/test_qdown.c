/* test_qdown: the destinations down in queue/down: parsing, formatting, save and load
   (queue/qdown.c) */
#include "t.h"
#include "queue/qdown.h"
#include "queue/qfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1764355200

struct parse_case {
    const char *name;
    const char *p;
    size_t n;           /* 0: strlen(p) */
    int want;           /* 0 ok, -1 malformed */
    size_t count;       /* marks kept when ok */
};

static void test_parse(void)
{
    static const struct parse_case cases[] = {
        {"version only", "D1\n", 0, 0, 0},
        {"one mark", "D1\nx.test 1764355000 1764355260 3 a [1.2.3.4]: refused (#4.4.1)\n", 0, 0,
         1},
        {"empty reason", "D1\nx.test 1 1764355260 1 \n", 0, 0, 1},
        {"two marks", "D1\na.test 1 1764355260 1 r\nb.test 2 1764355260 2 s\n", 0, 0, 2},
        {"due a moment ago kept", "D1\nx.test 1 1764355100 2 r\n", 0, 0, 1},
        {"stale dropped", "D1\nx.test 1 1764351600 2 r\ny.test 1 1764355201 1 r\n", 0, 0, 1},
        {"empty file", "", 0, -1, 0},
        {"no version", "x.test 1 2 1 r\n", 0, -1, 0},
        {"other version", "D2\nx.test 1 1764355260 1 r\n", 0, -1, 0},
        {"version without LF", "D1", 0, -1, 0},
        {"no final LF", "D1\nx.test 1 1764355260 1 r", 0, -1, 0},
        {"no reason field", "D1\nx.test 1 1764355260 1\n", 0, -1, 0},
        {"rounds 0", "D1\nx.test 1 1764355260 0 r\n", 0, -1, 0},
        {"since after until", "D1\nx.test 1764355261 1764355260 1 r\n", 0, -1, 0},
        {"negative time", "D1\nx.test -1 1764355260 1 r\n", 0, -1, 0},
        {"time overflow", "D1\nx.test 1 99999999999999999999 1 r\n", 0, -1, 0},
        {"rounds overflow", "D1\nx.test 1 1764355260 4294967296 r\n", 0, -1, 0},
        {"two spaces", "D1\nx.test  1 1764355260 1 r\n", 0, -1, 0},
        {"empty domain", "D1\n 1 1764355260 1 r\n", 0, -1, 0},
        {"domain twice", "D1\nx.test 1 1764355260 1 r\nx.test 1 1764355260 1 r\n", 0, -1, 0},
        {"domain twice, one stale", "D1\nx.test 1 1 1 r\nx.test 1 1764355260 1 r\n", 0, -1, 0},
        {"domain twice in two cases", "D1\nx.test 1 1764355260 1 r\nX.Test 1 1764355260 1 r\n", 0,
         -1, 0},
        {"NUL in reason", "D1\nx.test 1 1764355260 1 a\0b\n", 29, -1, 0},
        {"CR in reason", "D1\nx.test 1 1764355260 1 a\rb\n", 0, -1, 0},
        {"tab in domain", "D1\nx\ttest 1 1764355260 1 r\n", 0, -1, 0},
        {"empty line", "D1\n\n", 0, -1, 0},
        {"zeros (a power cut)", "\0\0\0\0\0\0", 6, -1, 0},
    };
    static const char one[] = "D1\nx.test 1764355000 1764355260 3 a b (#4.4.1)\n";
    static const char two[] = "D1\ny.test 1 1764351600 2 r\nz.test 1 1764355300 1 q\n";
    struct qdown d[4];
    size_t i, count;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].p);
        int r = qdown_parse(cases[i].p, n, NOW, d, 4, &count);
        T_EQ_INT(r, cases[i].want, cases[i].name);
        T_EQ_INT(count, cases[i].count, cases[i].name);
    }
    T_EQ_INT(qdown_parse(one, sizeof one - 1, NOW, d, 4, &count), 0, "fields");
    T_EQ_STR(d[0].domain, "x.test", "domain");
    T_EQ_INT(d[0].since, 1764355000, "since");
    T_EQ_INT(d[0].until, 1764355260, "until");
    T_EQ_INT(d[0].rounds, 3, "rounds");
    T_EQ_STR(d[0].why, "a b (#4.4.1)", "reason keeps its spaces");
    T_EQ_INT(qdown_parse(two, sizeof two - 1, NOW, d, 4, &count), 0, "stale first");
    T_CHECK(count == 1 && strcmp(d[0].domain, "z.test") == 0, "the mark after a stale one kept");
    /* RFC 5321 §2.4: one destination whatever the case of its name */
    T_EQ_INT(qdown_find(d, count, "Z.TEST"), 0, "found in another case");
    T_EQ_INT(qdown_find(d, count, "z.test."), 1, "another name is not found");
}

static void test_no_server(void)
{
    static const struct {
        const char *text;
        int want;
    } cases[] = {
        {"127.0.0.1 [127.0.0.1]: cannot connect to port 25: Connection refused (#4.4.1)", 1},
        {"no mail server of x.test answered (#4.4.1)", 1},
        {"(#4.4.1)", 1},
        {"mx.x.test [192.0.2.1] said: 421 4.4.1 no route to the next hop (#4.4.1)", 0},
        {"mx.x.test [192.0.2.1] said: 451 4.7.1 greylisted (#4.7.1)", 0},
        {"temporary DNS failure for x.test (#4.4.3)", 0},
        {"cannot connect (#4.4.1) then something", 0},
        {"remote delivery killed by signal 9 without a result (#4.3.0)", 0},
        {"#4.4.1)", 0},
        {"", 0},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(qdown_no_server(cases[i].text, strlen(cases[i].text)), cases[i].want,
                 cases[i].text);
    }
}

static void test_bounds(void)
{
    char line[QDOWN_LINE_MAX + 2], dom[SMTP_DOMAIN_MAX + 2], why[QDOWN_WHY_MAX + 2];
    struct qdown d[3];
    size_t count;
    int n;

    memset(dom, 'a', sizeof dom - 1);
    dom[SMTP_DOMAIN_MAX] = '\0';
    memset(why, 'w', sizeof why - 1);
    why[QDOWN_WHY_MAX] = '\0';
    n = snprintf(line, sizeof line, "D1\n%s 1 1764355260 1 %s\n", dom, why);
    T_EQ_INT(qdown_parse(line, (size_t)n, NOW, d, 3, &count), 0, "longest domain and reason");
    T_EQ_INT(strlen(d[0].why), QDOWN_WHY_MAX, "longest reason kept whole");
    dom[SMTP_DOMAIN_MAX] = 'a';
    dom[SMTP_DOMAIN_MAX + 1] = '\0';
    n = snprintf(line, sizeof line, "D1\n%s 1 1764355260 1 r\n", dom);
    T_EQ_INT(qdown_parse(line, (size_t)n, NOW, d, 3, &count), -1, "domain over 255 octets");
    why[QDOWN_WHY_MAX] = 'w';
    why[QDOWN_WHY_MAX + 1] = '\0';
    n = snprintf(line, sizeof line, "D1\nx 1 1764355260 1 %s\n", why);
    T_EQ_INT(qdown_parse(line, (size_t)n, NOW, d, 3, &count), -1, "reason over the bound");
    n = snprintf(line, sizeof line, "D1\na 1 1764355260 1 r\nb 1 1764355260 1 r\n"
                 "c 1 1764355260 1 r\n");
    T_EQ_INT(qdown_parse(line, (size_t)n, NOW, d, 2, &count), -1, "more lines than max");
    T_EQ_INT(qdown_parse(line, (size_t)n, NOW, d, 3, &count), 0, "as many lines as max");
    T_EQ_INT(count, 3, "as many lines as max: count");
}

static void test_format(void)
{
    static const char why[] = "h [1.2.3.4]: cannot\r\nconnect (#4.4.1)";
    struct qdown in[3], out[3];
    char buf[QDOWN_FILE_MAX];
    size_t n, count;

    memset(in, 0, sizeof in);
    snprintf(in[0].domain, sizeof in[0].domain, "down.test");
    in[0].since = NOW - 100;
    in[0].until = NOW + 60;
    in[0].rounds = 2;
    qdown_set_why(&in[0], why, strlen(why));
    snprintf(in[1].domain, sizeof in[1].domain, "bad domain");    /* a space: left out */
    in[1].until = NOW + 60;
    in[1].rounds = 1;
    snprintf(in[2].domain, sizeof in[2].domain, "other.test");
    in[2].since = NOW;
    in[2].until = NOW + 300;
    in[2].rounds = 1;
    n = qdown_format(in, 3, buf, sizeof buf);
    T_EQ_STR(buf, "D1\ndown.test 1764355100 1764355260 2 h [1.2.3.4]: cannot__connect (#4.4.1)\n"
             "other.test 1764355200 1764355500 1 \n", "format");
    T_EQ_INT(qdown_parse(buf, n, NOW, out, 3, &count), 0, "formatted parses");
    T_EQ_INT(count, 2, "formatted parses: count");
    T_EQ_STR(out[0].why, in[0].why, "reason round-trips");
    T_EQ_INT(qdown_format(in, 1, buf, 20), 3, "a cap too small keeps the version line only");
}

/* A reason longer than a mark holds is cut, and keeps the status code it ends with: the
   notices of the mail that waits for the mark read it (Status: 4.4.1, not 4.0.0). */
static void test_why_cut(void)
{
    char text[QDOWN_WHY_MAX + 200], want[QDOWN_WHY_MAX + 1];
    struct qdown d;
    size_t n, head;

    memset(text, 'a', sizeof text);
    memcpy(text, "mx [1.2.3.4]: cannot connect", 28);
    text[40] = '\n';
    n = sizeof text;
    memcpy(text + n - 8, "(#4.4.1)", 8);
    qdown_set_why(&d, text, n);
    T_EQ_INT(strlen(d.why), QDOWN_WHY_MAX, "cut at QDOWN_WHY_MAX");
    head = QDOWN_WHY_MAX - 12;
    memcpy(want, text, head);
    want[40] = '_';
    memcpy(want + head, "... (#4.4.1)", 12);
    want[QDOWN_WHY_MAX] = '\0';
    T_EQ_STR(d.why, want, "the head, then the status code");

    memcpy(text + n - 8, "(4.4.1)", 7);     /* no code: the head only */
    text[n - 1] = ')';
    qdown_set_why(&d, text, n);
    T_EQ_INT(strlen(d.why), QDOWN_WHY_MAX, "without a code: cut at QDOWN_WHY_MAX");
    T_CHECK(memcmp(d.why, want, head) == 0 && d.why[QDOWN_WHY_MAX - 1] == 'a',
            "without a code: the first QDOWN_WHY_MAX octets");

    memcpy(text + QDOWN_WHY_MAX - 8, "(#4.4.1)", 8);    /* a text that fits: as it is */
    qdown_set_why(&d, text, QDOWN_WHY_MAX);
    T_CHECK(strlen(d.why) == QDOWN_WHY_MAX && memcmp(d.why + QDOWN_WHY_MAX - 12, "aaaa(#4.4.1)",
                                                     12) == 0, "a text that fits is not cut");
}

static void test_save_load(const char *root)
{
    struct qdown d[QUEUE_DOWN_MAX], got[QUEUE_DOWN_MAX];
    char path[600];
    struct stat st;
    size_t k, count = 99;
    FILE *f;

    T_EQ_INT(qfile_setup(root), 0, "setup");
    T_EQ_INT(qdown_load(root, NOW, got, &count), 0, "missing file: no marks");
    T_EQ_INT(count, 0, "missing file: count");
    memset(d, 0, sizeof d);
    for (k = 0; k < QUEUE_DOWN_MAX; k++) {
        snprintf(d[k].domain, sizeof d[k].domain, "d%zu.test", k);
        d[k].since = NOW;
        d[k].until = NOW + 60;
        d[k].rounds = 1;
        memset(d[k].why, 'x', QDOWN_WHY_MAX);
    }
    memset(d[0].domain, 'a', SMTP_DOMAIN_MAX);
    T_EQ_INT(qdown_save(root, d, QUEUE_DOWN_MAX), 0, "save the most");
    snprintf(path, sizeof path, "%s/queue/down", root);
    T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "queue/down is 0600");
    T_CHECK((size_t)st.st_size <= QDOWN_FILE_MAX, "within QDOWN_FILE_MAX");
    snprintf(path, sizeof path, "%s/queue/tmp/down", root);
    T_CHECK(access(path, F_OK) < 0 && errno == ENOENT, "no temporary left");
    T_EQ_INT(qdown_load(root, NOW, got, &count), 0, "load the most");
    T_EQ_INT(count, QUEUE_DOWN_MAX, "load the most: count");
    T_CHECK(memcmp(got[0].domain, d[0].domain, sizeof d[0].domain) == 0, "domain back");
    T_EQ_INT(qdown_load(root, NOW + 60 + QDOWN_STALE, got, &count), 0, "all stale");
    T_EQ_INT(count, 0, "all stale: count");
    T_EQ_INT(qdown_save(root, d, 0), 0, "save none");
    snprintf(path, sizeof path, "%s/queue/down", root);
    T_CHECK(access(path, F_OK) < 0 && errno == ENOENT, "none: the file is removed");
    T_EQ_INT(qdown_save(root, d, 0), 0, "save none again");
    f = fopen(path, "w");
    if (f) {
        fputs("D1\nx.test 1 1764355260 1 r\nhalf", f);
        fclose(f);
    }
    count = 99;
    T_EQ_INT(qdown_load(root, NOW, got, &count), -1, "malformed file");
    T_EQ_INT(errno, EINVAL, "malformed file: EINVAL");
    T_EQ_INT(count, 0, "malformed file: no marks");
    f = fopen(path, "w");
    if (f) {
        for (k = 0; k <= QDOWN_FILE_MAX; k++) {
            fputc('x', f);
        }
        fclose(f);
    }
    T_EQ_INT(qdown_load(root, NOW, got, &count), -1, "file over QDOWN_FILE_MAX");
    T_EQ_INT(errno, EFBIG, "file over QDOWN_FILE_MAX: EFBIG");
}

int main(void)
{
    char dir[] = "/tmp/test_qdown.XXXXXX";
    char cmd[600];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_parse();
    test_no_server();
    test_bounds();
    test_format();
    test_why_cut();
    test_save_load(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", dir);
    }
    return T_DONE();
}

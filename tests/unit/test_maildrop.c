/* test_maildrop: POP3 sizes, the byte-stuffed wire form, TOP, UIDLs, scanning a Maildir,
   the size cache and UPDATE */
#include "t.h"
#include "pop3d/maildrop.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The wire form of in, fed in pieces of `step` octets, with the end marker. */
static size_t wire(const char *in, size_t n, size_t step, int top, unsigned long lines,
                   char *out, uint64_t *stuffed)
{
    struct maildrop_stuff st;
    size_t off = 0, o = 0;
    maildrop_stuff_init(&st, top, lines);
    while (off < n && !st.done) {
        size_t k = n - off < step ? n - off : step, used;
        o += maildrop_stuff(&st, in + off, k, out + o, &used);
        off += used;
        if (used < k) {
            break;
        }
    }
    o += maildrop_stuff_end(&st, out + o);
    out[o] = '\0';
    *stuffed = st.stuffed;
    return o;
}

static uint64_t size_of(const char *in, size_t n, size_t step)
{
    struct maildrop_count c;
    size_t off;
    maildrop_count_init(&c);
    for (off = 0; off < n; off += step) {
        maildrop_count_add(&c, in + off, n - off < step ? n - off : step);
    }
    return maildrop_count_total(&c);
}

struct wcase {
    const char *in;
    const char *want;       /* wire form including ".\r\n" */
};

static const struct wcase wcases[] = {
    {"", ".\r\n"},
    {"a\n", "a\r\n.\r\n"},
    {"a", "a\r\n.\r\n"},
    {"a\r\nb\n", "a\r\nb\r\n.\r\n"},
    {".\n", "..\r\n.\r\n"},
    {"x\n.hidden\n..two\n", "x\r\n..hidden\r\n...two\r\n.\r\n"},
    {"\n\n", "\r\n\r\n.\r\n"},
    {"a\rb\n", "a\rb\r\n.\r\n"},
    {"end\r", "end\r\r\n.\r\n"},
    {"\xe6\x97\xa5\xff\x00z\n", "\xe6\x97\xa5\xff\x00z\r\n.\r\n"},
    {".", "..\r\n.\r\n"},
};

static void test_wire(void)
{
    char out[256];
    size_t i, step;
    for (i = 0; i < sizeof wcases / sizeof wcases[0]; i++) {
        /* the 0xff/0x00 case holds a NUL: use the known length */
        size_t n = (i == 9) ? 7 : strlen(wcases[i].in);
        size_t wn = (i == 9) ? 11 : strlen(wcases[i].want);
        for (step = 1; step <= 4; step++) {
            uint64_t stuffed;
            size_t o = wire(wcases[i].in, n, step, 0, 0, out, &stuffed);
            T_CHECK(o == wn && memcmp(out, wcases[i].want, wn) == 0,
                    "wire form of case %zu in %zu-octet pieces", i, step);
            T_CHECK(size_of(wcases[i].in, n, step) == o - 3 - stuffed,
                    "size of case %zu = octets sent minus stuffing and \".\" (step %zu)", i,
                    step);
        }
    }
}

static void test_top(void)
{
    static const char msg[] = "From: a\nSubject: b\n\nline1\n.dot\nline3\n";
    static const char crlf[] = "From: a\r\nSubject: b\r\n\r\nline1\r\nline2\r\n";
    char out[256];
    uint64_t stuffed;
    size_t step;
    for (step = 1; step <= 64; step *= 4) {
        wire(msg, sizeof msg - 1, step, 1, 0, out, &stuffed);
        T_CHECK(strcmp(out, "From: a\r\nSubject: b\r\n\r\n.\r\n")
                == 0, "TOP n 0: header and blank line");
        wire(msg, sizeof msg - 1, step, 1, 2, out, &stuffed);
        T_CHECK(strcmp(out, "From: a\r\nSubject: b\r\n\r\nline1\r\n..dot\r\n.\r\n")
                == 0, "TOP n 2");
        wire(msg, sizeof msg - 1, step, 1, 99, out, &stuffed);
        T_CHECK(strcmp(out, "From: a\r\nSubject: b\r\n\r\nline1\r\n..dot\r\nline3\r\n.\r\n")
                == 0, "TOP n 99: whole message");
        wire(crlf, sizeof crlf - 1, step, 1, 1, out, &stuffed);
        T_CHECK(strcmp(out, "From: a\r\nSubject: b\r\n\r\nline1\r\n.\r\n")
                == 0, "TOP on a CRLF file");
        wire("H: 1\nH: 2", 9, step, 1, 0, out, &stuffed);
        T_CHECK(strcmp(out, "H: 1\r\nH: 2\r\n.\r\n") == 0, "TOP on headers without a body");
    }
}

static void test_tags(void)
{
    uint64_t v = 0;
    const char *n1 = "1764355200.M1P2.host,S=4096,W=4180:2,S";
    T_CHECK(maildrop_name_tag(n1, strlen(n1), 'S', &v) == 1 && v == 4096, ",S= found");
    T_CHECK(maildrop_name_tag(n1, strlen(n1), 'W', &v) == 1 && v == 4180, ",W= found");
    T_CHECK(maildrop_name_tag("1.2.host:2,S", 12, 'S', &v) == 0, "flag S after ':' is not a size");
    T_CHECK(maildrop_name_tag("1.2.host,S=", 11, 'S', &v) == 0, "empty ,S=");
    T_CHECK(maildrop_name_tag("1.2.host,S=12x", 14, 'S', &v) == 0, "junk after ,S=");
    T_CHECK(maildrop_name_tag("1.2.host,S=99999999999999999999999", 34, 'S', &v) == 0,
            "overflowing ,S=");
}

/* ---- a real Maildir in /tmp ---- */

static void put(const char *dir, const char *sub, const char *name, const char *data, size_t n)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *rel)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return stat(path, &st) == 0;
}

static void test_scan(void)
{
    char tmpl[] = "/tmp/test_maildrop.XXXXXX", path[512], uid[MAILDROP_UIDL_MAX + 1];
    char longname[200];
    struct maildrop md;
    const char *dir = mkdtemp(tmpl);
    uint64_t bytes, count;
    size_t failed;
    int fd;

    if (!dir) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/new", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/cur", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/tmp", dir);
    mkdir(path, 0700);
    put(dir, "new", "1700000002.M1P1.host", "b\nb\n", 4);              /* size 6 */
    put(dir, "cur", "1700000001.M1P1.host:2,S", "a\r\n", 3);           /* size 3 */
    put(dir, "new", "1700000003.M1P1.host,S=1,W=77", "c", 1);          /* size from W: 77 */
    put(dir, "new", ".hidden", "x", 1);
    memset(longname, 'n', sizeof longname);
    memcpy(longname, "1700000004.", 11);
    longname[100] = '\0';
    put(dir, "new", longname, "", 0);                                  /* size 0 */
    put(dir, "cur", "999999999.M1P1.host:2,", "old\n", 4);            /* older: 9 digits */

    fd = open(dir, O_RDONLY | O_DIRECTORY);
    T_CHECK(maildrop_scan(&md, fd, MAILDROP_MSGS_MAX) == 0, "scan");
    T_EQ_INT(md.n, 5, "five messages (dot files skipped)");
    T_EQ_INT(md.moved, 3, "three moved from new/");
    T_CHECK(exists(dir, "cur/1700000002.M1P1.host:2,"), "new/X became cur/X:2,");
    T_CHECK(!exists(dir, "new/1700000002.M1P1.host"), "new/X is gone");
    T_CHECK(exists(dir, "new/.hidden"), "dot file left alone");
    if (md.n == 5) {
        T_CHECK(strncmp(md.msg[0].path, "cur/999999999.", 14) == 0, "sorted by time: 999999999");
        snprintf(path, sizeof path, "%s/cur/999999999.M1P1.host:2,", dir);
        unlink(path);
        memmove(&md.msg[0], &md.msg[1], 4 * sizeof md.msg[0]);
        md.n = 4;
        T_CHECK(strncmp(md.msg[0].path, "cur/1700000001", 14) == 0, "sorted by time: 1st");
        T_CHECK(strncmp(md.msg[3].path + 4, "1700000004", 10) == 0, "sorted by time: 4th");
        maildrop_uidl(&md, 0, uid);
        T_EQ_STR(uid, "1700000001.M1P1.host", "UIDL = unique name before ':'");
        maildrop_uidl(&md, 3, uid);
        T_CHECK(uid[0] == 'h' && strlen(uid) == 33, "long name: hashed UIDL (%s)", uid);
        T_CHECK(maildrop_sizes(&md) == 0, "sizes");
        T_EQ_INT(md.msg[0].size, 3, "CRLF file size unchanged");
        T_EQ_INT(md.msg[1].size, 6, "LF file: one CR per line");
        T_EQ_INT(md.msg[2].size, 77, ",W= trusted");
        T_EQ_INT(md.msg[3].size, 0, "empty file");
        T_EQ_INT(md.computed, 3, "three files read");
        T_CHECK(exists(dir, MAILDROP_CACHE_NAME), "size cache written");
        md.msg[1].deleted = 1;
        md.msg[3].deleted = 1;
        maildrop_update(&md, &bytes, &count, &failed);
        T_EQ_INT(count, 2, "two removed");
        T_EQ_INT(bytes, 4, "file octets removed (4 + 0)");
        T_EQ_INT(failed, 0, "nothing failed");
        T_CHECK(!exists(dir, "cur/1700000002.M1P1.host:2,"), "deleted file unlinked");
        T_CHECK(exists(dir, "cur/1700000001.M1P1.host:2,S"), "kept file stays");
    }
    maildrop_free(&md);

    /* second session: sizes from the cache, nothing read */
    put(dir, "new", "1700000005.M1P1.host", ".x\n", 3);
    T_CHECK(maildrop_scan(&md, fd, MAILDROP_MSGS_MAX) == 0, "rescan");
    T_EQ_INT(md.n, 3, "three messages after UPDATE and one new");
    T_CHECK(maildrop_sizes(&md) == 0, "sizes again");
    T_EQ_INT(md.computed, 1, "only the new message read; the rest from the cache");
    if (md.n == 3) {
        T_EQ_INT(md.msg[0].size, 3, "cached size");
        T_EQ_INT(md.msg[2].size, 4, "new size");
        /* a file that vanishes is gone, not an error */
        snprintf(path, sizeof path, "%s/%s", dir, md.msg[0].path);
        unlink(path);
        T_CHECK(maildrop_open(&md, 0) < 0 && md.msg[0].gone, "vanished file marked gone");
        md.msg[0].deleted = 1;
        maildrop_update(&md, &bytes, &count, &failed);
        T_EQ_INT(count, 0, "gone message not counted");
    }
    maildrop_free(&md);

    /* a malformed cache is ignored */
    snprintf(path, sizeof path, "%s/%s", dir, MAILDROP_CACHE_NAME);
    {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs("yubin-pop3-sizes 1\nzzz 1 1\nno-numbers\n", f);
            fclose(f);
        }
    }
    T_CHECK(maildrop_scan(&md, fd, MAILDROP_MSGS_MAX) == 0 && maildrop_sizes(&md) == 0, "malformed cache");
    T_EQ_INT(md.computed, 1, "malformed cache ignored: the untagged message read again");
    maildrop_free(&md);
    close(fd);
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) {
            T_CHECK(0, "cleanup");
        }
    }
}

int main(void)
{
    test_wire();
    test_top();
    test_tags();
    test_scan();
    return T_DONE();
}

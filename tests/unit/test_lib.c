/* test_lib: buf bounds, str parsing, strict base64, kv values, usage and grant files, the root,
   the plans' names */
#include "b64.h"
#include "buf.h"
#include "cdbmap.h"
#include "cfg.h"
#include "grant.h"
#include "limits.h"
#include "plan.h"
#include "str.h"
#include "usage.h"
#include "ucspi.h"
#include "t.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static void test_buf(void)
{
    struct buf b;
    buf_init(&b, 10);
    T_CHECK(buf_append(&b, "12345", 5) == 0, "append within max");
    T_CHECK(buf_append(&b, "67890", 5) == 0, "append up to max");
    errno = 0;
    T_CHECK(buf_append(&b, "x", 1) == -1 && errno == E2BIG, "append past max refused with E2BIG");
    T_EQ_INT(b.len, 10, "length unchanged after refusal");
    buf_consume(&b, 3);
    T_EQ_STR(b.s, "4567890", "consume drops the front");
    T_CHECK(buf_printf(&b, "%s", "abcd") == -1, "printf past max refused");
    T_EQ_STR(b.s, "4567890", "printf refusal leaves buffer unchanged");
    T_CHECK(buf_printf(&b, "%d", 12) == 0, "printf within max");
    T_EQ_STR(b.s, "456789012", "printf appended");
    buf_wipe(&b);
    T_CHECK(b.s == NULL && b.len == 0, "wipe frees");
    buf_init(&b, (size_t)-1);
    T_CHECK(buf_append(&b, "a", 1) == 0 && buf_append(&b, "b", (size_t)-1) == -1, "overflowing length refused");
    buf_free(&b);
}

static void test_str(void)
{
    static const struct { const char *in; int ok; unsigned long long v; } sizes[] = {
        { "20M", 1, 20971520ULL }, { "50m", 1, 52428800ULL }, { "1G", 1, 1073741824ULL },
        { "512K", 1, 524288ULL }, { "0", 1, 0 }, { "1048576", 1, 1048576ULL }, { "", 0, 0 },
        { "M", 0, 0 }, { "-1", 0, 0 }, { "20MB", 0, 0 }, { "1.5M", 0, 0 },
        { "99999999999999999999999", 0, 0 }, { "18446744073709551615", 1, 18446744073709551615ULL },
        { "18446744073709551616", 0, 0 }, { "17179869184G", 0, 0 },
    };
    size_t i;
    char out[8];
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t v = 0;
        int r = str_to_size(sizes[i].in, &v);
        T_CHECK((r == 0) == sizes[i].ok && (!sizes[i].ok || v == sizes[i].v), "size \"%s\"", sizes[i].in);
    }
    T_CHECK(str_fmt(out, sizeof out, "%s", "1234567") == 0, "fmt fits");
    T_CHECK(str_fmt(out, sizeof out, "%s", "12345678") == -1 && out[0] == '\0', "fmt refuses truncation");
    T_CHECK(str_eq_nocase("HeLo", 4, "helo"), "eq_nocase");
    T_CHECK(!str_eq_nocase("HeLo", 3, "helo"), "eq_nocase length");
    T_CHECK(str_has_ctl("a\rb", 3) && str_has_ctl("a\0b", 3) && !str_has_ctl("a b", 3), "has_ctl");
    {
        char h[32];
        str_size_human(20971520, h, sizeof h);
        T_EQ_STR(h, "20 MB", "human size");
    }
}

/* The group of a client address (authd's throttle, lib/ipslot's slots): an IPv6 host's
   whole /64, an IPv4-mapped address as the IPv4 one. */
static void test_ip_group(void)
{
    static const struct { const char *in, *want; } cases[] = {
        { "1.2.3.4", "1.2.3.4" },
        { "", "" },
        { "::ffff:1.2.3.4", "1.2.3.4" },
        { "::FFFF:192.0.2.1", "192.0.2.1" },
        { "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
        { "2001:db8:1:2::99", "2001:db8:1:2::/64" },
        { "2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF", "2001:db8:1:2::/64" },
        { "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ffff:ffff:ffff:ffff::/64" },
        { "::1", "::/64" },
        { "fe80::1:2", "fe80::/64" },
        { "not:an:ip", "not:an:ip" },
        { "1:2:3", "1:2:3" },
    };
    char out[46];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(str_ip_group(cases[i].in, out, sizeof out), 0, cases[i].in);
        T_EQ_STR(out, cases[i].want, cases[i].in);
    }
    T_EQ_INT(str_ip_group("1.2.3.4", out, 4), -1, "small buffer");
    T_EQ_INT(str_ip_group("::1", out, 5), -1, "small buffer for the /64");
    T_EQ_INT(str_ip_group("::1", out, 6), 0, "just enough");
}

static void test_b64(void)
{
    static const struct { const char *in; int ok; const char *out; size_t n; } c[] = {
        { "AGRlbW9AZXhhbXBsZS50ZXN0AHB3", 1, "\0demo@example.test\0pw", 21 },
        { "Zm9v", 1, "foo", 3 }, { "Zm8=", 1, "fo", 2 }, { "Zg==", 1, "f", 1 }, { "", 1, "", 0 },
        { "Zg=", 0, NULL, 0 }, { "Z===", 0, NULL, 0 }, { "Zm=v", 0, NULL, 0 }, { "Zm9v\n", 0, NULL, 0 },
        { "Zm 9", 0, NULL, 0 }, { "Zh==", 0, NULL, 0 }, { "Zm9=", 0, NULL, 0 }, { "Zg==Zg==", 0, NULL, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        unsigned char out[64];
        long n = b64_decode(c[i].in, strlen(c[i].in), out, sizeof out);
        if (!c[i].ok) {
            T_CHECK(n < 0, "base64 \"%s\" refused", c[i].in);
        } else {
            T_CHECK(n == (long)c[i].n && memcmp(out, c[i].out, c[i].n) == 0, "base64 \"%s\" decoded", c[i].in);
        }
    }
    {
        char enc[16];
        unsigned char small[2];
        T_CHECK(b64_encode((const unsigned char *)"fo", 2, enc, sizeof enc) == 4 && strcmp(enc, "Zm8=") == 0,
                "base64 encode");
        T_CHECK(b64_decode("Zm9v", 4, small, sizeof small) < 0, "decode into a small buffer refused");
    }
}

static void test_kv(void)
{
    char v[8];
    unsigned long long n;
    const char *val = "quota=52428800 plan=premium pop3s=1 home=mail/x/y";
    T_CHECK(cdbmap_kv_get(val, "plan", v, sizeof v) == 1 && strcmp(v, "premium") == 0, "kv plan");
    T_CHECK(cdbmap_kv_get(val, "pla", v, sizeof v) == 0, "kv prefix is not a key");
    T_CHECK(cdbmap_kv_get(val, "home", v, sizeof v) == -1, "kv value too long");
    T_CHECK(cdbmap_kv_get_u64(val, "quota", &n) == 1 && n == 52428800ULL, "kv number");
    T_CHECK(cdbmap_kv_get_u64(val, "plan", &n) == -1, "kv non-number");
    T_CHECK(cdbmap_kv_get(val, "missing", v, sizeof v) == 0, "kv missing");
}

/* One scenario in order (summaries, then grants on the same root): longer than a screen
   because each step depends on the one before. */
static void test_usage_grant(void)
{
    char dir[] = "/tmp/yubin-unit-XXXXXX", p[256];
    uint64_t b = 1, c = 1;
    T_CHECK(mkdtemp(dir) != NULL, "temp root");
    snprintf(p, sizeof p, "%s/quota", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/relay", dir);
    mkdir(p, 0755);
    T_CHECK(usage_read(dir, "a@b.example", &b, &c) == 0, "no summary yet");
    T_CHECK(usage_write(dir, "a@b.example", 1234, 5) == 0, "write summary");
    T_CHECK(usage_read(dir, "a@b.example", &b, &c) == 1 && b == 1234 && c == 5, "read summary");
    snprintf(p, sizeof p, "%s/quota/a@b.example", dir);
    {
        struct stat st1, st2;
        FILE *f;
        T_CHECK(stat(p, &st1) == 0, "summary exists");
        T_CHECK(usage_write(dir, "a@b.example", 99, 1) == 0, "rewrite smaller");
        T_CHECK(stat(p, &st2) == 0 && st2.st_ino == st1.st_ino && st2.st_size == st1.st_size,
                "rewritten in place: same file, same fixed length");
        T_CHECK(usage_read(dir, "a@b.example", &b, &c) == 1 && b == 99 && c == 1,
                "smaller value read back exactly");
        f = fopen(p, "w");
        T_CHECK(f && fputs("00000000000000001234 00000000000000000005 0000000001\n", f) >= 0
                && fclose(f) == 0, "write a torn record");
        T_CHECK(usage_read(dir, "a@b.example", &b, &c) == -1, "torn record (bad check) refused");
        f = fopen(p, "w");
        T_CHECK(f && fputs("777 3\n", f) >= 0 && fclose(f) == 0, "write an old-format summary");
        T_CHECK(usage_read(dir, "a@b.example", &b, &c) == 1 && b == 777 && c == 3,
                "old two-field summary still read");
        T_CHECK(usage_write(dir, "a@b.example", 5, 2) == 0
                && usage_read(dir, "a@b.example", &b, &c) == 1 && b == 5 && c == 2,
                "old summary rewritten in the new format");
    }
    T_CHECK(usage_write(dir, "../etc@b.example", 1, 1) == -1, "hostile address refused");
    {
        char who[ADDR_MAX + 1];
        FILE *f;
        struct utimbuf old = { 1000000000, 1000000000 };
        T_CHECK(grant_check(dir, "127.0.0.1", 600, who, sizeof who) == 0, "no grant yet");
        T_CHECK(grant_write(dir, "127.0.0.1", "alice@b.example") == 0, "grant written");
        T_CHECK(grant_check(dir, "127.0.0.1", 600, who, sizeof who) == 1
                && strcmp(who, "alice@b.example") == 0, "grant valid, bound to its account");
        T_CHECK(grant_write(dir, "127.0.0.1", "bob@b.example") == 0
                && grant_check(dir, "127.0.0.1", 600, who, sizeof who) == 1
                && strcmp(who, "bob@b.example") == 0, "a later login takes the grant over");
        snprintf(p, sizeof p, "%s/relay/127.0.0.1", dir);
        {
            /* the kernel stamps a new file from a finer clock than time() reads: its
               second can be one ahead (about 1 write in 200 here); more is the future */
            struct utimbuf next = { time(NULL) + 1, time(NULL) + 1 };
            struct utimbuf later = { time(NULL) + 5, time(NULL) + 5 };
            T_CHECK(utime(p, &next) == 0
                    && grant_check(dir, "127.0.0.1", 600, who, sizeof who) == 1,
                    "a grant stamped one second ahead is valid");
            T_CHECK(utime(p, &later) == 0
                    && grant_check(dir, "127.0.0.1", 600, who, sizeof who) == 0,
                    "a grant from the future is absent");
            T_CHECK(utime(p, NULL) == 0, "back to now");
        }
        T_CHECK(grant_check(dir, "127.0.0.1", 600, who, 5) == -1, "account longer than cap");
        T_CHECK(grant_check(dir, "127.0.0.2", 600, who, sizeof who) == 0, "grant is per IP");
        T_CHECK(grant_write(dir, "../../x", "alice@b.example") == -1, "hostile IP refused");
        T_CHECK(grant_write(dir, "127.0.0.1", "../x@b.example") == -1
                && grant_write(dir, "127.0.0.1", "Alice@b.example") == -1
                && grant_write(dir, "127.0.0.1", "a@b.example\nx@y.example") == -1,
                "only a map address is recorded");
        snprintf(p, sizeof p, "%s/relay/127.0.0.3", dir);
        f = fopen(p, "w");
        T_CHECK(f && fclose(f) == 0, "a grant without an account (older format)");
        T_CHECK(grant_check(dir, "127.0.0.3", 600, who, sizeof who) == -1, "is refused");
        T_CHECK(utime(p, &old) == 0
                && grant_check(dir, "127.0.0.3", 600, who, sizeof who) == 0,
                "an expired grant is absent whatever it holds");
        f = fopen(p, "w");
        T_CHECK(f && fputs("a@b.example\nc@d.example\n", f) >= 0 && fclose(f) == 0,
                "a record with two lines");
        T_CHECK(grant_check(dir, "127.0.0.3", 600, who, sizeof who) == -1, "is refused");
        /* the sweep: expired grants and stale temporary files go, fresh ones and other
           names stay, and a second sweep within the interval does nothing */
        snprintf(p, sizeof p, "%s/relay/127.0.0.3", dir);
        T_CHECK(utime(p, &old) == 0, "127.0.0.3 expired");
        snprintf(p, sizeof p, "%s/relay/127.0.0.4.99.tmp", dir);
        f = fopen(p, "w");
        T_CHECK(f && fclose(f) == 0 && utime(p, &old) == 0, "a stale temporary file");
        snprintf(p, sizeof p, "%s/relay/notes", dir);
        f = fopen(p, "w");
        T_CHECK(f && fclose(f) == 0 && utime(p, &old) == 0, "a file of another kind");
        T_CHECK(grant_sweep(dir, 600) == 2, "two removed");
        T_CHECK(grant_check(dir, "127.0.0.1", 600, who, sizeof who) == 1, "the fresh one stays");
        T_CHECK(access(p, F_OK) == 0, "other names stay");
        snprintf(p, sizeof p, "%s/relay/127.0.0.3", dir);
        f = fopen(p, "w");
        T_CHECK(f && fclose(f) == 0 && utime(p, &old) == 0, "expired again");
        T_CHECK(grant_sweep(dir, 600) == 0 && access(p, F_OK) == 0, "not twice in a minute");
    }
    snprintf(p, sizeof p, "rm -rf %s", dir);
    T_CHECK(system(p) == 0, "cleanup");
}

/* cfg_root_find: --root first, then an absolute $YUBIN_ROOT; the record beside the program
   (none beside the unit test binaries) last; a root that does not fit is an error. */
static void test_root_find(void)
{
    char out[64];
    T_CHECK(setenv("YUBIN_ROOT", "/srv/env-root", 1) == 0, "setenv");
    T_CHECK(cfg_root_find(out, sizeof out, "/srv/given") == 1, "given root found");
    T_EQ_STR(out, "/srv/given", "--root wins over YUBIN_ROOT");
    T_CHECK(cfg_root_find(out, sizeof out, NULL) == 1, "env root found");
    T_EQ_STR(out, "/srv/env-root", "YUBIN_ROOT without --root");
    T_CHECK(cfg_root_find(out, sizeof out, "") == 1 && strcmp(out, "/srv/env-root") == 0,
            "an empty --root is no root given");
    T_CHECK(setenv("YUBIN_ROOT", "relative/root", 1) == 0, "setenv");
    T_CHECK(cfg_root_find(out, sizeof out, NULL) == 0, "a relative YUBIN_ROOT is not used");
    T_CHECK(unsetenv("YUBIN_ROOT") == 0, "unsetenv");
    T_CHECK(cfg_root_find(out, sizeof out, NULL) == 0, "no root, no record: none");
    T_CHECK(cfg_root_find(out, 8, "/srv/too-long-for-eight") == -1 && errno == ENAMETOOLONG,
            "a root longer than out is refused, not cut");
}

/* ucspi_env_fd: the one reader of SSLCTLFD / SSLREADFD / SSLWRITEFD */
static void test_env_fd(void)
{
    static const struct {
        const char *v;
        int want;
    } cases[] = {
        {"3", 3}, {"0", 0}, {"65535", UCSPI_FD_MAX}, {"65536", -1}, {"", -1}, {"-1", -1},
        {"3x", -1}, {" 3", -1}, {"99999999999999999999999", -1},
    };
    size_t i;
    unsetenv("YUBIN_TEST_FD");
    T_EQ_INT(ucspi_env_fd("YUBIN_TEST_FD"), -1, "unset: no fd");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("YUBIN_TEST_FD", cases[i].v, 1);
        T_EQ_INT(ucspi_env_fd("YUBIN_TEST_FD"), cases[i].want, cases[i].v);
    }
    unsetenv("YUBIN_TEST_FD");
}

/* str_ip_text_ok: the client address smtpd sends tlsd -S with a STARTTLS request and tlsd -S
   takes (or "": it logs "unknown"), as acctd's callers and authd's requests do; only for log
   lines and file names, so no byte that could break a line or a path */
static void test_ip_text(void)
{
    char longest[47];
    static const char *const good[] = { "127.0.0.1", "2001:db8::1", "::ffff:192.0.2.1",
                                        "FE80::1" };
    static const char *const bad[] = { "", "a b", "1.2.3.4\n", "x=y", "smtpd", "ip/24",
                                       "fe80::1%eth0", "../x", "\xe3\x81\x82" };
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        T_CHECK(str_ip_text_ok(good[i]), good[i]);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(!str_ip_text_ok(bad[i]), bad[i]);
    }
    memset(longest, '1', sizeof longest - 1);
    longest[45] = '\0';
    T_CHECK(str_ip_text_ok(longest), "45 octets (INET6_ADDRSTRLEN - 1)");
    longest[45] = '1';
    longest[46] = '\0';
    T_CHECK(!str_ip_text_ok(longest), "one octet more");
}

static void test_plan_names(void)
{
    T_EQ_STR(plan_name_ja("basic"), "ベーシックプラン", "basic: the manual's name");
    T_EQ_STR(plan_name_ja("secure"), "セキュアプラン", "secure");
    T_EQ_STR(plan_name_ja("premium"), "プレミアムプラン", "premium");
    T_EQ_STR(plan_name_ja("pro"), "プロプラン", "pro");
    T_EQ_STR(plan_name_ja("dedicated"), "専用サーバプラン", "dedicated");
    T_EQ_STR(plan_name_en("dedicated"), "Dedicated server plan", "dedicated in English");
    T_CHECK(plan_name_ja("gold") == NULL && plan_name_en("gold") == NULL, "an operator's own plan");
    T_CHECK(plan_name_ja("Basic") == NULL, "ids are compared exactly");
    T_CHECK(plan_name_ja("") == NULL && plan_name_ja(NULL) == NULL, "empty and NULL");
}

int main(void)
{
    test_buf();
    test_env_fd();
    test_ip_text();
    test_str();
    test_ip_group();
    test_b64();
    test_kv();
    test_usage_grant();
    test_root_find();
    test_plan_names();
    return T_DONE();
}

/* test_idna: U-labels to A-labels, against RFC 3492 §7.1's samples and names mail meets */
#include "idna.h"
#include "t.h"

#include <string.h>

static const struct { const char *in, *out; } good[] = {
    /* RFC 3492 §7.1 (B), (I), (L), (M), (N), (O), (P), (Q), (R): the labels in lower case,
       as UTS #46 maps them (the RFC's samples keep their capitals) */
    { "他们为什么不说中文", "xn--ihqwcrb4cv8a8dqg056pqjye" },
    { "почемужеонинеговорятпорусски", "xn--b1abfaaepdrnnbgefbadotcwatmq2g4l" },
    { "3年B組金八先生", "xn--3b-ww4c5e180e575a65lsy2b" },
    { "安室奈美恵-with-SUPER-MONKEYS", "xn---with-super-monkeys-pc58ag80a8qai00g7n9n" },
    { "Hello-Another-Way-それぞれの場所", "xn--hello-another-way--fc4qua05auwb3674vfr0b" },
    { "ひとつ屋根の下2", "xn--2-u9tlzr9756bt3uc0v" },
    { "MajiでKoiする5秒前", "xn--majikoi5-783gue6qz075azm5e" },
    { "パフィーdeルンバ", "xn--de-jg4avhby1noc0d" },
    { "そのスピードで", "xn--d9juau41awczczp" },
    /* whole names */
    { "日本語.jp", "xn--wgv71a119e.jp" },
    { "メール.日本語.jp", "xn--4dkua4c.xn--wgv71a119e.jp" },
    { "Bücher.example", "xn--bcher-kva.example" },
    { "BÜCHER.example", "xn--bcher-kva.example" },
    /* a Japanese input method's full stop and full-width letters */
    { "日本語。ｊｐ", "xn--wgv71a119e.jp" },
    { "日本語．JP", "xn--wgv71a119e.jp" },
    /* Greek and Cyrillic capitals folded as UTS #46 does (the A-labels of Python's codec
       for the lower-case names) */
    { "Ωmega.gr", "xn--mega-fpd.gr" },
    { "ΑΘΗΝΑ.gr", "xn--mxaard0a.gr" },
    { "МОСКВА.рф", "xn--80adxhks.xn--p1ai" },
    { "Ёлка.рф", "xn--80atc1g.xn--p1ai" },
    { "ЀЏ.test", "xn--51a4a.test" },
    /* ASCII is only folded; an A-label stays as it is */
    { "Example.COM", "example.com" },
    { "xn--wgv71a119e.jp", "xn--wgv71a119e.jp" },
};

static const char *const bad[] = {
    "",                         /* empty */
    "a..jp",                    /* empty label */
    ".jp",
    "日本語.jp.",               /* a final dot: not a mail domain */
    "\xff.jp",                  /* not UTF-8 */
    "\xc0\xaf.jp",              /* over-long form */
    "\xed\xa0\x80.jp",          /* a surrogate */
    "\xe6\x97.jp",              /* cut short */
    "a b.jp",                   /* space */
    "a\x7f.jp",                 /* DEL */
    "\xc2\x85.jp",              /* a C1 control */
    "ｙ＠日本語.jp",             /* full-width @: an '@' in the A-label (STD3 rules) */
    "日本語＞.jp",               /* full-width >, which would close an SMTP path */
    "日本_語.jp",                /* ASCII that is no letter, digit or hyphen */
    "a_b.jp",
};

static void test_long(void)
{
    char in[400], out[300];
    size_t i, n = 0;
    /* 26 kana and kanji (78 octets of UTF-8): an A-label of 4 + 60 octets */
    const char *longlab = "日本語のドメイン名をテストします日本語のドメイン名を";
    T_CHECK(idna_to_ascii(longlab, strlen(longlab), out, sizeof out) < 0,
            "a label whose A-label exceeds 63 octets is refused");
    T_CHECK(idna_to_ascii(longlab, strlen(longlab) - 3, out, sizeof out) == 62,
            "25 of them: an A-label of 62 octets is taken");
    /* 64 ASCII letters in one label */
    memset(in, 'a', 64);
    T_CHECK(idna_to_ascii(in, 64, out, sizeof out) < 0, "an ASCII label of 64 octets is refused");
    T_CHECK(idna_to_ascii(in, 63, out, sizeof out) == 63, "an ASCII label of 63 octets is taken");
    /* a name of 254 octets: four labels of 63 and one of 1, with dots */
    n = 0;
    for (i = 0; i < 4; i++) {
        memset(in + n, 'b', 63);
        n += 63;
        in[n++] = '.';
    }
    in[n++] = 'c';
    T_CHECK(n == 257 && idna_to_ascii(in, n, out, sizeof out) < 0, "a name over 253 octets is refused");
    T_CHECK(idna_to_ascii("日本語.jp", strlen("日本語.jp"), out, 17) < 0, "out too small is refused");
    T_CHECK(idna_to_ascii("日本語.jp", strlen("日本語.jp"), out, 18) == 17, "out of exactly the size is enough");
}

int main(void)
{
    size_t i;
    char out[300];
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        int r = idna_to_ascii(good[i].in, strlen(good[i].in), out, sizeof out);
        T_CHECK(r == (int)strlen(good[i].out), "\"%s\" converted (length %d)", good[i].in, r);
        if (r >= 0) {
            T_EQ_STR(out, good[i].out, good[i].in);
        }
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(idna_to_ascii(bad[i], strlen(bad[i]), out, sizeof out) < 0, "bad name %zu refused", i);
    }
    test_long();
    return T_DONE();
}

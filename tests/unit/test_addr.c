/* test_addr: the SMTP path grammar and the map address grammar, with hostile inputs */
#include "addr.h"
#include "t.h"

#include <string.h>

struct path_case {
    const char *in;
    int ok;             /* expected ADDR_OK */
    const char *addr;   /* expected a.s when ok */
    int flags;          /* 1 null, 2 route, 4 quoted, 8 literal, 16 utf8, 32 percent, 64 bang, 128 nodomain */
};

static const struct path_case paths[] = {
    { "<>", 1, "", 1 },
    { "<a@b.example>", 1, "a@b.example", 0 },
    { "<A.B+c@Example.TEST>", 1, "A.B+c@Example.TEST", 0 },
    { "<postmaster>", 1, "postmaster", 128 },
    { "<@relay.example:u@d.example>", 1, "u@d.example", 2 },
    { "<@a.example,@b.example:u@d.example>", 1, "u@d.example", 2 },
    { "<\"john doe\"@d.example>", 1, "\"john doe\"@d.example", 4 },
    { "<\"a@b\"@d.example>", 1, "\"a@b\"@d.example", 4 },
    /* quoting that is not needed is undone: one mailbox (RFC 5321 §4.1.2's quoted forms) */
    { "<\"bob\"@D.example>", 1, "bob@D.example", 0 },
    { "<\"b\\ob.x+y\"@d.example>", 1, "bob.x+y@d.example", 0 },
    { "<\"Postmaster\">", 1, "Postmaster", 128 },
    { "<\"u%v\"@d.example>", 1, "u%v@d.example", 32 },
    { "<\"a..b\"@d.example>", 1, "\"a..b\"@d.example", 4 },
    { "<\".a\"@d.example>", 1, "\".a\"@d.example", 4 },
    { "<\"\"@d.example>", 1, "\"\"@d.example", 4 },
    { "<\"a\\\"b\"@d.example>", 1, "\"a\\\"b\"@d.example", 4 },
    { "<u@[127.0.0.1]>", 1, "u@[127.0.0.1]", 8 },
    { "<u@[IPv6:2001:db8::1]>", 1, "u@[IPv6:2001:db8::1]", 8 },
    { "<u%v@d.example>", 1, "u%v@d.example", 32 },
    { "<d!u@d.example>", 1, "d!u@d.example", 64 },
    { "<\xc3\xa9@d.example>", 1, "\xc3\xa9@d.example", 16 },
    { "<u@d.example.>", 0, NULL, 0 },          /* trailing dot */
    { "<u.@d.example>", 0, NULL, 0 },
    { "<.u@d.example>", 0, NULL, 0 },
    { "<u..v@d.example>", 0, NULL, 0 },
    { "<u@-d.example>", 0, NULL, 0 },
    { "<u@d-.example>", 0, NULL, 0 },
    { "<u@d..example>", 0, NULL, 0 },
    { "<u@>", 0, NULL, 0 },
    { "<@d.example>", 0, NULL, 0 },
    { "<u@d.example", 0, NULL, 0 },
    { "u@d.example", 0, NULL, 0 },
    { "<u d@x.example>", 0, NULL, 0 },
    { "<u@d.example> ", 1, "u@d.example", 0 },
    { "<\"unterminated@d.example>", 0, NULL, 0 },
    { "<u@[1.2.3.4>", 0, NULL, 0 },
    { "<@a.example:>", 0, NULL, 0 },
    { "<u\r@d.example>", 0, NULL, 0 },
    { "<\"u\n\"@d.example>", 0, NULL, 0 },
};

static int flags_of(const struct addr *a)
{
    return (a->null ? 1 : 0) | (a->route ? 2 : 0) | (a->quoted ? 4 : 0) | (a->literal ? 8 : 0)
           | (a->utf8 ? 16 : 0) | (a->percent ? 32 : 0) | (a->bang ? 64 : 0)
           | (!a->null && a->at == a->len ? 128 : 0);
}

static void test_paths(void)
{
    size_t i;
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct addr a;
        size_t used = 0;
        const struct path_case *c = &paths[i];
        enum addr_err e = addr_parse_path(c->in, strlen(c->in), &a, &used);
        if (!c->ok) {
            T_CHECK(e != ADDR_OK, "path %zu refused", i);
            continue;
        }
        T_CHECK(e == ADDR_OK, "path %zu accepted", i);
        if (e == ADDR_OK) {
            T_EQ_STR(a.s, c->addr, "path address");
            T_EQ_INT(flags_of(&a), c->flags, "path flags");
            T_CHECK(c->in[used - 1] == '>', "path %zu consumed through '>'", i);
        }
    }
}

static void test_limits(void)
{
    char in[600], local[100];
    struct addr a;
    size_t used;
    memset(local, 'a', 65);
    local[65] = '\0';
    snprintf(in, sizeof in, "<%s@d.example>", local);
    T_CHECK(addr_parse_path(in, strlen(in), &a, &used) == ADDR_ETOOLONG, "local part of 65 refused");
    local[64] = '\0';
    snprintf(in, sizeof in, "<%s@d.example>", local);
    T_CHECK(addr_parse_path(in, strlen(in), &a, &used) == ADDR_OK, "local part of 64 accepted");
    /* a path over 256 octets */
    memset(in, 0, sizeof in);
    strcpy(in, "<a@");
    {
        size_t n = 3, k;
        for (k = 0; k < 5; k++) {
            memset(in + n, 'b', 60);
            n += 60;
            in[n++] = '.';
        }
        memcpy(in + n, "example>", 8);
    }
    T_CHECK(addr_parse_path(in, strlen(in), &a, &used) != ADDR_OK, "path over 256 refused");
    T_CHECK(addr_parse_path("<a@b.example>", 5, &a, &used) != ADDR_OK, "truncated input refused");
    T_CHECK(addr_parse_path("<a\0b@c.example>", 15, &a, &used) != ADDR_OK, "NUL refused");
}

static void test_map(void)
{
    static const struct { const char *s; int ok; } m[] = {
        { "demo@example.test", 1 }, { "a.b+c_d-e@x.example", 1 }, { "0@x.example", 1 },
        { "Demo@example.test", 0 }, { "demo@Example.test", 0 }, { ".demo@example.test", 0 },
        { "demo.@example.test", 0 }, { "de..mo@example.test", 0 }, { "demo@example", 0 },
        { "demo@example.test.", 0 }, { "de mo@example.test", 0 }, { "demo", 0 },
        { "@example.test", 0 }, { "demo@", 0 }, { "de/mo@example.test", 0 }, { "-x@example.test", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof m / sizeof m[0]; i++) {
        T_CHECK(addr_map_ok(m[i].s, strlen(m[i].s)) == m[i].ok, "map address \"%s\" -> %d", m[i].s, m[i].ok);
    }
}

/* U-labels to A-labels in a parsed path: the domain only, and utf8 then by the local part */
static void test_to_ascii(void)
{
    static const struct { const char *in; int ok; const char *out; int utf8; } c[] = {
        { "<taro@日本語.jp>", 1, "taro@xn--wgv71a119e.jp", 0 },
        { "<太郎@日本語.jp>", 1, "太郎@xn--wgv71a119e.jp", 1 },
        { "<\"a@b\"@Bücher.example>", 1, "\"a@b\"@xn--bcher-kva.example", 0 },
        { "<Taro@Example.TEST>", 1, "Taro@Example.TEST", 0 },     /* ASCII: left alone */
        { "<u@[127.0.0.1]>", 1, "u@[127.0.0.1]", 0 },
        { "<postmaster>", 1, "postmaster", 0 },
        { "<x@\xed\xa0\x80.jp>", 0, "x@\xed\xa0\x80.jp", 1 },  /* a surrogate: unchanged */
        { "<x@ｙ＠日本語.jp>", 0, "x@ｙ＠日本語.jp", 1 },  /* full-width @: no second '@' */
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct addr a;
        size_t used;
        T_CHECK(addr_parse_path(c[i].in, strlen(c[i].in), &a, &used) == ADDR_OK, "path %zu parsed", i);
        T_EQ_INT(addr_domain_to_ascii(&a) == 0, c[i].ok, "path converted (or refused)");
        T_CHECK(strcmp(a.s, c[i].out) == 0, "path %zu: the converted address", i);
        T_EQ_INT(a.len, strlen(c[i].out), "its length");
        T_EQ_INT(a.utf8, c[i].utf8, "utf8 by the local part");
    }
}

/* What a person types, in the maps' form */
static void test_map_form(void)
{
    static const struct { const char *in; const char *out; } ok[] = {
        { "Taro@Example.TEST", "taro@example.test" },
        { "Hanako@日本語。ＪＰ", "hanako@xn--wgv71a119e.jp" },
        { "ｔａｒｏ＠ＥＸＡＭＰＬＥ．ｔｅｓｔ", "taro@example.test" },   /* full-width mode */
        { "Ｈａｎａｋｏ＠日本語．ｊｐ", "hanako@xn--wgv71a119e.jp" },
    };
    static const char *const bad[] = { "taro", "taro@", "太郎@日本語.jp", "a b@example.test",
                                       "taro@ex_ample.test", "taro@example..test",
                                       "ｔａｒｏ　＠example.test",   /* ideographic space */
                                       "taro@\xff.test" };
    char out[ADDR_MAX + 1];
    size_t i;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        T_CHECK(addr_map_form(ok[i].in, out, sizeof out) == 1, "map form %zu taken", i);
        T_EQ_STR(out, ok[i].out, "map form");
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(addr_map_form(bad[i], out, sizeof out) == 0, "map form %zu refused", i);
    }
    T_CHECK(addr_map_form("taro@example.test", out, 17) == 0, "out too small refused");
}

/* A login as a mail program sends it: converted only when it has 8-bit octets */
static void test_login_form(void)
{
    static const struct { const char *in; const char *out; } ok[] = {
        { "taro@日本語.jp", "taro@xn--wgv71a119e.jp" },
        { "Taro@日本語.JP", "taro@xn--wgv71a119e.jp" },
        { "ｔａｒｏ＠日本語．ｊｐ", "taro@xn--wgv71a119e.jp" },     /* typed in full-width */
        { "ｉｎｆｏ＠ｅｘａｍｐｌｅ．ｔｅｓｔ", "info@example.test" },
    };
    static const char *const unchanged[] = {
        "Taro@Example.TEST",            /* ASCII: as it came (authd lower-cases it) */
        "太郎@日本語.jp",               /* a Unicode local part is in no map */
        "taro@日本語..jp", "taro@\xff.jp", "taro", "日本語.jp",
    };
    char out[AUTH_FIELD_MAX + 1];
    size_t i;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        T_EQ_INT(addr_login_form(ok[i].in, strlen(ok[i].in), out, sizeof out),
                 strlen(ok[i].out), "login form length");
        T_EQ_STR(out, ok[i].out, "login form");
    }
    for (i = 0; i < sizeof unchanged / sizeof unchanged[0]; i++) {
        T_CHECK(addr_login_form(unchanged[i], strlen(unchanged[i]), out, sizeof out) == 0,
                "login %zu goes on as it came", i);
    }
    /* not NUL-terminated: the length is what counts (the SASL field is a pointer into a line) */
    T_EQ_INT(addr_login_form("taro@日本語.jpXXX", strlen("taro@日本語.jp"), out, sizeof out),
             strlen("taro@xn--wgv71a119e.jp"), "bounded by n");
    T_CHECK(addr_login_form("taro@日\0本.jp", 12, out, sizeof out) == 0, "a NUL refused");
}

int main(void)
{
    test_paths();
    test_to_ascii();
    test_map_form();
    test_login_form();
    test_limits();
    test_map();
    return T_DONE();
}

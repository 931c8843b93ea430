/* test_maps: the map line parsers, the compiler (references, implicit aliases, flattening,
   loops), cdb build + lookup through lib/acct (the password's fingerprint too), the text
   editing helper and the sheet */
#include "t.h"

#include "../../cdb/maps.h"
#include "../../cdb/mapsio.h"
#include "../../cdb/sheet.h"
#include "acct.h"
#include "cdbmap.h"
#include "dmarc.h"

#include <cdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define H6 "$6$saltsalt$qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM0123456789./abcdefghijklmnopqrstuvwxyzABC"
#define HY "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7i8UNKbgT9hOmJpjTN3ZhlU7K7Q7gE1C"
/* users.cdb's pwid= of H6 and HY: the first 16 hex digits of the SHA-256 of the hash string
   (computed apart: python3 -c 'import hashlib; print(hashlib.sha256(H).hexdigest()[:16])') */
#define P6 "a85e5de730adc79f"
#define PY "c6f72b35bc6caf98"

struct line_case {
    const char *line;
    int want;
    const char *name;
};

static void line_table(const char *what, int (*parse)(const char *, size_t, void *, char *),
                       void *out, const struct line_case *c, size_t n)
{
    char why[MAPS_REASON_MAX];
    size_t i;
    for (i = 0; i < n; i++) {
        int r = parse(c[i].line, strlen(c[i].line), out, why);
        T_CHECK(r == c[i].want, "%s: %s (got %d, want %d%s%s)", what, c[i].name, r, c[i].want,
                r < 0 ? ": " : "", r < 0 ? why : "");
    }
}

static int p_plan(const char *s, size_t n, void *o, char *w) { return map_parse_plan(s, n, o, w); }
static int p_dom(const char *s, size_t n, void *o, char *w) { return map_parse_domain(s, n, o, w); }
static int p_user(const char *s, size_t n, void *o, char *w) { return map_parse_user(s, n, o, w); }
static int p_alias(const char *s, size_t n, void *o, char *w) { return map_parse_alias(s, n, o, w); }
static int p_route(const char *s, size_t n, void *o, char *w) { return map_parse_route(s, n, o, w); }

static void test_lines(void)
{
    static const struct line_case plans[] = {
        { "basic:20M:50M:no", 1, "manual basic plan" },
        { "premium:50M:50M:yes", 1, "premium" },
        { "  # comment", 0, "comment" },
        { "   ", 0, "blank" },
        { "basic:20M:50M", -1, "missing POP3S" },
        { "basic:60M:50M:no", -1, "default above max" },
        { "basic:20X:50M:no", -1, "bad size" },
        { "basic:20M:50M:maybe", -1, "bad POP3S" },
        { "-x:20M:50M:no", -1, "bad plan name" },
        { "unl:0:0:no", 1, "unlimited plan" },
        { "basic:20M:50M:no:200:1000", 1, "sending limits" },
        { "basic:20M:50M:no:200", 1, "message limit only" },
        { "basic:20M:50M:no::1000", 1, "recipient limit only" },
        { "basic:20M:50M:no:0:0", 1, "no sending limits" },
        { "basic:20M:50M:no:", 1, "empty MSGS" },
        { "basic:20M:50M:no:x:1", -1, "bad MSGS" },
        { "basic:20M:50M:no:1:-1", -1, "bad RCPTS" },
        { "basic:20M:50M:no:10000001:1", -1, "MSGS over the bound" },
        { "basic:20M:50M:no:99999999999999999999999:1", -1, "overflowing MSGS" },
        { "basic:20M:50M:no:1:2:3", -1, "seven fields" },
    };
    static const struct line_case doms[] = {
        { "example.test:premium", 1, "domain" },
        { "Example.TEST:basic", 1, "upper case is lowered" },
        { "example:basic", -1, "no dot" },
        { "exa_mple.test:basic", -1, "underscore" },
        { "example.test", -1, "no plan" },
        { "example.test:basic:x", -1, "extra field" },
        { "-a.test:basic", -1, "leading hyphen" },
    };
    static const struct line_case users[] = {
        { "demo@example.test:" H6 "::", 1, "sha512 hash" },
        { "demo@example.test:" HY ":50M:", 1, "yescrypt, quota" },
        { "demo@example.test:" H6, 1, "two fields" },
        { "demo@example.test:" H6 ":0:force,disabled,host=10.0.0.2", 1, "options" },
        { "demo@example.test:" H6 "::host=[::1]", 1, "IPv6 host" },
        { "demo@example.test:" H6 "::nosend,msgs=10,rcpts=50", 1, "sending options" },
        { "demo@example.test:" H6 "::host=[::1],msgs=0", 1, "IPv6 host, then msgs" },
        { "demo@example.test:" H6 "::msgs=", -1, "empty msgs=" },
        { "demo@example.test:" H6 "::msgs=1x", -1, "bad msgs=" },
        { "demo@example.test:" H6 "::rcpts=10000001", -1, "rcpts= over the bound" },
        { "demo@example.test:" H6 "::nosend=1", -1, "nosend takes no value" },
        { "demo@example.test:secret::", -1, "clear text password" },
        { "demo@example.test:$6$::", -1, "truncated hash" },
        { "demo@example.test:" H6 ":20Q:", -1, "bad quota" },
        { "demo@example.test:" H6 ":99999999999999999999999M:", -1, "overflowing quota" },
        { "demo@example.test:" H6 "::bogus", -1, "unknown option" },
        { "demo@example.test:" H6 "::host=a b", -1, "bad host" },
        { "de..mo@example.test:" H6 "::", -1, "double dot" },
        { ".demo@example.test:" H6 "::", -1, "leading dot" },
        { "demo.@example.test:" H6 "::", -1, "trailing dot" },
        { "demo@example:" H6 "::", -1, "domain without dot" },
        { "demo:" H6 "::", -1, "no domain" },
        { "demo@example.test:" H6 "::\r", -1, "CR" },
        { "demo@example.test:" H6 ":\x01:", -1, "control character" },
        { "demo@example.test:" H6 ":::", -1, "five fields" },
        { "d\xc3\xa9mo@example.test:" H6 "::", -1, "UTF-8 local part" },
        { "# demo@example.test:secret", 0, "comment" },
    };
    static const struct line_case aliases[] = {
        { "info@example.test: demo@example.test", 1, "one target" },
        { "info@example.test: a@example.test, b@remote.example,c@x.example", 1, "three targets" },
        { "info@example.test:a@example.test b@example.test", 1, "space separated" },
        { "postmaster: ops@example.net", 1, "bare postmaster" },
        { "info@example.test:", -1, "no target" },
        { "info@example.test", -1, "no colon" },
        { "info@example.test: notanaddress", -1, "bad target" },
        { "info@example.test: \"q t\"@x.example", -1, "quoted target" },
        { "info@example.test: a@[127.0.0.1]", -1, "literal target" },
        { "info@example.test: a%b@x.example", -1, "percent hack" },
        { "info: a@x.example", -1, "bare key other than postmaster" },
    };
    static const struct line_case routes[] = {
        { "remote.test:127.0.0.1:10026", 1, "host port" },
        { "remote.test:mx.remote.test", 1, "host only" },
        { ":127.0.0.1:2525", 1, "default smarthost" },
        { "remote.test:[::1]:25:tls=require,verify", 1, "IPv6 and options" },
        { "remote.test:[::1", -1, "unclosed bracket" },
        { "remote.test:127.0.0.1:0", -1, "port 0" },
        { "remote.test:127.0.0.1:65536", -1, "port too big" },
        { "remote.test:127.0.0.1:25:tls=maybe", -1, "bad option" },
        { "remote.test:", -1, "no host" },
        { "remote.test:h.test:25:verify:x", -1, "too many fields" },
    };
    struct map_plan p;
    struct map_domain d;
    struct map_user u;
    struct map_alias a;
    struct map_route r;
    char why[MAPS_REASON_MAX], big[MAP_LINE_MAX + 16];

    line_table("plan", p_plan, &p, plans, sizeof plans / sizeof plans[0]);
    line_table("domain", p_dom, &d, doms, sizeof doms / sizeof doms[0]);
    line_table("user", p_user, &u, users, sizeof users / sizeof users[0]);
    line_table("alias", p_alias, &a, aliases, sizeof aliases / sizeof aliases[0]);
    line_table("route", p_route, &r, routes, sizeof routes / sizeof routes[0]);

    T_EQ_INT(map_parse_user("demo@example.test:" H6 "\0::", sizeof("demo@example.test:" H6) + 2,
                            &u, why), -1, "user: NUL byte refused");
    memset(big, 'a', sizeof big);
    memcpy(big, "x@example.test:", 15);
    T_EQ_INT(map_parse_user(big, MAP_LINE_MAX + 1, &u, why), -1, "user: over-long line refused");
    T_CHECK(strstr(why, "longer") != NULL, "over-long reason says so (%s)", why);

    T_EQ_INT(map_parse_domain("Example.TEST:Basic", 18, &d, why), 1, "domain parsed");
    T_EQ_STR(d.name, "example.test", "domain lower-cased");
    T_EQ_STR(d.plan, "basic", "plan lower-cased");
    {
        const char *l = "Demo@Example.test:" H6 ":30M:force,host=10.0.0.2";
        map_parse_user(l, strlen(l), &u, why);
    }
    T_EQ_STR(u.addr, "demo@example.test", "user address lower-cased");
    T_EQ_INT(u.quota, 30 * 1048576, "user quota 30M");
    T_EQ_INT(u.quota_set && u.force && !u.disabled, 1, "user flags");
    T_EQ_STR(u.host, "10.0.0.2", "user host");
    map_parse_alias("Info@Example.test: A@example.test, a@example.test , b@R.example", 63, &a, why);
    T_EQ_STR(a.targets, "a@example.test b@r.example", "alias targets lowered and deduplicated");
    map_parse_route("r.test:[::1]:2525:verify", 24, &r, why);
    T_EQ_STR(r.host, "::1", "IPv6 host without brackets");
    T_EQ_INT(r.port, 2525, "route port");
    T_EQ_INT(r.verify && !r.tls_require, 1, "route options");
    map_parse_plan("basic:20M:50M:no", 16, &p, why);
    T_EQ_INT(p.quota == 20971520 && p.maxquota == 52428800 && !p.pop3s, 1, "plan sizes");
}

/* ---- the compiler ---- */

struct srcs {
    const char *t[MAPS_NFILES];
};

static struct maps *compile(const struct srcs *s, struct maps_err *err)
{
    struct maps *m = maps_new();
    int f;
    for (f = 0; f < MAPS_NFILES; f++) {
        const char *t = s->t[f] ? s->t[f] : "";
        if (maps_load(m, (enum maps_file)f, t, strlen(t), err) < 0) {
            maps_free(m);
            return NULL;
        }
    }
    if (maps_finish(m, err) < 0) {
        maps_free(m);
        return NULL;
    }
    return m;
}

static const char plans_txt[] = "basic:20M:50M:no\nsecure:50M:50M:yes\npremium:50M:50M:yes\n";
static const char doms_txt[] = "example.test:premium\nexample2.test:basic\n";

struct bad_case {
    const char *users, *aliases, *routes, *domains;
    enum maps_file file;
    unsigned long line;
    const char *why;
    const char *name;
};

static void test_compile_errors(void)
{
    static const struct bad_case c[] = {
        { "a@example.test:" H6 "::\na@example.test:" H6 "::\n", NULL, NULL, NULL, MAPS_USERS, 2,
          "already defined on line 1", "duplicate account" },
        { "a@nowhere.test:" H6 "::\n", NULL, NULL, NULL, MAPS_USERS, 1, "not in etc/domains",
          "account in an unknown domain" },
        { "a@example2.test:" H6 ":60M:\n", NULL, NULL, NULL, MAPS_USERS, 1, "maximum",
          "quota above the plan maximum" },
        { "a@example2.test:" H6 ":0:\n", NULL, NULL, NULL, MAPS_USERS, 1, "unlimited",
          "unlimited quota without force" },
        { NULL, NULL, NULL, "x.test:gold\n", MAPS_DOMAINS, 1, "unknown plan gold",
          "unknown plan" },
        { NULL, NULL, NULL, "x.test:basic\n# c\nx.test:basic\n", MAPS_DOMAINS, 3,
          "already defined on line 1", "duplicate domain" },
        { "a@example.test:" H6 "::\n", "a@example.test: b@x.example\n", NULL, NULL, MAPS_ALIASES, 1,
          "is an account", "alias shadowing an account" },
        { NULL, "i@example.test: x@y.example\ni@example.test: z@y.example\n", NULL, NULL,
          MAPS_ALIASES, 2, "already defined", "duplicate alias" },
        { NULL, "i@other.test: x@y.example\n", NULL, NULL, MAPS_ALIASES, 1, "not in etc/domains",
          "alias in a foreign domain" },
        { NULL, "i@example.test: ghost@example.test\n", NULL, NULL, MAPS_ALIASES, 1,
          "neither an account nor an alias", "alias to a missing local account" },
        { NULL, "a@example.test: b@example.test\nb@example.test: c@example.test\n"
          "c@example.test: a@example.test\n", NULL, NULL, MAPS_ALIASES, 3,
          "alias loop: a@example.test -> b@example.test -> c@example.test -> a@example.test",
          "alias loop" },
        { NULL, "a@example.test: a@example.test\n", NULL, NULL, MAPS_ALIASES, 1, "alias loop",
          "alias to itself" },
        { NULL, NULL, ":h.test:25\n:g.test:25\n", NULL, MAPS_ROUTES, 2, "already defined",
          "two default routes" },
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct srcs s;
        struct maps_err err;
        struct maps *m;
        memset(&s, 0, sizeof s);
        s.t[MAPS_ADMIN] = "ops@example.net\n";
        s.t[MAPS_PLANS] = plans_txt;
        s.t[MAPS_DOMAINS] = c[i].domains ? c[i].domains : doms_txt;
        s.t[MAPS_USERS] = c[i].users;
        s.t[MAPS_ALIASES] = c[i].aliases;
        s.t[MAPS_ROUTES] = c[i].routes;
        memset(&err, 0, sizeof err);
        m = compile(&s, &err);
        T_CHECK(m == NULL && err.file == c[i].file && err.line == c[i].line && err.sys == 0
                && strstr(err.reason, c[i].why) != NULL,
                "compile: %s (got %s:%lu: %s)", c[i].name, maps_file_name(err.file), err.line,
                err.reason);
        maps_free(m);
    }
}

/* The reasons naming an unknown domain say where the domains come from: etc/domains, word for
   word, unless the compiler was told another place (a fleet node's: etcd). */
static void test_domains_from(void)
{
    static const char home[] = "x.test:a:1\n", user[] = "u@x.test:" H6 "::\n";
    static const char alias[] = "i@x.test: z@y.example\n";
    struct maps_src src;
    struct maps_err err;
    struct maps *m;
    int fleet, f;
    for (fleet = 0; fleet < 2; fleet++) {
        const char *where = fleet ? "the fleet directory (/yubin/dir/domains/)" : "etc/domains";
        char want[3][MAPS_REASON_MAX + 64];
        int k;
        snprintf(want[0], sizeof want[0], "homes:1: home of x.test: the domain is not in %s",
                 where);
        snprintf(want[1], sizeof want[1], "users:1: domain x.test of u@x.test is not in %s",
                 where);
        snprintf(want[2], sizeof want[2], "aliases:1: alias i@x.test: domain x.test is not in "
                 "%s", where);
        for (k = 0; k < 3; k++) {
            char got[MAPS_REASON_MAX + 64];
            memset(&src, 0, sizeof src);
            for (f = 0; f < MAPS_NFILES; f++) {
                src.text[f] = (char *)"";
            }
            src.text[MAPS_ADMIN] = (char *)"ops@example.net\n";
            src.text[MAPS_PLANS] = (char *)plans_txt;
            src.text[MAPS_DOMAINS] = (char *)doms_txt;
            src.text[MAPS_NODES] = (char *)"a:127.0.0.1\n";
            src.text[k == 0 ? MAPS_HOMES : k == 1 ? MAPS_USERS : MAPS_ALIASES] =
                (char *)(k == 0 ? home : k == 1 ? user : alias);
            for (f = 0; f < MAPS_NFILES; f++) {
                src.len[f] = strlen(src.text[f]);
            }
            src.domains_from = fleet ? "the fleet directory (/yubin/dir/domains/)" : NULL;
            memset(&err, 0, sizeof err);
            m = mapsio_compile(&src, &err);
            mapsio_err_str(&err, got, sizeof got);
            T_CHECK(m == NULL && strcmp(got, want[k]) == 0, "domains from %s: %s (got %s)",
                    where, want[k], got);
            maps_free(m);
        }
    }
}

static void test_deep_chain(void)
{
    char text[8192];
    size_t len = 0;
    int k;
    struct srcs s;
    struct maps_err err;
    struct maps *m;
    for (k = 0; k < ALIAS_DEPTH_MAX + 1; k++) {
        len += (size_t)snprintf(text + len, sizeof text - len, "a%d@example.test: a%d@example.test\n",
                                k, k + 1);
    }
    snprintf(text + len, sizeof text - len, "a%d@example.test: end@x.example\n", k);
    memset(&s, 0, sizeof s);
    s.t[MAPS_ADMIN] = "ops@example.net";
    s.t[MAPS_PLANS] = plans_txt;
    s.t[MAPS_DOMAINS] = doms_txt;
    s.t[MAPS_ALIASES] = text;
    m = compile(&s, &err);
    T_CHECK(m == NULL && strstr(err.reason, "deeper") != NULL, "chain of %d aliases refused (%s)",
            ALIAS_DEPTH_MAX + 2, err.reason);
    maps_free(m);
    /* exactly ALIAS_DEPTH_MAX levels is fine */
    len = 0;
    for (k = 0; k < ALIAS_DEPTH_MAX - 1; k++) {
        len += (size_t)snprintf(text + len, sizeof text - len, "a%d@example.test: a%d@example.test\n",
                                k, k + 1);
    }
    snprintf(text + len, sizeof text - len, "a%d@example.test: end@x.example\n", k);
    m = compile(&s, &err);
    T_CHECK(m != NULL, "chain of %d aliases accepted", ALIAS_DEPTH_MAX);
    maps_free(m);
}

struct collect {
    char buf[8192];
    size_t len, n;
};

static int collect(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct collect *c = ctx;
    c->len += (size_t)snprintf(c->buf + c->len, sizeof c->buf - c->len, "%.*s=>%.*s\n", (int)kl,
                               k, (int)vl, v);
    c->n++;
    return 0;
}

static void test_records(void)
{
    struct srcs s;
    struct maps_err err;
    struct maps *m;
    struct collect c;
    memset(&s, 0, sizeof s);
    s.t[MAPS_ME] = "mail.example.net\n";
    s.t[MAPS_ADMIN] = "demo@example.test\n";
    s.t[MAPS_PLANS] = plans_txt;
    s.t[MAPS_DOMAINS] = doms_txt;
    s.t[MAPS_USERS] = "demo@example.test:" H6 "::\nb@example2.test:" HY ":30M:disabled,host=bk.test\n"
                      "postmaster@example2.test:" H6 "::\n";
    s.t[MAPS_ALIASES] = "info@example.test: team@example.test, x@r.example\n"
                        "team@example.test: demo@example.test, b@example2.test, x@r.example\n";
    s.t[MAPS_ROUTES] = "r.example:10.0.0.1:2525:tls=require\n:smart.test\n";
    m = compile(&s, &err);
    T_CHECK(m != NULL, "valid maps compile (%s)", m ? "" : err.reason);
    if (!m) {
        return;
    }
    memset(&c, 0, sizeof c);
    maps_records(m, MAPS_CDB_USERS, collect, &c);
    T_CHECK(strstr(c.buf, "demo@example.test=>quota=52428800 plan=premium pop3s=1 "
                          "home=mail/example.test/demo pwid=" P6 "\n") != NULL,
            "users record (plan default)");
    T_CHECK(strstr(c.buf, "b@example2.test=>quota=31457280 plan=basic pop3s=0 "
                          "home=mail/example2.test/b pwid=" PY " disabled=1 host=bk.test\n")
            != NULL,
            "users record with disabled and host");
    {
        struct acct a;
        T_CHECK(maps_user(m, "b@example2.test", &a, NULL) == 1 && strcmp(a.pwid, PY) == 0,
                "maps_user: the pwid of users.cdb");
    }
    memset(&c, 0, sizeof c);
    maps_records(m, MAPS_CDB_AUTH, collect, &c);
    T_CHECK(c.n == 2 && strstr(c.buf, "b@example2.test") == NULL, "auth.cdb leaves out disabled");
    memset(&c, 0, sizeof c);
    maps_records(m, MAPS_CDB_DOMAINS, collect, &c);
    T_CHECK(strstr(c.buf, "example.test=>plan=premium quota=52428800 maxquota=52428800 pop3s=1\n")
            != NULL, "domains record");
    memset(&c, 0, sizeof c);
    maps_records(m, MAPS_CDB_ALIASES, collect, &c);
    T_CHECK(strstr(c.buf, "info@example.test=>demo@example.test b@example2.test x@r.example\n")
            != NULL, "alias chain flattened and deduplicated");
    T_CHECK(strstr(c.buf, "postmaster@example.test=>demo@example.test\n") != NULL,
            "implicit postmaster@");
    T_CHECK(strstr(c.buf, "abuse@example2.test=>demo@example.test\n") != NULL, "implicit abuse@");
    T_CHECK(strstr(c.buf, "postmaster@example2.test=>") == NULL,
            "no implicit alias over an account");
    T_CHECK(strstr(c.buf, "\npostmaster=>demo@example.test\n") != NULL, "bare postmaster");
    memset(&c, 0, sizeof c);
    maps_records(m, MAPS_CDB_ROUTES, collect, &c);
    T_CHECK(strstr(c.buf, "r.example=>host=10.0.0.1 port=2525 tls=require\n") != NULL
            && strstr(c.buf, "\n=>host=smart.test port=25\n") != NULL, "routes records");
    T_EQ_STR(maps_me(m), "mail.example.net", "me");
    T_EQ_INT(maps_domain_users(m, "example2.test"), 2, "users per domain");
    maps_free(m);
}

/* The sending fields: parsed values, and the effective limits users.cdb carries. */
static void test_sending_fields(void)
{
    struct srcs s;
    struct maps_err err;
    struct maps *m;
    struct collect c;
    struct map_plan p;
    struct map_user u;
    char why[MAPS_REASON_MAX];
    const char *line = "basic:20M:50M:no:200:1000", *ul = "a@example.test:" H6 "::rcpts=7,nosend";

    T_EQ_INT(map_parse_plan(line, strlen(line), &p, why), 1, "plan with limits parses");
    T_CHECK(p.msgs == 200 && p.rcpts == 1000, "plan limits 200/1000 (got %lu/%lu)", p.msgs,
            p.rcpts);
    line = "basic:20M:50M:no";
    T_EQ_INT(map_parse_plan(line, strlen(line), &p, why), 1, "old plan line parses");
    T_CHECK(p.msgs == 0 && p.rcpts == 0, "old plan line: no limits");
    T_EQ_INT(map_parse_user(ul, strlen(ul), &u, why), 1, "user with sending options parses");
    T_CHECK(u.nosend && !u.msgs_set && u.rcpts_set && u.rcpts == 7, "nosend, rcpts=7 only");

    memset(&s, 0, sizeof s);
    s.t[MAPS_ME] = "mail.example.net\n";
    s.t[MAPS_ADMIN] = "a@example.test\n";
    s.t[MAPS_PLANS] = "premium:50M:50M:yes:200:1000\nbasic:20M:50M:no\n";
    s.t[MAPS_DOMAINS] = doms_txt;
    s.t[MAPS_USERS] = "a@example.test:" H6 "::rcpts=7,nosend\nb@example.test:" H6 "::\n"
                      "c@example2.test:" H6 "::\nd@example2.test:" H6 "::msgs=3\n";
    m = compile(&s, &err);
    T_CHECK(m != NULL, "maps with sending fields compile (%s)", m ? "" : err.reason);
    if (!m) {
        return;
    }
    memset(&c, 0, sizeof c);
    maps_records(m, MAPS_CDB_USERS, collect, &c);
    T_CHECK(strstr(c.buf, "a@example.test=>quota=52428800 plan=premium pop3s=1 "
                          "home=mail/example.test/a pwid=" P6 " msgs=200 rcpts=7 nosend=1\n")
            != NULL,
            "override and suspension in the record");
    T_CHECK(strstr(c.buf, "b@example.test=>quota=52428800 plan=premium pop3s=1 "
                          "home=mail/example.test/b pwid=" P6 " msgs=200 rcpts=1000\n") != NULL,
            "plan limits in the record");
    T_CHECK(strstr(c.buf, "c@example2.test=>quota=20971520 plan=basic pop3s=0 "
                          "home=mail/example2.test/c pwid=" P6 "\n") != NULL,
            "a plan without limits: no msgs= rcpts=");
    T_CHECK(strstr(c.buf, "d@example2.test=>quota=20971520 plan=basic pop3s=0 "
                          "home=mail/example2.test/d pwid=" P6 " msgs=3 rcpts=0\n") != NULL,
            "an account limit under a plan without limits");
    T_EQ_INT(maps_user(m, "a@example.test", NULL, &u), 1, "maps_user finds a");
    T_CHECK(u.nosend && u.rcpts_set && u.rcpts == 7 && !u.msgs_set, "maps_user: options back");
    T_EQ_INT(maps_plan(m, "premium", &p), 1, "maps_plan finds premium");
    T_CHECK(p.msgs == 200 && p.rcpts == 1000, "maps_plan: limits back");
    maps_free(m);
}

static void test_admin_missing(void)
{
    struct srcs s;
    struct maps_err err;
    struct maps *m;
    struct collect c;
    memset(&s, 0, sizeof s);
    s.t[MAPS_PLANS] = plans_txt;
    s.t[MAPS_DOMAINS] = doms_txt;
    m = compile(&s, &err);
    T_CHECK(m != NULL && strstr(maps_warning(m), "admin:1:") == maps_warning(m),
            "empty etc/admin: compiles with a warning (%s)", m ? maps_warning(m) : err.reason);
    memset(&c, 0, sizeof c);
    if (m) {
        maps_records(m, MAPS_CDB_ALIASES, collect, &c);
    }
    T_EQ_INT(c.n, 0, "empty etc/admin: no implicit aliases");
    maps_free(m);
    s.t[MAPS_ADMIN] = "a@x.example\nb@x.example\n";
    m = compile(&s, &err);
    T_CHECK(m == NULL && err.file == MAPS_ADMIN && err.line == 2, "two admin lines refused");
    maps_free(m);
    s.t[MAPS_ADMIN] = "ghost@example.test\n";
    m = compile(&s, &err);
    T_CHECK(m != NULL && strstr(maps_warning(m), "ghost@example.test is not an account") != NULL,
            "admin naming a local account not added yet: warning (%s)",
            m ? maps_warning(m) : err.reason);
    memset(&c, 0, sizeof c);
    if (m) {
        maps_records(m, MAPS_CDB_ALIASES, collect, &c);
    }
    T_CHECK(strstr(c.buf, "postmaster@example.test=>ghost@example.test\n") != NULL,
            "implicit alias still points at the admin address");
    maps_free(m);
    s.t[MAPS_ADMIN] = "ops@example.net\n";
    s.t[MAPS_ALIASES] = "info@example.test: ghost@example.test\n";
    m = compile(&s, &err);
    T_CHECK(m == NULL && err.file == MAPS_ALIASES, "an explicit alias to a missing account is "
            "still an error");
    maps_free(m);
}

/* ---- cdb round trip through lib/acct ---- */

static void set_users(struct maps_src *src, const char *users)
{
    char *t = strdup(users);
    T_CHECK(t != NULL, "strdup");
    if (t) {
        mapsio_src_set(src, MAPS_USERS, t, strlen(t));
    }
}

static void test_roundtrip(void)
{
    char root[] = "/tmp/test_maps.XXXXXX", path[256], val[MAP_VALUE_MAX];
    struct maps_src src;
    struct maps_err err;
    struct maps_report rep;
    struct maps *m;
    struct acct a;
    struct domain d;
    struct route r;
    FILE *f;
    int k, rc;
    static const char *const files[][2] = {
        { "me", "mail.example.net\n" },
        { "admin", "demo@example.test\n" },
        { "plans", "basic:20M:50M:no\npremium:50M:50M:yes\n" },
        { "domains", "example.test:premium\n" },
        { "users", "demo@example.test:" H6 ":30M:\n" },
        { "aliases", "info@example.test: demo@example.test\n" },
        { "routes", "remote.test:127.0.0.1:10026\n" },
    };

    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/etc", root);
    mkdir(path, 0755);
    for (k = 0; k < 7; k++) {
        snprintf(path, sizeof path, "%s/etc/%s", root, files[k][0]);
        f = fopen(path, "w");
        fputs(files[k][1], f);
        fclose(f);
    }
    /* T_EQ_INT evaluates its argument twice: side effects go through rc */
    rc = mapsio_read(root, &src);
    T_EQ_INT(rc, 0, "read sources");
    m = mapsio_compile(&src, &err);
    T_CHECK(m != NULL, "compile sources");
    rc = mapsio_write_cdbs(root, m, &rep);
    T_EQ_INT(rc, 0, "write cdbs");
    T_EQ_INT(rep.c[MAPS_CDB_USERS].added, 1, "report: 1 user added");
    T_EQ_INT(acct_user(root, "Demo@Example.test", &a), 1, "acct_user finds the account");
    T_EQ_INT(a.quota, 30 * 1048576, "acct_user quota");
    T_EQ_STR(a.plan, "premium", "acct_user plan");
    T_EQ_STR(a.home, "mail/example.test/demo", "acct_user home");
    T_EQ_INT(a.pop3s, 1, "acct_user pop3s");
    T_EQ_STR(a.pwid, P6, "acct_user pwid: the fingerprint of the hash");
    T_EQ_INT(acct_user(root, "nobody@example.test", &a), 0, "acct_user absent");
    T_EQ_INT(acct_domain(root, "example.test", &d), 1, "acct_domain");
    T_EQ_INT(d.maxquota, 50 * 1048576, "acct_domain maxquota");
    T_EQ_INT(acct_alias(root, "postmaster@example.test", val, sizeof val), 1, "implicit alias");
    T_EQ_STR(val, "demo@example.test", "implicit alias target");
    T_EQ_INT(acct_route(root, "remote.test", &r), 1, "acct_route");
    T_EQ_INT(r.port, 10026, "route port");
    T_EQ_INT(cdbmap_get(root, "auth", "demo@example.test", 17, val, sizeof val, NULL), 1,
             "auth.cdb has the hash");
    T_EQ_STR(val, H6, "auth hash");
    maps_free(m);
    /* a second build reports the change */
    m = mapsio_compile(&src, &err);
    rc = mapsio_write_cdbs(root, m, &rep);
    T_EQ_INT(rc, 0, "rewrite cdbs");
    T_EQ_INT(rep.c[MAPS_CDB_USERS].added + rep.c[MAPS_CDB_USERS].removed
             + rep.c[MAPS_CDB_USERS].changed, 0, "report: nothing changed");
    maps_free(m);
    /* a new hash (mailacct passwd): the account's users.cdb record changes with it, and the
       report counts one password changed, not a changed account as well */
    set_users(&src, "demo@example.test:" HY ":30M:\n");
    m = mapsio_compile(&src, &err);
    rc = m ? mapsio_write_cdbs(root, m, &rep) : -1;
    T_EQ_INT(rc, 0, "a build with a new hash");
    T_EQ_INT(rep.c[MAPS_CDB_USERS].changed, 0, "report: a new password is no changed account");
    T_EQ_INT(rep.passwords, 1, "report: one password changed");
    T_EQ_INT(acct_user(root, "demo@example.test", &a), 1, "acct_user after the new hash");
    T_EQ_STR(a.pwid, PY, "its pwid is the new hash's");
    maps_free(m);
    /* disabled by hand, then enabled again: a changed account and a changed login each time */
    set_users(&src, "demo@example.test:" HY ":30M:disabled\n");
    m = mapsio_compile(&src, &err);
    rc = m ? mapsio_write_cdbs(root, m, &rep) : -1;
    T_EQ_INT(rc, 0, "a build with the account disabled");
    T_EQ_INT(rep.c[MAPS_CDB_USERS].changed, 1, "report: disabled, a changed account");
    T_EQ_INT(rep.passwords, 1, "report: disabled, a changed login");
    maps_free(m);
    set_users(&src, "demo@example.test:" H6 ":30M:\n");
    m = mapsio_compile(&src, &err);
    rc = m ? mapsio_write_cdbs(root, m, &rep) : -1;
    T_EQ_INT(rc, 0, "a build with the account enabled and its old hash");
    T_EQ_INT(rep.c[MAPS_CDB_USERS].changed, 1, "report: enabled, a changed account");
    T_EQ_INT(rep.passwords, 1, "report: enabled with another hash, one changed login");
    maps_free(m);
    mapsio_src_free(&src);
    snprintf(path, sizeof path, "rm -rf '%s'", root);
    rc = system(path);
    T_EQ_INT(rc, 0, "cleanup");
}

struct raw_record {
    const char *key, *val;
};

static int write_raw_cdb(int fd, const void *ctx)
{
    const struct raw_record *r = ctx;
    struct cdb_make cm;
    if (cdb_make_start(&cm, fd) < 0
        || cdb_make_add(&cm, r->key, (unsigned)strlen(r->key), r->val,
                        (unsigned)strlen(r->val)) < 0) {
        return -1;
    }
    return cdb_make_finish(&cm);
}

/* lib/acct reads users.cdb's pwid= as it is: a record from maps built before it has none
   (""), and one that is not a fingerprint's length is refused */
static void test_acct_pwid(void)
{
    static const struct {
        const char *val;
        int found;
        const char *pwid, *name;
    } rows[] = {
        { "quota=1 plan=basic pop3s=0 home=mail/x.test/y", 1, "", "maps from before pwid=" },
        { "quota=1 plan=basic pop3s=0 home=mail/x.test/y pwid=0123456789abcdef", 1,
          "0123456789abcdef", "pwid= read" },
        { "quota=1 plan=basic pop3s=0 home=mail/x.test/y pwid=0123456789abcdef disabled=1", 1,
          "0123456789abcdef", "pwid= before other fields" },
        { "quota=1 plan=basic pop3s=0 home=mail/x.test/y pwid=0123456789abcdef0", -1, "",
          "pwid= too long" },
    };
    char root[] = "/tmp/test_maps.XXXXXX", dir[256];
    struct acct a;
    size_t i;
    int rc;
    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    snprintf(dir, sizeof dir, "%s/cdb", root);
    mkdir(dir, 0755);
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct raw_record r = { "y@x.test", rows[i].val };
        rc = mapsio_write_file(dir, "users.cdb", 0644, 0, 0, 0, write_raw_cdb, &r);
        T_EQ_INT(rc, 0, "users.cdb written");
        rc = acct_user(root, "y@x.test", &a);
        T_EQ_INT(rc, rows[i].found, rows[i].name);
        if (rc == 1) {
            T_EQ_STR(a.pwid, rows[i].pwid, rows[i].name);
        }
    }
    snprintf(dir, sizeof dir, "rm -rf '%s'", root);
    rc = system(dir);
    T_EQ_INT(rc, 0, "cleanup");
}

static void test_text_find(void)
{
    static const char t[] = "# demo@example.test:x\n a@example.test : y\nb@example.test:z";
    size_t s, e;
    T_EQ_INT(maps_text_find(t, strlen(t), "demo@example.test", &s, &e), 0, "comment not found");
    T_EQ_INT(maps_text_find(t, strlen(t), "a@example.test", &s, &e), 1, "key with spaces found");
    T_CHECK(s == 22 && e == 42, "line bounds (%zu, %zu)", s, e);
    T_EQ_INT(maps_text_find(t, strlen(t), "b@example.test", &s, &e), 1, "last line found");
    T_CHECK(e == strlen(t), "last line without newline ends at len");
}

static void test_sheet(void)
{
    struct sheet s;
    struct buf b;
    s.addr = "demo@example.test";
    s.domain = "example.test";
    s.me = "mail.example.net";
    s.password = "p<&>w";
    s.quota = 50 * 1048576;
    s.pop3s = 1;
    buf_init(&b, SHEET_MAX);
    T_EQ_INT(sheet_text(&s, &b), 0, "text sheet");
    T_CHECK(strstr(b.s, "受信メールサーバ名: pop3.example.test") != NULL, "JA incoming server");
    T_CHECK(strstr(b.s, "Incoming mail server: pop3.example.test") != NULL, "EN incoming server");
    T_CHECK(strstr(b.s, "995") != NULL && strstr(b.s, "mail.example.net") != NULL,
            "POP3S on the host of etc/me");
    T_CHECK(strstr(b.s, "465") != NULL, "port 465");
    T_CHECK(strstr(b.s, "25 または 587") != NULL, "JA ports 25/587");
    T_CHECK(strstr(b.s, "SMTP Auth または POP before SMTP") != NULL, "JA SMTP auth");
    T_CHECK(strstr(b.s, "p<&>w") != NULL, "password shown");
    T_CHECK(strstr(b.s, "50 MB") != NULL, "quota");
    T_CHECK(strstr(b.s, "1.37") != NULL && strstr(b.s, "13MB~18MB") != NULL, "encoding note");
    T_CHECK(strstr(b.s, "受信メールサーバ名") < strstr(b.s, "Incoming mail server"),
            "Japanese first");
    buf_reset(&b);
    s.pop3s = 0;
    s.password = NULL;
    T_EQ_INT(sheet_html(&s, &b), 0, "html sheet");
    T_CHECK(strstr(b.s, "p<&>w") == NULL, "reprint has no password");
    T_CHECK(strstr(b.s, "995") == NULL, "no 995 without POP3S");
    T_CHECK(strstr(b.s, "<meta charset=\"utf-8\"/>") != NULL, "UTF-8 declared");
    buf_reset(&b);
    s.password = "p<&>w";
    sheet_html(&s, &b);
    T_CHECK(strstr(b.s, "p&lt;&amp;&gt;w") != NULL && strstr(b.s, "p<&>w") == NULL,
            "password escaped in HTML");
    buf_free(&b);
}

/* Several accounts' sheets on one printable page (a change of plan's mail); the notice of a
   change of plan that turns POP over SSL on or off */
static void test_sheet_plan(void)
{
    struct sheet s[2];
    struct sheet_plan p;
    struct buf b, small;
    const char *first, *second;
    memset(s, 0, sizeof s);
    s[0].addr = "a@example.test";
    s[1].addr = "b<i>@example.test";
    s[0].domain = s[1].domain = "example.test";
    s[0].me = s[1].me = "mail.example.net";
    s[0].quota = s[1].quota = 50 * 1048576;
    s[0].pop3s = s[1].pop3s = 1;
    buf_init(&b, 2 * SHEET_MAX);
    T_EQ_INT(sheet_html_list(s, 2, "example.test", &b), 0, "two sheets on a page");
    T_CHECK(strstr(b.s, "<title>メールアカウント設定情報 / Mail account settings: example.test"
                   "</title>") != NULL, "titled with the domain");
    first = strstr(b.s, "<div class=\"cols\">");
    second = first ? strstr(first + 1, "<div class=\"cols\">") : NULL;
    T_CHECK(first && second && strstr(second + 1, "<div class=\"cols\">") == NULL,
            "one block per account");
    T_CHECK(second && strstr(first, "a@example.test") < second
            && strstr(second, "b&lt;i&gt;@example.test") != NULL, "each in its block, escaped");
    T_CHECK(strstr(b.s, "break-before:page") != NULL, "one account per printed page");
    T_CHECK(strstr(b.s, "別途お知らせしたパスワード") != NULL, "no password");
    buf_reset(&b);
    T_EQ_INT(sheet_html(&s[0], &b), 0, "one sheet");
    first = strstr(b.s, "<div class=\"cols\">");
    T_CHECK(first && strstr(first + 1, "<div class=\"cols\">") == NULL, "one block");
    T_CHECK(strstr(b.s, ": a@example.test</title>") != NULL, "titled with its address");

    memset(&p, 0, sizeof p);
    p.domain = "example.test";
    p.was = "basic";
    p.plan = "premium";
    p.me = "mail.example.net";
    p.pop3s_changed = 1;
    p.pop3s = 1;
    p.addrs = 2;
    p.part = p.parts = 1;
    buf_reset(&b);
    T_EQ_INT(sheet_plan_text(&p, &b), 0, "the notice, POP over SSL on");
    T_CHECK(strstr(b.s, "ドメイン example.test のプランを、ベーシックプランからプレミアムプランへ"
                   "変更致しました。") != NULL, "JA: the plans by the manual's names");
    T_CHECK(strstr(b.s, "  受信メールサーバ名: mail.example.net\n  使用ポート: 995\n"
                   "  セキュア対応: 有効\n") != NULL, "JA: the server, 995, the manual's rows");
    T_CHECK(strstr(b.s, "from the Basic plan to the Premium plan") != NULL, "EN");
    T_CHECK(strstr(b.s, "各メールアドレス (2 件)") != NULL, "the count");
    T_CHECK(strstr(b.s, "通目") == NULL, "one mail: no part");
    T_CHECK(strstr(b.s, "ドメイン") < strstr(b.s, "The plan of"), "Japanese first");
    T_CHECK(strstr(b.s, "割り当てディスク容量") == NULL, "no size lowered: not spoken of");
    buf_reset(&b);
    p.was = "premium";
    p.plan = "bronze";
    p.pop3s = 0;
    p.part = 2;
    p.parts = 3;
    T_EQ_INT(sheet_plan_text(&p, &b), 0, "the notice, POP over SSL off");
    T_CHECK(strstr(b.s, "プレミアムプランからbronzeプランへ") != NULL, "JA: an operator's plan by id");
    T_CHECK(strstr(b.s, "The bronze plan does not include POP over SSL (mail.example.net, port "
                   "995).") != NULL, "EN: an operator's plan, starting a sentence");
    T_CHECK(strstr(b.s, "  受信メールサーバ名: pop3.example.test\n  メールサーバの種類: POP3\n"
                   "  使用ポート: 110\n  セキュア対応: 無効\n") != NULL, "JA: back to 110");
    T_CHECK(strstr(b.s, "(3 通のうち 2 通目)") != NULL && strstr(b.s, "(mail 2 of 3)") != NULL,
            "the part");
    T_CHECK(strstr(b.s, "割り当てディスク容量") == NULL, "no size lowered: not spoken of");
    buf_init(&small, 256);
    T_EQ_INT(sheet_plan_text(&p, &small), -1, "too small a buffer: -1, not cut short");
    buf_reset(&small);
    T_EQ_INT(sheet_html_list(s, 2, "example.test", &small), -1, "too small for the page");
    buf_free(&small);
    {
        /* pro -> basic: the servers stay, the default size goes from 50 to 20 MB */
        struct sheet_full full[1];
        memset(full, 0, sizeof full);
        snprintf(full[0].addr, sizeof full[0].addr, "big@example.test");
        full[0].used = 31 * 1048576;
        p.was = "pro";
        p.plan = "basic";
        p.pop3s_changed = p.pop3s = 0;
        p.part = p.parts = 1;
        p.was_quota = 50 * 1048576;
        p.quota = 20 * 1048576;
        p.lowered = 3;
        p.full = full;
        p.nfull = 1;
        p.full_total = 2;
        p.addon = 1;
        buf_reset(&b);
        T_EQ_INT(sheet_plan_text(&p, &b), 0, "the notice, a smaller mailbox");
        T_CHECK(strstr(b.s, "POP over SSL") == NULL && strstr(b.s, "995") == NULL,
                "POP over SSL unchanged: not spoken of");
        T_CHECK(strstr(b.s, "[利用可能なディスク容量]\n  割り当てディスク容量: 20 MB (これまで 50 MB)\n")
                != NULL, "JA: the new size, the manual's words");
        T_CHECK(strstr(b.s, "ベーシックプランでは、1 つのメールアドレスの割り当てディスク容量は 20 MB 標準と"
                       "なります。3 件のメールアドレスの割り当てディスク容量が 50 MB から 20 MB に"
                       "なりました。") != NULL, "JA: how many");
        T_CHECK(strstr(b.s, "From (送信者) にエラーメッセージが返ります") != NULL, "JA: what happens");
        T_CHECK(strstr(b.s, "  big@example.test (ご利用量 31 MB)\n  ほか 1 件\n") != NULL,
                "JA: the full ones, and how many more");
        T_CHECK(strstr(b.s, "メール容量追加サービスをお申し込み頂くことで 50 MB までご利用頂けます")
                != NULL, "JA: the add-on");
        T_CHECK(strstr(b.s, "the mailbox of 3 addresses is now 20 MB (it was 50 MB)") != NULL,
                "EN: the size");
        T_CHECK(strstr(b.s, "  big@example.test (31 MB in use)\n  and 1 more\n") != NULL,
                "EN: the full ones");
    }
    buf_free(&b);
}

/* psl.cdb: compiled from a list file, answering as the file does while the file is as it
   was; a changed file is read itself instead, until the next build compiles it again */
static void psl_expect(const char *root, const char *list, int cdb, const char *const (*t)[3],
                       size_t n, int col, const char *what)
{
    struct dmarc_psl l;
    char org[256];
    size_t i;
    int rc;

    dmarc_psl_lazy(&l, list, root);
    T_CHECK(dmarc_psl_ready(&l) == &l && (l.db != NULL) == cdb, "%s: %s", what,
            cdb ? "psl.cdb answers" : "the list file is read");
    for (i = 0; i < n; i++) {
        rc = dmarc_orgdomain(&l, t[i][0], org, sizeof org);
        T_CHECK(rc == 0 && strcmp(org, t[i][col]) == 0, "%s: %s -> %s (want %s)", what, t[i][0],
                org, t[i][col]);
    }
    dmarc_psl_free(&l);
}

static void test_psl(void)
{
    static const char *const v1 = "// comment\nCOM\njp\nco.jp\n*.kawasaki.jp\n"
                                  "!city.kawasaki.jp\n";
    static const char *const v2 = "com\njp\n";
    static const char *const t[][3] = {         /* domain, with v1, with v2 */
        { "a.b.example.co.jp", "example.co.jp", "co.jp" },
        { "x.y.kawasaki.jp", "x.y.kawasaki.jp", "kawasaki.jp" },
        { "a.city.kawasaki.jp", "city.kawasaki.jp", "kawasaki.jp" },
        { "mail.example.com", "example.com", "example.com" },
    };
    const size_t n = sizeof t / sizeof t[0];
    char root[] = "/tmp/test_maps_psl.XXXXXX", list[256], path[256], val[128], st[96];
    struct stat sb, sb2;
    FILE *f;
    int rc;

    if (!mkdtemp(root)) {
        T_CHECK(0, "mkdtemp");
        return;
    }
    snprintf(list, sizeof list, "%s/list.dat", root);
    snprintf(path, sizeof path, "%s/cdb", root);
    mkdir(path, 0755);
    f = fopen(list, "w");
    fputs(v1, f);
    fclose(f);
    psl_expect(root, list, 0, t, n, 1, "no psl.cdb yet");
    rc = mapsio_write_psl(root, list);
    T_EQ_INT(rc, 0, "psl.cdb written");
    snprintf(path, sizeof path, "%s/cdb/psl.cdb", root);
    T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "psl.cdb 0644");
    T_EQ_INT(cdbmap_get(root, "psl", "com", 3, val, sizeof val, NULL), 1, "rules lower-cased");
    T_EQ_INT(cdbmap_get(root, "psl", "//", 2, val, sizeof val, NULL), 0, "no comment");
    rc = dmarc_psl_stamp(list, st, sizeof st);
    T_EQ_INT(rc, 0, "stamp");
    rc = cdbmap_get(root, "psl", DMARC_PSL_STAMP, strlen(DMARC_PSL_STAMP), val, sizeof val, NULL);
    T_CHECK(rc == 1 && strcmp(val, st) == 0, "the list file's stamp recorded (%s)", val);
    psl_expect(root, list, 1, t, n, 1, "compiled");
    rc = mapsio_write_psl(root, list);
    T_CHECK(rc == 0 && stat(path, &sb2) == 0 && sb2.st_ino == sb.st_ino, "current: kept");
    f = fopen(list, "w");       /* a new list (the same inode, another size and time) */
    fputs(v2, f);
    fclose(f);
    psl_expect(root, list, 0, t, n, 2, "list changed, not compiled yet");
    rc = mapsio_write_psl(root, list);
    T_CHECK(rc == 0 && stat(path, &sb2) == 0 && sb2.st_ino != sb.st_ino, "changed: rewritten");
    psl_expect(root, list, 1, t, n, 2, "compiled again");
    /* the list file an installation uses: etc/env/PSL_FILE when it names an absolute path */
    T_EQ_STR(dmarc_psl_path(root, val, sizeof val), DMARC_PSL_PATH, "no setting: Debian's");
    snprintf(path, sizeof path, "%s/etc", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/etc/env", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/etc/env/PSL_FILE", root);
    f = fopen(path, "w");
    fprintf(f, "%s\n", list);
    fclose(f);
    T_EQ_STR(dmarc_psl_path(root, val, sizeof val), list, "PSL_FILE names the list");
    f = fopen(path, "w");
    fputs("relative/list.dat\n", f);
    fclose(f);
    T_EQ_STR(dmarc_psl_path(root, val, sizeof val), DMARC_PSL_PATH, "a relative path: Debian's");
    unlink(list);
    psl_expect(root, list, 0, t, n, 2, "no list file: the last two labels");
    snprintf(path, sizeof path, "rm -rf '%s'", root);
    rc = system(path);
    T_EQ_INT(rc, 0, "cleanup");
}

int main(void)
{
    test_lines();
    test_compile_errors();
    test_sending_fields();
    test_domains_from();
    test_deep_chain();
    test_records();
    test_admin_missing();
    test_roundtrip();
    test_acct_pwid();
    test_text_find();
    test_sheet();
    test_sheet_plan();
    test_psl();
    return T_DONE();
}

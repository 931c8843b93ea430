/* test_authreq.c: authd request decoder, checkpw input decoder, hex, log sanitising, pw_verify */
#include "authd/authreq.h"
#include "authd/pwcheck.h"
#include "str.h"
#include "t.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ(s) s, sizeof(s) - 1

struct req_case {
    const char *name;
    const char *buf;
    size_t len;
    enum authreq_err want;
};

static const struct req_case req_cases[] = {
    { "good pop3", REQ("yubin-auth1\0pop3\0" "1.2.3.4\0demo@example.test\0pw\0"), AUTHREQ_OK },
    { "good smtp ipv6", REQ("yubin-auth1\0smtp\0::1\0demo@example.test\0pw\0"), AUTHREQ_OK },
    { "good web (member page)", REQ("yubin-auth1\0web\0" "127.0.0.1\0demo@example.test\0pw\0"),
      AUTHREQ_OK },
    { "good empty ip", REQ("yubin-auth1\0smtp\0\0u\0p\0"), AUTHREQ_OK },
    { "password with spaces and 8-bit", REQ("yubin-auth1\0smtp\0\0u\0 p w \xe3\x81\x82\0"),
      AUTHREQ_OK },
    { "empty", "", 0, AUTHREQ_EMAGIC },
    { "magic only no nul", REQ("yubin-auth1"), AUTHREQ_EMAGIC },
    { "wrong version", REQ("yubin-auth2\0pop3\0\0u\0p\0"), AUTHREQ_EMAGIC },
    { "magic prefix", REQ("yubin-auth\0pop3\0\0u\0p\0"), AUTHREQ_EMAGIC },
    { "garbage", REQ("GET / HTTP/1.0\r\n\r\n"), AUTHREQ_EMAGIC },
    { "four fields", REQ("yubin-auth1\0pop3\0\0u\0"), AUTHREQ_EFIELDS },
    { "last field without nul", REQ("yubin-auth1\0pop3\0\0u\0p"), AUTHREQ_EFIELDS },
    { "six fields", REQ("yubin-auth1\0pop3\0\0u\0p\0x\0"), AUTHREQ_EFIELDS },
    { "trailing octet", REQ("yubin-auth1\0pop3\0\0u\0p\0x"), AUTHREQ_EFIELDS },
    { "unknown service", REQ("yubin-auth1\0imap\0\0u\0p\0"), AUTHREQ_ESERVICE },
    { "service upper", REQ("yubin-auth1\0POP3\0\0u\0p\0"), AUTHREQ_ESERVICE },
    { "empty service", REQ("yubin-auth1\0\0\0u\0p\0"), AUTHREQ_ESERVICE },
    { "admin service (a domain administrator)", REQ("yubin-auth1\0admin\0\0shop.test\0p\0"),
      AUTHREQ_OK },
    { "admin prefix is no service", REQ("yubin-auth1\0adm\0\0shop.test\0p\0"),
      AUTHREQ_ESERVICE },
    { "ip with space", REQ("yubin-auth1\0pop3\0" "1.2.3.4 \0u\0p\0"), AUTHREQ_EIP },
    { "ip name", REQ("yubin-auth1\0pop3\0localhost\0u\0p\0"), AUTHREQ_EIP },
    { "ip digits only", REQ("yubin-auth1\0pop3\0" "1234\0u\0p\0"), AUTHREQ_EIP },
    { "ip too long",
      REQ("yubin-auth1\0pop3\0" "1111:2222:3333:4444:5555:6666:7777:8888:9999:0\0u\0p\0"),
      AUTHREQ_EIP },
    { "empty login", REQ("yubin-auth1\0pop3\0\0\0p\0"), AUTHREQ_ELOGIN },
    { "login with LF", REQ("yubin-auth1\0pop3\0\0a\nb\0p\0"), AUTHREQ_ELOGIN },
    { "login with DEL", REQ("yubin-auth1\0pop3\0\0a\x7f\0p\0"), AUTHREQ_ELOGIN },
    { "empty password", REQ("yubin-auth1\0pop3\0\0u\0\0"), AUTHREQ_EPASSWORD },
};

static void test_requests(void)
{
    size_t i;
    for (i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
        const struct req_case *c = &req_cases[i];
        struct authreq r;
        T_EQ_INT(authreq_parse(c->buf, c->len, &r), c->want, c->name);
    }
}

static void test_fields(void)
{
    static const char good[] = "yubin-auth1\0pop3\0" "1.2.3.4\0Demo@Example.test\0pw x\0";
    struct authreq r;
    T_EQ_INT(authreq_parse(good, sizeof good - 1, &r), AUTHREQ_OK, "fields parse");
    T_EQ_STR(r.service, "pop3", "service");
    T_EQ_STR(r.ip, "1.2.3.4", "ip");
    T_EQ_STR(r.login, "Demo@Example.test", "login kept as sent");
    T_EQ_INT(r.loginlen, 17, "login length");
    T_EQ_STR(r.password, "pw x", "password");
    T_EQ_INT(r.passlen, 4, "password length");
}

/* Build a request with the given login and password lengths. */
static size_t build(char *buf, size_t loginlen, size_t passlen)
{
    size_t n = 0;
    static const char head[] = "yubin-auth1\0smtp\0" "127.0.0.1\0";
    memcpy(buf, head, sizeof head - 1);
    n = sizeof head - 1;
    memset(buf + n, 'l', loginlen);
    n += loginlen;
    buf[n++] = '\0';
    memset(buf + n, 'p', passlen);
    n += passlen;
    buf[n++] = '\0';
    return n;
}

static void test_bounds(void)
{
    static char buf[4096];
    struct authreq r;
    size_t n;

    n = build(buf, AUTH_FIELD_MAX, AUTH_FIELD_MAX);
    T_EQ_INT(authreq_parse(buf, n, &r), AUTHREQ_OK, "255-octet login and password");
    n = build(buf, AUTH_FIELD_MAX + 1, 10);
    T_EQ_INT(authreq_parse(buf, n, &r), AUTHREQ_ELOGIN, "256-octet login");
    n = build(buf, 10, AUTH_FIELD_MAX + 1);
    T_EQ_INT(authreq_parse(buf, n, &r), AUTHREQ_EPASSWORD, "256-octet password");
    n = build(buf, 10, 2000);
    T_EQ_INT(authreq_parse(buf, n, &r), AUTHREQ_ETOOLONG, "request over 1 KB");
    memset(buf, 0, AUTH_REQ_MAX + 1);
    T_EQ_INT(authreq_parse(buf, AUTH_REQ_MAX + 1, &r), AUTHREQ_ETOOLONG, "1025 NULs");
    T_EQ_INT(authreq_parse(buf, AUTH_REQ_MAX, &r), AUTHREQ_EMAGIC, "1024 NULs");
    /* a request cut anywhere is refused */
    {
        static const char good[] = "yubin-auth1\0pop3\0" "1.2.3.4\0u@x.test\0pw\0";
        size_t cut, bad = 0;
        for (cut = 0; cut < sizeof good - 1; cut++) {
            bad += authreq_parse(good, cut, &r) != AUTHREQ_OK;
        }
        T_EQ_INT(bad, sizeof good - 1, "every truncation refused");
    }
}

struct cpw_case {
    const char *name;
    const char *buf;
    size_t len;
    int pending_mode;
    int want;
    const char *login;
    const char *password;
    size_t pendinglen;
};

static const struct cpw_case cpw_cases[] = {
    { "classic", REQ("u@x.test\0pw\0" "123\0"), 0, 0, "u@x.test", "pw", 0 },
    { "classic no timestamp", REQ("u@x.test\0pw\0"), 0, 0, "u@x.test", "pw", 0 },
    { "classic empty timestamp", REQ("u@x.test\0pw\0\0"), 0, 0, "u@x.test", "pw", 0 },
    { "classic no nul", REQ("u@x.test"), 0, 2, NULL, NULL, 0 },
    { "classic password no nul", REQ("u@x.test\0pw"), 0, 2, NULL, NULL, 0 },
    { "empty input", "", 0, 0, 2, NULL, NULL, 0 },
    { "empty login", REQ("\0pw\0"), 0, 1, NULL, NULL, 0 },
    { "empty password", REQ("u\0\0"), 0, 1, NULL, NULL, 0 },
    { "login with CR", REQ("u\r\0pw\0"), 0, 1, NULL, NULL, 0 },
    { "pending none", REQ("u@x.test\0pw\0"), 1, 0, "u@x.test", "pw", 0 },
    { "pending some", REQ("u@x.test\0pw\0STAT\r\nLIST\r\n"), 1, 0, "u@x.test", "pw", 12 },
    { "pending with nul", REQ("u@x.test\0pw\0a\0b"), 1, 0, "u@x.test", "pw", 3 },
    { "pending no password nul", REQ("u@x.test\0pw"), 1, 2, NULL, NULL, 0 },
};

static void test_checkpw(void)
{
    static char big[CHECKPW_MAX + POP3_PENDING_MAX + 16];
    struct checkpw_input in;
    size_t i;
    for (i = 0; i < sizeof cpw_cases / sizeof cpw_cases[0]; i++) {
        const struct cpw_case *c = &cpw_cases[i];
        int r = checkpw_parse(c->buf, c->len, c->pending_mode, &in);
        T_EQ_INT(r, c->want, c->name);
        if (r == 0 && c->want == 0) {
            T_EQ_STR(in.login, c->login, c->name);
            T_EQ_STR(in.password, c->password, c->name);
            T_EQ_INT(in.pendinglen, c->pendinglen, c->name);
        }
    }
    /* classic: 512 octets in all at most */
    memset(big, 'a', sizeof big);
    big[200] = '\0';
    big[400] = '\0';
    T_EQ_INT(checkpw_parse(big, CHECKPW_MAX, 0, &in), 0, "classic 512 octets");
    T_EQ_INT(in.passlen, 199, "classic password length");
    T_EQ_INT(checkpw_parse(big, CHECKPW_MAX + 1, 0, &in), 2, "classic 513 octets");
    /* pending: credentials <= 512, pending <= 4096 */
    T_EQ_INT(checkpw_parse(big, 401 + POP3_PENDING_MAX, 1, &in), 0, "pending exactly 4096");
    T_EQ_INT(in.pendinglen, POP3_PENDING_MAX, "pending length");
    T_EQ_INT(checkpw_parse(big, 402 + POP3_PENDING_MAX, 1, &in), 2, "pending 4097");
    T_EQ_INT(checkpw_parse(big, CHECKPW_MAX + POP3_PENDING_MAX + 1, 1, &in), 2, "input over");
    big[200] = 'a';
    big[100] = '\0';
    T_EQ_INT(checkpw_parse(big, 450, 0, &in), 1, "299-octet password is bad credentials");
    memset(big, 'a', sizeof big);
    big[300] = '\0';
    big[600] = '\0';
    T_EQ_INT(checkpw_parse(big, 700, 1, &in), 2, "credentials over 512 in pending mode");
    big[300] = 'a';
    big[600] = 'a';
    big[400] = '\0';
    big[AUTH_FIELD_MAX + 1] = '\0';
    T_EQ_INT(checkpw_parse(big, 700, 1, &in), 1, "256-octet login is bad credentials");
}

static void test_hex_logsafe(void)
{
    char out[64];
    T_EQ_INT(hex_encode("\x00\x01\xff" "A", 4, out, sizeof out), 0, "hex ok");
    T_EQ_STR(out, "0001ff41", "hex text");
    T_EQ_INT(hex_encode("", 0, out, sizeof out), 0, "hex empty");
    T_EQ_STR(out, "", "hex empty text");
    T_EQ_INT(hex_encode("abc", 3, out, 6), -1, "hex small buffer");
    T_EQ_INT(hex_encode("abc", 3, out, 7), 0, "hex exact buffer");
    T_EQ_INT(hex_encode("abc", 3, out, 0), -1, "hex zero buffer");
    authreq_logsafe("a b=c\nd\xe3", 8, out, sizeof out);
    T_EQ_STR(out, "a?b?c?d?", "logsafe replaces space, =, LF, 8-bit");
    authreq_logsafe("abcdef", 6, out, 4);
    T_EQ_STR(out, "abc", "logsafe cuts");
}

/* The internal POP3 service's request line (docs/fleet.md): strict, hostile input refused. */
static void test_fleetreq(void)
{
    static const struct { const char *line; int want; } cases[] = {
        { "login taro@b.test 1.2.3.4 TLSv1.2 5354414c4c0d0a\n", 0 },
        { "login taro@b.test - - -\n", 0 },
        { "grant 1.2.3.4 taro@b.test\n", 0 },
        { "grant - taro@b.test\n", -1 },                  /* a grant needs its address */
        { "login taro@b.test - - -", -1 },                 /* no newline */
        { "login taro@b.test - - -\r\n", -1 },             /* CR is not printable */
        { "login taro@b.test - - - \n", -1 },              /* trailing space */
        { "login taro@b.test  - - -\n", -1 },              /* empty word */
        { "login taro@b.test - -\n", -1 },                 /* a field missing */
        { "login taro@b.test - - - x\n", -1 },             /* one too many */
        { "login Taro@B.test - - -\n", -1 },               /* not a map address */
        { "login taro@b.test x.y - -\n", -1 },             /* not an IP */
        { "login taro@b.test - - 4g\n", -1 },              /* not hex */
        { "login taro@b.test - - 414\n", -1 },             /* odd hex */
        { "login taro@b.test - - -\nlogin x@y.test - - -\n", -1 },   /* two lines */
        { "su taro@b.test\n", -1 },
        { "\n", -1 },
    };
    static char big[FLEETREQ_MAX + 64];
    struct fleetreq r;
    size_t i, n;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(fleetreq_parse(cases[i].line, strlen(cases[i].line), &r), cases[i].want,
                 cases[i].line);
    }
    T_EQ_INT(fleetreq_parse("login taro@b.test 1.2.3.4 TLSv1.2 5354\n", 39, &r), 0, "fields");
    T_EQ_STR(r.user, "taro@b.test", "user");
    T_EQ_STR(r.ip, "1.2.3.4", "ip");
    T_EQ_STR(r.proto, "TLSv1.2", "proto");
    T_EQ_STR(r.hex, "5354", "hex");
    T_EQ_INT(fleetreq_parse("login a@b.test\0 - - -\n", 22, &r), -1, "NUL");
    /* the longest pending input fits; one octet more does not */
    n = (size_t)snprintf(big, sizeof big, "login a@b.test - - ");
    memset(big + n, 'a', FLEETREQ_HEX_MAX);
    big[n + FLEETREQ_HEX_MAX] = '\n';
    T_EQ_INT(fleetreq_parse(big, n + FLEETREQ_HEX_MAX + 1, &r), 0, "largest pending");
    memset(big + n, 'a', FLEETREQ_HEX_MAX + 2);
    big[n + FLEETREQ_HEX_MAX + 2] = '\n';
    T_EQ_INT(fleetreq_parse(big, n + FLEETREQ_HEX_MAX + 3, &r), -1, "pending too long");
}

static void test_hashes(void)
{
    static const char *const prefixes[] = { "$6$", "$y$", "$2b$", "$5$", "$gy$", "$1$" };
    size_t i;
    for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char setting[CRYPT_GENSALT_OUTPUT_SIZE], hash[PW_HASH_MAX];
        struct crypt_data cd;
        const char *h;
        memset(&cd, 0, sizeof cd);
        if (!crypt_gensalt_rn(prefixes[i], 0, NULL, 0, setting, sizeof setting)) {
            T_CHECK(0, "gensalt %s", prefixes[i]);
            continue;
        }
        h = crypt_rn("Secret pw", setting, &cd, sizeof cd);
        T_CHECK(h && h[0] != '*', "hash %s", prefixes[i]);
        if (!h) {
            continue;
        }
        memcpy(hash, h, strlen(h) + 1);
        T_EQ_INT(pw_verify("Secret pw", hash), 1, prefixes[i]);
        T_EQ_INT(pw_verify("secret pw", hash), 0, "case-sensitive");
        T_EQ_INT(pw_verify("Secret pw ", hash), 0, "trailing space");
        T_EQ_INT(pw_verify("Secret p", hash), 0, "prefix of the password");
        T_EQ_INT(pw_verify("Secret pw", setting), 0, "a bare setting never matches");
    }
    /* a fixed vector: sha512-crypt of "Hello world!" with salt "saltstring" (glibc docs) */
    T_EQ_INT(pw_verify("Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O8"
                       "17G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"), 1, "sha512 vector");
    T_EQ_INT(pw_verify("x", "!"), -1, "locked hash unusable");
    T_EQ_INT(pw_verify("x", "*"), -1, "star hash unusable");
    T_EQ_INT(pw_verify("x", ""), -1, "empty hash unusable");
    T_EQ_INT(pw_verify("x", "$9z$nonsense"), -1, "unknown method unusable");
    T_CHECK(pw_verify("x", PW_DUMMY_SETTING) == 0, "dummy setting verifies to no");
    T_EQ_INT(str_equal_ct("abc", "abc", 3), 1, "equal");
    T_EQ_INT(str_equal_ct("abc", "abd", 3), 0, "differs last");
    T_EQ_INT(str_equal_ct("xbc", "abc", 3), 0, "differs first");
}

int main(void)
{
    test_requests();
    test_fields();
    test_bounds();
    test_checkpw();
    test_hex_logsafe();
    test_fleetreq();
    test_hashes();
    return T_DONE();
}

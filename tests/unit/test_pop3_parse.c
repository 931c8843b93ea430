/* test_pop3_parse: POP3 command lines, message numbers, AUTH PLAIN, POP3_PENDING hex */
#include "t.h"
#include "pop3d/pop3_parse.h"
#include "b64.h"

#include <string.h>

struct case_ {
    const char *line;
    enum pop3_cmd cmd;
    enum pop3_syntax syn;
    int nnum;
    unsigned long n0, n1;
    const char *arg;        /* expected arg, or NULL to skip */
};

static const struct case_ cases[] = {
    {"STAT", POP3_STAT, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"stat", POP3_STAT, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"StAt  ", POP3_STAT, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"STAT 1", POP3_STAT, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"LIST", POP3_LIST, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"LIST 3", POP3_LIST, POP3_SYNTAX_OK, 1, 3, 0, NULL},
    {"LIST 3 4", POP3_LIST, POP3_SYNTAX_ARGS, 1, 3, 0, NULL},
    {"LIST x", POP3_LIST, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"LIST -1", POP3_LIST, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"LIST +1", POP3_LIST, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"LIST 0", POP3_LIST, POP3_SYNTAX_OK, 1, 0, 0, NULL},
    {"LIST 99999999999999999999", POP3_LIST, POP3_SYNTAX_OK, 1, 0, 0, NULL},
    {"RETR", POP3_RETR, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"RETR 12", POP3_RETR, POP3_SYNTAX_OK, 1, 12, 0, NULL},
    {"retr 007", POP3_RETR, POP3_SYNTAX_OK, 1, 7, 0, NULL},
    {"RETR 1a", POP3_RETR, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"DELE 2", POP3_DELE, POP3_SYNTAX_OK, 1, 2, 0, NULL},
    {"DELE", POP3_DELE, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"TOP 1 0", POP3_TOP, POP3_SYNTAX_OK, 2, 1, 0, NULL},
    {"TOP 1 10", POP3_TOP, POP3_SYNTAX_OK, 2, 1, 10, NULL},
    {"TOP 1", POP3_TOP, POP3_SYNTAX_ARGS, 1, 1, 0, NULL},
    {"TOP 1 2 3", POP3_TOP, POP3_SYNTAX_ARGS, 2, 1, 2, NULL},
    {"TOP 99999999999 1", POP3_TOP, POP3_SYNTAX_OK, 2, 0, 1, NULL},
    {"TOP 1 99999999999", POP3_TOP, POP3_SYNTAX_OK, 2, 1, (unsigned long)-1, NULL},
    {"UIDL", POP3_UIDL, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"UIDL 5", POP3_UIDL, POP3_SYNTAX_OK, 1, 5, 0, NULL},
    {"NOOP", POP3_NOOP, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"RSET", POP3_RSET, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"QUIT", POP3_QUIT, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"QUIT now", POP3_QUIT, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"CAPA", POP3_CAPA, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"STLS", POP3_STLS, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"USER demo@example.test", POP3_USER, POP3_SYNTAX_OK, 0, 0, 0, "demo@example.test"},
    {"USER demo@example.test  ", POP3_USER, POP3_SYNTAX_OK, 0, 0, 0, "demo@example.test"},
    {"USER", POP3_USER, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"PASS a b  c ", POP3_PASS, POP3_SYNTAX_OK, 0, 0, 0, "a b  c "},
    {"PASS  lead", POP3_PASS, POP3_SYNTAX_OK, 0, 0, 0, " lead"},
    {"PASS", POP3_PASS, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"PASS ", POP3_PASS, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"AUTH", POP3_AUTH, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"AUTH PLAIN", POP3_AUTH, POP3_SYNTAX_OK, 0, 0, 0, "PLAIN"},
    {"AUTH PLAIN AGRlbW8AcHc=", POP3_AUTH, POP3_SYNTAX_OK, 0, 0, 0, "PLAIN"},
    {"AUTH PLAIN a b", POP3_AUTH, POP3_SYNTAX_ARGS, 0, 0, 0, NULL},
    {"APOP x y", POP3_APOP, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"XTND", POP3_UNKNOWN, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"", POP3_UNKNOWN, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"STATS", POP3_UNKNOWN, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"STA", POP3_UNKNOWN, POP3_SYNTAX_OK, 0, 0, 0, NULL},
    {"RETR\t1", POP3_UNKNOWN, POP3_SYNTAX_CTL, 0, 0, 0, NULL},
    {"NOOP\x7f", POP3_UNKNOWN, POP3_SYNTAX_CTL, 0, 0, 0, NULL},
};

static void test_cases(void)
{
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct case_ *c = &cases[i];
        struct pop3_req r;
        enum pop3_syntax syn = pop3_parse(c->line, strlen(c->line), &r);
        T_CHECK(syn == c->syn, "syntax of \"%s\" (got %d want %d)", c->line, syn, c->syn);
        if (c->syn != POP3_SYNTAX_CTL) {
            T_CHECK(r.cmd == c->cmd, "command of \"%s\" (got %d want %d)", c->line, r.cmd,
                    c->cmd);
        }
        if (c->syn == POP3_SYNTAX_OK && c->nnum > 0) {
            T_EQ_INT(r.nnum, c->nnum, c->line);
            T_EQ_INT(r.num[0], c->n0, c->line);
            if (c->nnum > 1) {
                T_EQ_INT(r.num[1], c->n1, c->line);
            }
        }
        if (c->arg) {
            T_CHECK(r.arg && r.arglen == strlen(c->arg) && memcmp(r.arg, c->arg, r.arglen) == 0,
                    "argument of \"%s\"", c->line);
        }
    }
}

static void test_nul(void)
{
    struct pop3_req r;
    static const char line[] = "RETR 1\0 2";
    T_CHECK(pop3_parse(line, sizeof line - 1, &r) == POP3_SYNTAX_CTL, "NUL in a line refused");
    T_CHECK(pop3_parse("AUTH PLAIN AGRlbW8AcHc=", 23, &r) == POP3_SYNTAX_OK && r.arg2
            && r.arg2len == 12, "AUTH initial response found");
}

static int plain(const char *raw, size_t rawlen, char *login, char *pass)
{
    char b64[2048];
    size_t ll, pl;
    if (b64_encode((const unsigned char *)raw, rawlen, b64, sizeof b64) < 0) {
        return -2;
    }
    return pop3_sasl_plain(b64, strlen(b64), login, &ll, pass, &pl);
}

static void test_plain(void)
{
    char login[AUTH_FIELD_MAX + 1], pass[AUTH_FIELD_MAX + 1], raw[600];
    T_CHECK(plain("\0demo@example.test\0pw 1", 23, login, pass) == 0
            && strcmp(login, "demo@example.test") == 0 && strcmp(pass, "pw 1") == 0,
            "PLAIN without authzid");
    T_CHECK(plain("a@b\0a@b\0pw", 10, login, pass) == 0 && strcmp(login, "a@b") == 0,
            "PLAIN with authzid = authcid");
    T_CHECK(plain("x@b\0a@b\0pw", 10, login, pass) == -1, "PLAIN with another authzid");
    T_CHECK(plain("\0a@b\0", 5, login, pass) == -1, "PLAIN with empty password");
    T_CHECK(plain("\0\0pw", 4, login, pass) == -1, "PLAIN with empty authcid");
    T_CHECK(plain("a@b pw", 6, login, pass) == -1, "PLAIN without NULs");
    T_CHECK(plain("\0a\0b\0c", 6, login, pass) == -1, "PLAIN with a third NUL");
    memset(raw, 'p', sizeof raw);
    raw[0] = '\0';
    raw[2] = '\0';
    T_CHECK(plain(raw, 3 + 255, login, pass) == 0 && strlen(pass) == 255,
            "PLAIN with a 255-octet password");
    T_CHECK(plain(raw, 3 + 256, login, pass) == -1, "PLAIN with a 256-octet password");
    T_CHECK(pop3_sasl_plain("=", 1, login, &(size_t){0}, pass, &(size_t){0}) == -1,
            "PLAIN '=' (empty) refused");
    T_CHECK(pop3_sasl_plain("AGRlbW8AcHc", 11, login, &(size_t){0}, pass, &(size_t){0}) == -1,
            "PLAIN with bad base64 length");
    T_CHECK(pop3_sasl_plain("AGRl!W8AcHc=", 12, login, &(size_t){0}, pass, &(size_t){0}) == -1,
            "PLAIN with a non-alphabet character");
}

static int field(const char *raw, size_t rawlen, char *out, size_t *len)
{
    char b64[2048];
    if (b64_encode((const unsigned char *)raw, rawlen, b64, sizeof b64) < 0) {
        return -2;
    }
    return pop3_sasl_field(b64, strlen(b64), out, len);
}

static void test_login_field(void)
{
    char out[AUTH_FIELD_MAX + 1], raw[300];
    size_t len = 0;
    T_CHECK(pop3_sasl_field("ZGVtb0BleGFtcGxlLnRlc3Q=", 24, out, &len) == 0
            && strcmp(out, "demo@example.test") == 0 && len == 17, "LOGIN user name");
    T_CHECK(pop3_sasl_field("=", 1, out, &len) == -1, "LOGIN '=' (empty) refused");
    T_CHECK(pop3_sasl_field("", 0, out, &len) == -1, "LOGIN empty line refused");
    T_CHECK(field("a\0b", 3, out, &len) == -1, "LOGIN field with a NUL refused");
    T_CHECK(pop3_sasl_field("ZGVt!W8=", 8, out, &len) == -1, "LOGIN bad base64 refused");
    memset(raw, 'p', sizeof raw);
    T_CHECK(field(raw, 255, out, &len) == 0 && len == 255 && strlen(out) == 255,
            "LOGIN 255-octet password");
    T_CHECK(field(raw, 256, out, &len) == -1, "LOGIN 256-octet password refused");
    T_CHECK(field(raw, 299, out, &len) == -1, "LOGIN 299-octet field refused");
}

static void test_hex(void)
{
    char out[8];
    T_EQ_INT(pop3_hex_decode("535441540d0a", 12, out, sizeof out), 6, "hex decodes");
    T_CHECK(memcmp(out, "STAT\r\n", 6) == 0, "hex bytes");
    T_EQ_INT(pop3_hex_decode("4A4b", 4, out, sizeof out), 2, "both cases");
    T_EQ_INT(pop3_hex_decode("4", 1, out, sizeof out), -1, "odd length");
    T_EQ_INT(pop3_hex_decode("zz", 2, out, sizeof out), -1, "not hex");
    T_EQ_INT(pop3_hex_decode("000000000000000000", 18, out, sizeof out), -1, "too long");
    T_EQ_INT(pop3_hex_decode("", 0, out, sizeof out), 0, "empty");
}

/* the plan's name in the manual's words (lib/plan.c); an operator's own plan by its id */
static void test_plan_refusal(void)
{
    char out[POP3_REPLY_MAX];
    size_t n = pop3_plan_refusal(out, sizeof out, "basic");
    T_CHECK(n > 0 && strstr(out, "in the basic plan") && strstr(out, "ベーシックプランでは POP over SSL"),
            "basic: ベーシックプラン");
    n = pop3_plan_refusal(out, sizeof out, "dedicated");
    T_CHECK(n > 0 && strstr(out, "専用サーバプランでは"), "dedicated: 専用サーバプラン");
    n = pop3_plan_refusal(out, sizeof out, "gold");
    T_CHECK(n > 0 && strstr(out, "goldプランでは"), "an unknown plan by its id");
    T_CHECK(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n', "CRLF");
}

int main(void)
{
    test_plan_refusal();
    test_cases();
    test_nul();
    test_plain();
    test_login_field();
    test_hex();
    return T_DONE();
}

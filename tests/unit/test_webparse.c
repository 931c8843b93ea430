/* test_webparse.c: the member page's form/query/cookie parsers, the escaper, the Autodiscover
   request parser, the password rule and the autoconfig documents' hosts and ports */
#include "web/autoconf.h"
#include "web/webparse.h"
#include "str.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define S(s) s, sizeof(s) - 1

struct form_case {
    const char *name;
    const char *in;
    size_t len;
    const char *key;
    int want;
    const char *value;
};

static const struct form_case form_cases[] = {
    { "simple", S("a=1&b=2"), "b", 1, "2" },
    { "first wins", S("a=1&a=2"), "a", 1, "1" },
    { "absent", S("a=1&b=2"), "c", 0, NULL },
    { "plus is space", S("addr=taro+yamada"), "addr", 1, "taro yamada" },
    { "percent", S("addr=demo%40example.test"), "addr", 1, "demo@example.test" },
    { "utf-8 percent", S("x=%E3%81%82"), "x", 1, "\xe3\x81\x82" },
    { "encoded key", S("ad%64r=1"), "addr", 1, "1" },
    { "empty value", S("a=&b=2"), "a", 1, "" },
    { "no equals", S("a&b=2"), "a", 1, "" },
    { "prefix key is not the key", S("address=1"), "addr", 0, NULL },
    { "truncated percent", S("a=%4"), "a", -1, NULL },
    { "bad hex", S("a=%zz"), "a", -1, NULL },
    { "encoded NUL", S("a=x%00y"), "a", -1, NULL },
    { "encoded CR LF", S("a=x%0d%0ay"), "a", -1, NULL },
    { "raw control byte", S("a=x\ty"), "a", -1, NULL },
    { "NUL in input is a byte of the value", S("a=x\0y"), "a", -1, NULL },
    { "bad item before is skipped", S("%zz=1&a=2"), "a", 1, "2" },
    { "trailing ampersand", S("a=1&"), "a", 1, "1" },
    { "empty input", S(""), "a", 0, NULL },
};

static void test_form(void)
{
    char out[64], big[WEB_BODY_MAX + 2];
    size_t i, len;
    for (i = 0; i < sizeof form_cases / sizeof form_cases[0]; i++) {
        const struct form_case *c = &form_cases[i];
        int r = web_form_get(c->in, c->len, c->key, out, sizeof out, &len);
        T_EQ_INT(r, c->want, c->name);
        if (r == 1) {
            T_EQ_STR(out, c->value, c->name);
            T_EQ_INT(len, strlen(c->value), c->name);
        }
    }
    T_EQ_INT(web_form_get(S("a=0123456789abcdef"), "a", out, 16, NULL), -1,
             "value over cap is refused, not cut");
    T_EQ_INT(web_form_get(S("a=0123456789abcde"), "a", out, 16, NULL), 1,
             "value of cap-1 fits");
    memset(big, 'x', sizeof big);
    memcpy(big, "a=1&", 4);
    T_EQ_INT(web_form_get(big, WEB_BODY_MAX + 1, "a", out, sizeof out, NULL), -1,
             "input over WEB_BODY_MAX");
    T_EQ_INT(web_form_get(big, WEB_BODY_MAX, "a", out, sizeof out, NULL), 1,
             "input of WEB_BODY_MAX");
}

static void test_cookie(void)
{
    char out[80], big[WEB_COOKIE_MAX + 2];
    T_EQ_INT(web_cookie_get(S("__Host-yubin=abc; other=1"), "__Host-yubin", out, sizeof out), 1,
             "first cookie");
    T_EQ_STR(out, "abc", "first cookie value");
    T_EQ_INT(web_cookie_get(S("a=1;  __Host-yubin=def "), "__Host-yubin", out, sizeof out), 1,
             "later cookie, spaces around");
    T_EQ_STR(out, "def", "later cookie value");
    T_EQ_INT(web_cookie_get(S("__Host-yubin-login=x"), "__Host-yubin", out, sizeof out), 0,
             "a longer name is another cookie");
    T_EQ_INT(web_cookie_get(S("x__Host-yubin=x"), "__Host-yubin", out, sizeof out), 0,
             "a name ending in the name is another cookie");
    T_EQ_INT(web_cookie_get(S("a=1"), "b", out, sizeof out), 0, "absent");
    T_EQ_INT(web_cookie_get(S("b"), "b", out, sizeof out), 0, "no equals");
    T_EQ_INT(web_cookie_get(S("b=0123456789"), "b", out, 8), -1, "value over cap");
    memset(big, 'x', sizeof big);
    memcpy(big, "b=1;", 4);
    T_EQ_INT(web_cookie_get(big, WEB_COOKIE_MAX + 1, "b", out, sizeof out), -1,
             "header over WEB_COOKIE_MAX");
}

static void test_escape(void)
{
    struct buf b;
    buf_init(&b, 256);
    T_EQ_INT(web_escape(&b, S("<script>alert(\"x\" & 'y')</script>")), 0, "escape");
    T_EQ_STR(b.s, "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;",
             "every markup character");
    buf_reset(&b);
    T_EQ_INT(web_escape(&b, S("a\x01" "b\tc")), 0, "control");
    T_EQ_STR(b.s, "a\xef\xbf\xbd" "b\tc", "control byte becomes U+FFFD, tab kept");
    buf_reset(&b);
    T_EQ_INT(web_escape(&b, S("\xe4\xbc\x9a\xe5\x93\xa1")), 0, "utf-8");
    T_EQ_STR(b.s, "\xe4\xbc\x9a\xe5\x93\xa1", "utf-8 passes unchanged");
    buf_free(&b);
    buf_init(&b, 8);
    T_EQ_INT(web_escape(&b, S("<<<")), -1, "a full buffer is an error, not a cut");
    buf_free(&b);
}

static void test_autodiscover_request(void)
{
    static const char req[] =
        "<?xml version=\"1.0\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
        "autodiscover/outlook/requestschema/2006\"><Request><EMailAddress> taro@example.test "
        "</EMailAddress><AcceptableResponseSchema>x</AcceptableResponseSchema></Request>"
        "</Autodiscover>";
    char out[64];
    T_EQ_INT(web_autodiscover_email(req, strlen(req), out, sizeof out), 1, "request");
    T_EQ_STR(out, "taro@example.test", "address, spaces trimmed");
    T_EQ_INT(web_autodiscover_email(S("<Request></Request>"), out, sizeof out), 0, "none");
    T_EQ_INT(web_autodiscover_email(S("<EMailAddress>a@b"), out, sizeof out), -1, "unclosed");
    T_EQ_INT(web_autodiscover_email(S("<EMailAddress>a<x/>@b</EMailAddress>"), out, sizeof out),
             -1, "markup inside");
    T_EQ_INT(web_autodiscover_email(S("<EMailAddress>a&amp;b@c</EMailAddress>"), out,
                                    sizeof out), -1, "entity inside");
    T_EQ_INT(web_autodiscover_email(S("<EMailAddress></EMailAddress>"), out, sizeof out), -1,
             "empty");
    T_EQ_INT(web_autodiscover_email(S("<EMailAddress>0123456789@0123456789.example"
                                      "</EMailAddress>"), out, 16), -1, "over cap");
    T_EQ_INT(web_autodiscover_email(S("<EMailAddress>a\0b@c</EMailAddress>"), out, sizeof out),
             -1, "NUL inside");
}

static void test_tokens(void)
{
    char t[WEB_TOKEN_LEN + 2];
    memset(t, 'a', WEB_TOKEN_LEN);
    t[WEB_TOKEN_LEN] = '\0';
    T_EQ_INT(web_token_ok(t), 1, "64 hex");
    t[3] = 'A';
    T_EQ_INT(web_token_ok(t), 0, "upper case");
    t[3] = 'a';
    t[WEB_TOKEN_LEN] = 'a';
    t[WEB_TOKEN_LEN + 1] = '\0';
    T_EQ_INT(web_token_ok(t), 0, "65 characters");
    T_EQ_INT(web_token_ok("abc"), 0, "short");
    T_EQ_INT(str_equal_ct("abcd", "abcd", 4), 1, "equal");
    T_EQ_INT(str_equal_ct("abcd", "abce", 4), 0, "last byte differs");
    T_EQ_INT(web_password_ok("Abcdefg1"), 1, "8 characters");
    T_EQ_INT(web_password_ok("Abcdef1"), 0, "7 characters");
    T_EQ_INT(web_password_ok("Abcdefg\x7f"), 0, "DEL");
    T_EQ_INT(web_password_ok("Abc defg \xe3\x81\x82"), 1, "spaces and UTF-8");
}

static void test_autoconf(void)
{
    struct sheet s = { "taro@example2.test", "example2.test", "mail.example.test", NULL, 0, 0 };
    struct buf b;
    buf_init(&b, 65536);
    T_EQ_INT(autoconf_thunderbird(&s, &b), 0, "thunderbird basic");
    T_CHECK(strstr(b.s, "995") == NULL, "basic: no 995");
    T_CHECK(strstr(b.s, "<hostname>pop3.example2.test</hostname>\n      <port>110</port>\n"
                   "      <socketType>plain</socketType>") != NULL, "basic: pop3.DOMAIN 110 plain");
    T_CHECK(strstr(b.s, "<hostname>mail.example.test</hostname>\n      <port>465</port>\n"
                   "      <socketType>SSL</socketType>") != NULL, "465 SSL on the server's name");
    buf_reset(&b);
    s.pop3s = 1;
    T_EQ_INT(autoconf_autodiscover(&s, &b), 0, "autodiscover premium");
    T_CHECK(strstr(b.s, "<Server>mail.example.test</Server>\n          <Port>995</Port>") != NULL,
            "premium: 995 on the server's name");
    buf_reset(&b);
    s.addr = "<x>@example2.test";
    T_EQ_INT(autoconf_mobileconfig(&s, "u1", "u2", &b), 0, "profile");
    T_CHECK(strstr(b.s, "<x>") == NULL && strstr(b.s, "&lt;x&gt;@example2.test") != NULL,
            "profile values are escaped");
    buf_free(&b);
}

int main(void)
{
    test_form();
    test_cookie();
    test_escape();
    test_autodiscover_request();
    test_tokens();
    test_autoconf();
    return T_DONE();
}

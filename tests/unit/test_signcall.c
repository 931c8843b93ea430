/* test_signcall: dkim-sign's answer as queue-inject and queue-run take it (hostile answers) */
#include "queue/signcall.h"
#include "t.h"

#include <errno.h>
#include <stdlib.h>

static const char good[] =
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=mail.example.test; s=y20261203;\n"
    "\tt=1764720000; h=from:from:subject;\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n"
    "\tb=AAAA\n\tBBBB\n";

static void test_answers(void)
{
    static const struct {
        int code;
        const char *ans;
        size_t len;             /* 0: strlen */
        int rc;
        const char *domain, *sel;
        const char *why;        /* a part of s.why on -1 */
    } cases[] = {
        {0, good, 0, 0, "mail.example.test", "y20261203", ""},
        {0, "dkim-signature: v=1; d=a.test; s=s1; b=x\n", 0, 0, "a.test", "s1", ""},
        {0, "", 0, -1, "", "", "no field"},                       /* nothing */
        {0, "DKIM-Signature: v=1; d=a.test; s=s1; b=x", 0, -1, "", "", "no field"},   /* no LF */
        {0, "X-Other: v=1; d=a.test; s=s1\n", 0, -1, "", "", "no field"},
        {0, "DKIM-Signature: v=1; d=a.test;\0 s=s1\n", 37, -1, "", "", "no field"},  /* NUL */
        {0, "DKIM-Signature: v=1; d=a\x01.test; s=s1\n", 0, -1, "", "", "malformed"},
        {0, "DKIM-Signature: v=1; s=s1; b=x\n", 0, -1, "", "", "malformed"},      /* no d= */
        {0, "DKIM-Signature: v=1; d=a.test; b=x\n", 0, -1, "", "", "malformed"},  /* no s= */
        {0, "DKIM-Signature: v=1; d=; s=s1\n", 0, -1, "", "", "malformed"},       /* empty d= */
        {0, "DKIM-Signature: v=1; d=a.test; d=b.test; s=s1\n", 0, -1, "", "", "malformed"},
        {0, "DKIM-Signature: garbage without tags\n", 0, -1, "", "", "malformed"},
        {1, "nokey.test\n", 0, 0, "nokey.test", "", ""},
        {1, "nokey.test", 0, 0, "nokey.test", "", ""},              /* no LF: the whole */
        {2, "\n", 0, 0, "", "", ""},
        {3, "", 0, 0, "", "", ""},
        {1, "bad\x01name\n", 0, 0, "", "", ""},                     /* control byte: "" */
        {1, "a\0b\n", 4, 0, "", "", ""},                            /* NUL: "" */
        {111, "", 0, -1, "", "", "failed (exit 111; see log/dkim)"},
        {100, "junk\n", 0, -1, "", "", "failed (exit 100"},
        {4, "", 0, -1, "", "", "failed (exit 4"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct signcall s;
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].ans);
        char name[64];
        int rc;
        errno = 0;
        rc = signcall_answer(cases[i].code, cases[i].ans, n, &s);
        snprintf(name, sizeof name, "case %zu: result", i);
        T_EQ_INT(rc, cases[i].rc, name);
        snprintf(name, sizeof name, "case %zu: domain", i);
        T_EQ_STR(s.domain, cases[i].domain, name);
        snprintf(name, sizeof name, "case %zu: selector", i);
        T_EQ_STR(s.sel, cases[i].sel, name);
        T_CHECK(strstr(s.why, cases[i].why) != NULL, "case %zu: why \"%s\"", i, s.why);
        if (rc == 0 && cases[i].code == 0) {
            T_CHECK(s.len == n && memcmp(s.field, cases[i].ans, n) == 0 && s.field[n] == '\0',
                    "case %zu: the field kept whole", i);
        } else {
            T_CHECK(s.len == 0 && s.field[0] == '\0', "case %zu: no field", i);
        }
        if (rc < 0) {
            T_EQ_INT(errno, EPROTO, "errno");
        }
    }
}

/* Bounds: a field of DKIM_SIG_MAX octets is taken, one more is not; a domain line as long as
   a domain may be is taken, one more is "". */
static void test_bounds(void)
{
    char *big = malloc(DKIM_SIG_MAX + 2);
    char line[SMTP_DOMAIN_MAX + 3];
    struct signcall s;
    size_t head;
    if (!big) {
        T_CHECK(0, "malloc");
        return;
    }
    head = (size_t)snprintf(big, DKIM_SIG_MAX + 2, "DKIM-Signature: v=1; d=a.test; s=s1; b=");
    memset(big + head, 'A', DKIM_SIG_MAX + 1 - head);
    big[DKIM_SIG_MAX - 1] = '\n';
    T_EQ_INT(signcall_answer(0, big, DKIM_SIG_MAX, &s), 0, "field of DKIM_SIG_MAX octets");
    T_EQ_INT(s.len, DKIM_SIG_MAX, "its length");
    big[DKIM_SIG_MAX - 1] = 'A';
    big[DKIM_SIG_MAX] = '\n';
    T_EQ_INT(signcall_answer(0, big, DKIM_SIG_MAX + 1, &s), -1, "one octet more");
    free(big);
    memset(line, 'a', sizeof line);
    line[SMTP_DOMAIN_MAX] = '\n';
    T_EQ_INT(signcall_answer(1, line, SMTP_DOMAIN_MAX + 1, &s), 0, "longest domain");
    T_EQ_INT(strlen(s.domain), SMTP_DOMAIN_MAX, "kept");
    line[SMTP_DOMAIN_MAX] = 'a';
    line[SMTP_DOMAIN_MAX + 1] = '\n';
    T_EQ_INT(signcall_answer(1, line, SMTP_DOMAIN_MAX + 2, &s), 0, "a domain too long");
    T_EQ_STR(s.domain, "", "dropped");
}

int main(void)
{
    test_answers();
    test_bounds();
    return T_DONE();
}

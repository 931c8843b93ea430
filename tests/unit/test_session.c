/* test_session.c: the member page's server-side sessions (web/session.h) with fixed times:
   the sliding expiry from the last use, the absolute cap after the login, the kinds, and the
   end of a member's other sessions */
#include "web/session.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void make_root(void)
{
    char d[128];
    snprintf(root, sizeof root, "/tmp/yubin-test-session.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(d, sizeof d, "%s/web", root);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/web/sessions", root);
    mkdir(d, 0700);
}

static void test_sliding(void)
{
    struct session s, l;
    const time_t t0 = 1796364000;
    T_EQ_INT(session_create(root, "taro@example.test", 0, t0, &s), 0, "create");
    T_EQ_INT(session_load(root, s.id, t0 + WEB_SESSION_SECONDS - 1, 0, &l), 1,
             "live just before the idle limit");
    T_EQ_INT(session_load(root, s.id, t0 + WEB_SESSION_SECONDS, 0, &l), 0,
             "expired at the idle limit when unused");
    /* used at 25 minutes: the idle limit moves */
    T_EQ_INT(session_load(root, s.id, t0 + 1500, 1, &l), 1, "used at 25 minutes");
    T_EQ_INT(session_load(root, s.id, t0 + 1500 + WEB_SESSION_SECONDS - 1, 0, &l), 1,
             "still live 30 minutes after that use");
    T_EQ_INT(l.admin, 0, "a member's session");
    T_EQ_STR(l.addr, "taro@example.test", "its login");
    T_EQ_STR(l.csrf, s.csrf, "its CSRF token survives the touch");
    {
        /* used every 20 minutes, it still ends WEB_SESSION_MAX_SECONDS after the login */
        time_t t = t0 + 1500;
        int live = 1;
        while (live && t < t0 + WEB_SESSION_MAX_SECONDS + 3600) {
            t += 1200;
            live = session_load(root, s.id, t, 1, &l) == 1;
        }
        T_CHECK(!live && t > t0 + WEB_SESSION_MAX_SECONDS - 1200
                && t <= t0 + WEB_SESSION_MAX_SECONDS + 1200,
                "the absolute cap ends it (at %lld s)", (long long)(t - t0));
    }
    T_EQ_INT(session_load(root, s.id, t0 + 10, 0, &l), 0, "an expired session's file is gone");
}

static void test_kinds_and_others(void)
{
    struct session a, b, c, adm, l;
    const time_t t0 = 1796364000;
    session_create(root, "hanako@example.test", 0, t0, &a);
    session_create(root, "hanako@example.test", 0, t0, &b);
    session_create(root, "jiro@example.test", 0, t0, &c);
    session_create(root, "hanako@example.test", 1, t0, &adm);  /* not a member's: other kind */
    T_EQ_INT(session_load(root, adm.id, t0, 0, &l), 1, "an administrator's session");
    T_EQ_INT(l.admin, 1, "its kind");
    T_EQ_INT(session_end_others(root, "hanako@example.test", 0, a.id), 0, "end the others");
    T_EQ_INT(session_load(root, a.id, t0, 0, &l), 1, "the one kept");
    T_EQ_INT(session_load(root, b.id, t0, 0, &l), 0, "the other one ended");
    T_EQ_INT(session_load(root, c.id, t0, 0, &l), 1, "another member's kept");
    T_EQ_INT(session_load(root, adm.id, t0, 0, &l), 1, "another kind kept");
    T_EQ_INT(session_end_others(root, "hanako@example.test", 0, NULL), 0, "end all");
    T_EQ_INT(session_load(root, a.id, t0, 0, &l), 0, "all ended");
    T_EQ_INT(session_load(root, "../../etc/passwd", t0, 0, &l), 0, "not a token");
}

int main(void)
{
    char cmd[128];
    make_root();
    test_sliding();
    test_kinds_and_others();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) {
        printf("# unable to remove %s\n", root);
    }
    return T_DONE();
}

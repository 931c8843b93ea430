/* test_session.c: the member page's server-side sessions (web/session.h) with fixed times:
   the sliding expiry from the last use, the absolute cap after the login, the kinds, the end
   of a member's other sessions (whatever the number of other logins' sessions), the cap of
   live sessions per login, a session file no login's folder names, and the password's
   fingerprint in the file (kept through a touch; a file from before it) */
#include "digest.h"
#include "web/session.h"
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    T_EQ_INT(session_create(root, "taro@example.test", 0, NULL, t0, &s), 0, "create");
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
    session_create(root, "hanako@example.test", 0, NULL, t0, &a);
    session_create(root, "hanako@example.test", 0, NULL, t0, &b);
    session_create(root, "jiro@example.test", 0, NULL, t0, &c);
    session_create(root, "hanako@example.test", 1, NULL, t0, &adm);  /* not a member's */
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

/* Names in ROOT/web/SUB (a login's folder: "logins/KEY"), "." and ".." aside; -1 none. */
static long count_in(const char *sub)
{
    char d[256];
    struct dirent *e;
    long n = 0;
    DIR *dp;
    snprintf(d, sizeof d, "%s/web/%s", root, sub);
    if (!(dp = opendir(d))) {
        return -1;
    }
    while ((e = readdir(dp)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(dp);
    return n;
}

static void login_folder(const char *login, int admin, char *out, size_t cap)
{
    char k[128], h[65];
    snprintf(k, sizeof k, "%s\n%s", admin ? "a" : "m", login);
    digest_sha256_hex(k, strlen(k), h);
    snprintf(out, cap, "logins/%s", h);
}

static void test_cap_per_login(void)
{
    struct session s[WEB_SESSIONS_PER_LOGIN + 5], l;
    const time_t t0 = 1796364000;
    char folder[128];
    int i, live = 0;
    for (i = 0; i < WEB_SESSIONS_PER_LOGIN + 5; i++) {
        T_CHECK(session_create(root, "busy@example.test", 0, NULL, t0 + i, &s[i]) == 0,
                "login %d", i);
    }
    for (i = 0; i < WEB_SESSIONS_PER_LOGIN + 5; i++) {
        int ok = session_load(root, s[i].id, t0 + 100, 0, &l) == 1;
        live += ok;
        T_CHECK(ok == (i >= 5), "login %d %s", i, i >= 5 ? "live" : "ended: the oldest go");
    }
    T_EQ_INT(live, WEB_SESSIONS_PER_LOGIN, "live sessions of one login");
    login_folder("busy@example.test", 0, folder, sizeof folder);
    T_EQ_INT(count_in(folder), WEB_SESSIONS_PER_LOGIN, "names in its folder");
    /* expired ones make room without ending a live one */
    T_EQ_INT(session_create(root, "busy@example.test", 0, NULL, t0 + WEB_SESSION_MAX_SECONDS + 5,
                            &l), 0, "a login 8 hours later");
    T_EQ_INT(count_in(folder), 1, "the expired names gone from its folder");
    T_EQ_INT(session_delete(root, l.id), 0, "log out");
    T_EQ_INT(count_in(folder), -1, "a login without sessions has no folder");
    session_sweep(root, t0 + WEB_SESSION_MAX_SECONDS + 5);
}

static void test_end_among_many(void)
{
    struct session mine[3], other, l;
    const time_t t0 = 1796364000;
    char login[64];
    int i, bad = 0;
    for (i = 0; i < 3; i++) {
        session_create(root, "many@example.test", 0, NULL, t0, &mine[i]);
    }
    /* more sessions of other logins than the sweep ever looks at */
    for (i = 0; i < WEB_SESSIONS_MAX + 100; i++) {
        snprintf(login, sizeof login, "o%d@example.test", i % 600);
        bad += session_create(root, login, 0, NULL, t0, &other) != 0;
    }
    T_EQ_INT(bad, 0, "other logins' sessions made");
    T_EQ_INT(session_end_others(root, "many@example.test", 0, mine[0].id), 0, "end the others");
    T_EQ_INT(session_load(root, mine[0].id, t0, 0, &l), 1, "the one kept");
    T_EQ_INT(session_load(root, mine[1].id, t0, 0, &l), 0, "another one ended");
    T_EQ_INT(session_load(root, mine[2].id, t0, 0, &l), 0, "the third one ended");
    T_EQ_INT(session_load(root, other.id, t0, 0, &l), 1, "other logins' sessions kept");
    session_sweep(root, t0 + WEB_SESSION_MAX_SECONDS + 1);
    session_sweep(root, t0 + WEB_SESSION_MAX_SECONDS + 1);
    T_CHECK(count_in("sessions") < 100, "the sweeps remove the expired files (%ld left)",
            count_in("sessions"));
}

static void test_unlisted_file_is_no_session(void)
{
    /* a file in web/sessions alone (an older version's, or written by something else) opens
       nothing: its login's folder does not name it */
    struct session s, l;
    const time_t t0 = 1796364000;
    char path[512], folder[128], entry[512], name[65];
    session_create(root, "lone@example.test", 0, NULL, t0, &s);
    digest_sha256_hex(s.id, strlen(s.id), name);
    login_folder("lone@example.test", 0, folder, sizeof folder);
    snprintf(entry, sizeof entry, "%s/web/%s/%s", root, folder, name);
    T_EQ_INT(unlink(entry), 0, "its name taken out of the login's folder");
    snprintf(path, sizeof path, "%s/web/sessions/%s", root, name);
    T_EQ_INT(access(path, F_OK), 0, "the file still there");
    T_EQ_INT(session_load(root, s.id, t0, 0, &l), 0, "not a live session");
}

static void test_admin_records(void)
{
    /* ending an administrator's sessions takes acctd's records of them, of that domain only */
    struct session a, b;
    const time_t t0 = 1796364000;
    char d[512], p[768], name[65];
    int fd;
    snprintf(d, sizeof d, "%s/run", root);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/%s", root, SESSION_ADMIN_DIR);
    mkdir(d, 0700);
    session_create(root, "shop.test", 1, NULL, t0, &a);
    session_create(root, "rival.test", 1, NULL, t0, &b);
    digest_sha256_hex(a.id, strlen(a.id), name);
    snprintf(p, sizeof p, "%s/%s", d, name);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    T_CHECK(fd >= 0 && write(fd, "shop.test\n1796364000\n", 21) == 21, "acctd's record a");
    close(fd);
    digest_sha256_hex(b.id, strlen(b.id), name);
    snprintf(p, sizeof p, "%s/%s", d, name);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    T_CHECK(fd >= 0 && write(fd, "rival.test\n1796364000\n", 22) == 22, "acctd's record b");
    close(fd);
    T_EQ_INT(session_end_others(root, "shop.test", 1, NULL), 0, "end shop.test's");
    T_EQ_INT(count_in("../run/acctd"), 1, "its record gone, the other domain's kept");
    T_EQ_INT(access(p, F_OK), 0, "rival.test's record kept");
}

/* The file's text of session id, into body[cap]: its length, or -1. */
static ssize_t session_text(const char *id, char *body, size_t cap)
{
    char path[512], name[DIGEST_HEX_LEN + 1];
    ssize_t n;
    int fd;
    digest_sha256_hex(id, strlen(id), name);
    snprintf(path, sizeof path, "%s/web/sessions/%s", root, name);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, body, cap - 1);
    close(fd);
    body[n > 0 ? n : 0] = '\0';
    return n;
}

/* The file of session id replaced by body (as a file of another version left it). */
static void session_rewrite(const char *id, const char *body)
{
    char path[512], name[DIGEST_HEX_LEN + 1];
    FILE *f;
    digest_sha256_hex(id, strlen(id), name);
    snprintf(path, sizeof path, "%s/web/sessions/%s", root, name);
    f = fopen(path, "w");
    if (f) {
        fputs(body, f);
        fclose(f);
    }
}

static void test_pwid(void)
{
    static const struct {
        const char *pwid;
        int ok;
        const char *name;
    } made[] = {
        { "0123456789abcdef", 0, "a fingerprint" }, { "", 0, "none" }, { NULL, 0, "NULL" },
        { "0123456789ABCDEF", -1, "upper case: not as users.cdb writes it" },
        { "0123456789abcde", -1, "15 digits" }, { "0123456789abcdef0", -1, "17 digits" },
        { "0123456789abcdeg", -1, "not hex" }, { "0123456789abcde\n", -1, "a line end" },
    };
    static const struct {
        const char *sixth;      /* the file's text after KIND's line */
        int live;
        const char *pwid, *name;
    } files[] = {
        { "", 1, "", "a file from before the fingerprint" },
        { "fedcba9876543210\n", 1, "fedcba9876543210", "a sixth line" },
        { "fedcba9876543210", 0, "", "no line end" },
        { "FEDCBA9876543210\n", 0, "", "upper case" },
        { "fedcba987654321\n", 0, "", "15 digits" },
        { "\n", 0, "", "an empty sixth line" },
        { "fedcba9876543210\nx\n", 0, "", "a seventh line" },
    };
    struct session s, l;
    const time_t t0 = 1796364000;
    char body[1024], base[1024];
    size_t i;
    for (i = 0; i < sizeof made / sizeof made[0]; i++) {
        T_EQ_INT(session_create(root, "fp@example.test", 0, made[i].pwid, t0, &s), made[i].ok,
                 made[i].name);
    }
    T_EQ_INT(session_create(root, "fp@example.test", 0, "0123456789abcdef", t0, &s), 0,
             "a member's session with its password's fingerprint");
    T_CHECK(session_text(s.id, body, sizeof body) > 0
            && strstr(body, "\nm\n0123456789abcdef\n") != NULL
            && strcmp(strstr(body, "\nm\n"), "\nm\n0123456789abcdef\n") == 0,
            "the file's last line is the fingerprint");
    T_EQ_INT(session_load(root, s.id, t0 + 1, 0, &l), 1, "loaded");
    T_EQ_STR(l.pwid, "0123456789abcdef", "the fingerprint read back");
    T_EQ_INT(session_load(root, s.id, t0 + WEB_SESSION_TOUCH + 1, 1, &l), 1, "touched");
    T_EQ_INT(session_load(root, s.id, t0 + WEB_SESSION_TOUCH + 2, 0, &l), 1, "loaded again");
    T_CHECK(l.last == t0 + WEB_SESSION_TOUCH + 1, "the touch was written");
    T_EQ_STR(l.pwid, "0123456789abcdef", "the fingerprint kept through the touch");
    T_EQ_INT(session_create(root, "fp@example.test", 0, NULL, t0, &s), 0, "without one");
    T_CHECK(session_text(s.id, body, sizeof body) > 0
            && strcmp(strstr(body, "\nm\n"), "\nm\n") == 0, "five lines, as before it");
    /* files as another version wrote them */
    memcpy(base, body, strlen(body) + 1);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(body, sizeof body, "%s%s", base, files[i].sixth);
        session_rewrite(s.id, body);
        memset(&l, 0, sizeof l);
        T_EQ_INT(session_load(root, s.id, t0 + 1, 0, &l), files[i].live, files[i].name);
        T_EQ_STR(l.pwid, files[i].pwid, "its fingerprint");
    }
}

int main(void)
{
    char cmd[128];
    make_root();
    test_sliding();
    test_kinds_and_others();
    test_cap_per_login();
    test_unlisted_file_is_no_session();
    test_admin_records();
    test_pwid();
    test_end_among_many();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) {
        printf("# unable to remove %s\n", root);
    }
    return T_DONE();
}

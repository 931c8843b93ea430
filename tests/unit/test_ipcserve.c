/* test_ipcserve: lib/ipcserve's accept loop over a real unix socket, called with lib/ipcfd's
   client: arguments and two or three passed fds reach the serve function, its return value
   (or 111 / 128+N for a signal) comes back; hostile requests (111) and refused peer uids (no
   status, nothing read, logged) never reach serve; readiness,
   maxconn, graceful SIGTERM and a killed loop. Serving needs IPCFD_PEERS: main sets it to
   our own uid. */
#include "ipcserve.h"
#include "t.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The serve function of every test server: argv[1] says what to do.
   "echo": writes "argc:argv[2]:" then fd 0 and, with 3 fds, fd 2 (each to EOF) to fd 1;
   returns 42. "exit N": returns N. "kill": SIGKILL. "die": SIGTERM. "sleep": waits for a
   byte on fd 0, returns 5. "pid": writes its pid to fd 1, leaves a child that ends at once
   (for the loop to reap), returns 9. */
static int serve(int argc, char **argv, void *ctx)
{
    size_t nfds = *(size_t *)ctx, n;
    char buf[256];
    ssize_t got;
    int fd;

    if (strcmp(argv[1], "exit") == 0) {
        return atoi(argv[2]);
    }
    if (strcmp(argv[1], "kill") == 0) {
        raise(SIGKILL);
    }
    if (strcmp(argv[1], "die") == 0) {
        raise(SIGTERM);
    }
    if (strcmp(argv[1], "sleep") == 0) {
        char c;
        return read(0, &c, 1) == 1 ? 5 : 6;
    }
    if (strcmp(argv[1], "pid") == 0) {
        pid_t kid = fork();
        if (kid == 0) {
            _exit(0);
        }
        n = (size_t)snprintf(buf, sizeof buf, "%ld", (long)getpid());
        return kid > 0 && write(1, buf, n) == (ssize_t)n ? 9 : 97;
    }
    n = (size_t)snprintf(buf, sizeof buf, "%d:%s:", argc, argv[2] ? argv[2] : "-");
    for (fd = 0; fd <= 2; fd += 2) {
        if (fd == 2 && nfds < 3) {
            break;
        }
        while (n < sizeof buf && (got = read(fd, buf + n, sizeof buf - n)) > 0) {
            n += (size_t)got;
        }
    }
    return write(1, buf, n) == (ssize_t)n ? 42 : 97;
}

static unsigned start_reuse = 1;    /* the reuse of the loops start() starts */

struct server {
    pid_t pid;
    int log;        /* read end of the loop's stderr */
    char sock[64];
};

/* A loop listening at sock (nfds, flags, maxconn), started as s6 starts one: the listener on
   fd 0, the readiness fd on 1. Returns once it is ready (0), or -1. */
static int start(struct server *sv, const char *dir, size_t nfds, unsigned flags,
                 unsigned maxconn)
{
    static size_t nfds_ctx;
    struct sockaddr_un sa;
    unsigned reuse = start_reuse;
    int l, ready[2], log[2];
    char c;

    nfds_ctx = nfds;
    snprintf(sv->sock, sizeof sv->sock, "%s/s", dir);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, sv->sock);
    unlink(sv->sock);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 8) < 0
        || pipe(ready) < 0 || pipe(log) < 0) {
        return -1;
    }
    fflush(stdout);
    sv->pid = fork();
    if (sv->pid == 0) {
        struct ipcserve s = { "run/test.sock", nfds, maxconn, flags, serve, &nfds_ctx, reuse };
        if (dup2(l, 0) < 0 || dup2(ready[1], 1) < 0 || dup2(log[1], 2) < 0) {
            _exit(99);
        }
        close(l);
        close(ready[0]);
        close(ready[1]);
        close(log[0]);
        close(log[1]);
        _exit(ipcserve(&s) == 0 ? 0 : 98);
    }
    close(l);
    close(ready[1]);
    close(log[1]);
    sv->log = log[0];
    c = 0;
    if (sv->pid < 0 || read(ready[0], &c, 1) != 1 || c != '\n') {
        close(ready[0]);
        return -1;
    }
    close(ready[0]);
    return 0;
}

/* SIGTERM, wait; the loop's exit code (-1 if it did not exit). */
static int stop(struct server *sv)
{
    int st;
    kill(sv->pid, SIGTERM);
    waitpid(sv->pid, &st, 0);
    close(sv->log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What the loop logged so far (non-blocking read, up to cap-1 bytes). */
static void logged(struct server *sv, char *out, size_t cap)
{
    struct pollfd pf = { sv->log, POLLIN, 0 };
    ssize_t got = 0;

    if (poll(&pf, 1, 2000) == 1) {
        got = read(sv->log, out, cap - 1);
    }
    out[got > 0 ? got : 0] = '\0';
}

/* One call with fds {message pipe, result socket} (+ a third when nfds is 3, fed with cred);
   writes body to the message, returns the status; *res gets what serve wrote (to EOF). */
static int call(const char *sock, size_t nfds, const char *const *argv, const char *body,
                const char *cred, char *res, size_t cap)
{
    int in[2], out[2], third[2], fds[3], s, code;
    size_t have = 0;
    ssize_t got;

    if (pipe(in) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, out) < 0
        || socketpair(AF_UNIX, SOCK_STREAM, 0, third) < 0) {
        return -3;
    }
    fds[0] = in[0];
    fds[1] = out[1];
    fds[2] = third[1];
    s = ipcfd_call_fds(sock, fds, nfds, argv);
    close(in[0]);
    close(out[1]);
    close(third[1]);
    if (s >= 0) {
        if (write(in[1], body, strlen(body)) < 0 || (cred && write(third[0], cred, strlen(cred)) < 0)) {
            code = -3;
        }
    }
    close(in[1]);
    shutdown(third[0], SHUT_WR);
    while (s >= 0 && have + 1 < cap && (got = read(out[0], res + have, cap - 1 - have)) > 0) {
        have += (size_t)got;
    }
    res[have] = '\0';
    code = s < 0 ? -2 : ipcfd_status(s, 10);
    if (s >= 0) {
        close(s);
    }
    close(out[0]);
    close(third[0]);
    return code;
}

static void test_round_trip(const char *dir)
{
    static const char *const echo[] = { "prog", "echo", "first arg", "", NULL };
    struct server sv;
    char res[256], line[512];

    T_CHECK(start(&sv, dir, IPCFD_FDS, 0, 4) == 0, "2-fd loop ready");
    T_EQ_INT(call(sv.sock, 2, echo, "body", NULL, res, sizeof res), 42, "serve's return value");
    T_EQ_STR(res, "4:first arg:body", "argv and both fds reached serve");

    /* one fd instead of two: no status, serve never ran; the loop goes on */
    T_EQ_INT(call(sv.sock, 1, echo, "body", NULL, res, sizeof res), 111, "one fd: 111");
    T_EQ_STR(res, "", "one fd: serve did not run");
    logged(&sv, line, sizeof line);
    T_CHECK(strstr(line, "refused a request on run/test.sock") != NULL, "logged: %s", line);
    /* a hostile length */
    {
        struct sockaddr_un sa;
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        strcpy(sa.sun_path, sv.sock);
        T_CHECK(connect(s, (struct sockaddr *)&sa, sizeof sa) == 0, "raw connect");
        T_EQ_INT(write(s, "99999:", 6), 6, "sent an oversize length");
        T_EQ_INT(ipcfd_status(s, 5), 111, "oversize refused: 111");
        close(s);
    }
    T_EQ_INT(call(sv.sock, 2, echo, "again", NULL, res, sizeof res), 42, "loop still serves");
    T_EQ_STR(res, "4:first arg:again", "second call");
    T_EQ_INT(stop(&sv), 0, "loop exits 0 on SIGTERM");
}

/* The peer check: SO_PEERCRED against IPCFD_PEERS, logged, nothing read, serve never runs. */
static void test_refused_peer(const char *dir, const char *me)
{
    static const char *const echo[] = { "prog", "echo", "x", NULL };
    static const char *const lists[] = { NULL, "", "BAD", "OTHER" };
    unsigned long uid = (unsigned long)getuid();
    char other[24], bad[32], res[64], line[512], want[IPCFD_WHY_MAX];
    struct server sv;
    size_t i;
    int code;

    snprintf(other, sizeof other, "%lu", uid + 1);
    snprintf(bad, sizeof bad, "%s,", me);
    for (i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *v = lists[i];
        if (v && strcmp(v, "BAD") == 0) {
            v = bad;
        } else if (v && strcmp(v, "OTHER") == 0) {
            v = other;
        }
        if (v) {
            setenv("IPCFD_PEERS", v, 1);
        } else {
            unsetenv("IPCFD_PEERS");
        }
        T_CHECK(start(&sv, dir, IPCFD_FDS, 0, 4) == 0, "loop ready (IPCFD_PEERS=%s)",
                v ? v : "unset");
        /* the loop closes a refused connection unread: the call fails at the send (-2) or
           finds no status (-1), depending on which side is first */
        code = call(sv.sock, 2, echo, "body", NULL, res, sizeof res);
        T_CHECK(code == -1 || code == -2, "refused peer: no status (got %d)", code);
        T_EQ_STR(res, "", "refused peer: serve did not run");
        logged(&sv, line, sizeof line);
        ipcfd_refusal_line(want, sizeof want, (uid_t)uid, v == other ? 0 : -1);
        T_CHECK(strstr(line, want) != NULL, "refusal logged: %s", line);
        stop(&sv);
    }
    setenv("IPCFD_PEERS", me, 1);
}

static void test_three_fds(const char *dir)
{
    static const char *const echo[] = { "checkpw", "echo", "A|", NULL };
    static const char *const die_argv[] = { "checkpw", "die", NULL };
    struct server sv;
    char res[64];

    T_CHECK(start(&sv, dir, 3, IPCSERVE_SIGNAL_HIGH, 4) == 0, "3-fd loop ready");
    T_EQ_INT(call(sv.sock, 3, echo, "client|", "login pw", res, sizeof res), 42,
             "3-fd status came back");
    T_EQ_STR(res, "3:A|:client|login pw", "argv and all three fds (onto 0, 1, 2) reached serve");
    T_EQ_INT(call(sv.sock, 3, die_argv, "", "", res, sizeof res), 128 + SIGTERM,
             "killed by SIGTERM: 143 with IPCSERVE_SIGNAL_HIGH");
    T_EQ_INT(call(sv.sock, 2, echo, "x", NULL, res, sizeof res), 111,
             "two fds to a three-fd loop: 111");
    T_EQ_STR(res, "", "two fds: serve did not run");
    stop(&sv);
}

static void test_loop(const char *dir)
{
    static const char *const exit7[] = { "prog", "exit", "7", NULL };
    static const char *const kill9[] = { "prog", "kill", NULL };
    static const char *const slow[] = { "prog", "sleep", NULL };
    struct server sv;
    char res[16];
    int s1, s2, w1[2], w2[2], i, st, fds[2];

    T_CHECK(start(&sv, dir, IPCFD_FDS, 0, 2) == 0, "loop ready");
    for (i = 0; i < 3; i++) {
        T_EQ_INT(call(sv.sock, 2, exit7, "", NULL, res, sizeof res), 7, "each exit status");
    }
    T_EQ_INT(call(sv.sock, 2, kill9, "", NULL, res, sizeof res), 111, "killed child: 111");

    /* two slow requests fill the loop (maxconn 2); SIGTERM then: both still get a status */
    T_CHECK(pipe(w1) == 0 && pipe(w2) == 0, "pipes");
    fds[0] = w1[0];
    fds[1] = w1[0];
    s1 = ipcfd_call(sv.sock, fds[0], fds[1], slow);
    s2 = ipcfd_call(sv.sock, w2[0], w2[0], slow);
    close(w1[0]);
    close(w2[0]);
    T_CHECK(s1 >= 0 && s2 >= 0, "two slow calls running");
    usleep(100 * 1000);
    kill(sv.pid, SIGTERM);
    usleep(100 * 1000);
    T_CHECK(write(w1[1], "x", 1) == 1 && write(w2[1], "y", 1) == 1, "released the children");
    T_EQ_INT(ipcfd_status(s1, 10), 5, "SIGTERM lets a running request finish (1)");
    T_EQ_INT(ipcfd_status(s2, 10), 5, "SIGTERM lets a running request finish (2)");
    close(s1);
    close(s2);
    close(w1[1]);
    close(w2[1]);
    T_CHECK(waitpid(sv.pid, &st, 0) == sv.pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "loop returns 0 after SIGTERM once its children are done");
    close(sv.log);

    T_CHECK(start(&sv, dir, IPCFD_FDS, IPCSERVE_SIGNAL_HIGH, 2) == 0, "signal-high loop");
    T_EQ_INT(call(sv.sock, 2, kill9, "", NULL, res, sizeof res), 128 + SIGKILL,
             "SIGKILL reported as 137 with IPCSERVE_SIGNAL_HIGH");
    stop(&sv);
}

/* The loop killed while two children run: when the first ends, its client sees EOF at once
   (the second child holds no copy of the first one's connection). */
static void test_killed_loop(const char *dir)
{
    static const char *const slow[] = { "prog", "sleep", NULL };
    struct server sv;
    int s1, s2, w1[2], w2[2], st;

    T_CHECK(start(&sv, dir, IPCFD_FDS, 0, 2) == 0 && pipe(w1) == 0 && pipe(w2) == 0, "again");
    s1 = ipcfd_call(sv.sock, w1[0], w1[0], slow);
    usleep(50 * 1000);
    s2 = ipcfd_call(sv.sock, w2[0], w2[0], slow);
    close(w1[0]);
    close(w2[0]);
    usleep(100 * 1000);
    kill(sv.pid, SIGKILL);
    waitpid(sv.pid, &st, 0);
    close(sv.log);
    T_CHECK(write(w1[1], "x", 1) == 1, "released the first child");
    {
        time_t t0 = time(NULL);
        T_EQ_INT(ipcfd_status(s1, 5), -1, "loop gone: no status, EOF");
        T_CHECK(time(NULL) - t0 <= 2, "EOF as soon as its own child ended");
    }
    T_CHECK(write(w2[1], "y", 1) == 1, "released the second child");
    T_EQ_INT(ipcfd_status(s2, 5), -1, "second: EOF too");
    close(s1);
    close(s2);
    close(w1[1]);
    close(w2[1]);
}

/* Zombies among pid's children (/proc/PID/task/PID/children and each one's state). */
static int zombies_of(long pid)
{
    char path[64], list[512], st[512];
    FILE *f;
    int z = 0;
    long kid;

    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    f = fopen(path, "r");
    if (!f || !fgets(list, sizeof list, f)) {
        if (f) {
            fclose(f);
        }
        return 0;
    }
    fclose(f);
    for (char *p = list; sscanf(p, "%ld", &kid) == 1; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : "") {
        snprintf(path, sizeof path, "/proc/%ld/stat", kid);
        f = fopen(path, "r");
        if (f && fgets(st, sizeof st, f) && strstr(st, ") Z ")) {
            z++;
        }
        if (f) {
            fclose(f);
        }
    }
    return z;
}

/* A "sleep" request running (its child waits for a byte on w[1]): the connection, or -1. */
static int slow_call(const char *sock, int w[2])
{
    static const char *const slow[] = { "prog", "sleep", NULL };
    int s;

    T_CHECK(pipe(w) == 0, "pipe");
    s = ipcfd_call(sock, w[0], w[0], slow);
    close(w[0]);
    T_CHECK(s >= 0, "slow call running");
    usleep(100 * 1000);
    return s;
}

/* reuse 3: one child serves three requests in turn (the same pid), each caller still sees EOF
   on what it passed and gets serve's status (0, 7 and 255 too); the fourth request has a
   new child; a reused child killed mid-request is reported as before and the loop goes on;
   what serve left running is reaped while the child waits; SIGTERM lets a busy reused child
   finish, sends the idle ones away, and the loop returns 0. */
static void test_reuse(const char *dir)
{
    static const char *const pid_argv[] = { "prog", "pid", NULL };
    static const char *const kill9[] = { "prog", "kill", NULL };
    static const char *const codes[] = { "0", "7", "255" };
    static const char *const exitn[][4] = { { "prog", "exit", "0", NULL },
                                            { "prog", "exit", "7", NULL },
                                            { "prog", "exit", "255", NULL } };
    struct server sv;
    char res[5][32];
    int i, s1, w1[2], st;

    start_reuse = 3;
    T_CHECK(start(&sv, dir, IPCFD_FDS, IPCSERVE_SIGNAL_HIGH, 2) == 0, "reuse loop ready");
    for (i = 0; i < 5; i++) {
        T_CHECK(call(sv.sock, 2, pid_argv, "", NULL, res[i], sizeof res[i]) == 9,
                "reused: status of request %d", i);
    }
    T_CHECK(res[0][0] && strcmp(res[0], res[1]) == 0 && strcmp(res[1], res[2]) == 0,
            "one child served the first three requests (%s %s %s)", res[0], res[1], res[2]);
    T_CHECK(strcmp(res[2], res[3]) != 0 && strcmp(res[3], res[4]) == 0,
            "a new child after three (%s, then %s %s)", res[2], res[3], res[4]);
    usleep(1500 * 1000);        /* an idle child reaps once a second */
    T_EQ_INT(zombies_of(atol(res[4])), 0, "the child's own children were reaped");
    for (i = 0; i < 3; i++) {
        T_CHECK(call(sv.sock, 2, exitn[i], "", NULL, res[0], sizeof res[0]) == atoi(codes[i]),
                "status %s through the child's socketpair", codes[i]);
    }
    T_EQ_INT(call(sv.sock, 2, kill9, "", NULL, res[0], sizeof res[0]), 128 + SIGKILL,
             "a reused child killed mid-request: 137");
    T_EQ_INT(call(sv.sock, 2, pid_argv, "", NULL, res[1], sizeof res[1]), 9,
             "the loop goes on after it");

    /* a reused child writes its status itself: the caller gets it while the loop is
       stopped (SIGSTOP), so a finished request costs the loop no wake-up */
    s1 = slow_call(sv.sock, w1);
    kill(sv.pid, SIGSTOP);
    T_CHECK(write(w1[1], "x", 1) == 1, "released it");
    T_EQ_INT(ipcfd_status(s1, 3), 5, "status from the reused child while the loop is stopped");
    kill(sv.pid, SIGCONT);
    close(s1);
    close(w1[1]);
    T_EQ_INT(call(sv.sock, 2, pid_argv, "", NULL, res[2], sizeof res[2]), 9,
             "the loop hands the next request on after it");

    /* a busy reused child (the one above, idle now, takes it) and SIGTERM */
    s1 = slow_call(sv.sock, w1);
    kill(sv.pid, SIGTERM);
    usleep(100 * 1000);
    T_CHECK(write(w1[1], "x", 1) == 1, "released it");
    T_EQ_INT(ipcfd_status(s1, 10), 5, "SIGTERM lets a reused child's request finish");
    close(s1);
    close(w1[1]);
    T_CHECK(waitpid(sv.pid, &st, 0) == sv.pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "loop returns 0 once its reused children are gone");
    close(sv.log);
    start_reuse = 1;
}

static void test_listening_and_bad_args(void)
{
    struct ipcserve bad = { "x", 0, 1, 0, serve, NULL, 1 };
    int p[2], sp[2], l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;        /* autobind: an abstract address */
    T_CHECK(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa_family_t)) == 0
            && listen(l, 1) == 0, "listener");
    T_EQ_INT(ipcserve_listening(l), 1, "a listening socket");
    T_CHECK(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "pipe, pair");
    T_EQ_INT(ipcserve_listening(p[0]), 0, "a pipe: run by hand");
    T_EQ_INT(ipcserve_listening(sp[0]), 0, "a connected socket: run by hand");
    T_EQ_INT(ipcserve_listening(-1), 0, "no fd");
    errno = 0;
    T_CHECK(ipcserve(&bad) < 0 && errno == EINVAL, "0 fds: EINVAL");
    bad.nfds = 4;
    T_CHECK(ipcserve(&bad) < 0 && errno == EINVAL, "4 fds: EINVAL");
    bad.nfds = 2;
    bad.maxconn = 0;
    T_CHECK(ipcserve(&bad) < 0 && errno == EINVAL, "maxconn 0: EINVAL");
    close(l);
    close(p[0]);
    close(p[1]);
    close(sp[0]);
    close(sp[1]);
}

int main(void)
{
    char me[24], dir[] = "/tmp/test_ipcserve.XXXXXX";

    /* the loops below serve their own uid only */
    snprintf(me, sizeof me, "%lu", (unsigned long)getuid());
    setenv("IPCFD_PEERS", me, 1);
    signal(SIGPIPE, SIG_IGN);
    T_CHECK(mkdtemp(dir) != NULL, "temp dir");
    test_listening_and_bad_args();
    test_round_trip(dir);
    test_refused_peer(dir, me);
    test_three_fds(dir);
    test_loop(dir);
    test_killed_loop(dir);
    test_reuse(dir);
    {
        char sock[64];
        snprintf(sock, sizeof sock, "%s/s", dir);
        unlink(sock);
        rmdir(dir);
    }
    return T_DONE();
}

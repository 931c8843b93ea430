/* test_ipcfd: lib/ipcfd's request decoder on good and hostile encodings, the IPCFD_PEERS
   allow-list parser, then a round trip over a real unix socket: arguments, two and three
   passed fds, the exit status (128+N for a signal when asked), and refusals (a bad request;
   a peer uid not in IPCFD_PEERS, refused before anything is read), and the accept loop
   (ipcfd_listen: readiness, statuses, signals, graceful SIGTERM). Serving needs
   IPCFD_PEERS: main sets it to our own uid. */
#include "ipcfd.h"
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

struct hostile {
    const char *in;
    size_t len;
    int want;
    const char *name;
};

#define H(s, w, n) { s, sizeof s - 1, w, n }
static const struct hostile cases[] = {
    H("", 0, "empty so far"),
    H("1", 0, "length digit so far"),
    H("6:abc", 0, "payload so far"),
    H("4:abc\0", 0, "comma missing so far"),
    H("4:abc\0,", 1, "one argument"),
    H("5:a\0\0b\0,", 1, "empty middle argument"),
    H("04:abc\0,", -1, "leading zero"),
    H(":abc\0,", -1, "no length"),
    H("0:,", -1, "empty payload"),
    H("4:abc\0;", -1, "wrong terminator"),
    H("4:abcd,", -1, "last argument without NUL"),
    H("4:abc\0,x", -1, "trailing bytes"),
    H("4x", -1, "garbage after length"),
    H("2049:", -1, "payload over the bound"),
    H("99999", -1, "length too long"),
    H("2:\0\0,", -1, "empty argv[0]"),
    H("-1:a\0,", -1, "negative length"),
};

static void test_decode(void)
{
    struct ipcfd_req r;
    char big[64];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(ipcfd_decode(&r, cases[i].in, cases[i].len), cases[i].want, cases[i].name);
    }
    T_CHECK(ipcfd_decode(&r, "5:a\0\0b\0,", 8) == 1 && r.argc == 3 && r.argv[3] == NULL
            && strcmp(r.argv[2], "b") == 0 && r.argv[1][0] == '\0', "argv decoded");
    /* 17 one-letter arguments: one over IPCFD_ARGS_MAX */
    memcpy(big, "34:", 3);
    for (i = 0; i < 17; i++) {
        big[3 + 2 * i] = 'a';
        big[4 + 2 * i] = '\0';
    }
    big[37] = ',';
    T_EQ_INT(ipcfd_decode(&r, big, 38), -1, "17 arguments refused");
    memcpy(big, "32:", 3);
    for (i = 0; i < 16; i++) {
        big[3 + 2 * i] = 'a';
        big[4 + 2 * i] = '\0';
    }
    big[35] = ',';
    T_CHECK(ipcfd_decode(&r, big, 36) == 1 && r.argc == 16, "16 arguments taken");
}

/* ipcfd_status_read, the poll-loop reader queue-run uses: a line that arrives in pieces,
   nothing yet, EOF before the newline. */
static void test_status_read(void)
{
    struct ipcfd_answer a = { .len = 0 };
    int sp[2];

    T_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0, "socketpair");
    T_EQ_INT(ipcfd_status_read(sp[0], &a), IPCFD_MORE, "nothing there yet: more to come");
    T_CHECK(write(sp[1], "11", 2) == 2, "half a line");
    T_EQ_INT(ipcfd_status_read(sp[0], &a), IPCFD_MORE, "half a line: more to come");
    T_CHECK(write(sp[1], "1\n", 2) == 2, "the rest");
    T_EQ_INT(ipcfd_status_read(sp[0], &a), 111, "the whole line, from two pieces");
    a.len = 0;
    T_CHECK(write(sp[1], "10", 2) == 2 && close(sp[1]) == 0, "a line cut by EOF");
    T_EQ_INT(ipcfd_status_read(sp[0], &a), IPCFD_MORE, "cut line: more to come");
    T_EQ_INT(ipcfd_status_read(sp[0], &a), -1, "EOF before the newline: no status");
    close(sp[0]);
}

static void test_encode_status(void)
{
    static const char *const one[] = { "deliver", "", "r@x", NULL };
    static const char *const none[] = { NULL };
    const char *many[18];
    char out[IPCFD_REQ_MAX], *huge;
    struct ipcfd_req r;
    int n, i;

    n = ipcfd_encode(out, sizeof out, one);
    T_CHECK(n == 17 && memcmp(out, "13:deliver\0\0r@x\0,", 17) == 0, "encode");
    T_EQ_INT(ipcfd_decode(&r, out, (size_t)n), 1, "encode then decode");
    T_EQ_INT(ipcfd_encode(out, sizeof out, none), -1, "empty argv refused");
    for (i = 0; i < 17; i++) {
        many[i] = "x";
    }
    many[17] = NULL;
    T_CHECK(ipcfd_encode(out, sizeof out, many) < 0 && errno == EINVAL, "17 args refused");
    huge = malloc(IPCFD_PAYLOAD_MAX + 1);
    memset(huge, 'h', IPCFD_PAYLOAD_MAX);
    huge[IPCFD_PAYLOAD_MAX] = '\0';
    many[0] = huge;
    many[1] = NULL;
    T_CHECK(ipcfd_encode(out, sizeof out, many) < 0 && errno == EINVAL, "oversize refused");
    huge[IPCFD_PAYLOAD_MAX - 1] = '\0';         /* exactly the bound with its NUL */
    n = ipcfd_encode(out, sizeof out, many);
    T_CHECK(n > 0 && ipcfd_decode(&r, out, (size_t)n) == 1, "payload at the bound");
    free(huge);
    T_EQ_INT(ipcfd_parse_status("0\n", 2), 0, "status 0");
    T_EQ_INT(ipcfd_parse_status("255\n", 4), 255, "status 255");
    T_EQ_INT(ipcfd_parse_status("256\n", 4), -1, "status 256");
    T_EQ_INT(ipcfd_parse_status("07\n", 3), -1, "status leading zero");
    T_EQ_INT(ipcfd_parse_status("1", 1), -1, "status without newline");
    T_EQ_INT(ipcfd_parse_status("", 0), -1, "no status (EOF)");
    T_EQ_INT(ipcfd_parse_status("x\n", 2), -1, "garbage status");
}

struct peers_case {
    const char *list;       /* NULL: unset */
    unsigned long uid;
    int want;
    const char *name;
};

static const struct peers_case peers_cases[] = {
    { "1001", 1001, 1, "one uid, listed" },
    { "1001", 1002, 0, "one uid, not listed" },
    { "1001", 100, 0, "a prefix is not a match" },
    { "1001", 10011, 0, "nor an extension" },
    { "998,999,1000", 999, 1, "middle of three" },
    { "998,999,1000", 1000, 1, "last of three" },
    { "998,999,1000", 997, 0, "none of three" },
    { "0", 0, 1, "uid 0 only when listed" },
    { "1001", 0, 0, "root is not implied" },
    { "4294967294", 4294967294UL, 1, "largest uid" },
    { "4294967295", 4294967295UL, -1, "(uid_t)-1 is no uid" },
    { "99999999999999999999999", 1, -1, "overflow" },
    { "1001,99999999999999999999", 1001, -1, "a bad item spoils the whole list" },
    { NULL, 1001, -1, "unset" },
    { "", 1001, -1, "empty" },
    { ",", 1001, -1, "only a comma" },
    { "1001,", 1001, -1, "trailing comma" },
    { ",1001", 1001, -1, "leading comma" },
    { "1001,,1002", 1001, -1, "empty item" },
    { "1001, 1002", 1001, -1, "space" },
    { " 1001", 1001, -1, "leading space" },
    { "1001\n", 1001, -1, "newline" },
    { "01001", 1001, -1, "leading zero" },
    { "00", 0, -1, "double zero" },
    { "-1", 1, -1, "negative" },
    { "+1001", 1001, -1, "plus sign" },
    { "0x3e9", 1001, -1, "hex" },
    { "yubin-q", 1001, -1, "a name, not a uid" },
    { "1001;1002", 1001, -1, "wrong separator" },
};

static void test_peers(void)
{
    char big[IPCFD_PEERS_MAX + 2];
    size_t i, n = 0;

    for (i = 0; i < sizeof peers_cases / sizeof peers_cases[0]; i++) {
        const struct peers_case *c = &peers_cases[i];
        int got;
        errno = 0;
        got = ipcfd_peers_find(c->list, (uid_t)c->uid);
        T_CHECK(got == c->want && (got >= 0 || errno == EINVAL), "peers: %s (got %d, want %d)",
                c->name, got, c->want);
    }
    /* the bound: "1,1,...,1,7[7]" of exactly IPCFD_PEERS_MAX bytes is read; one more is not */
    while (n + 2 < IPCFD_PEERS_MAX) {
        big[n++] = '1';
        big[n++] = ',';
    }
    while (n < IPCFD_PEERS_MAX) {
        big[n++] = '7';
    }
    big[n] = '\0';
    T_EQ_INT(ipcfd_peers_find(big, 1), 1, "a list of exactly IPCFD_PEERS_MAX bytes");
    T_EQ_INT(ipcfd_peers_find(big, 2), 0, "a list of exactly IPCFD_PEERS_MAX bytes, absent");
    big[n] = '1';
    big[n + 1] = '\0';
    T_EQ_INT(ipcfd_peers_find(big, 1), -1, "one byte over IPCFD_PEERS_MAX: refused");
}

/* A refused server (ipcfd_serve failed with EPERM): 96 if the request is still unread on
   fd 0 and ipcfd_refusal says why, as want; 95 if not. */
static int refused(const char *want)
{
    char why[IPCFD_WHY_MAX], c;
    struct pollfd pf = { 0, POLLIN, 0 };

    if (strcmp(ipcfd_refusal(why, sizeof why), want) != 0) {
        fprintf(stderr, "refusal: got \"%s\", want \"%s\"\n", why, want);
        return 95;
    }
    if (poll(&pf, 1, 5000) != 1 || recv(0, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 1) {
        return 95;
    }
    return 96;
}

/* A unix socket listening at path (replacing what was there); -1 on error. */
static int listener(const char *path, int backlog)
{
    struct sockaddr_un sa;
    int l;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    unlink(path);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, backlog) < 0) {
        if (l >= 0) {
            close(l);
        }
        return -1;
    }
    return l;
}

/* A server process listening at path: in the parent the child's pid (-1 on error; the
   listener closed); in the child 0, with *l the listener. */
static pid_t fork_server(const char *path, int *l)
{
    pid_t pid;

    *l = listener(path, 8);
    if (*l < 0) {
        return -1;
    }
    pid = fork();
    if (pid != 0) {
        close(*l);
    }
    return pid;
}

/* In a one-connection server: its client on fds 0 and 1, the listener closed. */
static void accept_on_01(int l)
{
    int c = accept(l, NULL, NULL);
    if (c < 0 || dup2(c, 0) < 0 || dup2(c, 1) < 0) {
        _exit(99);
    }
    close(c);
    close(l);
}

/* A one-connection server: accept, put the connection on fds 0/1, ipcfd_serve. Its child
   writes "argc:argv[1]:" plus what it reads on fd 0 to fd 1, and exits 42. With why set, it
   expects ipcfd_serve to refuse the peer with that refusal line and exits refused(why). */
static pid_t server(const char *path, const char *why)
{
    int l;
    pid_t pid;

    pid = fork_server(path, &l);
    if (pid != 0) {
        return pid;
    }
    accept_on_01(l);
    {
        char **argv, buf[256];
        int n, argc;
        ssize_t got;
        if (ipcfd_serve(&argv) < 0) {
            _exit(why && errno == EPERM ? refused(why) : 98);
        }
        for (argc = 0; argv[argc]; argc++) {
        }
        n = snprintf(buf, sizeof buf, "%d:%s:", argc, argv[1] ? argv[1] : "-");
        got = read(0, buf + n, sizeof buf - (size_t)n);
        if (got > 0 && write(1, buf, (size_t)n + (size_t)got) < 0) {
            _exit(97);
        }
        _exit(42);
    }
}

static void test_round_trip(void)
{
    static const char *const argv[] = { "prog", "first arg", "", NULL };
    char path[] = "/tmp/test_ipcfd.XXXXXX";
    char sock[64], out[64];
    int in[2], res[2], s, st;
    ssize_t got;
    pid_t pid;

    T_CHECK(mkdtemp(path) != NULL, "temp dir");
    snprintf(sock, sizeof sock, "%s/s", path);
    pid = server(sock, NULL);
    T_CHECK(pid > 0, "server started");
    T_CHECK(pipe(in) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, res) == 0, "fds");
    s = ipcfd_call(sock, in[0], res[1], argv);
    T_CHECK(s >= 0, "call connected");
    close(in[0]);
    close(res[1]);
    T_CHECK(write(in[1], "body", 4) == 4, "wrote the message");
    close(in[1]);
    got = read(res[0], out, sizeof out - 1);
    out[got > 0 ? got : 0] = '\0';
    T_EQ_STR(out, "3:first arg:body", "argv and both fds reached the program");
    T_EQ_INT(ipcfd_status(s, 5), 42, "exit status came back");
    close(s);
    close(res[0]);
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "server parent exits with the status");

    /* one fd instead of two: refused, the client sees no status */
    pid = server(sock, NULL);
    {
        union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } ctl;
        struct sockaddr_un sa;
        struct msghdr mh;
        struct iovec iov = { "4:abc\0,", 7 };
        struct cmsghdr *c;
        int fd = 0;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        strcpy(sa.sun_path, sock);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        T_CHECK(connect(s, (struct sockaddr *)&sa, sizeof sa) == 0, "raw connect");
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.space;
        mh.msg_controllen = sizeof ctl.space;
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fd);
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        T_EQ_INT(sendmsg(s, &mh, 0), 7, "sent a request with one fd");
        T_EQ_INT(ipcfd_status(s, 5), -1, "one fd refused: no status");
        close(s);
        waitpid(pid, &st, 0);
        T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 98, "server refused one fd");
    }

    /* no fds and a hostile request: refused */
    pid = server(sock, NULL);
    {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        strcpy(sa.sun_path, sock);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        T_CHECK(connect(s, (struct sockaddr *)&sa, sizeof sa) == 0, "raw connect");
        T_EQ_INT(write(s, "99999:", 6), 6, "sent an oversize length");
        T_EQ_INT(ipcfd_status(s, 5), -1, "oversize refused: no status");
        close(s);
        waitpid(pid, &st, 0);
        T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 98, "server refused the oversize request");
    }
    unlink(sock);
    rmdir(path);
}

/* A call that the server must refuse for its peer uid (refused() checks the line why). */
static void call_refused(const char *sock, const char *why, const char *name)
{
    static const char *const argv[] = { "prog", "x", NULL };
    int in[2], s, st;
    pid_t pid;

    pid = server(sock, why);
    T_CHECK(pid > 0 && pipe(in) == 0, "%s: server and fds", name);
    s = ipcfd_call(sock, in[0], in[1], argv);
    T_CHECK(s >= 0, "%s: connected", name);
    T_EQ_INT(ipcfd_status(s, 5), -1, "refused peer: no status");
    close(s);
    close(in[0]);
    close(in[1]);
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 96,
            "%s: refused before reading, with the right line (exit %d)", name,
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The peer check: SO_PEERCRED against IPCFD_PEERS, whatever else the environment says. */
static void test_refused_peer(const char *me)
{
    char path[] = "/tmp/test_ipcfd.XXXXXX";
    char sock[64], other[24], why[IPCFD_WHY_MAX], bad[IPCFD_WHY_MAX];
    unsigned long uid = (unsigned long)getuid();

    T_CHECK(mkdtemp(path) != NULL, "temp dir");
    snprintf(sock, sizeof sock, "%s/s", path);
    snprintf(other, sizeof other, "%lu", uid + 1);
    snprintf(why, sizeof why, "refused a connection from uid %lu (not in IPCFD_PEERS)", uid);
    snprintf(bad, sizeof bad, "refused a connection from uid %lu (IPCFD_PEERS is unset or "
             "malformed)", uid);

    setenv("IPCFD_PEERS", other, 1);
    call_refused(sock, why, "uid not listed");
    /* s6-ipcserverd's IPCREMOTEEUID is not what is checked */
    setenv("IPCREMOTEEUID", other, 1);
    call_refused(sock, why, "IPCREMOTEEUID names a listed uid, the socket says otherwise");
    unsetenv("IPCREMOTEEUID");
    unsetenv("IPCFD_PEERS");
    call_refused(sock, bad, "IPCFD_PEERS unset");
    setenv("IPCFD_PEERS", "", 1);
    call_refused(sock, bad, "IPCFD_PEERS empty");
    snprintf(other, sizeof other, "%s,", me);
    setenv("IPCFD_PEERS", other, 1);
    call_refused(sock, bad, "IPCFD_PEERS malformed (our uid and a trailing comma)");
    setenv("IPCFD_PEERS", me, 1);
    unlink(sock);
    rmdir(path);
}

/* A one-connection server for ipcfd_serve_fds(nfds, flags), fd 2 closed first (so received
   fds land on 2 and must be moved). Its child writes argv[1], then what it reads on fd 0,
   then what it reads on fd 2 (each to EOF) to fd 1; it exits 7, or kills itself with
   SIGTERM when argv[1] is "die". */
static pid_t server_fds(const char *path, size_t nfds, unsigned flags)
{
    int l;
    pid_t pid;

    pid = fork_server(path, &l);
    if (pid != 0) {
        return pid;
    }
    accept_on_01(l);
    close(2);
    {
        char **argv, buf[256];
        size_t n;
        ssize_t got;
        int fd;
        if (ipcfd_serve_fds(&argv, nfds, flags) < 0) {
            _exit(98);
        }
        if (strcmp(argv[1], "die") == 0) {
            raise(SIGTERM);
        }
        n = strlen(argv[1]);
        memcpy(buf, argv[1], n);
        for (fd = 0; fd <= 2; fd += 2) {
            while ((got = read(fd, buf + n, sizeof buf - n)) > 0) {
                n += (size_t)got;
            }
        }
        if (write(1, buf, n) < 0) {
            _exit(97);
        }
        _exit(7);
    }
}

static void test_three_fds(void)
{
    static const char *const argv[] = { "checkpw", "A|", NULL };
    static const char *const die_argv[] = { "checkpw", "die", NULL };
    char path[] = "/tmp/test_ipcfd.XXXXXX";
    char sock[64], out[64];
    int in[2], res[2], cred[2], fds[4], s, st;
    ssize_t got;
    size_t have = 0;
    pid_t pid;

    T_CHECK(mkdtemp(path) != NULL, "temp dir");
    snprintf(sock, sizeof sock, "%s/s", path);
    pid = server_fds(sock, 3, IPCFD_SIGNAL_HIGH);
    T_CHECK(pid > 0, "3-fd server started");
    T_CHECK(pipe(in) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, res) == 0
            && socketpair(AF_UNIX, SOCK_STREAM, 0, cred) == 0, "fds");
    fds[0] = in[0];
    fds[1] = res[1];
    fds[2] = cred[1];
    s = ipcfd_call_fds(sock, fds, 3, argv);
    T_CHECK(s >= 0, "3-fd call connected");
    close(in[0]);
    close(res[1]);
    close(cred[1]);
    T_CHECK(write(in[1], "client|", 7) == 7 && write(cred[0], "login\0pw\0", 10) == 10,
            "wrote client bytes and credentials");
    close(in[1]);
    shutdown(cred[0], SHUT_WR);
    while (have < sizeof out - 1 && (got = read(res[0], out + have, sizeof out - 1 - have)) > 0) {
        have += (size_t)got;
    }
    T_CHECK(have == 19 && memcmp(out, "A|client|login\0pw\0", 19) == 0,
            "argv and all three fds (onto 0, 1, 2) reached the program");
    T_EQ_INT(read(cred[0], out, 1), 0, "fd 2 closed on both server sides after the child");
    T_EQ_INT(ipcfd_status(s, 5), 7, "3-fd exit status came back");
    close(s);
    close(res[0]);
    close(cred[0]);
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "3-fd server parent exits with the status");

    /* killed by a signal: 128+N with IPCFD_SIGNAL_HIGH */
    pid = server_fds(sock, 3, IPCFD_SIGNAL_HIGH);
    T_CHECK(pipe(in) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, cred) == 0, "fds");
    fds[0] = in[0];
    fds[1] = in[1];
    fds[2] = cred[1];
    s = ipcfd_call_fds(sock, fds, 3, die_argv);
    T_CHECK(s >= 0, "call connected");
    close(in[0]);
    close(in[1]);
    close(cred[1]);
    T_EQ_INT(ipcfd_status(s, 5), 128 + SIGTERM, "killed by SIGTERM: 143");
    close(s);
    close(cred[0]);
    waitpid(pid, &st, 0);

    /* a two-fd request to a three-fd server: refused, no status */
    pid = server_fds(sock, 3, 0);
    T_CHECK(pipe(in) == 0, "fds");
    s = ipcfd_call(sock, in[0], in[1], argv);
    T_CHECK(s >= 0, "call connected");
    T_EQ_INT(ipcfd_status(s, 5), -1, "two fds to a three-fd server: no status");
    close(s);
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 98, "three-fd server refused two fds");

    /* four fds: refused by the client already */
    fds[0] = fds[1] = fds[2] = fds[3] = in[0];
    errno = 0;
    T_CHECK(ipcfd_call_fds(sock, fds, 4, argv) < 0 && errno == EINVAL, "4 fds: EINVAL");
    T_CHECK(ipcfd_call_fds(sock, fds, 0, argv) < 0 && errno == EINVAL, "0 fds: EINVAL");
    close(in[0]);
    close(in[1]);
    unlink(sock);
    rmdir(path);
}

/* A server in its own accept loop (ipcfd_listen, at most 2 children): the listening socket
   on fd 0, the readiness pipe on fd 1. Its children: argv[1] "exit N" exits N, "kill" dies
   by SIGKILL, "sleep" waits for a byte on fd 0 then exits 5; a refused request exits 98. */
static pid_t listen_server(const char *path, int ready_w, unsigned flags)
{
    char **argv;
    int l;
    pid_t pid;

    pid = fork_server(path, &l);
    if (pid != 0) {
        return pid;
    }
    if (dup2(l, 0) < 0 || dup2(ready_w, 1) < 0) {
        _exit(99);
    }
    close(l);
    close(ready_w);
    if (ipcfd_listen(&argv, 2, flags, 2) < 0) {
        _exit(98);
    }
    if (argv[1] && strcmp(argv[1], "kill") == 0) {
        raise(SIGKILL);
    }
    if (argv[1] && strcmp(argv[1], "sleep") == 0) {
        char c;
        _exit(read(0, &c, 1) == 1 ? 5 : 6);
    }
    _exit(argv[1] && argv[2] ? atoi(argv[2]) : 0);
}

/* One call to the loop; returns the status (-1: none). in_w: our end of the child's fd 0, kept
   open for the caller when not NULL. */
static int listen_call(const char *sock, const char *const *argv, int *in_w)
{
    int in[2], res[2], s, code;

    if (pipe(in) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, res) < 0) {
        return -2;
    }
    s = ipcfd_call(sock, in[0], res[1], argv);
    close(in[0]);
    close(res[1]);
    close(res[0]);
    if (s < 0) {
        close(in[1]);
        return -2;
    }
    if (in_w) {
        *in_w = in[1];
        return s;       /* the caller reads the status */
    }
    close(in[1]);
    code = ipcfd_status(s, 10);
    close(s);
    return code;
}

static void test_listen(void)
{
    static const char *const exit7[] = { "prog", "exit", "7", NULL };
    static const char *const kill9[] = { "prog", "kill", NULL };
    static const char *const slow[] = { "prog", "sleep", NULL };
    char path[] = "/tmp/test_ipcfd.XXXXXX";
    char sock[64], c = 0;
    int ready[2], st, i, s1, s2, w1, w2;
    pid_t pid;

    T_CHECK(mkdtemp(path) != NULL, "temp dir");
    snprintf(sock, sizeof sock, "%s/l", path);
    T_CHECK(pipe(ready) == 0, "readiness pipe");
    pid = listen_server(sock, ready[1], 0);
    close(ready[1]);
    T_CHECK(pid > 0 && read(ready[0], &c, 1) == 1 && c == '\n', "loop: readiness newline");
    for (i = 0; i < 3; i++) {
        T_EQ_INT(listen_call(sock, exit7, NULL), 7, "loop: each connection's exit status");
    }
    T_EQ_INT(listen_call(sock, kill9, NULL), 111, "loop: a child killed by a signal is 111");

    /* two slow requests fill the loop (maxconn 2); SIGTERM then: both still get a status */
    s1 = listen_call(sock, slow, &w1);
    s2 = listen_call(sock, slow, &w2);
    T_CHECK(s1 >= 0 && s2 >= 0, "loop: two slow calls running");
    usleep(100 * 1000);
    kill(pid, SIGTERM);
    usleep(100 * 1000);
    T_CHECK(write(w1, "x", 1) == 1 && write(w2, "y", 1) == 1, "released the slow children");
    T_EQ_INT(ipcfd_status(s1, 10), 5, "loop: SIGTERM lets a running request finish (1)");
    T_EQ_INT(ipcfd_status(s2, 10), 5, "loop: SIGTERM lets a running request finish (2)");
    close(s1);
    close(s2);
    close(w1);
    close(w2);
    T_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "loop: exits 0 after SIGTERM once its children are done");
    T_EQ_INT(listen_call(sock, exit7, NULL), -2, "loop: nobody listens after SIGTERM");
    close(ready[0]);

    /* The loop killed while two children run: when the first ends, its client sees EOF at
       once (the second child holds no copy of the first one's connection). */
    T_CHECK(pipe(ready) == 0, "readiness pipe");
    pid = listen_server(sock, ready[1], 0);
    close(ready[1]);
    T_CHECK(pid > 0 && read(ready[0], &c, 1) == 1, "loop (kill test) ready");
    s1 = listen_call(sock, slow, &w1);
    usleep(50 * 1000);
    s2 = listen_call(sock, slow, &w2);
    usleep(100 * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    T_CHECK(write(w1, "x", 1) == 1, "released the first child");
    {
        time_t t0 = time(NULL);
        T_EQ_INT(ipcfd_status(s1, 5), -1, "loop gone: no status, EOF");
        T_CHECK(time(NULL) - t0 <= 2, "EOF as soon as its own child ended");
    }
    T_CHECK(write(w2, "y", 1) == 1, "released the second child");
    T_EQ_INT(ipcfd_status(s2, 5), -1, "second: EOF too");
    close(s1);
    close(s2);
    close(w1);
    close(w2);
    close(ready[0]);

    /* IPCFD_SIGNAL_HIGH: 128+N for a child killed by signal N */
    T_CHECK(pipe(ready) == 0, "readiness pipe");
    pid = listen_server(sock, ready[1], IPCFD_SIGNAL_HIGH);
    close(ready[1]);
    T_CHECK(pid > 0 && read(ready[0], &c, 1) == 1, "loop (signal high) ready");
    T_EQ_INT(listen_call(sock, kill9, NULL), 128 + SIGKILL, "loop: SIGKILL reported as 137");
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    close(ready[0]);
    unlink(sock);
    rmdir(path);
}

int main(void)
{
    char me[24];

    /* the servers below serve their own uid only */
    snprintf(me, sizeof me, "%lu", (unsigned long)getuid());
    setenv("IPCFD_PEERS", me, 1);
    test_decode();
    test_encode_status();
    test_status_read();
    test_peers();
    test_round_trip();
    test_refused_peer(me);
    test_three_fds();
    test_listen();
    return T_DONE();
}

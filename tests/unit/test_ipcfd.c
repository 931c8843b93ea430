/* test_ipcfd: lib/ipcfd's request format: the decoder on good and hostile encodings, the
   encoder and the status line, the client's status reader, the IPCFD_PEERS allow-list parser
   and the refusal line. The crossing over a real socket: test_ipcserve. */
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
    H("40001:", -1, "payload over the bound"),
    H("99999", -1, "length too long"),
    H("2:\0\0,", -1, "empty argv[0]"),
    H("-1:a\0,", -1, "negative length"),
};

static void test_decode(void)
{
    struct ipcfd_req r;
    char big[2 * IPCFD_ARGS_MAX + 16];
    size_t i, k;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(ipcfd_decode(&r, cases[i].in, cases[i].len), cases[i].want, cases[i].name);
    }
    T_CHECK(ipcfd_decode(&r, "5:a\0\0b\0,", 8) == 1 && r.argc == 3 && r.argv[3] == NULL
            && strcmp(r.argv[2], "b") == 0 && r.argv[1][0] == '\0', "argv decoded");
    /* one-letter arguments: IPCFD_ARGS_MAX taken, one more refused */
    for (k = IPCFD_ARGS_MAX; k <= IPCFD_ARGS_MAX + 1; k++) {
        int h = snprintf(big, sizeof big, "%zu:", 2 * k);
        for (i = 0; i < k; i++) {
            big[h + 2 * i] = 'a';
            big[h + 2 * i + 1] = '\0';
        }
        big[h + 2 * k] = ',';
        T_EQ_INT(ipcfd_decode(&r, big, (size_t)h + 2 * k + 1), k == IPCFD_ARGS_MAX ? 1 : -1,
                 k == IPCFD_ARGS_MAX ? "IPCFD_ARGS_MAX arguments" : "one argument too many");
    }
    T_EQ_INT(r.argc, IPCFD_ARGS_MAX, "IPCFD_ARGS_MAX arguments counted");
}

/* ipcfd_status_read, the poll-loop reader queue-run uses: a line that arrives in pieces,
   nothing yet, EOF before the newline. */
static void test_status_read(void)
{
    struct ipcfd_answer a = { .len = 0 };
    int sp[2], code = -1;

    T_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0, "socketpair");
    T_EQ_INT(ipcfd_status_read(sp[0], &a, &code), 0, "nothing there yet: more to come");
    T_CHECK(write(sp[1], "11", 2) == 2, "half a line");
    T_EQ_INT(ipcfd_status_read(sp[0], &a, &code), 0, "half a line: more to come");
    T_CHECK(write(sp[1], "1\n", 2) == 2, "the rest");
    T_EQ_INT(ipcfd_status_read(sp[0], &a, &code), 1, "the whole line, from two pieces");
    T_EQ_INT(code, 111, "its status");
    a.len = 0;
    T_CHECK(write(sp[1], "x\n", 2) == 2, "a line that is no status");
    T_EQ_INT(ipcfd_status_read(sp[0], &a, &code), -1, "garbage: no status");
    a.len = 0;
    T_CHECK(write(sp[1], "10", 2) == 2 && close(sp[1]) == 0, "a line cut by EOF");
    T_EQ_INT(ipcfd_status_read(sp[0], &a, &code), 0, "cut line: more to come");
    T_EQ_INT(ipcfd_status_read(sp[0], &a, &code), -1, "EOF before the newline: no status");
    close(sp[0]);
}

static void test_encode_status(void)
{
    static const char *const one[] = { "deliver", "", "r@x", NULL };
    static const char *const none[] = { NULL };
    const char *many[IPCFD_ARGS_MAX + 2];
    static char out[IPCFD_REQ_MAX];
    char *huge;
    struct ipcfd_req r;
    int n, i;

    n = ipcfd_encode(out, sizeof out, one);
    T_CHECK(n == 17 && memcmp(out, "13:deliver\0\0r@x\0,", 17) == 0, "encode");
    T_EQ_INT(ipcfd_decode(&r, out, (size_t)n), 1, "encode then decode");
    T_EQ_INT(ipcfd_encode(out, sizeof out, none), -1, "empty argv refused");
    for (i = 0; i < IPCFD_ARGS_MAX + 1; i++) {
        many[i] = "x";
    }
    many[IPCFD_ARGS_MAX + 1] = NULL;
    T_CHECK(ipcfd_encode(out, sizeof out, many) < 0 && errno == EINVAL, "too many args refused");
    many[IPCFD_ARGS_MAX] = NULL;
    n = ipcfd_encode(out, sizeof out, many);
    T_CHECK(n > 0 && ipcfd_decode(&r, out, (size_t)n) == 1 && r.argc == IPCFD_ARGS_MAX,
            "IPCFD_ARGS_MAX args round-trip");
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


static void test_refusal_line(void)
{
    char why[IPCFD_WHY_MAX], small[16];

    T_EQ_STR(ipcfd_refusal_line(why, sizeof why, 1001, 0),
             "refused a connection from uid 1001 (not in IPCFD_PEERS)", "refusal: not listed");
    T_EQ_STR(ipcfd_refusal_line(why, sizeof why, 4294967294UL, -1), "refused a connection "
             "from uid 4294967294 (IPCFD_PEERS is unset or malformed)", "refusal: bad list");
    T_EQ_STR(ipcfd_refusal_line(small, sizeof small, 1, 0), "refused a conne", "refusal: cut");
}

int main(void)
{
    test_decode();
    test_encode_status();
    test_status_read();
    test_peers();
    test_refusal_line();
    return T_DONE();
}

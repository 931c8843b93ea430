/* test_keyproto.c: tls/keyproto (tlsd <-> tlskeyd messages): round trips, and every decoder
   against truncated, over-long and lying bodies. */
#include "tls/keyproto.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dup_bytes(const char *s)
{
    char *p = malloc(strlen(s) + 1);
    memcpy(p, s, strlen(s) + 1);
    return p;
}

static void test_raw(void)
{
    struct keys_raw r, back;
    struct keyproto_buf b = { NULL, 0, 0 };
    char dir[64];
    size_t cut;

    memset(&r, 0, sizeof r);
    r.dir = "/root/etc/tls";
    strcpy(r.pairs[0].name, "server");
    r.pairs[0].pem = dup_bytes("PEM0");
    r.pairs[0].pem_len = 4;
    r.pairs[0].key = dup_bytes("KEY-0");
    r.pairs[0].key_len = 5;
    strcpy(r.pairs[1].name, "pop3.example.test");
    r.pairs[1].pem = dup_bytes("");
    r.pairs[1].key = dup_bytes("k");
    r.pairs[1].key_len = 1;
    r.n = 2;
    T_EQ_INT(keyproto_put_raw(&b, &r), 0, "put_raw");
    T_EQ_INT(keyproto_get_raw(b.p, b.len, &back, dir, sizeof dir), 0, "get_raw round trip");
    T_EQ_STR(back.dir, "/root/etc/tls", "dir back");
    T_EQ_INT(back.n, 2, "pairs back");
    T_EQ_STR(back.pairs[1].name, "pop3.example.test", "name back");
    T_CHECK(back.pairs[0].key_len == 5 && memcmp(back.pairs[0].key, "KEY-0", 5) == 0, "key back");
    T_EQ_INT(back.pairs[1].pem_len, 0, "empty pem back");
    keys_raw_free(&back);
    /* a cut inside a field is refused (nothing kept); a cut between pairs is a smaller folder */
    for (cut = 0; cut < b.len; cut++) {
        if (keyproto_get_raw(b.p, cut, &back, dir, sizeof dir) == 0) {
            T_CHECK(cut == 2 + 13 + 2 + 6 + 4 + 4 + 4 + 5 && back.n == 1,
                    "truncated at %zu accepted", cut);
            keys_raw_free(&back);
        }
    }
    T_EQ_INT(keyproto_get_raw(b.p, b.len, &back, dir, 8), -1, "dir longer than its buffer");
    b.p[2 + 13 + 1] = 0xff;                   /* the first name's length: past the body */
    T_EQ_INT(keyproto_get_raw(b.p, b.len, &back, dir, sizeof dir), -1, "name length lies");
    keyproto_free(&b);
    keys_raw_free(&r);
}

static void test_sign(void)
{
    struct keyproto_buf b = { NULL, 0, 0 };
    unsigned char digest[KEYPROTO_DIGEST], d2[KEYPROTO_DIGEST], hv[64];
    const unsigned char *h;
    unsigned idx, id;
    size_t hl;

    memset(digest, 7, sizeof digest);
    memset(hv, 9, sizeof hv);
    T_EQ_INT(keyproto_put_sign(&b, digest, 3, 4, hv, 32), 0, "put_sign");
    T_EQ_INT(keyproto_get_sign(b.p, b.len, d2, &idx, &id, &h, &hl), 0, "get_sign");
    T_CHECK(idx == 3 && id == 4 && hl == 32 && memcmp(d2, digest, sizeof d2) == 0, "fields back");
    T_EQ_INT(keyproto_get_sign(b.p, b.len - 1, d2, &idx, &id, &h, &hl), -1, "short hash");
    b.p[KEYPROTO_DIGEST + 1] = 7;
    T_EQ_INT(keyproto_get_sign(b.p, b.len, d2, &idx, &id, &h, &hl), -1, "unknown hash id");
    b.p[KEYPROTO_DIGEST + 1] = 4;
    b.p[KEYPROTO_DIGEST] = KEYS_CERTS_MAX;
    T_EQ_INT(keyproto_get_sign(b.p, b.len, d2, &idx, &id, &h, &hl), -1, "pair index too big");
    keyproto_free(&b);
    T_EQ_INT(keyproto_put_sign(&b, digest, 0, 6, hv, KEYPROTO_HASH_MAX + 1), -1, "hash too long");
    keyproto_free(&b);
}

static void test_session(void)
{
    struct keyproto_buf b = { NULL, 0, 0 };
    struct keyproto_session s, back;

    memset(&s, 0, sizeof s);
    memset(s.id, 0xa5, sizeof s.id);
    memset(s.name, 0x5a, sizeof s.name);
    memset(s.master, 0x33, sizeof s.master);
    s.version = 0x0303;
    s.suite = 0xc02b;
    T_EQ_INT(keyproto_put_session(&b, &s, 1), 0, "put_session whole");
    T_EQ_INT((int)b.len, 116, "a whole session is 116 octets");
    T_EQ_INT(keyproto_get_session(b.p, b.len, &back, 1), 0, "get_session whole");
    T_CHECK(memcmp(&back, &s, sizeof s) == 0, "every field back");
    T_EQ_INT(keyproto_get_session(b.p, b.len - 1, &back, 1), -1, "one octet short");
    T_EQ_INT(keyproto_get_session(b.p, b.len, &back, 0), -1, "a whole session is not a lookup");
    b.p[64] = 0x02;     /* version 2.3 */
    T_EQ_INT(keyproto_get_session(b.p, b.len, &back, 1), -1, "SSL 3.0 and older refused");
    b.p[64] = 0x03;
    b.p[65] = 0x04;     /* TLS 1.3: BearSSL has no such session */
    T_EQ_INT(keyproto_get_session(b.p, b.len, &back, 1), -1, "TLS 1.3 refused");
    b.p[65] = 0x03;
    b.p[66] = b.p[67] = 0;
    T_EQ_INT(keyproto_get_session(b.p, b.len, &back, 1), -1, "cipher suite 0 refused");
    keyproto_free(&b);
    T_EQ_INT(keyproto_put_session(&b, &s, 0), 0, "put_session lookup");
    T_EQ_INT((int)b.len, KEYPROTO_SESSION_ID, "a lookup is the ID alone");
    T_EQ_INT(keyproto_get_session(b.p, b.len, &back, 0), 0, "get_session lookup");
    T_CHECK(memcmp(back.id, s.id, sizeof s.id) == 0 && back.version == 0, "the ID back, no more");
    keyproto_free(&b);
}

static void test_chains(void)
{
    /* one pair by hand: host "", RSA (1), issuer EC (2), 2048 bits, 90 days, one cert "AB" */
    static const unsigned char ok[] = { 0, 1, 2, 0, 0, 8, 0, 0, 0, 0, 90, 1, 0, 0, 0, 2, 'A', 'B' };
    unsigned char bad[sizeof ok];
    struct keys k;
    static struct keyproto_pair pairs[KEYS_CERTS_MAX];
    size_t cut;

    T_EQ_INT(keyproto_get_chains(ok, sizeof ok, &k, pairs), 0, "chains");
    T_CHECK(k.n == 1 && k.certs[0].chain_len == 1 && k.certs[0].chain[0].data_len == 2
            && pairs[0].bits == 2048 && pairs[0].days_left == 90 && !k.certs[0].skey,
            "chain fields, no key");
    keys_free(&k);
    for (cut = 0; cut < sizeof ok; cut++) {
        T_EQ_INT(keyproto_get_chains(ok, cut, &k, pairs), -1, "truncated chains refused");
    }
    memcpy(bad, ok, sizeof ok);
    bad[1] = 3;
    T_EQ_INT(keyproto_get_chains(bad, sizeof bad, &k, pairs), -1, "unknown key type");
    memcpy(bad, ok, sizeof ok);
    bad[5] = 0;     /* 0 bits of RSA modulus */
    T_EQ_INT(keyproto_get_chains(bad, sizeof bad, &k, pairs), -1, "RSA modulus too small");
    memcpy(bad, ok, sizeof ok);
    bad[11] = 0;    /* no certificate */
    T_EQ_INT(keyproto_get_chains(bad, sizeof bad, &k, pairs), -1, "empty chain");
}

static void test_frames(void)
{
    int sv[2];
    unsigned char *body;
    size_t len;
    int type;
    static const unsigned char huge[5] = { 'k', 0x7f, 0xff, 0xff, 0xff };

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        T_CHECK(0, "socketpair");
        return;
    }
    T_EQ_INT(keyproto_send(sv[0], KEYPROTO_OK, "abc", 3), 0, "send");
    T_CHECK(keyproto_recv(sv[1], &type, &body, &len) == 0 && type == 'k' && len == 3
            && memcmp(body, "abc", 3) == 0, "recv");
    free(body);
    T_CHECK(write(sv[0], huge, sizeof huge) == sizeof huge, "write a lying length");
    T_EQ_INT(keyproto_recv(sv[1], &type, &body, &len), -1, "length over KEYPROTO_MSG_MAX");
    close(sv[0]);
    T_EQ_INT(keyproto_recv(sv[1], &type, &body, &len), -1, "EOF");
    close(sv[1]);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* A message leaves in one write: on a SOCK_SEQPACKET pair every write is its own record, so
   the first record holds the header and the body (tlskeyd and tlsd wake once a message). A
   body bigger than a pipe holds arrives whole when a signal cuts the writev short: the writer
   fills the pipe, SIGALRM (no SA_RESTART) ends that writev after 64 KB, and the rest follows
   once the reader drains it. */
static void test_one_write(void)
{
    static unsigned char big[300 * 1024];
    unsigned char rec[64], *body;
    int sv[2], p[2], type;
    size_t len, i;
    pid_t kid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0 || pipe(p) < 0) {
        T_CHECK(0, "socketpair, pipe");
        return;
    }
    T_EQ_INT(keyproto_send(sv[0], KEYPROTO_OK, "abcdef", 6), 0, "send");
    T_EQ_INT(recv(sv[1], rec, sizeof rec, 0), 11, "header and body in one record");
    T_CHECK(rec[0] == KEYPROTO_OK && memcmp(rec + 5, "abcdef", 6) == 0, "the record's octets");
    T_EQ_INT(keyproto_send(sv[0], KEYPROTO_OK, NULL, 0), 0, "send an empty body");
    T_EQ_INT(recv(sv[1], rec, sizeof rec, 0), 5, "only the header");
    close(sv[0]);
    close(sv[1]);

    for (i = 0; i < sizeof big; i++) {
        big[i] = (unsigned char)(i * 7 + i / 251);
    }
    fflush(stdout);
    kid = fork();
    if (kid == 0) {
        struct sigaction sa;
        struct itimerval it = { { 0, 0 }, { 0, 50 * 1000 } };
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;       /* no SA_RESTART: the blocked writev returns short */
        close(p[0]);
        if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0) {
            _exit(2);
        }
        _exit(keyproto_send(p[1], KEYPROTO_OK, big, sizeof big) == 0 ? 0 : 1);
    }
    close(p[1]);
    usleep(300 * 1000);                 /* the alarm has cut the first writev by now */
    T_CHECK(keyproto_recv(p[0], &type, &body, &len) == 0 && len == sizeof big
            && memcmp(body, big, sizeof big) == 0, "300 KB through a writev cut short");
    free(body);
    close(p[0]);
    T_CHECK(kid > 0 && waitpid(kid, &type, 0) == kid && WIFEXITED(type) && WEXITSTATUS(type) == 0,
            "the writer finished");
}

int main(void)
{
    test_raw();
    test_sign();
    test_session();
    test_chains();
    test_frames();
    test_one_write();
    return T_DONE();
}

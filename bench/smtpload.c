/* smtpload: SMTP load generator for make bench. CONC worker processes each send their share of
   COUNT messages of SIZE body bytes, one message per connection (like Postfix's smtp-source),
   to HOST:PORT; prints accepted messages per second. On loopback each worker connects from an
   address of its own (127.0.0.10, .11, ...): CONC distinct clients, as far as per-IP limits
   go. Not installed; bench only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static double now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* One connection's input: replies are read into buf and consumed one at a time, so several
   pipelined replies that arrive in one read are all seen. */
struct conn {
    int fd;
    char buf[8192];
    size_t len;
};

/* Consume one (possibly multi-line) reply; 0 if its first digit is code, -1 otherwise. */
static int expect(struct conn *c, char code)
{
    for (;;) {
        size_t i = 0;
        while (i + 1 < c->len) {
            char *nl = memchr(c->buf + i, '\n', c->len - i);
            size_t end;
            if (!nl) {
                break;
            }
            end = (size_t)(nl - c->buf) + 1;
            if (end - i >= 4 && c->buf[i + 3] == ' ') {
                char first = c->buf[i];
                memmove(c->buf, c->buf + end, c->len - end);
                c->len -= end;
                return first == code ? 0 : -1;
            }
            i = end;
        }
        if (c->len >= sizeof c->buf - 1) {
            return -1;
        }
        {
            ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
            if (n <= 0) {
                return -1;
            }
            c->len += (size_t)n;
        }
    }
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* src: the client's own address (0: any). On loopback each worker is a host of its own,
   127.0.0.(10 + worker), so that a server's per-IP session limit sees CONC clients. */
static int one_message(struct sockaddr_in *sa, in_addr_t src, const char *rcpt, const char *body,
                       size_t blen, int seq)
{
    struct conn c;
    char cmd[1024];
    int one = 1, ok = -1;
    c.len = 0;
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c.fd < 0) {
        return -1;
    }
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        struct sockaddr_in me;
        memset(&me, 0, sizeof me);
        me.sin_family = AF_INET;
        me.sin_addr.s_addr = src;
        if (bind(c.fd, (struct sockaddr *)&me, sizeof me) < 0) {
            goto out;
        }
    }
    if (connect(c.fd, (struct sockaddr *)sa, sizeof *sa) < 0 || expect(&c, '2') < 0) {
        goto out;
    }
    snprintf(cmd, sizeof cmd, "EHLO load.example\r\n");
    if (send_all(c.fd, cmd, strlen(cmd)) < 0 || expect(&c, '2') < 0) {
        goto out;
    }
    /* PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write */
    snprintf(cmd, sizeof cmd, "MAIL FROM:<load@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n", rcpt);
    if (send_all(c.fd, cmd, strlen(cmd)) < 0 || expect(&c, '2') < 0 || expect(&c, '2') < 0
        || expect(&c, '3') < 0) {
        goto out;
    }
    snprintf(cmd, sizeof cmd, "From: load@remote.example\r\nTo: %s\r\nSubject: load %d\r\n"
             "Message-ID: <load.%d.%d@remote.example>\r\n\r\n", rcpt, seq, (int)getpid(), seq);
    if (send_all(c.fd, cmd, strlen(cmd)) < 0 || send_all(c.fd, body, blen) < 0
        || send_all(c.fd, ".\r\n", 3) < 0 || expect(&c, '2') < 0) {
        goto out;
    }
    ok = 0;     /* accepted; a polite client still waits for 221 */
    if (send_all(c.fd, "QUIT\r\n", 6) == 0) {
        expect(&c, '2');
    }
out:
    close(c.fd);
    return ok;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    int conc, count, i, failed = 0;
    size_t size, j;
    char *body;
    double t0, t1;

    if (argc != 7) {
        fprintf(stderr, "usage: smtpload HOST PORT RCPT SIZE CONC COUNT\n");
        return 100;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "smtpload: bad IPv4 address %s\n", argv[1]);
        return 100;
    }
    size = (size_t)atol(argv[4]);
    conc = atoi(argv[5]);
    count = atoi(argv[6]);
    if (conc < 1 || count < 1) {
        fprintf(stderr, "smtpload: CONC and COUNT must be positive\n");
        return 100;
    }
    /* body: lines of 70 'x' + CRLF, cut to size (ending in CRLF) */
    body = malloc(size + 2);
    if (!body) {
        return 111;
    }
    for (j = 0; j < size; j++) {
        body[j] = (j % 72 == 70) ? '\r' : (j % 72 == 71) ? '\n' : 'x';
    }
    if (size >= 2) {
        body[size - 2] = '\r';
        body[size - 1] = '\n';
    } else {
        size = 0;
    }
    t0 = now();
    for (i = 0; i < conc; i++) {
        if (fork() == 0) {
            int k, bad = 0;
            in_addr_t src = 0;
            if ((ntohl(sa.sin_addr.s_addr) >> 24) == 127) {
                src = htonl((127u << 24) | (unsigned)(10 + i % 240));
            }
            for (k = i; k < count; k += conc) {
                bad += one_message(&sa, src, argv[3], body, size, k) < 0;
            }
            _exit(bad > 255 ? 255 : bad);
        }
    }
    for (i = 0; i < conc; i++) {
        int st;
        wait(&st);
        failed += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    t1 = now();
    printf("accepted=%d failed=%d seconds=%.3f accept_msgs_per_s=%.1f\n", count - failed, failed,
           t1 - t0, (count - failed) / (t1 - t0));
    return failed ? 1 : 0;
}

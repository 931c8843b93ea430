/* webfront: the member page's door: at most WEB_MAXPERIP connections from one client address,
   then the connection's bytes both ways to lighttpd's socket, after a PROXY protocol line with
   the client's address; runs as yubin-web under tcpserver, one per connection */
/*
 * Usage: webfront SOCKET (lighttpd's listener for this port: ROOT/run/web/https.sock or
 * http.sock). Environment: YUBIN_ROOT, TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT
 * (tcpserver), WEB_MAXPERIP (default 16, 0 = no limit), WEB_REQUEST_TIMEOUT (seconds, default
 * 30, 1 to 3600; 0 or not a number: 30).
 * lighttpd has no cap per client address (its mod_evasive is gone since 1.4.68, and it counted
 * only requests past their headers), so one client holding its 512 connections open, a byte
 * now and then, kept everyone else off the page. Here each connection holds one slot of its
 * client's address (lib/ipslot, ROOT/run/webfront/IP.N; an IPv6 address counts as its whole
 * /64) for as long as it lives; past WEB_MAXPERIP the connection is closed at once, before
 * lighttpd sees it. TLS stays lighttpd's: the bytes are relayed as they are, after
 * "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" (the PROXY protocol, version 1), which lighttpd's
 * mod_extforward takes on that socket only, so the page still sees the client's address
 * (authd's throttle, the logs). lighttpd's timers count silence, so webfront keeps three
 * deadlines of its own: it closes a connection that has had no byte from lighttpd
 * WEBFRONT_FIRST_MS after its start (a TLS handshake fed a byte at a time), one whose client
 * is still sending WEB_REQUEST_TIMEOUT seconds after its first byte since lighttpd's last, with
 * no answer yet (a request fed a byte at a time inside TLS), and gives a client
 * WEBFRONT_DRAIN_MS after lighttpd's end to read the rest of its answer. docs/web.md.
 * lighttpd unreachable (down, or not up yet at a start): the client is answered, not reset:
 * a plain HTTP request "503 Service Unavailable" with Retry-After, a TLS ClientHello a fatal
 * internal_error alert (webfront holds no key: TLS is lighttpd's), then a clean close, and
 * one line; a client that closes without a byte (a port check) is let go without one.
 * Exit 0 (the connection ended, or was refused), 111 lighttpd unreachable or an error.
 */
#include "cfg.h"
#include "clock.h"
#include "exitcode.h"
#include "fd.h"
#include "ipslot.h"
#include "limits.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WEBFRONT_BUF        16384   /* bytes in flight each way */
#define WEBFRONT_IDLE_MS    300000  /* nothing either way so long: lighttpd closes sooner */
#define WEBFRONT_PROXY_MAX  108     /* a PROXY v1 line, at most (the protocol's own bound) */
/* lighttpd's first byte must come this long after the connection's start at most: its timers
   count silence only, so a client sending a TLS ClientHello (or a plain request) a byte every
   few seconds held its connection, and one of 16 slots, for as long as it liked. A whole
   ClientHello is one packet; lighttpd answers it at once. */
#define WEBFRONT_FIRST_MS   15000
/* A request in progress (the client's bytes since lighttpd's last byte, lighttpd silent since)
   that has gone on arriving this long (WEB_REQUEST_TIMEOUT, seconds) is closed: after the
   handshake the same client fed its request, inside TLS, a byte every 9 s, and held its
   connection for hours. A form is at most 16 KB (lighttpd refuses more): 30 s is 4 kbit/s.
   A whole request comes in one go and then the client waits, however long the answer takes
   (a page waiting for acctd): "still arriving" is a client byte in the second half of the
   bound, so a client quiet since its first half is left alone at the end (half of 30 s is
   more than lighttpd's 10 s read-idle: had its request not come whole, lighttpd would have
   closed it), and closed only should it send again, the request then longer than the bound. */
#define WEBFRONT_REQUEST_DEF 30
/* An hour: 16 KB at 36 bit/s; and the milliseconds stay well inside poll's int. */
#define WEBFRONT_REQUEST_MAX 3600
/* Once lighttpd has closed, the rest of its answer goes to the client and what the client
   still sends is read and dropped (the linger) within this long in all: a client that does
   not read held the slot for WEBFRONT_IDLE_MS after lighttpd had given up on it. */
#define WEBFRONT_DRAIN_MS   5000
/* After lighttpd's answer is over, what the client still sends is read and dropped this long
   at most, and this much: closing with unread bytes would reset the connection, and a client
   may then lose the answer (an early 413) before it has read it. */
#define WEBFRONT_LINGER_MS  2000
#define WEBFRONT_LINGER_MAX (1024 * 1024)
/* lighttpd unreachable: how long the client's first byte, or its end, is waited for. A client
   speaks first (a TLS ClientHello, a plain request) at once, and its first byte says which
   answer it gets; a port check (a monitor's) connects and closes without a byte, and is let go
   without a line (at every start it was a "fatal: unable to connect" line in the log). */
#define WEBFRONT_SILENT_MS  1000
/* The answer while lighttpd is away, to a plain HTTP request (port 80: RFC 9110 §15.6.4,
   Retry-After §10.2.3): s6 brings lighttpd back a second after a crash, and an operator's
   restart (a new certificate) takes seconds. */
#define WEBFRONT_RETRY_S    "30"
#define WEBFRONT_503_BODY \
    "会員専用ページは一時的にご利用いただけません。しばらくしてからもう一度お試しください。\n" \
    "The member page is not available at the moment: please try again in a minute.\n"

/* One direction: bytes read from `from`, not yet all written to `to`. */
struct pipe {
    int from, to;
    char buf[WEBFRONT_BUF];
    size_t len, off;
    unsigned long long total;   /* bytes read from `from` so far */
    int eof;            /* from gave EOF (or failed): to is shut for writing once buf is empty */
    int shut;
};

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" into out; the addresses from tcpserver, both of the
   source's family (the listener's own of the other family is taken as the any address). */
static int proxy_line(char *out, size_t cap)
{
    const char *ip = getenv("TCPREMOTEIP"), *lip = getenv("TCPLOCALIP");
    const char *port = getenv("TCPREMOTEPORT"), *lport = getenv("TCPLOCALPORT");
    uint64_t p, lp;
    int six;
    if (!ip || !str_ip_text_ok(ip) || !port || str_to_u64(port, strlen(port), &p) < 0
        || p > 65535) {
        return str_fmt(out, cap, "PROXY UNKNOWN\r\n");
    }
    six = strchr(ip, ':') != NULL;
    if (!lip || !str_ip_text_ok(lip) || (strchr(lip, ':') != NULL) != six) {
        lip = six ? "::" : "0.0.0.0";
    }
    if (!lport || str_to_u64(lport, strlen(lport), &lp) < 0 || lp > 65535) {
        lp = 0;
    }
    return str_fmt(out, cap, "PROXY %s %s %s %llu %llu\r\n", six ? "TCP6" : "TCP4", ip, lip,
                   (unsigned long long)p, (unsigned long long)lp);
}

/* One step of a direction after poll: read when empty, write what is held; 0, -1 the
   connection is over (an error either way). */
static int pipe_step(struct pipe *p, short rev_from, short rev_to)
{
    ssize_t n;
    if (p->len == 0 && !p->eof && (rev_from & (POLLIN | POLLHUP | POLLERR))) {
        n = read(p->from, p->buf, sizeof p->buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        if (n <= 0) {
            p->eof = 1;
        } else {
            p->len = (size_t)n;
            p->off = 0;
            p->total += (size_t)n;
        }
    }
    if (p->len > 0 && (rev_to & (POLLOUT | POLLERR | POLLHUP))) {
        n = write(p->to, p->buf + p->off, p->len - p->off);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        if (n <= 0) {
            return -1;
        }
        p->off += (size_t)n;
        if (p->off == p->len) {
            p->len = p->off = 0;
        }
    }
    if (p->eof && p->len == 0 && !p->shut) {
        (void)shutdown(p->to, SHUT_WR);
        p->shut = 1;
    }
    return 0;
}

/* The answer is over (our side of the client's connection shut): read and drop what the client
   still sends, until its end, ms milliseconds or WEBFRONT_LINGER_MAX bytes. */
static void linger(int ms)
{
    char buf[WEBFRONT_BUF];
    size_t total = 0;
    int left = ms;
    while (left > 0 && total < WEBFRONT_LINGER_MAX) {
        struct pollfd pf = { 0, POLLIN, 0 };
        long long t0 = clock_ms();
        ssize_t n;
        int r = poll(&pf, 1, left);
        left -= (int)(clock_ms() - t0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return;
        }
        n = read(0, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            return;     /* the client's end: a clean close */
        }
        total += (size_t)n;
    }
}

/* Client (fds 0 and 1) and lighttpd (s), both ways, until lighttpd's side is done (it closes
   idle, finished and timed-out connections itself), or the client's and lighttpd's both; within
   WEBFRONT_FIRST_MS of the start for lighttpd's first byte, req_ms of the client's first byte
   of a request for its last one (when it still comes in the second half of that time, with no
   answer yet), and WEBFRONT_DRAIN_MS of lighttpd's end for the rest. ip names the client in
   the log. */
static void relay(int s, const char *ip, long long req_ms)
{
    static struct pipe up, down;      /* client to lighttpd, lighttpd to client */
    long long start = clock_ms(), ended = -1;    /* ended: when lighttpd's end was seen */
    /* the request in progress: its first client byte after lighttpd's last byte (-1: none
       since), and the latest client byte */
    long long asked = -1, last = -1;
    up.from = 0;
    up.to = s;
    down.from = s;
    down.to = 1;
    if (fd_nonblock(0, 1) < 0 || fd_nonblock(1, 1) < 0 || fd_nonblock(s, 1) < 0) {
        log_warn_sys("unable to make the connection non-blocking");
        return;
    }
    while (!down.shut) {
        /* s: its bytes when the buffer to the client is empty, and until its end is seen, that
           end (a hang-up) also while the client does not read */
        struct pollfd pf[3] = {
            { 0, (short)(up.len == 0 && !up.eof ? POLLIN : 0), 0 },
            { s, (short)((down.len == 0 && !down.eof ? POLLIN : 0)
                         | (up.len > 0 ? POLLOUT : 0) | (ended < 0 ? POLLRDHUP : 0)), 0 },
            { 1, (short)(down.len > 0 ? POLLOUT : 0), 0 },
        };
        long long now = clock_ms(), until = now + WEBFRONT_IDLE_MS;
        unsigned long long up_had = up.total, down_had = down.total;
        /* a trickle: bytes still coming in the second half of req_ms, no answer at its end */
        int trickle = ended < 0 && asked >= 0 && last >= asked + req_ms / 2;
        int r, i;
        if (ended >= 0 && now >= ended + WEBFRONT_DRAIN_MS) {
            log_info("closed ip=%s: the client had not read the end of its answer %d s after "
                     "lighttpd's", ip, WEBFRONT_DRAIN_MS / 1000);
            return;
        }
        if (down.total == 0 && now >= start + WEBFRONT_FIRST_MS) {
            log_info("closed ip=%s: no answer from lighttpd within %d s (a TLS handshake or "
                     "request that did not arrive)", ip, WEBFRONT_FIRST_MS / 1000);
            return;
        }
        if (trickle && now >= asked + req_ms) {
            log_info("closed ip=%s: a request still arriving after %lld s without an answer "
                     "(sent a little at a time)", ip, req_ms / 1000);
            return;
        }
        if (ended >= 0 && ended + WEBFRONT_DRAIN_MS < until) {
            until = ended + WEBFRONT_DRAIN_MS;
        }
        if (down.total == 0 && start + WEBFRONT_FIRST_MS < until) {
            until = start + WEBFRONT_FIRST_MS;
        }
        /* only for a trickle: a client quiet since the first half is never closed by the
           clock, and its next byte, if any, wakes the loop by itself */
        if (trickle && asked + req_ms < until) {
            until = asked + req_ms;
        }
        /* a descriptor with nothing to wait for is left out: its hang-up, reported whatever
           is asked, would wake the loop at once, again and again */
        for (i = 0; i < 3; i++) {
            if (pf[i].events == 0) {
                pf[i].fd = -1;
            }
        }
        r = poll(pf, 3, (int)(until - now));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 || (r == 0 && until == now + WEBFRONT_IDLE_MS)) {
            return;     /* an error, or nothing either way for so long */
        }
        if (pf[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
            ended = ended < 0 ? clock_ms() : ended;
        }
        /* lighttpd no longer reads (it answered early and closed): the client's bytes are
           dropped, its answer still goes to the client */
        if (pipe_step(&up, pf[0].revents, pf[1].revents) < 0) {
            up.len = up.off = 0;
            up.eof = up.shut = 1;
        }
        if (pipe_step(&down, pf[1].revents, pf[2].revents) < 0) {
            return;     /* the client is gone */
        }
        if (down.eof && ended < 0) {
            ended = clock_ms();
        }
        /* lighttpd's byte ends the request (read in the same round as the client's, it is
           taken as the later one) */
        if (down.total != down_had) {
            asked = -1;
        } else if (up.total != up_had) {
            last = clock_ms();
            asked = asked < 0 ? last : asked;
        }
    }
    {
        long long left = ended + WEBFRONT_DRAIN_MS - clock_ms();
        linger(left < WEBFRONT_LINGER_MS ? (int)left : WEBFRONT_LINGER_MS);
    }
}

/* The client's first byte (fd 0), within ms: 1 one came (in *c), 0 the client ended its
   connection without one, -1 nothing within ms, or an error. */
static int first_byte(int ms, unsigned char *c)
{
    struct pollfd pf = { 0, POLLIN, 0 };
    long long until = clock_ms() + ms;
    for (;;) {
        long long left = until - clock_ms();
        int r = poll(&pf, 1, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        r = (int)read(0, c, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r == 1) {
            return 1;
        }
        return r == 0 || errno == ECONNRESET ? 0 : -1;
    }
}

/* lighttpd unreachable (path, errno err): the client is answered rather than reset. Its first
   byte says what it speaks: 0x16, a TLS handshake record (port 443), gets a fatal
   internal_error alert in the clear, the one answer possible before a handshake that only
   lighttpd, which holds the key, can make (RFC 8446 §6 and §6.2; RFC 5246 §7.2); anything
   else, a plain HTTP request (port 80), "503 Service Unavailable" with Retry-After. Then our
   side is shut, and what the client still sends is read and dropped (linger) until it closes:
   closed with its request unread, the connection was reset, and a client saw "Connection
   reset by peer" rather than any answer. One line names the client and the answer; a client
   that ends without a byte (a port check) is let go without one. */
static int unreachable(const char *path, int err, const char *ip)
{
    static const char alert[] = {
        0x15, 0x03, 0x03, 0x00, 0x02,   /* an alert record, TLS 1.2, 2 bytes */
        0x02, 0x50,                     /* fatal, internal_error (80) */
    };
    static const char answer[] =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Retry-After: " WEBFRONT_RETRY_S "\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        "Content-Length: %zu\r\n"
        "\r\n"
        "%s";
    char buf[512];
    const char *out = alert, *what = "a TLS internal_error alert", *gone = "";
    size_t len = sizeof alert;
    unsigned char c;
    int r = first_byte(WEBFRONT_SILENT_MS, &c);
    if (r == 0) {
        return EXIT_DONE;   /* a port check: its end is a connection's normal end */
    }
    if (r < 0) {
        log_warn("lighttpd unreachable (unable to connect to %s: %s): ip=%s sent nothing "
                 "within %d s, closed", path, strerror(err), ip, WEBFRONT_SILENT_MS / 1000);
        return EXIT_TEMP;
    }
    if (c != 0x16) {
        if (str_fmt(buf, sizeof buf, answer, strlen(WEBFRONT_503_BODY), WEBFRONT_503_BODY) < 0) {
            die(EXIT_BUG, "the 503 answer is longer than %zu bytes", sizeof buf);
        }
        out = buf;
        len = strlen(buf);
        what = "503 Service Unavailable";
    }
    if (fd_write_all(1, out, len) < 0) {
        gone = " (the client had gone)";
    }
    log_warn("lighttpd unreachable (unable to connect to %s: %s): ip=%s answered %s%s", path,
             strerror(err), ip, what, gone);
    if (!*gone && shutdown(1, SHUT_WR) == 0) {
        linger(WEBFRONT_LINGER_MS);
    }
    return EXIT_TEMP;
}

/* WEB_REQUEST_TIMEOUT in milliseconds: 1..WEBFRONT_REQUEST_MAX seconds, a warning line for a
   value cut to it or not taken (at each connection: the operator sees it in the port's log). */
static long long request_ms(void)
{
    unsigned long v;
    switch (cfg_num_max("WEB_REQUEST_TIMEOUT", WEBFRONT_REQUEST_DEF, WEBFRONT_REQUEST_MAX, &v)) {
    case CFG_FIT_CUT:
        log_warn("WEB_REQUEST_TIMEOUT is above %d s: %lu used", WEBFRONT_REQUEST_MAX, v);
        break;
    case CFG_FIT_DEFAULT:
        log_warn("WEB_REQUEST_TIMEOUT is 0 or not a number (1 to %d s): the default %lu used",
                 WEBFRONT_REQUEST_MAX, v);
        break;
    case CFG_FIT_OK:
        break;
    }
    return (long long)v * 1000;
}

int main(int argc, char **argv)
{
    char dir[YUBIN_PATH_MAX], line[WEBFRONT_PROXY_MAX + 1];
    const char *root, *ip = getenv("TCPREMOTEIP");
    unsigned long max = cfg_num("WEB_MAXPERIP", 16);
    long long req_ms;
    int s, slot = -1, r;
    log_init("webfront");
    req_ms = request_ms();
    if (getuid() == 0 || geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    if (argc != 2 || argv[1][0] != '/') {
        die(EXIT_PERM, "usage: webfront /path/to/lighttpd.sock");
    }
    signal(SIGPIPE, SIG_IGN);
    root = cfg_root();
    if (!root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    if (max > 0 && ip && str_ip_text_ok(ip)) {
        r = cfg_path(dir, sizeof dir, root, "run/webfront") < 0 ? -1
            : ipslot_take(dir, ip, max, &slot);
        if (r == 0) {
            log_info("refused ip=%s: more than %lu connections", ip, max);
            return EXIT_DONE;       /* closed at once: the client's other connections go on */
        }
        if (r < 0) {
            log_warn_sys("per-IP limit not applied: cannot use %s/run/webfront", root);
        }
    }
    if (proxy_line(line, sizeof line) < 0) {
        die(EXIT_BUG, "PROXY line too long");
    }
    s = fd_connect_unix(argv[1]);
    if (s < 0) {
        return unreachable(argv[1], errno, ip && str_ip_text_ok(ip) ? ip : "-");
    }
    if (fd_write_all(s, line, strlen(line)) < 0) {
        die_sys(EXIT_TEMP, "unable to write to %s", argv[1]);
    }
    relay(s, ip && str_ip_text_ok(ip) ? ip : "-", req_ms);
    close(s);
    if (slot >= 0) {
        close(slot);
    }
    return EXIT_DONE;
}

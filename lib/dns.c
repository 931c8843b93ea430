/* dns.c: the stub resolver's I/O (UDP, TCP after TC, bounded waits), the configuration
   (resolv.conf, YUBIN_RESOLVER, /etc/hosts) and remote's MX and address lookups */
#include "dns.h"
#include "clock.h"
#include "cfg.h"
#include "str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RESOLV_CONF "/etc/resolv.conf"
#define RCODE_FORMERR 1
#define DNS_OPT_LEN 11              /* the OPT record dns_build ends the query with */
#define DNS_LATE_MAX 8              /* datagrams udp_recv reads past its deadline (ours) */
#define HOSTS_FILE  "/etc/hosts"

int dns_parse_server(const char *s, struct sockaddr_in *sin)
{
    char ip[INET_ADDRSTRLEN];
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    uint64_t port = 53;

    if (n == 0 || n >= sizeof ip) {
        return -1;
    }
    memcpy(ip, s, n);
    ip[n] = '\0';
    if (colon && (str_to_u64(colon + 1, strlen(colon + 1), &port) < 0 || port == 0 ||
                  port > 65535)) {
        return -1;
    }
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) {
        return -1;
    }
    return 0;
}

/* One line of f into line[cap] without its newline; a longer line is drained and skipped.
   1 read, 0 end of file. */
static int line_get(FILE *f, char *line, size_t cap)
{
    for (;;) {
        size_t l;
        if (!fgets(line, (int)cap, f)) {
            return 0;
        }
        l = strlen(line);
        if (l && line[l - 1] == '\n') {
            line[l - 1] = '\0';
            return 1;
        }
        if (l + 1 < cap) {
            return 1;               /* the last line, without a newline */
        }
        while (fgets(line, (int)cap, f) && !strchr(line, '\n')) {
        }
    }
}

static void add_server(struct dns *d, const char *ip)
{
    struct dns_server *s = &d->srv[d->nsrv];
    struct sockaddr_in *v4 = (struct sockaddr_in *)&s->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s->sa;

    memset(s, 0, sizeof *s);
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(53);
        s->len = sizeof *v4;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(53);
        s->len = sizeof *v6;
    } else {
        return;                     /* a scoped address (fe80::1%eth0) and the like */
    }
    d->nsrv++;
}

static void read_resolv_conf(struct dns *d)
{
    char line[DNS_LINE_MAX];
    FILE *f = fopen(RESOLV_CONF, "re");

    while (f && d->nsrv < DNS_SERVERS_MAX && line_get(f, line, sizeof line)) {
        char *p = line, *ip;
        if (strncmp(p, "nameserver", 10) != 0 || (p[10] != ' ' && p[10] != '\t')) {
            continue;
        }
        p += 10;
        p += strspn(p, " \t");
        ip = p;
        p += strcspn(p, " \t#;");
        *p = '\0';
        add_server(d, ip);
    }
    if (f) {
        fclose(f);
    }
    if (d->nsrv == 0) {
        add_server(d, "127.0.0.1");   /* as libc does without a nameserver line */
    }
}

int dns_init(struct dns *d)
{
    const char *srv = getenv("YUBIN_RESOLVER");
    unsigned long t = cfg_num("DNS_TIMEOUT", DNS_TIMEOUT_DEF);
    unsigned long n = cfg_num("DNS_TRIES", DNS_TRIES_DEF);

    memset(d, 0, sizeof *d);
    d->timeout_ms = (unsigned)(t < 1 ? 1 : t > 30 ? 30 : t) * 1000;
    d->tries = (unsigned)(n < 1 ? 1 : n > 5 ? 5 : n);
    if (srv && srv[0]) {
        struct sockaddr_in sin;
        if (dns_parse_server(srv, &sin) < 0) {
            errno = EINVAL;
            return -1;
        }
        memcpy(&d->srv[0].sa, &sin, sizeof sin);
        d->srv[0].len = sizeof sin;
        d->nsrv = 1;
        d->custom = 1;
        return 0;
    }
    read_resolv_conf(d);
    return 0;
}

void dns_close(struct dns *d)
{
    size_t i;
    for (i = 0; i < d->nahead; i++) {
        if (d->ahead[i].fd >= 0) {
            close(d->ahead[i].fd);
        }
        free(d->ahead[i].pkt);
    }
    d->nahead = 0;
}

void dns_set_budget(struct dns *d, unsigned long ms)
{
    d->deadline = ms ? clock_ms() + (long long)ms : 0;
}

/* Milliseconds left until deadline (at least 0). */
static int left(long long deadline)
{
    long long l = deadline - clock_ms();
    return l < 0 ? 0 : l > 60000 ? 60000 : (int)l;
}

/* Wait until fd is ready for events or deadline passes (past it: one look without waiting, so
   what came already counts). 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, left(deadline));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return r < 0 ? -1 : r == 0 ? 0 : 1;
    }
}

struct ask {
    const unsigned char *q;
    size_t qlen;
    unsigned id;
    const char *name;
    enum dns_type type;
    unsigned char *buf;             /* DNS_ANSWER_MAX */
};

/* UDP: a socket connected to s (the kernel passes only datagrams from the server, and an ICMP
   "port unreachable" ends the wait at once: ECONNREFUSED) that has sent a's query; -1. */
static int udp_send(const struct dns_server *s, const struct ask *a)
{
    int fd = socket(s->sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd >= 0 && (connect(fd, (const struct sockaddr *)&s->sa, s->len) < 0
                    || send(fd, a->q, a->qlen, 0) != (ssize_t)a->qlen)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* UDP: the reply to a on fd (our id and question; other datagrams are ignored) into a->buf,
   waiting until deadline. Past it, what has come is still read (wait_fd's last look), but at
   most DNS_LATE_MAX datagrams: a server that keeps sending others cannot hold the caller past
   its deadline. Returns its length, 0 on timeout or error. */
static size_t udp_recv(int fd, const struct ask *a, long long deadline)
{
    unsigned late = 0;

    while (wait_fd(fd, POLLIN, deadline) == 1) {
        ssize_t n = recv(fd, a->buf, DNS_ANSWER_MAX, MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n < 0) {
            break;
        }
        if ((size_t)n <= DNS_ANSWER_MAX && dns_match(a->buf, (size_t)n, a->id, a->name, a->type)) {
            return (size_t)n;
        }
        if (left(deadline) == 0 && ++late == DNS_LATE_MAX) {
            break;
        }
    }
    return 0;
}

/* UDP: send to s, wait until deadline for the reply. Its length, 0 on timeout or error. */
static size_t udp_ask(const struct dns_server *s, const struct ask *a, long long deadline)
{
    int fd = udp_send(s, a);
    size_t got = fd < 0 ? 0 : udp_recv(fd, a, deadline);

    if (fd >= 0) {
        close(fd);
    }
    return got;
}

/* Write or read exactly n octets on a non-blocking fd before deadline. 0 ok, -1 not. */
static int tcp_io(int fd, unsigned char *p, size_t n, int out, long long deadline)
{
    while (n > 0) {
        ssize_t r;
        if (wait_fd(fd, out ? POLLOUT : POLLIN, deadline) != 1) {
            return -1;
        }
        r = out ? write(fd, p, n) : read(fd, p, n);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* TCP (RFC 7766) after a truncated UDP answer: the same query, two-octet length prefixes.
   Returns the reply's length, 0 on any failure or a reply that does not match. */
static size_t tcp_ask(const struct dns_server *s, const struct ask *a, long long deadline)
{
    unsigned char pre[2 + DNS_QUERY_MAX];
    int fd = socket(s->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    size_t got = 0, n;
    int e = 0;
    socklen_t el = sizeof e;

    if (fd < 0) {
        return 0;
    }
    if (connect(fd, (const struct sockaddr *)&s->sa, s->len) < 0 &&
        (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 1 ||
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0)) {
        goto out;
    }
    pre[0] = (unsigned char)(a->qlen >> 8);
    pre[1] = (unsigned char)a->qlen;
    memcpy(pre + 2, a->q, a->qlen);     /* qlen <= DNS_QUERY_MAX */
    if (tcp_io(fd, pre, 2 + a->qlen, 1, deadline) < 0 || tcp_io(fd, pre, 2, 0, deadline) < 0) {
        goto out;
    }
    n = (size_t)pre[0] << 8 | pre[1];
    if (n > DNS_ANSWER_MAX || tcp_io(fd, a->buf, n, 0, deadline) < 0 ||
        !dns_match(a->buf, n, a->id, a->name, a->type)) {
        goto out;
    }
    got = n;
out:
    close(fd);
    return got;
}

/* a's query with a new random id (never a guessable one, RFC 5452 §9.2) in q[DNS_QUERY_MAX]:
   a->q, a->qlen and a->id set. 0 ok, -1 not. */
static int ask_build(struct ask *a, unsigned char *q)
{
    uint16_t id;
    int qlen;

    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id) {
        return -1;
    }
    qlen = dns_build(q, DNS_QUERY_MAX, id, a->name, a->type);
    if (qlen < 0) {
        return -1;
    }
    a->q = q;
    a->qlen = (size_t)qlen;
    a->id = id;
    return 0;
}

/* One query to one server until deadline. DNS_TEMP when it does not answer in time. */
static enum dns_result ask_server(const struct dns_server *s, struct ask *a, long long deadline,
                                  struct dns_answer *ans)
{
    unsigned char q[DNS_QUERY_MAX];
    size_t n;

    if (ask_build(a, q) < 0) {
        return DNS_TEMP;
    }
    n = udp_ask(s, a, deadline);
    if (n && (a->buf[3] & 0x0f) == RCODE_FORMERR) {
        /* a server without EDNS0 answers FORMERR: ask again without the OPT record, the
           last DNS_OPT_LEN octets of the query (RFC 6891 §7) */
        q[11] = 0;                  /* ARCOUNT 0 */
        a->qlen -= DNS_OPT_LEN;
        n = udp_ask(s, a, deadline);
    }
    if (n && dns_truncated(a->buf, n)) {
        n = tcp_ask(s, a, deadline);
    }
    return n ? dns_parse(a->buf, n, a->name, a->type, ans) : DNS_TEMP;
}

/* Send one question of dns_ahead to s as udp_ask does: k->fd, or -1 when it could not be
   sent. */
static void ahead_send(const struct dns *d, const struct dns_server *s, struct dns_ahead *k)
{
    unsigned char q[DNS_QUERY_MAX];
    struct ask a = { NULL, 0, 0, k->name, k->type, NULL };

    k->fd = ask_build(&a, q) < 0 ? -1 : udp_send(s, &a);
    k->id = a.id;
    k->end = clock_ms() + d->timeout_ms;
}

void dns_ahead(struct dns *d, const char *const *names, const enum dns_type *types, size_t n)
{
    size_t i, j;

    for (i = 0; i < n && d->nsrv > 0 && d->nahead < DNS_AHEAD_MAX; i++) {
        struct dns_ahead *k = &d->ahead[d->nahead];
        for (j = 0; j < d->nahead && (d->ahead[j].type != types[i]
                                      || strcasecmp(d->ahead[j].name, names[i]) != 0); j++) {
        }
        if (j < d->nahead || str_fmt(k->name, sizeof k->name, "%s", names[i]) < 0) {
            continue;               /* asked already, or not a name DNS can hold */
        }
        k->type = types[i];
        k->pkt = NULL;
        k->len = 0;
        k->tried = 0;
        ahead_send(d, &d->srv[0], k);
        if (k->fd >= 0) {
            d->nahead++;
        }
    }
}

/* The reply to k: one that came already, or one that comes before the end of its try (within
   the budget); kept when dns_query may take it as it is: NOERROR or NXDOMAIN, not truncated.
   k->tried: the first server was asked and gave nothing to take (silence until the try's end,
   SERVFAIL, REFUSED). */
static void ahead_wait(const struct dns *d, struct dns_ahead *k, unsigned char *buf)
{
    struct ask a = { NULL, 0, k->id, k->name, k->type, buf };
    size_t n = udp_recv(k->fd, &a, d->deadline && d->deadline < k->end ? d->deadline : k->end);
    unsigned rcode = n ? buf[3] & 0x0f : 0;

    close(k->fd);
    k->fd = -1;
    /* truncated or FORMERR: dns_query's own try goes on by TCP, or without EDNS0; a reply
       not kept for want of memory: dns_query asks again from the start */
    k->tried = !(n && (dns_truncated(buf, n) || rcode == RCODE_FORMERR));
    if (k->tried && n && (rcode == 0 || rcode == 3)) {     /* NOERROR, NXDOMAIN */
        k->pkt = malloc(n);
        if (k->pkt) {
            memcpy(k->pkt, buf, n);
            k->len = n;
        } else {
            k->tried = 0;
        }
    }
}

/* The reply dns_ahead asked for this question, parsed into ans; DNS_TEMP when there is none to
   take (then *tried says whether the first server's first try was made). */
static enum dns_result ahead_take(struct dns *d, const char *name, enum dns_type type,
                                  struct dns_answer *ans, unsigned char *buf, int *tried)
{
    size_t i;

    *tried = 0;
    for (i = 0; i < d->nahead; i++) {
        struct dns_ahead *k = &d->ahead[i];
        enum dns_result r;
        if (k->type != type || strcasecmp(k->name, name) != 0) {
            continue;
        }
        if (k->fd >= 0) {
            ahead_wait(d, k, buf);
        }
        *tried = k->tried && !k->pkt;   /* once: a second lookup asks from the start */
        k->tried = 0;
        if (!k->pkt) {
            return DNS_TEMP;
        }
        r = dns_parse(k->pkt, k->len, name, type, ans);
        if (r == DNS_TEMP) {
            ans->n = ans->dropped = ans->textlen = 0;
        }
        return r;
    }
    return DNS_TEMP;
}

enum dns_result dns_query(struct dns *d, const char *name, enum dns_type type,
                          struct dns_answer *ans)
{
    struct ask a;
    unsigned t;
    size_t i;
    unsigned char probe[DNS_QUERY_MAX], buf[DNS_ANSWER_MAX];    /* 8 KB: no lookup nests here */
    enum dns_result kept;
    int tried;

    ans->n = ans->dropped = ans->textlen = 0;
    if (dns_build(probe, sizeof probe, 0, name, type) < 0) {
        return DNS_NXDOMAIN;        /* not a name DNS can hold */
    }
    kept = ahead_take(d, name, type, ans, buf, &tried);
    if (kept != DNS_TEMP) {
        return kept;
    }
    memset(&a, 0, sizeof a);
    a.name = name;
    a.type = type;
    a.buf = buf;
    for (t = 0; t < d->tries; t++) {
        for (i = t == 0 && tried ? 1 : 0; i < d->nsrv; i++) {  /* dns_ahead was the first */
            long long end = clock_ms() + d->timeout_ms;
            enum dns_result r;
            if (d->deadline && clock_ms() >= d->deadline) {
                return DNS_TEMP;
            }
            if (d->deadline && end > d->deadline) {
                end = d->deadline;
            }
            r = ask_server(&d->srv[i], &a, end, ans);
            if (r != DNS_TEMP) {    /* SERVFAIL, REFUSED, silence: ask the next server */
                return r;
            }
        }
    }
    return DNS_TEMP;
}

static struct dns_answer *answer_spare;     /* one freed answer, for the next lookup */

struct dns_answer *dns_answer_new(void)
{
    struct dns_answer *a = answer_spare;
    if (a) {
        answer_spare = NULL;
        return a;
    }
    return malloc(sizeof *a);
}

void dns_answer_free(struct dns_answer *a)
{
    if (!answer_spare) {
        answer_spare = a;
    } else {
        free(a);
    }
}

enum dns_result dns_txt(struct dns *d, const char *name, char *out, size_t cap, size_t *n)
{
    struct dns_answer *a = dns_answer_new();
    enum dns_result r;
    size_t i, off = 0;

    *n = 0;
    if (!a) {
        return DNS_TEMP;
    }
    r = dns_query(d, name, DNS_T_TXT, a);
    for (i = 0; r == DNS_FOUND && i < a->n; i++) {
        const char *s = a->text + a->txt[i].off;
        size_t l = a->txt[i].len;
        if (memchr(s, '\0', l) || l >= cap - off) {
            continue;
        }
        memcpy(out + off, s, l);
        out[off + l] = '\0';
        off += l + 1;
        (*n)++;
    }
    dns_answer_free(a);
    return r == DNS_FOUND && *n == 0 ? DNS_NODATA : r;
}

/* ---- remote's lookups ---- */

void dns_mx_sort(struct dns_mx *mx, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {   /* insertion sort: n <= DNS_MX_MAX, stable */
        struct dns_mx t = mx[i];
        for (j = i; j > 0 && mx[j - 1].pref > t.pref; j--) {
            mx[j] = mx[j - 1];
        }
        mx[j] = t;
    }
}

static void shuffle_equal(struct dns_mx *mx, size_t n)
{
    size_t i, j, k;

    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++) {
        }
        for (k = j - i - 1; k > 0; k--) {   /* Fisher-Yates over mx[i..j) */
            struct dns_mx t;
            unsigned r = 0;
            if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
                r = (unsigned)k;
            }
            r %= (unsigned)(k + 1);
            t = mx[i + k];
            mx[i + k] = mx[i + r];
            mx[i + r] = t;
        }
    }
}

enum dns_result dns_mx(struct dns *d, const char *domain, struct dns_mx *mx, size_t max,
                       size_t *n)
{
    struct dns_answer *ans = dns_answer_new();
    struct dns_mx all[DNS_RR_MAX];     /* every record kept, sorted before the cut to max */
    enum dns_result r;
    size_t i, k = 0;
    int null = 0;

    *n = 0;
    if (!ans) {
        return DNS_TEMP;
    }
    r = dns_query(d, domain, DNS_T_MX, ans);
    for (i = 0; r == DNS_FOUND && i < ans->n && k < DNS_RR_MAX; i++) {
        const char *host = ans->rr[i].name;
        size_t l = strlen(host);
        if (l == 0) {
            null = 1;   /* RFC 7505 §3 */
        } else if (l <= SMTP_DOMAIN_MAX) {
            all[k].pref = ans->rr[i].pref;
            memcpy(all[k].host, host, l + 1);
            k++;
        }
    }
    dns_answer_free(ans);
    if (r != DNS_FOUND) {
        return r;
    }
    if (null) {
        return DNS_NULLMX;
    }
    if (k == 0) {
        return DNS_NODATA;
    }
    /* the best preferences first, then the cut (RFC 5321 §5.1): a long list in another order
       must not lose its primary */
    dns_mx_sort(all, k);
    shuffle_equal(all, k);
    *n = k < max ? k : max;
    memcpy(mx, all, *n * sizeof *mx);
    return DNS_FOUND;
}

static void add_addr(struct dns_addr *out, size_t max, size_t *n, int family, const void *a)
{
    struct dns_addr *x;

    if (*n >= max) {
        return;
    }
    x = &out[*n];
    memset(x, 0, sizeof *x);
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&x->sa;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        x->len = sizeof *s;
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&x->sa;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        x->len = sizeof *s;
    }
    (*n)++;
}

static enum dns_result addrs_query(struct dns *d, const char *host, enum dns_type type,
                                   struct dns_addr *out, size_t max, size_t *n)
{
    struct dns_answer *ans = dns_answer_new();
    enum dns_result r;
    size_t i;

    if (!ans) {
        return DNS_TEMP;
    }
    r = dns_query(d, host, type, ans);
    for (i = 0; r == DNS_FOUND && i < ans->n; i++) {
        add_addr(out, max, n, type == DNS_T_A ? AF_INET : AF_INET6, ans->rr[i].addr);
    }
    dns_answer_free(ans);
    return r;
}

/* The addresses of host in /etc/hosts (IPv4 first), as libc's "files" source. 1 if any. */
static int addrs_hosts(const char *host, struct dns_addr *out, size_t max, size_t *n)
{
    char line[DNS_LINE_MAX];
    int pass;

    for (pass = 0; pass < 2; pass++) {      /* IPv4 lines, then IPv6 lines */
        FILE *f = fopen(HOSTS_FILE, "re");
        while (f && line_get(f, line, sizeof line)) {
            unsigned char a[16];
            char *save = NULL, *ip, *name;
            line[strcspn(line, "#")] = '\0';
            ip = strtok_r(line, " \t", &save);
            if (!ip || inet_pton(pass ? AF_INET6 : AF_INET, ip, a) != 1) {
                continue;
            }
            while ((name = strtok_r(NULL, " \t", &save)) != NULL) {
                if (strlen(name) == strlen(host) && str_eq_nocase(name, strlen(name), host)) {
                    add_addr(out, max, n, pass ? AF_INET6 : AF_INET, a);
                    break;
                }
            }
        }
        if (f) {
            fclose(f);
        }
    }
    return *n > 0;
}

enum dns_result dns_addrs(struct dns *d, const char *host, struct dns_addr *out, size_t max,
                          size_t *n)
{
    unsigned char a[16];
    enum dns_result r4, r6;

    *n = 0;
    if (inet_pton(AF_INET, host, a) == 1) {
        add_addr(out, max, n, AF_INET, a);
        return DNS_FOUND;
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        add_addr(out, max, n, AF_INET6, a);
        return DNS_FOUND;
    }
    if (!d->custom && addrs_hosts(host, out, max, n)) {
        return DNS_FOUND;
    }
    r4 = addrs_query(d, host, DNS_T_A, out, max, n);
    if (r4 == DNS_NXDOMAIN) {
        return r4;
    }
    r6 = addrs_query(d, host, DNS_T_AAAA, out, max, n);
    if (*n > 0) {
        return DNS_FOUND;
    }
    if (r4 == DNS_TEMP || r6 == DNS_TEMP) {
        return DNS_TEMP;
    }
    return r6 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
}

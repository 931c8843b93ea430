/* dns.c: MX and address lookups for remote through libresolv */
#include "dns.h"
#include "str.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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

int dns_init(struct dns *d)
{
    const char *srv = getenv("YUBIN_RESOLVER");

    memset(d, 0, sizeof *d);
    if (res_ninit(&d->res) < 0) {
        return -1;
    }
    if (srv && srv[0]) {
        struct sockaddr_in sin;
        int i;
        if (dns_parse_server(srv, &sin) < 0) {
            res_nclose(&d->res);
            errno = EINVAL;
            return -1;
        }
        /* one IPv4 server, no IPv6 servers from resolv.conf */
        d->res.nsaddr_list[0] = sin;
        d->res.nscount = 1;
        for (i = 0; i < MAXNS; i++) {
            d->res._u._ext.nsaddrs[i] = NULL;
        }
        d->res._u._ext.nscount = 0;
        d->res.retrans = 2;
        d->res.retry = 2;
        d->custom = 1;
    }
    /* names are absolute: no search list, no appended default domain */
    d->res.options &= ~(unsigned long)(RES_DEFNAMES | RES_DNSRCH);
    return 0;
}

void dns_close(struct dns *d)
{
    if (d->custom) {
        /* the IPv6 table was emptied by us; let res_nclose free nothing foreign */
        d->res._u._ext.nscount = 0;
    }
    res_nclose(&d->res);
}

static enum dns_result query_error(struct dns *d)
{
    switch (d->res.res_h_errno) {
    case HOST_NOT_FOUND:
        return DNS_NXDOMAIN;
    case NO_DATA:
        return DNS_NODATA;
    default:
        return DNS_TEMP;   /* TRY_AGAIN, NO_RECOVERY (SERVFAIL, REFUSED), no answer */
    }
}

/* Query name/type; on success *msg is initialised over ans. */
static enum dns_result query(struct dns *d, const char *name, int type, unsigned char *ans,
                             ns_msg *msg)
{
    int len = res_nquery(&d->res, name, ns_c_in, type, ans, DNS_ANSWER_MAX);

    if (len < 0) {
        return query_error(d);
    }
    if (len > DNS_ANSWER_MAX || ns_initparse(ans, len, msg) < 0) {
        return DNS_TEMP;
    }
    return DNS_FOUND;
}

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
    size_t i, j;

    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++) {
        }
        while (j - i > 1) {   /* Fisher-Yates over mx[i..j) */
            size_t k, m = j - i;
            unsigned r = 0;
            for (k = m - 1; k > 0; k--) {
                struct dns_mx t;
                if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
                    r = (unsigned)k;
                }
                r %= (unsigned)(k + 1);
                t = mx[i + k];
                mx[i + k] = mx[i + r];
                mx[i + r] = t;
            }
            break;
        }
    }
}

enum dns_result dns_mx(struct dns *d, const char *domain, struct dns_mx *mx, size_t max,
                       size_t *n)
{
    unsigned char *ans = malloc(DNS_ANSWER_MAX);
    enum dns_result r;
    ns_msg msg;
    int i, count, null = 0;

    *n = 0;
    if (!ans) {
        return DNS_TEMP;
    }
    r = query(d, domain, ns_t_mx, ans, &msg);
    if (r != DNS_FOUND) {
        free(ans);
        return r;
    }
    count = ns_msg_count(msg, ns_s_an);
    for (i = 0; i < count; i++) {
        ns_rr rr;
        char host[NS_MAXDNAME];
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
            free(ans);
            return DNS_TEMP;
        }
        if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3) {
            continue;   /* CNAME chain and the like */
        }
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, host,
                      sizeof host) < 0) {
            free(ans);
            return DNS_TEMP;
        }
        if (host[0] == '\0' || strcmp(host, ".") == 0) {
            null = 1;   /* RFC 7505 §3 */
            continue;
        }
        if (*n < max && strlen(host) <= SMTP_DOMAIN_MAX) {
            mx[*n].pref = ns_get16(ns_rr_rdata(rr));
            memcpy(mx[*n].host, host, strlen(host) + 1);
            (*n)++;
        }
    }
    free(ans);
    if (null) {
        *n = 0;
        return DNS_NULLMX;
    }
    if (*n == 0) {
        return DNS_NODATA;
    }
    dns_mx_sort(mx, *n);
    shuffle_equal(mx, *n);
    return DNS_FOUND;
}

static int add_addr(struct dns_addr *out, size_t max, size_t *n, int family, const void *a)
{
    struct dns_addr *x;

    if (*n >= max) {
        return 0;
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
    return 1;
}

static enum dns_result addrs_query(struct dns *d, const char *host, int type,
                                   struct dns_addr *out, size_t max, size_t *n)
{
    unsigned char *ans = malloc(DNS_ANSWER_MAX);
    enum dns_result r;
    ns_msg msg;
    int i, count, found = 0;
    unsigned want = type == ns_t_a ? 4 : 16;

    if (!ans) {
        return DNS_TEMP;
    }
    r = query(d, host, type, ans, &msg);
    if (r == DNS_FOUND) {
        count = ns_msg_count(msg, ns_s_an);
        for (i = 0; i < count; i++) {
            ns_rr rr;
            if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
                break;
            }
            if ((int)ns_rr_type(rr) == type && ns_rr_rdlen(rr) == want) {
                found = 1;
                add_addr(out, max, n, type == ns_t_a ? AF_INET : AF_INET6, ns_rr_rdata(rr));
            }
        }
        r = found ? DNS_FOUND : DNS_NODATA;
    }
    free(ans);
    return r;
}

static enum dns_result addrs_system(const char *host, struct dns_addr *out, size_t max,
                                    size_t *n)
{
    struct addrinfo hints, *res = NULL, *ai;
    int e;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    e = getaddrinfo(host, NULL, &hints, &res);
    if (e != 0) {
        return e == EAI_NONAME ? DNS_NXDOMAIN : e == EAI_NODATA ? DNS_NODATA : DNS_TEMP;
    }
    for (ai = res; ai; ai = ai->ai_next) {   /* IPv4 first, as with our own queries */
        if (ai->ai_family == AF_INET) {
            add_addr(out, max, n, AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr);
        }
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET6) {
            add_addr(out, max, n, AF_INET6,
                     &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
        }
    }
    freeaddrinfo(res);
    return *n ? DNS_FOUND : DNS_NODATA;
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
    if (!d->custom) {
        return addrs_system(host, out, max, n);
    }
    r4 = addrs_query(d, host, ns_t_a, out, max, n);
    if (r4 == DNS_NXDOMAIN) {
        return r4;
    }
    r6 = addrs_query(d, host, ns_t_aaaa, out, max, n);
    if (*n > 0) {
        return DNS_FOUND;
    }
    if (r4 == DNS_TEMP || r6 == DNS_TEMP) {
        return DNS_TEMP;
    }
    return r6 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
}

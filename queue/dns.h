/* dns.h: MX and address lookups for remote (libresolv). The resolver can be pointed at one
   server with YUBIN_RESOLVER=IP:PORT (IPv4), which tests use for a DNS server on loopback. */
#ifndef YUBIN_DNS_H
#define YUBIN_DNS_H

#include "limits.h"

#include <resolv.h>
#include <stddef.h>
#include <sys/socket.h>

#define DNS_MX_MAX      16      /* MX records used per domain (ours) */
#define DNS_ADDR_MAX    8       /* addresses used per host (ours) */
#define DNS_ANSWER_MAX  8192    /* bytes of one DNS answer (EDNS-sized; TCP retry beyond) */

enum dns_result {
    DNS_FOUND = 1,
    DNS_NODATA = 0,       /* the name exists but has no record of that type */
    DNS_TEMP = -1,        /* SERVFAIL, timeout, no server: try again later */
    DNS_NXDOMAIN = -2,    /* the name does not exist (permanent) */
    DNS_NULLMX = -3,      /* RFC 7505 null MX "0 .": the domain accepts no mail */
};

struct dns {
    struct __res_state res;
    int custom;           /* YUBIN_RESOLVER in use */
};

struct dns_mx {
    unsigned pref;
    char host[SMTP_DOMAIN_MAX + 1];
};

struct dns_addr {
    struct sockaddr_storage sa;   /* port 0; the caller sets it */
    socklen_t len;
};

/* Initialise; honours YUBIN_RESOLVER ("IP:PORT" or "IP", IPv4). 0 ok, -1 (errno EINVAL for a
   bad YUBIN_RESOLVER, else libresolv failed). Call dns_close at the end. */
int dns_init(struct dns *d);
void dns_close(struct dns *d);
/* Parse "IP[:PORT]" (IPv4) into sin. 0 ok, -1 invalid. */
int dns_parse_server(const char *s, struct sockaddr_in *sin);

/* MX records of domain, sorted by preference (equal preferences shuffled, RFC 5321 §5.1),
   at most max (*n set). Returns DNS_FOUND, DNS_NODATA (no MX: use the domain's own address),
   DNS_NXDOMAIN, DNS_NULLMX or DNS_TEMP. */
enum dns_result dns_mx(struct dns *d, const char *domain, struct dns_mx *mx, size_t max,
                       size_t *n);
/* A and AAAA addresses of host (IPv4 first), at most max. An IP literal is parsed without a
   query. Without YUBIN_RESOLVER, getaddrinfo() is used (so /etc/hosts applies). */
enum dns_result dns_addrs(struct dns *d, const char *host, struct dns_addr *out, size_t max,
                          size_t *n);

/* Sort mx by preference (stable); used by dns_mx, exposed for tests. */
void dns_mx_sort(struct dns_mx *mx, size_t n);

#endif

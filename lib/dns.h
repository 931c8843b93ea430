/* dns.h: yubin's stub resolver: one question over UDP (TCP when the answer is truncated) to
   the servers of /etc/resolv.conf or YUBIN_RESOLVER, bounded in time, size and count, and a
   pure answer parser (dns_parse) that unit tests and fuzz_dns drive. remote uses it for MX, A
   and AAAA; the SPF checks (lib/spfdns) for TXT, A, AAAA, MX and PTR. */
#ifndef YUBIN_DNS_H
#define YUBIN_DNS_H

#include "limits.h"

#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DNS_MX_MAX       16     /* MX records used per domain (ours) */
#define DNS_ADDR_MAX     8      /* addresses used per host (ours) */
#define DNS_ANSWER_MAX   8192   /* octets of one answer, UDP or TCP; a longer one is TEMP */
#define DNS_QUERY_MAX    512    /* octets of one query: header, name, question, OPT */
#define DNS_EDNS_UDP     1232   /* UDP payload size announced in EDNS0 (DNS flag day 2020) */
#define DNS_NAME_MAX     255    /* octets of a name in wire form (RFC 1035 §2.3.4) */
#define DNS_LABEL_MAX    63     /* octets of one label (RFC 1035 §2.3.4) */
#define DNS_TEXT_MAX     253    /* characters of a name in text form, without the final dot */
#define DNS_RR_MAX       32     /* A, AAAA, MX or PTR records kept from one answer */
#define DNS_TXT_MAX      (DNS_ANSWER_MAX / 13)  /* TXT records of one answer: all of them, as
                                   each takes 13 octets of it at least (a name pointer, type,
                                   class, TTL, length, one string's length): a domain's many
                                   verification records never hide its SPF record. An answer
                                   of more (records without a string, which RFC 1035 §3.3.14
                                   does not allow) is DNS_TEMP */
#define DNS_CNAME_MAX    8      /* CNAMEs followed inside one answer */
#define DNS_HOPS_MAX     128    /* pointers followed in one name: one per label of 255 octets */
#define DNS_SERVERS_MAX  3      /* nameserver lines used (as libc's MAXNS) */
#define DNS_TIMEOUT_DEF  2      /* seconds per try (setting DNS_TIMEOUT, 1..30) */
#define DNS_TRIES_DEF    2      /* tries of each server (setting DNS_TRIES, 1..5) */
#define DNS_LINE_MAX     512    /* octets of a resolv.conf or hosts line; longer ones skipped */
#define DNS_AHEAD_MAX    6      /* questions dns_ahead asks at once */

enum dns_result {
    DNS_FOUND = 1,
    DNS_NODATA = 0,       /* the name exists but has no record of that type */
    DNS_TEMP = -1,        /* SERVFAIL, REFUSED, timeout, malformed answer: try again later */
    DNS_NXDOMAIN = -2,    /* the name does not exist (permanent) */
    DNS_NULLMX = -3,      /* RFC 7505 null MX "0 .": the domain accepts no mail (dns_mx) */
};

enum dns_type {
    DNS_T_A = 1,
    DNS_T_CNAME = 5,
    DNS_T_PTR = 12,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
};

struct dns_server {
    struct sockaddr_storage sa;
    socklen_t len;
};

/* A question dns_ahead sent, and its reply once dns_query waited for it. */
struct dns_ahead {
    char name[DNS_TEXT_MAX + 1];
    enum dns_type type;
    int fd;                         /* the question's UDP socket until its reply is read; -1 */
    unsigned id;
    long long end;                  /* CLOCK_MONOTONIC ms: the end of its try */
    int tried;                      /* it was the first server's try, and gave nothing to take */
    unsigned char *pkt;             /* the whole reply (malloc, len octets); NULL: none to take */
    size_t len;                     /* <= DNS_ANSWER_MAX */
};

struct dns {
    struct dns_server srv[DNS_SERVERS_MAX];
    size_t nsrv;
    unsigned timeout_ms;  /* per try */
    unsigned tries;       /* rounds over the servers */
    int custom;           /* YUBIN_RESOLVER in use (no hosts file) */
    long long deadline;   /* CLOCK_MONOTONIC ms after which every query is TEMP; 0: none */
    struct dns_ahead ahead[DNS_AHEAD_MAX];
    size_t nahead;
};

/* One record of the asked type at the end of the CNAME chain (A, AAAA, MX, PTR). */
struct dns_rr {
    enum dns_type type;
    unsigned pref;                  /* MX preference */
    unsigned char addr[16];         /* A: 4 octets, AAAA: 16 */
    char name[DNS_TEXT_MAX + 1];    /* MX exchange, PTR target: text, "" for the root */
};

/* One TXT record: its strings joined, at text + off (may hold NUL) */
struct dns_txt {
    unsigned short off, len;        /* < DNS_ANSWER_MAX */
};

struct dns_answer {
    struct dns_rr rr[DNS_RR_MAX];   /* A, AAAA, MX, PTR */
    struct dns_txt txt[DNS_TXT_MAX];    /* TXT */
    size_t n;                       /* records kept (in rr, or in txt for TXT) */
    size_t dropped;                 /* A, AAAA, MX or PTR records beyond DNS_RR_MAX, left out */
    char text[DNS_ANSWER_MAX];      /* TXT data; never longer than the packet */
    size_t textlen;
};

struct dns_mx {
    unsigned pref;
    char host[SMTP_DOMAIN_MAX + 1];
};

struct dns_addr {
    struct sockaddr_storage sa;   /* port 0; the caller sets it */
    socklen_t len;
};

/* Initialise: the servers from YUBIN_RESOLVER ("IP[:PORT]", IPv4) or the nameserver lines of
   /etc/resolv.conf (at most DNS_SERVERS_MAX; none: 127.0.0.1), DNS_TIMEOUT and DNS_TRIES from
   the environment. 0 ok, -1 (errno EINVAL: bad YUBIN_RESOLVER). dns_close releases what
   dns_ahead holds. */
int dns_init(struct dns *d);
void dns_close(struct dns *d);
/* Parse "IP[:PORT]" (IPv4) into sin. 0 ok, -1 invalid. */
int dns_parse_server(const char *s, struct sockaddr_in *sin);
/* Every query started more than ms milliseconds from now answers DNS_TEMP, and every wait
   ends by then (a total budget, e.g. for one SPF check); ms 0 removes the budget. */
void dns_set_budget(struct dns *d, unsigned long ms);

/* Send the first server the n questions (at most DNS_AHEAD_MAX; names in text form) at once,
   each over UDP, and return without waiting. dns_query of one of them waits for its reply
   (for one try's time, within the budget) instead of asking, and takes it when it is NOERROR
   or NXDOMAIN and not truncated; else it asks as it always does, the try made counted as its
   first (a truncated or FORMERR reply: not counted, the try is made again by TCP or without
   EDNS0). So the results are those of asking one by one, and the checks that need several
   names wait for the slowest instead of the sum. dns_close closes what is still open. */
void dns_ahead(struct dns *d, const char *const *names, const enum dns_type *types, size_t n);

/* Ask name (text, a final dot optional) for type; the records of that type, at the end of a
   CNAME chain inside the answer, go to ans. DNS_FOUND (ans->n >= 1), DNS_NODATA, DNS_NXDOMAIN
   or DNS_TEMP; a name that cannot be asked (an empty label, a label over 63 octets, over 253
   characters) is DNS_NXDOMAIN. Tries each server DNS_TRIES times, DNS_TIMEOUT each; an
   answer counts only from the server asked, with the query's id and question. A server that
   answers FORMERR is asked again without EDNS0. */
enum dns_result dns_query(struct dns *d, const char *name, enum dns_type type,
                          struct dns_answer *ans);

/* A struct dns_answer on the heap (~20 KB: too big for the stack when lookups nest, as an
   SPF check's do), and back. The last one freed is kept for the next: musl's allocator gives
   a block this size back to the kernel at every free, which cost an mmap, its page faults and
   an munmap at each of a port-25 message's lookups. NULL when out of memory. */
struct dns_answer *dns_answer_new(void);
void dns_answer_free(struct dns_answer *a);

/* TXT records of name (SPF, DKIM keys, DMARC policies), each record's character-strings
   joined and NUL-terminated, one after the other in out[cap]; a record holding a NUL octet or
   not fitting is left out. *n counts the records kept; DNS_FOUND only when *n >= 1 (records
   all left out: DNS_NODATA). */
enum dns_result dns_txt(struct dns *d, const char *name, char *out, size_t cap, size_t *n);

/* ---- pure functions (no I/O) ---- */

/* The query packet for name/type with id, RD and an EDNS0 OPT record (its last 11 octets:
   dropped, and ARCOUNT set to 0, for a server without EDNS0) into q[cap]. Returns
   its length, or -1 (EINVAL: not a name we ask: empty label, label > 63, name > 255 octets,
   a control octet, space or DEL in it;
   ENOSPC: cap too small). */
int dns_build(unsigned char *q, size_t cap, unsigned id, const char *name,
              enum dns_type type);
/* 1 if pkt[len] is a reply to id with the question name/type/IN, else 0. */
int dns_match(const unsigned char *pkt, size_t len, unsigned id, const char *name,
              enum dns_type type);
/* 1 if the reply has TC (truncated) set. */
int dns_truncated(const unsigned char *pkt, size_t len);
/* Parse a reply to name/type (the question must match; the id is the caller's concern):
   the answer section is read whole with every bound checked, CNAMEs owned by the asked name
   are followed (at most DNS_CNAME_MAX), and the records of type owned by the chain's end go to
   ans. Returns DNS_FOUND, DNS_NODATA, DNS_NXDOMAIN, or DNS_TEMP (SERVFAIL, REFUSED, other
   rcodes, a malformed packet or one over DNS_ANSWER_MAX, a CNAME chain too long or
   looping). */
enum dns_result dns_parse(const unsigned char *pkt, size_t len, const char *name,
                          enum dns_type type, struct dns_answer *ans);
/* The PTR query name of an address (4 or 16 octets): "4.3.2.1.in-addr.arpa" or the 32 nibbles
   of ip6.arpa (RFC 3596 §2.5). 0 ok, -1 if cap is too small (74 octets always suffice). */
int dns_ptr_name(const unsigned char *ip, int v6, char *out, size_t cap);

/* ---- remote's lookups ---- */

/* MX records of domain, sorted by preference (equal preferences shuffled, RFC 5321 §5.1),
   at most max (*n set). Returns DNS_FOUND, DNS_NODATA (no MX: use the domain's own address),
   DNS_NXDOMAIN, DNS_NULLMX or DNS_TEMP. */
enum dns_result dns_mx(struct dns *d, const char *domain, struct dns_mx *mx, size_t max,
                       size_t *n);
/* A and AAAA addresses of host (IPv4 first), at most max. An IP literal is parsed without a
   query. Without YUBIN_RESOLVER, /etc/hosts is read first (as libc's "files dns"). */
enum dns_result dns_addrs(struct dns *d, const char *host, struct dns_addr *out, size_t max,
                          size_t *n);

/* Sort mx by preference (stable); used by dns_mx, exposed for tests. */
void dns_mx_sort(struct dns_mx *mx, size_t n);

#endif

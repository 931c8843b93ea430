/* dns_packet.c: DNS messages without I/O: the query (RFC 1035 §4.1, EDNS0 RFC 6891 §6) and
   the strict parse of a reply (names with bounded compression, the answer section, CNAME
   chains); declared in dns.h */
#include "dns.h"
#include "str.h"

#include <errno.h>
#include <string.h>

#define HDR 12
#define CLASS_IN 1
#define T_OPT 41

struct raw {                        /* one resource record, located in the packet */
    size_t owner;                   /* offset of the owner name */
    unsigned type, class;
    size_t rdata, rdlen;
};

static int fail(int e)
{
    errno = e;
    return -1;
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* The name at off in text form into out[DNS_TEXT_MAX + 1] ("" for the root); *next is the
   offset after the name where it stands. Pointers are followed at most DNS_HOPS_MAX times
   (so a loop ends), the name is at most DNS_NAME_MAX octets, labels are plain (00xxxxxx)
   and without controls, space, DEL or '.'. 0 ok, -1 malformed. */
static int name_get(const unsigned char *p, size_t len, size_t off, char *out, size_t *next)
{
    size_t pos = off, wire = 1, o = 0, hops = 0, i;
    int jumped = 0;

    for (;;) {
        unsigned c;
        if (pos >= len) {
            return -1;
        }
        c = p[pos];
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= len || ++hops > DNS_HOPS_MAX) {
                return -1;
            }
            if (!jumped) {
                *next = pos + 2;
                jumped = 1;
            }
            pos = (size_t)(c & 0x3f) << 8 | p[pos + 1];
            continue;
        }
        if (c & 0xc0) {
            return -1;              /* 01, 10: no such label types in use (RFC 6891 §5) */
        }
        if (c == 0) {
            break;
        }
        wire += c + 1;
        if (wire > DNS_NAME_MAX || c > len - pos - 1) {
            return -1;
        }
        if (o) {
            out[o++] = '.';
        }
        for (i = 0; i < c; i++) {
            unsigned char ch = p[pos + 1 + i];
            if (ch <= 0x20 || ch == 0x7f || ch == '.') {
                return -1;
            }
            out[o++] = (char)ch;    /* o < DNS_TEXT_MAX: wire <= 255 bounds the text */
        }
        pos += 1 + c;
    }
    if (!jumped) {
        *next = pos + 1;
    }
    out[o] = '\0';
    return 0;
}

/* Case-insensitive equality of text names, a final dot ignored on either. */
static int name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la && a[la - 1] == '.') {
        la--;
    }
    if (lb && b[lb - 1] == '.') {
        lb--;
    }
    size_t i;

    if (la != lb) {
        return 0;
    }
    for (i = 0; i < la; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y)) {
            return 0;
        }
    }
    return 1;
}

/* 1 if s[n] has no control octet, space or DEL: what name_get accepts back in an answer
   (octets over 0x7f pass: DNS is 8-bit clean, RFC 2181 §11, and a UTF-8 domain is asked as
   it is, as libresolv did). */
static int printable(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int dns_build(unsigned char *q, size_t cap, unsigned id, const char *name,
              enum dns_type type)
{
    size_t nl = strlen(name), o = HDR, i = 0;

    if (nl && name[nl - 1] == '.') {
        nl--;
    }
    if (nl == 0 || nl > DNS_TEXT_MAX) {
        return fail(EINVAL);
    }
    if (cap < HDR + nl + 2 + 4 + 11) {
        return fail(ENOSPC);
    }
    memset(q, 0, HDR);
    put16(q, id & 0xffff);
    q[2] = 0x01;                    /* RD */
    put16(q + 4, 1);                /* QDCOUNT */
    put16(q + 10, 1);               /* ARCOUNT: the OPT record */
    while (i < nl) {
        size_t l = 0;
        while (i + l < nl && name[i + l] != '.') {
            l++;
        }
        if (l == 0 || l > DNS_LABEL_MAX || !printable(name + i, l)) {
            return fail(EINVAL);
        }
        q[o++] = (unsigned char)l;
        memcpy(q + o, name + i, l);
        o += l;
        i += l + 1;
        if (i == nl) {
            return fail(EINVAL);   /* "a..b" ended as "a." inside: empty last label */
        }
    }
    q[o++] = 0;
    put16(q + o, type);
    put16(q + o + 2, CLASS_IN);
    o += 4;
    q[o++] = 0;                     /* OPT: root owner, type, UDP size, TTL 0, no rdata */
    put16(q + o, T_OPT);
    put16(q + o + 2, DNS_EDNS_UDP);
    memset(q + o + 4, 0, 6);
    return (int)(o + 10);
}

/* Offset after a question that matches name/type/IN, or 0. */
static size_t question_end(const unsigned char *p, size_t len, const char *name,
                           enum dns_type type)
{
    char qn[DNS_TEXT_MAX + 1];
    size_t next;

    if (len < HDR || get16(p + 4) != 1 || name_get(p, len, HDR, qn, &next) < 0 ||
        len - next < 4 || !name_eq(qn, name) || get16(p + next) != (unsigned)type ||
        get16(p + next + 2) != CLASS_IN) {
        return 0;
    }
    return next + 4;
}

int dns_match(const unsigned char *pkt, size_t len, unsigned id, const char *name,
              enum dns_type type)
{
    return len >= HDR && get16(pkt) == (id & 0xffff) && (pkt[2] & 0x80) &&
           ((pkt[2] >> 3) & 0x0f) == 0 && question_end(pkt, len, name, type) != 0;
}

int dns_truncated(const unsigned char *pkt, size_t len)
{
    return len >= HDR && (pkt[2] & 0x02) != 0;
}

/* The record at *pos; *pos moves past it. 0 ok, -1 malformed. */
static int raw_next(const unsigned char *p, size_t len, size_t *pos, struct raw *r)
{
    char owner[DNS_TEXT_MAX + 1];
    size_t next;

    r->owner = *pos;
    if (name_get(p, len, *pos, owner, &next) < 0 || len - next < 10) {
        return -1;
    }
    r->type = get16(p + next);
    r->class = get16(p + next + 2);
    r->rdlen = get16(p + next + 8);
    r->rdata = next + 10;
    if (r->rdlen > len - r->rdata) {
        return -1;
    }
    *pos = r->rdata + r->rdlen;
    return 0;
}

/* 1 if the record's owner is name. */
static int owned_by(const unsigned char *p, size_t len, const struct raw *r, const char *name)
{
    char owner[DNS_TEXT_MAX + 1];
    size_t next;
    return name_get(p, len, r->owner, owner, &next) == 0 && name_eq(owner, name);
}

/* A name that fills the rdata exactly (after skip octets). 0 ok, -1 malformed. */
static int rdata_name(const unsigned char *p, size_t len, const struct raw *r, size_t skip,
                      char *out)
{
    size_t next;
    if (r->rdlen < skip + 1 || name_get(p, len, r->rdata + skip, out, &next) < 0 ||
        next != r->rdata + r->rdlen) {
        return -1;
    }
    return 0;
}

/* One record of the asked type into ans. 0 ok, -1 malformed. */
/* A TXT record: its strings joined at the end of ans->text. 0 ok, -1 a string overruns. */
static int keep_txt(const unsigned char *p, const struct raw *r, struct dns_answer *ans)
{
    size_t i, start = ans->textlen;

    for (i = 0; i < r->rdlen; i += 1 + p[r->rdata + i]) {
        size_t l = p[r->rdata + i];
        if (l > r->rdlen - i - 1) {
            return -1;
        }
        /* the text of all records is shorter than the packet (<= DNS_ANSWER_MAX): it fits */
        memcpy(ans->text + ans->textlen, p + r->rdata + i + 1, l);
        ans->textlen += l;
    }
    ans->txt[ans->n].off = (unsigned short)start;
    ans->txt[ans->n].len = (unsigned short)(ans->textlen - start);
    ans->n++;
    return 0;
}

static int keep(const unsigned char *p, size_t len, const struct raw *r,
                struct dns_answer *ans)
{
    struct dns_rr *x = &ans->rr[ans->n];

    memset(x, 0, sizeof *x);
    x->type = (enum dns_type)r->type;
    switch (r->type) {
    case DNS_T_A:
    case DNS_T_AAAA:
        if (r->rdlen != (r->type == DNS_T_A ? 4u : 16u)) {
            return -1;
        }
        memcpy(x->addr, p + r->rdata, r->rdlen);
        break;
    case DNS_T_MX:
        if (r->rdlen < 3 || rdata_name(p, len, r, 2, x->name) < 0) {
            return -1;
        }
        x->pref = get16(p + r->rdata);
        break;
    case DNS_T_PTR:
        if (rdata_name(p, len, r, 0, x->name) < 0) {
            return -1;
        }
        break;
    default:
        return -1;
    }
    ans->n++;
    return 0;
}

/* The end of the CNAME chain from name into cur[DNS_TEXT_MAX + 1]. 0 ok, -1 malformed,
   too long or a loop. */
static int chain_end(const unsigned char *p, size_t len, size_t an0, unsigned an,
                     const char *name, char *cur)
{
    unsigned hop, i;

    str_fmt(cur, DNS_TEXT_MAX + 2, "%s", name);
    for (hop = 0;; hop++) {
        size_t pos = an0;
        int moved = 0;
        for (i = 0; i < an && !moved; i++) {
            struct raw r;
            char target[DNS_TEXT_MAX + 1];
            if (raw_next(p, len, &pos, &r) < 0) {
                return -1;
            }
            if (r.type != DNS_T_CNAME || r.class != CLASS_IN || !owned_by(p, len, &r, cur)) {
                continue;
            }
            if (hop == DNS_CNAME_MAX || rdata_name(p, len, &r, 0, target) < 0) {
                return -1;
            }
            memcpy(cur, target, strlen(target) + 1);
            moved = 1;
        }
        if (!moved) {
            return 0;
        }
    }
}

enum dns_result dns_parse(const unsigned char *pkt, size_t len, const char *name,
                          enum dns_type type, struct dns_answer *ans)
{
    char cur[DNS_TEXT_MAX + 2];
    size_t an0 = len >= HDR ? question_end(pkt, len, name, type) : 0, pos;
    unsigned an, i;

    ans->n = ans->dropped = ans->textlen = 0;
    if (len > DNS_ANSWER_MAX || an0 == 0 || !(pkt[2] & 0x80) || ((pkt[2] >> 3) & 0x0f) != 0 ||
        strlen(name) > DNS_TEXT_MAX + 1) {
        return DNS_TEMP;
    }
    switch (pkt[3] & 0x0f) {
    case 0:
        break;
    case 3:
        return DNS_NXDOMAIN;
    default:
        return DNS_TEMP;            /* SERVFAIL, NOTIMP, REFUSED, ... */
    }
    an = get16(pkt + 6);
    pos = an0;
    for (i = 0; i < an; i++) {      /* the whole section must be well-formed */
        struct raw r;
        if (raw_next(pkt, len, &pos, &r) < 0) {
            return DNS_TEMP;
        }
    }
    if (chain_end(pkt, len, an0, an, name, cur) < 0) {
        return DNS_TEMP;
    }
    pos = an0;
    for (i = 0; i < an; i++) {
        struct raw r;
        raw_next(pkt, len, &pos, &r);
        if (r.type != (unsigned)type || r.class != CLASS_IN || !owned_by(pkt, len, &r, cur)) {
            continue;
        }
        if (r.type == DNS_T_TXT) {
            /* every record takes 13 octets of the packet at least: DNS_TXT_MAX holds them */
            if (ans->n == DNS_TXT_MAX || keep_txt(pkt, &r, ans) < 0) {
                ans->n = 0;
                return DNS_TEMP;
            }
        } else if (ans->n == DNS_RR_MAX) {
            ans->dropped++;
        } else if (keep(pkt, len, &r, ans) < 0) {
            ans->n = 0;
            return DNS_TEMP;
        }
    }
    return ans->n ? DNS_FOUND : DNS_NODATA;
}

int dns_ptr_name(const unsigned char *ip, int v6, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    int i;

    if (!v6) {
        return str_fmt(out, cap, "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]);
    }
    if (cap < 64 + sizeof "ip6.arpa") {
        return -1;
    }
    for (i = 15; i >= 0; i--) {
        out[o++] = hex[ip[i] & 0x0f];
        out[o++] = '.';
        out[o++] = hex[ip[i] >> 4];
        out[o++] = '.';
    }
    memcpy(out + o, "ip6.arpa", sizeof "ip6.arpa");
    return 0;
}

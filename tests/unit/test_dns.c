/* test_dns: the answer parser on crafted and hostile packets (compression, loops, truncation,
   CNAME chains, TXT strings, bad lengths), the query builder, YUBIN_RESOLVER parsing and MX
   ordering (the lookups themselves run against dnsmasq in test_remote.py and test_spf.py) */
#include "dns.h"
#include "t.h"

#include <arpa/inet.h>
#include <stdio.h>

static void test_server(void)
{
    static const struct {
        const char *in;
        int ok;
        unsigned port;
    } cases[] = {
        {"127.0.0.1:5353", 0, 5353},
        {"127.0.0.1", 0, 53},
        {"10.1.2.3:53", 0, 53},
        {"127.0.0.1:0", -1, 0},
        {"127.0.0.1:65536", -1, 0},
        {"127.0.0.1:", -1, 0},
        {"127.0.0.1:x", -1, 0},
        {":53", -1, 0},
        {"localhost:53", -1, 0},
        {"::1", -1, 0},
        {"", -1, 0},
        {"1.2.3.4.5:53", -1, 0},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_in sin;
        int r = dns_parse_server(cases[i].in, &sin);
        T_CHECK(r == cases[i].ok, "YUBIN_RESOLVER=\"%s\" -> %d", cases[i].in, r);
        if (r == 0) {
            T_EQ_INT(ntohs(sin.sin_port), cases[i].port, "port");
        }
    }
}

static void test_sort(void)
{
    struct dns_mx mx[5] = {{20, "c"}, {10, "a"}, {30, "e"}, {10, "b"}, {20, "d"}};
    dns_mx_sort(mx, 5);
    T_CHECK(mx[0].pref == 10 && mx[1].pref == 10 && mx[2].pref == 20 && mx[3].pref == 20 &&
            mx[4].pref == 30, "sorted by preference");
    T_EQ_STR(mx[0].host, "a", "stable");
    T_EQ_STR(mx[1].host, "b", "stable");
    T_EQ_STR(mx[4].host, "e", "last");
    dns_mx_sort(mx, 0);
}

/* ---- the parser on crafted packets ---- */

struct pkt {
    unsigned char b[8192];
    size_t n;
};

static void p8(struct pkt *p, unsigned v)
{
    p->b[p->n++] = (unsigned char)v;
}

static void p16(struct pkt *p, unsigned v)
{
    p8(p, v >> 8);
    p8(p, v & 0xff);
}

static void pbytes(struct pkt *p, const void *s, size_t n)
{
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

/* a name in wire form, labels from text, no compression */
static void pname(struct pkt *p, const char *name)
{
    while (*name) {
        size_t l = strcspn(name, ".");
        p8(p, (unsigned)l);
        pbytes(p, name, l);
        name += l;
        if (*name == '.') {
            name++;
        }
    }
    p8(p, 0);
}

/* header (QR, RD, RA, rcode) and the question name/type at offset 12 */
static void phead(struct pkt *p, unsigned id, unsigned rcode, unsigned an, const char *name,
                  unsigned type)
{
    p->n = 0;
    p16(p, id);
    p8(p, 0x81);
    p8(p, 0x80 | rcode);
    p16(p, 1);
    p16(p, an);
    p16(p, 0);
    p16(p, 0);
    pname(p, name);
    p16(p, type);
    p16(p, 1);
}

/* a record's fixed part after its owner: type, class IN, TTL, rdlength */
static void prr(struct pkt *p, unsigned type, unsigned rdlen)
{
    p16(p, type);
    p16(p, 1);
    p16(p, 0);
    p16(p, 300);
    p16(p, rdlen);
}

static struct dns_answer ans;

static void test_answers(void)
{
    struct pkt p;
    enum dns_result r;
    size_t at;
    static const unsigned char v4[4] = {192, 0, 2, 7};

    /* A, the owner a pointer to the question */
    phead(&p, 7, 0, 1, "mx.Example.test", DNS_T_A);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_A, 4);
    pbytes(&p, v4, 4);
    r = dns_parse(p.b, p.n, "MX.example.test.", DNS_T_A, &ans);
    T_EQ_INT(r, DNS_FOUND, "A found (names compared without case, final dot ignored)");
    T_CHECK(ans.n == 1 && memcmp(ans.rr[0].addr, v4, 4) == 0, "A address");
    T_EQ_INT(dns_match(p.b, p.n, 7, "mx.example.test", DNS_T_A), 1, "match: id, question");
    T_EQ_INT(dns_match(p.b, p.n, 8, "mx.example.test", DNS_T_A), 0, "another id: ignored");
    T_EQ_INT(dns_match(p.b, p.n, 7, "mx.example.tes", DNS_T_A), 0, "another name: ignored");
    T_EQ_INT(dns_match(p.b, p.n, 7, "mx.example.test", DNS_T_AAAA), 0, "another type");
    T_EQ_INT(dns_parse(p.b, p.n, "other.test", DNS_T_A, &ans), DNS_TEMP, "question differs");

    /* every shorter prefix of the packet is malformed: TEMP, never a read past the end */
    for (at = 0; at < p.n; at++) {
        r = dns_parse(p.b, at, "mx.example.test", DNS_T_A, &ans);
        if (r != DNS_TEMP) {
            break;
        }
    }
    T_EQ_INT(at, p.n, "truncated packets are TEMP at every length");

    /* rdlength 5 for an A */
    phead(&p, 7, 0, 1, "a.test", DNS_T_A);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_A, 5);
    pbytes(&p, "\1\2\3\4\5", 5);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "A with 5 octets");

    /* rdlength past the end */
    phead(&p, 7, 0, 1, "a.test", DNS_T_A);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_A, 400);
    pbytes(&p, v4, 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "rdlength past the end");

    /* QR clear: a query, not an answer */
    phead(&p, 7, 0, 0, "a.test", DNS_T_A);
    p.b[2] &= 0x7f;
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "QR clear");
    T_EQ_INT(dns_match(p.b, p.n, 7, "a.test", DNS_T_A), 0, "QR clear: not a reply");
}

static void test_rcodes(void)
{
    struct pkt p;
    static const struct {
        unsigned rcode;
        enum dns_result want;
        const char *what;
    } cases[] = {
        {0, DNS_NODATA, "NOERROR without records: NODATA"},
        {1, DNS_TEMP, "FORMERR"},
        {2, DNS_TEMP, "SERVFAIL"},
        {3, DNS_NXDOMAIN, "NXDOMAIN"},
        {4, DNS_TEMP, "NOTIMP"},
        {5, DNS_TEMP, "REFUSED"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        phead(&p, 1, cases[i].rcode, 0, "x.test", DNS_T_MX);
        T_EQ_INT(dns_parse(p.b, p.n, "x.test", DNS_T_MX, &ans), cases[i].want, cases[i].what);
    }
    phead(&p, 1, 0, 0, "x.test", DNS_T_MX);
    p.b[2] |= 0x02;
    T_EQ_INT(dns_truncated(p.b, p.n), 1, "TC seen");
}

static void test_names(void)
{
    struct pkt p;
    size_t i;

    /* a pointer to itself: a loop */
    phead(&p, 1, 0, 1, "a.test", DNS_T_A);
    p16(&p, 0xc000 | (unsigned)p.n);
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\1\2\3\4", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "pointer loop");

    /* two pointers to each other */
    phead(&p, 1, 0, 1, "a.test", DNS_T_A);
    p16(&p, 0xc000 | (unsigned)(p.n + 2));
    p16(&p, 0xc000 | (unsigned)(p.n - 2));
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\1\2\3\4", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "pointer ping-pong");

    /* a pointer past the end */
    phead(&p, 1, 0, 1, "a.test", DNS_T_A);
    p16(&p, 0xc000 | 4000);
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\1\2\3\4", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "pointer past the end");

    /* label length 64 (0x40: an extended label type) */
    phead(&p, 1, 0, 1, "a.test", DNS_T_A);
    p8(&p, 64);
    for (i = 0; i < 64; i++) {
        p8(&p, 'x');
    }
    p8(&p, 0);
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\1\2\3\4", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "label of 64 octets");

    /* a name of 5 x 63-octet labels (320 octets) spelled through pointers */
    phead(&p, 1, 0, 1, "a.test", DNS_T_A);
    {
        size_t k;
        for (k = 0; k < 5; k++) {
            p8(&p, 63);
            for (i = 0; i < 63; i++) {
                p8(&p, 'y');
            }
            if (k < 4) {
                p16(&p, 0xc000 | (unsigned)(p.n + 2));
            } else {
                p8(&p, 0);
            }
        }
    }
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\1\2\3\4", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "name over 255 octets");

    /* a legitimate name spelled through 40 pointers (one label each) is read whole: the
       exchange "m" then labels "a".."a" that live after the answer section */
    phead(&p, 1, 0, 1, "a.test", DNS_T_MX);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_MX, 2 + 2 + 2);
    p16(&p, 5);
    pbytes(&p, "\1m", 2);
    p16(&p, 0xc000 | (unsigned)(p.n + 2));
    for (i = 0; i < 40; i++) {
        pbytes(&p, "\1a", 2);
        if (i < 39) {
            p16(&p, 0xc000 | (unsigned)(p.n + 2));
        } else {
            p8(&p, 0);
        }
    }
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_MX, &ans), DNS_FOUND, "40 pointers in a name");
    T_CHECK(ans.n == 1 && strlen(ans.rr[0].name) == 81 && ans.rr[0].name[0] == 'm',
            "the name through 40 pointers (\"%s\")", ans.rr[0].name);

    /* a control character inside a label */
    phead(&p, 1, 0, 1, "a.test", DNS_T_A);
    pbytes(&p, "\3a\nb\0", 5);
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\1\2\3\4", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "control octet in a name");
}

static void test_cname(void)
{
    struct pkt p;
    size_t i, q = 12, last = 0;

    /* www -> a -> b, the records out of order; an A of another name is not taken */
    phead(&p, 1, 0, 4, "www.x.test", DNS_T_A);
    pname(&p, "b.x.test");
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\12\0\0\2", 4);
    pname(&p, "a.x.test");
    prr(&p, DNS_T_CNAME, 10);
    pname(&p, "b.x.test");
    p16(&p, 0xc000 | (unsigned)q);
    prr(&p, DNS_T_CNAME, 10);
    pname(&p, "a.x.test");
    pname(&p, "www.x.test");
    prr(&p, DNS_T_A, 4);
    pbytes(&p, "\12\0\0\1", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "www.x.test", DNS_T_A, &ans), DNS_FOUND, "CNAME chain");
    T_CHECK(ans.n == 1 && ans.rr[0].addr[3] == 2, "the address of the chain's end only");

    /* a loop: a -> b -> a */
    phead(&p, 1, 0, 2, "a.test", DNS_T_A);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_CNAME, 8);
    pname(&p, "b.test");
    pname(&p, "b.test");
    prr(&p, DNS_T_CNAME, 2);
    p16(&p, 0xc00c);
    T_EQ_INT(dns_parse(p.b, p.n, "a.test", DNS_T_A, &ans), DNS_TEMP, "CNAME loop");

    /* a chain of DNS_CNAME_MAX + 1 links: c0 -> c1 -> ... -> c9 */
    phead(&p, 1, 0, DNS_CNAME_MAX + 1, "c0.test", DNS_T_A);
    for (i = 0; i <= DNS_CNAME_MAX; i++) {
        char a[16], b[16];
        last = p.n;
        snprintf(a, sizeof a, "c%zu.test", i);
        snprintf(b, sizeof b, "c%zu.test", i + 1);
        pname(&p, a);
        prr(&p, DNS_T_CNAME, (unsigned)strlen(b) + 2);
        pname(&p, b);
    }
    T_EQ_INT(dns_parse(p.b, p.n, "c0.test", DNS_T_A, &ans), DNS_TEMP, "CNAME chain too long");
    p.b[7] = DNS_CNAME_MAX;     /* one link less: the end has no A record */
    T_EQ_INT(dns_parse(p.b, last, "c0.test", DNS_T_A, &ans), DNS_NODATA,
             "CNAME chain of DNS_CNAME_MAX links without the address: NODATA");
}

static void test_txt_mx_ptr(void)
{
    struct pkt p;
    size_t i;

    /* two TXT records, the first of three strings */
    phead(&p, 1, 0, 2, "t.test", DNS_T_TXT);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_TXT, 8 + 15 + 5);
    pbytes(&p, "\7v=spf1 ", 8);
    pbytes(&p, "\16ip4:192.0.2.1 ", 15);
    pbytes(&p, "\4-all", 5);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_TXT, 6);
    pbytes(&p, "\5hello", 6);
    T_EQ_INT(dns_parse(p.b, p.n, "t.test", DNS_T_TXT, &ans), DNS_FOUND, "TXT");
    T_EQ_INT(ans.n, 2, "two records kept apart");
    T_CHECK(ans.txt[0].len == 25 &&
            memcmp(ans.text + ans.txt[0].off, "v=spf1 ip4:192.0.2.1 -all", 25) == 0,
            "strings of one record joined");
    T_CHECK(ans.txt[1].len == 5 && memcmp(ans.text + ans.txt[1].off, "hello", 5) == 0,
            "second record");

    /* 60 TXT records (a big sender's verification records), its SPF record last: all kept */
    phead(&p, 1, 0, 60, "t.test", DNS_T_TXT);
    for (i = 0; i < 59; i++) {
        char rec[32];
        int l = snprintf(rec, sizeof rec, "Xsite-verification=%02zu", i);
        rec[0] = (char)(l - 1);
        p16(&p, 0xc00c);
        prr(&p, DNS_T_TXT, (unsigned)l);
        pbytes(&p, rec, (size_t)l);
    }
    p16(&p, 0xc00c);
    prr(&p, DNS_T_TXT, 12);
    pbytes(&p, "\13v=spf1 -all", 12);
    T_EQ_INT(dns_parse(p.b, p.n, "t.test", DNS_T_TXT, &ans), DNS_FOUND, "60 TXT records");
    T_EQ_INT(ans.n, 60, "every TXT record kept (more than DNS_RR_MAX)");
    T_CHECK(ans.txt[59].len == 11 && memcmp(ans.text + ans.txt[59].off, "v=spf1 -all", 11) == 0,
            "the last one, the SPF record, is there");
    T_CHECK(ans.txt[7].len == 20 && memcmp(ans.text + ans.txt[7].off, "site-verification=07", 20) == 0,
            "a record in the middle");

    /* a string longer than the rdata */
    phead(&p, 1, 0, 1, "t.test", DNS_T_TXT);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_TXT, 4);
    pbytes(&p, "\11abc", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "t.test", DNS_T_TXT, &ans), DNS_TEMP, "TXT string overruns");

    /* MX: preference and a compressed exchange; the null MX "." */
    phead(&p, 1, 0, 2, "m.test", DNS_T_MX);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_MX, 2 + 5);
    p16(&p, 10);
    pbytes(&p, "\2mx\xc0\x0c", 5);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_MX, 3);
    p16(&p, 0);
    p8(&p, 0);
    T_EQ_INT(dns_parse(p.b, p.n, "m.test", DNS_T_MX, &ans), DNS_FOUND, "MX");
    T_CHECK(ans.n == 2 && ans.rr[0].pref == 10, "MX preference");
    T_EQ_STR(ans.rr[0].name, "mx.m.test", "MX exchange through a pointer");
    T_EQ_STR(ans.rr[1].name, "", "null MX is the root");

    /* MX whose name does not fill its rdata */
    phead(&p, 1, 0, 1, "m.test", DNS_T_MX);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_MX, 2 + 3 + 1);
    p16(&p, 10);
    pbytes(&p, "\1a\0Z", 4);
    T_EQ_INT(dns_parse(p.b, p.n, "m.test", DNS_T_MX, &ans), DNS_TEMP, "MX rdata too long");

    /* PTR */
    phead(&p, 1, 0, 1, "7.2.0.192.in-addr.arpa", DNS_T_PTR);
    p16(&p, 0xc00c);
    prr(&p, DNS_T_PTR, 8);
    pname(&p, "h.test");
    T_EQ_INT(dns_parse(p.b, p.n, "7.2.0.192.in-addr.arpa", DNS_T_PTR, &ans), DNS_FOUND, "PTR");
    T_EQ_STR(ans.rr[0].name, "h.test", "PTR target");

    /* more A records than DNS_RR_MAX: the first kept, the rest counted */
    phead(&p, 1, 0, DNS_RR_MAX + 3, "many.test", DNS_T_A);
    for (i = 0; i < DNS_RR_MAX + 3; i++) {
        p16(&p, 0xc00c);
        prr(&p, DNS_T_A, 4);
        pbytes(&p, "\1\2\3", 3);
        p8(&p, (unsigned)i);
    }
    T_EQ_INT(dns_parse(p.b, p.n, "many.test", DNS_T_A, &ans), DNS_FOUND, "many A");
    T_CHECK(ans.n == DNS_RR_MAX && ans.dropped == 3, "DNS_RR_MAX kept, 3 left out");
}

static void test_build(void)
{
    unsigned char q[DNS_QUERY_MAX];
    char big[300];
    int n = dns_build(q, sizeof q, 0xbeef, "mx.example.test.", DNS_T_MX);
    static const unsigned char want[] = "\xbe\xef\x01\x00\0\1\0\0\0\0\0\1"
                                        "\2mx\7example\4test\0\0\x0f\0\1"
                                        "\0\0\x29\x04\xd0\0\0\0\0\0\0";

    T_CHECK(n == (int)sizeof want - 1 && memcmp(q, want, sizeof want - 1) == 0,
            "query: id, RD, one question, EDNS0 OPT 1232");
    T_EQ_INT(dns_build(q, sizeof q, 1, "a..b", DNS_T_A), -1, "empty label");
    T_EQ_INT(dns_build(q, sizeof q, 1, "a b.test", DNS_T_A), -1, "a space");
    T_EQ_INT(dns_build(q, sizeof q, 1, "a\nb.test", DNS_T_A), -1, "a control octet");
    T_CHECK(dns_build(q, sizeof q, 1, "\xe3\x81\x82.test", DNS_T_A) > 0,
            "a UTF-8 label is asked as it is (8-bit clean)");
    T_EQ_INT(dns_build(q, sizeof q, 1, "", DNS_T_A), -1, "empty name");
    T_EQ_INT(dns_build(q, sizeof q, 1, ".", DNS_T_A), -1, "the root");
    memset(big, 'a', 64);
    big[64] = '\0';
    T_EQ_INT(dns_build(q, sizeof q, 1, big, DNS_T_A), -1, "label of 64");
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    T_EQ_INT(dns_build(q, sizeof q, 1, big, DNS_T_A), -1, "name over 253");
    T_EQ_INT(dns_build(q, 20, 1, "example.test", DNS_T_A), -1, "no room");
}

static void test_ptr_name(void)
{
    char out[80];
    static const unsigned char v4[4] = {192, 0, 2, 1};
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0, 0, 0, 0, 0, 0, 0, 0x1};

    T_CHECK(dns_ptr_name(v4, 0, out, sizeof out) == 0, "v4 ptr name");
    T_EQ_STR(out, "1.2.0.192.in-addr.arpa", "in-addr.arpa");
    T_CHECK(dns_ptr_name(v6, 1, out, sizeof out) == 0, "v6 ptr name");
    T_EQ_STR(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
             "ip6.arpa nibbles (RFC 3596 §2.5)");
    T_EQ_INT(dns_ptr_name(v6, 1, out, 40), -1, "no room");
}

int main(void)
{
    test_server();
    test_sort();
    test_answers();
    test_rcodes();
    test_names();
    test_cname();
    test_txt_mx_ptr();
    test_build();
    test_ptr_name();
    return T_DONE();
}

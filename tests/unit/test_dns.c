/* test_dns: YUBIN_RESOLVER parsing and MX ordering (the lookups run against dnsmasq in
   tests/integration/test_remote.py) */
#include "dns.h"
#include "t.h"

#include <arpa/inet.h>

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

int main(void)
{
    test_server();
    test_sort();
    return T_DONE();
}

/* fuzz_dns: dns_parse, dns_match and dns_truncated on an arbitrary reply to "a.test" (the first
   octet picks the asked type), and dns_build on the input as a name */
#include "dns.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum dns_type types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT, DNS_T_PTR,
                                          DNS_T_CNAME};
    static struct dns_answer ans;
    unsigned char q[DNS_QUERY_MAX];
    char name[DNS_TEXT_MAX + 8];
    enum dns_type t;
    size_t i;

    if (size < 1 || size > DNS_ANSWER_MAX + 1) {
        return 0;
    }
    t = types[data[0] % (sizeof types / sizeof types[0])];
    dns_match(data + 1, size - 1, 0x1234, "a.test", t);
    dns_truncated(data + 1, size - 1);
    if (dns_parse(data + 1, size - 1, "a.test", t, &ans) == DNS_FOUND) {
        if (ans.n == 0 || ans.n > (t == DNS_T_TXT ? DNS_TXT_MAX : DNS_RR_MAX)
            || ans.textlen > size) {
            __builtin_trap();
        }
        for (i = 0; i < ans.n; i++) {
            if (t == DNS_T_TXT ? (size_t)ans.txt[i].off + ans.txt[i].len > ans.textlen
                               : strlen(ans.rr[i].name) > DNS_TEXT_MAX) {
                __builtin_trap();
            }
        }
    }
    if (size - 1 < sizeof name) {
        memcpy(name, data + 1, size - 1);
        name[size - 1] = '\0';
        dns_build(q, sizeof q, 1, name, t);
    }
    return 0;
}

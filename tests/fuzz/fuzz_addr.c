/* fuzz_addr: the SMTP path parser and the map address check on arbitrary bytes */
#include "addr.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct addr a;
    size_t used = 0;
    const char *s = (const char *)data;
    if (addr_parse_path(s, size, &a, &used) == ADDR_OK) {
        /* invariants: consumed through '>', the address fits and has no NUL */
        if (used == 0 || used > size || s[used - 1] != '>' || a.len > ADDR_MAX
            || strlen(a.s) != a.len || a.at > a.len) {
            __builtin_trap();
        }
    }
    (void)addr_map_ok(s, size);
    (void)addr_domain_ok(s, size, 1);
    return 0;
}

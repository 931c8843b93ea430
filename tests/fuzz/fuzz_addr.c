/* fuzz_addr: the SMTP path parser, its A-label conversion, the map address check and the
   typed-address and login forms on arbitrary bytes */
#include "addr.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct addr a;
    size_t used = 0, n;
    const char *s = (const char *)data;
    char out[AUTH_FIELD_MAX + 1], typed[ADDR_TYPED_MAX + 1];
    if (addr_parse_path(s, size, &a, &used) == ADDR_OK) {
        /* invariants: consumed through '>', the address fits and has no NUL */
        if (used == 0 || used > size || s[used - 1] != '>' || a.len > ADDR_MAX
            || strlen(a.s) != a.len || a.at > a.len) {
            __builtin_trap();
        }
        /* converted, it is still one address that fits, with its '@' where it says */
        if (addr_domain_to_ascii(&a) == 0
            && (a.len > ADDR_MAX || strlen(a.s) != a.len || (a.at < a.len && a.s[a.at] != '@'))) {
            __builtin_trap();
        }
    }
    /* a login's or a typed address's form is always a map address */
    n = addr_login_form(s, size, out, sizeof out);
    if (n > 0 && (n != strlen(out) || !addr_map_ok(out, n))) {
        __builtin_trap();
    }
    if (size <= ADDR_TYPED_MAX && !memchr(s, '\0', size)) {
        memcpy(typed, s, size);
        typed[size] = '\0';
        if (addr_map_form(typed, out, sizeof out) && !addr_map_ok(out, strlen(out))) {
            __builtin_trap();
        }
    }
    (void)addr_map_ok(s, size);
    (void)addr_domain_ok(s, size, 1);
    return 0;
}

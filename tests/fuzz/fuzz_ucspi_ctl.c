/* fuzz_ucspi_ctl: the UCSPI-TLS control channel decoder (lib/ucspi.c) on arbitrary bytes:
   bounds of what it consumes, the content of what it accepts, and build/parse round trips */
#include "ucspi.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *v)
{
    size_t i, n = strlen(v);
    if (n > UCSPI_VALUE_MAX) {
        __builtin_trap();
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct ucspi_info info, again;
    char rep[UCSPI_INFO_MAX];
    size_t used = (size_t)-1, used2, i;
    int r;
    long n;

    if (size > 0) {
        r = ucspi_start_byte(data[0]);
        if (r != -1 && data[0] != 'Y' && data[0] != 'y' && data[0] != '?') {
            __builtin_trap();
        }
    }
    r = ucspi_info_parse(s, size, &info, &used);
    if (r < -1 || r > 1) {
        __builtin_trap();
    }
    if (r != 1) {
        return 0;
    }
    if (used == 0 || used > size || used > UCSPI_INFO_MAX || s[used - 1] != '\0') {
        __builtin_trap();
    }
    check_value(info.protocol);
    check_value(info.cipher);
    check_value(info.sni);
    /* every strict prefix of an accepted report is incomplete, never malformed */
    for (i = 0; i < used && i < 64; i++) {
        if (ucspi_info_parse(s, i, &again, &used2) != 0) {
            __builtin_trap();
        }
    }
    n = ucspi_info_build(&info, rep, sizeof rep);
    if (n < 0) {
        return 0;
    }
    if (ucspi_info_parse(rep, (size_t)n, &again, &used2) != 1 || used2 != (size_t)n
        || strcmp(again.protocol, info.protocol) != 0 || strcmp(again.cipher, info.cipher) != 0
        || strcmp(again.sni, info.sni) != 0) {
        __builtin_trap();
    }
    return 0;
}

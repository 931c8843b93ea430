/* fuzz_signcall: dkim-sign's answer as its callers take it (first octet: the exit code) */
#include "queue/signcall.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct signcall s;
    int code;
    if (size == 0) {
        return 0;
    }
    code = data[0] % 8 == 7 ? 111 : data[0] % 8;
    if (signcall_answer(code, (const char *)data + 1, size - 1, &s) == 0) {
        /* what the callers use is within its bounds and terminated */
        if (strlen(s.domain) >= sizeof s.domain || strlen(s.sel) >= sizeof s.sel
            || s.len > DKIM_SIG_MAX || (code == 0 && (s.len == 0 || s.field[s.len] != '\0'
                                                      || s.field[s.len - 1] != '\n'
                                                      || !s.domain[0] || !s.sel[0]))
            || (code != 0 && s.len != 0)) {
            __builtin_trap();
        }
    }
    return 0;
}

/* fuzz_idna: U-labels to A-labels, and the full-width folding of logins, on arbitrary bytes */
#include "idna.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[256], again[256], folded[1024];
    int r = idna_to_ascii((const char *)data, size, out, sizeof out);
    int f = idna_fold_fullwidth((const char *)data, size, folded, sizeof folded);
    size_t i, label = 0;

    /* folding only shortens, leaves no NUL inside, and is done once for all */
    if (f >= 0 && ((size_t)f > size || strlen(folded) != (size_t)f)) {
        __builtin_trap();
    }
    if (f >= 0 && (size_t)f < sizeof again
        && (idna_fold_fullwidth(folded, (size_t)f, again, sizeof again) != f
            || strcmp(folded, again) != 0)) {
        __builtin_trap();
    }

    if (r < 0) {
        return 0;
    }
    /* invariants: LDH ASCII, no empty label, labels <= 63, the name <= 253, NUL-terminated at r;
       and an A-label name converts to itself */
    if (r > 253 || strlen(out) != (size_t)r) {
        __builtin_trap();
    }
    for (i = 0; i <= (size_t)r; i++) {
        if (i == (size_t)r || out[i] == '.') {
            if (label == 0 || label > IDNA_LABEL_MAX) {
                __builtin_trap();
            }
            label = 0;
            continue;
        }
        /* letters, digits, hyphens only (STD3 rules): no '@' or '>' into an SMTP path */
        if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= '0' && out[i] <= '9')
              || out[i] == '-')) {
            __builtin_trap();
        }
        label++;
    }
    if (idna_to_ascii(out, (size_t)r, again, sizeof again) != r || strcmp(out, again) != 0) {
        __builtin_trap();
    }
    return 0;
}

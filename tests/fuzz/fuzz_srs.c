/* fuzz_srs: the SRS decoder (and the encoder on what it decodes) on arbitrary local parts */
#include "srs.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct srs_keys k = {.n = 1, .len = {6}, .s = {"s3cret"}};
    char out[ADDR_MAX + 1], again[ADDR_MAX + 1];
    enum srs_result r = srs_reverse(&k, (const char *)data, size, 1796256000, 21, out, sizeof out);
    if (r == SRS_OK) {
        /* a decoded address fits and has a domain; forwarding it again must fit or say E2BIG */
        if (strlen(out) > ADDR_MAX || !strchr(out, '@')) {
            __builtin_trap();
        }
        (void)srs_forward(&k, out, "mx.example.jp", 1796256000, again, sizeof again);
    }
    return 0;
}

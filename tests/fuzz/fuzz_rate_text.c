/* fuzz_rate_text: another node's sending counters as ratesync reads them from etcd
   (lib/rate rate_parse_text), then summed and written back as text */
#include "rate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rate_rec r, sum;
    char text[RATE_TEXT_MAX];
    char *s = malloc(size + 1);
    if (!s) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (rate_parse_text(s, &r) == 0) {
        sum = r;
        rate_merge(&sum, &r);
        rate_recent(&sum, 1700000000ULL, rate_window(&sum));
        rate_day(&sum, 1700000000ULL);
        if (rate_text(&sum, 1700000000ULL, text, sizeof text) < 0) {
            abort();    /* RATE_TEXT_MAX holds every record */
        }
    }
    free(s);
    return 0;
}

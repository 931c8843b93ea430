/* fuzz_smtp_data: libFuzzer target for the DATA state machine (dot-unstuffing, CRLF only) */
#include "smtpd/smtp_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first octet picks the chunk size, so chunk boundaries fall everywhere. The whole input
   fed at once and in chunks must give the same result and the same stored message. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_data whole, chunked;
    size_t step, off = 0, ol = 0, used = 0, total = 0;
    char *out1, *out2;
    enum smtp_dres r1, r2 = DATA_MORE;

    if (size < 1) {
        return 0;
    }
    step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    out1 = malloc(size + 1);
    out2 = malloc(size + 1);
    if (!out1 || !out2) {
        abort();
    }
    smtp_data_init(&whole);
    r1 = smtp_data_feed(&whole, (const char *)data, size, out1, &ol, &used);
    if (ol > used || used > size || memchr(out1, '\r', ol)) {
        abort();
    }
    if (r1 == DATA_END && (used < 3 || memcmp(data + used - 3, ".\r\n", 3) != 0)) {
        abort();
    }
    smtp_data_init(&chunked);
    while (off < size) {
        size_t k = size - off < step ? size - off : step, o = 0, u = 0;
        r2 = smtp_data_feed(&chunked, (const char *)data + off, k, out2 + total, &o, &u);
        if (o > u || u > k) {
            abort();
        }
        total += o;
        off += u;
        if (r2 != DATA_MORE) {
            break;
        }
    }
    if (r1 != r2 || (r1 != DATA_MORE && off != used) || total != ol
        || memcmp(out1, out2, ol) != 0 || whole.size != chunked.size) {
        abort();
    }
    free(out1);
    free(out2);
    return 0;
}

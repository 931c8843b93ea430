/* fuzz_msghdr: deliver's header scan (and the maildirsize parser) on arbitrary bytes. The scan
   must give the same answer whatever the pieces the message arrives in. */
#include "deliver/msghdr.h"
#include "quota/quota.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void scan(struct msghdr *h, const char *p, size_t n, size_t step)
{
    size_t i;
    msghdr_init(h, "demo@example.test");
    for (i = 0; i < n; i += step) {
        msghdr_feed(h, p + i, n - i < step ? n - i : step);
    }
    msghdr_finish(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msghdr whole, pieces;
    uint64_t limit, fsize;
    int64_t bytes, count;
    size_t lines, step;
    char name[256];

    if (size == 0) {
        return 0;
    }
    step = (size_t)data[0] % 17 + 1;
    scan(&whole, (const char *)data + 1, size - 1, size);
    scan(&pieces, (const char *)data + 1, size - 1, step);
    if (whole.received != pieces.received || whole.delivered_to != pieces.delivered_to
        || msghdr_looping(&whole) != msghdr_looping(&pieces)) {
        abort();
    }
    if (quota_parse((const char *)data, size, &limit, &bytes, &count, &lines) == 0
        && lines > size) {
        abort();
    }
    if (size < sizeof name) {
        memcpy(name, data, size);
        name[size] = '\0';
        quota_name_size(name, &fsize);
    }
    return 0;
}

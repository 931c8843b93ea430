/* fuzz_qdown: the parser of queue/down (queue/qdown.c) on arbitrary bytes. What it accepts
   formats back to a file that parses to the same marks. */
#include "queue/qdown.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct qdown *a, const struct qdown *b)
{
    return strcmp(a->domain, b->domain) == 0 && a->since == b->since && a->until == b->until
           && a->rounds == b->rounds && strcmp(a->why, b->why) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qdown *d = malloc(QUEUE_DOWN_MAX * sizeof *d), *e = malloc(QUEUE_DOWN_MAX * sizeof *e);
    char *out = malloc(QDOWN_FILE_MAX);
    size_t n, m, k, len;

    if (!d || !e || !out) {
        abort();
    }
    /* now 0: nothing is stale, every accepted line is a mark */
    if (qdown_parse((const char *)data, size, 0, d, QUEUE_DOWN_MAX, &n) == 0) {
        if (n > QUEUE_DOWN_MAX) {
            abort();
        }
        len = qdown_format(d, n, out, QDOWN_FILE_MAX);
        if (len > QDOWN_FILE_MAX || qdown_parse(out, len, 0, e, QUEUE_DOWN_MAX, &m) < 0
            || m != n) {
            abort();
        }
        for (k = 0; k < n; k++) {
            if (!same(&d[k], &e[k])) {
                abort();
            }
        }
    }
    free(d);
    free(e);
    free(out);
    return 0;
}

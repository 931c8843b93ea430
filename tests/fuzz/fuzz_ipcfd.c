/* fuzz_ipcfd: lib/ipcfd's request decoder on arbitrary bytes. Whatever it accepts must be
   within the bounds and encode back to exactly the same bytes. */
#include "ipcfd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipcfd_req r;
    char out[IPCFD_REQ_MAX];
    int n;

    if (ipcfd_decode(&r, (const char *)data, size) != 1) {
        return 0;
    }
    if (r.argc == 0 || r.argc > IPCFD_ARGS_MAX || r.argv[r.argc] != NULL || !r.argv[0][0]) {
        abort();
    }
    n = ipcfd_encode(out, sizeof out, (const char *const *)r.argv);
    if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0) {
        abort();
    }
    return 0;
}

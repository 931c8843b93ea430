/* fuzz_authreq.c: libFuzzer target for authd's request decoder, checkpw's input decoder and
   the fleet's internal POP3 request line (fleetreq_parse) */
#include "authd/authreq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_inside(const char *buf, size_t n, const char *p, size_t len)
{
    if (p < buf || p + len >= buf + n || p[len] != '\0' || memchr(p, '\0', len)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size octets, so ASan catches any read past the end */
    char *buf = malloc(size ? size : 1);
    struct authreq r;
    struct checkpw_input in;
    struct fleetreq fr;
    char safe[64];
    int mode;

    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    if (authreq_parse(buf, size, &r) == AUTHREQ_OK) {
        check_inside(buf, size, r.login, r.loginlen);
        check_inside(buf, size, r.password, r.passlen);
        if (r.loginlen == 0 || r.loginlen > AUTH_FIELD_MAX || r.passlen == 0
            || r.passlen > AUTH_FIELD_MAX || size > AUTH_REQ_MAX) {
            abort();
        }
        authreq_logsafe(r.login, r.loginlen, safe, sizeof safe);
    }
    for (mode = 0; mode < 2; mode++) {
        if (checkpw_parse(buf, size, mode, &in) == 0) {
            check_inside(buf, size, in.login, in.loginlen);
            check_inside(buf, size, in.password, in.passlen);
            if (mode && (in.pending + in.pendinglen != buf + size
                         || in.pendinglen > POP3_PENDING_MAX)) {
                abort();
            }
        }
    }
    if (fleetreq_parse(buf, size, &fr) == 0
        && (size > FLEETREQ_MAX || strlen(fr.hex) % 2 || strlen(fr.hex) > FLEETREQ_HEX_MAX
            || fr.user[0] == '\0' || (fr.kind == FLEETREQ_GRANT && fr.ip[0] == '\0'))) {
        abort();
    }
    free(buf);
    return 0;
}

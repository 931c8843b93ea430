/* fuzz_webparse.c: libFuzzer target for the member page's query/form, cookie and Autodiscover
   parsers, its escaper, and the administrator's files (request records, etc/webadmins,
   etc/holidays: web/apply.h) */
#include "web/apply.h"
#include "web/webparse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *out, size_t cap, size_t len)
{
    size_t i;
    if (len >= cap || out[len] != '\0' || strlen(out) != len) {
        abort();
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size octets, so ASan catches any read past the end */
    char *in = malloc(size ? size : 1), out[WEB_FIELD_MAX];
    static const char *const keys[] = { "addr", "password", "csrf", "emailaddress", "a" };
    struct buf b;
    size_t k, len;

    if (!in) {
        return 0;
    }
    memcpy(in, data, size);
    for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (web_form_get(in, size, keys[k], out, sizeof out, &len) == 1) {
            check_value(out, sizeof out, len);
        }
        if (web_cookie_get(in, size, keys[k], out, sizeof out) == 1 && strlen(out) >= sizeof out) {
            abort();
        }
    }
    if (web_autodiscover_email(in, size, out, sizeof out) == 1) {
        check_value(out, sizeof out, strlen(out));
        if (strchr(out, '<') || strchr(out, '&')) {
            abort();
        }
    }
    buf_init(&b, 8 * size + 16);
    if (web_escape(&b, in, size) < 0 || (b.len && (memchr(b.s, '<', b.len)
                                                   || memchr(b.s, '"', b.len)))) {
        abort();
    }
    buf_free(&b);
    {
        struct application a;
        struct webadmin w;
        struct tm t;
        char due[APPLY_DATE_LEN + 1];
        if (apply_parse(in, size, &a) == 1) {
            /* what parses renders back to the same record */
            struct buf r;
            struct application a2;
            buf_init(&r, APPLY_RECORD_MAX * 2);
            if (!apply_id_ok(a.id) || apply_format(&a, &r) < 0
                || apply_parse(r.s, r.len, &a2) != 1 || memcmp(&a, &a2, sizeof a) != 0) {
                abort();
            }
            buf_free(&r);
        }
        if (apply_admin_find(in, size, "shop.test", &w) == 1
            && (strcmp(w.domain, "shop.test") != 0 || !w.hash[0])) {
            abort();
        }
        memset(&t, 0, sizeof t);
        t.tm_year = 126;
        t.tm_mon = 11;
        t.tm_mday = 4;
        t.tm_hour = 15;
        if (apply_due(&t, in, size, due) == 0 && strlen(due) != APPLY_DATE_LEN) {
            abort();
        }
    }
    free(in);
    return 0;
}

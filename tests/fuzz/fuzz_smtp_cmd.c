/* fuzz_smtp_cmd: libFuzzer target for SMTP command lines, MAIL/RCPT parameters, AUTH PLAIN */
#include "smtpd/smtp_parse.h"
#include "fleethome.h"
#include "lineio.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *s, size_t n)
{
    struct smtp_cmd c;
    struct smtp_mailcmd m;
    struct addr a;
    uint64_t epoch;
    const char *u, *p;
    size_t ul, pl;
    char clean[64];

    if (smtp_cmd_parse(s, n, &c) == 0) {
        if (c.arg < s || c.arg + c.arglen > s + n) {
            abort();
        }
        if (smtp_parse_mail(c.arg, c.arglen, &m) == PARSE_OK && m.path.len > ADDR_MAX) {
            abort();
        }
        if (smtp_parse_rcpt(c.arg, c.arglen, &a) == PARSE_OK
            && (a.len > ADDR_MAX || a.s[a.len] != '\0')) {
            abort();
        }
        if (smtp_parse_rcpt_fleet(c.arg, c.arglen, &a, &epoch) == PARSE_OK
            && (a.len > ADDR_MAX || epoch > FLEET_EPOCH_MAX)) {
            abort();
        }
        (void)smtp_verb_name(c.verb);
    }
    if (smtp_plain_split(s, n, &u, &ul, &p, &pl) == 0
        && (ul == 0 || pl == 0 || u + ul > s + n || p + pl > s + n)) {
        abort();
    }
    smtp_sanitize(s, n, clean, sizeof clean);
    if (strlen(clean) >= sizeof clean) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t off = 0, len;
    one_line(s, size);
    while (off < size) {
        enum lineio_res r = lineio_find_crlf(s + off, size - off, &len);
        if (r != LINEIO_OK) {
            break;
        }
        if (off + len + 2 > size || s[off + len] != '\r' || s[off + len + 1] != '\n') {
            abort();
        }
        one_line(s + off, len);
        off += len + 2;
    }
    return 0;
}

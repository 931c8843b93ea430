/* fuzz_envelope: queue-inject's envelope parser, the message-file header parser and the
   state-log line parser on arbitrary bytes. Whatever they accept must round-trip: a parsed
   envelope formats to a header that parses back to the same envelope. */
#include "queue/qfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(struct qenv *e)
{
    struct qenv d;
    char *h;
    size_t hn, body, i;

    if (qenv_format_header(e, &h, &hn) < 0) {
        abort();    /* everything the parser accepted must be storable */
    }
    qenv_init(&d);
    if (qenv_parse_header(h, hn, &d, &body) < 0 || body != hn || d.nrcpt != e->nrcpt
        || strcmp(d.sender, e->sender) != 0) {
        abort();
    }
    for (i = 0; i < d.nrcpt; i++) {
        if (strcmp(d.rcpt[i], e->rcpt[i]) != 0 || memchr(d.rcpt[i], '\n', strlen(d.rcpt[i]))) {
            abort();
        }
    }
    qenv_free(&d);
    free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct qenv e;
    struct qline l;
    size_t used, body;
    int r;

    qenv_init(&e);
    r = qenv_parse_envelope(p, size, &e, &used);
    if (r == 1) {
        if (used > size || e.nrcpt == 0) {
            abort();
        }
        e.arrival = 1764355200;
        roundtrip(&e);
    }
    if (qenv_parse_header(p, size, &e, &body) == 0) {
        if (body > size) {
            abort();
        }
        e.arrival = 1764355200;
        roundtrip(&e);
    }
    qenv_free(&e);
    if (qstate_parse_line(p, size, &l) == 0 && l.kind == QL_RCPT
        && (l.text < p || l.text + l.text_len > p + size)) {
        abort();
    }
    return 0;
}

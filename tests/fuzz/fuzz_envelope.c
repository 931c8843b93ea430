/* fuzz_envelope: queue-inject's envelope parser (lib/envelope through qenv_parse_envelope),
   the message-file header parser and the state-log line parser on arbitrary bytes. Whatever
   they accept must round-trip: a parsed envelope encodes (envelope_encode_as, as smtpd sends
   it, with the account of the optional "A" record) to exactly the octets consumed, and formats
   to a header that parses back to it. */
#include "queue/qfile.h"
#include "envelope.h"

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

/* The account of the "A" record, if the envelope starts with one (the queue file has none). */
static void account_of(const char *p, size_t used, char *out)
{
    out[0] = '\0';
    if (used > 0 && p[0] == 'A') {
        size_t n = strlen(p + 1);
        if (n == 0 || n > ADDR_MAX) {
            abort();    /* the decoder refuses an empty or over-long account */
        }
        memcpy(out, p + 1, n + 1);
    }
}

/* smtpd's side: the same sender and recipients encode to the very octets decoded. */
static void wire_roundtrip(const struct qenv *e, const char *p, size_t used)
{
    struct buf rcpts, wire;
    char account[ADDR_MAX + 1];
    size_t i;

    buf_init(&rcpts, ENVELOPE_MAX);
    buf_init(&wire, ENVELOPE_MAX);
    for (i = 0; i < e->nrcpt; i++) {
        if (buf_append(&rcpts, e->rcpt[i], strlen(e->rcpt[i]) + 1) < 0) {
            abort();
        }
    }
    account_of(p, used, account);
    if (envelope_encode_as(&wire, account, e->sender, rcpts.s, rcpts.len) < 0 || wire.len != used
        || memcmp(wire.s, p, used) != 0) {
        abort();
    }
    buf_free(&rcpts);
    buf_free(&wire);
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
        wire_roundtrip(&e, p, used);
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

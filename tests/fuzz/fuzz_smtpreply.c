/* fuzz_smtpreply: the remote reply parser, EHLO keywords and DATA encoding on hostile bytes */
#include "queue/smtpreply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const char *p, size_t n, size_t step)
{
    static struct smtpreply r;
    char q[SMTPREPLY_QUOTE_MAX], st[SMTPREPLY_STATUS_MAX];
    size_t off = 0, used, i;
    int d = 0;

    smtpreply_init(&r);
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        d = smtpreply_feed(&r, p + off, k, &used);
        if (used > k) {
            abort();
        }
        off += used;
        if (d == 1) {
            struct ehlo_caps c;
            if (r.code < 200 || r.code > 599 || r.textlen > SMTPREPLY_TEXT_MAX ||
                strlen(r.text) != r.textlen) {
                abort();
            }
            smtpreply_quote(&r, q, sizeof q);
            for (i = 0; q[i]; i++) {
                if ((unsigned char)q[i] < 0x20 || (unsigned char)q[i] >= 0x7f) {
                    abort();
                }
            }
            if (i >= sizeof q) {
                abort();
            }
            smtpreply_status(&r, st, sizeof st);
            if (strlen(st) < 5 || st[0] - '0' != r.code / 100) {
                abort();
            }
            ehlo_parse(&r, &c);
            smtpreply_init(&r);
        } else if (d < 0) {
            break;
        }
    }
}

static void check_data(const char *p, size_t n)
{
    struct data_enc e;
    char out[64];
    size_t i = 0, k, j, total = 0;
    char prev = '\n';

    data_enc_init(&e);
    while (i < n) {
        i += data_enc_run(&e, p + i, n - i, out, sizeof out, &k);
        for (j = 0; j < k; j++) {
            /* CRLF only: no bare CR, no bare LF */
            if (out[j] == '\n' && prev != '\r') {
                abort();
            }
            if (prev == '\r' && out[j] != '\n') {
                abort();
            }
            prev = out[j];
        }
        total += k;
    }
    k = data_enc_finish(&e, out, sizeof out);
    total += k;
    if (total != data_enc_size(p, n) + 3) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t step = size ? (size_t)data[0] % 17 + 1 : 1;

    check_reply(p, size, step);
    check_reply(p, size, size ? size : 1);
    check_data(p, size);
    return 0;
}

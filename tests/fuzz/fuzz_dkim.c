/* fuzz_dkim: the DKIM header code of lib/dkim (the tag-list and DKIM-Signature parser, the From
   domain, header fields and their selection, relaxed canonicalization) on arbitrary bytes.
   Whatever is parsed points into the input; the body canonicalizes the same in any pieces;
   canonical output has no bare CR or LF and no WSP run. */
#include "buf.h"
#include "dkim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void collect(void *ctx, const char *p, size_t n)
{
    if (buf_append(ctx, p, n) < 0) {
        abort();
    }
}

static void body(struct buf *out, const char *p, size_t n, size_t step)
{
    struct dkim_body b;
    size_t i;
    dkim_body_init(&b, collect, out);
    for (i = 0; i < n; i += step) {
        dkim_body_update(&b, p + i, n - i < step ? n - i : step);
    }
    dkim_body_final(&b);
}

static void check_tags(const char *p, size_t n)
{
    struct dkim_tags t;
    struct dkim_sig s;
    size_t i;
    if (dkim_tags_parse(p, n, &t) == 0) {
        for (i = 0; i < t.n; i++) {
            if (t.t[i].name < p || t.t[i].name + t.t[i].namelen > p + n || t.t[i].namelen == 0
                || t.t[i].value < p || t.t[i].value + t.t[i].valuelen > p + n) {
                abort();
            }
        }
    }
    if (dkim_sig_parse(p, n, &s) == 0) {
        if (s.nh == 0 || s.nh > DKIM_HNAMES_MAX || !s.d[0] || !s.s[0] || !s.bh[0]) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct dkim_field f[64];
    struct buf a, b;
    char dom[SMTP_DOMAIN_MAX + 1];
    size_t hlen, off, i;
    long nf;

    check_tags(p, size);
    if (dkim_from_domain(p, size, dom, sizeof dom) == 1 && (!dom[0] || strlen(dom) > 255)) {
        abort();
    }
    dkim_header_end(p, size, &hlen, &off);
    if (hlen > size || off > size || off < hlen) {
        abort();
    }
    nf = dkim_fields(p, hlen, f, 64);
    buf_init(&a, 4 * size + 64);
    for (i = 0; nf > 0 && i < (size_t)nf; i++) {
        if (f[i].off + f[i].len > hlen || f[i].namelen > f[i].len) {
            abort();
        }
        buf_reset(&a);
        dkim_canon_header(p + f[i].off, f[i].len, 1, collect, &a);
        if (a.len < 2 || memchr(a.s, '\n', a.len - 1) || strstr(a.s, "  ")) {
            abort();
        }
    }
    if (nf > 0 && dkim_select(p, f, (size_t)nf, "from", 0) >= nf) {
        abort();
    }
    buf_reset(&a);
    buf_init(&b, 4 * size + 64);
    body(&a, p + off, size - off, size - off + 1);
    body(&b, p + off, size - off, 3);
    if (a.len != b.len || (a.len && memcmp(a.s, b.s, a.len) != 0)) {
        abort();
    }
    buf_free(&a);
    buf_free(&b);
    return 0;
}

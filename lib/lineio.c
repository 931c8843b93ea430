/* lineio.c: line finding, the pipelined input walk and the reply buffer of the front ends */
#include "lineio.h"

#include <stdio.h>
#include <string.h>

enum lineio_res lineio_find_crlf(const char *s, size_t n, size_t *len)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == '\n') {
            /* an LF not preceded by CR; a CR before it is checked below on its own turn */
            return LINEIO_BARE;
        }
        if (s[i] == '\r') {
            if (i + 1 >= n) {
                return LINEIO_PARTIAL;
            }
            if (s[i + 1] != '\n') {
                return LINEIO_BARE;
            }
            *len = i;
            return LINEIO_OK;
        }
    }
    return LINEIO_PARTIAL;
}

enum lineio_res lineio_find_lf(const char *s, size_t n, size_t max, size_t *len, size_t *used)
{
    const char *lf = memchr(s, '\n', n < max ? n : max);
    size_t k;
    if (!lf) {
        return n >= max ? LINEIO_LONG : LINEIO_PARTIAL;
    }
    k = (size_t)(lf - s);
    *used = k + 1;
    if (k > 0 && s[k - 1] == '\r') {
        k--;
    }
    *len = k;
    return LINEIO_OK;
}

void lineio_in_init(struct lineio_in *in, char *buf, size_t cap)
{
    in->buf = buf;
    in->cap = cap;
    in->len = in->off = 0;
    in->draining = 0;
}

enum lineio_res lineio_next(struct lineio_in *in, size_t max, const char **line, size_t *len)
{
    for (;;) {
        const char *s = in->buf + in->off;
        size_t n = in->len - in->off, used = 0;
        enum lineio_res r;

        if (n == 0) {
            in->len = in->off = 0;
            return LINEIO_PARTIAL;
        }
        /* while draining, any length is fine: only the LF matters */
        r = lineio_find_lf(s, n, in->draining ? n + 1 : max, len, &used);
        if (r == LINEIO_PARTIAL) {
            if (in->draining) {
                in->off = in->len;
            }
            memmove(in->buf, in->buf + in->off, in->len - in->off);
            in->len -= in->off;
            in->off = 0;
            return LINEIO_PARTIAL;
        }
        if (r == LINEIO_LONG) {
            const char *lf = memchr(s, '\n', n);
            if (lf) {
                in->off += (size_t)(lf - s) + 1;
            } else {
                in->draining = 1;
                in->off = in->len;
            }
            return LINEIO_LONG;
        }
        in->off += used;
        if (in->draining) {
            in->draining = 0;       /* the tail of an over-long line */
            continue;
        }
        *line = s;
        return LINEIO_OK;
    }
}

char *lineio_in_space(struct lineio_in *in, size_t *room)
{
    *room = in->cap - in->len;
    return in->buf + in->len;
}

void lineio_in_got(struct lineio_in *in, size_t n)
{
    in->len += n;
}

const char *lineio_in_rest(const struct lineio_in *in, size_t *n)
{
    *n = in->len - in->off;
    return in->buf + in->off;
}

void lineio_in_clear(struct lineio_in *in)
{
    in->len = in->off = 0;
    in->draining = 0;
}

void lineio_out_init(struct lineio_out *o, char *buf, size_t cap,
                     int (*sink)(void *ctx, const char *p, size_t n), void *ctx)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->sink = sink;
    o->ctx = ctx;
}

int lineio_flush(struct lineio_out *o)
{
    int r;
    if (o->len == 0) {
        return 0;
    }
    r = o->sink(o->ctx, o->buf, o->len);
    o->len = 0;
    return r < 0 ? -1 : 0;
}

int lineio_room(struct lineio_out *o, size_t need)
{
    return o->cap - o->len < need ? lineio_flush(o) : 0;
}

int lineio_put(struct lineio_out *o, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        size_t k = o->cap - o->len;
        if (k == 0) {
            if (o->cap == 0) {      /* no buffer (yet): straight to the sink */
                return o->sink && o->sink(o->ctx, c, n) == 0 ? 0 : -1;
            }
            if (lineio_flush(o) < 0) {
                return -1;
            }
            continue;
        }
        if (k > n) {
            k = n;
        }
        memcpy(o->buf + o->len, c, k);
        o->len += k;
        c += k;
        n -= k;
    }
    return 0;
}

size_t lineio_vformat(char *line, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(line, cap - 2, fmt, ap);
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n > cap - 3) {
        n = (int)(cap - 3);
    }
    memcpy(line + n, "\r\n", 3);
    return (size_t)n + 2;
}

int lineio_reply(struct lineio_out *o, size_t max, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    size_t n;
    if (max > sizeof line) {
        max = sizeof line;
    }
    va_start(ap, fmt);
    n = lineio_vformat(line, max, fmt, ap);
    va_end(ap);
    return lineio_put(o, line, n);
}

/* buf.c: bounded byte buffers */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->s = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int buf_reserve(struct buf *b, size_t need)
{
    size_t cap;
    char *s;

    if (need > b->max) {
        errno = E2BIG;
        return -1;
    }
    if (need <= b->cap && b->s) {
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = (cap > b->max / 2) ? b->max : cap * 2;
    }
    s = realloc(b->s, cap + 1);
    if (!s) {
        errno = ENOMEM;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > b->max - b->len) {
        errno = E2BIG;
        return -1;
    }
    if (buf_reserve(b, b->len + n) < 0) {
        return -1;
    }
    if (n) {
        memcpy(b->s + b->len, p, n);
    }
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((size_t)n > b->max - b->len) {
        errno = E2BIG;
        return -1;
    }
    if (buf_reserve(b, b->len + (size_t)n) < 0) {
        return -1;
    }
    room = b->cap - b->len + 1;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, room, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->s, b->s + n, b->len - n);
        b->len -= n;
    }
    if (b->s) {
        b->s[b->len] = '\0';
    }
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->s) {
        b->s[0] = '\0';
    }
}

void buf_wipe(struct buf *b)
{
    if (b->s) {
        explicit_bzero(b->s, b->cap + 1);
    }
    buf_free(b);
}

void buf_free(struct buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = 0;
    b->cap = 0;
}

int buf_grow_array(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
{
    void *p;
    size_t nc;
    if (n < *cap) {
        return 0;
    }
    if (n >= max) {
        errno = E2BIG;
        return -1;
    }
    nc = *cap ? *cap * 2 : 64;
    if (nc > max) {
        nc = max;
    }
    p = realloc(*arr, nc * elem);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    *arr = p;
    *cap = nc;
    return 0;
}

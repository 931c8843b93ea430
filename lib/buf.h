/* buf.h: bounded byte buffers (never past the maximum given at init) and bounded arrays. */
#ifndef YUBIN_BUF_H
#define YUBIN_BUF_H

#include <stddef.h>

struct buf {
    char *s;        /* bytes; always NUL-terminated after s[len] when cap > 0 */
    size_t len;     /* bytes in use */
    size_t cap;     /* bytes allocated (excluding the NUL) */
    size_t max;     /* the buffer refuses to hold more than this */
};

/* Start empty with the given maximum; allocates lazily. */
void buf_init(struct buf *b, size_t max);
/* Append n bytes. 0 ok; -1 with errno E2BIG past max, ENOMEM if allocation fails. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
/* printf-style append; -1 on E2BIG/ENOMEM/EINVAL (the buffer is left unchanged then). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Zero the contents (for secrets), then free. */
void buf_wipe(struct buf *b);
void buf_free(struct buf *b);

/* Make room in *arr (elements of elem bytes, *cap allocated) for element n: doubles the
   array (64 at first) when n reaches *cap. 0 ok; -1 with errno E2BIG when n reaches max,
   ENOMEM when allocation fails (*arr is left as it was). */
int buf_grow_array(void **arr, size_t *cap, size_t n, size_t elem, size_t max);

#endif

/* lineio.h: the line machinery of the SMTP and POP3 front ends (smtpd, pop3-front, pop3d):
   finding one line in pipelined input, walking the lines of an input buffer with over-long
   lines answered and drained, and the bounded reply buffer the answers wait in. Nothing here
   reads a descriptor; lineio_flush writes only through the sink its owner gives. */
#ifndef YUBIN_LINEIO_H
#define YUBIN_LINEIO_H

#include <stdarg.h>
#include <stddef.h>

enum lineio_res {
    LINEIO_OK,          /* a complete line */
    LINEIO_PARTIAL,     /* no line end yet */
    LINEIO_LONG,        /* no line end within the bound: answer it, the rest is drained */
    LINEIO_BARE         /* SMTP: a bare CR or LF (smuggling, RFC 5321 §2.3.8): refuse, close */
};

/* SMTP: the first line of s[0..n), ended by CRLF and nothing else. LINEIO_OK sets *len (the
   octets before CRLF); LINEIO_PARTIAL (a final CR may still get its LF) or LINEIO_BARE. */
enum lineio_res lineio_find_crlf(const char *s, size_t n, size_t *len);

/* POP3: the first line of s[0..n), ended by LF; one CR before it is dropped (RFC 1939 says
   CRLF; a bare LF is tolerated: a POP3 command cannot smuggle mail). max = the longest line
   allowed including its line end. LINEIO_OK sets *len (without the line end) and *used (with
   it); LINEIO_PARTIAL; LINEIO_LONG when no LF comes within max octets. */
enum lineio_res lineio_find_lf(const char *s, size_t n, size_t max, size_t *len, size_t *used);

/* An input buffer of pipelined POP3 commands (RFC 2449 PIPELINING). buf[off..len) is unread. */
struct lineio_in {
    char *buf;
    size_t cap;         /* the bound of the buffer: the longest line plus pipelined ones */
    size_t len, off;
    int draining;       /* discarding an over-long line up to its LF */
};

void lineio_in_init(struct lineio_in *in, char *buf, size_t cap);
/* The next line of in, at most max octets with its line end (lineio_find_lf).
   LINEIO_OK: *line, *len (without the line end; valid until the next call), consumed.
   LINEIO_LONG: an over-long line; the caller answers it. Its octets up to its LF are consumed;
   without an LF yet, everything buffered is dropped and what follows is drained up to the LF.
   LINEIO_PARTIAL: no complete line; the unread octets are moved to the front of buf, so
   lineio_in_space gives the room to read into. */
enum lineio_res lineio_next(struct lineio_in *in, size_t max, const char **line, size_t *len);
/* Where to read more input: *room octets at the returned pointer (0 when full). */
char *lineio_in_space(struct lineio_in *in, size_t *room);
/* n octets were read into the space. */
void lineio_in_got(struct lineio_in *in, size_t n);
/* The unread octets after the current line (*n of them), e.g. to hand on to another program. */
const char *lineio_in_rest(const struct lineio_in *in, size_t *n);
/* Forget everything buffered (STLS: plaintext sent before TLS is never read, CVE-2011-0411). */
void lineio_in_clear(struct lineio_in *in);

/* A reply buffer: answers wait in buf[0..len) until lineio_flush hands them to sink, which
   writes all n octets (0) or fails (-1). */
struct lineio_out {
    char *buf;
    size_t len, cap;
    int (*sink)(void *ctx, const char *p, size_t n);
    void *ctx;
};

void lineio_out_init(struct lineio_out *o, char *buf, size_t cap,
                     int (*sink)(void *ctx, const char *p, size_t n), void *ctx);
/* Hand everything buffered to the sink; the buffer is empty afterwards either way.
   0 ok (or nothing to send), -1 the sink failed. */
int lineio_flush(struct lineio_out *o);
/* Flush first when fewer than need octets are free (need <= cap). 0 ok, -1 the sink failed. */
int lineio_room(struct lineio_out *o, size_t need);
/* Append p[0..n), flushing whenever the buffer is full (with cap 0, straight to the sink;
   with no sink either, -1). 0 ok; -1 the sink failed (the rest is dropped). */
int lineio_put(struct lineio_out *o, const void *p, size_t n);
/* Format one reply line into line[0..cap) (cap >= 3): at most cap - 3 octets of text (longer
   text is cut: RFC 5321 §4.5.3.1.5 and RFC 1939 §3 bound a reply line), then CRLF, then NUL.
   Returns its length with the CRLF. */
size_t lineio_vformat(char *line, size_t cap, const char *fmt, va_list ap);
/* lineio_vformat a line of at most max octets (max <= 1024) and lineio_put it. 0 / -1. */
int lineio_reply(struct lineio_out *o, size_t max, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

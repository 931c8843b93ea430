/* fuzz_pop3_cmd: the POP3 line finder and input walk (lib/lineio), the command parser, AUTH
   PLAIN decoder, POP3_PENDING hex and the byte-stuffed wire form (with its size invariant) on
   arbitrary bytes */
#include "pop3d/maildrop.h"
#include "pop3d/pop3_parse.h"
#include "lineio.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lines(const char *s, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t len = 0, used = 0;
        struct pop3_req r;
        enum lineio_res lt = lineio_find_lf(s + off, n - off, POP3_CMD_MAX, &len, &used);
        if (lt != LINEIO_OK) {
            break;
        }
        if (used == 0 || used > n - off || len >= used || len > POP3_CMD_MAX) {
            __builtin_trap();
        }
        (void)pop3_parse(s + off, len, &r);
        if (r.arg && (r.arg < s + off || r.arg + r.arglen > s + off + len)) {
            __builtin_trap();
        }
        if (r.nnum > 2) {
            __builtin_trap();
        }
        off += used;
    }
}

/* The same bytes through the input walk of pop3-front and pop3d, fed step octets at a time:
   every line it gives lies inside the buffer, within the bound, and holds no LF. */
static void walk(const char *s, size_t n, size_t step)
{
    char buf[POP3_PENDING_MAX];
    struct lineio_in in;
    size_t fed = 0;
    lineio_in_init(&in, buf, sizeof buf);
    for (;;) {
        const char *line;
        size_t len, room;
        char *space;
        enum lineio_res r = lineio_next(&in, POP3_CMD_MAX, &line, &len);
        if (r == LINEIO_OK) {
            if (line < buf || line + len > buf + sizeof buf || len > POP3_CMD_MAX - 1
                || memchr(line, '\n', len)) {
                __builtin_trap();
            }
            continue;
        }
        if (r == LINEIO_LONG) {
            continue;
        }
        if (fed == n) {
            return;
        }
        space = lineio_in_space(&in, &room);
        if (room == 0) {
            __builtin_trap();   /* PARTIAL always leaves room: a full buffer is LONG */
        }
        room = room < step ? room : step;
        room = room < n - fed ? room : n - fed;
        memcpy(space, s + fed, room);
        lineio_in_got(&in, room);
        fed += room;
    }
}

/* The wire form, fed in pieces whose sizes come from the first byte: octets sent minus
   stuffing minus the final ".\r\n" must equal the POP3 size (RFC 1939 §11). */
static void wire(const char *s, size_t n, unsigned step)
{
    char *out = malloc(2 * n + 8);
    struct maildrop_stuff st;
    struct maildrop_count c;
    size_t off = 0, o = 0;
    if (!out) {
        return;
    }
    maildrop_stuff_init(&st, 0, 0);
    maildrop_count_init(&c);
    while (off < n) {
        size_t k = n - off < step ? n - off : step, used;
        o += maildrop_stuff(&st, s + off, k, out + o, &used);
        if (used != k) {
            __builtin_trap();
        }
        maildrop_count_add(&c, s + off, k);
        off += k;
    }
    o += maildrop_stuff_end(&st, out + o);
    if (o - 3 - st.stuffed != maildrop_count_total(&c) || o > 2 * n + 5
        || memcmp(out + o - 3, ".\r\n", 3) != 0) {
        __builtin_trap();
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data + 1;
    char login[AUTH_FIELD_MAX + 1], pass[AUTH_FIELD_MAX + 1], hex[POP3_PENDING_MAX];
    size_t ll, pl;
    if (size < 1) {
        return 0;
    }
    size--;
    switch (data[0] % 4) {
    case 0:
        lines(s, size);
        walk(s, size, (size_t)(data[0] >> 2) + 1);
        break;
    case 1:
        if (pop3_sasl_plain(s, size, login, &ll, pass, &pl) == 0
            && (ll == 0 || ll > AUTH_FIELD_MAX || pl == 0 || pl > AUTH_FIELD_MAX
                || strlen(login) != ll)) {
            __builtin_trap();
        }
        break;
    case 2:
        (void)pop3_hex_decode(s, size, hex, sizeof hex);
        break;
    default:
        wire(s, size, 1u + data[0] / 4);
        break;
    }
    return 0;
}

/* smtpreply.c: parser of remote SMTP replies, EHLO keywords and DATA encoding (no I/O) */
#include "smtpreply.h"
#include "str.h"

#include <string.h>

void smtpreply_init(struct smtpreply *r)
{
    r->code = 0;
    r->lines = 0;
    r->text[0] = '\0';
    r->textlen = 0;
    r->truncated = 0;
    r->err = SMTPREPLY_OK;
    r->linelen = 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Keep printable ASCII; tabs become spaces, other controls vanish, 8-bit bytes become '?'
   so the quoted text stays safe for logs, state files and 7-bit bounces. */
static void text_add(struct smtpreply *r, const char *s, size_t n)
{
    size_t i;

    if (r->lines > 0) {
        if (r->textlen >= SMTPREPLY_TEXT_MAX) {
            r->truncated = 1;
            return;
        }
        r->text[r->textlen++] = '\n';
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t') {
            c = ' ';
        } else if (c < 0x20 || c == 0x7f) {
            continue;
        } else if (c >= 0x80) {
            c = '?';
        }
        if (r->textlen >= SMTPREPLY_TEXT_MAX) {
            r->truncated = 1;
            break;
        }
        r->text[r->textlen++] = (char)c;
    }
    r->text[r->textlen] = '\0';
}

/* One complete line (without LF). 1 reply complete, 0 more lines follow, -1 error. */
static int line_done(struct smtpreply *r)
{
    char *l = r->line;
    size_t n = r->linelen;
    int code, last;

    if (n > 0 && l[n - 1] == '\r') {
        n--;
    }
    /* §4.2: three digits, the first 2-5, the second 0-5 (§4.2.1). */
    if (n < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]) || l[0] < '2' ||
        l[0] > '5' || l[1] > '5') {
        r->err = SMTPREPLY_ESYNTAX;
        return -1;
    }
    if (n == 3 || l[3] == ' ') {
        last = 1;
    } else if (l[3] == '-') {
        last = 0;
    } else {
        r->err = SMTPREPLY_ESYNTAX;
        return -1;
    }
    code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    if (r->lines > 0 && code != r->code) {
        r->err = SMTPREPLY_EMIXED;
        return -1;
    }
    if (r->lines >= SMTPREPLY_LINES_MAX) {
        r->err = SMTPREPLY_ETOOMANY;
        return -1;
    }
    r->code = code;
    text_add(r, l + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0);
    r->lines++;
    r->linelen = 0;
    return last;
}

int smtpreply_feed(struct smtpreply *r, const char *p, size_t n, size_t *used)
{
    size_t i;

    *used = 0;
    if (r->err != SMTPREPLY_OK) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (p[i] == '\n') {
            int d = line_done(r);
            if (d != 0) {
                *used = i + 1;
                return d;
            }
            continue;
        }
        /* room for the LF that must still come: the line incl. CRLF stays <= LINE_MAX */
        if (r->linelen + 1 >= SMTPREPLY_LINE_MAX) {
            r->err = SMTPREPLY_ETOOLONG;
            *used = i;
            return -1;
        }
        r->line[r->linelen++] = p[i];
    }
    *used = n;
    return 0;
}

void smtpreply_status(const struct smtpreply *r, char *out, size_t cap)
{
    const char *t = r->text;
    size_t i = 0, subj = 0, det = 0;

    if (cap < SMTPREPLY_STATUS_MAX) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return;
    }
    if (r->textlen >= 5 && t[0] - '0' == r->code / 100 && (t[0] == '2' || t[0] == '4' ||
        t[0] == '5') && t[1] == '.') {
        for (i = 2; is_digit(t[i]) && subj < 4; i++) {
            subj++;
        }
        if (subj >= 1 && subj <= 3 && t[i] == '.') {
            for (i++; is_digit(t[i]) && det < 4; i++) {
                det++;
            }
            if (det >= 1 && det <= 3 && (t[i] == ' ' || t[i] == '\0' || t[i] == '\n')) {
                memcpy(out, t, i);
                out[i] = '\0';
                return;
            }
        }
    }
    out[0] = (char)('0' + (r->code / 100 >= 2 && r->code / 100 <= 5 ? r->code / 100 : 4));
    memcpy(out + 1, ".0.0", 5);
}

void smtpreply_quote(const struct smtpreply *r, char *out, size_t cap)
{
    size_t n = 0, i;

    if (cap == 0) {
        return;
    }
    if (cap >= 4) {
        out[0] = (char)('0' + r->code / 100 % 10);
        out[1] = (char)('0' + r->code / 10 % 10);
        out[2] = (char)('0' + r->code % 10);
        n = 3;
    }
    for (i = 0; i < r->textlen && n + 1 < cap; i++) {
        char c = r->text[i] == '\n' ? ' ' : r->text[i];
        if (i == 0 && n + 2 < cap) {
            out[n++] = ' ';
        }
        if (c == ' ' && n > 0 && out[n - 1] == ' ') {
            continue;  /* one space between joined lines and words */
        }
        out[n++] = c;
    }
    while (n > 3 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

const char *smtpreply_strerror(enum smtpreply_err e)
{
    switch (e) {
    case SMTPREPLY_OK:
        return "no error";
    case SMTPREPLY_ESYNTAX:
        return "reply without a valid 3-digit code";
    case SMTPREPLY_EMIXED:
        return "multi-line reply with different codes";
    case SMTPREPLY_ETOOLONG:
        return "reply line too long";
    case SMTPREPLY_ETOOMANY:
        return "reply with too many lines";
    }
    return "unknown error";
}

static int keyword(const char *s, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    return n >= k && str_start_nocase(s, n, kw) && (n == k || s[k] == ' ');
}

void ehlo_parse(const struct smtpreply *r, struct ehlo_caps *caps)
{
    const char *p = r->text, *end = r->text + r->textlen;

    memset(caps, 0, sizeof *caps);
    if (r->code != 250) {
        return;
    }
    p = memchr(p, '\n', (size_t)(end - p));   /* the first line is the greeting */
    while (p && p < end) {
        const char *l = p + 1, *nl = memchr(l, '\n', (size_t)(end - l));
        size_t n = nl ? (size_t)(nl - l) : (size_t)(end - l);

        if (keyword(l, n, "STARTTLS")) {
            caps->starttls = 1;
        } else if (keyword(l, n, "PIPELINING")) {
            caps->pipelining = 1;
        } else if (keyword(l, n, "8BITMIME")) {
            caps->eightbitmime = 1;
        } else if (keyword(l, n, "SMTPUTF8")) {
            caps->smtputf8 = 1;
        } else if (keyword(l, n, "SIZE")) {
            uint64_t v = 0;
            size_t d = 4;
            caps->size = 1;
            while (d < n && l[d] == ' ') {
                d++;
            }
            if (d < n && str_to_u64(l + d, n - d, &v) == 0) {
                caps->size_max = v;
            }
        }
        p = nl;
    }
}

/* The length of the leading bytes of p[0..max) that are neither LF nor CR (max >= 1 and p[0]
   is neither: at least 1). */
static size_t plain_run(const char *p, size_t max)
{
    const char *nl = memchr(p, '\n', max);
    const char *cr;
    size_t k = nl ? (size_t)(nl - p) : max;

    cr = memchr(p, '\r', k);
    return cr ? (size_t)(cr - p) : k;
}

void data_enc_init(struct data_enc *e)
{
    e->bol = 1;
    e->cr = 0;
}

size_t data_enc_run(struct data_enc *e, const char *in, size_t n, char *out, size_t cap,
                    size_t *outlen)
{
    size_t i = 0, o = 0;

    /* each input byte produces at most 3 output bytes (". + c", or "CR LF"+held CR->space) */
    while (i < n && o + 3 <= cap) {
        char c = in[i];
        if (!e->cr && c != '\n' && c != '\r' && !(e->bol && c == '.')) {
            /* a run of plain bytes (up to the next CR or LF) goes out as it is: one memchr
               and one copy per line rather than a test per byte */
            size_t k = plain_run(in + i, n - i < cap - o ? n - i : cap - o);
            memcpy(out + o, in + i, k);
            i += k;
            o += k;
            e->bol = 0;
            continue;
        }
        if (e->cr) {
            e->cr = 0;
            if (c != '\n') {
                out[o++] = ' ';   /* a bare CR never reaches the wire */
                e->bol = 0;
                continue;         /* c is looked at again */
            }
        }
        i++;
        if (c == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            e->bol = 1;
            continue;
        }
        if (c == '\r') {
            e->cr = 1;
            continue;
        }
        if (e->bol && c == '.') {
            out[o++] = '.';
        }
        out[o++] = c;
        e->bol = 0;
    }
    *outlen = o;
    return i;
}

size_t data_enc_finish(struct data_enc *e, char *out, size_t cap)
{
    size_t o = 0;

    if (cap < 6) {
        return 0;
    }
    if (e->cr) {
        out[o++] = ' ';
        e->cr = 0;
        e->bol = 0;
    }
    if (!e->bol) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    memcpy(out + o, ".\r\n", 3);
    e->bol = 1;
    return o + 3;
}

uint64_t data_enc_size(const char *in, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;

    /* line by line: its bytes (a bare CR is sent as a space: one octet), one more for a
       leading dot, and the line end: LF becomes CRLF (CR LF stays two octets) */
    while (i < n) {
        const char *nl = memchr(in + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - in) : n;
        if (end > i && in[i] == '.') {
            size++;
        }
        size += end - i;
        if (!nl) {
            size += 2;    /* a last line without LF gets its CRLF */
            break;
        }
        size += end > 0 && in[end - 1] == '\r' ? 1 : 2;
        i = end + 1;
    }
    return size;
}

int data_has_8bit(const char *in, size_t n)
{
    size_t i;

    /* eight bytes at a time, OR-ed over blocks of 4 KB without a branch (the compiler
       vectorizes it); the block's verdict after each */
    for (i = 0; i + 8 <= n;) {
        size_t end = n - i >= 4096 ? i + 4096 : i + ((n - i) & ~(size_t)7);
        uint64_t acc = 0;
        for (; i < end; i += 8) {
            uint64_t w;
            memcpy(&w, in + i, sizeof w);
            acc |= w;
        }
        if (acc & 0x8080808080808080ULL) {
            return 1;
        }
    }
    for (; i < n; i++) {
        if ((unsigned char)in[i] >= 0x80) {
            return 1;
        }
    }
    return 0;
}

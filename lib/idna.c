/* idna.c: U-labels to A-labels (RFC 5891 §4.4: "xn--" and the Punycode of RFC 3492 §6.3) */
#include "idna.h"

#include <stdint.h>
#include <string.h>

/* RFC 3492 §5: the parameters for IDNA */
#define PC_BASE      36
#define PC_TMIN      1
#define PC_TMAX      26
#define PC_SKEW      38
#define PC_DAMP      700
#define PC_BIAS      72
#define PC_N         0x80

#define NAME_MAX_OCTETS 253     /* a name without its final dot (RFC 1035 §2.3.4, §3.1) */

/* One code point from s[0..n); its octet count in *used, or -1: not shortest-form UTF-8, a
   surrogate or beyond U+10FFFF (RFC 3629 §3). */
static long utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    unsigned long c;
    size_t k, i;

    if (s[0] < 0x80) {
        *used = 1;
        return s[0];
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        k = 2;
        c = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        k = 3;
        c = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        k = 4;
        c = s[0] & 0x07;
    } else {
        return -1;
    }
    if (n < k) {
        return -1;
    }
    for (i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return -1;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff)) {
        return -1;
    }
    *used = k;
    return (long)c;
}

/* UTS #46's mapping, the part this file's header names. -1 for what a name cannot hold. */
static long map_cp(long c)
{
    if (c >= 0xff01 && c <= 0xff5e) {       /* full-width ASCII */
        c -= 0xff01 - 0x21;
    }
    if (c >= 'A' && c <= 'Z') {
        return c + 32;
    }
    if (c >= 0xc0 && c <= 0xde && c != 0xd7) {
        return c + 32;
    }
    if ((c >= 0x391 && c <= 0x3a9 && c != 0x3a2) || (c >= 0x410 && c <= 0x42f)) {
        return c + 32;                      /* Greek and Cyrillic capitals */
    }
    if (c >= 0x400 && c <= 0x40f) {
        return c + 80;                      /* Cyrillic Ѐ..Џ */
    }
    if (c <= 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
        return -1;
    }
    /* UTS #46 §4 with UseSTD3ASCIIRules, as mail needs: ASCII in a host name is a letter,
       digit or hyphen (RFC 1123 §2.1), also when full-width ＠ or ＞ mapped to it; in an
       A-label's basic code points it would pass through ("xn--y@-..."), an '@' or '>' into
       an SMTP path */
    if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return -1;
    }
    return c;
}

static int is_dot(long c)
{
    return c == '.' || c == 0x3002 || c == 0xff0e || c == 0xff61;
}

static char digit(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* RFC 3492 §6.1 */
static uint32_t adapt(uint32_t delta, uint32_t points, int first)
{
    uint32_t k = 0;
    delta = first ? delta / PC_DAMP : delta / 2;
    delta += delta / points;
    while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
        delta /= PC_BASE - PC_TMIN;
        k += PC_BASE;
    }
    return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

/* RFC 3492 §6.3: the len code points of cp in out (cap octets, no NUL). Returns the octets
   written, or -1 if they do not fit. Every code point is below 0x110000 and len <= 63, so
   delta stays far below 2^32 (at most 0x110000 * 64 + 63). */
static int punycode(const uint32_t *cp, size_t len, char *out, size_t cap)
{
    uint32_t n = PC_N, delta = 0, bias = PC_BIAS, h, b = 0;
    size_t o = 0, j;

    for (j = 0; j < len; j++) {
        if (cp[j] < 0x80) {
            if (o >= cap) {
                return -1;
            }
            out[o++] = (char)cp[j];
            b++;
        }
    }
    h = b;
    if (b > 0) {
        if (o >= cap) {
            return -1;
        }
        out[o++] = '-';
    }
    while (h < len) {
        uint32_t m = UINT32_MAX;
        for (j = 0; j < len; j++) {
            if (cp[j] >= n && cp[j] < m) {
                m = cp[j];
            }
        }
        delta += (m - n) * (h + 1);
        n = m;
        for (j = 0; j < len; j++) {
            if (cp[j] < n) {
                delta++;
            }
            if (cp[j] == n) {
                uint32_t q = delta, k;
                for (k = PC_BASE;; k += PC_BASE) {
                    uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
                    if (q < t) {
                        break;
                    }
                    if (o >= cap) {
                        return -1;
                    }
                    out[o++] = digit(t + (q - t) % (PC_BASE - t));
                    q = (q - t) / (PC_BASE - t);
                }
                if (o >= cap) {
                    return -1;
                }
                out[o++] = digit(q);
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                h++;
            }
        }
        delta++;
        n++;
    }
    return (int)o;
}

/* One label's code points (len, all mapped) onto out + *o: as it is when ASCII, else "xn--"
   and its Punycode. 0 ok, -1 too long. */
static int put_label(const uint32_t *cp, size_t len, int ascii, char *out, size_t cap,
                     size_t *o)
{
    char lab[IDNA_LABEL_MAX];
    int w;
    size_t j;

    if (len == 0) {
        return -1;
    }
    if (ascii) {
        if (len > IDNA_LABEL_MAX || *o + len >= cap) {
            return -1;
        }
        for (j = 0; j < len; j++) {
            out[(*o)++] = (char)cp[j];
        }
        return 0;
    }
    w = punycode(cp, len, lab, sizeof lab - 4);
    if (w < 0 || *o + 4 + (size_t)w >= cap) {
        return -1;
    }
    memcpy(out + *o, "xn--", 4);
    memcpy(out + *o + 4, lab, (size_t)w);
    *o += 4 + (size_t)w;
    return 0;
}

int idna_to_ascii(const char *in, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    uint32_t cp[IDNA_CP_MAX];
    size_t len = 0, i = 0, o = 0, used;
    int ascii = 1;

    if (cap == 0 || n == 0) {
        return -1;
    }
    for (;;) {
        long c = i < n ? utf8_next(s + i, n - i, &used) : '.';
        if (c < 0) {
            return -1;
        }
        if (is_dot(c)) {
            if (put_label(cp, len, ascii, out, cap, &o) < 0) {
                return -1;
            }
            if (i >= n) {
                break;
            }
            if (o + 1 >= cap) {
                return -1;
            }
            out[o++] = '.';
            len = 0;
            ascii = 1;
            i += used;
            continue;
        }
        c = map_cp(c);
        if (c < 0 || len == IDNA_CP_MAX) {
            return -1;
        }
        ascii &= c < 0x80;
        cp[len++] = (uint32_t)c;
        i += used;
    }
    if (o > NAME_MAX_OCTETS) {
        return -1;
    }
    out[o] = '\0';
    return (int)o;
}

int idna_fold_fullwidth(const char *in, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0, used;
    long c;

    while (i < n) {
        c = utf8_next(s + i, n - i, &used);
        if (c <= 0) {
            return -1;
        }
        if (c >= 0xff01 && c <= 0xff5e) {
            if (o + 2 > cap) {
                return -1;
            }
            out[o++] = (char)(c - (0xff01 - 0x21));
        } else {
            if (o + used + 1 > cap) {
                return -1;
            }
            memcpy(out + o, in + i, used);
            o += used;
        }
        i += used;
    }
    if (o + 1 > cap) {
        return -1;
    }
    out[o] = '\0';
    return (int)o;
}

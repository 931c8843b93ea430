/* b64.c: strict base64 (RFC 4648 §4) */
#include "b64.h"

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    size_t i, o = 0;
    if (n % 4 != 0) {
        return -1;
    }
    for (i = 0; i < n; i += 4) {
        int v[4], k, pad = 0;
        for (k = 0; k < 4; k++) {
            if (in[i + k] == '=') {
                /* '=' only in the last quantum, only as its last one or two characters */
                if (i + 4 != n || k < 2) {
                    return -1;
                }
                pad++;
                v[k] = 0;
                continue;
            }
            if (pad) {
                return -1;
            }
            v[k] = b64_val(in[i + k]);
            if (v[k] < 0) {
                return -1;
            }
        }
        if (o + 3 - (size_t)pad > cap) {
            return -1;
        }
        out[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        if (pad < 2) {
            out[o++] = (unsigned char)(((v[1] & 15) << 4) | (v[2] >> 2));
        } else if (v[1] & 15) {
            return -1;
        }
        if (pad < 1) {
            out[o++] = (unsigned char)(((v[2] & 3) << 6) | v[3]);
        } else if (pad == 1 && (v[2] & 3)) {
            return -1;
        }
    }
    return (long)o;
}

long b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;
    if (cap < 4 * ((n + 2) / 3) + 1) {
        return -1;
    }
    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = b64_alpha[in[i] >> 2];
        out[o++] = b64_alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = b64_alpha[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        out[o++] = b64_alpha[in[i + 2] & 63];
    }
    if (i < n) {
        out[o++] = b64_alpha[in[i] >> 2];
        if (i + 1 < n) {
            out[o++] = b64_alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
            out[o++] = b64_alpha[(in[i + 1] & 15) << 2];
        } else {
            out[o++] = b64_alpha[(in[i] & 3) << 4];
            out[o++] = '=';
        }
        out[o++] = '=';
    }
    out[o] = '\0';
    return (long)o;
}

int b64_append_lines(struct buf *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    char line[80];
    size_t i, k;
    long m;
    for (i = 0; i < n; i += k) {
        k = n - i < 57 ? n - i : 57;      /* 57 octets = 76 characters */
        m = b64_encode(p + i, k, line, sizeof line);
        if (m < 0 || buf_append(out, line, (size_t)m) < 0 || buf_append(out, "\n", 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* webparse.c: the member page's request parsers and escaper (pure functions; webparse.h) */
#include "webparse.h"

#include "limits.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode one urlencoded item s[0..n) into out; -1 on bad %XX, a control byte or overflow. */
static int form_decode(const char *s, size_t n, char *out, size_t cap, size_t *len)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int h, l;
            if (n - i < 3 || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0) {
                return -1;
            }
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f) {
            return -1;
        }
        if (o + 1 >= cap) {
            return -1;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (len) {
        *len = o;
    }
    return 0;
}

int web_form_get(const char *s, size_t n, const char *name, char *out, size_t cap, size_t *len)
{
    char key[64];
    size_t pos = 0, nlen = strlen(name);
    if (cap == 0 || n > WEB_BODY_MAX) {
        return -1;
    }
    while (pos < n) {
        const char *item = s + pos, *amp = memchr(item, '&', n - pos), *eq;
        size_t ilen = amp ? (size_t)(amp - item) : n - pos, klen, keyout;
        pos += ilen + 1;
        eq = memchr(item, '=', ilen);
        klen = eq ? (size_t)(eq - item) : ilen;
        if (form_decode(item, klen, key, sizeof key, &keyout) < 0) {
            continue;   /* a key we would never ask for */
        }
        if (keyout != nlen || memcmp(key, name, nlen) != 0) {
            continue;
        }
        if (!eq) {
            out[0] = '\0';
            if (len) {
                *len = 0;
            }
            return 1;
        }
        return form_decode(eq + 1, ilen - klen - 1, out, cap, len) < 0 ? -1 : 1;
    }
    return 0;
}

int web_cookie_get(const char *h, size_t n, const char *name, char *out, size_t cap)
{
    size_t pos = 0, nlen = strlen(name);
    if (cap == 0 || n > WEB_COOKIE_MAX) {
        return -1;
    }
    while (pos < n) {
        const char *item, *semi, *eq;
        size_t ilen;
        while (pos < n && (h[pos] == ' ' || h[pos] == '\t')) {
            pos++;
        }
        item = h + pos;
        semi = memchr(item, ';', n - pos);
        ilen = semi ? (size_t)(semi - item) : n - pos;
        pos += ilen + 1;
        eq = memchr(item, '=', ilen);
        if (!eq || (size_t)(eq - item) != nlen || memcmp(item, name, nlen) != 0) {
            continue;
        }
        ilen -= nlen + 1;
        while (ilen > 0 && (eq[ilen] == ' ' || eq[ilen] == '\t')) {
            ilen--;
        }
        if (ilen + 1 > cap) {
            return -1;
        }
        memcpy(out, eq + 1, ilen);
        out[ilen] = '\0';
        return 1;
    }
    return 0;
}

int web_password_ok(const char *pw)
{
    size_t i, n = strlen(pw);
    if (n < WEB_PASSWORD_MIN || n > AUTH_FIELD_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)pw[i] < 0x20 || pw[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int web_token_ok(const char *s)
{
    size_t i;
    for (i = 0; i < WEB_TOKEN_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[WEB_TOKEN_LEN] == '\0';
}

int web_escape(struct buf *b, const char *s, size_t n)
{
    size_t i, from = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            rep = (c < 0x20 && c != '\t' && c != '\r' && c != '\n') ? "\xef\xbf\xbd" : NULL;
        }
        if (!rep) {
            continue;
        }
        if (buf_append(b, s + from, i - from) < 0 || buf_puts(b, rep) < 0) {
            return -1;
        }
        from = i + 1;
    }
    return buf_append(b, s + from, n - from);
}

int web_autodiscover_email(const char *body, size_t n, char *out, size_t cap)
{
    static const char open[] = "<EMailAddress>", close[] = "</EMailAddress>";
    const char *p = NULL, *e;
    size_t i, vlen;
    if (cap == 0 || n > WEB_BODY_MAX) {
        return -1;
    }
    for (i = 0; i + sizeof open - 1 <= n; i++) {
        if (memcmp(body + i, open, sizeof open - 1) == 0) {
            p = body + i + sizeof open - 1;
            break;
        }
    }
    if (!p) {
        return 0;
    }
    e = memchr(p, '<', (size_t)(body + n - p));
    if (!e || (size_t)(body + n - e) < sizeof close - 1
        || memcmp(e, close, sizeof close - 1) != 0) {
        return -1;
    }
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
        e--;
    }
    vlen = (size_t)(e - p);
    if (vlen == 0 || vlen + 1 > cap || memchr(p, '&', vlen)) {
        return -1;
    }
    for (i = 0; i < vlen; i++) {
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
            return -1;
        }
    }
    memcpy(out, p, vlen);
    out[vlen] = '\0';
    return 1;
}

/* str.c: small string helpers over (pointer, length) */
#include "str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int str_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        if (cap) {
            out[0] = '\0';
        }
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

void str_lower(char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            s[i] = (char)(s[i] + ('a' - 'A'));
        }
    }
}

static char lower_c(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

int str_eq_nocase(const char *a, size_t n, const char *b)
{
    size_t i;
    if (strlen(b) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (lower_c(a[i]) != lower_c(b[i])) {
            return 0;
        }
    }
    return 1;
}

int str_start_nocase(const char *s, size_t n, const char *prefix)
{
    size_t i, m = strlen(prefix);
    if (m > n) {
        return 0;
    }
    for (i = 0; i < m; i++) {
        if (lower_c(s[i]) != lower_c(prefix[i])) {
            return 0;
        }
    }
    return 1;
}

int str_to_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (n == 0 || n > 20) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int str_to_size(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t mult = 1, v;
    if (n == 0) {
        return -1;
    }
    switch (s[n - 1]) {
    case 'k': case 'K': mult = 1024ULL; n--; break;
    case 'm': case 'M': mult = 1024ULL * 1024; n--; break;
    case 'g': case 'G': mult = 1024ULL * 1024 * 1024; n--; break;
    default: break;
    }
    if (str_to_u64(s, n, &v) < 0 || v > UINT64_MAX / mult) {
        return -1;
    }
    *out = v * mult;
    return 0;
}

void str_size_human(uint64_t bytes, char *out, size_t cap)
{
    const uint64_t mb = 1024ULL * 1024;
    if (bytes >= mb && bytes % mb == 0) {
        snprintf(out, cap, "%llu MB", (unsigned long long)(bytes / mb));
    } else if (bytes >= mb) {
        snprintf(out, cap, "%.1f MB", (double)bytes / (double)mb);
    } else {
        snprintf(out, cap, "%llu bytes", (unsigned long long)bytes);
    }
}

int str_has_ctl(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 1;
        }
    }
    return 0;
}

long str_chr(const char *s, size_t n, char c)
{
    const char *p = memchr(s, c, n);
    return p ? (long)(p - s) : -1;
}

int str_ip_text_ok(const char *ip)
{
    size_t i, n = strlen(ip);
    if (n == 0 || n > 45) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = ip[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
              || c == '.' || c == ':')) {
            return 0;
        }
    }
    return 1;
}

int str_ip_group(const char *ip, char *out, size_t cap)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    struct in6_addr a;
    char text[INET6_ADDRSTRLEN + sizeof "/64"];
    size_t n;

    if (strchr(ip, ':') && inet_pton(AF_INET6, ip, &a) == 1) {
        if (memcmp(a.s6_addr, mapped, sizeof mapped) == 0) {
            if (!inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof text)) {
                return -1;
            }
        } else {
            memset(a.s6_addr + 8, 0, 8);
            if (!inet_ntop(AF_INET6, &a, text, INET6_ADDRSTRLEN)) {
                return -1;
            }
            memcpy(text + strlen(text), "/64", sizeof "/64");
        }
        ip = text;
    }
    n = strlen(ip);
    if (n >= cap) {
        return -1;
    }
    memcpy(out, ip, n + 1);
    return 0;
}

int str_equal_ct(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        d |= (unsigned char)(a[i] ^ b[i]);
    }
    return d == 0;
}

uint64_t str_fnv64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ULL;
    size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ s[i]) * 1099511628211ULL;
    }
    return h;
}

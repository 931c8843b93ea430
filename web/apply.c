/* apply.c: the administrator's applications: due date, records, admins file, audit, sheet mail
   (apply.h) */
#include "apply.h"
#include "audit.h"

#include "b64.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define APPLY_DAYS_MAX 400

static const char *const kinds[APPLY_NKINDS] = { "add", "reset", "addon", "plan", "del" };

const char *apply_kind_name(enum apply_kind k)
{
    return (unsigned)k < APPLY_NKINDS ? kinds[k] : "?";
}

int apply_kind_of(const char *s)
{
    int i;
    for (i = 0; i < APPLY_NKINDS; i++) {
        if (strcmp(s, kinds[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- dates: proleptic Gregorian day numbers (days since 1970-01-01) ---- */

static long days_from_civil(int y, int m, int d)
{
    long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    long era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 Sunday .. 6 Saturday; 1970-01-01 was a Thursday */
static int weekday(long days)
{
    long w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

int apply_is_holiday(const char *text, size_t n, int y, int m, int d)
{
    char want[APPLY_DATE_LEN + 1];
    size_t i = 0;
    if (snprintf(want, sizeof want, "%04d-%02d-%02d", y, m, d) != APPLY_DATE_LEN) {
        return 0;
    }
    while (i < n) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - text) - i : n - i;
        if (len >= APPLY_DATE_LEN && memcmp(text + i, want, APPLY_DATE_LEN) == 0
            && (len == APPLY_DATE_LEN || text[i + APPLY_DATE_LEN] == ' '
                || text[i + APPLY_DATE_LEN] == '\t' || text[i + APPLY_DATE_LEN] == '\r'
                || text[i + APPLY_DATE_LEN] == '#')) {
            return 1;
        }
        i += len + 1;
    }
    return 0;
}

static int business_day(long days, const char *hol, size_t n)
{
    int y, m, d, w = weekday(days);
    if (w == 0 || w == 6) {
        return 0;
    }
    civil_from_days(days, &y, &m, &d);
    return !apply_is_holiday(hol, n, y, m, d);
}

int apply_due(const struct tm *lt, const char *hol, size_t n, char *out)
{
    long day = days_from_civil(lt->tm_year + 1900, lt->tm_mon + 1, lt->tm_mday);
    int i, y, m, d;
    if (!(business_day(day, hol, n) && lt->tm_hour < APPLY_CUTOFF_HOUR)) {
        for (i = 0; ; i++) {
            if (i == APPLY_DAYS_MAX) {
                return -1;
            }
            day++;
            if (business_day(day, hol, n)) {
                break;
            }
        }
    }
    civil_from_days(day, &y, &m, &d);
    return snprintf(out, APPLY_DATE_LEN + 1, "%04d-%02d-%02d", y, m, d) == APPLY_DATE_LEN
           ? 0 : -1;
}

/* ---- ids ---- */

int apply_id(time_t now, char *out)
{
    unsigned char r[4];
    struct tm tm;
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = getrandom(r + got, sizeof r - got, 0);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)k;
    }
    if (!gmtime_r(&now, &tm)) {
        return -1;
    }
    return snprintf(out, APPLY_ID_LEN + 1, "%04d%02d%02d-%02d%02d%02d-%02x%02x%02x%02x",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                    tm.tm_sec, r[0], r[1], r[2], r[3]) == APPLY_ID_LEN ? 0 : -1;
}

int apply_id_ok(const char *s)
{
    size_t i;
    for (i = 0; i < APPLY_ID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 15) {
            if (c != '-') {
                return 0;
            }
        } else if (i < 15 ? !(c >= '0' && c <= '9')
                          : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return s[APPLY_ID_LEN] == '\0';
}

/* ---- records ---- */

int apply_format(const struct application *a, struct buf *out)
{
    int r = buf_printf(out, "id %s\ndomain %s\nkind %s\ntarget %s\nby %s\nip %s\ntime %lld\n"
                       "due %s\n", a->id, a->domain, apply_kind_name(a->kind), a->target, a->by,
                       a->ip, a->time, a->due);
    if (r == 0 && a->state[0]) {
        r = buf_printf(out, "state %s\ndecided-by %s\ndecided-at %lld\n", a->state,
                       a->decided_by, a->decided_at);
        if (r == 0 && a->reason[0]) {
            r = buf_printf(out, "reason %s\n", a->reason);
        }
    }
    return r;
}

/* copy v[0..n) into out[cap]: 0, -1 too long or a control byte */
static int take(const char *v, size_t n, char *out, size_t cap)
{
    size_t i;
    if (n >= cap) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            return -1;
        }
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static int take_num(const char *v, size_t n, long long *out)
{
    uint64_t x;
    if (str_to_u64(v, n, &x) < 0 || x > (uint64_t)1 << 62) {
        return -1;
    }
    *out = (long long)x;
    return 0;
}

int apply_parse(const char *s, size_t n, struct application *a)
{
    enum { K_ID, K_DOMAIN, K_KIND, K_TARGET, K_BY, K_IP, K_TIME, K_DUE, K_STATE, K_DBY, K_DAT,
           K_REASON, K_N };
    static const char *const keys[K_N] = { "id", "domain", "kind", "target", "by", "ip", "time",
                                           "due", "state", "decided-by", "decided-at",
                                           "reason" };
    unsigned seen = 0;
    char kind[16];
    size_t i = 0;
    memset(a, 0, sizeof *a);
    if (n > APPLY_RECORD_MAX) {
        return 0;
    }
    while (i < n) {
        const char *line = s + i, *nl = memchr(line, '\n', n - i), *sp;
        size_t len, kl, vl;
        int k, bad;
        if (!nl) {
            return 0;           /* every line ends in a newline */
        }
        len = (size_t)(nl - line);
        sp = memchr(line, ' ', len);
        if (!sp) {
            return 0;
        }
        kl = (size_t)(sp - line);
        vl = len - kl - 1;
        for (k = 0; k < K_N; k++) {
            if (strlen(keys[k]) == kl && memcmp(keys[k], line, kl) == 0) {
                break;
            }
        }
        if (k == K_N || (seen & (1u << k))) {
            return 0;
        }
        seen |= 1u << k;
        sp++;
        switch (k) {
        case K_ID: bad = take(sp, vl, a->id, sizeof a->id) || !apply_id_ok(a->id); break;
        case K_DOMAIN: bad = take(sp, vl, a->domain, sizeof a->domain) || vl == 0; break;
        case K_KIND: bad = take(sp, vl, kind, sizeof kind) || apply_kind_of(kind) < 0;
                     if (!bad) { a->kind = (enum apply_kind)apply_kind_of(kind); } break;
        case K_TARGET: bad = take(sp, vl, a->target, sizeof a->target) || vl == 0; break;
        case K_BY: bad = take(sp, vl, a->by, sizeof a->by); break;
        case K_IP: bad = take(sp, vl, a->ip, sizeof a->ip); break;
        case K_TIME: bad = take_num(sp, vl, &a->time); break;
        case K_DUE: bad = take(sp, vl, a->due, sizeof a->due) || vl != APPLY_DATE_LEN; break;
        case K_STATE: bad = take(sp, vl, a->state, sizeof a->state) || vl == 0; break;
        case K_DBY: bad = take(sp, vl, a->decided_by, sizeof a->decided_by); break;
        case K_DAT: bad = take_num(sp, vl, &a->decided_at); break;
        default: bad = take(sp, vl, a->reason, sizeof a->reason); break;
        }
        if (bad) {
            return 0;
        }
        i += len + 1;
    }
    if ((seen & 0xffu) != 0xffu) {
        return 0;
    }
    if ((seen >> K_STATE) & 7u) {
        return ((seen >> K_STATE) & 7u) == 7u;
    }
    return !(seen & (1u << K_REASON));
}

/* ---- the administrators' file ---- */

int apply_admin_find(const char *text, size_t n, const char *domain, struct webadmin *w)
{
    size_t i = 0, dl = strlen(domain);
    while (i < n) {
        const char *line = text + i, *nl = memchr(line, '\n', n - i), *f[4];
        size_t len = nl ? (size_t)(nl - line) : n - i, fl[4];
        size_t j, k = 0, start = 0;
        i += len + 1;
        if (len <= dl || memcmp(line, domain, dl) != 0 || line[dl] != ':') {
            continue;
        }
        for (j = 0; j <= len && k < 4; j++) {
            if (j == len || (line[j] == ':' && k < 3)) {
                f[k] = line + start;
                fl[k++] = j - start;
                start = j + 1;
            }
        }
        if (k != 4 || take(f[0], fl[0], w->domain, sizeof w->domain) < 0
            || take(f[1], fl[1], w->contact, sizeof w->contact) < 0
            || take(f[3], fl[3], w->hash, sizeof w->hash) < 0 || fl[3] == 0
            || !((fl[2] == 2 && memcmp(f[2], "on", 2) == 0)
                 || (fl[2] == 3 && memcmp(f[2], "off", 3) == 0))) {
            continue;
        }
        w->auto_approve = fl[2] == 2;
        return 1;
    }
    return 0;
}

int apply_admin_line(const struct webadmin *w, char *out, size_t cap)
{
    return str_fmt(out, cap, "%s:%s:%s:%s", w->domain, w->contact, w->auto_approve ? "on" : "off",
                   w->hash);
}

/* ---- the audit log ---- */

int apply_audit(const char *root, const char *event, const struct application *a,
                const char *who, const char *ip, const char *reason)
{
    char line[AUDIT_LINE_MAX], sw[AUDIT_WHO_MAX + 1], si[APPLY_IP_MAX + 1], st[ADDR_MAX + 1];
    char sr[APPLY_REASON_MAX + 1];
    int n;

    audit_safe(who, sw, sizeof sw);
    audit_safe(ip, si, sizeof si);
    audit_safe(a->target, st, sizeof st);
    n = snprintf(line, sizeof line, "event=%s id=%s domain=%s kind=%s target=%s due=%s by=%s "
                 "ip=%s", event, a->id, a->domain, apply_kind_name(a->kind), st, a->due, sw, si);
    if (n > 0 && reason && reason[0] && (size_t)n < sizeof line) {
        size_t i;
        /* the reason is free text: spaces kept, other unsafe bytes replaced, last field */
        for (i = 0; reason[i] && i + 1 < sizeof sr; i++) {
            unsigned char c = (unsigned char)reason[i];
            sr[i] = c >= 0x20 && c != 0x7f ? (char)c : '?';
        }
        sr[i] = '\0';
        (void)snprintf(line + n, sizeof line - (size_t)n, " reason=%s", sr);
    }
    return audit_append(root, line);
}

/* ---- the settings-sheet mail ---- */

static int b64_lines(struct buf *out, const char *s, size_t n)
{
    char enc[80];
    size_t i;
    for (i = 0; i < n; i += 57) {
        size_t k = n - i < 57 ? n - i : 57;
        if (b64_encode((const unsigned char *)s + i, k, enc, sizeof enc) < 0
            || buf_puts(out, enc) < 0 || buf_puts(out, "\r\n") < 0) {
            return -1;
        }
    }
    return 0;
}

int apply_sheet_mail(struct buf *out, const char *from, const char *to, const char *me,
                     const char *subject, const char *date, const char *msgid,
                     const char *text, size_t textlen, const char *html, size_t htmllen)
{
    char enc[64], boundary[64];
    size_t i = 0, n = strlen(subject);
    int r = 0;
    if (str_fmt(boundary, sizeof boundary, "=_yubin_%s", msgid) < 0) {
        return -1;
    }
    r |= buf_printf(out, "From: %s\r\nTo: %s\r\nSubject:", from, to);
    /* RFC 2047 §2: encoded-words of at most 75 characters, whole UTF-8 characters each */
    while (i < n) {
        size_t k = n - i < 39 ? n - i : 39;
        while (k > 1 && i + k < n && ((unsigned char)subject[i + k] & 0xc0) == 0x80) {
            k--;
        }
        if (b64_encode((const unsigned char *)subject + i, k, enc, sizeof enc) < 0) {
            return -1;
        }
        r |= buf_printf(out, "%s=?UTF-8?B?%s?=", i ? "\r\n " : " ", enc);
        i += k;
    }
    r |= buf_printf(out, "\r\nDate: %s\r\n"
                    "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
                    "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
                    "This is a MIME message.\r\n\r\n--%s\r\n"
                    "Content-Type: text/plain; charset=UTF-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n",
                    date, msgid, me, boundary, boundary);
    r |= b64_lines(out, text, textlen);
    r |= buf_printf(out, "\r\n--%s\r\nContent-Type: text/html; charset=UTF-8; "
                    "name=\"settings.html\"\r\nContent-Disposition: attachment; "
                    "filename=\"settings.html\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                    boundary);
    r |= b64_lines(out, html, htmllen);
    r |= buf_printf(out, "\r\n--%s--\r\n", boundary);
    return r ? -1 : 0;
}

/* authreq.c: strict decoder of one authd request */
#include "authreq.h"
#include "str.h"
#include "addr.h"

#include <string.h>

static int ip_ok(const char *s, size_t n)
{
    size_t i;
    int colon = 0, dot = 0;
    if (n > AUTHREQ_IP_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':') {
            colon = 1;
        } else if (c == '.') {
            dot = 1;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    /* "" is allowed (address unknown); anything else is IPv4 dotted or has a colon */
    return n == 0 || colon || dot;
}

enum authreq_err authreq_parse(const char *buf, size_t n, struct authreq *r)
{
    const char *field[5];
    size_t len[5], pos = 0, i;

    if (n > AUTH_REQ_MAX) {
        return AUTHREQ_ETOOLONG;
    }
    for (i = 0; i < 5; i++) {
        const char *nul;
        if (pos >= n) {
            return i == 0 ? AUTHREQ_EMAGIC : AUTHREQ_EFIELDS;
        }
        nul = memchr(buf + pos, '\0', n - pos);
        if (!nul) {
            return i == 0 ? AUTHREQ_EMAGIC : AUTHREQ_EFIELDS;
        }
        field[i] = buf + pos;
        len[i] = (size_t)(nul - (buf + pos));
        pos += len[i] + 1;
        if (i == 0 && (len[0] != sizeof AUTHREQ_MAGIC - 1
                       || memcmp(field[0], AUTHREQ_MAGIC, len[0]) != 0)) {
            return AUTHREQ_EMAGIC;
        }
    }
    if (pos != n) {
        return AUTHREQ_EFIELDS;
    }
    if (!((len[1] == 4 && memcmp(field[1], "smtp", 4) == 0)
          || (len[1] == 4 && memcmp(field[1], "pop3", 4) == 0)
          || (len[1] == 3 && memcmp(field[1], "web", 3) == 0)
          || (len[1] == 5 && memcmp(field[1], "admin", 5) == 0))) {
        return AUTHREQ_ESERVICE;
    }
    if (!ip_ok(field[2], len[2])) {
        return AUTHREQ_EIP;
    }
    if (len[3] == 0 || len[3] > AUTH_FIELD_MAX || str_has_ctl(field[3], len[3])) {
        return AUTHREQ_ELOGIN;
    }
    if (len[4] == 0 || len[4] > AUTH_FIELD_MAX) {
        return AUTHREQ_EPASSWORD;
    }
    r->service = field[1];
    r->ip = field[2];
    r->login = field[3];
    r->loginlen = len[3];
    r->password = field[4];
    r->passlen = len[4];
    return AUTHREQ_OK;
}

const char *authreq_strerror(enum authreq_err e)
{
    switch (e) {
    case AUTHREQ_OK:
        return "ok";
    case AUTHREQ_ETOOLONG:
        return "request over 1024 octets";
    case AUTHREQ_EMAGIC:
        return "not a yubin-auth1 request";
    case AUTHREQ_EFIELDS:
        return "not five NUL-terminated fields";
    case AUTHREQ_ESERVICE:
        return "unknown service";
    case AUTHREQ_EIP:
        return "bad remote address";
    case AUTHREQ_ELOGIN:
        return "bad login";
    case AUTHREQ_EPASSWORD:
        return "bad password field";
    }
    return "unknown error";
}

void authreq_logsafe(const char *s, size_t n, char *out, size_t cap)
{
    size_t i;
    if (cap == 0) {
        return;
    }
    if (n > cap - 1) {
        n = cap - 1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x21 || c > 0x7e || c == '=') ? '?' : (char)c;
    }
    out[n] = '\0';
}

int checkpw_parse(const char *buf, size_t n, int pending_mode, struct checkpw_input *in)
{
    const char *nul1, *nul2;
    size_t loginlen, passlen, creds;

    if (n > (size_t)CHECKPW_MAX + (pending_mode ? POP3_PENDING_MAX : 0)) {
        return 2;
    }
    nul1 = memchr(buf, '\0', n);
    if (!nul1) {
        return 2;
    }
    loginlen = (size_t)(nul1 - buf);
    nul2 = memchr(nul1 + 1, '\0', n - loginlen - 1);
    if (!nul2) {
        return 2;
    }
    passlen = (size_t)(nul2 - (nul1 + 1));
    creds = loginlen + 1 + passlen + 1;
    if (creds > CHECKPW_MAX || (pending_mode && n - creds > POP3_PENDING_MAX)) {
        return 2;
    }
    if (loginlen == 0 || loginlen > AUTH_FIELD_MAX || passlen == 0 || passlen > AUTH_FIELD_MAX
        || str_has_ctl(buf, loginlen)) {
        return 1;
    }
    in->login = buf;
    in->loginlen = loginlen;
    in->password = nul1 + 1;
    in->passlen = passlen;
    in->pending = pending_mode ? buf + creds : NULL;
    in->pendinglen = pending_mode ? n - creds : 0;
    return 0;
}

int hex_encode(const char *s, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    if (cap == 0 || n > (cap - 1) / 2) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[2 * i] = digits[c >> 4];
        out[2 * i + 1] = digits[c & 15];
    }
    out[2 * n] = '\0';
    return 0;
}

/* The next word of [*p, end): printable, non-empty, ended by one space or end. Copies it
   ("-" becomes "") into out[cap]. 0 ok, -1 malformed or too long. */
static int fleetreq_word(const char **p, const char *end, char *out, size_t cap)
{
    const char *w = *p;
    size_t n = 0;
    while (w + n < end && w[n] != ' ') {
        if ((unsigned char)w[n] <= ' ' || (unsigned char)w[n] > '~') {
            return -1;
        }
        n++;
    }
    if (n == 0 || n >= cap) {
        return -1;
    }
    *p = (w + n < end) ? w + n + 1 : end;
    if (*p == end && w + n < end) {
        return -1;      /* a trailing space */
    }
    if (n == 1 && w[0] == '-') {
        n = 0;
    }
    memcpy(out, w, n);
    out[n] = '\0';
    return 0;
}

int fleetreq_parse(const char *buf, size_t n, struct fleetreq *r)
{
    const char *p = buf, *end;
    char kind[8];
    size_t i;
    memset(r, 0, sizeof *r);
    if (n < 2 || n > FLEETREQ_MAX || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1)) {
        return -1;
    }
    end = buf + n - 1;
    if (fleetreq_word(&p, end, kind, sizeof kind) < 0) {
        return -1;
    }
    if (strcmp(kind, "login") == 0) {
        r->kind = FLEETREQ_LOGIN;
        if (fleetreq_word(&p, end, r->user, sizeof r->user) < 0
            || fleetreq_word(&p, end, r->ip, sizeof r->ip) < 0
            || fleetreq_word(&p, end, r->proto, sizeof r->proto) < 0
            || fleetreq_word(&p, end, r->hex, sizeof r->hex) < 0) {
            return -1;
        }
        for (i = 0; r->hex[i]; i++) {
            char c = r->hex[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return -1;
            }
        }
        if (i % 2) {
            return -1;
        }
    } else if (strcmp(kind, "grant") == 0) {
        r->kind = FLEETREQ_GRANT;
        if (fleetreq_word(&p, end, r->ip, sizeof r->ip) < 0
            || fleetreq_word(&p, end, r->user, sizeof r->user) < 0 || !*r->ip) {
            return -1;
        }
    } else {
        return -1;
    }
    if (p != end || !*r->user || !addr_map_ok(r->user, strlen(r->user))
        || (*r->ip && !str_ip_text_ok(r->ip))) {
        return -1;
    }
    return 0;
}

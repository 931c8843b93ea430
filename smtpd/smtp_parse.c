/* smtp_parse.c: SMTP command lines, MAIL/RCPT parameters and the DATA state machine */
#include "smtp_parse.h"
#include "fleethome.h"
#include "str.h"

#include <string.h>

static const struct {
    const char *name;
    enum smtp_verb verb;
} verbs[] = {
    { "EHLO", VERB_EHLO }, { "HELO", VERB_HELO }, { "MAIL", VERB_MAIL },
    { "RCPT", VERB_RCPT }, { "DATA", VERB_DATA }, { "RSET", VERB_RSET },
    { "NOOP", VERB_NOOP }, { "QUIT", VERB_QUIT }, { "VRFY", VERB_VRFY },
    { "HELP", VERB_HELP }, { "EXPN", VERB_EXPN }, { "AUTH", VERB_AUTH },
    { "STARTTLS", VERB_STARTTLS },
};

int smtp_cmd_parse(const char *line, size_t n, struct smtp_cmd *c)
{
    size_t i, v = 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return -1;
        }
    }
    while (v < n && line[v] != ' ') {
        v++;
    }
    c->verb = VERB_UNKNOWN;
    for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (str_eq_nocase(line, v, verbs[i].name)) {
            c->verb = verbs[i].verb;
            break;
        }
    }
    while (v < n && line[v] == ' ') {
        v++;
    }
    c->arg = line + v;
    c->arglen = n - v;
    while (c->arglen > 0 && (c->arg[c->arglen - 1] == ' ' || c->arg[c->arglen - 1] == '\t')) {
        c->arglen--;
    }
    return 0;
}

const char *smtp_verb_name(enum smtp_verb v)
{
    size_t i;
    for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (verbs[i].verb == v) {
            return verbs[i].name;
        }
    }
    return "?";
}

/* "FROM:" / "TO:" then optional spaces, then the path. */
static enum smtp_perr parse_path(const char *arg, size_t n, const char *prefix, struct addr *a,
                                 size_t *used)
{
    size_t i = strlen(prefix), u = 0;
    enum addr_err e;
    if (!str_start_nocase(arg, n, prefix)) {
        return PARSE_NOPREFIX;
    }
    while (i < n && arg[i] == ' ') {
        i++;
    }
    if (i >= n || arg[i] != '<') {
        return PARSE_PATH;
    }
    e = addr_parse_path(arg + i, n - i, a, &u);
    if (e == ADDR_ETOOLONG) {
        return PARSE_TOOLONG;
    }
    if (e != ADDR_OK) {
        return PARSE_PATH;
    }
    *used = i + u;
    return PARSE_OK;
}

static int is_hexup(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* xtext (RFC 3461 §4): printable ASCII except '+' and '=', or "+" two upper-case hex digits. */
static int xtext_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            if (i + 2 >= n || !is_hexup(s[i + 1]) || !is_hexup(s[i + 2])) {
                return 0;
            }
            i += 2;
            continue;
        }
        if (c < 33 || c > 126 || c == '=') {
            return 0;
        }
    }
    return n > 0;
}

/* One "keyword[=value]" MAIL parameter. */
static enum smtp_perr mail_param(const char *p, size_t n, struct smtp_mailcmd *m)
{
    long eq = str_chr(p, n, '=');
    size_t kl = eq < 0 ? n : (size_t)eq;
    const char *v = eq < 0 ? NULL : p + eq + 1;
    size_t vl = eq < 0 ? 0 : n - kl - 1;

    if (str_eq_nocase(p, kl, "SIZE")) {
        size_t i;
        if (!v || m->has_size || vl == 0 || vl > 20) {
            return PARSE_PARAMVAL;
        }
        for (i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return PARSE_PARAMVAL;
            }
        }
        /* RFC 1870: size-value = 1*20DIGIT; past 2^64-1 it is as too big as it gets */
        if (str_to_u64(v, vl, &m->size) < 0) {
            m->size = UINT64_MAX;
        }
        m->has_size = 1;
    } else if (str_eq_nocase(p, kl, "BODY")) {
        if (!v || m->body != BODY_NONE) {
            return PARSE_PARAMVAL;
        }
        if (str_eq_nocase(v, vl, "7BIT")) {
            m->body = BODY_7BIT;
        } else if (str_eq_nocase(v, vl, "8BITMIME")) {
            m->body = BODY_8BITMIME;
        } else {
            return PARSE_PARAMVAL;
        }
    } else if (str_eq_nocase(p, kl, "SMTPUTF8")) {
        if (v || m->smtputf8) {
            return PARSE_PARAMVAL;
        }
        m->smtputf8 = 1;
    } else if (str_eq_nocase(p, kl, "AUTH")) {
        if (!v || m->has_auth || !(str_eq_nocase(v, vl, "<>") || xtext_ok(v, vl))) {
            return PARSE_PARAMVAL;
        }
        m->has_auth = 1;
    } else {
        return PARSE_PARAM;
    }
    return PARSE_OK;
}

/* The parameters after a path, from arg[i]: each space-separated word goes to fn (empty words
   between runs of spaces are skipped); PARSE_PATH if the path is followed by something other
   than a space. The first error fn returns ends the walk. */
static enum smtp_perr each_param(const char *arg, size_t n, size_t i,
                                 enum smtp_perr (*fn)(void *ctx, const char *p, size_t pn),
                                 void *ctx)
{
    while (i < n) {
        size_t start;
        enum smtp_perr e;
        if (arg[i] != ' ') {
            return PARSE_PATH;
        }
        while (i < n && arg[i] == ' ') {
            i++;
        }
        start = i;
        while (i < n && arg[i] != ' ') {
            i++;
        }
        if (i > start && (e = fn(ctx, arg + start, i - start)) != PARSE_OK) {
            return e;
        }
    }
    return PARSE_OK;
}

static enum smtp_perr mail_param_fn(void *ctx, const char *p, size_t n)
{
    return mail_param(p, n, ctx);
}

enum smtp_perr smtp_parse_mail(const char *arg, size_t n, struct smtp_mailcmd *m)
{
    size_t i = 0;
    enum smtp_perr e;

    memset(m, 0, sizeof *m);
    e = parse_path(arg, n, "FROM:", &m->path, &i);
    if (e != PARSE_OK) {
        return e;
    }
    return each_param(arg, n, i, mail_param_fn, m);
}

enum smtp_perr smtp_parse_rcpt(const char *arg, size_t n, struct addr *a)
{
    size_t i = 0;
    enum smtp_perr e = parse_path(arg, n, "TO:", a, &i);
    if (e != PARSE_OK) {
        return e;
    }
    if (i < n && arg[i] != ' ') {
        return PARSE_PATH;
    }
    while (i < n && arg[i] == ' ') {
        i++;
    }
    return i < n ? PARSE_PARAM : PARSE_OK;
}

/* XEPOCH=N, once: digits only (str_to_u64 takes no sign or space), no leading zero, in range. */
static enum smtp_perr xepoch_param(void *ctx, const char *p, size_t n)
{
    uint64_t *epoch = ctx;
    if (n < 8 || !str_eq_nocase(p, 7, "XEPOCH=")) {
        return PARSE_PARAM;
    }
    p += 7;
    n -= 7;
    if (*epoch != 0 || n > 20 || p[0] == '0' || str_to_u64(p, n, epoch) < 0
        || *epoch == 0 || *epoch > FLEET_EPOCH_MAX) {
        *epoch = 0;
        return PARSE_PARAMVAL;
    }
    return PARSE_OK;
}

enum smtp_perr smtp_parse_rcpt_fleet(const char *arg, size_t n, struct addr *a, uint64_t *epoch)
{
    size_t i = 0;
    enum smtp_perr e = parse_path(arg, n, "TO:", a, &i);

    *epoch = 0;
    if (e != PARSE_OK) {
        return e;
    }
    return each_param(arg, n, i, xepoch_param, epoch);
}

void smtp_data_init(struct smtp_data *d)
{
    memset(d, 0, sizeof *d);
    d->state = DS_BOL;
    d->in_header = 1;
    d->recv_match = 1;
}

int smtp_data_refused(const struct smtp_data *d)
{
    return d->too_big || d->line_long || d->header_long || d->loop;
}

/* A content octet of the current line (not CR/LF, not a stuffed dot). */
static void data_octet(struct smtp_data *d, char c, char *out, size_t *o)
{
    static const char recv[] = "received:";
    if (d->linelen < SMTP_TEXT_MAX + 1) {
        d->linelen++;
    }
    if (++d->size > MESSAGE_MAX) {
        d->too_big = 1;
    }
    if (d->in_header) {
        d->header_len++;
        if (d->recv_match && d->linelen <= sizeof recv - 1) {
            char l = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
            if (l != recv[d->linelen - 1]) {
                d->recv_match = 0;
            } else if (d->linelen == sizeof recv - 1 && ++d->received > RECEIVED_MAX) {
                d->loop = 1;
            }
        }
    }
    if (!smtp_data_refused(d)) {
        out[(*o)++] = c;
    }
}

/* CRLF seen: the line ends. */
static void data_eol(struct smtp_data *d, char *out, size_t *o)
{
    if (d->linelen + 2 > SMTP_TEXT_MAX) {
        d->line_long = 1;
    }
    d->size += 2;
    if (d->in_header) {
        d->header_len += 2;
        if (d->linelen == 0) {
            d->in_header = 0;
        } else if (d->header_len > SMTP_HEADER_MAX) {
            d->header_long = 1;
        }
    }
    if (d->size > MESSAGE_MAX) {
        d->too_big = 1;
    }
    if (!smtp_data_refused(d)) {
        out[(*o)++] = '\n';
    }
    d->linelen = 0;
    d->recv_match = 1;
    d->state = DS_BOL;
}

enum smtp_dres smtp_data_feed(struct smtp_data *d, const char *in, size_t n, char *out,
                              size_t *outlen, size_t *used)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        char c = in[i];
        switch (d->state) {
        case DS_BOL:
            if (c == '.') {
                d->state = DS_DOT;
                continue;
            }
            /* an ordinary first octet: handled as in DS_MID */
            /* fall through */
        case DS_MID:
            if (c == '\n') {
                *outlen = o;
                *used = i + 1;
                return DATA_BARE;
            }
            if (c == '\r') {
                d->state = DS_CR;
                continue;
            }
            d->state = DS_MID;
            data_octet(d, c, out, &o);
            break;
        case DS_CR:
            if (c != '\n') {
                *outlen = o;
                *used = i + 1;
                return DATA_BARE;
            }
            data_eol(d, out, &o);
            break;
        case DS_DOT:
            if (c == '\r') {
                d->state = DS_DOTCR;
                continue;
            }
            if (c == '\n') {
                *outlen = o;
                *used = i + 1;
                return DATA_BARE;
            }
            /* a stuffed dot: drop it (§4.5.2); c starts the line's content */
            d->state = DS_MID;
            data_octet(d, c, out, &o);
            break;
        case DS_DOTCR:
            *outlen = o;
            *used = i + 1;
            return c == '\n' ? DATA_END : DATA_BARE;
        }
        if (d->size > MESSAGE_MAX) {
            d->too_big = 1;
        }
    }
    *outlen = o;
    *used = n;
    return DATA_MORE;
}

int smtp_plain_split(const char *msg, size_t n, const char **user, size_t *ulen,
                     const char **pass, size_t *plen)
{
    const char *z1 = memchr(msg, '\0', n), *z2;
    size_t zl, ul;
    if (!z1) {
        return -1;
    }
    zl = (size_t)(z1 - msg);
    z2 = memchr(z1 + 1, '\0', n - zl - 1);
    if (!z2) {
        return -1;
    }
    ul = (size_t)(z2 - z1 - 1);
    *user = z1 + 1;
    *ulen = ul;
    *pass = z2 + 1;
    *plen = n - zl - 1 - ul - 1;
    if (ul == 0 || ul > AUTH_FIELD_MAX || *plen == 0 || *plen > AUTH_FIELD_MAX
        || memchr(*pass, '\0', *plen)) {
        return -1;
    }
    if (zl > 0 && (zl != ul || memcmp(msg, *user, ul) != 0)) {
        return -1;
    }
    return 0;
}

void smtp_sanitize(const char *in, size_t n, char *out, size_t cap)
{
    size_t i;
    if (cap == 0) {
        return;
    }
    for (i = 0; i < n && i < cap - 1; i++) {
        unsigned char c = (unsigned char)in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || strchr("-._:[]", c) != NULL;
        out[i] = (ok && c != '\0') ? (char)c : '?';
    }
    out[i] = '\0';
}

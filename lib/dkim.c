/* dkim.c: DKIM canonicalization, header fields and selection, tag-lists (RFC 6376) */
#include "dkim.h"

#include "addr.h"
#include "idna.h"
#include "str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const dkim_sign_names[] = {
    "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
    "resent-to", "resent-cc", "in-reply-to", "references", "list-id", "list-help",
    "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
    "message-id", "mime-version", "content-type", "content-transfer-encoding", NULL
};

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ---- header canonicalization ---- */

void dkim_canon_header(const char *f, size_t n, int crlf, dkim_out_fn *out, void *ctx)
{
    char buf[256];
    size_t i, k = 0;
    int wsp = 0, started = 0, in_name = 1;

    for (i = 0; i < n; i++) {
        char c = f[i];
        if (c == '\r' || c == '\n') {
            continue;               /* unfolding; the final line end goes too */
        }
        if (is_wsp(c)) {
            wsp = 1;
            continue;
        }
        if (k + 3 > sizeof buf) {
            out(ctx, buf, k);
            k = 0;
        }
        if (in_name && c == ':') {
            buf[k++] = ':';         /* no WSP on either side of the colon */
            in_name = 0;
            started = 0;
            wsp = 0;
            continue;
        }
        if (wsp && started) {
            buf[k++] = ' ';         /* a WSP run as one SP (only in a malformed name) */
        }
        wsp = 0;
        started = 1;
        buf[k++] = in_name ? lower(c) : c;
    }
    if (crlf) {
        if (k + 2 > sizeof buf) {
            out(ctx, buf, k);
            k = 0;
        }
        buf[k++] = '\r';
        buf[k++] = '\n';
    }
    out(ctx, buf, k);
}

/* ---- body canonicalization ---- */

void dkim_body_init(struct dkim_body *b, dkim_out_fn *out, void *ctx)
{
    memset(b, 0, sizeof *b);
    b->out = out;
    b->ctx = ctx;
}

static void body_put(struct dkim_body *b, const char *p, size_t n)
{
    if (n > sizeof b->buf - b->n) {
        b->out(b->ctx, b->buf, b->n);
        b->n = 0;
    }
    memcpy(b->buf + b->n, p, n);
    b->n += n;
}

/* An octet that is not WSP and not a line end: the empty lines before it were not the last. */
static void body_octet(struct dkim_body *b, char c)
{
    if (!b->content) {
        for (; b->blank > 0; b->blank--) {
            body_put(b, "\r\n", 2);
        }
        b->content = 1;
    }
    if (b->wsp) {
        body_put(b, " ", 1);
        b->wsp = 0;
    }
    body_put(b, &c, 1);
}

static void body_eol(struct dkim_body *b)
{
    if (b->content) {
        body_put(b, "\r\n", 2);
    } else {
        b->blank++;
    }
    b->content = 0;
    b->wsp = 0;
}

void dkim_body_update(struct dkim_body *b, const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (b->cr) {
            b->cr = 0;
            if (c == '\n') {
                body_eol(b);
                continue;
            }
            body_octet(b, '\r');
        }
        if (c == '\r') {
            b->cr = 1;
        } else if (c == '\n') {
            body_eol(b);
        } else if (is_wsp(c)) {
            b->wsp = 1;
        } else {
            body_octet(b, c);
        }
    }
}

void dkim_body_final(struct dkim_body *b)
{
    if (b->cr) {
        b->cr = 0;
        body_octet(b, '\r');
    }
    if (b->content) {
        body_put(b, "\r\n", 2);
        b->content = 0;
    }
    if (b->n > 0) {
        b->out(b->ctx, b->buf, b->n);
        b->n = 0;
    }
}

/* ---- header fields ---- */

int dkim_header_end(const char *msg, size_t n, size_t *hlen, size_t *body)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(msg + i, '\n', n - i);
        size_t len;
        if (!nl) {
            break;
        }
        len = (size_t)(nl - (msg + i));
        if (len == 0 || (len == 1 && msg[i] == '\r')) {
            *hlen = i;
            *body = i + len + 1;
            return 1;
        }
        i += len + 1;
    }
    *hlen = n;
    *body = n;
    return 0;
}

long dkim_fields(const char *h, size_t n, struct dkim_field *f, size_t max)
{
    size_t i = 0, nf = 0;
    while (i < n) {
        const char *nl = memchr(h + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - h) + 1 : n;
        if (is_wsp(h[i]) && nf > 0) {
            f[nf - 1].len = end - f[nf - 1].off;        /* a continuation line */
        } else if (!is_wsp(h[i])) {
            size_t k = i;
            if (nf == max) {
                errno = E2BIG;
                return -1;
            }
            while (k < end && h[k] != ':' && !is_wsp(h[k]) && h[k] != '\r' && h[k] != '\n') {
                k++;
            }
            f[nf].off = i;
            f[nf].len = end - i;
            f[nf].namelen = k - i;
            nf++;
        }
        i = end;
    }
    return (long)nf;
}

int dkim_field_is(const char *h, const struct dkim_field *f, const char *name)
{
    return str_eq_nocase(h + f->off, f->namelen, name);
}

long dkim_select(const char *h, const struct dkim_field *f, size_t nf, const char *name,
                 size_t k)
{
    size_t i = nf;
    while (i > 0) {
        i--;
        if (dkim_field_is(h, &f[i], name)) {
            if (k == 0) {
                return (long)i;
            }
            k--;
        }
    }
    return -1;
}

/* ---- tag-list ---- */

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_fws(char c)
{
    return is_wsp(c) || c == '\r' || c == '\n';
}

/* VALCHAR (§3.2): %x21-3A / %x3C-7E */
static int is_valchar(char c)
{
    unsigned char u = (unsigned char)c;
    return u >= 0x21 && u <= 0x7e && u != ';';
}

int dkim_tags_parse(const char *v, size_t n, struct dkim_tags *t)
{
    size_t i = 0;
    t->n = 0;
    while (i < n) {
        struct dkim_tag *g;
        size_t k;
        while (i < n && is_fws(v[i])) {
            i++;
        }
        if (i == n) {
            break;                  /* a trailing ';' (and FWS) is allowed */
        }
        if (!is_alpha(v[i]) || t->n == DKIM_TAGS_MAX) {
            goto bad;
        }
        g = &t->t[t->n];
        g->name = v + i;
        while (i < n && (is_alpha(v[i]) || (v[i] >= '0' && v[i] <= '9') || v[i] == '_')) {
            i++;
        }
        g->namelen = (size_t)(v + i - g->name);
        while (i < n && is_fws(v[i])) {
            i++;
        }
        if (i == n || v[i] != '=') {
            goto bad;
        }
        i++;
        while (i < n && is_fws(v[i])) {
            i++;
        }
        g->value = v + i;
        g->valuelen = 0;
        while (i < n && v[i] != ';') {
            if (!is_valchar(v[i]) && !is_fws(v[i])) {
                goto bad;
            }
            i++;
            if (!is_fws(v[i - 1])) {
                g->valuelen = (size_t)(v + i - g->value);     /* up to the last tval */
            }
        }
        for (k = 0; k < t->n; k++) {
            if (t->t[k].namelen == g->namelen && memcmp(t->t[k].name, g->name, g->namelen) == 0) {
                goto bad;
            }
        }
        t->n++;
        if (i < n) {
            i++;                    /* the ';' */
        }
    }
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

const struct dkim_tag *dkim_tag_find(const struct dkim_tags *t, const char *name)
{
    size_t i, len = strlen(name);
    for (i = 0; i < t->n; i++) {
        if (t->t[i].namelen == len && memcmp(t->t[i].name, name, len) == 0) {
            return &t->t[i];
        }
    }
    return NULL;
}

/* Copy a tag's value into out[0..cap) without FWS; -1 if absent (required) or too long. */
static int tag_copy(const struct dkim_tags *t, const char *name, char *out, size_t cap,
                    int required)
{
    const struct dkim_tag *g = dkim_tag_find(t, name);
    size_t i, k = 0;
    out[0] = '\0';
    if (!g) {
        return required ? -1 : 0;
    }
    for (i = 0; i < g->valuelen; i++) {
        if (is_fws(g->value[i])) {
            continue;
        }
        if (k + 1 >= cap) {
            return -1;
        }
        out[k++] = g->value[i];
    }
    out[k] = '\0';
    return 0;
}

int dkim_tag_copy(const struct dkim_tags *t, const char *name, char *out, size_t cap)
{
    return tag_copy(t, name, out, cap, 0);
}

static int sig_names(const struct dkim_tags *t, struct dkim_sig *s)
{
    const struct dkim_tag *g = dkim_tag_find(t, "h");
    size_t i = 0, from = 0;
    if (!g) {
        return -1;
    }
    s->nh = 0;
    while (i <= g->valuelen) {
        size_t k = 0;
        while (i < g->valuelen && is_fws(g->value[i])) {
            i++;
        }
        while (i < g->valuelen && g->value[i] != ':' && !is_fws(g->value[i])) {
            if (k == DKIM_NAME_MAX || s->nh == DKIM_HNAMES_MAX) {
                return -1;
            }
            s->h[s->nh][k++] = lower(g->value[i++]);
        }
        while (i < g->valuelen && is_fws(g->value[i])) {
            i++;
        }
        if (k == 0 || (i < g->valuelen && g->value[i] != ':')) {
            return -1;              /* an empty name, or two names without ':' */
        }
        s->h[s->nh][k] = '\0';
        from += strcmp(s->h[s->nh], "from") == 0;
        s->nh++;
        i++;                        /* the ':' (or past the end) */
    }
    return from > 0 ? 0 : -1;
}

/* §6.1.1: the domain of i= (the agent's identity) must be d= or a subdomain of it. 1 ok (or
   no i=), 0 not. */
static int identity_ok(const char *i, const char *d)
{
    const char *at = strrchr(i, '@');
    char dom[SMTP_DOMAIN_MAX + 1];
    size_t n, dl = strlen(d);
    if (!i[0]) {
        return 1;
    }
    if (!at || (n = strlen(at + 1)) > SMTP_DOMAIN_MAX) {
        return 0;
    }
    memcpy(dom, at + 1, n + 1);
    str_lower(dom, n);
    return strcmp(dom, d) == 0
           || (n > dl && dom[n - dl - 1] == '.' && strcmp(dom + n - dl, d) == 0);
}

int dkim_sig_parse(const char *v, size_t n, struct dkim_sig *s)
{
    struct dkim_tags t;
    char ver[8], tbuf[24], ibuf[ADDR_MAX + 2];
    uint64_t tv = 0;

    memset(s, 0, sizeof *s);
    if (dkim_tags_parse(v, n, &t) < 0) {
        return -1;
    }
    if (tag_copy(&t, "v", ver, sizeof ver, 1) < 0 || strcmp(ver, "1") != 0
        || tag_copy(&t, "a", s->a, sizeof s->a, 1) < 0
        || tag_copy(&t, "c", s->c, sizeof s->c, 0) < 0
        || tag_copy(&t, "d", s->d, sizeof s->d, 1) < 0
        || tag_copy(&t, "s", s->s, sizeof s->s, 1) < 0
        || tag_copy(&t, "bh", s->bh, sizeof s->bh, 1) < 0
        || tag_copy(&t, "b", s->b, sizeof s->b, 1) < 0
        || tag_copy(&t, "t", tbuf, sizeof tbuf, 0) < 0
        || (tbuf[0] && str_to_u64(tbuf, strlen(tbuf), &tv) < 0)
        || tag_copy(&t, "i", ibuf, sizeof ibuf, 0) < 0
        || sig_names(&t, s) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (!s->c[0]) {
        memcpy(s->c, "simple", 7);
    }
    str_lower(s->d, strlen(s->d));
    if (!addr_domain_ok(s->d, strlen(s->d), 0) || !s->s[0] || !s->bh[0]
        || !identity_ok(ibuf, s->d)) {
        errno = EINVAL;
        return -1;
    }
    s->t = tv;
    return 0;
}

/* ---- the From domain ---- */

int dkim_from_domain(const char *f, size_t n, char *dom, size_t cap)
{
    size_t i = 0, lt = 0, gt = 0, at = 0, end, k = 0;
    int depth = 0, quoted = 0, in_angle = 0, nangle = 0, utf8 = 0;

    while (i < n && f[i] != ':') {
        i++;
    }
    if (i == n) {
        return 0;
    }
    i++;
    end = n;
    for (; i < n; i++) {
        char c = f[i];
        if (c == '\\' && (quoted || depth > 0)) {
            i++;
        } else if (quoted) {
            quoted = c != '"';
        } else if (depth > 0) {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
        } else if (c == '"') {
            quoted = 1;
        } else if (c == '(') {
            depth = 1;
        } else if (c == '<' && !in_angle) {
            in_angle = 1;
            lt = i + 1;
            nangle++;
        } else if (c == '>' && in_angle) {
            in_angle = 0;
            gt = i;
        } else if (c == ',' && !in_angle) {
            return 0;               /* a second mailbox (or an empty one: no matter) */
        } else if (c == '@' && (in_angle || nangle == 0)) {
            at = i;
        }
    }
    if (quoted || depth > 0 || in_angle || nangle > 1 || at == 0) {
        return 0;
    }
    if (nangle == 1) {
        end = gt;
        if (at < lt || at >= gt) {
            return 0;
        }
    }
    for (i = at + 1, depth = 0; i < end; i++) {
        char c = f[i];
        if (depth > 0 || c == '(') {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            i += c == '\\';
            continue;
        }
        if (is_fws(c)) {
            continue;
        }
        if (c == '"' || c == '<' || c == '>' || c == '@') {
            return 0;
        }
        if (k + 1 >= cap) {
            return 0;
        }
        dom[k++] = lower(c);
        utf8 |= (unsigned char)c >= 0x80;
    }
    dom[k] = '\0';
    /* a domain in U-labels (RFC 6532 headers) is its A-labels for DKIM and DMARC (RFC 8616
       §3, §5) */
    if (utf8) {
        char a[SMTP_DOMAIN_MAX + 1];
        int w = idna_to_ascii(dom, k, a, sizeof a);
        if (w < 0 || (size_t)w >= cap) {
            return 0;
        }
        memcpy(dom, a, (size_t)w + 1);
        k = (size_t)w;
    }
    return k > 0 && addr_domain_ok(dom, k, 0) ? 1 : 0;
}

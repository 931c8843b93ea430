/* authres.c: SPF, DKIM and DMARC of one inbound message and its Authentication-Results */
#include "authres.h"
#include "spfdns.h"
#include "str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* check_host() for the HELO identity (RFC 7208 §2.3, §2.4: postmaster@HELO); none without a
   query when HELO is not a fully qualified domain name (§2.3; §4.3 for a single label). */
static enum spf_result helo_check(const struct spf_resolver *r, struct spf_query *q,
                                  const char *helo, char *why, size_t cap)
{
    char sender[SMTP_DOMAIN_MAX + 16], name[SMTP_DOMAIN_MAX + 1];
    if (!helo[0]) {
        str_fmt(why, cap, "no HELO name");
        return SPF_NONE;
    }
    if (!spf_is_fqdn(helo) || str_fmt(name, sizeof name, "%s", helo) < 0
        || str_fmt(sender, sizeof sender, "postmaster@%s", helo) < 0) {
        str_fmt(why, cap, "the HELO name %.128s is not a fully qualified domain name", helo);
        return SPF_NONE;
    }
    str_lower(name, strlen(name));
    q->sender = sender;
    return spf_check(r, q, name, why, cap);
}

void authres_spf(const struct authres_in *in, const struct spf_resolver *r,
                 struct authres_out *o)
{
    struct spf_query q;
    const char *at;

    memset(o, 0, sizeof *o);
    q.ip = *in->ip;
    q.helo = in->helo;
    if (!in->sender[0]) {
        /* §2.4: for <> the MAIL FROM identity is postmaster@HELO, the HELO check itself */
        str_fmt(o->spf_domain, sizeof o->spf_domain, "%s", in->helo);
        str_lower(o->spf_domain, strlen(o->spf_domain));
        o->spf = helo_check(r, &q, in->helo, o->spf_why, sizeof o->spf_why);
        return;
    }
    at = strrchr(in->sender, '@');
    str_fmt(o->spf_domain, sizeof o->spf_domain, "%s", at ? at + 1 : "");
    str_lower(o->spf_domain, strlen(o->spf_domain));
    q.sender = in->sender;
    if (!o->spf_domain[0]) {
        o->spf = SPF_NONE;
        str_fmt(o->spf_why, sizeof o->spf_why, "no domain to check");
    } else {
        o->spf = spf_check(r, &q, o->spf_domain, o->spf_why, sizeof o->spf_why);
    }
    /* §2.3: the HELO identity apart, whatever its form (none when it is not a FQDN) */
    if (in->helo[0]) {
        o->helo_checked = 1;
        o->spf_helo = helo_check(r, &q, in->helo, o->helo_why, sizeof o->helo_why);
    }
}

/* A field named name (lower case), also in the obsolete form with white space before the
   colon ("From :", RFC 5322 §4.5.2 obs-from: to be accepted when parsing, and DKIM's field
   names see it so) */
static int is_field(const char *f, size_t n, const char *name)
{
    size_t i = strlen(name);
    if (!str_start_nocase(f, n, name)) {
        return 0;
    }
    while (i < n && (f[i] == ' ' || f[i] == '\t')) {
        i++;
    }
    return i < n && f[i] == ':';
}

/* The end of the header field that starts at p: its line and continuation lines, within end. */
static const char *field_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl + 1 : end;
    while (e < end && (*e == ' ' || *e == '\t')) {
        nl = memchr(e, '\n', (size_t)(end - e));
        e = nl ? nl + 1 : end;
    }
    return e;
}

/* The length of msg's header (all of msg when it has no empty line). */
static size_t header_len(const char *msg, size_t n)
{
    size_t hlen = 0, body = 0;
    return dkim_header_end(msg, n, &hlen, &body) ? hlen : n;
}

/* What the checks read from the header before they ask anything, in one walk over it. */
struct facts {
    int from_ok;                            /* one From field with one address (§6.6.1) */
    char from[SMTP_DOMAIN_MAX + 1];         /* its domain */
    size_t nkeys;
    char keys[AUTHRES_AHEAD_KEYS][AUTHRES_NAME_MAX];    /* SELECTOR._domainkey.DOMAIN of the
                                               first DKIM-Signature fields that parse */
};

static void header_facts(const char *msg, size_t n, struct facts *h)
{
    const char *end = msg + header_len(msg, n), *p, *e;
    struct dkim_sig *sig = NULL;
    size_t nfrom = 0;

    h->from_ok = 0;
    h->nkeys = 0;
    for (p = msg; p < end; p = e) {
        const char *v;
        e = field_end(p, end);
        if (is_field(p, (size_t)(e - p), "from")) {
            if (++nfrom == 1) {
                h->from_ok = dkim_from_domain(p, (size_t)(e - p), h->from, sizeof h->from);
            }
            continue;
        }
        if (h->nkeys == AUTHRES_AHEAD_KEYS || !is_field(p, (size_t)(e - p), "dkim-signature")
            || (size_t)(e - p) > DKIM_SIG_MAX || (!sig && !(sig = malloc(sizeof *sig)))) {
            continue;
        }
        v = (const char *)memchr(p, ':', (size_t)(e - p)) + 1;   /* is_field: one is there */
        if (dkim_sig_parse(v, (size_t)(e - v), sig) == 0
            && str_fmt(h->keys[h->nkeys], AUTHRES_NAME_MAX, "%s._domainkey.%s", sig->s,
                       sig->d) == 0
            && strlen(h->keys[h->nkeys]) <= SPF_NAME_MAX) {
            h->nkeys++;
        }
    }
    free(sig);
    if (nfrom != 1 || !h->from_ok) {
        h->from_ok = 0;
        h->from[0] = '\0';
    }
}

typedef char authres_ahead_fits[AUTHRES_AHEAD_MAX <= DNS_AHEAD_MAX ? 1 : -1];

/* authres_ahead's names, from the envelope and the header's facts. */
static size_t ahead_names(const struct authres_in *in, const struct facts *h,
                          char names[AUTHRES_AHEAD_MAX][AUTHRES_NAME_MAX])
{
    const char *at = strrchr(in->sender, '@');
    size_t k = 0, i;

    if (in->sender[0] && at && at[1]) {             /* MAIL FROM's SPF record */
        str_fmt(names[k++], AUTHRES_NAME_MAX, "%s", at + 1);
    }
    if (in->helo[0] && spf_is_fqdn(in->helo)) {      /* HELO's (also for <>) */
        str_fmt(names[k++], AUTHRES_NAME_MAX, "%s", in->helo);
    }
    if (h->from_ok) {                                /* the From domain's DMARC record */
        str_fmt(names[k++], AUTHRES_NAME_MAX, "_dmarc.%s", h->from);
    }
    for (i = 0; i < h->nkeys; i++) {                 /* the first DKIM keys */
        memcpy(names[k++], h->keys[i], AUTHRES_NAME_MAX);
    }
    return k;
}

size_t authres_ahead(const struct authres_in *in, const char *msg, size_t n,
                     char names[AUTHRES_AHEAD_MAX][AUTHRES_NAME_MAX])
{
    struct facts h;

    header_facts(msg, n, &h);
    return ahead_names(in, &h, names);
}

/* DKIM and DMARC of msg[0..n) (the message as queued: LF line ends), after authres_spf (DMARC
   takes its result); h: the header's facts. now: time(NULL); rnd: 0..99 for DMARC pct. l: the
   Public Suffix List (may be empty). */
static void dkim_dmarc(const struct spf_resolver *r, struct dmarc_psl *l, const char *msg,
                       size_t n, long long now, unsigned rnd, const struct facts *h,
                       struct authres_out *o)
{
    const char *pass[DKIMV_SIGS_MAX], *temp[DKIMV_SIGS_MAX];
    struct dmarc_in di;
    size_t i, np = 0, nt = 0;

    /* DKIM */
    o->ndkim = dkimv_verify(msg, n, r, now, o->dkim, &o->dkim_more);
    /* DMARC: the one From field with one address (RFC 7489 §6.6.1) */
    o->from_ok = h->from_ok;
    memcpy(o->from, h->from, sizeof o->from);
    if (!o->from_ok) {
        o->dmarc.res = DMARC_NONE;
        return;
    }
    for (i = 0; i < o->ndkim; i++) {
        if (o->dkim[i].res == DKIMV_PASS) {
            pass[np++] = o->dkim[i].d;
        } else if (o->dkim[i].res == DKIMV_TEMPERROR && o->dkim[i].d[0]) {
            temp[nt++] = o->dkim[i].d;
        }
    }
    di.from = o->from;
    di.spf_domain = o->spf_domain;
    di.spf_pass = o->spf == SPF_PASS;
    di.dkim_pass = pass;
    di.ndkim_pass = np;
    di.spf_temp = o->spf == SPF_TEMPERROR;
    di.dkim_temp = temp;
    di.ndkim_temp = nt;
    dmarc_check(r, l, &di, rnd, &o->dmarc);
}

void authres_run(struct dns *d, const struct authres_in *in, struct dmarc_psl *l,
                 const char *msg, size_t n, long long now, unsigned rnd, struct authres_out *o)
{
    char names[AUTHRES_AHEAD_MAX][AUTHRES_NAME_MAX];
    const char *ask[AUTHRES_AHEAD_MAX];
    enum dns_type txt[AUTHRES_AHEAD_MAX];
    struct spf_resolver r;
    struct facts h;
    size_t i, k;

    header_facts(msg, n, &h);       /* one walk over the header, for both uses */
    k = ahead_names(in, &h, names);
    for (i = 0; i < k; i++) {
        ask[i] = names[i];
        txt[i] = DNS_T_TXT;
    }
    spfdns_resolver(d, &r);         /* SPF_TIMEOUT for the SPF checks */
    dns_ahead(d, ask, txt, k);
    authres_spf(in, &r, o);
    spfdns_resolver(d, &r);         /* another for the DKIM keys and DMARC records */
    dkim_dmarc(&r, l, msg, n, now, rnd, &h, o);
}

/* A reason as an RFC 8601 comment: no parentheses, backslashes or control octets. */
static int comment(struct buf *b, const char *why)
{
    char c[AUTHRES_WHY_MAX + 1];
    size_t i;
    if (!why[0]) {
        return 0;
    }
    str_fmt(c, sizeof c, "%s", why);
    for (i = 0; c[i]; i++) {
        if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f || c[i] == '(' || c[i] == ')'
            || c[i] == '\\' || (unsigned char)c[i] >= 0x80) {
            c[i] = '?';
        }
    }
    return buf_printf(b, " (%s)", c);
}

/* A mailbox as a pvalue: written whole when its local-part is a plain dot-atom. */
static int plain(const char *a)
{
    for (; *a; a++) {
        if (!((*a >= 'a' && *a <= 'z') || (*a >= 'A' && *a <= 'Z') || (*a >= '0' && *a <= '9')
              || strchr(".-_+=@", *a))) {
            return 0;
        }
    }
    return 1;
}

/* " smtp.helo=NAME": a domain name as it is, another HELO argument (an address literal) as
   a quoted-string (RFC 8601 §2.2: a pvalue is a value, RFC 2045's token or quoted-string);
   nothing for a name with octets no quoted-string carries. */
static int helo_pvalue(struct buf *b, const char *helo)
{
    size_t i;
    if (plain(helo)) {
        return buf_printf(b, " smtp.helo=%s", helo);
    }
    for (i = 0; helo[i]; i++) {
        if ((unsigned char)helo[i] < 0x20 || (unsigned char)helo[i] >= 0x7f || helo[i] == '"'
            || helo[i] == '\\') {
            return 0;
        }
    }
    return buf_printf(b, " smtp.helo=\"%s\"", helo);
}

static const char *const policy_names[] = { "none", "quarantine", "reject" };

int authres_header(struct buf *b, const struct authres_in *in, const struct authres_out *o)
{
    size_t i;
    int r = buf_printf(b, "Authentication-Results: %s;\n\tspf=%s", in->me,
                       spf_result_name(o->spf));
    if (r == 0) {
        r = comment(b, o->spf_why);
    }
    if (r == 0 && in->sender[0]) {
        const char *at = strrchr(in->sender, '@');
        r = buf_printf(b, " smtp.mailfrom=%s",
                       plain(in->sender) ? in->sender : at ? at + 1 : o->spf_domain);
    } else if (r == 0 && in->helo[0]) {
        r = helo_pvalue(b, in->helo);
    }
    if (r == 0 && o->helo_checked) {
        r = buf_printf(b, ";\n\tspf=%s", spf_result_name(o->spf_helo));
        if (r == 0) {
            r = comment(b, o->helo_why);
        }
        if (r == 0) {
            r = helo_pvalue(b, in->helo);
        }
    }
    if (r == 0 && o->ndkim == 0) {
        r = buf_printf(b, ";\n\tdkim=none (no signature)");
    }
    for (i = 0; r == 0 && i < o->ndkim; i++) {
        const struct dkimv_result *d = &o->dkim[i];
        r = buf_printf(b, ";\n\tdkim=%s", dkimv_result_name(d->res));
        if (r == 0) {
            r = comment(b, d->why);
        }
        if (r == 0 && d->d[0]) {
            r = buf_printf(b, " header.d=%s", d->d);
        }
        if (r == 0 && d->d[0] && d->s[0] && plain(d->s)) {  /* a selector is a DNS label */
            r = buf_printf(b, " header.s=%s", d->s);
        }
    }
    if (r == 0 && o->dkim_more) {
        r = buf_printf(b, " (%zu more signatures not verified)", o->dkim_more);
    }
    if (r == 0 && !o->from_ok) {
        /* SPECS §12: not DMARC-evaluable, treated as a failure for the policy (a second From:
           field is a way round a domain's policy: mail programs show one of the two) */
        r = buf_printf(b, ";\n\tdmarc=fail (not evaluable: the From field does not hold exactly "
                          "one address)");
    } else if (r == 0) {
        r = buf_printf(b, ";\n\tdmarc=%s", dmarc_result_name(o->dmarc.res));
        if (r == 0 && (o->dmarc.res == DMARC_PASS || o->dmarc.res == DMARC_FAIL
                       || o->dmarc.aligned_temp)) {
            r = buf_printf(b, " (p=%s%s%s)", policy_names[o->dmarc.policy],
                           o->dmarc.from_org ? " of the organizational domain" : "",
                           o->dmarc.aligned_temp ? ", an aligned SPF or DKIM check failed for "
                                                   "now" : "");
        }
        if (r == 0) {
            r = buf_printf(b, " header.from=%s", o->from);
        }
    }
    if (r == 0) {
        r = buf_puts(b, "\n");
    }
    return r;
}

int authres_summary(char *out, size_t cap, const struct authres_out *o)
{
    char dk[DKIMV_SIGS_MAX * (SMTP_DOMAIN_MAX + 16)] = "none";
    size_t i, k = 0;
    for (i = 0; i < o->ndkim; i++) {
        int w = snprintf(dk + k, sizeof dk - k, "%s%s:%s", i ? "," : "",
                         dkimv_result_name(o->dkim[i].res), o->dkim[i].d[0] ? o->dkim[i].d : "?");
        if (w < 0 || (size_t)w >= sizeof dk - k) {
            break;
        }
        k += (size_t)w;
    }
    return str_fmt(out, cap, "spf=%s dkim=%s dmarc=%s%s from=%s helo=%s", spf_result_name(o->spf), dk,
                   o->from_ok ? dmarc_result_name(o->dmarc.res) : "fail/unevaluable",
                   o->dmarc.res == DMARC_FAIL ? (o->dmarc.policy == DMARC_P_REJECT ? "/reject"
                                                 : o->dmarc.policy == DMARC_P_QUARANTINE
                                                     ? "/quarantine" : "/none") : "",
                   o->from_ok ? o->from : "-",
                   o->helo_checked ? spf_result_name(o->spf_helo) : "-");
}

int authres_is_ours(const char *f, size_t n, const char *me)
{
    static const char name[] = "authentication-results";
    size_t i = sizeof name - 1, s, ml = strlen(me);
    int depth = 0;

    if (n < i || strncasecmp(f, name, i) != 0) {
        return 0;
    }
    while (i < n && (f[i] == ' ' || f[i] == '\t')) {
        i++;
    }
    if (i >= n || f[i] != ':') {
        return 0;
    }
    /* CFWS, then the authserv-id (a value: token or quoted-string; ours is a plain name) */
    for (i++; i < n; i++) {
        char c = f[i];
        if (depth > 0) {
            if (c == '\\') {
                i++;
            } else {
                depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            }
        } else if (c == '(') {
            depth = 1;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            break;
        }
    }
    s = i;
    if (i < n && f[i] == '"') {
        s = ++i;
        while (i < n && f[i] != '"') {
            i++;
        }
    } else {
        while (i < n && !strchr(" \t\r\n;()", f[i])) {
            i++;
        }
    }
    return i - s == ml && ml > 0 && strncasecmp(f + s, me, ml) == 0;
}

size_t authres_strip(const char *h, size_t n, const char *me, dkim_out_fn *out, void *ctx)
{
    const char *p = h, *end = h + n;
    size_t dropped = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl + 1 : end;
        while (e < end && (*e == ' ' || *e == '\t')) {
            nl = memchr(e, '\n', (size_t)(end - e));
            e = nl ? nl + 1 : end;
        }
        if (authres_is_ours(p, (size_t)(e - p), me)) {
            dropped++;
        } else {
            out(ctx, p, (size_t)(e - p));
        }
        p = e;
    }
    return dropped;
}

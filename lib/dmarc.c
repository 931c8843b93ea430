/* dmarc.c: DMARC record parser, organizational domain, alignment and policy (RFC 7489) */
#include "dmarc.h"
#include "cfg.h"
#include "dkim.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *dmarc_result_name(enum dmarc_result r)
{
    static const char *const names[] = { "none", "pass", "fail", "temperror", "permerror" };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "permerror";
}

/* The values are quoted strings of RFC 7489 §6.4's ABNF: any case (RFC 5234 §2.3) */
static int policy(const char *v, enum dmarc_policy *p)
{
    if (strcasecmp(v, "none") == 0) {
        *p = DMARC_P_NONE;
    } else if (strcasecmp(v, "quarantine") == 0) {
        *p = DMARC_P_QUARANTINE;
    } else if (strcasecmp(v, "reject") == 0) {
        *p = DMARC_P_REJECT;
    } else {
        return -1;
    }
    return 0;
}

static int mode(const char *v, int *strict)
{
    if (!v[0] || strcasecmp(v, "r") == 0) {
        *strict = 0;
    } else if (strcasecmp(v, "s") == 0) {
        *strict = 1;
    } else {
        return -1;
    }
    return 0;
}

int dmarc_parse(const char *v, size_t n, struct dmarc_rec *r)
{
    struct dkim_tags t;
    char ver[16], p[16], sp[16], adkim[4], aspf[4], pct[8];
    uint64_t pc = 100;

    memset(r, 0, sizeof *r);
    r->pct = 100;
    /* §6.4: v=DMARC1 first, as the record's first octets */
    if (n < 7 || memcmp(v, "v=DMARC1", n < 8 ? n : 8) != 0 || dkim_tags_parse(v, n, &t) < 0
        || t.n == 0 || t.t[0].namelen != 1 || t.t[0].name[0] != 'v') {
        return -1;
    }
    if (dkim_tag_copy(&t, "v", ver, sizeof ver) < 0 || strcmp(ver, "DMARC1") != 0
        || dkim_tag_copy(&t, "p", p, sizeof p) < 0 || dkim_tag_copy(&t, "sp", sp, sizeof sp) < 0
        || policy(p, &r->p) < 0 || (sp[0] && policy(sp, &r->sp) < 0)) {
        return -1;              /* §6.6.3 step 6: no valid p= (or a bad sp=): no policy */
    }
    if (!sp[0]) {
        r->sp = r->p;
    }
    /* §6.3: "Syntax errors in the remainder of the record SHOULD be discarded in favor of
       default values": a bad adkim, aspf or pct is relaxed, relaxed, 100, and p= stands */
    if (dkim_tag_copy(&t, "adkim", adkim, sizeof adkim) < 0
        || mode(adkim, &r->adkim_strict) < 0) {
        r->adkim_strict = 0;
    }
    if (dkim_tag_copy(&t, "aspf", aspf, sizeof aspf) < 0 || mode(aspf, &r->aspf_strict) < 0) {
        r->aspf_strict = 0;
    }
    if (dkim_tag_copy(&t, "pct", pct, sizeof pct) == 0 && pct[0]
        && str_to_u64(pct, strlen(pct), &pc) == 0 && pc <= 100) {
        r->pct = (unsigned)pc;
    }
    return 0;
}

/* ---- the Public Suffix List ---- */

/* FNV-1a: the rules go into an open-addressing table, built in one pass. Sorting the list
   for bsearch cost ~10 ms per message under musl's qsort (smoothsort over strcmp): most of
   smtpd's CPU on port 25 with the checks on. */
static size_t rule_hash(const char *s)
{
    return (size_t)str_fnv64(s, strlen(s));
}

int dmarc_psl_rules(char *text, size_t n, int (*fn)(void *ctx, const char *rule, size_t len),
                    void *ctx)
{
    size_t i = 0;
    int r;

    while (i < n) {
        char *nl = memchr(text + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - text) : n, e = i;
        if (!nl) {
            break;              /* a list cut at DMARC_PSL_MAX: its partial last line */
        }
        if (!(end - i >= 2 && text[i] == '/' && text[i + 1] == '/')) {
            while (e < end && text[e] != ' ' && text[e] != '\t' && text[e] != '\r') {
                e++;
            }
        }
        if (e > i) {
            text[e] = '\0';
            str_lower(text + i, e - i);
            if ((r = fn(ctx, text + i, e - i)) != 0) {
                return r;
            }
        }
        i = end + 1;
    }
    return 0;
}

static int insert(void *ctx, const char *rule, size_t len)
{
    struct dmarc_psl *l = ctx;
    size_t h;
    (void)len;
    h = rule_hash(rule) & l->mask;
    while (l->rule[h]) {                /* never full: twice the list's lines */
        h = (h + 1) & l->mask;
    }
    l->rule[h] = rule;
    l->n++;
    return 0;
}

int dmarc_psl_index(struct dmarc_psl *l, char *text, size_t n)
{
    size_t lines = 0, slots = 16;

    memset(l, 0, sizeof l[0]);
    l->text = text;
    for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + n - p))) != NULL; p++) {
        lines++;
    }
    while (slots < 2 * lines) {         /* at most half full: short probe runs */
        slots *= 2;
    }
    l->rule = calloc(slots, sizeof *l->rule);
    if (!l->rule) {
        return -1;
    }
    l->mask = slots - 1;
    return dmarc_psl_rules(text, n, insert, l);
}

char *dmarc_psl_read(const char *path, size_t *n)
{
    char *text = malloc(DMARC_PSL_MAX + 1);
    ssize_t r;

    if (!text) {
        return NULL;
    }
    /* a list cut at DMARC_PSL_MAX loses its last line only (dmarc_psl_rules) */
    if ((r = fd_read_file(path, text, DMARC_PSL_MAX + 1)) < 0) {
        int e = errno;
        free(text);
        errno = e;
        return NULL;
    }
    *n = (size_t)r;
    return text;
}

int dmarc_psl_load(struct dmarc_psl *l, const char *path)
{
    size_t n;
    char *text = dmarc_psl_read(path, &n);

    memset(l, 0, sizeof l[0]);
    if (!text) {
        return -1;
    }
    if (dmarc_psl_index(l, text, n) < 0) {
        free(text);
        l->text = NULL;
        return -1;
    }
    return 0;
}

void dmarc_psl_free(struct dmarc_psl *l)
{
    if (l->db) {
        cdbmap_close(l->db);
    }
    free(l->rule);
    free(l->text);
    memset(l, 0, sizeof l[0]);
}

int dmarc_psl_stamp(const char *path, char *out, size_t cap)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        return -1;
    }
    if (str_fmt(out, cap, "%lld.%09ld %lld %llu", (long long)st.st_mtim.tv_sec,
                (long)st.st_mtim.tv_nsec, (long long)st.st_size,
                (unsigned long long)st.st_ino) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

const char *dmarc_psl_path(const char *root, char *buf, size_t cap)
{
    const char *v = cfg_setting(root, DMARC_PSL_SETTING, buf, cap);
    return v && v[0] == '/' ? v : DMARC_PSL_PATH;
}

int dmarc_psl_cdb_open(struct cdbmap *m, const char *root, const char *path)
{
    char want[DMARC_PSL_STAMP_MAX], got[DMARC_PSL_STAMP_MAX];
    if (dmarc_psl_stamp(path, want, sizeof want) < 0
        || cdbmap_open(m, root, DMARC_PSL_CDB) < 0) {
        return -1;
    }
    if (cdbmap_find(m, DMARC_PSL_STAMP, sizeof DMARC_PSL_STAMP - 1, got, sizeof got, NULL) != 1
        || strcmp(got, want) != 0) {
        cdbmap_close(m);
        return -1;
    }
    return 0;
}

void dmarc_psl_lazy(struct dmarc_psl *l, const char *path, const char *root)
{
    memset(l, 0, sizeof l[0]);
    l->path = path;
    l->root = root;
    l->cdb.fd = -1;
}

const struct dmarc_psl *dmarc_psl_ready(struct dmarc_psl *l)
{
    if (l->path && !l->rule && !l->db) {
        const char *path = l->path;
        if (l->root && dmarc_psl_cdb_open(&l->cdb, l->root, path) == 0) {
            l->db = &l->cdb;
            return l;
        }
        if (dmarc_psl_load(l, path) < 0) {
            memset(l, 0, sizeof l[0]);
        }
    }
    return l;
}

static int has(const struct dmarc_psl *l, const char *rule)
{
    size_t h;
    if (l->db) {
        char v[2];              /* rules have empty values */
        return cdbmap_find(l->db, rule, strlen(rule), v, sizeof v, NULL) == 1;
    }
    if (l->n == 0) {
        return 0;
    }
    for (h = rule_hash(rule) & l->mask; l->rule[h]; h = (h + 1) & l->mask) {
        if (strcmp(l->rule[h], rule) == 0) {
            return 1;
        }
    }
    return 0;
}

int dmarc_orgdomain(const struct dmarc_psl *l, const char *dom, char *out, size_t cap)
{
    char rule[SMTP_DOMAIN_MAX + 3];
    const char *lab[128];
    size_t nl = 0, i, suffix = 1;       /* labels in the public suffix ("*": one) */
    const char *p = dom;

    if (strlen(dom) >= cap || strlen(dom) > SMTP_DOMAIN_MAX) {
        return -1;
    }
    while (nl < 128) {
        lab[nl++] = p;
        p = strchr(p, '.');
        if (!p) {
            break;
        }
        p++;
    }
    /* lab[i]: the name made of labels i..nl-1; the longest matching rule wins, an
       exception rule ("!") makes the suffix one label shorter than it */
    for (i = 0; i < nl; i++) {
        size_t labels = nl - i;
        str_fmt(rule, sizeof rule, "!%s", lab[i]);
        if (has(l, rule)) {
            suffix = labels - 1;
            break;
        }
        if (has(l, lab[i])) {
            suffix = labels;
            break;
        }
        if (i + 1 < nl) {
            str_fmt(rule, sizeof rule, "*.%s", lab[i + 1]);
            if (has(l, rule)) {
                suffix = labels;
                break;
            }
        }
    }
    if (suffix >= nl) {
        str_fmt(out, cap, "%s", dom);
    } else {
        str_fmt(out, cap, "%s", lab[nl - suffix - 1]);
    }
    return 0;
}

/* ---- policy ---- */

static int aligned(struct dmarc_psl *l, const char *a, const char *b, int strict)
{
    char oa[SMTP_DOMAIN_MAX + 1], ob[SMTP_DOMAIN_MAX + 1];
    if (strcasecmp(a, b) == 0) {
        return 1;
    }
    if (strict || dmarc_orgdomain(dmarc_psl_ready(l), a, oa, sizeof oa) < 0
        || dmarc_orgdomain(dmarc_psl_ready(l), b, ob, sizeof ob) < 0) {
        return 0;
    }
    return strcasecmp(oa, ob) == 0;
}

/* The one DMARC record of _dmarc.dom: 1 found; 0 none (look at the organizational domain);
   2 records that end the search with no policy (RFC 7489 §6.6.3: several, or the one without
   a valid p=); -1 temporary failure. */
static int record(const struct spf_resolver *r, const char *dom, struct dmarc_rec *rec)
{
    char name[SMTP_DOMAIN_MAX + 8], *txt;
    size_t n = 0, i, off = 0, found = 0, dmarc = 0;
    enum spf_dns rc;

    if (str_fmt(name, sizeof name, "_dmarc.%s", dom) < 0 || strlen(name) > SPF_NAME_MAX) {
        return 0;
    }
    txt = malloc(DMARC_TXT_MAX);
    if (!txt) {
        return -1;
    }
    rc = r->txt(r->ctx, name, txt, DMARC_TXT_MAX, &n);
    for (i = 0; rc == SPF_DNS_OK && i < n && off < DMARC_TXT_MAX; i++) {
        size_t l = strnlen(txt + off, DMARC_TXT_MAX - off);
        struct dmarc_rec one;
        if (l >= 8 && memcmp(txt + off, "v=DMARC1", 8) == 0) {
            dmarc++;            /* other TXT records are discarded (§6.6.3 step 2) */
        }
        if (dmarc_parse(txt + off, l, &one) == 0) {
            *rec = one;
            found++;
        }
        off += l + 1;
    }
    free(txt);
    if (rc == SPF_DNS_TEMP) {
        return -1;
    }
    return dmarc == 0 ? 0 : dmarc == 1 && found == 1 ? 1 : 2;
}

void dmarc_check(const struct spf_resolver *r, struct dmarc_psl *l,
                 const struct dmarc_in *in, unsigned rnd, struct dmarc_out *out)
{
    char org[SMTP_DOMAIN_MAX + 1];
    struct dmarc_rec rec;
    size_t i;
    int got, pass = 0;

    memset(out, 0, sizeof *out);
    got = record(r, in->from, &rec);
    if (got == 0 && dmarc_orgdomain(dmarc_psl_ready(l), in->from, org, sizeof org) == 0
        && strcmp(org, in->from) != 0) {
        got = record(r, org, &rec);
        out->from_org = 1;
    }
    if (got < 0) {
        out->res = DMARC_TEMPERROR;
        return;
    }
    if (got == 0 || got == 2) {
        out->res = DMARC_NONE;
        return;
    }
    out->policy = out->from_org ? rec.sp : rec.p;
    if (in->spf_pass && in->spf_domain && in->spf_domain[0]
        && aligned(l, in->spf_domain, in->from, rec.aspf_strict)) {
        pass = 1;
    }
    for (i = 0; !pass && i < in->ndkim_pass; i++) {
        pass = aligned(l, in->dkim_pass[i], in->from, rec.adkim_strict);
    }
    if (!pass && in->spf_temp && in->spf_domain && in->spf_domain[0]
        && aligned(l, in->spf_domain, in->from, rec.aspf_strict)) {
        out->aligned_temp = 1;
    }
    for (i = 0; !pass && !out->aligned_temp && i < in->ndkim_temp; i++) {
        out->aligned_temp = aligned(l, in->dkim_temp[i], in->from, rec.adkim_strict);
    }
    out->res = pass ? DMARC_PASS : out->aligned_temp ? DMARC_TEMPERROR : DMARC_FAIL;
    out->sampled = rnd % 100 < rec.pct;
}

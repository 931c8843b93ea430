/* spfdns.c: lib/spf's DNS functions answered by lib/dns (see spfdns.h) */
#include "spfdns.h"
#include "cfg.h"

#include <stdlib.h>
#include <string.h>

static enum spf_dns map(enum dns_result r)
{
    switch (r) {
    case DNS_FOUND:
        return SPF_DNS_OK;
    case DNS_NODATA:
        return SPF_DNS_NODATA;
    case DNS_NXDOMAIN:
        return SPF_DNS_NXDOMAIN;
    default:
        return SPF_DNS_TEMP;
    }
}

/* dns_query into a heap answer (struct dns_answer is ~20 KB; a check nests several). */
static enum dns_result ask(void *ctx, const char *name, enum dns_type t, struct dns_answer **a)
{
    *a = dns_answer_new();
    if (!*a) {
        return DNS_TEMP;
    }
    return dns_query(ctx, name, t, *a);
}

/* The text of an answer's TXT records, with a NUL each, is shorter than the answer: one
   record takes 12 octets of it besides its text. So SPF's buffer holds every record. */
typedef char spf_txt_holds_an_answer[SPF_TXT_MAX >= DNS_ANSWER_MAX ? 1 : -1];

static enum spf_dns txt(void *ctx, const char *name, char *out, size_t cap, size_t *n)
{
    return map(dns_txt(ctx, name, out, cap, n));
}

static enum spf_dns addr(void *ctx, const char *name, int v6, struct spf_ip *out, size_t max,
                         size_t *n)
{
    struct dns_answer *a;
    enum dns_result r = ask(ctx, name, v6 ? DNS_T_AAAA : DNS_T_A, &a);
    size_t i;

    *n = 0;
    for (i = 0; r == DNS_FOUND && i < a->n && *n < max; i++) {
        memset(&out[*n], 0, sizeof out[*n]);
        out[*n].v6 = v6;
        memcpy(out[*n].b, a->rr[i].addr, v6 ? 16 : 4);
        (*n)++;
    }
    dns_answer_free(a);
    return map(r);
}

/* The names of records (MX exchange, PTR target) into out, at most max; "" left out. */
static enum spf_dns names(void *ctx, const char *name, enum dns_type t,
                          char (*out)[SMTP_DOMAIN_MAX + 1], size_t max, size_t *n)
{
    struct dns_answer *a;
    enum dns_result r = ask(ctx, name, t, &a);
    size_t i;

    *n = 0;
    for (i = 0; r == DNS_FOUND && i < a->n && *n < max; i++) {
        size_t l = strlen(a->rr[i].name);   /* <= DNS_TEXT_MAX < SMTP_DOMAIN_MAX */
        if (l > 0) {
            memcpy(out[*n], a->rr[i].name, l + 1);
            (*n)++;
        }
    }
    dns_answer_free(a);
    return r == DNS_FOUND && *n == 0 ? SPF_DNS_NODATA : map(r);
}

static enum spf_dns mx(void *ctx, const char *name, char (*out)[SMTP_DOMAIN_MAX + 1],
                       size_t max, size_t *n)
{
    return names(ctx, name, DNS_T_MX, out, max, n);
}

static enum spf_dns ptr(void *ctx, const struct spf_ip *ip, char (*out)[SMTP_DOMAIN_MAX + 1],
                        size_t max, size_t *n)
{
    char q[80];

    *n = 0;
    if (dns_ptr_name(ip->b, ip->v6, q, sizeof q) < 0) {
        return SPF_DNS_TEMP;
    }
    return names(ctx, q, DNS_T_PTR, out, max, n);
}

void spfdns_resolver(struct dns *d, struct spf_resolver *r)
{
    unsigned long s = cfg_num("SPF_TIMEOUT", SPF_TIME_DEF);

    dns_set_budget(d, (s < 1 ? 1 : s > 60 ? 60 : s) * 1000);
    r->ctx = d;
    r->txt = txt;
    r->addr = addr;
    r->mx = mx;
    r->ptr = ptr;
}

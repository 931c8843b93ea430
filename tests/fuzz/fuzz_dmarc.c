/* fuzz_dmarc: the DMARC record parser, the organizational domain over a small Public Suffix
   List, the Authentication-Results authserv-id reader, and the names asked ahead of the checks
   (the From domain and the DKIM key names read from a header), on arbitrary bytes */
#include "authres.h"
#include "dmarc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dmarc_psl psl;

static void drop(void *ctx, const char *p, size_t n)
{
    size_t *total = ctx;
    (void)p;
    *total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char list[] = "com\nco.jp\njp\n*.kawasaki.jp\n!city.kawasaki.jp\n";
    char dom[SMTP_DOMAIN_MAX + 1], org[SMTP_DOMAIN_MAX + 1];
    struct dmarc_rec r;
    size_t total = 0, dropped;

    if (!psl.n) {
        char *t = malloc(sizeof list);
        memcpy(t, list, sizeof list);
        if (dmarc_psl_index(&psl, t, sizeof list - 1) < 0) {
            abort();
        }
    }
    if (dmarc_parse((const char *)data, size, &r) == 0
        && (r.pct > 100 || r.p > DMARC_P_REJECT || r.sp > DMARC_P_REJECT)) {
        __builtin_trap();
    }
    if (size <= SMTP_DOMAIN_MAX && !memchr(data, 0, size)) {
        memcpy(dom, data, size);
        dom[size] = '\0';
        if (dmarc_orgdomain(&psl, dom, org, sizeof org) == 0
            && (strlen(org) > strlen(dom) || strcmp(dom + strlen(dom) - strlen(org), org) != 0)) {
            __builtin_trap();       /* the organizational domain is a tail of the domain */
        }
    }
    dropped = authres_strip((const char *)data, size, "mx.example.net", drop, &total);
    if (total > size || (dropped == 0 && total != size)) {
        __builtin_trap();
    }
    {
        static const struct spf_ip ip;
        const struct authres_in in = { "mx.example.net", &ip, "mx.sender.example",
                                       "a@sender.example" };
        char names[AUTHRES_AHEAD_MAX][AUTHRES_NAME_MAX];
        size_t k = authres_ahead(&in, (const char *)data, size, names), i;
        if (k > AUTHRES_AHEAD_MAX) {
            __builtin_trap();
        }
        for (i = 0; i < k; i++) {
            if (!memchr(names[i], '\0', AUTHRES_NAME_MAX)) {
                __builtin_trap();
            }
        }
    }
    return 0;
}

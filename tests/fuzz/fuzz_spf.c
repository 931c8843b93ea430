/* fuzz_spf: check_host() on an arbitrary SPF record that every name answers (so include,
   redirect and the macros recurse on it), with A, MX and PTR answers made from the input */
#include "spf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char record[SPF_TXT_MAX];

static enum spf_dns txt(void *ctx, const char *name, char *out, size_t cap, size_t *n)
{
    size_t l = strlen(record);
    (void)ctx;
    *n = 0;
    if (strlen(name) > SPF_NAME_MAX) {
        __builtin_trap();           /* a target longer than §7.3 allows */
    }
    if (l + 1 > cap) {
        return SPF_DNS_NODATA;
    }
    memcpy(out, record, l + 1);
    *n = 1;
    return SPF_DNS_OK;
}

static enum spf_dns addr(void *ctx, const char *name, int v6, struct spf_ip *out, size_t max,
                         size_t *n)
{
    (void)ctx;
    *n = 0;
    if (max && strlen(name) % 3 == 0) {
        memset(&out[0], 0, sizeof out[0]);
        out[0].v6 = v6;
        out[0].b[0] = (unsigned char)strlen(name);
        *n = 1;
        return SPF_DNS_OK;
    }
    return strlen(name) % 3 == 1 ? SPF_DNS_NXDOMAIN : SPF_DNS_NODATA;
}

static enum spf_dns mx(void *ctx, const char *name, char (*out)[SMTP_DOMAIN_MAX + 1], size_t max,
                       size_t *n)
{
    size_t i;
    (void)ctx;
    for (i = 0; i < max && i < strlen(name) % 13; i++) {
        snprintf(out[i], SMTP_DOMAIN_MAX + 1, "mx%zu.%s", i, name);
    }
    *n = i;
    return i ? SPF_DNS_OK : SPF_DNS_NODATA;
}

static enum spf_dns ptr(void *ctx, const struct spf_ip *ip, char (*out)[SMTP_DOMAIN_MAX + 1],
                        size_t max, size_t *n)
{
    (void)ctx;
    (void)ip;
    *n = 0;
    if (max) {
        snprintf(out[0], SMTP_DOMAIN_MAX + 1, "host.example.com");
        *n = 1;
    }
    return SPF_DNS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct spf_resolver r = {NULL, txt, addr, mx, ptr};
    struct spf_query q;
    char why[256];
    size_t n = size < sizeof record - 7 ? size : sizeof record - 7;

    memcpy(record, "v=spf1 ", 7);
    memcpy(record + 7, data, n);
    record[7 + n] = '\0';
    record[strnlen(record, sizeof record)] = '\0';
    spf_ip_parse(size % 2 ? "2001:db8::1" : "192.0.2.1", &q.ip);
    q.sender = "Bob.Smith@example.com";
    q.helo = "helo.example.com";
    (void)spf_check(&r, &q, "example.com", why, sizeof why);
    return 0;
}

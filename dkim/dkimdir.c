/* dkimdir.c: the DKIM key records of the fleet's directory: names, values (mailacct, mapsync) */
#include "dkimdir.h"

#include "b64.h"
#include "dkim.h"
#include "dkimkey.h"
#include "str.h"

#include <errno.h>
#include <string.h>

int dkimdir_key(char *out, size_t cap, const char *domain, const char *sel)
{
    return sel ? str_fmt(out, cap, "%s%s/%s", DKIMDIR_PREFIX, domain, sel)
               : str_fmt(out, cap, "%s%s", DKIMDIR_PREFIX, domain);
}

int dkimdir_which(const char *key, char *domain, char *sel)
{
    size_t pl = sizeof DKIMDIR_PREFIX - 1, dl;
    const char *d = key + pl, *slash;
    if (strncmp(key, DKIMDIR_PREFIX, pl) != 0) {
        return 0;
    }
    slash = strchr(d, '/');
    dl = slash ? (size_t)(slash - d) : strlen(d);
    if (dl == 0 || dl > SMTP_DOMAIN_MAX) {
        return 0;
    }
    memcpy(domain, d, dl);
    domain[dl] = '\0';
    if (!slash) {
        return 1;
    }
    if (strlen(slash + 1) > DKIM_SELECTOR_MAX || !dkimkey_selector_ok(slash + 1)) {
        return 0;
    }
    memcpy(sel, slash + 1, strlen(slash + 1) + 1);
    return 2;
}

int dkimdir_parse(const char *val, const char *sel, char *pub, size_t pubcap,
                  unsigned char *der, size_t dercap, size_t *derlen)
{
    const char *c1 = strchr(val, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    long n;
    if (!c2 || (size_t)(c1 - val) != strlen(sel) || memcmp(val, sel, strlen(sel)) != 0
        || (size_t)(c2 - c1 - 1) >= pubcap || c2 == c1 + 1) {
        errno = EPROTO;
        return -1;
    }
    memcpy(pub, c1 + 1, (size_t)(c2 - c1 - 1));
    pub[c2 - c1 - 1] = '\0';
    n = b64_decode(c2 + 1, strlen(c2 + 1), der, dercap);
    if (n <= 0) {
        errno = EPROTO;
        return -1;
    }
    *derlen = (size_t)n;
    return 0;
}

int dkimdir_pem_body(const char *pem, size_t len, char *out, size_t cap)
{
    static const char begin[] = "-----BEGIN RSA PRIVATE KEY-----";
    static const char end[] = "-----END RSA PRIVATE KEY-----";
    const char *p = memmem(pem, len, begin, sizeof begin - 1), *e;
    size_t n = 0;
    if (!p || !(e = memmem(p, len - (size_t)(p - pem), end, sizeof end - 1))) {
        errno = EPROTO;
        return -1;
    }
    for (p += sizeof begin - 1; p < e; p++) {
        if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t') {
            continue;
        }
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '+' || *p == '/' || *p == '=')) {
            errno = EPROTO;     /* headers (Proc-Type: encrypted) or garbage: not ours */
            return -1;
        }
        if (n + 1 >= cap) {
            errno = E2BIG;
            return -1;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    if (n == 0) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* fuzz_dkimdir: the fleet's DKIM key records (dkim/dkimdir) on arbitrary bytes: the input up to
   its first LF is a record key, the rest a value. Names stay within their bounds and are what
   the key says; a parsed value's p= and DER fit their buffers; a PEM body has no armour or
   line break. */
#include "dkim.h"
#include "dkim/dkimdir.h"
#include "dkim/dkimkey.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dom[SMTP_DOMAIN_MAX + 1], sel[DKIM_SELECTOR_MAX + 1], pub[DKIMKEY_PUB_MAX];
    char body[DKIMDIR_VAL_MAX];
    unsigned char der[DKIMDIR_DER_MAX];
    const char *nl;
    char *s;
    size_t derlen = 0;
    int w;

    s = malloc(size + 1);
    if (!s) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (dkimdir_pem_body(s, size, body, sizeof body) == 0
        && (strchr(body, '\n') || strchr(body, '-') || body[0] == '\0')) {
        abort();
    }
    nl = memchr(s, '\n', size);
    if (nl) {
        s[nl - s] = '\0';
        w = dkimdir_which(s, dom, sel);
        if (w != 0 && (strlen(dom) == 0 || strlen(dom) > SMTP_DOMAIN_MAX
                       || strncmp(s, DKIMDIR_PREFIX, sizeof DKIMDIR_PREFIX - 1) != 0)) {
            abort();
        }
        if (w == 2 && !dkimkey_selector_ok(sel)) {
            abort();
        }
        if (dkimdir_parse(nl + 1, w == 2 ? sel : "y1", pub, sizeof pub, der, sizeof der,
                          &derlen) == 0 && (strlen(pub) >= sizeof pub || derlen > sizeof der)) {
            abort();
        }
    }
    free(s);
    return 0;
}

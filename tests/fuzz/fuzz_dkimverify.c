/* fuzz_dkimverify: lib/dkimverify on an arbitrary message: its DKIM-Signature fields go through
   the signature parser, the b= removal, both canonicalizations and l=; the key record every
   selector answers is the input before its first NUL octet (or a fixed 1024-bit key when there
   is none), so the key record parser and the DER reader see arbitrary bytes too. */
#include "dkimverify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed[] = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/"
    "UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2"
    "UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
static const char *key;
static size_t keylen;

static enum spf_dns txt(void *ctx, const char *name, char *out, size_t cap, size_t *n)
{
    (void)ctx;
    *n = 0;
    if (strlen(name) > SPF_NAME_MAX) {
        __builtin_trap();
    }
    if (keylen + 1 > cap) {
        return SPF_DNS_NODATA;
    }
    memcpy(out, key, keylen);
    out[keylen] = '\0';
    *n = 1;
    return SPF_DNS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct spf_resolver r = { NULL, txt, NULL, NULL, NULL };
    struct dkimv_result out[DKIMV_SIGS_MAX];
    const char *msg = (const char *)data, *nul = memchr(data, 0, size);
    size_t n = size, got, more, i;

    key = fixed;
    keylen = sizeof fixed - 1;
    if (nul) {
        key = msg;
        keylen = (size_t)(nul - msg);
        msg = nul + 1;
        n = size - keylen - 1;
    }
    got = dkimv_verify(msg, n, &r, 0, out, &more);
    if (got > DKIMV_SIGS_MAX) {
        __builtin_trap();
    }
    for (i = 0; i < got; i++) {
        if (strlen(out[i].why) >= sizeof out[i].why || strlen(out[i].d) > SMTP_DOMAIN_MAX
            || (out[i].res == DKIMV_PASS && !out[i].d[0])) {
            __builtin_trap();
        }
    }
    return 0;
}

/* dkimkey.h: a customer domain's DKIM keys on disk (ROOT/dkim/DOMAIN/), their generation
   (BearSSL, RSA-2048) and the DNS records to publish. Used by mailacct (root: makes, lists,
   removes keys) and dkim-sign (yubin-dkim: reads the key of the selector in use).

   ROOT/dkim/                 0700 yubin-dkim
   ROOT/dkim/DOMAIN/          0700 yubin-dkim
       selector               the selector signing now: one line "SELECTOR\n"  0600 yubin-dkim
       SELECTOR.key           the private key, PEM "RSA PRIVATE KEY"           0600 yubin-dkim
       SELECTOR.pub           the p= value: base64 SubjectPublicKeyInfo DER    0600 yubin-dkim
   Layout and rotation: docs/dkim.md. */
#ifndef YUBIN_DKIMKEY_H
#define YUBIN_DKIMKEY_H

#include "buf.h"

#include <stddef.h>

#define DKIMKEY_BITS        2048    /* RFC 8301 §3.2: at least 1024, 2048 recommended */
#define DKIMKEY_PEM_MAX     4096    /* a 2048-bit key in PEM is about 1.7 KB */
#define DKIMKEY_PUB_MAX     1024    /* base64 of a 2048-bit SubjectPublicKeyInfo: 392 */
#define DKIMKEY_SELECTORS   16      /* selectors of one domain listed at once */
#define DKIMKEY_TXT_CHUNK   255     /* octets of one character-string (RFC 1035 §3.3) */

/* A selector name: 1..DKIM_SELECTOR_MAX of [a-z0-9-], not starting with '-'. 1/0. */
int dkimkey_selector_ok(const char *s);
/* ROOT/dkim/DOMAIN[/NAME] into out[0..cap); -1 (ENAMETOOLONG). name NULL: the folder. */
int dkimkey_path(char *out, size_t cap, const char *root, const char *domain, const char *name);
/* The selector in use for domain into sel[0..cap): 1 found, 0 none (no key: ENOENT), -1 errno. */
int dkimkey_current(const char *root, const char *domain, char *sel, size_t cap);
/* Fleet mode: the signing selector of domain into sel[0..selcap) and its private key's DER
   (PKCS#1) into der[0..dercap) (*derlen), both from one open of ROOT/cdb/dkim.cdb, which
   mapsync compiles from etcd (dkim/dkimdir.h). 1 found; 0 the domain has no key (or the map
   is not built yet); -1 errno (EPROTO: a selector without its key, EMSGSIZE: too long). The
   caller wipes der. */
int dkimkey_fleet(const char *root, const char *domain, char *sel, size_t selcap,
                  unsigned char *der, size_t dercap, size_t *derlen);

/* A new RSA key of DKIMKEY_BITS: the private key as PEM into pem (max >= DKIMKEY_PEM_MAX) and
   the DNS p= value (base64 SubjectPublicKeyInfo) into pub[0..cap). 0 ok, -1 errno (EIO: no
   system random source). The caller wipes pem. */
int dkimkey_generate(struct buf *pem, char *pub, size_t cap);

/* The DNS records for domain, as zone-file lines ("NAME. IN TXT "..." "...""), each followed
   by "\n": the DKIM key record of selector with p=pub (split into DKIMKEY_TXT_CHUNK-octet
   strings), appended to out. 0 ok, -1 (E2BIG/ENOMEM). */
int dkimkey_record_dkim(struct buf *out, const char *domain, const char *selector,
                        const char *pub);
/* SPF: "DOMAIN. IN TXT "v=spf1 MECHS -all"", DMARC: "_dmarc.DOMAIN. IN TXT "v=DMARC1; p=none;
   rua=mailto:RUA"". */
int dkimkey_record_spf(struct buf *out, const char *domain, const char *mechs);
int dkimkey_record_dmarc(struct buf *out, const char *domain, const char *rua);

#endif

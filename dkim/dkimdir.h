/* dkimdir.h: the DKIM keys in the fleet's directory (etcd) and their compiled map, shared by
   mailacct (root: writes the records) and mapsync (yubin-sync: compiles them). Fleet mode only;
   a single node keeps its keys under ROOT/dkim/ (dkimkey.h).

   Records (schema 1, docs/fleet.md; under /yubin/dir/ so every node's role reads them):
     /yubin/dir/dkim/DOMAIN           "1 SELECTOR"                 the selector signing now
     /yubin/dir/dkim/DOMAIN/SELECTOR  "1 SELECTOR:PUB:PRIVATE"     PUB the DNS p= value, PRIVATE
                                      the base64 of the private key's DER (PKCS#1, the body of
                                      the PEM "RSA PRIVATE KEY" mailacct makes, on one line)
   ROOT/cdb/dkim.cdb (mapsync; yubin-sync:yubin-dkim 0640, replaced by rename):
     "DOMAIN"            -> SELECTOR (the signing one)
     "DOMAIN/SELECTOR"   -> the DER of that selector's private key (only the signing key) */
#ifndef YUBIN_DKIMDIR_H
#define YUBIN_DKIMDIR_H

#include "cdb/fleet.h"

#include <stddef.h>

#define DKIMDIR_PREFIX   "/yubin/dir/dkim/"
#define DKIMDIR_CDB      "dkim"          /* ROOT/cdb/dkim.cdb */
#define DKIMDIR_GROUP    "yubin-dkim"    /* the signer's group: the only other reader */
#define DKIMDIR_DER_MAX  4096            /* DER of an RSA key up to 4096 bits: ~2.4 KB */
#define DKIMDIR_VAL_MAX  (DKIM_SELECTOR_MAX + 1024 + 4 * DKIMDIR_DER_MAX / 3 + 8)

/* "/yubin/dir/dkim/DOMAIN" (sel NULL) or "/yubin/dir/dkim/DOMAIN/SELECTOR". 0 / -1. */
int dkimdir_key(char *out, size_t cap, const char *domain, const char *sel);
/* Which record key is: 1 a domain's selector record (domain filled), 2 a key record (domain
   and sel filled), 0 not a DKIM record or malformed. domain has SMTP_DOMAIN_MAX + 1 octets,
   sel DKIM_SELECTOR_MAX + 1. */
int dkimdir_which(const char *key, char *domain, char *sel);
/* A key record's value "SELECTOR:PUB:PRIVATE": sel checked against the record's selector,
   pub into pub[0..pubcap), the private key's DER into der[0..dercap) (*derlen). 0 ok, -1
   malformed (EPROTO). The caller wipes der. */
int dkimdir_parse(const char *val, const char *sel, char *pub, size_t pubcap,
                  unsigned char *der, size_t dercap, size_t *derlen);
/* The base64 body of a PEM "RSA PRIVATE KEY" (armour and line breaks taken off) into out
   (cap bytes, NUL-terminated). 0 ok, -1 (EPROTO: not that PEM, or anything but base64
   between the armour lines; E2BIG). */
int dkimdir_pem_body(const char *pem, size_t len, char *out, size_t cap);
/* mapsync (dkim/dkimmap.c): ROOT/cdb/dkim.cdb from the snapshot's records, replaced by rename (0640 group
   yubin-dkim when this process has that group, else 0600). *keys: domains with a key;
   *bad: records left out as malformed; *nogroup: the group exists but this process lacks it,
   so the signer cannot read the file (both logged by the caller). 0 / -1 errno. */
int dkimdir_write_cdb(const char *root, const struct fleet_snap *s, size_t *keys, size_t *bad,
                      int *nogroup);

#endif

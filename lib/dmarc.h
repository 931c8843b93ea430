/* dmarc.h: DMARC (RFC 7489): the policy record parser, the organizational domain from the
   Public Suffix List (Debian's publicsuffix: /usr/share/publicsuffix/public_suffix_list.dat),
   identifier alignment (§3.1) and the policy lookup and evaluation (§6.6) over the caller's
   TXT function (lib/spfdns in smtpd). Fuzzed: tests/fuzz/fuzz_dmarc.c. */
#ifndef YUBIN_DMARC_H
#define YUBIN_DMARC_H

#include "cdbmap.h"
#include "spf.h"

#include <stddef.h>

#define DMARC_PSL_PATH      "/usr/share/publicsuffix/public_suffix_list.dat"
#define DMARC_PSL_MAX       (1024 * 1024)   /* octets of the list read (Debian's: ~230 KB) */
#define DMARC_TXT_MAX       4096            /* octets of the TXT records of one _dmarc name */
#define DMARC_PSL_CDB       "psl"           /* ROOT/cdb/psl.cdb: the list compiled by mkmaps */
#define DMARC_PSL_STAMP     "#stamp"        /* its key for the source's stamp (no rule has #) */
#define DMARC_PSL_STAMP_MAX 96
#define DMARC_PSL_SETTING   "PSL_FILE"      /* ROOT/etc/env/PSL_FILE: another list file */

enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

struct dmarc_rec {
    enum dmarc_policy p, sp;    /* sp = p when absent (§6.3) */
    int adkim_strict, aspf_strict;
    unsigned pct;               /* 0..100, 100 when absent */
};

/* Parse a record v[0..n) (§6.3): starts with v=DMARC1; p= required and known, sp= known
   when present (else -1: §6.6.3 step 6, no policy); a bad adkim, aspf or pct takes its
   default (relaxed, relaxed, 100: §6.3, "syntax errors in the remainder of the record SHOULD
   be discarded in favor of default values"); other tags ignored. 0 ok, -1 not a valid record. */
int dmarc_parse(const char *v, size_t n, struct dmarc_rec *r);

/* The Public Suffix List: its rules in a hash table (open addressing, at most half full), or
   ROOT/cdb/psl.cdb, the same rules compiled by mkmaps (mapsio_write_psl). */
struct dmarc_psl {
    char *text;                 /* the list, its rule lines NUL-terminated in place */
    const char **rule;          /* mask + 1 slots pointing into text, NULL when empty */
    size_t mask;                /* slots - 1 (a power of two, >= twice the list's lines) */
    size_t n;                   /* rules in the table */
    const char *path;           /* dmarc_psl_lazy: read on first need (dmarc_check) */
    const char *root;           /* dmarc_psl_lazy: ROOT of cdb/psl.cdb, or NULL */
    struct cdbmap cdb;
    struct cdbmap *db;          /* &cdb once psl.cdb is open and current, else NULL */
};
/* Call fn for every rule of text[0..n) (a line's first word, lower-cased and NUL-terminated
   in place; "//" comments and a last line without its newline skipped). 0 done, else fn's
   first non-zero return. */
int dmarc_psl_rules(char *text, size_t n, int (*fn)(void *ctx, const char *rule, size_t len),
                    void *ctx);
/* Index the list text[0..n) (taken over: freed by dmarc_psl_free). 0 ok, -1 out of memory. */
int dmarc_psl_index(struct dmarc_psl *l, char *text, size_t n);
/* Read the list file at path (at most DMARC_PSL_MAX octets) into a malloc'd buffer; its
   length in *n. NULL (errno) when unreadable or out of memory. */
char *dmarc_psl_read(const char *path, size_t *n);
/* Read and index path (DMARC_PSL_PATH). 0 ok, -1 (errno) unreadable: then every domain's
   organizational domain is its last two labels. */
int dmarc_psl_load(struct dmarc_psl *l, const char *path);
void dmarc_psl_free(struct dmarc_psl *l);
/* "MTIME.NSEC SIZE INODE" of the list file at path into out[cap]: psl.cdb records it under
   DMARC_PSL_STAMP and is used only while the file still matches. 0 ok, -1 (errno). */
int dmarc_psl_stamp(const char *path, char *out, size_t cap);
/* The list file the installation at root uses: the setting PSL_FILE when it is an absolute
   path (cfg_setting: smtpd's environment, or ROOT/etc/env/PSL_FILE for authcheck and the maps'
   builds; into buf[cap]), else DMARC_PSL_PATH. All of them ask it, so they agree on the file
   psl.cdb is compiled from and checked against. */
const char *dmarc_psl_path(const char *root, char *buf, size_t cap);
/* Open ROOT/cdb/psl.cdb into m if it holds the stamp of the list file at path as it is now.
   0 open (the caller closes m), -1 missing, unreadable or compiled from another file. */
int dmarc_psl_cdb_open(struct cdbmap *m, const char *root, const char *path);
/* An empty list that dmarc_check reads the first time it needs it: only a From domain
   without its own record, or a relaxed alignment of two different names, does. With root,
   ROOT/cdb/psl.cdb answers when its stamp matches path (a few cdb lookups); otherwise path is
   read and indexed (about 1-1.5 ms for Debian's list). */
void dmarc_psl_lazy(struct dmarc_psl *l, const char *path, const char *root);
/* l, read now when it is lazy and not read yet (an unreadable list stays empty). */
const struct dmarc_psl *dmarc_psl_ready(struct dmarc_psl *l);
/* The organizational domain of dom (lower case, no final dot) into out[cap] (§3.2: the public
   suffix and one label more; dom itself when it is a public suffix). l may be empty (n 0):
   the default rule "*" then makes it the last two labels. 0 ok, -1 too long. */
int dmarc_orgdomain(const struct dmarc_psl *l, const char *dom, char *out, size_t cap);

enum dmarc_result { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
const char *dmarc_result_name(enum dmarc_result r);

/* The facts one evaluation takes. */
struct dmarc_in {
    const char *from;                   /* the From domain (lower case) */
    const char *spf_domain;             /* the MAIL FROM domain (or HELO for <>) */
    int spf_pass;
    const char *const *dkim_pass;       /* d= of the signatures that passed */
    size_t ndkim_pass;
    int spf_temp;                       /* the SPF check of spf_domain ended in temperror */
    const char *const *dkim_temp;       /* d= of the signatures that ended in temperror */
    size_t ndkim_temp;
};

struct dmarc_out {
    enum dmarc_result res;
    enum dmarc_policy policy;           /* p or sp that applies (result fail or pass) */
    int sampled;                        /* pct said: apply the policy to this message */
    int from_org;                       /* the record was the organizational domain's */
    int aligned_temp;                   /* temperror: no aligned pass, but an aligned check
                                           ended in temperror (a later attempt may pass) */
};

/* §6.6.3: the record of _dmarc.FROM, else of _dmarc.ORGDOMAIN (with sp=); alignment; pct
   by rnd (0..99, the caller's random number). No aligned pass, but an SPF or DKIM check of an
   aligned domain that ended in temperror: DMARC_TEMPERROR (aligned_temp, policy set), not a
   failure, since the same message may pass when the DNS answers (a DNS failure never makes
   mail be refused). */
void dmarc_check(const struct spf_resolver *r, struct dmarc_psl *l,
                 const struct dmarc_in *in, unsigned rnd, struct dmarc_out *out);

#endif

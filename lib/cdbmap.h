/* cdbmap.h: lookups in ROOT/cdb/NAME.cdb (tinycdb). Each open sees the newest file, so a map
   replaced by rename is live for the next lookup or session. */
#ifndef YUBIN_CDBMAP_H
#define YUBIN_CDBMAP_H

#include <cdb.h>
#include <stddef.h>

struct cdbmap {
    int fd;          /* -1 when closed */
    struct cdb cdb;
};

/* Open ROOT/cdb/NAME.cdb. 0 ok; -1 error (errno; ENOENT if the map was never built). */
int cdbmap_open(struct cdbmap *m, const char *root, const char *name);
/* Find key; copy the value into out (NUL-terminated) and its length into *outlen.
   1 found, 0 absent, -1 error (errno EMSGSIZE if the value does not fit cap-1). */
int cdbmap_find(struct cdbmap *m, const char *key, size_t klen, char *out, size_t cap,
                size_t *outlen);
void cdbmap_close(struct cdbmap *m);
/* open + find + close. */
int cdbmap_get(const char *root, const char *name, const char *key, size_t klen, char *out,
               size_t cap, size_t *outlen);

/* Values are "key=value" words separated by one space. Copy the value of key into out.
   1 found, 0 absent, -1 value longer than cap-1. */
int cdbmap_kv_get(const char *val, const char *key, char *out, size_t cap);
/* Same for a decimal number. 1 found, 0 absent, -1 not a number. */
int cdbmap_kv_get_u64(const char *val, const char *key, unsigned long long *out);

#endif

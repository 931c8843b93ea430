/* cdbmap.c: lookups in ROOT/cdb/NAME.cdb (tinycdb) */
#include "cdbmap.h"
#include "cfg.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int cdbmap_open(struct cdbmap *m, const char *root, const char *name)
{
    char path[YUBIN_PATH_MAX];
    m->fd = -1;
    if (str_fmt(path, sizeof path, "%s/cdb/%s.cdb", root, name) < 0) {
        return -1;
    }
    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (m->fd < 0) {
        return -1;
    }
    if (cdb_init(&m->cdb, m->fd) < 0) {
        int e = errno ? errno : EINVAL;
        close(m->fd);
        m->fd = -1;
        errno = e;
        return -1;
    }
    return 0;
}

int cdbmap_find(struct cdbmap *m, const char *key, size_t klen, char *out, size_t cap,
                size_t *outlen)
{
    int r;
    unsigned len;
    if (m->fd < 0 || cap == 0) {
        errno = EBADF;
        return -1;
    }
    r = cdb_find(&m->cdb, key, (unsigned)klen);
    if (r < 0) {
        errno = EIO;
        return -1;
    }
    if (r == 0) {
        return 0;
    }
    len = cdb_datalen(&m->cdb);
    if ((size_t)len >= cap) {
        errno = EMSGSIZE;
        return -1;
    }
    if (cdb_read(&m->cdb, out, len, cdb_datapos(&m->cdb)) < 0) {
        errno = EIO;
        return -1;
    }
    out[len] = '\0';
    if (outlen) {
        *outlen = len;
    }
    return 1;
}

void cdbmap_close(struct cdbmap *m)
{
    if (m->fd >= 0) {
        cdb_free(&m->cdb);
        close(m->fd);
        m->fd = -1;
    }
}

int cdbmap_get(const char *root, const char *name, const char *key, size_t klen, char *out,
               size_t cap, size_t *outlen)
{
    struct cdbmap m;
    int r, e;
    if (cdbmap_open(&m, root, name) < 0) {
        return -1;
    }
    r = cdbmap_find(&m, key, klen, out, cap, outlen);
    e = errno;
    cdbmap_close(&m);
    errno = e;
    return r;
}

int cdbmap_kv_get(const char *val, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = val;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t wlen = end ? (size_t)(end - p) : strlen(p);
        if (wlen > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = wlen - klen - 1;
            if (vlen >= cap) {
                return -1;
            }
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            return 1;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return 0;
}

int cdbmap_kv_get_u64(const char *val, const char *key, unsigned long long *out)
{
    char num[24];
    uint64_t v;
    int r = cdbmap_kv_get(val, key, num, sizeof num);
    if (r <= 0) {
        return r;
    }
    if (str_to_u64(num, strlen(num), &v) < 0) {
        return -1;
    }
    *out = v;
    return 1;
}

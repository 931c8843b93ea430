/* fleethome.c: a domain's home node from etc/fleet, cdb/homes.cdb and cdb/nodes.cdb */
#include "fleethome.h"
#include "cdbmap.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEETHOME_CONF_MAX 4096       /* etc/fleet read here; the same bound as mapsync's */

int fleethome_name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > FLEET_NODE_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int fleethome_self(const char *root, char *self, size_t cap)
{
    char path[YUBIN_PATH_MAX], text[FLEETHOME_CONF_MAX + 1];
    size_t len, i = 0;
    ssize_t got;

    self[0] = '\0';
    if (str_fmt(path, sizeof path, "%s/etc/fleet", root) < 0) {
        return -1;
    }
    got = fd_read_file(path, text, sizeof text - 1);
    if (got < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    len = (size_t)got;
    text[len] = '\0';
    /* A setting on more than one line counts by its last line, as in fleet_conf_read (mapsync,
       ratesync, mailacct: cdb/fleet.c) and the fleet's shell tools (docs/fleet.md "Modes"):
       every node= line is read, and a bad one anywhere is an error. */
    while (i < len) {
        const char *line = text + i, *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) : len - i;
        i += n + 1;
        if (n >= 5 && memcmp(line, "node=", 5) == 0) {
            const char *v = line + 5;
            size_t vn = n - 5;
            while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r')) {
                vn--;
            }
            if (!fleethome_name_ok(v, vn) || vn >= cap) {
                self[0] = '\0';
                errno = EINVAL;
                return -1;
            }
            memcpy(self, v, vn);
            self[vn] = '\0';
        }
    }
    if (self[0] == '\0') {
        errno = EINVAL;
        return -1;
    }
    return 1;
}

static int port_of(const char *val, const char *key, unsigned *out)
{
    unsigned long long p;
    if (cdbmap_kv_get_u64(val, key, &p) != 1 || p == 0 || p > 65535) {
        return -1;
    }
    *out = (unsigned)p;
    return 0;
}

int fleethome_node(const char *root, const char *name, struct fleethome_node *n)
{
    char val[MAP_VALUE_MAX];
    size_t len = strlen(name);
    int r;

    memset(n, 0, sizeof *n);
    if (!fleethome_name_ok(name, len)) {
        return 0;
    }
    r = cdbmap_get(root, "nodes", name, len, val, sizeof val, NULL);
    if (r < 0 && errno == ENOENT) {
        return 0;
    }
    if (r <= 0) {
        return r;
    }
    memcpy(n->name, name, len + 1);
    if (cdbmap_kv_get(val, "addr", n->addr, sizeof n->addr) != 1 || n->addr[0] == '\0'
        || port_of(val, "smtp", &n->smtp_port) < 0 || port_of(val, "pop3", &n->pop3_port) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 1;
}

int fleethome_get(const char *root, const char *domain, struct fleethome *h)
{
    char key[SMTP_DOMAIN_MAX + 1], val[MAP_VALUE_MAX], node[FLEET_NODE_MAX + 1], st[16];
    unsigned long long epoch;
    size_t n = strlen(domain);
    int r;

    memset(h, 0, sizeof *h);
    h->here = 1;
    r = fleethome_self(root, h->self, sizeof h->self);
    if (r <= 0) {
        return r;                   /* single-node mode: everything is homed here */
    }
    h->fleet = 1;
    if (n == 0 || n >= sizeof key) {
        return 0;
    }
    memcpy(key, domain, n + 1);
    str_lower(key, n);
    r = cdbmap_get(root, "homes", key, n, val, sizeof val, NULL);
    if (r < 0 && errno == ENOENT) {
        return 0;                   /* maps built before homes existed */
    }
    if (r <= 0) {
        return r;
    }
    if (cdbmap_kv_get(val, "node", node, sizeof node) != 1
        || cdbmap_kv_get_u64(val, "epoch", &epoch) != 1 || epoch == 0
        || cdbmap_kv_get(val, "state", st, sizeof st) != 1
        || (strcmp(st, "live") != 0 && strcmp(st, "frozen") != 0)) {
        errno = EINVAL;
        return -1;
    }
    h->recorded = 1;
    h->epoch = epoch;
    h->state = strcmp(st, "frozen") == 0 ? FLEETHOME_FROZEN : FLEETHOME_LIVE;
    r = fleethome_node(root, node, &h->node);
    if (r == 0) {
        errno = EINVAL;             /* the compiler refuses this; a hand-made map could not */
    }
    if (r <= 0) {
        return -1;
    }
    h->here = strcmp(node, h->self) == 0;
    return 1;
}

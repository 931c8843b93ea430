/* fleethome.c: a domain's home node from etc/fleet, cdb/homes.cdb and cdb/nodes.cdb */
#include "fleethome.h"
#include "cdbmap.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char conf_why[FLEET_CONF_WHY_MAX];   /* fleethome_conf_why */
/* fleethome_strerror's text when etc/fleet was the cause of the last fleethome_self failure
   ("" when it was not), and that failure's errno */
static char conf_err[YUBIN_PATH_MAX + FLEET_CONF_WHY_MAX];
static int conf_errno;

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

/* One line (n octets, not a comment nor empty), number lineno, into c. */
static int conf_line(struct fleethome_conf *c, const char *s, size_t n, unsigned lineno,
                     char *why, size_t cap)
{
    const char *eq = memchr(s, '=', n), *v;
    size_t kl, vl;
    uint64_t w;
    if (!eq) {
        snprintf(why, cap, "etc/fleet:%u: expected NAME=VALUE, got %.*s", lineno,
                 (int)(n > 60 ? 60 : n), s);
        return -1;
    }
    kl = (size_t)(eq - s);
    v = eq + 1;
    vl = n - kl - 1;
    if (kl == 4 && memcmp(s, "node", 4) == 0) {
        if (!fleethome_name_ok(v, vl)) {
            snprintf(why, cap, "etc/fleet:%u: bad node=%.*s: a node name is 1-63 of a-z 0-9 -, "
                     "and nothing may follow it on its line", lineno, (int)(vl > 60 ? 60 : vl), v);
            return -1;
        }
        memcpy(c->node, v, vl);
        c->node[vl] = '\0';
    } else if (kl == 9 && memcmp(s, "endpoints", 9) == 0) {
        if (vl == 0 || vl >= sizeof c->endpoints || memchr(v, ' ', vl) || memchr(v, '\t', vl)
            || memchr(v, '\r', vl)) {
            snprintf(why, cap, "etc/fleet:%u: bad endpoints=: URL,... without spaces, at most "
                     "%zu octets, and nothing may follow it on its line", lineno,
                     sizeof c->endpoints - 1);
            return -1;
        }
        memcpy(c->endpoints, v, vl);
        c->endpoints[vl] = '\0';
    } else if (kl == 4 && memcmp(s, "wait", 4) == 0) {
        if (str_to_u64(v, vl, &w) < 0 || w > 3600) {
            snprintf(why, cap, "etc/fleet:%u: wait= is seconds, 0 to 3600, and nothing may "
                     "follow it on its line", lineno);
            return -1;
        }
        c->wait = (unsigned)w;
    } else if (kl == 12 && memcmp(s, "copy_timeout", 12) == 0) {
        /* yubin-move's: its rsync's --timeout */
        if (str_to_u64(v, vl, &w) < 0 || w < 1 || w > 86400) {
            snprintf(why, cap, "etc/fleet:%u: copy_timeout= is seconds, 1 to 86400, and nothing "
                     "may follow it on its line", lineno);
            return -1;
        }
    } else if (!(kl == 4 && memcmp(s, "addr", 4) == 0)) {
        snprintf(why, cap, "etc/fleet:%u: unknown setting %.*s (node, endpoints, wait, "
                 "copy_timeout, addr)", lineno, (int)(kl > 60 ? 60 : kl), s);
        return -1;
    }
    return 0;
}

int fleethome_conf_parse(const char *text, size_t len, struct fleethome_conf *c, char *why,
                         size_t cap)
{
    size_t i = 0;
    unsigned lineno = 0;
    memset(c, 0, sizeof *c);
    c->wait = 10;
    if (len > FLEET_CONF_MAX) {
        snprintf(why, cap, "etc/fleet: longer than %d octets", FLEET_CONF_MAX);
        return -1;
    }
    /* a setting on more than one line counts by its last line (each line overwrites it) */
    while (i < len) {
        const char *line = text + i, *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) : len - i;
        lineno++;
        i += n + 1;
        if (n > 0 && line[0] != '#' && conf_line(c, line, n, lineno, why, cap) < 0) {
            return -1;
        }
    }
    /* a fleet node's programs need its name; its maps come from etcd (mapsync), so a file
       without the endpoints leaves the node on maps nobody updates */
    if (c->node[0] == '\0') {
        snprintf(why, cap, "etc/fleet: no node=NAME line");
        return -1;
    }
    if (c->endpoints[0] == '\0') {
        snprintf(why, cap, "etc/fleet: no endpoints=URL,... line (the etcd members mapsync "
                 "reads the maps from)");
        return -1;
    }
    return 0;
}

const char *fleethome_conf_why(void)
{
    return conf_why;
}

int fleethome_conf_read(const char *root, struct fleethome_conf *c, char *why, size_t cap)
{
    char path[YUBIN_PATH_MAX], text[FLEET_CONF_MAX + 2];   /* one more: "longer than" */
    ssize_t got;

    why[0] = '\0';
    memset(c, 0, sizeof *c);
    if (str_fmt(path, sizeof path, "%s/etc/fleet", root) < 0) {
        return -1;
    }
    got = fd_read_file(path, text, sizeof text);
    if (got < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (fleethome_conf_parse(text, (size_t)got, c, why, cap) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 1;
}

const char *fleethome_strerror(int err)
{
    return conf_err[0] && err == conf_errno ? conf_err : strerror(err);
}

int fleethome_self(const char *root, char *self, size_t cap)
{
    struct fleethome_conf c;
    int r = fleethome_conf_read(root, &c, conf_why, sizeof conf_why);

    self[0] = '\0';
    conf_err[0] = '\0';
    if (r < 0) {
        conf_errno = errno;
        if (conf_why[0]) {
            snprintf(conf_err, sizeof conf_err, "%s/%s", root, conf_why);
        } else {
            snprintf(conf_err, sizeof conf_err, "%s/etc/fleet: %s", root, strerror(errno));
        }
        errno = conf_errno;
        return -1;
    }
    if (r == 0) {
        return 0;
    }
    if (strlen(c.node) >= cap) {
        errno = ENAMETOOLONG;       /* the caller's buffer: FLEET_NODE_MAX + 1 */
        return -1;
    }
    memcpy(self, c.node, strlen(c.node) + 1);
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

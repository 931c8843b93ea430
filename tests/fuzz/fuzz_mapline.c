/* fuzz_mapline: one operator map line (first byte picks the file; nodes and homes included) through its parser, then a
   small set of maps with that line added through the whole compiler (references, implicit
   aliases, flattening) and its record emitter */
#include "../../cdb/maps.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const base[MAPS_NFILES] = {
    "mail.example.net\n",
    "demo@example.test\n",
    "basic:20M:50M:no\npremium:50M:50M:yes:200:1000\n",
    "example.test:premium\nexample2.test:basic\n",
    "demo@example.test:$6$salt$abcdefghijklmnop::\nb@example2.test:$6$salt$abcdefgh:30M:\n",
    "info@example.test: demo@example.test, b@example2.test\nteam@example.test: info@example.test\n",
    ":127.0.0.1:2525\n",
    "a:127.0.0.1:4025:4110\nb:mail-b.example.net\n",
    "example.test:b:3\nexample2.test:a:1:frozen\n",
};

static int sink(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    size_t *n = ctx;
    *n += kl + vl;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[MAPS_REASON_MAX], out[ADDR_MAX + 1];
    union {
        struct map_plan p;
        struct map_domain d;
        struct map_user u;
        struct map_alias a;
        struct map_route r;
        struct map_node nd;
        struct map_home h;
    } v;
    enum maps_file f;
    struct maps_err err;
    struct maps *m;
    const char *line;
    size_t n, total = 0;
    int i, c;

    if (size < 1) {
        return 0;
    }
    f = (enum maps_file)(data[0] % MAPS_NFILES);
    line = (const char *)data + 1;
    n = size - 1;
    switch (f) {
    case MAPS_ME: map_parse_host(line, n, out, sizeof out, why); break;
    case MAPS_ADMIN: map_parse_target(line, n, out, sizeof out, why); break;
    case MAPS_PLANS: map_parse_plan(line, n, &v.p, why); break;
    case MAPS_DOMAINS: map_parse_domain(line, n, &v.d, why); break;
    case MAPS_USERS: map_parse_user(line, n, &v.u, why); break;
    case MAPS_ALIASES: map_parse_alias(line, n, &v.a, why); break;
    case MAPS_NODES: map_parse_node(line, n, &v.nd, why); break;
    case MAPS_HOMES: map_parse_home(line, n, &v.h, why); break;
    default: map_parse_route(line, n, &v.r, why); break;
    }
    m = maps_new();
    if (!m) {
        return 0;
    }
    for (i = 0; i < MAPS_NFILES; i++) {
        const char *t = base[i];
        size_t tl = strlen(t);
        char *joined = NULL;
        if (i == (int)f && f != MAPS_ME && f != MAPS_ADMIN) {
            joined = malloc(tl + n);
            if (!joined) {
                break;
            }
            memcpy(joined, t, tl);
            memcpy(joined + tl, line, n);    /* the fuzzed text may hold several lines */
            t = joined;
            tl += n;
        } else if (i == (int)f) {
            t = line;
            tl = n;
        }
        c = maps_load(m, (enum maps_file)i, t, tl, &err);
        free(joined);
        if (c < 0) {
            maps_free(m);
            return 0;
        }
    }
    if (maps_finish(m, &err) == 0) {
        for (c = 0; c < MAPS_NCDB; c++) {
            maps_records(m, (enum maps_cdb)c, sink, &total);
        }
    }
    maps_free(m);
    return 0;
}

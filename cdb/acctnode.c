/* acctnode.c: mailacct's fleet records: nodes and domains' homes (docs/fleet.md part 2) */
#include "acctnode.h"
#include "exitcode.h"
#include "log.h"
#include "str.h"

#include <stdio.h>
#include <string.h>

#define NODE_USAGE "usage: mailacct node add NAME ADDRESS [SMTP_PORT [POP3_PORT]] | node list"

static void node_add(struct ctx *c, int argc, char **argv, int i)
{
    char line[MAP_LINE_MAX], why[MAPS_REASON_MAX];
    struct map_node nd, old;
    size_t k;
    int n = argc - i;

    if (n < 2 || n > 4) {
        die(EXIT_PERM, NODE_USAGE);
    }
    if (str_fmt(line, sizeof line, "%s:%s%s%s%s%s", argv[i], argv[i + 1], n > 2 ? ":" : "",
                n > 2 ? argv[i + 2] : "", n > 3 ? ":" : "", n > 3 ? argv[i + 3] : "") < 0) {
        die(EXIT_PERM, "node %s: too long", argv[i]);
    }
    if (map_parse_node(line, strlen(line), &nd, why) != 1) {
        die(EXIT_PERM, "node %s: %s", argv[i], why);
    }
    edit_load(c, 1);
    for (k = 0; maps_node_at(c->m, k, &old) == 1; k++) {
        if (strcmp(old.name, nd.name) == 0) {
            die(EXIT_PERM, "node %s already exists (%s:%u:%u)", nd.name, old.addr,
                old.smtp_port, old.pop3_port);
        }
    }
    if (str_fmt(line, sizeof line, "%s:%s:%u:%u", nd.name, nd.addr, nd.smtp_port,
                nd.pop3_port) < 0) {
        die(EXIT_PERM, "node %s: too long", nd.name);
    }
    edit_append(c, MAPS_NODES, line);
    edit_commit(c, 1u << MAPS_NODES, NULL, NULL);
    printf("node %s added (%s, internal SMTP %u, internal POP3 %u)\n", nd.name, nd.addr,
           nd.smtp_port, nd.pop3_port);
}

static void node_list(struct ctx *c)
{
    struct map_node nd;
    size_t k;
    edit_load(c, 0);
    for (k = 0; maps_node_at(c->m, k, &nd) == 1; k++) {
        printf("%s %s smtp=%u pop3=%u\n", nd.name, nd.addr, nd.smtp_port, nd.pop3_port);
    }
}

void acctnode_run(struct ctx *c, int argc, char **argv, int i)
{
    const char *sub = i < argc ? argv[i] : "";
    if (strcmp(sub, "add") == 0) {
        node_add(c, argc, argv, i + 1);
    } else if (strcmp(sub, "list") == 0 && i + 1 == argc) {
        node_list(c);
    } else {
        die(EXIT_PERM, NODE_USAGE);
    }
}

unsigned acctnode_home_add(struct ctx *c, const char *domain, const char *home, char *node,
                           size_t cap)
{
    char line[MAP_LINE_MAX];
    struct map_node nd;
    size_t k;
    int known = 0;

    node[0] = '\0';
    if (!home && !c->fleet) {
        return 0;                       /* one server: everything is homed here */
    }
    if (!home) {
        home = c->fc.node;
    }
    for (k = 0; maps_node_at(c->m, k, &nd) == 1; k++) {
        known |= strcmp(nd.name, home) == 0;
    }
    if (!known) {
        if (c->a.home) {
            die(EXIT_PERM, "unknown node %s (add it first: yubin-fleet node add %s ADDRESS)",
                home, home);
        }
        return 0;
    }
    if (str_fmt(line, sizeof line, "%s:%s:1:live", domain, home) < 0
        || str_fmt(node, cap, "%s", home) < 0) {
        die(EXIT_PERM, "invalid domain: too long");
    }
    edit_append(c, MAPS_HOMES, line);
    return 1u << MAPS_HOMES;
}

unsigned acctnode_home_del(struct ctx *c, const char *domain)
{
    struct map_home h;
    if (maps_home(c->m, domain, &h) != 1) {
        return 0;
    }
    edit_replace(c, MAPS_HOMES, domain, NULL);
    return 1u << MAPS_HOMES;
}

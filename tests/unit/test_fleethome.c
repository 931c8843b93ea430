/* test_fleethome: the fleet's node and home lines (cdb/mapline.c), their compiled records,
   and lib/fleethome answering from a mail root's etc/fleet and cdbs */
#include "t.h"
#include "../../cdb/maps.h"
#include "../../cdb/fleet.h"
#include "../../cdb/mapsio.h"
#include "fleethome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct line_case {
    const char *line;
    int want;
    const char *name;
};

static void test_lines(void)
{
    static const struct line_case nodes[] = {
        { "b:10.0.0.2:4025:4110", 1, "full node line" },
        { "b:10.0.0.2", 1, "default ports" },
        { "node-7:mail-b.example.net:2526", 1, "host name, SMTP port only" },
        { "# c:10.0.0.3", 0, "comment" },
        { "B:10.0.0.2", -1, "upper-case name" },
        { "b_1:10.0.0.2", -1, "underscore in the name" },
        { ":10.0.0.2", -1, "empty name" },
        { "b:", -1, "empty address" },
        { "b:[::1]:4025", -1, "IPv6 is not a node address" },
        { "b:10.0.0.2:0", -1, "port 0" },
        { "b:10.0.0.2:65536", -1, "port past 65535" },
        { "b:10.0.0.2:4025:4025", -1, "the same port twice" },
        { "b:10.0.0.2:1:2:3", -1, "too many fields" },
        { "b:10.0.0.2\r", -1, "carriage return" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:10.0.0.2", -1,
          "64-octet name" },
    };
    static const struct line_case homes[] = {
        { "example.test:b:1", 1, "home, live by default" },
        { "Example.TEST:b:12:frozen", 1, "frozen, domain lower-cased" },
        { "example.test:b:3:live", 1, "explicit live" },
        { "example.test:b:0", -1, "epoch 0" },
        { "example.test:b:x", -1, "epoch not a number" },
        { "example.test:b:1000000000001", -1, "epoch past the bound" },
        { "example.test:b:1:moving", -1, "unknown state" },
        { "example.test:b", -1, "no epoch" },
        { "example:b:1", -1, "domain without a dot" },
        { "example.test:B:1", -1, "bad node name" },
    };
    char why[MAPS_REASON_MAX];
    struct map_node nd;
    struct map_home h;
    size_t i;
    for (i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        int r = map_parse_node(nodes[i].line, strlen(nodes[i].line), &nd, why);
        T_CHECK(r == nodes[i].want, "node line: %s (got %d%s%s)", nodes[i].name, r,
                r < 0 ? ": " : "", r < 0 ? why : "");
    }
    for (i = 0; i < sizeof homes / sizeof homes[0]; i++) {
        int r = map_parse_home(homes[i].line, strlen(homes[i].line), &h, why);
        T_CHECK(r == homes[i].want, "home line: %s (got %d%s%s)", homes[i].name, r,
                r < 0 ? ": " : "", r < 0 ? why : "");
    }
    map_parse_node("b:10.0.0.2", 10, &nd, why);
    T_CHECK(nd.smtp_port == FLEET_SMTP_PORT && nd.pop3_port == FLEET_POP3_PORT
            && strcmp(nd.addr, "10.0.0.2") == 0, "node defaults");
    map_parse_home("Example.TEST:b:12:frozen", 24, &h, why);
    T_CHECK(h.epoch == 12 && h.frozen && strcmp(h.domain, "example.test") == 0, "home fields");
}

/* A mail root with etc/ texts compiled into cdb/ by the maps code, as mkmaps does. */
static int make_root(char *dir, const char *nodes, const char *homes, const char *fleet)
{
    struct maps_src src;
    struct maps_err err;
    struct maps *m;
    char path[512];
    static const char *const names[] = { "plans", "domains", "nodes", "homes", "me" };
    const char *texts[] = { "basic:20M:50M:no\n", "a.test:basic\nb.test:basic\nc.test:basic\n",
                            nodes, homes, "mail.test\n" };
    size_t i;
    FILE *f;
    if (!mkdtemp(dir)) {
        return -1;
    }
    snprintf(path, sizeof path, "%s/etc", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/cdb", dir);
    mkdir(path, 0755);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/etc/%s", dir, names[i]);
        f = fopen(path, "w");
        fputs(texts[i], f);
        fclose(f);
    }
    if (fleet) {
        snprintf(path, sizeof path, "%s/etc/fleet", dir);
        f = fopen(path, "w");
        fputs(fleet, f);
        fclose(f);
    }
    if (mapsio_read(dir, &src) < 0) {
        return -1;
    }
    m = mapsio_compile(&src, &err);
    mapsio_src_free(&src);
    if (!m) {
        printf("# compile: %s\n", err.reason);
        return -1;
    }
    i = (size_t)mapsio_write_cdbs(dir, m, NULL);
    maps_free(m);
    return (int)i;
}

static void rm_root(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        printf("# unable to remove %s\n", dir);
    }
}

static void test_fleethome(void)
{
    char dir[] = "/tmp/yubin-fleethome-XXXXXX", one[] = "/tmp/yubin-fleethome-XXXXXX";
    struct fleethome h;
    struct fleethome_node n;
    char self[FLEET_NODE_MAX + 1];
    int r;

    T_CHECK(make_root(dir, "a:127.0.0.1:4025:4110\nb:10.0.0.2:5025:5110\n",
                      "a.test:a:1\nb.test:b:7:frozen\n",
                      "endpoints=https://127.0.0.1:2379\nnode=a\nwait=10\n") == 0, "fleet root");
    T_EQ_INT(fleethome_self(dir, self, sizeof self), 1, "fleet mode");
    T_EQ_STR(self, "a", "this node's name");
    r = fleethome_get(dir, "A.test", &h);
    T_CHECK(r == 1 && h.here && h.fleet && h.epoch == 1 && h.state == FLEETHOME_LIVE,
            "a domain homed here (any case)");
    r = fleethome_get(dir, "b.test", &h);
    T_CHECK(r == 1 && !h.here && h.epoch == 7 && h.state == FLEETHOME_FROZEN
            && strcmp(h.node.name, "b") == 0 && strcmp(h.node.addr, "10.0.0.2") == 0
            && h.node.smtp_port == 5025 && h.node.pop3_port == 5110,
            "a domain homed on b: its address, ports, epoch and state");
    r = fleethome_get(dir, "c.test", &h);
    T_CHECK(r == 0 && h.here && !h.recorded, "no home record: served here");
    T_EQ_INT(fleethome_node(dir, "b", &n), 1, "node record");
    T_EQ_INT(fleethome_node(dir, "zz", &n), 0, "unknown node");
    T_EQ_INT(fleethome_node(dir, "../x", &n), 0, "a name that cannot be a node");
    rm_root(dir);

    T_CHECK(make_root(one, "", "", NULL) == 0, "single-node root");
    T_EQ_INT(fleethome_self(one, self, sizeof self), 0, "single-node mode");
    r = fleethome_get(one, "b.test", &h);
    T_CHECK(r == 0 && h.here && !h.fleet, "single-node: everything is homed here");
    rm_root(one);

    memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
    T_CHECK(make_root(one, "", "", "endpoints=x\nnode=Bad_Name\n") == 0, "root with a bad node=");
    errno = 0;
    T_CHECK(fleethome_get(one, "b.test", &h) == -1 && errno == EINVAL,
            "a bad node= line is an error, not single-node mode");
    rm_root(one);

    /* node= twice (a corrected line appended): the last counts, as for mapsync and the
       shell tools; a bad node= line anywhere is an error */
    memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
    T_CHECK(make_root(one, "", "", "node=b\nendpoints=x\nwait=10\nnode=a\n") == 0,
            "root with node= twice");
    T_EQ_INT(fleethome_self(one, self, sizeof self), 1, "node= twice: fleet mode");
    T_EQ_STR(self, "a", "node= twice: the last line counts");
    rm_root(one);
    memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
    T_CHECK(make_root(one, "", "", "node=a\nendpoints=x\nnode=Bad_Name\n") == 0,
            "root with a good node= and a bad one after it");
    errno = 0;
    T_CHECK(fleethome_self(one, self, sizeof self) == -1 && errno == EINVAL,
            "a bad node= line after a good one is an error");
    rm_root(one);

    /* the one rule of every reader (fleet_conf_read is built on it): trailing spaces or a
       comment after a value are refused, by line number */
    {
        static const char *const bad[][2] = {
            { "node=a   \nendpoints=x\n",
              "etc/fleet:1: bad node=a   : a node name is 1-63 of a-z 0-9 -, and nothing may "
              "follow it on its line" },
            { "# c\nendpoints=x\nnode=a # x\n",
              "etc/fleet:3: bad node=a # x: a node name is 1-63 of a-z 0-9 -, and nothing may "
              "follow it on its line" },
            { "node=a\nendpoints=x # y\n",
              "etc/fleet:2: bad endpoints=: URL,... without spaces, at most 1023 octets, and "
              "nothing may follow it on its line" },
            { "node=a\nendpoints=x\nwait=10 \n",
              "etc/fleet:3: wait= is seconds, 0 to 3600, and nothing may follow it on its line" },
            { "node=a\nnodes=b\n", "etc/fleet:2: unknown setting nodes (node, endpoints, "
              "wait, copy_timeout, addr)" },
            { "node=a\ncopy_timeout=0\n", "etc/fleet:2: copy_timeout= is seconds, 1 to 86400, "
              "and nothing may follow it on its line" },
        };
        struct fleethome_conf c;
        struct fleet_conf fc;
        char why[512], want[512];
        size_t k;
        for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            T_EQ_INT(fleethome_conf_parse(bad[k][0], strlen(bad[k][0]), &c, why, sizeof why), -1,
                     bad[k][0]);
            T_EQ_STR(why, bad[k][1], "the reason, with the line");
            memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
            T_CHECK(make_root(one, "", "", bad[k][0]) == 0, "root with a bad line");
            errno = 0;
            T_CHECK(fleethome_self(one, self, sizeof self) == -1 && errno == EINVAL,
                    "fleethome_self refuses it too");
            T_EQ_STR(fleethome_conf_why(), bad[k][1], "fleethome_self's reason");
            T_EQ_INT(fleet_conf_read(one, FLEET_NODE, &fc, why, sizeof why), -1,
                     "fleet_conf_read (mapsync) refuses it too");
            snprintf(want, sizeof want, "%s/%s", one, bad[k][1]);
            T_EQ_STR(why, want, "mapsync's reason: the same, after the root");
            rm_root(one);
        }
        T_EQ_INT(fleethome_conf_parse("addr=\nnode=b\r\n", 14, &c, why, sizeof why), -1,
                 "a CR after the value");
    }

    /* fleethome_strerror: the root and the reason after fleethome_self and fleethome_get */
    memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
    T_CHECK(make_root(one, "", "", "node=a # x\nendpoints=x\n") == 0, "root with a bad line");
    {
        char want[700];
        snprintf(want, sizeof want, "%s/etc/fleet:1: bad node=a # x: a node name is 1-63 of "
                 "a-z 0-9 -, and nothing may follow it on its line", one);
        errno = 0;
        T_CHECK(fleethome_self(one, self, sizeof self) == -1 && errno == EINVAL, "refused");
        T_EQ_STR(fleethome_strerror(errno), want, "fleethome_strerror: the root, the reason");
        T_CHECK(fleethome_get(one, "b.test", &h) == -1 && errno == EINVAL, "refused by get");
        T_EQ_STR(fleethome_strerror(errno), want, "after fleethome_get too");
    }
    rm_root(one);

    /* node= and endpoints= are required, by every reader alike (a node without the etcd
       endpoints has maps nobody updates: mapsync refuses the file) */
    {
        static const char *const missing[][2] = {
            { "# c\nendpoints=x\n", "etc/fleet: no node=NAME line" },
            { "node=a\nwait=10\n", "etc/fleet: no endpoints=URL,... line (the etcd members "
              "mapsync reads the maps from)" },
            { "", "etc/fleet: no node=NAME line" },
        };
        struct fleet_conf fc;
        char why[512], want[512];
        size_t k;
        for (k = 0; k < sizeof missing / sizeof missing[0]; k++) {
            memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
            T_CHECK(make_root(one, "", "", missing[k][0]) == 0, "root with a setting missing");
            errno = 0;
            T_CHECK(fleethome_self(one, self, sizeof self) == -1 && errno == EINVAL,
                    "fleethome_self refuses a file without node= or endpoints=");
            T_EQ_STR(fleethome_conf_why(), missing[k][1], "fleethome_self's reason");
            snprintf(want, sizeof want, "%s/%s", one, missing[k][1]);
            T_EQ_STR(fleethome_strerror(EINVAL), want, "fleethome_strerror: the root, the reason");
            T_CHECK(fleethome_get(one, "b.test", &h) == -1 && errno == EINVAL,
                    "fleethome_get refuses it too");
            T_EQ_STR(fleethome_strerror(errno), want, "after fleethome_get too");
            T_EQ_INT(fleet_conf_read(one, FLEET_NODE, &fc, why, sizeof why), -1,
                     "fleet_conf_read (mapsync) refuses it too");
            T_EQ_STR(why, want, "mapsync's reason: the same");
            rm_root(one);
        }
    }

    /* fleethome_strerror names etc/fleet only when it caused the failure it is asked about */
    memcpy(one, "/tmp/yubin-fleethome-XXXXXX", sizeof one);
    T_CHECK(make_root(one, "", "", "node=a\nendpoints=x\n") == 0, "a good etc/fleet");
    T_EQ_INT(fleethome_self(one, self, sizeof self), 1, "taken");
    T_EQ_STR(fleethome_strerror(EINVAL), strerror(EINVAL), "not the cause: strerror");
    {
        char path[600];
        snprintf(path, sizeof path, "%s/etc/fleet", one);
        T_CHECK(chmod(path, 0) == 0, "etc/fleet unreadable");
        if (geteuid() != 0) {
            char want[700];
            errno = 0;
            T_CHECK(fleethome_self(one, self, sizeof self) == -1 && errno == EACCES,
                    "an unreadable etc/fleet: EACCES");
            snprintf(want, sizeof want, "%s: %s", path, strerror(EACCES));
            T_EQ_STR(fleethome_strerror(EACCES), want, "the file, then strerror");
            T_EQ_STR(fleethome_conf_why(), "", "no line to blame");
        }
    }
    rm_root(one);
}

static void test_compile(void)
{
    char dir[] = "/tmp/yubin-fleethome-XXXXXX";
    T_CHECK(make_root(dir, "a:127.0.0.1\n", "a.test:zz:1\n", NULL) == -1,
            "a home on an unknown node does not compile");
    rm_root(dir);
    memcpy(dir, "/tmp/yubin-fleethome-XXXXXX", sizeof dir);
    T_CHECK(make_root(dir, "a:127.0.0.1\n", "x.test:a:1\n", NULL) == -1,
            "a home of an unknown domain does not compile");
    rm_root(dir);
    memcpy(dir, "/tmp/yubin-fleethome-XXXXXX", sizeof dir);
    T_CHECK(make_root(dir, "a:127.0.0.1\na:127.0.0.2\n", "", NULL) == -1,
            "a node defined twice does not compile");
    rm_root(dir);
}

int main(void)
{
    test_lines();
    test_fleethome();
    test_compile();
    return T_DONE();
}

/* test_fleet: etcdctl's JSON read into the fleet's records (hostile shapes included), the key
   of a map line, the maps' sources assembled from the records */
#include "t.h"

#include "../../cdb/fleet.h"
#include "../../cdb/fleet_impl.h"
#include "b64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {"key":"B64","mod_revision":M,"value":"B64"} */
static void kv(char *out, size_t cap, const char *k, const char *v, long long mod)
{
    char kb[256], vb[512];
    b64_encode((const unsigned char *)k, strlen(k), kb, sizeof kb);
    if (v) {
        b64_encode((const unsigned char *)v, strlen(v), vb, sizeof vb);
        snprintf(out, cap, "{\"key\":\"%s\",\"create_revision\":2,\"mod_revision\":%lld,"
                 "\"version\":1,\"value\":\"%s\"}", kb, mod, vb);
    } else {
        snprintf(out, cap, "{\"key\":\"%s\",\"create_revision\":2,\"mod_revision\":%lld,"
                 "\"version\":1}", kb, mod);
    }
}

static int parse(const char *json, struct fleet_snap *s)
{
    int r;
    memset(s, 0, sizeof *s);
    errno = 0;
    r = fleet_parse_range(s, json, strlen(json));
    return r;
}

static void test_range(void)
{
    char a[2048], b[2048], c[2048], j[8192];
    struct fleet_snap s;
    struct maps_src src;
    int r;
    static const struct {
        const char *key, *val;
        const char *name;
    } bad[] = {
        { "/yubin/dir/users/a@x.test", "a@x.test:$6$h::", "no schema version" },
        { "/yubin/dir/users/a@x.test", "2 a@x.test:$6$h::", "schema 2" },
        { "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::\nb@x.test:$6$h::", "two lines" },
        { "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::\r", "CR" },
        { "/yubin/dir/users/a@x.test", "1 b@x.test:$6$h::", "line under another key" },
        { "/yubin/dir/users/a@x.test", NULL, "no value" },
    };
    size_t i;

    kv(a, sizeof a, "/yubin/dir/domains/x.test", "1 x.test:basic", 3);
    kv(b, sizeof b, "/yubin/dir/serial", "mailacct@a", 9);
    kv(c, sizeof c, "/yubin/dir/users/a@x.test", "1 a@x.test:$6$h::", 7);
    snprintf(j, sizeof j, "{\"header\":{\"cluster_id\":1,\"member_id\":2,\"revision\":12,"
             "\"raft_term\":2},\"kvs\":[%s,%s,%s],\"count\":3}", a, b, c);
    r = parse(j, &s);
    T_EQ_INT(r, 0, "a range parses");
    T_EQ_INT(s.rev, 12, "header revision");
    T_EQ_INT(s.serial_mod, 9, "the guard's revision, not a record");
    T_EQ_INT(s.n, 2, "two records");
    T_EQ_STR(s.n == 2 ? s.kv[1].val : "", "a@x.test:$6$h::", "value without its version");
    T_EQ_INT(s.n == 2 ? s.kv[1].mod : 0, 7, "mod_revision");
    T_EQ_INT(fleet_src(&s, "mail.a.test\n", 12, &src), 0, "sources");
    T_EQ_STR(src.text[MAPS_USERS], "a@x.test:$6$h::\n", "users text");
    T_EQ_STR(src.text[MAPS_DOMAINS], "x.test:basic\n", "domains text");
    T_EQ_STR(src.text[MAPS_ME], "mail.a.test\n", "me stays local");
    T_EQ_STR(src.text[MAPS_ALIASES], "", "no aliases");
    mapsio_src_free(&src);
    fleet_snap_free(&s);

    r = parse("{\"header\":{\"cluster_id\":1,\"revision\":5}}", &s);
    T_CHECK(r == 0 && s.rev == 5 && s.n == 0, "an empty range");
    fleet_snap_free(&s);
    r = parse("{\"header\":{\"cluster_id\":1}}", &s);
    T_CHECK(r < 0 && errno == EPROTO, "no revision refused");
    fleet_snap_free(&s);
    {   /* the digits after the end of the output are not the revision's */
        const char *t = "{\"header\":{\"revision\":12}}";
        memset(&s, 0, sizeof s);
        r = fleet_parse_range(&s, t, (size_t)(strchr(t, '1') - t));
        T_CHECK(r < 0, "a number cut at the end of the output refused");
        fleet_snap_free(&s);
    }
    r = parse("", &s);
    T_CHECK(r < 0, "empty output refused");
    fleet_snap_free(&s);
    snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[{\"key\":\"L3l1Ymlu!!==\","
             "\"mod_revision\":1,\"value\":\"MSB4\"}]}");
    T_CHECK(parse(j, &s) < 0, "bad base64 refused");
    fleet_snap_free(&s);
    snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[{\"key\":\"L3l1Ymlu\"");
    T_CHECK(parse(j, &s) < 0, "truncated object refused");
    fleet_snap_free(&s);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kv(a, sizeof a, bad[i].key, bad[i].val, 4);
        snprintf(j, sizeof j, "{\"header\":{\"revision\":5},\"kvs\":[%s]}", a);
        r = parse(j, &s);
        T_CHECK(r < 0 && errno == EPROTO, "refused: %s", bad[i].name);
        fleet_snap_free(&s);
    }
    kv(a, sizeof a, "/yubin/node/b", "1 rev=40", 41);
    snprintf(j, sizeof j, "{\"header\":{\"revision\":50},\"kvs\":[%s]}", a);
    T_CHECK(parse(j, &s) == 0 && s.n == 1 && strcmp(s.kv[0].val, "rev=40") == 0,
            "a node's status");
    fleet_snap_free(&s);
}

static void test_line_key(void)
{
    static const struct {
        enum maps_file f;
        const char *line, *want;   /* want NULL: no key */
    } c[] = {
        { MAPS_USERS, "a@x.test:$6$h::", "a@x.test" },
        { MAPS_ALIASES, "  Info@X.Test : a@x.test", "info@x.test" },
        { MAPS_ROUTES, ":127.0.0.1:2525", "*" },
        { MAPS_ROUTES, "remote.test:127.0.0.1", "remote.test" },
        { MAPS_ADMIN, "Ops@Example.net", "ops@example.net" },
        { MAPS_DOMAINS, "# a comment", NULL },
        { MAPS_DOMAINS, "   ", NULL },
        { MAPS_DOMAINS, "a/b.test:basic", NULL },
    };
    char key[MAP_LINE_MAX];
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        int r = fleet_line_key(c[i].f, c[i].line, strlen(c[i].line), key, sizeof key);
        if (c[i].want) {
            T_CHECK(r == 0 && strcmp(key, c[i].want) == 0, "key of \"%s\" (got %s)", c[i].line,
                    r == 0 ? key : "none");
        } else {
            T_CHECK(r < 0, "no key in \"%s\"", c[i].line);
        }
    }
}

int main(void)
{
    test_range();
    test_line_key();
    return T_DONE();
}

/* fleet.c: the account directory in etcd, through etcdctl: config, range reads, guarded
   transactions, waiting for the nodes (docs/fleet.md) */
#include "fleet.h"
#include "fleet_impl.h"

#include "b64.h"
#include "cfg.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARGS_MAX 24     /* etcdctl arguments we pass; ours */

/* ---- configuration ---- */

int fleet_present(const char *root)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    if (str_fmt(path, sizeof path, "%s/etc/fleet", root) < 0) {
        return -1;
    }
    if (stat(path, &st) < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    return 1;
}

int fleet_conf_read(const char *root, enum fleet_who who, struct fleet_conf *c, char *why,
                    size_t cap)
{
    char reason[FLEET_CONF_WHY_MAX];
    struct fleethome_conf fc;
    const char *base = who == FLEET_NODE ? "node" : "operator";
    int r;

    memset(c, 0, sizeof *c);
    /* the rule of every reader of etc/fleet (lib/fleethome.c, fleethome_self's too): a setting
       on more than one line counts by its last; node= and endpoints= are required */
    r = fleethome_conf_read(root, &fc, reason, sizeof reason);
    if (r < 0 && reason[0]) {
        snprintf(why, cap, "%s/%s", root, reason);
        return -1;
    }
    if (r <= 0) {
        snprintf(why, cap, "unable to read %s/etc/fleet: %s", root,
                 r == 0 ? strerror(ENOENT) : strerror(errno));
        return -1;
    }
    if (str_fmt(c->node, sizeof c->node, "%s", fc.node) < 0
        || str_fmt(c->endpoints, sizeof c->endpoints, "%s", fc.endpoints) < 0) {
        snprintf(why, cap, "%s/etc/fleet: a value longer than this program holds", root);
        return -1;
    }
    c->wait = fc.wait;
    if (str_fmt(c->ca, sizeof c->ca, "%s/etc/fleet.d/ca.pem", root) < 0
        || str_fmt(c->cert, sizeof c->cert, "%s/etc/fleet.d/%s.pem", root, base) < 0
        || str_fmt(c->key, sizeof c->key, "%s/etc/fleet.d/%s.key", root, base) < 0) {
        snprintf(why, cap, "mail root path too long");
        return -1;
    }
    return 0;
}

int fleet_daemon_args(int argc, char **argv, const char *prog, int *notify, const char **root,
                      char *why, size_t cap)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
            *notify = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            *root = argv[++i];
        } else {
            snprintf(why, cap, "usage: %s [-d FD] [--root DIR]", prog);
            return -1;
        }
    }
    if (!*root && !(*root = cfg_root())) {
        snprintf(why, cap, "no mail root: give --root DIR or set YUBIN_ROOT");
        return -1;
    }
    return 0;
}

/* ---- running etcdctl ---- */

/* etcdctl's command line: the connection options, then the caller's arguments. */
struct ctl_argv {
    char ep[sizeof ((struct fleet_conf *)0)->endpoints + 16];
    char ca[YUBIN_PATH_MAX + 16], cert[YUBIN_PATH_MAX + 16], key[YUBIN_PATH_MAX + 16];
    const char *argv[ARGS_MAX + 8];
};

static int build_argv(const struct fleet_conf *c, const char *const *args, struct ctl_argv *v)
{
    size_t i, n = 0;
    if (str_fmt(v->ep, sizeof v->ep, "--endpoints=%s", c->endpoints) < 0
        || str_fmt(v->ca, sizeof v->ca, "--cacert=%s", c->ca) < 0
        || str_fmt(v->cert, sizeof v->cert, "--cert=%s", c->cert) < 0
        || str_fmt(v->key, sizeof v->key, "--key=%s", c->key) < 0) {
        return -1;
    }
    v->argv[n++] = "etcdctl";
    v->argv[n++] = v->ep;
    v->argv[n++] = v->ca;
    v->argv[n++] = v->cert;
    v->argv[n++] = v->key;
    v->argv[n++] = "--dial-timeout=2s";
    v->argv[n++] = "--command-timeout=5s";
    for (i = 0; args[i]; i++) {
        if (i == ARGS_MAX) {
            errno = E2BIG;
            return -1;
        }
        v->argv[n++] = args[i];
    }
    v->argv[n] = NULL;
    return 0;
}

/* In the child: stdin/stdout/stderr from the fds given (-1: /dev/null), then etcdctl. The
   child dies with its parent (parent: its pid before the fork), so a killed mapsync leaves no
   watch behind. When etcdctl cannot be started, the reason is its stderr's last line. */
static void child_exec(const char *const *argv, int in, int out, int err, pid_t parent)
{
    char why[256];
    int null = open("/dev/null", O_RDWR | O_CLOEXEC), n;
    /* a parent that died before the prctl sends no signal: asked by hand */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) {
        _exit(127);
    }
    if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(out >= 0 ? out : null, 1) < 0
        || dup2(err >= 0 ? err : null, 2) < 0) {
        _exit(127);
    }
    setenv("ETCDCTL_API", "3", 1);
    execvp("etcdctl", (char *const *)argv);
    n = snprintf(why, sizeof why, "unable to run etcdctl: %s\n", strerror(errno));
    if (n > 0 && (size_t)n < sizeof why) {
        fd_write_all(2, why, (size_t)n);
    }
    _exit(127);
}

long fleet_spawn(const struct fleet_conf *c, const char *const *args, int *outfd)
{
    struct ctl_argv v;
    int p[2] = { -1, -1 };
    pid_t pid, parent = getpid();
    if (build_argv(c, args, &v) < 0 || (outfd && pipe2(p, O_CLOEXEC) < 0)) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        child_exec(v.argv, -1, p[1], -1, parent);
    }
    if (outfd) {
        close(p[1]);
        if (pid < 0) {
            close(p[0]);
            return -1;
        }
        *outfd = p[0];
    }
    return (long)pid;
}

/* Keep the last non-empty line of e (the part of etcdctl's stderr seen so far). */
static void last_line(const struct buf *e, char *err)
{
    size_t end = e->len, start;
    while (end > 0 && (e->s[end - 1] == '\n' || e->s[end - 1] == '\r')) {
        end--;
    }
    start = end;
    while (start > 0 && e->s[start - 1] != '\n') {
        start--;
    }
    snprintf(err, FLEET_ERR_MAX, "%.*s", (int)(end - start), e->s + start);
}

/* Pump stdin in, stdout into ob, stderr into eb (its tail) until both outputs close. The
   three fds are closed on every return. 0 ok; -1 poll or read failed, or E2BIG: stdout is
   longer than ob->max. */
static int pump(int in, const char *text, int out, struct buf *ob, int er, struct buf *eb)
{
    size_t off = 0, tl = text ? strlen(text) : 0;
    char chunk[65536];
    int r = 0, e;
    if (in >= 0 && tl == 0) {
        close(in);
        in = -1;
    }
    while (r == 0 && (out >= 0 || er >= 0)) {
        struct pollfd p[3] = { { out, POLLIN, 0 }, { er, POLLIN, 0 }, { in, POLLOUT, 0 } };
        int i;
        if (poll(p, 3, -1) < 0) {
            r = errno == EINTR ? 0 : -1;
            continue;
        }
        if (in >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in, text + off, tl - off);
            if (w > 0) {
                off += (size_t)w;
            }
            if (w < 0 || off == tl) {
                close(in);
                in = -1;
            }
        }
        for (i = 0; r == 0 && i < 2; i++) {
            int *fd = i == 0 ? &out : &er;
            struct buf *b = i == 0 ? ob : eb;
            ssize_t got;
            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            got = read(*fd, chunk, sizeof chunk);
            if (got > 0 && b->len + (size_t)got > b->max) {
                buf_consume(b, b->len);   /* stderr: keep the tail; stdout: refused */
                if (b == ob) {
                    errno = E2BIG;
                    r = -1;
                    break;
                }
            }
            if (got > 0 && buf_append(b, chunk, (size_t)got) < 0) {
                r = -1;
            } else if (got == 0 || (got < 0 && errno != EINTR)) {
                close(*fd);
                *fd = -1;
            }
        }
    }
    e = errno;
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    if (er >= 0) {
        close(er);
    }
    errno = e;
    return r;
}

int fleet_ctl(const struct fleet_conf *c, const char *const *args, const char *in,
              struct buf *out, char *err)
{
    struct ctl_argv v;
    int pi[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 }, st, r, e;
    struct buf eb;
    pid_t pid, parent = getpid();

    err[0] = '\0';
    buf_init(&eb, 64 * 1024);
    if (build_argv(c, args, &v) < 0 || pipe2(pi, O_CLOEXEC) < 0
        || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        e = errno;
        close(pi[0]), close(pi[1]), close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        snprintf(err, FLEET_ERR_MAX, "unable to run etcdctl: %s", strerror(e));
        errno = e;
        return -1;
    }
    if (pid == 0) {
        child_exec(v.argv, pi[0], po[1], pe[1], parent);
    }
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    signal(SIGPIPE, SIG_IGN);
    r = pump(pi[1], in, po[0], out, pe[0], &eb);
    e = errno;
    if (r < 0) {
        kill(pid, SIGKILL);     /* it may be blocked on a full pipe, or never end */
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    last_line(&eb, err);
    buf_free(&eb);
    if (r < 0) {
        if (e == E2BIG) {
            snprintf(err, FLEET_ERR_MAX, "etcdctl's output is longer than %zu octets",
                     out->max);
        } else {
            snprintf(err, FLEET_ERR_MAX, "unable to run etcdctl: %s", strerror(e));
        }
        errno = e;
        return -1;
    }
    r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r != 0 && !err[0]) {
        snprintf(err, FLEET_ERR_MAX, "etcdctl exited with %d", r);
    }
    return r;
}

int fleet_nospace(const char *err)
{
    return strstr(err, FLEET_NOSPACE_ERR) != NULL;
}

/* ---- JSON of etcdctl -w json (a fixed shape: the fields we need, found by name) ---- */

/* The integer after "name": inside [s, end); 0 ok, -1 absent. */
int fleet_json_num(const char *s, const char *end, const char *name, long long *out)
{
    size_t nl = strlen(name);
    const char *p = s;
    while ((p = memmem(p, (size_t)(end - p), name, nl)) != NULL) {
        p += nl;
        if (p < end && *p == ':') {   /* digits within [p+1, end): never past the output */
            long long v = 0;
            const char *d = ++p;
            while (p < end && *p >= '0' && *p <= '9') {
                if (v > ((long long)INT64_MAX - (*p - '0')) / 10) {
                    return -1;
                }
                v = v * 10 + (*p++ - '0');
            }
            *out = v;
            return p == d ? -1 : 0;
        }
    }
    return -1;
}

/* The base64 string after "name":" inside [s, end), decoded, malloc'd; *out NULL if absent
   (protobuf JSON leaves out empty fields). 0 ok, -1 bad (EPROTO) or ENOMEM. */
static int json_b64(const char *s, const char *end, const char *name, char **out, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = memmem(s, (size_t)(end - s), name, nl), *q;
    long n;
    *out = NULL;
    *len = 0;
    if (!p || p + nl + 2 > end || p[nl] != ':' || p[nl + 1] != '"') {
        errno = EPROTO;
        return p ? -1 : 0;
    }
    p += nl + 2;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q) {
        errno = EPROTO;
        return -1;
    }
    if (!(*out = malloc((size_t)(q - p) / 4 * 3 + 1))) {
        return -1;
    }
    n = b64_decode(p, (size_t)(q - p), (unsigned char *)*out, (size_t)(q - p) / 4 * 3 + 1);
    if (n < 0) {
        free(*out);
        *out = NULL;
        errno = EPROTO;
        return -1;
    }
    (*out)[n] = '\0';
    *len = (size_t)n;
    return 0;
}

int fleet_snap_add(struct fleet_snap *s, char *key, char *val, long long mod)
{
    if (buf_grow_array((void **)&s->kv, &s->cap, s->n, sizeof *s->kv, FLEET_RECORDS_MAX) < 0) {
        return -1;
    }
    s->kv[s->n].key = key;
    s->kv[s->n].val = val;
    s->kv[s->n].mod = mod;
    s->kv[s->n].bad = NULL;
    s->kv[s->n].key_bad = 0;
    s->n++;
    return 0;
}

/* 1 unless key is a map record whose line has another key. */
static int record_matches(const char *key, const char *line)
{
    char pre[64], k[MAP_LINE_MAX];
    int f;
    for (f = MAPS_ADMIN; f < MAPS_NFILES; f++) {
        fleet_file_prefix((enum maps_file)f, pre, sizeof pre);
        if (strncmp(key, pre, strlen(pre)) == 0) {
            return fleet_line_key((enum maps_file)f, line, strlen(line), k, sizeof k) == 0
                   && strcmp(k, key + strlen(pre)) == 0;
        }
    }
    return 1;
}

/* Why the value val (vl octets, NULL: etcd left it out, as it does an empty one) of key
   cannot be read, or NULL. */
static const char *value_bad(const char *key, const char *val, size_t vl)
{
    if (!val) {
        return "no value";
    }
    if (vl < 2 || memcmp(val, FLEET_SCHEMA, 2) != 0) {
        return "a value not of schema 1: written by a newer yubin, or by hand";
    }
    if (memchr(val, '\0', vl) || memchr(val, '\n', vl) || memchr(val, '\r', vl)) {
        return "a value of several lines, or with a CR or NUL";
    }
    if (!record_matches(key, val + 2)) {
        return "a map line under another record's key";   /* users/a@x holding b@x's line */
    }
    return NULL;
}

/* One {"key":...} object of "kvs" (of a range, or of a watch event: del 1 for a deletion,
   appended with val NULL); a record that cannot be read is appended with bad set. -1 not
   etcdctl's shape (EPROTO), or ENOMEM, E2BIG. */
static int parse_kv(struct fleet_snap *s, const char *p, const char *end, int del)
{
    char *key, *val = NULL;
    const char *bad = NULL;
    size_t kl, vl = 0, i;
    long long mod;
    int key_bad;
    if (json_b64(p, end, "\"key\"", &key, &kl) < 0) {
        return -1;
    }
    if (!key) {
        errno = EPROTO;
        return -1;
    }
    if (fleet_json_num(p, end, "\"mod_revision\"", &mod) < 0) {
        free(key);
        errno = EPROTO;
        return -1;
    }
    if (!del && json_b64(p, end, "\"value\"", &val, &vl) < 0) {
        free(key);
        return -1;
    }
    if (strcmp(key, FLEET_SERIAL) == 0) {
        s->serial_mod = mod;
        free(key);
        free(val);
        return 0;
    }
    key_bad = strlen(key) != kl;
    if (key_bad) {
        for (i = 0; i < kl; i++) {
            key[i] = key[i] ? key[i] : '?';
        }
        bad = del ? NULL : "a key with a NUL";
    } else if (!del) {
        bad = value_bad(key, val, vl);
    }
    if (bad) {
        free(val);
        val = NULL;
    } else if (val) {
        memmove(val, val + 2, vl - 1);
    }
    if (fleet_snap_add(s, key, val, mod) < 0) {
        free(key);
        free(val);
        return -1;
    }
    s->kv[s->n - 1].bad = bad;
    s->kv[s->n - 1].key_bad = key_bad;
    return 0;
}

int fleet_parse_range(struct fleet_snap *s, const char *j, size_t n)
{
    const char *end = j + n, *p = j, *hdr = memmem(j, n, "\"kvs\"", 5);
    if (fleet_json_num(j, hdr ? hdr : end, "\"revision\"", &s->rev) < 0) {
        errno = EPROTO;
        return -1;
    }
    while (hdr && (p = memmem(p, (size_t)(end - p), "{\"key\"", 6)) != NULL) {
        const char *close = memchr(p, '}', (size_t)(end - p));
        if (!close) {
            errno = EPROTO;
            return -1;
        }
        if (parse_kv(s, p, close, 0) < 0) {
            return -1;
        }
        p = close;
    }
    return 0;
}

int fleet_snap_settle(struct fleet_snap *s, enum fleet_bad how, char *err)
{
    size_t i, k = 0;
    if (how == FLEET_BAD_KEEP) {
        return 0;
    }
    for (i = 0; i < s->n; i++) {
        if (s->kv[i].bad && strncmp(s->kv[i].key, FLEET_DIR, strlen(FLEET_DIR)) == 0) {
            snprintf(err, FLEET_ERR_MAX, "a record in etcd cannot be read (%s: %s)",
                     s->kv[i].key, s->kv[i].bad);
            errno = EPROTO;
            return -1;
        }
    }
    for (i = 0; i < s->n; i++) {    /* another program's record: not the directory's */
        if (s->kv[i].bad) {
            free(s->kv[i].key);
            free(s->kv[i].val);
        } else {
            s->kv[k++] = s->kv[i];
        }
    }
    s->n = k;
    return 0;
}

/* 1 if [p, end) starts with lit (and moves p past it). */
static int eat(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0) {
        return 0;
    }
    *p += n;
    return 1;
}

/* One event of "Events" at *p: {"kv":{...}} (a put: etcd's JSON leaves type 0 out) or
   {"type":1,"kv":{...}} (a deletion); *p moves past it. -1 EPROTO (or as parse_kv). */
static int parse_event(struct fleet_snap *ev, const char **p, const char *end)
{
    const char *kv, *close;
    int del = 0;
    errno = EPROTO;
    if (!eat(p, end, "{")) {
        return -1;
    }
    if (eat(p, end, "\"type\":")) {
        if (!eat(p, end, "1,")) {
            return -1;   /* PUT is 0 and left out; no other type exists */
        }
        del = 1;
    }
    if (!eat(p, end, "\"kv\":")) {
        return -1;
    }
    kv = *p;
    if (!eat(p, end, "{") || !(close = memchr(kv, '}', (size_t)(end - kv)))) {
        return -1;   /* base64 and numbers only inside: the first brace closes it */
    }
    if (parse_kv(ev, kv, close, del) < 0) {
        return -1;
    }
    *p = close + 1;
    errno = EPROTO;
    return eat(p, end, "}") ? 0 : -1;
}

int fleet_parse_watch(struct fleet_snap *ev, const char *j, size_t n, long long *compact)
{
    const char *end = j + n, *p = memmem(j, n, "\"Events\":", 9);
    size_t events = 0;
    *compact = 0;
    errno = 0;
    if (!p) {
        errno = EPROTO;
        return -1;
    }
    if (fleet_json_num(j, p, "\"revision\"", &ev->rev) < 0) {
        ev->rev = 0;     /* a cancel's header has none */
    }
    p += 9;
    /* null: Go's nil slice, in the response by which clientv3 ends a watch it cancels itself
       (etcdctl watches WithRequireLeader: the member lost its leader) */
    if (!eat(&p, end, "null")) {
        if (!eat(&p, end, "[")) {
            errno = EPROTO;
            return -1;
        }
        while (!eat(&p, end, "]")) {
            if (events++ > 0 && !eat(&p, end, ",")) {
                errno = EPROTO;
                return -1;
            }
            if (parse_event(ev, &p, end) < 0) {
                return -1;
            }
        }
    }
    if (fleet_json_num(p, end, "\"CompactRevision\"", compact) < 0) {
        *compact = 0;
    }
    if (memmem(p, (size_t)(end - p), "\"Canceled\":true", 15)) {
        errno = ECANCELED;
        return -1;
    }
    return 0;
}

/* Run etcdctl args (in on its stdin, NULL: none) and parse its range reads into s. */
static int read_snap(const struct fleet_conf *c, const char *const *args, const char *in,
                     enum fleet_bad how, struct fleet_snap *s, char *err)
{
    struct buf out;
    int r;
    memset(s, 0, sizeof *s);
    buf_init(&out, FLEET_OUT_MAX);
    r = fleet_ctl(c, args, in, &out, err);
    if (r != 0) {
        buf_free(&out);
        return -1;
    }
    errno = 0;
    r = fleet_parse_range(s, out.s ? out.s : "", out.len);
    buf_free(&out);
    if (r < 0) {
        if (errno == EPROTO) {
            snprintf(err, FLEET_ERR_MAX, "etcdctl's output is not of the shape expected "
                     "(etcdctl %s -w json)", args[0]);
        } else {
            snprintf(err, FLEET_ERR_MAX, "%s", strerror(errno));
        }
    }
    if (r < 0 || fleet_snap_settle(s, how, err) < 0) {
        fleet_snap_free(s);
        return -1;
    }
    return 0;
}

int fleet_get(const struct fleet_conf *c, const char *prefix, enum fleet_bad how,
              struct fleet_snap *s, char *err)
{
    const char *args[] = { "get", "--prefix", prefix, "-w", "json", NULL };
    return read_snap(c, args, NULL, how, s, err);
}

int fleet_get_dir(const struct fleet_conf *c, struct fleet_snap *s, char *err)
{
    /* no compare: the success branch, two range reads in key order (FLEET_DIR sorts before
       FLEET_NODES), so the records come sorted as one range would give them */
    static const char in[] = "\nget " FLEET_DIR " --prefix\nget " FLEET_NODES " --prefix\n\n\n";
    const char *args[] = { "txn", "-w", "json", NULL };
    return read_snap(c, args, in, FLEET_BAD_REFUSE, s, err);
}

int fleet_ping(const struct fleet_conf *c, const char *key, char *err)
{
    const char *args[] = { "get", key, "--keys-only", NULL };
    struct buf out;
    int r;
    buf_init(&out, 64 * 1024);
    r = fleet_ctl(c, args, NULL, &out, err);
    buf_free(&out);
    return r == 0 ? 0 : -1;
}

void fleet_snap_free(struct fleet_snap *s)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        free(s->kv[i].key);
        free(s->kv[i].val);
    }
    free(s->kv);
    memset(s, 0, sizeof *s);
}

/* ---- the maps' sources from the records ---- */

int fleet_line_key(enum maps_file f, const char *line, size_t n, char *key, size_t cap)
{
    size_t k;
    while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
        line++, n--;
    }
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r')) {
        n--;
    }
    if (n == 0 || line[0] == '#') {
        return -1;
    }
    k = n;
    if (f != MAPS_ADMIN) {
        const char *colon = memchr(line, ':', n);
        k = colon ? (size_t)(colon - line) : n;
        while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t')) {
            k--;
        }
    }
    if (k == 0) {
        return str_fmt(key, cap, "*");
    }
    if (k >= cap || memchr(line, '/', k)) {
        key[0] = '\0';   /* never a valid map key: the compiler refuses the line */
        return -1;
    }
    memcpy(key, line, k);
    key[k] = '\0';
    str_lower(key, k);
    return 0;
}

/* "/yubin/dir/users/" */
int fleet_file_prefix(enum maps_file f, char *out, size_t cap)
{
    return str_fmt(out, cap, "%s%s/", FLEET_DIR, maps_file_name(f));
}

int fleet_src(const struct fleet_snap *s, const char *me_text, size_t me_len,
              struct maps_src *src)
{
    int f;
    memset(src, 0, sizeof *src);
    src->domains_from = FLEET_DOMAINS_FROM;
    for (f = 0; f < MAPS_NFILES; f++) {
        char pre[64];
        struct buf b;
        size_t i, pl;
        buf_init(&b, MAPS_FILE_MAX);
        src->present[f] = 1;
        src->mode[f] = f == MAPS_USERS ? 0600 : 0644;
        if (f == MAPS_ME) {
            if (buf_append(&b, me_text, me_len) < 0) {
                goto fail;
            }
        } else {
            fleet_file_prefix((enum maps_file)f, pre, sizeof pre);
            pl = strlen(pre);
            for (i = 0; i < s->n; i++) {
                if (strncmp(s->kv[i].key, pre, pl) == 0
                    && (buf_puts(&b, s->kv[i].val) < 0 || buf_append(&b, "\n", 1) < 0)) {
                    goto fail;
                }
            }
        }
        if (buf_append(&b, "", 0) < 0 || (!b.s && !(b.s = calloc(1, 1)))) {
            goto fail;
        }
        mapsio_src_set(src, (enum maps_file)f, b.s, b.len);
        continue;
fail:
        buf_free(&b);
        mapsio_src_free(src);
        return -1;
    }
    return 0;
}

const struct fleet_kv *fleet_snap_find(const struct fleet_snap *s, const char *key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->kv[mid].key, key);
        if (c == 0) {
            return &s->kv[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}


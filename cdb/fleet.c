/* fleet.c: the account directory in etcd, through etcdctl: config, range reads, guarded
   transactions, waiting for the nodes (docs/fleet.md) */
#include "fleet.h"

#include "b64.h"
#include "fd.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
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

static int conf_line(struct fleet_conf *c, const char *s, size_t n, char *why, size_t cap)
{
    const char *eq = memchr(s, '=', n);
    size_t kl, vl;
    if (!eq) {
        snprintf(why, cap, "etc/fleet: expected NAME=VALUE, got %.*s", (int)(n > 60 ? 60 : n), s);
        return -1;
    }
    kl = (size_t)(eq - s);
    vl = n - kl - 1;
    if (kl == 4 && memcmp(s, "node", 4) == 0 && vl > 0 && vl <= FLEET_NAME_MAX
        && strspn(eq + 1, "abcdefghijklmnopqrstuvwxyz0123456789-") >= vl) {
        memcpy(c->node, eq + 1, vl);
        c->node[vl] = '\0';
    } else if (kl == 9 && memcmp(s, "endpoints", 9) == 0 && vl > 0 && vl < sizeof c->endpoints) {
        memcpy(c->endpoints, eq + 1, vl);
        c->endpoints[vl] = '\0';
    } else if (kl == 4 && memcmp(s, "wait", 4) == 0) {
        uint64_t w;
        if (str_to_u64(eq + 1, vl, &w) < 0 || w > 3600) {
            snprintf(why, cap, "etc/fleet: wait= is seconds, 0 to 3600");
            return -1;
        }
        c->wait = (unsigned)w;
    } else if (!(kl == 4 && memcmp(s, "addr", 4) == 0)) {
        snprintf(why, cap, "etc/fleet: unknown or bad setting %.*s", (int)(kl > 60 ? 60 : kl), s);
        return -1;
    }
    return 0;
}

int fleet_conf_read(const char *root, enum fleet_who who, struct fleet_conf *c, char *why,
                    size_t cap)
{
    char path[YUBIN_PATH_MAX], text[FLEET_CONF_MAX + 1];
    const char *base = who == FLEET_NODE ? "node" : "operator";
    ssize_t got;
    size_t i = 0;
    int fd;

    memset(c, 0, sizeof *c);
    c->wait = 10;
    if (str_fmt(path, sizeof path, "%s/etc/fleet", root) < 0
        || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(why, cap, "unable to read %s/etc/fleet: %s", root, strerror(errno));
        return -1;
    }
    got = fd_read_full(fd, text, sizeof text);
    close(fd);
    if (got < 0 || (size_t)got > FLEET_CONF_MAX) {
        snprintf(why, cap, "unable to read %s/etc/fleet: %s", root,
                 got < 0 ? strerror(errno) : "longer than 4096 octets");
        return -1;
    }
    while (i < (size_t)got) {
        const char *nl = memchr(text + i, '\n', (size_t)got - i);
        size_t n = nl ? (size_t)(nl - text) - i : (size_t)got - i;
        if (n > 0 && text[i] != '#' && conf_line(c, text + i, n, why, cap) < 0) {
            return -1;
        }
        i += n + 1;
    }
    if (!c->node[0] || !c->endpoints[0]) {
        snprintf(why, cap, "%s/etc/fleet needs node=NAME and endpoints=URL,...", root);
        return -1;
    }
    if (str_fmt(c->ca, sizeof c->ca, "%s/etc/fleet.d/ca.pem", root) < 0
        || str_fmt(c->cert, sizeof c->cert, "%s/etc/fleet.d/%s.pem", root, base) < 0
        || str_fmt(c->key, sizeof c->key, "%s/etc/fleet.d/%s.key", root, base) < 0) {
        snprintf(why, cap, "mail root path too long");
        return -1;
    }
    return 0;
}

/* ---- running etcdctl ---- */

static int build_argv(const struct fleet_conf *c, const char *const *args, char *opt[4],
                      const char *argv[ARGS_MAX + 8])
{
    size_t i, n = 0;
    if (str_fmt(opt[0] = malloc(1100), 1100, "--endpoints=%s", c->endpoints) < 0) {
        return -1;
    }
    opt[1] = malloc(YUBIN_PATH_MAX + 16);
    opt[2] = malloc(YUBIN_PATH_MAX + 16);
    opt[3] = malloc(YUBIN_PATH_MAX + 16);
    if (!opt[1] || !opt[2] || !opt[3]
        || str_fmt(opt[1], YUBIN_PATH_MAX + 16, "--cacert=%s", c->ca) < 0
        || str_fmt(opt[2], YUBIN_PATH_MAX + 16, "--cert=%s", c->cert) < 0
        || str_fmt(opt[3], YUBIN_PATH_MAX + 16, "--key=%s", c->key) < 0) {
        return -1;
    }
    argv[n++] = "etcdctl";
    for (i = 0; i < 4; i++) {
        argv[n++] = opt[i];
    }
    argv[n++] = "--dial-timeout=2s";
    argv[n++] = "--command-timeout=5s";
    for (i = 0; args[i]; i++) {
        if (i == ARGS_MAX) {
            errno = E2BIG;
            return -1;
        }
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return 0;
}

/* In the child: stdin/stdout/stderr from the fds given (-1: /dev/null), then etcdctl. The
   child dies with its parent, so a killed mapsync leaves no watch behind. */
static void child_exec(const char *const *argv, int in, int out, int err)
{
    int null = open("/dev/null", O_RDWR);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(out >= 0 ? out : null, 1) < 0
        || dup2(err >= 0 ? err : null, 2) < 0) {
        _exit(127);
    }
    setenv("ETCDCTL_API", "3", 1);
    execvp("etcdctl", (char *const *)argv);
    _exit(127);
}

static void free_opts(char *opt[4])
{
    int i;
    for (i = 0; i < 4; i++) {
        free(opt[i]);
    }
}

long fleet_spawn(const struct fleet_conf *c, const char *const *args, int *outfd)
{
    const char *argv[ARGS_MAX + 8];
    char *opt[4] = { NULL, NULL, NULL, NULL };
    int p[2] = { -1, -1 };
    pid_t pid;
    if (build_argv(c, args, opt, argv) < 0 || (outfd && pipe2(p, O_CLOEXEC) < 0)) {
        free_opts(opt);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        child_exec(argv, -1, p[1], -1);
    }
    free_opts(opt);
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

/* Pump stdin in, stdout into out, stderr into e until both outputs close. */
static int pump(int in, const char *text, int out, struct buf *ob, int er, struct buf *eb)
{
    size_t off = 0, tl = text ? strlen(text) : 0;
    char chunk[65536];
    if (in >= 0 && tl == 0) {
        close(in);
        in = -1;
    }
    while (out >= 0 || er >= 0) {
        struct pollfd p[3] = { { out, POLLIN, 0 }, { er, POLLIN, 0 }, { in, POLLOUT, 0 } };
        int i;
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
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
        for (i = 0; i < 2; i++) {
            int *fd = i == 0 ? &out : &er;
            struct buf *b = i == 0 ? ob : eb;
            ssize_t r;
            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            r = read(*fd, chunk, sizeof chunk);
            if (r > 0 && b->len + (size_t)r > b->max) {
                buf_consume(b, b->len);   /* stderr: keep the tail; stdout: fails below */
                if (b == ob) {
                    errno = E2BIG;
                    return -1;
                }
            }
            if (r > 0 && buf_append(b, chunk, (size_t)r) < 0) {
                return -1;
            }
            if (r == 0 || (r < 0 && errno != EINTR)) {
                close(*fd);
                *fd = -1;
            }
        }
    }
    if (in >= 0) {
        close(in);
    }
    return 0;
}

int fleet_ctl(const struct fleet_conf *c, const char *const *args, const char *in,
              struct buf *out, char *err)
{
    const char *argv[ARGS_MAX + 8];
    char *opt[4] = { NULL, NULL, NULL, NULL };
    int pi[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 }, st, r, e;
    struct buf eb;
    pid_t pid;

    err[0] = '\0';
    buf_init(&eb, 64 * 1024);
    if (build_argv(c, args, opt, argv) < 0 || pipe2(pi, O_CLOEXEC) < 0
        || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        e = errno;
        free_opts(opt);
        close(pi[0]), close(pi[1]), close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        child_exec(argv, pi[0], po[1], pe[1]);
    }
    free_opts(opt);
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    signal(SIGPIPE, SIG_IGN);
    r = pump(pi[1], in, po[0], out, pe[0], &eb);
    e = errno;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    last_line(&eb, err);
    buf_free(&eb);
    if (r < 0) {
        errno = e;
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- JSON of etcdctl -w json (a fixed shape: the fields we need, found by name) ---- */

/* The integer after "name": inside [s, end); 0 ok, -1 absent. */
static int json_num(const char *s, const char *end, const char *name, long long *out)
{
    size_t nl = strlen(name);
    const char *p = s;
    while ((p = memmem(p, (size_t)(end - p), name, nl)) != NULL) {
        p += nl;
        if (p < end && *p == ':') {
            char *e;
            errno = 0;
            *out = strtoll(p + 1, &e, 10);
            return errno || e == p + 1 ? -1 : 0;
        }
    }
    return -1;
}

/* The base64 string after "name":" inside [s, end), decoded, malloc'd; *out NULL if absent
   (protobuf JSON leaves out empty fields). 0 ok, -1 bad. */
static int json_b64(const char *s, const char *end, const char *name, char **out, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = memmem(s, (size_t)(end - s), name, nl), *q;
    long n;
    *out = NULL;
    *len = 0;
    if (!p || p + nl + 2 > end || p[nl] != ':' || p[nl + 1] != '"') {
        return p ? -1 : 0;
    }
    p += nl + 2;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q || !(*out = malloc((size_t)(q - p) / 4 * 3 + 1))) {
        return -1;
    }
    n = b64_decode(p, (size_t)(q - p), (unsigned char *)*out, (size_t)(q - p) / 4 * 3 + 1);
    if (n < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    (*out)[n] = '\0';
    *len = (size_t)n;
    return 0;
}

static int snap_add(struct fleet_snap *s, char *key, char *val, long long mod)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        void *p = realloc(s->kv, nc * sizeof *s->kv);
        if (!p) {
            return -1;
        }
        s->kv = p;
        s->cap = nc;
    }
    s->kv[s->n].key = key;
    s->kv[s->n].val = val;
    s->kv[s->n].mod = mod;
    s->n++;
    return 0;
}

/* One {"key":...} object of "kvs". */
static int parse_kv(struct fleet_snap *s, const char *p, const char *end)
{
    char *key, *val;
    size_t kl, vl;
    long long mod;
    if (json_b64(p, end, "\"key\"", &key, &kl) < 0 || !key) {
        return -1;
    }
    if (json_num(p, end, "\"mod_revision\"", &mod) < 0
        || json_b64(p, end, "\"value\"", &val, &vl) < 0) {
        free(key);
        return -1;
    }
    if (strcmp(key, FLEET_SERIAL) == 0) {
        s->serial_mod = mod;
        free(key);
        free(val);
        return 0;
    }
    if (!val || vl < 2 || memcmp(val, FLEET_SCHEMA, 2) != 0 || memchr(val, '\0', vl)
        || strlen(key) != kl) {
        free(key);
        free(val);
        errno = EPROTO;   /* a value of another schema version: a newer yubin wrote it */
        return -1;
    }
    memmove(val, val + 2, vl - 1);
    if (snap_add(s, key, val, mod) < 0) {
        free(key);
        free(val);
        return -1;
    }
    return 0;
}

static int parse_range(struct fleet_snap *s, const char *j, size_t n)
{
    const char *end = j + n, *p = j, *hdr = memmem(j, n, "\"kvs\"", 5);
    if (json_num(j, hdr ? hdr : end, "\"revision\"", &s->rev) < 0) {
        errno = EPROTO;
        return -1;
    }
    while (hdr && (p = memmem(p, (size_t)(end - p), "{\"key\"", 6)) != NULL) {
        const char *close = memchr(p, '}', (size_t)(end - p));
        if (!close || parse_kv(s, p, close) < 0) {
            if (!errno) {
                errno = EPROTO;
            }
            return -1;
        }
        p = close;
    }
    return 0;
}

int fleet_get(const struct fleet_conf *c, const char *prefix, struct fleet_snap *s, char *err)
{
    const char *args[] = { "get", "--prefix", prefix, "-w", "json", NULL };
    struct buf out;
    int r;
    memset(s, 0, sizeof *s);
    buf_init(&out, FLEET_OUT_MAX);
    r = fleet_ctl(c, args, NULL, &out, err);
    if (r != 0) {
        if (r < 0) {
            snprintf(err, FLEET_ERR_MAX, "unable to run etcdctl: %s", strerror(errno));
        } else if (!err[0]) {
            snprintf(err, FLEET_ERR_MAX, "etcdctl exited with %d", r);
        }
        buf_free(&out);
        return -1;
    }
    errno = 0;
    r = parse_range(s, out.s ? out.s : "", out.len);
    buf_free(&out);
    if (r < 0) {
        snprintf(err, FLEET_ERR_MAX, "%s", errno == EPROTO
                 ? "a record in etcd is not of schema 1 (written by a newer yubin?)"
                 : strerror(errno));
        fleet_snap_free(s);
        return -1;
    }
    return 0;
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
static int file_prefix(enum maps_file f, char *out, size_t cap)
{
    return str_fmt(out, cap, "%s%s/", FLEET_DIR, maps_file_name(f));
}

int fleet_src(const struct fleet_snap *s, const char *me_text, size_t me_len,
              struct maps_src *src)
{
    int f;
    memset(src, 0, sizeof *src);
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
            file_prefix((enum maps_file)f, pre, sizeof pre);
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

/* ---- changes ---- */

/* One record to change: key, the new line (NULL: delete), the mod_revision read (0: new). */
struct op {
    char *key, *line;
    long long mod;
};

struct delta {
    struct op *op;
    size_t n, cap;
};

static void delta_free(struct delta *d)
{
    size_t i;
    for (i = 0; i < d->n; i++) {
        free(d->op[i].key);
        free(d->op[i].line);
    }
    free(d->op);
    memset(d, 0, sizeof *d);
}

static int delta_add(struct delta *d, const char *key, const char *line, size_t ll,
                     long long mod)
{
    struct op *o;
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        void *p = realloc(d->op, nc * sizeof *d->op);
        if (!p) {
            return -1;
        }
        d->op = p;
        d->cap = nc;
    }
    o = &d->op[d->n];
    o->key = strdup(key);
    o->line = line ? strndup(line, ll) : NULL;
    o->mod = mod;
    if (!o->key || (line && !o->line)) {
        free(o->key);
        free(o->line);
        return -1;
    }
    d->n++;
    return 0;
}

static const struct fleet_kv *snap_find(const struct fleet_snap *s, const char *key)
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

struct line_ref {
    char key[FLEET_KEY_MAX];
    const char *s;
    size_t n;
};

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct line_ref *)a)->key, ((const struct line_ref *)b)->key);
}

/* The changes of one file: its new text against the snapshot's records. */
static int diff_file(const struct fleet_snap *s, enum maps_file f, const char *text, size_t len,
                     struct delta *d)
{
    char pre[64];
    struct line_ref *r = NULL;
    size_t nr = 0, cap = 0, i = 0, k, pl;
    int ret = -1;
    file_prefix(f, pre, sizeof pre);
    pl = strlen(pre);
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text) - i : len - i;
        char key[MAP_LINE_MAX];
        if (fleet_line_key(f, text + i, n, key, sizeof key) == 0) {
            if (nr == cap) {
                void *p = realloc(r, (cap = cap ? cap * 2 : 64) * sizeof *r);
                if (!p) {
                    goto out;
                }
                r = p;
            }
            if (str_fmt(r[nr].key, sizeof r[nr].key, "%s%s", pre, key) < 0) {
                goto out;
            }
            r[nr].s = text + i;
            r[nr++].n = n;
        }
        i += n + 1;
    }
    qsort(r, nr, sizeof *r, ref_cmp);
    for (k = 0; k < nr; k++) {
        const struct fleet_kv *kv = snap_find(s, r[k].key);
        if ((!kv || strlen(kv->val) != r[k].n || memcmp(kv->val, r[k].s, r[k].n) != 0)
            && delta_add(d, r[k].key, r[k].s, r[k].n, kv ? kv->mod : 0) < 0) {
            goto out;
        }
    }
    for (k = 0; k < s->n; k++) {   /* records no longer in the text */
        struct line_ref probe;
        if (strncmp(s->kv[k].key, pre, pl) != 0) {
            continue;
        }
        snprintf(probe.key, sizeof probe.key, "%s", s->kv[k].key);
        if (!bsearch(&probe, r, nr, sizeof *r, ref_cmp)
            && delta_add(d, s->kv[k].key, NULL, 0, s->kv[k].mod) < 0) {
            goto out;
        }
    }
    ret = 0;
out:
    free(r);
    return ret;
}

/* etcdctl txn's quoting: a Go double-quoted string. */
static int quote(struct buf *b, const char *s)
{
    if (buf_append(b, "\"", 1) < 0) {
        return -1;
    }
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\') && buf_append(b, "\\", 1) < 0) {
            return -1;
        }
        if (buf_append(b, s, 1) < 0) {
            return -1;
        }
    }
    return buf_append(b, "\"", 1);
}

static int txn_text(const struct delta *d, long long serial_mod, const char *who, struct buf *b)
{
    size_t i;
    int r = buf_printf(b, serial_mod ? "mod(\"%s\") = \"%lld\"\n" : "version(\"%s\") = \"0\"\n",
                       FLEET_SERIAL, serial_mod);
    for (i = 0; r == 0 && i < d->n; i++) {
        const struct op *o = &d->op[i];
        r = o->mod ? buf_printf(b, "mod(\"%s\") = \"%lld\"\n", o->key, o->mod)
                   : buf_printf(b, "version(\"%s\") = \"0\"\n", o->key);
    }
    r = r < 0 ? r : buf_puts(b, "\n");
    for (i = 0; r == 0 && i < d->n; i++) {
        const struct op *o = &d->op[i];
        if (o->line) {
            char *v = malloc(strlen(o->line) + 3);
            if (!v) {
                return -1;
            }
            snprintf(v, strlen(o->line) + 3, "%s%s", FLEET_SCHEMA, o->line);
            r = buf_printf(b, "put %s ", o->key) < 0 || quote(b, v) < 0
                || buf_puts(b, "\n") < 0 ? -1 : 0;
            free(v);
        } else {
            r = buf_printf(b, "del %s\n", o->key);
        }
    }
    if (r == 0) {
        r = buf_printf(b, "put %s ", FLEET_SERIAL) < 0 || quote(b, who) < 0
            || buf_puts(b, "\n\n\n") < 0 ? -1 : 0;
    }
    return r;
}

/* 1 committed (*rev), 0 a compare failed, -1 etcd error (err). */
static int txn(const struct fleet_conf *c, const struct delta *d, long long serial_mod,
               long long *rev, char *err)
{
    const char *args[] = { "txn", "-w", "json", NULL };
    char who[128];
    struct buf in, out;
    int r;
    buf_init(&in, FLEET_OUT_MAX);
    buf_init(&out, 1024 * 1024);
    snprintf(who, sizeof who, "mailacct@%s", c->node);
    if (txn_text(d, serial_mod, who, &in) < 0) {
        snprintf(err, FLEET_ERR_MAX, "%s", strerror(errno));
        r = -1;
    } else if ((r = fleet_ctl(c, args, in.s, &out, err)) != 0) {
        if (r > 0 && !err[0]) {
            snprintf(err, FLEET_ERR_MAX, "etcdctl txn exited with %d", r);
        } else if (r < 0) {
            snprintf(err, FLEET_ERR_MAX, "unable to run etcdctl: %s", strerror(errno));
        }
        r = -1;
    } else if (!out.s || json_num(out.s, out.s + out.len, "\"revision\"", rev) < 0) {
        snprintf(err, FLEET_ERR_MAX, "etcdctl txn: unexpected output");
        r = -1;
    } else {
        r = memmem(out.s, out.len, "\"succeeded\":true", 16) != NULL;
    }
    buf_free(&in);
    buf_free(&out);
    return r;
}

static int ref_cmp_kv(const void *a, const void *b)
{
    return strcmp(((const struct fleet_kv *)a)->key, ((const struct fleet_kv *)b)->key);
}

/* The changed records' text: every record of s in file f with the delta applied. */
static int apply(const struct fleet_snap *s, const struct delta *d, const char *me, size_t ml,
                 struct maps_src *src)
{
    struct fleet_snap t;
    size_t i;
    int r;
    memset(&t, 0, sizeof t);
    for (i = 0; i < s->n; i++) {   /* shallow copy, then the ops on top */
        if (snap_add(&t, s->kv[i].key, s->kv[i].val, s->kv[i].mod) < 0) {
            free(t.kv);
            return -1;
        }
    }
    for (i = 0; i < d->n; i++) {
        const struct fleet_kv *kv = snap_find(&t, d->op[i].key);
        if (kv) {
            ((struct fleet_kv *)kv)->val = d->op[i].line;   /* NULL: deleted */
        } else if (d->op[i].line && snap_add(&t, d->op[i].key, d->op[i].line, 0) < 0) {
            free(t.kv);
            return -1;
        }
    }
    for (i = 0; i < t.n; i++) {   /* drop deleted ones (the key order is restored below) */
        if (!t.kv[i].val) {
            t.kv[i--] = t.kv[--t.n];
        }
    }
    qsort(t.kv, t.n, sizeof *t.kv, ref_cmp_kv);
    r = fleet_src(&t, me, ml, src);
    free(t.kv);
    return r;
}

/* "account a@b.example" for "/yubin/dir/users/a@b.example" */
static void record_name(const char *key, char *out, size_t cap)
{
    static const char *const what[MAPS_NFILES] = {
        "me", "admin", "plan", "domain", "account", "alias", "route"
    };
    int f;
    for (f = 1; f < MAPS_NFILES; f++) {
        char pre[64];
        file_prefix((enum maps_file)f, pre, sizeof pre);
        if (strncmp(key, pre, strlen(pre)) == 0) {
            snprintf(out, cap, "%s %s", what[f], key + strlen(pre));
            return;
        }
    }
    snprintf(out, cap, "%s", key);
}

/* After a failed compare: s becomes the state now. 1 if only other records changed (the
   delta still applies and compiles), 0 refused (err), -1 etcd error (err). */
static int recheck(const struct fleet_conf *c, struct fleet_snap *s, const struct delta *d,
                   const struct maps_src *src, char *err, size_t cap)
{
    struct fleet_snap n;
    struct maps_src src2;
    struct maps_err me;
    struct maps *m;
    char e[FLEET_ERR_MAX], name[FLEET_KEY_MAX + 16];
    size_t i;
    if (fleet_get(c, FLEET_PREFIX, &n, e) < 0) {
        snprintf(err, cap, "etcd: %s", e);
        return -1;
    }
    for (i = 0; i < d->n; i++) {
        const struct fleet_kv *kv = snap_find(&n, d->op[i].key);
        long long now = kv ? kv->mod : 0;
        if (now != d->op[i].mod) {
            record_name(d->op[i].key, name, sizeof name);
            snprintf(err, cap, "%s was changed by another change at the same time (etcd "
                     "revision %lld); nothing was changed: look at it again and retry", name,
                     now ? now : n.rev);
            fleet_snap_free(&n);
            return 0;
        }
    }
    if (apply(&n, d, src->text[MAPS_ME], src->len[MAPS_ME], &src2) < 0) {
        snprintf(err, cap, "%s", strerror(errno));
        fleet_snap_free(&n);
        return -1;
    }
    m = mapsio_compile(&src2, &me);
    mapsio_src_free(&src2);
    if (!m) {
        char line[MAPS_REASON_MAX + 64];
        mapsio_err_str(&me, line, sizeof line);
        snprintf(err, cap, "refused after a change made at the same time: %s", line);
        fleet_snap_free(&n);
        return 0;
    }
    maps_free(m);
    fleet_snap_free(s);
    *s = n;
    return 1;
}

int fleet_commit(const struct fleet_conf *c, struct fleet_snap *s, const struct maps_src *src,
                 unsigned files, long long *rev, char *err, size_t cap, int *perm)
{
    struct delta d;
    char e[FLEET_ERR_MAX];
    int f, tries, r = -1;

    memset(&d, 0, sizeof d);
    *perm = 0;
    for (f = MAPS_ADMIN; f < MAPS_NFILES; f++) {
        if ((files & (1u << f))
            && diff_file(s, (enum maps_file)f, src->text[f], src->len[f], &d) < 0) {
            snprintf(err, cap, "%s", strerror(errno));
            delta_free(&d);
            return -1;
        }
    }
    if (d.n == 0) {
        *rev = 0;
        return 0;
    }
    for (tries = 0; tries < FLEET_TRIES; tries++) {
        int t = txn(c, &d, s->serial_mod, rev, e);
        if (t == 1) {
            r = 0;
            break;
        }
        if (t < 0) {
            snprintf(err, cap, "etcd: %s", e);
            break;
        }
        t = recheck(c, s, &d, src, err, cap);
        if (t <= 0) {
            *perm = t == 0 && strncmp(err, "refused", 7) == 0;
            break;
        }
        usleep((useconds_t)(1000 + (unsigned)rand() % 20000));
    }
    if (tries == FLEET_TRIES) {
        snprintf(err, cap, "too many changes at the same time; nothing was changed: retry");
    }
    delta_free(&d);
    return r;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fleet_wait(const struct fleet_conf *c, long long rev, char *lagging, size_t cap, char *err)
{
    long long deadline = now_ms() + (long long)c->wait * 1000;
    size_t pl = strlen(FLEET_NODES);
    for (;;) {
        struct fleet_snap s;
        size_t i, used = 0;
        if (fleet_get(c, FLEET_NODES, &s, err) < 0) {
            return -1;
        }
        lagging[0] = '\0';
        for (i = 0; i < s.n; i++) {
            const char *v = strstr(s.kv[i].val, "rev=");
            long long at = v ? strtoll(v + 4, NULL, 10) : 0;
            if (at < rev) {
                int w = snprintf(lagging + used, cap - used, "%s%s (at revision %lld)",
                                 used ? ", " : "", s.kv[i].key + pl, at);
                used = w > 0 && (size_t)w < cap - used ? used + (size_t)w : used;
            }
        }
        fleet_snap_free(&s);
        if (!lagging[0]) {
            return 0;
        }
        if (now_ms() >= deadline) {
            return 1;
        }
        usleep(50000);
    }
}

int fleet_import(const struct fleet_conf *c, struct fleet_snap *s, const struct maps_src *src,
                 long long *rev, size_t *added, char *err, size_t cap, int *perm)
{
    struct delta d, chunk;
    struct maps_src merged;
    struct maps_err me;
    struct maps *m;
    char e[FLEET_ERR_MAX], name[FLEET_KEY_MAX + 16];
    size_t i, k = 0;
    int f, r = -1;

    memset(&d, 0, sizeof d);
    *perm = 0;
    *rev = 0;
    *added = 0;
    for (f = MAPS_ADMIN; f < MAPS_NFILES; f++) {
        if (diff_file(s, (enum maps_file)f, src->text[f], src->len[f], &d) < 0) {
            snprintf(err, cap, "%s", strerror(errno));
            goto out;
        }
    }
    for (i = 0; i < d.n; i++) {   /* only new records: never change or drop what etcd has */
        if (d.op[i].mod && d.op[i].line) {
            record_name(d.op[i].key, name, sizeof name);
            snprintf(err, cap, "%s is already in etcd with another value; nothing was imported",
                     name);
            *perm = 1;
            goto out;
        }
        if (d.op[i].line) {
            d.op[k++] = d.op[i];
        } else {
            free(d.op[i].key);
        }
    }
    d.n = k;
    if (apply(s, &d, src->text[MAPS_ME], src->len[MAPS_ME], &merged) < 0) {
        snprintf(err, cap, "%s", strerror(errno));
        goto out;
    }
    m = mapsio_compile(&merged, &me);
    mapsio_src_free(&merged);
    if (!m) {
        char line[MAPS_REASON_MAX + 64];
        mapsio_err_str(&me, line, sizeof line);
        snprintf(err, cap, "refused: with etcd's records the maps would not compile: %s", line);
        *perm = 1;
        goto out;
    }
    maps_free(m);
    /* etcd takes at most 128 operations per transaction (--max-txn-ops): chunks, each guarded
       by the revision the previous one made */
    for (i = 0; i < d.n; i += chunk.n) {
        int t;
        chunk.op = d.op + i;
        chunk.n = d.n - i < FLEET_TXN_OPS ? d.n - i : FLEET_TXN_OPS;
        t = txn(c, &chunk, s->serial_mod, rev, e);
        if (t != 1) {
            snprintf(err, cap, t < 0 ? "etcd: %s (%zu records imported)"
                     : "another change came in the middle of the import%.0s (%zu records "
                     "imported); run it again to import the rest", e, *added);
            goto out;
        }
        s->serial_mod = *rev;
        *added += chunk.n;
    }
    r = 0;
out:
    delta_free(&d);
    return r;
}

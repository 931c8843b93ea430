/* fleettxn.c: changes to the fleet's directory: the records an edit changes, guarded etcd
   transactions, import in batches, waiting for the nodes (docs/fleet.md) */
#include "fleet.h"
#include "clock.h"
#include "fleet_impl.h"

#include "str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    if (buf_grow_array((void **)&d->op, &d->cap, d->n, sizeof *d->op, FLEET_RECORDS_MAX) < 0) {
        return -1;
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
    fleet_file_prefix(f, pre, sizeof pre);
    pl = strlen(pre);
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text) - i : len - i;
        char key[MAP_LINE_MAX];
        if (fleet_line_key(f, text + i, n, key, sizeof key) == 0) {
            if (buf_grow_array((void **)&r, &cap, nr, sizeof *r, MAPS_RECORDS_MAX) < 0) {
                goto out;
            }
            if (str_fmt(r[nr].key, sizeof r[nr].key, "%s%s", pre, key) < 0) {
                goto out;
            }
            r[nr].s = text + i;
            r[nr++].n = n;
        }
        i += n + 1;
    }
    if (nr > 0) {
        qsort(r, nr, sizeof *r, ref_cmp);   /* r is NULL for an empty file */
    }
    for (k = 0; k < nr; k++) {
        const struct fleet_kv *kv = fleet_snap_find(s, r[k].key);
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

/* One operation of a transaction's success branch: put key "1 LINE", or del key (line NULL). */
static int op_text(struct buf *b, const char *key, const char *line)
{
    char *v;
    int r;
    if (!line) {
        return buf_printf(b, "del %s\n", key);
    }
    if (!(v = malloc(strlen(line) + 3))) {
        return -1;
    }
    snprintf(v, strlen(line) + 3, "%s%s", FLEET_SCHEMA, line);
    r = buf_printf(b, "put %s ", key) < 0 || quote(b, v) < 0 || buf_puts(b, "\n") < 0 ? -1 : 0;
    free(v);
    return r;
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
        r = op_text(b, d->op[i].key, d->op[i].line);
    }
    if (r == 0) {
        r = buf_printf(b, "put %s ", FLEET_SERIAL) < 0 || quote(b, who) < 0
            || buf_puts(b, "\n\n\n") < 0 ? -1 : 0;
    }
    return r;
}

/* Run the transaction text of in (NULL: making it failed, errno): 1 committed (*rev), 0 a
   compare failed, -1 etcd error (err). in is freed. */
static int run_txn(const struct fleet_conf *c, struct buf *in, int made, long long *rev,
                   char *err)
{
    const char *args[] = { "txn", "-w", "json", NULL };
    struct buf out;
    int r;
    buf_init(&out, 1024 * 1024);
    if (made < 0) {
        snprintf(err, FLEET_ERR_MAX, "%s", strerror(errno));
        r = -1;
    } else if (fleet_ctl(c, args, in->s, &out, err) != 0) {
        r = -1;
    } else if (!out.s || fleet_json_num(out.s, out.s + out.len, "\"revision\"", rev) < 0) {
        snprintf(err, FLEET_ERR_MAX, "etcdctl txn: unexpected output");
        r = -1;
    } else {
        r = memmem(out.s, out.len, "\"succeeded\":true", 16) != NULL;
    }
    buf_free(in);
    buf_free(&out);
    return r;
}

/* 1 committed (*rev), 0 a compare failed, -1 etcd error (err). */
static int txn(const struct fleet_conf *c, const struct delta *d, long long serial_mod,
               long long *rev, char *err)
{
    char who[128];
    struct buf in;
    buf_init(&in, FLEET_OUT_MAX);
    snprintf(who, sizeof who, "mailacct@%s", c->node);
    return run_txn(c, &in, txn_text(d, serial_mod, who, &in), rev, err);
}

/* Why etcd took no change, from etcdctl's line e: its space alarm said so that the operator
   can act on it (mailacct's message, the member page's approvals), else etcdctl's line. */
static void refused_why(char *err, size_t cap, const char *e)
{
    if (fleet_nospace(e)) {
        snprintf(err, cap, "%s; nothing was changed (mail still flows)", FLEET_NOSPACE_SAY);
    } else {
        snprintf(err, cap, "etcd: %s", e);
    }
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
        if (fleet_snap_add(&t, s->kv[i].key, s->kv[i].val, s->kv[i].mod) < 0) {
            free(t.kv);
            return -1;
        }
    }
    for (i = 0; i < d->n; i++) {
        const struct fleet_kv *kv = fleet_snap_find(&t, d->op[i].key);
        if (kv) {
            ((struct fleet_kv *)kv)->val = d->op[i].line;   /* NULL: deleted */
        } else if (d->op[i].line && fleet_snap_add(&t, d->op[i].key, d->op[i].line, 0) < 0) {
            free(t.kv);
            return -1;
        }
    }
    for (i = 0; i < t.n; i++) {   /* drop deleted ones (the key order is restored below) */
        if (!t.kv[i].val) {
            t.kv[i--] = t.kv[--t.n];
        }
    }
    if (t.n > 0) {
        qsort(t.kv, t.n, sizeof *t.kv, ref_cmp_kv);   /* t.kv may be NULL when empty */
    }
    r = fleet_src(&t, me, ml, src);
    free(t.kv);
    return r;
}

/* Whether the snapshot s with the delta d applied (and this node's etc/me) still compiles:
   1 yes; 0 no, err = why, after the words refused; -1 system error (err). */
static int still_compiles(const struct fleet_snap *s, const struct delta *d,
                          const struct maps_src *src, const char *refused, char *err,
                          size_t cap)
{
    struct maps_src merged;
    struct maps_err me;
    struct maps *m;
    if (apply(s, d, src->text[MAPS_ME], src->len[MAPS_ME], &merged) < 0) {
        snprintf(err, cap, "%s", strerror(errno));
        return -1;
    }
    m = mapsio_compile(&merged, &me);
    mapsio_src_free(&merged);
    if (!m) {
        char line[MAPS_REASON_MAX + 64];
        mapsio_err_str(&me, line, sizeof line);
        snprintf(err, cap, "%s: %s", refused, line);
        return 0;
    }
    maps_free(m);
    return 1;
}

/* "account a@b.example" for "/yubin/dir/users/a@b.example" */
static void record_name(const char *key, char *out, size_t cap)
{
    static const char *const what[MAPS_NFILES] = {
        "me", "admin", "plan", "domain", "account", "alias", "route", "node", "home of"
    };
    int f;
    for (f = 1; f < MAPS_NFILES; f++) {
        char pre[64];
        fleet_file_prefix((enum maps_file)f, pre, sizeof pre);
        if (strncmp(key, pre, strlen(pre)) == 0) {
            snprintf(out, cap, "%s %s", what[f], key + strlen(pre));
            return;
        }
    }
    snprintf(out, cap, "%s", key);
}

/* The home of a changed account's or alias's domain is a record the edit was checked against
   (mailacct refuses to add or delete on a node that is not the home: the Maildir is there): a
   move that switched it meanwhile changes the answer. 1 a home the delta depends on changed
   between old and now (err says which), 0 not. */
static int home_moved(const struct fleet_snap *old, const struct fleet_snap *now,
                      const struct delta *d, char *err, size_t cap)
{
    char users[64], aliases[64], homes[64], key[FLEET_KEY_MAX + 64];
    size_t i;
    fleet_file_prefix(MAPS_USERS, users, sizeof users);
    fleet_file_prefix(MAPS_ALIASES, aliases, sizeof aliases);
    fleet_file_prefix(MAPS_HOMES, homes, sizeof homes);
    for (i = 0; i < d->n; i++) {
        const char *k = d->op[i].key, *at;
        const struct fleet_kv *a, *b;
        if ((strncmp(k, users, strlen(users)) != 0 && strncmp(k, aliases, strlen(aliases)) != 0)
            || !(at = strrchr(k, '@')) || str_fmt(key, sizeof key, "%s%s", homes, at + 1) < 0) {
            continue;
        }
        a = fleet_snap_find(old, key);
        b = fleet_snap_find(now, key);
        if ((a ? a->mod : 0) != (b ? b->mod : 0)) {
            snprintf(err, cap, "the home of %s was changed by a move at the same time (etcd "
                     "revision %lld); nothing was changed: look at it again and retry", at + 1,
                     b ? b->mod : now->rev);
            return 1;
        }
    }
    return 0;
}

/* After a failed compare: s becomes the state now. 1 if only other records changed (the
   delta still applies and compiles), 0 refused (err), -1 etcd error (err). */
static int recheck(const struct fleet_conf *c, struct fleet_snap *s, const struct delta *d,
                   const struct maps_src *src, char *err, size_t cap)
{
    struct fleet_snap n;
    char e[FLEET_ERR_MAX], name[FLEET_KEY_MAX + 16];
    size_t i;
    int ok;
    if (fleet_get_dir(c, &n, e) < 0) {
        snprintf(err, cap, "etcd: %s", e);
        return -1;
    }
    for (i = 0; i < d->n; i++) {
        const struct fleet_kv *kv = fleet_snap_find(&n, d->op[i].key);
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
    if (home_moved(s, &n, d, err, cap)) {
        fleet_snap_free(&n);
        return 0;
    }
    ok = still_compiles(&n, d, src, "refused after a change made at the same time", err, cap);
    if (ok != 1) {
        fleet_snap_free(&n);
        return ok;
    }
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
            refused_why(err, cap, e);
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

static void lag_add(char *lagging, size_t cap, size_t *used, const char *name, const char *how,
                    long long at)
{
    int w = at >= 0 ? snprintf(lagging + *used, cap - *used, "%s%s (at revision %lld)",
                               *used ? ", " : "", name, at)
                    : snprintf(lagging + *used, cap - *used, "%s%s (%s)", *used ? ", " : "",
                               name, how);
    *used = w > 0 && (size_t)w < cap - *used ? *used + (size_t)w : *used;
}

int fleet_wait(const struct fleet_conf *c, const struct fleet_snap *before, long long rev,
               char *lagging, size_t cap, char *err)
{
    long long deadline = clock_ms() + (long long)c->wait * 1000;
    size_t pl = strlen(FLEET_NODES);
    for (;;) {
        struct fleet_snap s;
        size_t i, used = 0;
        if (fleet_get(c, FLEET_NODES, FLEET_BAD_REFUSE, &s, err) < 0) {
            return -1;
        }
        lagging[0] = '\0';
        for (i = 0; i < s.n; i++) {
            const char *v = strstr(s.kv[i].val, "rev=");
            long long at = v ? strtoll(v + 4, NULL, 10) : 0;
            if (at < rev) {
                lag_add(lagging, cap, &used, s.kv[i].key + pl, "", at);
            }
        }
        /* a node live when the change was read that stopped reporting meanwhile (its lease
           lapsed in an election, its mapsync restarted) is waited for too */
        for (i = 0; before && i < before->n; i++) {
            if (strncmp(before->kv[i].key, FLEET_NODES, pl) == 0
                && !fleet_snap_find(&s, before->kv[i].key)) {
                lag_add(lagging, cap, &used, before->kv[i].key + pl, "not reporting", -1);
            }
        }
        fleet_snap_free(&s);
        if (!lagging[0]) {
            return 0;
        }
        if (clock_ms() >= deadline) {
            return 1;
        }
        usleep(50000);
    }
}

int fleet_import(const struct fleet_conf *c, struct fleet_snap *s, const struct maps_src *src,
                 long long *rev, size_t *added, char *err, size_t cap, int *perm)
{
    struct delta d, chunk;
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
    f = still_compiles(s, &d, src, "refused: with etcd's records the maps would not compile",
                       err, cap);
    if (f != 1) {
        *perm = f == 0;
        goto out;
    }
    /* etcd takes at most 128 operations per transaction (--max-txn-ops): chunks, each guarded
       by the revision the previous one made */
    for (i = 0; i < d.n; i += chunk.n) {
        int t;
        chunk.op = d.op + i;
        chunk.n = d.n - i < FLEET_TXN_OPS ? d.n - i : FLEET_TXN_OPS;
        t = txn(c, &chunk, s->serial_mod, rev, e);
        if (t < 0 && fleet_nospace(e)) {
            snprintf(err, cap, "%s; %zu records imported before it: run the import again once "
                     "etcd takes writes", FLEET_NOSPACE_SAY, *added);
            goto out;
        }
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

/* ---- records outside the maps (the DKIM keys: dkim/dkimdir.h) ---- */

int fleet_put(const struct fleet_conf *c, struct fleet_snap *s, const struct fleet_rec *recs,
              size_t n, long long *rev, char *err, size_t cap, int *perm)
{
    struct delta d;
    char e[FLEET_ERR_MAX];
    size_t i;
    int tries, conflict = 0, r = -1;

    memset(&d, 0, sizeof d);
    *perm = 0;
    *rev = 0;
    for (i = 0; i < n; i++) {
        const struct fleet_kv *kv = fleet_snap_find(s, recs[i].key);
        if (delta_add(&d, recs[i].key, recs[i].line, recs[i].line ? strlen(recs[i].line) : 0,
                      kv ? kv->mod : 0) < 0) {
            snprintf(err, cap, "%s", strerror(errno));
            delta_free(&d);
            return -1;
        }
    }
    for (tries = 0; n > 0 && tries < FLEET_TRIES; tries++) {
        struct fleet_snap now;
        int t = txn(c, &d, s->serial_mod, rev, e);
        if (t == 1) {
            r = 0;
            break;
        }
        if (t < 0 || fleet_get_dir(c, &now, e) < 0) {
            refused_why(err, cap, e);
            break;
        }
        for (i = 0; i < d.n; i++) {     /* only the guard moved: the same change again */
            const struct fleet_kv *kv = fleet_snap_find(&now, d.op[i].key);
            if ((kv ? kv->mod : 0) != d.op[i].mod) {
                snprintf(err, cap, "%s was changed by another change at the same time (etcd "
                         "revision %lld); nothing was changed: look at it again and retry",
                         d.op[i].key, kv ? kv->mod : now.rev);
                conflict = 1;
                break;
            }
        }
        fleet_snap_free(s);
        *s = now;
        if (conflict) {
            break;
        }
        usleep((useconds_t)(1000 + (unsigned)rand() % 20000));
    }
    if (n > 0 && tries == FLEET_TRIES) {
        snprintf(err, cap, "too many changes at the same time; nothing was changed: retry");
    }
    r = n == 0 ? 0 : r;
    delta_free(&d);
    return r;
}

int fleet_txn_plain(const struct fleet_conf *c, const struct fleet_rec *recs, size_t n,
                    char *err)
{
    struct buf in;
    long long rev;
    size_t i;
    int r;
    err[0] = '\0';
    if (n == 0) {
        return 0;
    }
    if (n > FLEET_TXN_OPS) {
        snprintf(err, FLEET_ERR_MAX, "more than %d records in one transaction", FLEET_TXN_OPS);
        return -1;
    }
    buf_init(&in, FLEET_OUT_MAX);
    r = buf_puts(&in, "\n");   /* no compares: the success branch runs */
    for (i = 0; r == 0 && i < n; i++) {
        r = op_text(&in, recs[i].key, recs[i].line);
    }
    r = r < 0 ? r : buf_puts(&in, "\n\n");
    return run_txn(c, &in, r, &rev, err) == 1 ? 0 : -1;
}

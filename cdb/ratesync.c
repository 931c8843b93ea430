/* ratesync: sending limits for the fleet: this node's counters to etcd, the others' to ratefleet/; runs as yubin-sync under s6 */
/* usage: ratesync [-d FD] [--root DIR]
   Fleet mode only (ROOT/etc/fleet; docs/fleet.md "Sending limits across nodes"). Every
   TICK_MS it reads the account counters smtpd wrote in ROOT/rate/ since the last look (all of
   them every FULL_SCAN_MS) and puts the changed ones, as text (lib/rate rate_text), under
   /yubin/rate/NODE/ACCOUNT (deleted once nothing is counted in the day any more). It reads
   /yubin/rate/ in full once, then keeps its copy current from the events of a watch started
   at the read's revision (each put or deletion applied as it comes); a full read again only
   when the watch ends (etcd canceled it after a compaction, or etcdctl ended), an event cannot
   be applied, or etcd was unreachable, each time after a wait that doubles while they keep
   failing (up to BACKOFF_MAX_MS). A record it cannot read is logged once and counted as
   absent. It sums the other nodes' records per account and
   writes each sum into ROOT/ratefleet/ACCOUNT (lib/rate's file, read by smtpd at MAIL), then
   touches ROOT/ratefleet/.fresh, again after each call to etcd that succeeds (one at least
   every POLL_MS): smtpd adds the other nodes' counts only while that stamp is younger than
   RATE_FLEET_STALE s. With etcd away, and on SIGTERM, it removes the stamp (logged once), so
   the limits count this node's mail alone; nothing is refused for that. A write etcd refuses
   (no grant, its space alarm) is logged once and tried again after a wait that doubles; the
   reads, and the stamp, go on. smtpd never waits
   for it. The per-IP counters (ip-*) stay the node's own. -d FD: s6 readiness, written at
   once (the mail path does not need it).
   Exit 100 bad usage or config; 111 a system error (s6 restarts it). */
#include "cfg.h"
#include "clock.h"
#include "exitcode.h"
#include "fd.h"
#include "fleet.h"
#include "log.h"
#include "rate.h"
#include "ratetab.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS      1000    /* publish this node's changes this often: most of the lag; ours */
#define POLL_MS      5000    /* ask etcd at least this often (under RATE_FLEET_STALE); ours */
#define FULL_SCAN_MS 60000   /* read every counter file, sum every account this often; ours */
#define BACKOFF_MAX_MS 60000 /* the longest wait before a full read or a write is tried again
                                after failures in a row; ours */
#define HELD_MS      10000   /* a full read whose state held this long ends a run of failures
                                (the next full read waits TICK_MS again); ours */
#define RATE_KEYS    "/yubin/rate/"
#define NAMES_MAX    1000000 /* accounts with counts in the fleet, bound of the tables; ours */
#define BAD_MAX      1000    /* unreadable records named in the log (each once); ours */
#define RATE_KEY_MAX (sizeof RATE_KEYS + FLEET_NAME_MAX + 1 + ADDR_MAX + 1)
#define THEIR_KEY_MAX (ADDR_MAX + 1 + FLEET_NAME_MAX + 1)   /* "ACCOUNT/NODE" */

static volatile sig_atomic_t stopping;   /* SIGTERM: s6-svc -d, or the tree going down */

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

struct state {
    const char *root;
    struct fleet_conf fc;
    int notify;                 /* readiness fd, -1 once written */
    unsigned long window;       /* RATE_WINDOW, as smtpd reads it */
    struct ratetab pub;         /* own records in etcd: ACCOUNT -> text (reads, puts, watch) */
    struct ratetab theirs;      /* the other nodes' records that count: ACCOUNT/NODE -> text;
                                   one account's records are next to each other */
    struct ratetab written;     /* ratefleet/ files, as written (n = 0 and !have: unknown) */
    struct ratetab bad;         /* keys of the records that cannot be read, logged: KEY -> "" */
    int have;                   /* the tables hold etcd's view (a full read succeeded) */
    char need[2 * FLEET_ERR_MAX];   /* why a full read is due; "": the watch keeps them */
    long long seen;             /* etcd's revision the tables are at: the watch starts after */
    struct fleet_watch watch;   /* of /yubin/rate/ */
    long long last_ok;          /* ms of the last call to etcd that succeeded */
    long long last_try;         /* ms of the last full read tried */
    long long read_ok;          /* ms of the last full read that succeeded */
    unsigned retries;           /* full reads in a row that failed or did not hold HELD_MS */
    long long last_tick;        /* ms of the last publish */
    long long last_full, last_sum;  /* ms (clock_ms) of the last full scan and sum */
    time_t prev_scan;           /* the date of the last scan (0: none): files written since */
    long long down_since;       /* ms; 0: etcd reachable (or not yet tried) */
    long long refused_since;    /* ms; 0: etcd takes this node's writes */
    unsigned write_retries;     /* writes in a row that etcd refused */
    long long write_next;       /* ms before which no write is tried */
    int warned_window;
};

/* ---- etcd reachable or not: the stamp smtpd trusts ---- */

static void fresh_path(const struct state *s, char *out, size_t cap)
{
    str_fmt(out, cap, "%s/%s/%s", s->root, RATE_FLEET_DIR, RATE_FLEET_FRESH);
}

static void fresh_touch(struct state *s)
{
    char path[YUBIN_PATH_MAX];
    int fd;
    fresh_path(s, path, sizeof path);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0 || futimens(fd, NULL) < 0) {
        log_warn_sys("unable to touch %s", path);
    }
    if (fd >= 0) {
        close(fd);
    }
}

static void fresh_remove(struct state *s)
{
    char path[YUBIN_PATH_MAX];
    fresh_path(s, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT) {
        log_warn_sys("unable to remove %s", path);
    }
}

/* The wait before the next try after n failures in a row: base, doubled for each failure
   after the first, up to BACKOFF_MAX_MS. */
static long long backoff(unsigned n, long long base)
{
    long long d = base;
    unsigned i;
    for (i = 1; i < n && d < BACKOFF_MAX_MS; i++) {
        d *= 2;
    }
    return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

/* The state of the last full read did not hold (the watch ended, an event could not be
   applied, etcd went away): the next read waits longer, unless it held HELD_MS. */
static void lost(struct state *s)
{
    if (clock_ms() - s->read_ok >= HELD_MS) {
        s->retries = 0;
    }
    s->retries += s->retries < 32;
}

/* etcd could not be read: this node's counts alone, said once; full reads until one
   succeeds, the first POLL_MS later (then backoff). */
static void went_down(struct state *s, const char *why)
{
    char was[sizeof s->need];
    if (!s->down_since) {
        str_fmt(was, sizeof was, "%s", s->need);    /* the reason of the read due, kept */
        str_fmt(s->need, sizeof s->need, "%s%setcd was unreachable", was, was[0] ? ", then " : "");
        s->down_since = clock_ms();
        log_warn("unable to read %s from etcd (%s): until then the sending limits count this "
                 "node's mail only", RATE_KEYS, why);
        fresh_remove(s);
        fleet_watch_stop(&s->watch);
    }
}

/* A call to etcd succeeded: the stamp is renewed while the watch keeps ratefleet/ current. */
static void reached(struct state *s)
{
    s->last_ok = clock_ms();
    if (s->down_since) {
        log_info("etcd reachable again after %llds: the sending limits count the fleet's mail",
                 (s->last_ok - s->down_since) / 1000);
        s->down_since = 0;
        s->write_next = 0;      /* what waited is written at once */
        s->write_retries = 0;
    }
    if (s->have && !s->need[0]) {
        fresh_touch(s);
    }
}

/* etcd refused this node's transaction while it reads (no write grant, its space alarm):
   said once; the reads, the watch and the stamp go on (the other nodes' counts are current),
   and the write is tried again after a wait that doubles. */
static void write_refused(struct state *s, const char *why)
{
    long long now = clock_ms();
    if (!s->refused_since) {
        s->refused_since = now;
        if (fleet_nospace(why)) {
            log_warn("etcd refused the write of this node's counts: %s: the other nodes count "
                     "without them until it takes them", FLEET_NOSPACE_SAY);
        } else {
            log_warn("etcd refused the write of this node's counts (%s): the other nodes "
                     "count without them until it takes them", why);
        }
    }
    s->write_retries += s->write_retries < 32;
    s->write_next = now + backoff(s->write_retries, TICK_MS);
}

/* ---- the other nodes' counts: etcd to ratefleet/ ---- */

/* An account name as rate_path takes it, with a domain: 1 usable. */
static int name_ok(const char *name)
{
    char path[YUBIN_PATH_MAX];
    return strchr(name, '@') && strlen(name) <= ADDR_MAX
           && rate_path(path, sizeof path, ".", RATE_FLEET_DIR, name) == 0;
}

/* Write ROOT/ratefleet/NAME holding r's slots (the file's seq and alerts kept). */
static int write_sum(struct state *s, const char *name, const struct rate_rec *r)
{
    struct rate_rec f;
    int fd, ok;
    if (rate_open_in(s->root, RATE_FLEET_DIR, name, s->window, &fd, &f) < 0) {
        return -1;
    }
    memcpy(f.fine, r->fine, sizeof f.fine);
    memcpy(f.day, r->day, sizeof f.day);
    ok = rate_store(fd, &f);
    close(fd);
    return ok;
}

static void remove_sum(struct state *s, const char *name)
{
    char path[YUBIN_PATH_MAX];
    if (rate_path(path, sizeof path, s->root, RATE_FLEET_DIR, name) == 0
        && unlink(path) < 0 && errno != ENOENT) {
        log_warn_sys("unable to remove %s", path);
    }
}

/* The first time: files in ratefleet/ from an earlier run that name no account any more. */
static void clean_dir(struct state *s, const struct ratetab *keep)
{
    char path[YUBIN_PATH_MAX];
    struct dirent *de;
    DIR *d;
    if (str_fmt(path, sizeof path, "%s/%s", s->root, RATE_FLEET_DIR) < 0
        || !(d = opendir(path))) {
        log_warn_sys("unable to read %s/%s", s->root, RATE_FLEET_DIR);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.' && !ratetab_get(keep, de->d_name)
            && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
            log_warn_sys("unable to remove %s/%s", path, de->d_name);
        }
    }
    closedir(d);
}

/* A record of etcd that cannot be read, counted as absent: logged once while it stays so
   (s->bad: those said; now: where it is noted, s->bad but during a full read the read's new
   table, which keeps those it finds only). 0, or -1 out of memory. */
static int unreadable(struct state *s, struct ratetab *now, const char *key, const char *why)
{
    int said = ratetab_get(&s->bad, key) != NULL;
    if ((said && now == &s->bad) || ratetab_get(now, key)) {
        return 0;
    }
    if (!said && now->n < now->max) {
        log_warn("unreadable record %s in etcd (%s): counted as absent", key, why);
    }
    return ratetab_keep(now, key, "");     /* a full read's table: said already, kept so */
}

/* 1 if the record text of key counts for this node; 0 another window (said once); -1 it is
   not a counter (rate_text's form). */
static int counts(struct state *s, const char *key, const char *text)
{
    struct rate_rec r;
    if (rate_parse_text(text, &r) < 0) {
        return -1;
    }
    if (rate_window(&r) != s->window) {
        if (!s->warned_window) {
            s->warned_window = 1;
            log_warn("%s counts in a window of %lu s, this node in %lu s (RATE_WINDOW must "
                     "be the same on every node): its counts are not added",
                     key, rate_window(&r), s->window);
        }
        return 0;
    }
    return 1;
}

/* One record of /yubin/rate/ as etcd now holds it (val NULL: deleted, or unreadable: bad
   set) into pub (our own) or theirs; a record that cannot be read is said (into bad: s->bad,
   or a full read's new table) and counted as absent; keys of no node and account are skipped.
   acct (ADDR_MAX + 1): the account whose fleet sum changed, "" none. 0 ok; -1 out of memory
   (a full table leaves the record out, said once). */
static int take(struct state *s, const struct fleet_kv *kv, struct ratetab *bad, char *acct)
{
    size_t pl = strlen(RATE_KEYS), nl = 0;
    const char *k = kv->key + pl, *slash = NULL, *text = kv->val, *why = kv->bad;
    char tk[THEIR_KEY_MAX];
    int mine, c;
    acct[0] = '\0';
    if (!text && !why) {
        ratetab_set(&s->bad, kv->key, NULL);    /* deleted: said again if it comes back bad */
    }
    if (kv->key_bad) {
        return why ? unreadable(s, bad, kv->key, why) : 0;
    }
    if (strncmp(kv->key, RATE_KEYS, pl) != 0 || !(slash = strchr(k, '/'))
        || (nl = (size_t)(slash - k)) == 0 || nl > FLEET_NAME_MAX || !name_ok(slash + 1)) {
        return text || why ? unreadable(s, bad, kv->key, why ? why : "a key that names no "
                                        "node and account") : 0;
    }
    mine = nl == strlen(s->fc.node) && strncmp(k, s->fc.node, nl) == 0;
    if (!why && text && !mine && (c = counts(s, kv->key, text)) <= 0) {
        why = c < 0 ? "not a counter: 1 w=WINDOW f=SLOTS d=SLOTS" : NULL;
        text = NULL;    /* another window: as if it were not there */
    }
    if (why) {
        if (unreadable(s, bad, kv->key, why) < 0) {
            return -1;
        }
        text = NULL;
    } else {
        ratetab_set(&s->bad, kv->key, NULL);    /* readable again: said again if it turns bad */
    }
    if (mine) {
        return ratetab_keep(&s->pub, slash + 1, text);
    }
    str_fmt(tk, sizeof tk, "%s/%.*s", slash + 1, (int)nl, k);
    if (!text && !ratetab_get(&s->theirs, tk)) {
        return 0;
    }
    str_fmt(acct, ADDR_MAX + 1, "%s", slash + 1);
    return ratetab_keep(&s->theirs, tk, text);
}

/* theirs' records of the account at i: [i, *j). The account into name (ADDR_MAX + 1). */
static void account_at(const struct state *s, size_t i, size_t *j, char *name)
{
    const char *a = s->theirs.e[i].name;
    size_t al = (size_t)(strchr(a, '/') - a);
    str_fmt(name, ADDR_MAX + 1, "%.*s", (int)al, a);
    for (*j = i + 1; *j < s->theirs.n && strncmp(s->theirs.e[*j].name, a, al + 1) == 0;
         (*j)++) {
    }
}

/* Sum theirs[i, j) (one account's records) into ratefleet/NAME unless written already; its
   text into text (RATE_TEXT_MAX), "" when nothing is counted any more or the write failed
   (the file is then not there: it is written again at the next sum). */
static void sum_account(struct state *s, const char *name, size_t i, size_t j, uint64_t t,
                        char *text)
{
    struct rate_rec sum, r;
    const char *was;
    size_t k;
    text[0] = '\0';
    if (i == j || rate_parse_text(s->theirs.e[i].text, &sum) < 0) {
        return;
    }
    for (k = i + 1; k < j; k++) {
        if (rate_parse_text(s->theirs.e[k].text, &r) == 0) {    /* checked when taken */
            rate_merge(&sum, &r);
        }
    }
    if (rate_text(&sum, t, text, RATE_TEXT_MAX) <= 0) {
        text[0] = '\0';
        return;
    }
    was = ratetab_get(&s->written, name);
    if ((!was || strcmp(was, text) != 0) && write_sum(s, name, &sum) < 0) {
        log_warn_sys("unable to write %s/%s/%s", s->root, RATE_FLEET_DIR, name);
        text[0] = '\0';
    }
}

/* Note name's file in t as written with text ("": none); when t is full (said once) the file
   is removed instead: smtpd never reads a sum that is not kept current. 0, or -1 out of
   memory. */
static int note_sum(struct state *s, struct ratetab *t, const char *name, const char *text)
{
    if (ratetab_keep(t, name, text[0] ? text : NULL) < 0) {
        return -1;
    }
    if (text[0] && !ratetab_get(t, name)) {
        remove_sum(s, name);
    }
    return 0;
}

/* One account's sum again, after an event changed one of its records. */
static void sum_one(struct state *s, const char *name)
{
    char pre[ADDR_MAX + 2], text[RATE_TEXT_MAX], acct[ADDR_MAX + 1];
    size_t i, j;
    int found;
    str_fmt(pre, sizeof pre, "%s/", name);
    i = j = ratetab_pos(&s->theirs, pre, &found);     /* the first "NAME/NODE", if any */
    if (i < s->theirs.n && strncmp(s->theirs.e[i].name, pre, strlen(pre)) == 0) {
        account_at(s, i, &j, acct);
    }
    sum_account(s, name, i, j, (uint64_t)time(NULL), text);
    if (!text[0] && ratetab_get(&s->written, name)) {
        remove_sum(s, name);
    }
    if (note_sum(s, &s->written, name, text) < 0) {
        die_sys(EXIT_TEMP, "out of memory");
    }
}

/* Every account's sum again (after a full read, and every FULL_SCAN_MS: slots age out);
   the files of sums that are gone are removed. */
static void sum_all(struct state *s)
{
    struct ratetab now;
    char name[ADDR_MAX + 1], text[RATE_TEXT_MAX];
    uint64_t t = (uint64_t)time(NULL);
    size_t i, j;
    ratetab_init(&now, s->written.max, s->written.full);
    now.warned = s->written.warned;
    for (i = 0; i < s->theirs.n; i = j) {
        account_at(s, i, &j, name);
        sum_account(s, name, i, j, t, text);
        if (text[0] && note_sum(s, &now, name, text) < 0) {
            die_sys(EXIT_TEMP, "out of memory");
        }
    }
    if (!s->have) {
        clean_dir(s, &now);
    }
    for (i = 0; i < s->written.n; i++) {
        if (!ratetab_get(&now, s->written.e[i].name)) {
            remove_sum(s, s->written.e[i].name);
        }
    }
    ratetab_free(&s->written);
    s->written = now;
    s->last_sum = clock_ms();
}

/* ---- reading etcd: once in full, then the watch's events ---- */

/* Read /yubin/rate/ in full into pub and theirs, write the sums, and watch from there. */
static int read_all(struct state *s)
{
    struct fleet_snap snap;
    struct ratetab bad;
    char err[FLEET_ERR_MAX], acct[ADDR_MAX + 1];
    size_t i;
    s->last_try = clock_ms();
    fleet_watch_stop(&s->watch);
    if (fleet_get(&s->fc, RATE_KEYS, FLEET_BAD_KEEP, &snap, err) < 0) {
        s->retries += s->retries < 32;
        went_down(s, err);
        return -1;
    }
    ratetab_free(&s->pub);
    ratetab_free(&s->theirs);
    ratetab_init(&bad, s->bad.max, s->bad.full);
    bad.warned = s->bad.warned;
    for (i = 0; i < snap.n; i++) {
        if (take(s, &snap.kv[i], &bad, acct) < 0) {
            die_sys(EXIT_TEMP, "out of memory");
        }
    }
    ratetab_free(&s->bad);
    s->bad = bad;       /* the unreadable records of this read: one gone is said again */
    s->read_ok = clock_ms();
    sum_all(s);
    s->seen = snap.rev;
    log_info("read %s in full (%s): %zu records at revision %lld", RATE_KEYS, s->need,
             snap.n, snap.rev);
    fleet_snap_free(&snap);
    s->have = 1;
    s->need[0] = '\0';
    if (fleet_watch_start(&s->fc, &s->watch, RATE_KEYS, s->seen + 1) < 0) {
        log_warn_sys("unable to start etcdctl watch");
        str_fmt(s->need, sizeof s->need, "the watch could not start");
    }
    reached(s);
    return 0;
}

/* A watch response: each event into the tables, in order, and the sums it changed. -1 one
   could not be taken (errno). */
static int apply(struct state *s, const struct fleet_snap *ev)
{
    char acct[ADDR_MAX + 1];
    size_t i;
    for (i = 0; i < ev->n; i++) {
        if (take(s, &ev->kv[i], &s->bad, acct) < 0) {
            return -1;
        }
        if (acct[0]) {
            sum_one(s, acct);
        }
    }
    if (ev->rev > s->seen) {
        s->seen = ev->rev;
    }
    return 0;
}

/* Until the time until (ms, now_ms's clock): the watch's responses applied as they come.
   When the watch ends, or a response cannot be applied, a full read is due (need). */
static void wait_events(struct state *s, long long until)
{
    long long left;
    while (!stopping && (left = until - clock_ms()) > 0) {
        struct fleet_snap ev;
        char why[FLEET_ERR_MAX];
        int r = fleet_watch_next(&s->watch, (int)left, &ev, why);
        if (r < 0) {
            str_fmt(s->need, sizeof s->need, "%s", why);
            lost(s);
            return;
        }
        if (r > 0 && apply(s, &ev) < 0) {
            str_fmt(s->need, sizeof s->need, "an event could not be applied: %s",
                    strerror(errno));
            fleet_watch_stop(&s->watch);
            lost(s);
        }
        fleet_snap_free(&ev);
        if (s->need[0]) {
            return;
        }
    }
}

/* etcd reachable, the cheap way (one key): between the node's own puts, at least every
   POLL_MS. */
static void ping(struct state *s)
{
    char err[FLEET_ERR_MAX];
    if (fleet_ping(&s->fc, RATE_KEYS, err) < 0) {
        lost(s);
        went_down(s, err);
        return;
    }
    reached(s);
}

/* ---- this node's counts: rate/ to etcd ---- */

struct batch {
    struct fleet_rec rec[FLEET_TXN_OPS];
    char key[FLEET_TXN_OPS][RATE_KEY_MAX];
    char name[FLEET_TXN_OPS][ADDR_MAX + 1];
    char text[FLEET_TXN_OPS][RATE_TEXT_MAX];
    size_t n;
};

/* Send the batch as one transaction and note it in pub. 0 ok, -1 etcd refused it. */
static int flush(struct state *s, struct batch *b)
{
    char err[FLEET_ERR_MAX];
    size_t i;
    if (b->n == 0) {
        return 0;
    }
    if (fleet_txn_plain(&s->fc, b->rec, b->n, err) < 0) {
        write_refused(s, err);
        b->n = 0;
        return -1;
    }
    if (s->refused_since) {
        log_info("etcd takes this node's counts again after %llds",
                 (clock_ms() - s->refused_since) / 1000);
        s->refused_since = 0;
        s->write_retries = 0;
    }
    reached(s);
    for (i = 0; i < b->n; i++) {
        if (ratetab_keep(&s->pub, b->name[i], b->rec[i].line) < 0) {
            die_sys(EXIT_TEMP, "out of memory");
        }
    }
    b->n = 0;
    return 0;
}

/* Queue a put (text) or delete (NULL) of name's record when etcd's differs; a new name that
   pub has no room for is not put (said once): its record could never be deleted. */
static int queue(struct state *s, struct batch *b, const char *name, const char *text)
{
    const char *was = ratetab_get(&s->pub, name);
    size_t i = b->n;
    if (text ? was && strcmp(was, text) == 0 : !was) {
        return 0;
    }
    if (!was && s->pub.n + b->n >= s->pub.max) {
        if (!s->pub.warned) {
            s->pub.warned = 1;
            log_warn("more than %zu %s", s->pub.max, s->pub.full);
        }
        return 0;
    }
    if (str_fmt(b->key[i], sizeof b->key[i], "%s%s/%s", RATE_KEYS, s->fc.node, name) < 0
        || str_fmt(b->name[i], sizeof b->name[i], "%s", name) < 0) {
        log_warn("a counter name too long to publish: %.64s...", name);
        return 0;
    }
    b->rec[i].key = b->key[i];
    b->rec[i].line = NULL;
    if (text) {
        str_fmt(b->text[i], sizeof b->text[i], "%s", text);
        b->rec[i].line = b->text[i];
    }
    b->n++;
    return b->n == FLEET_TXN_OPS ? flush(s, b) : 0;
}

/* One account file of rate/ into the batch (its text, or a delete when it counts nothing). */
static int publish_one(struct state *s, struct batch *b, const char *name, uint64_t now)
{
    struct rate_rec r;
    char text[RATE_TEXT_MAX];
    int n;
    if (rate_read(s->root, name, s->window, &r) < 0) {
        log_warn_sys("unable to read %s/%s/%s", s->root, RATE_DIR, name);
        return 0;
    }
    if (rate_window(&r) != s->window) {
        return 0;       /* written before RATE_WINDOW changed: smtpd starts it again */
    }
    n = rate_text(&r, now, text, sizeof text);
    return queue(s, b, name, n > 0 ? text : NULL);
}

/* Delete the records whose file is gone from rate/ (the operator removed it). */
static int publish_gone(struct state *s, struct batch *b)
{
    char path[YUBIN_PATH_MAX];
    struct ratetab gone = { NULL, 0, 0, NAMES_MAX, "", 0 };   /* part of pub: never full */
    size_t i;
    int r = 0;
    for (i = 0; i < s->pub.n; i++) {
        if (rate_path(path, sizeof path, s->root, RATE_DIR, s->pub.e[i].name) == 0
            && access(path, F_OK) < 0 && errno == ENOENT
            && ratetab_set(&gone, s->pub.e[i].name, "") < 0) {
            die_sys(EXIT_TEMP, "out of memory");
        }
    }
    for (i = 0; r == 0 && i < gone.n; i++) {
        r = queue(s, b, gone.e[i].name, NULL);     /* a flush changes pub, not gone */
    }
    ratetab_free(&gone);
    return r;
}

/* Publish what changed in rate/ since the last scan (every file on a full scan, and the
   records of files that are gone). 0 ok, -1 etcd refused the write. */
static int publish(struct state *s, struct batch *b)
{
    char path[YUBIN_PATH_MAX];
    time_t t = time(NULL);
    long long now = clock_ms();
    /* every file once a minute (by the monotonic clock), and when the date went back: a file
       written since would have an mtime older than the last scan's date */
    int full = !s->prev_scan || t < s->prev_scan || now - s->last_full >= FULL_SCAN_MS, r = 0;
    struct dirent *de;
    struct stat st;
    DIR *d;
    if (str_fmt(path, sizeof path, "%s/%s", s->root, RATE_DIR) < 0 || !(d = opendir(path))) {
        log_warn_sys("unable to read %s/%s", s->root, RATE_DIR);
        return 0;
    }
    b->n = 0;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (!name_ok(de->d_name)) {
            continue;   /* ip-*: per node; dot files */
        }
        /* a file written in the second of the last scan is read again: mtimes are seconds */
        if (!full && (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
                      || st.st_mtime < s->prev_scan)) {
            continue;
        }
        r = publish_one(s, b, de->d_name, (uint64_t)t);
    }
    closedir(d);
    if (full && r == 0) {
        r = publish_gone(s, b);
    }
    if (r == 0) {
        r = flush(s, b);
    }
    if (r == 0) {
        s->prev_scan = t;
        s->last_full = full ? now : s->last_full;
    }
    return r;
}

static void setup(struct state *s)
{
    struct sigaction sa;
    char why[FLEET_ERR_MAX + 64];
    if (geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root (run it as yubin-sync)");
    }
    if (fleet_conf_read(s->root, FLEET_NODE, &s->fc, why, sizeof why) < 0) {
        die(EXIT_PERM, "%s", why);
    }
    /* the window smtpd counts in (smtpd_limits_init) */
    s->window = cfg_num("RATE_WINDOW", 3600);
    if (s->window < RATE_WINDOW_MIN || s->window > RATE_WINDOW_MAX) {
        s->window = 3600;
    }
    s->window -= s->window % RATE_FINE_SLOTS;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;   /* no SA_RESTART: the wait returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (s->notify >= 0) {
        fd_write_all(s->notify, "\n", 1);
        close(s->notify);
        s->notify = -1;
    }
}

int main(int argc, char **argv)
{
    static struct batch b;      /* 100 records of text: static, not on the stack */
    struct state s;
    char why[FLEET_ERR_MAX + 64];

    log_init("ratesync");
    umask(027);     /* ratefleet/ and .fresh (0640) are read by smtpd through their group */
    memset(&s, 0, sizeof s);
    s.notify = -1;
    ratetab_init(&s.pub, NAMES_MAX, "accounts of this node with counts: the counts of the "
               "others are not published");
    ratetab_init(&s.theirs, FLEET_RECORDS_MAX, "records of the other nodes' counts: the others "
               "are not counted");
    ratetab_init(&s.written, NAMES_MAX, "accounts with counts of the other nodes: the others' "
               "are not counted");
    ratetab_init(&s.bad, BAD_MAX, "unreadable records in etcd: the others are counted as absent "
               "without being named");
    fleet_watch_init(&s.watch);
    str_fmt(s.need, sizeof s.need, "starting");
    if (fleet_daemon_args(argc, argv, "ratesync", &s.notify, &s.root, why, sizeof why) < 0) {
        die(EXIT_PERM, "%s", why);
    }
    setup(&s);
    log_info("node %s starting: window=%lu s, every %d ms", s.fc.node, s.window, TICK_MS);
    for (;;) {
        long long now;
        if (stopping) {
            fleet_watch_stop(&s.watch);
            fresh_remove(&s);
            log_info("stopping: the sending limits count this node's mail only until ratesync "
                     "runs again");
            return EXIT_DONE;
        }
        /* a full read when one is due (with etcd away, every POLL_MS: each is an etcdctl
           start); else etcd asked at least every POLL_MS, renewing the stamp */
        now = clock_ms();
        if (s.need[0]) {
            if (now - s.last_try >= backoff(s.retries, s.down_since ? POLL_MS : TICK_MS)) {
                read_all(&s);
            }
        } else if (now - s.last_ok >= POLL_MS) {
            ping(&s);
        }
        /* what we publish is compared with etcd's view: none yet (or etcd away), nothing
           published until the next read; after a refused write, not before write_next */
        if (s.have && !s.down_since && clock_ms() - s.last_tick >= TICK_MS) {
            s.last_tick = clock_ms();
            if (clock_ms() >= s.write_next) {
                publish(&s, &b);
            }
            if (clock_ms() - s.last_sum >= FULL_SCAN_MS) {
                sum_all(&s);
            }
        }
        /* until the next publish (a tick from now when nothing is published) */
        now = clock_ms();
        wait_events(&s, s.last_tick + TICK_MS > now ? s.last_tick + TICK_MS : now + TICK_MS);
    }
}

/* fleet.h: fleet mode (ROOT/etc/fleet): the account directory in etcd, read and changed by
   running etcdctl (ETCDCTL_API=3, JSON output); shared by mailacct, mapsync, ratesync and the
   tests.
   Schema (docs/fleet.md): one key per map line, /yubin/dir/FILE/KEY -> "1 LINE" (1: the
   schema version; FILE one of admin plans domains users aliases routes; KEY the line's key,
   "*" for the default route); /yubin/dir/serial, the guard every change compares and
   rewrites (its mod_revision is the directory's revision: the last change);
   /yubin/node/NAME -> "1 rev=N" under the node's lease: the revision its maps are at;
   /yubin/rate/NAME/ADDRESS -> "1 w=… f=… d=…": what ADDRESS sent through node NAME (ratesync,
   lib/rate rate_text). */
#ifndef YUBIN_FLEET_H
#define YUBIN_FLEET_H

#include "buf.h"
#include "fleethome.h"
#include "mapsio.h"

#include <stddef.h>

#define FLEET_DIR         "/yubin/dir/"
#define FLEET_NODES       "/yubin/node/"
#define FLEET_SERIAL      "/yubin/dir/serial"
/* where a fleet node's domains come from, in the compiler's reasons (maps_set_domains_from) */
#define FLEET_DOMAINS_FROM "the fleet directory (" FLEET_DIR "domains/)"
#define FLEET_SCHEMA      "1 "              /* value prefix: schema version 1 */
#define FLEET_NAME_MAX    63                /* a node name: [a-z0-9-]; ours */
#define FLEET_OUT_MAX     (512UL * 1024 * 1024)  /* etcdctl output (2 GiB etcd, 256 MiB maps) */
#define FLEET_RECORDS_MAX (MAPS_RECORDS_MAX * 8)   /* directory records: every map line */
#define FLEET_ERR_MAX     512               /* etcdctl's last error line kept */
#define FLEET_KEY_MAX     (sizeof FLEET_DIR + 16 + MAP_LINE_MAX)
#define FLEET_TRIES       50                /* txn retries when only the guard moved; ours */
#define FLEET_TXN_OPS     100               /* records per transaction (etcd allows 128 ops) */
#define FLEET_WATCH_LINE_MAX (4UL * 1024 * 1024)  /* one watch response (one line of etcdctl
                                               watch -w json): usually a node's transaction,
                                               at most FLEET_TXN_OPS records of a few KiB, but
                                               etcd may put up to 1000 revisions in one when it
                                               catches up a watcher; past this bound the
                                               reader reads the prefix in full instead; ours */

enum fleet_who { FLEET_OPERATOR, FLEET_NODE };

struct fleet_conf {
    char node[FLEET_NAME_MAX + 1];
    char endpoints[1024];
    unsigned wait;                          /* seconds mailacct waits for the nodes (wait=) */
    char ca[YUBIN_PATH_MAX], cert[YUBIN_PATH_MAX], key[YUBIN_PATH_MAX];
};

/* One key read from etcd; key and val malloc'd, NUL-terminated (val without FLEET_SCHEMA).
   A record that cannot be read (no value, one not of schema 1, a CR, LF or NUL in it, a map
   line under another record's key, a NUL in its key) has bad set (why, static text) and val
   NULL; key_bad: its key holds a NUL, and key is a copy with '?' for each NUL, for a log line
   only (it names no record; a watch's deletion of such a key has key_bad, not bad). */
struct fleet_kv {
    char *key, *val;
    long long mod;
    const char *bad;
    int key_bad;
};

/* What a read does with a record it cannot read (fleet_kv's bad). */
enum fleet_bad {
    FLEET_BAD_REFUSE,   /* one under /yubin/dir/ fails the whole read (the maps are built from
                           every line or none); one elsewhere (another node's /yubin/rate/ or
                           /yubin/node/ record) is left out of the snapshot */
    FLEET_BAD_KEEP      /* each is in the snapshot with bad set: the caller says so and counts
                           it as absent (ratesync) */
};

struct fleet_snap {
    long long rev;                          /* the header revision of the read */
    long long serial_mod;                   /* 0: the guard does not exist */
    struct fleet_kv *kv;                    /* sorted by key (etcd's range order) */
    size_t n, cap;
};

/* 1 if ROOT/etc/fleet exists, 0 if not, -1 error. */
int fleet_present(const char *root);
/* Read ROOT/etc/fleet (node=, endpoints=, wait=) and the certificate paths of who under
   ROOT/etc/fleet.d/ (ca.pem; node.pem/node.key or operator.pem/operator.key). 0 ok; -1
   with why filled (cap bytes). */
int fleet_conf_read(const char *root, enum fleet_who who, struct fleet_conf *c, char *why,
                    size_t cap);

/* The fleet daemons' arguments (mapsync, ratesync): [-d FD] [--root DIR] (default
   YUBIN_ROOT). 0 ok; -1 bad usage (*why: what to say, with prog's usage), or no mail root. */
int fleet_daemon_args(int argc, char **argv, const char *prog, int *notify, const char **root,
                      char *why, size_t cap);

/* Run etcdctl ARGS... with the conf's endpoints and certificates; in (NULL: /dev/null) on
   stdin, stdout into out (at most out->max octets), the last stderr line into err
   (FLEET_ERR_MAX). Returns etcdctl's exit status (127 and err "unable to run etcdctl: ..." if
   it could not be started), or -1 (errno) if it could not be run or its output was longer
   than out->max (E2BIG: it is killed); err then says why (etcdctl's last line, else "etcdctl
   exited with N", "etcdctl's output is longer than N octets" or "unable to run etcdctl:
   ..."). */
int fleet_ctl(const struct fleet_conf *c, const char *const *args, const char *in,
              struct buf *out, char *err);
/* etcd's refusal of every write while its space alarm (NOSPACE) is on: its backend reached
   --quota-backend-bytes; reads still work. etcdctl's line then holds FLEET_NOSPACE_ERR
   ("Error: etcdserver: mvcc: database space exceeded", or "failed to grant lease (...)"). */
#define FLEET_NOSPACE_ERR "database space exceeded"
/* What the programs say in its place: the cause, and where the operator's remedy is. */
#define FLEET_NOSPACE_SAY "etcd's database is full (its space alarm NOSPACE: etcd refuses " \
    "every write until an operator compacts, defragments and disarms it: docs/fleet.md " \
    "\"etcd's database is full\")"
/* 1 if err (etcdctl's message, as fleet_ctl gives it) is etcd's refusal for want of space,
   0 if not. */
int fleet_nospace(const char *err);
/* Start etcdctl ARGS... in the background, its stdout on *outfd (-1: /dev/null); it is killed
   when the caller dies. The pid, or -1. */
long fleet_spawn(const struct fleet_conf *c, const char *const *args, int *outfd);

/* An etcdctl watch of a prefix, run in the background: mapsync only learns that something
   changed (fleet_watch_wait) and reads what; ratesync takes the changes themselves
   (fleet_watch_next). */
struct fleet_watch {
    long pid;                               /* 0: none */
    int fd;                                 /* its output, -1: none */
    struct buf out;                         /* output not yet taken by fleet_watch_next:
                                               at most FLEET_WATCH_LINE_MAX */
};
void fleet_watch_init(struct fleet_watch *w);
/* Start `etcdctl watch --prefix PREFIX --rev FROM -w json` unless one runs (an ended one's
   output is closed first). 0 running, -1 not started (errno). */
int fleet_watch_start(const struct fleet_conf *c, struct fleet_watch *w, const char *prefix,
                      long long from);
/* Wait up to ms (just sleep without a watch): 1 it reported a change (its output drained), 0
   nothing, -1 it ended (etcd compacted past FROM, or the member went away): it is stopped,
   start it again after reading the prefix. */
int fleet_watch_wait(struct fleet_watch *w, int ms);
/* Wait up to ms (just sleep without a watch) for the watch's next response and parse it into
   ev (zeroed here; the caller frees it with fleet_snap_free): ev->rev its header revision,
   ev->kv its events in etcd's order, not sorted (val without FLEET_SCHEMA; NULL: the key was
   deleted, or the record put cannot be read: bad set, as FLEET_BAD_KEEP). 1 a response in ev
   (it may hold no event); 0 none within ms (or a signal came); -1 the watch is over and
   stopped, why (FLEET_ERR_MAX) says why: etcdctl ended (etcd gone for good, or killed), etcd
   canceled it (history compacted past FROM, or no leader), or a response could not be read or
   was longer than FLEET_WATCH_LINE_MAX. Read the prefix again, then start a new watch from the
   read's revision + 1: nothing is missed. */
int fleet_watch_next(struct fleet_watch *w, int ms, struct fleet_snap *ev, char *why);
/* Kill and reap it, close its output. */
void fleet_watch_stop(struct fleet_watch *w);

/* Range-read prefix into s; a record that cannot be read is treated as how says (with
   FLEET_BAD_REFUSE, one under /yubin/dir/ fails the read: -1 with EPROTO, err naming its key
   and why). 0 ok; -1 (err filled: etcdctl's message) if etcd could not be read. */
int fleet_get(const struct fleet_conf *c, const char *prefix, enum fleet_bad how,
              struct fleet_snap *s, char *err);
/* mailacct's snapshot: the directory (FLEET_DIR: the map lines, the DKIM keys, the guard)
   and the nodes' records (FLEET_NODES: who fleet_wait waits for), at one revision, by one
   read-only transaction of two range reads; nothing else of /yubin/ (the sending counters
   under /yubin/rate/ grow with accounts times nodes, and mailacct uses none). As fleet_get
   with FLEET_BAD_REFUSE. */
int fleet_get_dir(const struct fleet_conf *c, struct fleet_snap *s, char *err);
void fleet_snap_free(struct fleet_snap *s);
/* Read the one key (no prefix): whether etcd answers this node, and lets it read key, at the
   cost of one key's lookup. 0 yes; -1 err filled (etcdctl's message). */
int fleet_ping(const struct fleet_conf *c, const char *key, char *err);
/* The record of key in a key-sorted snapshot (as fleet_get reads it), or NULL. */
const struct fleet_kv *fleet_snap_find(const struct fleet_snap *s, const char *key);
/* The sources of the maps from a snapshot: every file but me, which stays local (me_text);
   its domains come from FLEET_DOMAINS_FROM. */
int fleet_src(const struct fleet_snap *s, const char *me_text, size_t me_len,
              struct maps_src *src);
/* Write the changes between the snapshot and src (files: bit 1 << maps_file) as one etcd
   transaction guarded by the revisions read. When only other records changed meanwhile, the
   same changes are checked against the new state and tried again. 0 done (*rev: the
   revision that holds them; 0 when nothing changed); -1: err holds the
   reason, *perm = 1 refused (conflict on a record, or the edit no longer compiles), 0
   etcd unreachable or a system error. */
int fleet_commit(const struct fleet_conf *c, struct fleet_snap *s, const struct maps_src *src,
                 unsigned files, long long *rev, char *err, size_t cap, int *perm);
/* mailacct import: add the records of src (a node's etc/) that etcd lacks, in transactions of
   FLEET_TXN_OPS records; refused (*perm = 1) when a record is in etcd with another value or
   the merged maps do not compile. Records only in etcd stay. 0 ok (*added; *rev: the last
   transaction's revision, 0 if nothing was new); -1 err as fleet_commit. */
int fleet_import(const struct fleet_conf *c, struct fleet_snap *s, const struct maps_src *src,
                 long long *rev, size_t *added, char *err, size_t cap, int *perm);
/* One record for fleet_put: key, and its value without the schema prefix (NULL: delete). */
struct fleet_rec {
    const char *key, *line;
};
/* Records that are no map line (the DKIM keys, dkim/dkimdir.h) as one etcd transaction
   guarded by /yubin/dir/serial and by each record's mod_revision in s (version 0 when s lacks
   it). When only other records changed meanwhile, s becomes the new state and the same
   records are tried again. 0 done (*rev the revision; 0 when n is 0); -1 err as
   fleet_commit (a record changed at the same time: *perm = 0, exit 111 as for accounts). */
int fleet_put(const struct fleet_conf *c, struct fleet_snap *s, const struct fleet_rec *recs,
              size_t n, long long *rev, char *err, size_t cap, int *perm);
/* A node's own records, outside the directory (ratesync's /yubin/rate/NODE/NAME): one etcd
   transaction of the n (at most FLEET_TXN_OPS) puts and deletes of recs, with no guard (the
   node is their only writer). 0 done; -1 err (FLEET_ERR_MAX) holds etcdctl's reason. */
int fleet_txn_plain(const struct fleet_conf *c, const struct fleet_rec *recs, size_t n,
                    char *err);
/* Wait up to c->wait seconds until every node under /yubin/node/, and every node listed in
   before (the read the change was made from; may be NULL), reports rev >= rev. 0 all; 1 some
   lag (lagging: "NAME (at revision N)" or "NAME (not reporting)", comma-separated); -1 etcd
   unreachable (err). */
int fleet_wait(const struct fleet_conf *c, const struct fleet_snap *before, long long rev,
               char *lagging, size_t cap, char *err);
/* The key of one map line (first field up to ':', trimmed, lower-cased; the whole line for
   admin; "*" for an empty key). 0 ok, -1 blank or comment. */
int fleet_line_key(enum maps_file f, const char *line, size_t n, char *key, size_t cap);

#endif

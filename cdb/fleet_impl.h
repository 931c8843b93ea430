/* fleet_impl.h: helpers shared by fleet.c and fleettxn.c, and the parsers the unit tests and
   fuzzers call (not for the programs) */
#ifndef YUBIN_FLEET_IMPL_H
#define YUBIN_FLEET_IMPL_H

#include "fleet.h"

/* The integer after "name": inside [s, end) of etcdctl's JSON; 0 ok, -1 absent. */
int fleet_json_num(const char *s, const char *end, const char *name, long long *out);
/* Append a record (takes key and val); 0 / -1 ENOMEM. */
int fleet_snap_add(struct fleet_snap *s, char *key, char *val, long long mod);
/* Parse etcdctl get -w json output (n bytes), or etcdctl txn -w json of range reads (the
   records of each in turn), into s (zeroed by the caller): the first header revision, then
   every record (/yubin/dir/serial sets serial_mod); a record that cannot be read (a value not
   of schema 1 or none, a CR, LF or NUL in it, a line under another key, a NUL in its key) is
   kept with bad set and val NULL (fleet_kv). 0 ok; -1 with errno EPROTO (not etcdctl's shape:
   no revision, bad base64, a key or mod_revision missing), E2BIG (more than FLEET_RECORDS_MAX
   records) or ENOMEM; s then holds what was parsed so far (free it). */
int fleet_parse_range(struct fleet_snap *s, const char *j, size_t n);
/* Parse one line of etcdctl watch -w json (n bytes, without its newline) into ev (zeroed by
   the caller): ev->rev the header revision (0 if absent), then every event in order, a
   deletion with val NULL, a record that cannot be read as in a range (/yubin/dir/serial sets
   serial_mod, as in a range); "Events":null (no event) as "Events":[]. 0 ok; -1 with errno
   ECANCELED (etcd ended the watch; *compact the revision the history was compacted to, 0 if
   not said), EPROTO (not etcdctl's shape) or ENOMEM; ev then holds what was parsed so far
   (free it). */
int fleet_parse_watch(struct fleet_snap *ev, const char *j, size_t n, long long *compact);
/* Apply how to the records of s that cannot be read (fleet_get's rule): FLEET_BAD_REFUSE: -1
   with errno EPROTO and err (FLEET_ERR_MAX) naming the first under /yubin/dir/ and why, else
   the others are removed from s; FLEET_BAD_KEEP: nothing. 0 ok. */
int fleet_snap_settle(struct fleet_snap *s, enum fleet_bad how, char *err);
/* "/yubin/dir/FILE/" into out (cap bytes). */
int fleet_file_prefix(enum maps_file f, char *out, size_t cap);

#endif

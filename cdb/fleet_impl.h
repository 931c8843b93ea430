/* fleet_impl.h: helpers shared by fleet.c and fleettxn.c, and the parsers the unit tests and
   fuzzers call (not for the programs) */
#ifndef YUBIN_FLEET_IMPL_H
#define YUBIN_FLEET_IMPL_H

#include "fleet.h"

/* The integer after "name": inside [s, end) of etcdctl's JSON; 0 ok, -1 absent. */
int fleet_json_num(const char *s, const char *end, const char *name, long long *out);
/* Append a record (takes key and val); 0 / -1 ENOMEM. */
int fleet_snap_add(struct fleet_snap *s, char *key, char *val, long long mod);
/* Parse etcdctl get -w json output (n bytes) into s (zeroed by the caller): the header
   revision, then every record (/yubin/dir/serial sets serial_mod). 0 ok; -1 with errno
   EPROTO (bad shape, a value not of schema 1, CR/LF in a value, a line under another key) or
   ENOMEM; s then holds what was parsed so far (free it). */
int fleet_parse_range(struct fleet_snap *s, const char *j, size_t n);
/* Parse one line of etcdctl watch -w json (n bytes, without its newline) into ev (zeroed by
   the caller): ev->rev the header revision (0 if absent), then every event in order, a
   deletion with val NULL (/yubin/dir/serial sets serial_mod, as in a range). 0 ok; -1 with
   errno ECANCELED (etcd ended the watch; *compact the revision the history was compacted to,
   0 if not said), EPROTO (bad shape, a value as fleet_parse_range refuses it) or ENOMEM; ev
   then holds what was parsed so far (free it). */
int fleet_parse_watch(struct fleet_snap *ev, const char *j, size_t n, long long *compact);
/* "/yubin/dir/FILE/" into out (cap bytes). */
int fleet_file_prefix(enum maps_file f, char *out, size_t cap);

#endif

/* rate.h: sending counters of one account or client IP in ROOT/rate/NAME (smtpd's sending
   limits, mailacct show). A window (RATE_WINDOW, an hour by default) is cut in
   RATE_FINE_SLOTS slots; a day ring keeps RATE_DAY_SLOTS whole windows. The file holds two
   copies of the record, written alternately by one pwrite each: a write torn by a crash
   spoils only the newest copy, and the reader falls back to the older one (one message
   under-counted at most). No fsync: a kill -9 loses nothing (the page cache outlives the
   process); a power loss may lose the updates not yet written back.
   In a fleet (docs/fleet.md "Sending limits across nodes") ratesync publishes each account's
   record as text (rate_text) and writes the sum of the other nodes' records into
   ROOT/ratefleet/NAME, the same file format; smtpd adds it while ratesync keeps
   ROOT/ratefleet/.fresh younger than RATE_FLEET_STALE seconds (rate_fleet_read). */
#ifndef YUBIN_RATE_H
#define YUBIN_RATE_H

#include <stddef.h>
#include <stdint.h>

#define RATE_FINE_SLOTS 12          /* slots of one window: 5 minutes of an hour */
#define RATE_DAY_SLOTS  24          /* windows in the day ring: the hours of a day */
#define RATE_WINDOW_MIN 12          /* seconds: one second per fine slot */
#define RATE_WINDOW_MAX 86400       /* seconds; ours */
#define RATE_DIR        "rate"      /* this node's counters, written by smtpd */
#define RATE_FLEET_DIR  "ratefleet" /* the other nodes' sums, written by ratesync */
#define RATE_FLEET_FRESH ".fresh"   /* its mtime: ratesync's last good call to etcd, its
                                       watch running (ratefleet/ current) */
#define RATE_FLEET_STALE 15         /* seconds after which the other nodes' counts are ignored
                                       (ratesync asks etcd at least every 5 s; ours) */
/* rate_text's longest output: "w=" and 36 slots "NO:M:R," of 20+10+10 digits; ours */
#define RATE_TEXT_MAX   (16 + (RATE_FINE_SLOTS + RATE_DAY_SLOTS) * 44)

struct rate_slot {
    uint64_t no;                    /* absolute slot number (time / slot length) */
    uint32_t msgs, rcpts;
};

struct rate_rec {
    uint32_t magic;
    uint32_t slot_secs;             /* fine slot length: window / RATE_FINE_SLOTS */
    uint64_t seq;                   /* bumped by every store; the newer valid copy wins */
    struct rate_slot fine[RATE_FINE_SLOTS];
    struct rate_slot day[RATE_DAY_SLOTS];
    uint64_t alert_day;             /* day number (time / (24 windows)) + 1 of the last
                                       over-limit alert, 0 none */
    uint64_t burst_day;             /* the same for the burst alert */
    uint64_t check;                 /* FNV-1a of everything before it */
};

struct rate_sum {
    unsigned long msgs, rcpts;
};

/* ---- the counting, no I/O ---- */
/* An empty record for a window of window seconds (clamped to RATE_WINDOW_MIN..MAX). */
void rate_init(struct rate_rec *r, unsigned long window);
/* The window the record counts in, seconds. */
unsigned long rate_window(const struct rate_rec *r);
/* Count msgs messages with rcpts recipients at time now. */
void rate_add(struct rate_rec *r, uint64_t now, unsigned msgs, unsigned rcpts);
/* What was counted in the last secs seconds up to now, in whole fine slots (secs rounded up
   to a slot, at most one window). */
struct rate_sum rate_recent(const struct rate_rec *r, uint64_t now, unsigned long secs);
/* What was counted in the last RATE_DAY_SLOTS windows (a day at the default window). */
struct rate_sum rate_day(const struct rate_rec *r, uint64_t now);
/* The day number alerts are kept by: now / (RATE_DAY_SLOTS windows) + 1. */
uint64_t rate_day_no(const struct rate_rec *r, uint64_t now);
/* The copy to trust of the two in a file (buf holds 2 * sizeof(struct rate_rec) octets; a
   short file is zeros). Fills r and returns 1, or 0 when neither copy is valid or the
   window differs (r is then a new empty record for window). */
int rate_pick(const unsigned char *buf, struct rate_rec *r, unsigned long window);
/* Seal r for storing: seq + 1, check. Returns the offset to write it at (the other copy). */
size_t rate_seal(struct rate_rec *r);

/* ---- the text form (etcd values, docs/fleet.md) ---- */
/* "w=WINDOW f=NO:M:R,... d=NO:M:R,..." into out (cap >= RATE_TEXT_MAX): the slots of r still
   counted at now (fine: the last window; day: the last RATE_DAY_SLOTS windows), empty ones
   left out, so two records that count the same give the same text. Returns the number of
   slots written (0: nothing counted any more), -1 ENOSPC. */
int rate_text(const struct rate_rec *r, uint64_t now, char *out, size_t cap);
/* Parse rate_text's output (bounded: every number checked, each slot at its index, nothing
   else accepted) into r. 0 ok, -1 EINVAL. */
int rate_parse_text(const char *s, struct rate_rec *r);
/* Add src's slots to dst's (the same window): a slot of the same number adds, a newer one
   replaces, an older one is dropped. */
void rate_merge(struct rate_rec *dst, const struct rate_rec *src);

/* ---- the file ---- */
/* ROOT/DIR/NAME into out (DIR: RATE_DIR or RATE_FLEET_DIR): name is an address (a map
   address) or "ip-" + an IP text. 0 ok, -1 EINVAL (a name with '/', a leading '.',
   controls) or too long. */
int rate_path(char *out, size_t cap, const char *root, const char *dir, const char *name);
/* Open (creating, mode 0640: in a fleet ratesync reads rate/ through its group) and lock
   (flock exclusive) ROOT/DIR/NAME, and read its record for window. *fd is the locked
   descriptor for rate_store; close it to unlock. 0 ok, -1 error (errno; *fd -1). */
int rate_open_in(const char *root, const char *dir, const char *name, unsigned long window,
                 int *fd, struct rate_rec *r);
/* rate_open_in of RATE_DIR: this node's counters. */
int rate_open(const char *root, const char *name, unsigned long window, int *fd,
              struct rate_rec *r);
/* Write r (sealed) into the file locked by rate_open: one pwrite. 0 ok, -1 error. */
int rate_store(int fd, struct rate_rec *r);
/* Read only (no lock, no creation): 1 found, 0 no file (r empty), -1 error. The window
   is the one the file was written with (window: used only when there is none). */
int rate_read(const char *root, const char *name, unsigned long window, struct rate_rec *r);
/* rate_read of ROOT/DIR/NAME. */
int rate_read_in(const char *root, const char *dir, const char *name, unsigned long window,
                 struct rate_rec *r);
/* The other nodes' counts of name (ROOT/ratefleet/NAME) for window at now: 1 read (r filled;
   no file: empty), 0 none to add (no ROOT/ratefleet/.fresh: a single server, or ratesync
   stopped or cut off from etcd; or older than RATE_FLEET_STALE s; or written for another
   window), -1 error. *age (may be NULL): seconds since ratesync's last read of etcd, -1 when
   there is no stamp. */
int rate_fleet_read(const char *root, const char *name, unsigned long window, uint64_t now,
                    struct rate_rec *r, long *age);

#endif

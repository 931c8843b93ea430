/* rate.h: sending counters of one account or client IP in ROOT/rate/NAME (smtpd's sending
   limits, mailacct show). A window (RATE_WINDOW, an hour by default) is cut in
   RATE_FINE_SLOTS slots; a day ring keeps RATE_DAY_SLOTS whole windows. The file holds two
   copies of the record, written alternately by one pwrite each: a write torn by a crash
   spoils only the newest copy, and the reader falls back to the older one (one message
   under-counted at most). No fsync: a kill -9 loses nothing (the page cache outlives the
   process); a power loss may lose the updates not yet written back. */
#ifndef YUBIN_RATE_H
#define YUBIN_RATE_H

#include <stddef.h>
#include <stdint.h>

#define RATE_FINE_SLOTS 12          /* slots of one window: 5 minutes of an hour */
#define RATE_DAY_SLOTS  24          /* windows in the day ring: the hours of a day */
#define RATE_WINDOW_MIN 12          /* seconds: one second per fine slot */
#define RATE_WINDOW_MAX 86400       /* seconds; ours */

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

/* ---- the file ---- */
/* ROOT/rate/NAME into out: name is an address (a map address) or "ip-" + an IP text.
   0 ok, -1 EINVAL (a name with '/', a leading '.', controls) or too long. */
int rate_path(char *out, size_t cap, const char *root, const char *name);
/* Open (creating, mode 0600) and lock (flock exclusive) the file of name, and read its
   record for window. *fd is the locked descriptor for rate_store; close it to unlock.
   0 ok, -1 error (errno; *fd -1). */
int rate_open(const char *root, const char *name, unsigned long window, int *fd,
              struct rate_rec *r);
/* Write r (sealed) into the file locked by rate_open: one pwrite. 0 ok, -1 error. */
int rate_store(int fd, struct rate_rec *r);
/* Read only (no lock, no creation): 1 found, 0 no file (r empty), -1 error. The window
   is the one the file was written with (window: used only when there is none). */
int rate_read(const char *root, const char *name, unsigned long window, struct rate_rec *r);

#endif

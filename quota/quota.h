/* quota.h: Maildir++ quota (SPECS.md §5.4, Courier README.maildirquota) on MAILDIR/maildirsize.
   Linked into deliver, pop3d and quota-report. The file is the source of truth; ROOT/quota/ADDR
   (lib/usage.h) is a copy for smtpd written by whoever changed the Maildir. */
#ifndef YUBIN_QUOTA_H
#define YUBIN_QUOTA_H

#include <stddef.h>
#include <stdint.h>

/* Recalculate when maildirsize reaches this size (Courier). */
#define QUOTA_FILE_MAX      5120
/* An over-quota maildirsize older than this (seconds) is recalculated before refusing. */
#define QUOTA_STALE_SECS    (15 * 60)
/* A recalculation whose directories changed while it scanned is retried this often. */
#define QUOTA_RECALC_TRIES  3
/* One "BYTES COUNT\n" delta line: two signed 64-bit numbers, a space and LF. */
#define QUOTA_LINE_MAX      48
/* Directories one recalculation scans: new/ and cur/ of the Maildir and of each folder. */
#define QUOTA_DIRS_MAX 512

/* Usage of maildir (the Maildir itself, holding new/ cur/ tmp/), in bytes and messages.
   limit = the account's quota in bytes (0 = unlimited). Reads maildirsize and sums the
   lines after the first; recalculates (scan new/ and cur/ of the Maildir and of every
   .Folder except .Trash, ,S= sizes else stat, write tmp/ then rename) when the file is
   missing, unreadable as Maildir++, >= QUOTA_FILE_MAX bytes, when its definition line differs
   from "<limit>S", or when usage exceeds limit and the file has more than one delta line or is
   older than QUOTA_STALE_SECS. A negative sum is clamped to 0.
   Returns 0 ok, -1 error (errno). */
int quota_read(const char *maildir, uint64_t limit, uint64_t *bytes, uint64_t *count);

/* quota_read before storing a message of incoming bytes: "exceeds quota" in the staleness
   rule means usage + incoming > limit, so a delivery is never refused on a stale sum older
   than QUOTA_STALE_SECS or made of several delta lines. held: the caller holds quota_lock
   (a recount runs under it); else a recount takes the lock itself.
   quota_read(m, l, b, c) is quota_read_for(m, l, 0, 0, b, c). 0 ok, -1 error (errno). */
int quota_read_for(const char *maildir, uint64_t limit, uint64_t incoming, int held,
                   uint64_t *bytes, uint64_t *count);

/* The Maildir's lock (flock on the Maildir folder itself, exclusive), a descriptor: held by
   a delivery from its quota check through its link and its "+SIZE 1" line, by pop3d from its
   first unlink through its "-BYTES -COUNT" line, and by every recount, so that a check never
   misses a delivery that passed the check before it, and a recount never falls between a
   link (or unlink) and its line. fd, or -1 (errno; the caller goes on unlocked, as before). */
int quota_lock(const char *maildir);
void quota_unlock(int fd);

/* Append "BYTES COUNT\n" to maildir/maildirsize with one O_APPEND write (no fsync: the file
   is recomputed when lost). Does not create a missing file (the next quota_read recalculates
   from the Maildir, which already holds the change). 0 ok, -1 error (errno). */
int quota_add(const char *maildir, int64_t bytes, int64_t count);

/* The steps of quota_update, as reported to its warn callback. */
enum quota_step {
    QUOTA_STEP_ADD,         /* appending the delta to maildirsize */
    QUOTA_STEP_READ,        /* reading the usage back */
    QUOTA_STEP_SUMMARY      /* writing ROOT/quota/ADDR (lib/usage.h) */
};

/* An account's Maildir and its summary for smtpd. */
struct quota_account {
    const char *root;       /* the mail root: the summary is ROOT/quota/ADDR */
    const char *addr;       /* the account's address */
    const char *maildir;
    uint64_t limit;         /* the quota in bytes, 0 = unlimited */
};

/* After the Maildir changed by bytes/count (negative: removed): quota_add the delta (nothing
   when both are 0), quota_read the usage back and usage_write it for smtpd: the one sequence
   deliver and pop3d follow. Every step is tried; one that fails is passed to warn (errno set;
   warn may be NULL) and makes the result -1. When the read fails, the summary is written from
   *usage_bytes and *usage_count as given (the caller's estimate) if estimate is 1, else not
   at all. On return they hold the usage read (or the estimate). 0 all done, -1 a step
   failed. */
int quota_update(const struct quota_account *a, int64_t bytes, int64_t count, int estimate,
                 uint64_t *usage_bytes, uint64_t *usage_count,
                 void (*warn)(void *ctx, enum quota_step step), void *ctx);

/* Force a recalculation of maildir/maildirsize with definition "<limit>S" (0 = "0S" =
   unlimited). Returns 0 with the usage found, -1 error (errno). */
int quota_recalc(const char *maildir, uint64_t limit, uint64_t *bytes, uint64_t *count);

/* --- pure helpers (no I/O; used by the above, unit tests and the fuzzer) --- */

/* Parse maildirsize contents (data, len; need not be NUL-terminated). On success stores the
   byte limit of the definition line (0 when it has no S part) in *limit, the sums of the delta
   lines in *bytes and *count (signed) and the number of delta lines in *lines.
   Returns 0 ok, -1 malformed (first line missing or bad, a delta line not "N N", overflow). */
int quota_parse(const char *data, size_t len, uint64_t *limit, int64_t *bytes, int64_t *count,
                size_t *lines);

/* Size of a Maildir file from its name: the digits after ",S=" (ended by ',', ':' or the end).
   1 found, 0 absent or malformed. */
int quota_name_size(const char *name, uint64_t *size);

#endif

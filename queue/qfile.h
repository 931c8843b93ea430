/* qfile.h: the queue's files: message header (mess/ID), state log (state/ID), IDs, trigger,
   and the commit of a new message. Formats: docs/internals.md "Queue" and docs/queue.md.

   Used by queue-inject, queue-run (writers) and by remote/mailq (readers). This API is
   stable; new functions may be added, existing ones keep their meaning.

   Layout under ROOT/queue/:
     tmp/    files being written; mess/ID committed messages; state/ID recipient status log;
     hold/ID messages held by the operator; trigger FIFO ("N<ID>\n", "F\n", "R<ID>\n").

   Message file:   Y1\n T<arrival>\n F<sender>\n R<rcpt>\n ... \n <message>
   State line:     "<index> D|F|Z <time> <text>\n", "B <time>\n", "H <time>\n", "W <time>\n"
   ("W": the delay warning was sent, an extension documented in docs/queue.md; readers
   must accept it). A recipient's status is its last line, but a D line is final: lines for
   that recipient after it are ignored. */
#ifndef YUBIN_QFILE_H
#define YUBIN_QFILE_H

#include "envelope.h"
#include "limits.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define QFILE_VERSION       "Y1"
/* A message file's header: "Y1\n", "T" + 20 digits + "\n", then the envelope's records
   with "\n" for "\0" ("F" + address, SMTP_RCPT_MAX times "R" + address, the blank line). */
#define QFILE_HEADER_MAX    (3 + 22 + ENVELOPE_MAX)
/* Envelope sender of a double bounce (qmail's convention); it is never bounced again and
   is handed to deliver/remote as the null sender "". */
#define QFILE_DOUBLE_BOUNCE "#@[]"
/* Subdirectories of ROOT/queue. */
#define QDIR_TMP    "tmp"
#define QDIR_MESS   "mess"
#define QDIR_STATE  "state"
#define QDIR_HOLD   "hold"
#define QFILE_TRIGGER "trigger"

/* The envelope of one message. rcpt[i] are NUL-terminated addresses; storage is owned by
   the struct (qenv_free releases it). */
struct qenv {
    time_t arrival;                  /* unix seconds (0 until known) */
    char sender[ADDR_MAX + 1];       /* "" = null sender <> */
    size_t nrcpt;                    /* 0 .. SMTP_RCPT_MAX */
    char **rcpt;                     /* nrcpt pointers into pool */
    char *pool;                      /* the recipients, each NUL-terminated */
    size_t pool_len, pool_cap;
    size_t rcpt_cap;
};

void qenv_init(struct qenv *e);
void qenv_free(struct qenv *e);
/* Append one recipient (copied). 0 ok; -1 errno ENAMETOOLONG (over ADDR_MAX), EINVAL
   (empty or control bytes), E2BIG (over SMTP_RCPT_MAX), ENOMEM. */
int qenv_add_rcpt(struct qenv *e, const char *addr, size_t n);
/* Set the sender. 0 ok; -1 errno ENAMETOOLONG or EINVAL (control bytes). */
int qenv_set_sender(struct qenv *e, const char *addr, size_t n);
/* 1 if s[0..n) may be stored as an address: envelope_addr_ok (lib/envelope.h), the same
   rule as on the wire. */
int qaddr_ok(const char *s, size_t n);
/* A time in unix seconds: 1..20 decimal digits that fit time_t. 0 ok, -1 not one. */
int qfile_parse_time(const char *s, size_t n, time_t *t);

/* Parse the qmail-queue envelope (lib/envelope.h, docs/internals.md "queue-inject") from
   p[0..n) with envelope_decode: "F" sender "\0" then "T" rcpt "\0" per recipient then "\0".
   Returns 1 complete (e filled, *used = octets consumed through the final "\0"),
   0 incomplete (need more input; nothing else is wrong so far),
   -1 bad with errno ENAMETOOLONG (address too long: qmail-queue exit 11),
   E2BIG (too many recipients), EINVAL (syntax: bad letter, control byte, no recipient).
   e must be fresh (qenv_init); it is reset on each call. Pure; fuzzed. */
int qenv_parse_envelope(const char *p, size_t n, struct qenv *e, size_t *used);

/* Parse a message file header from p[0..n) (the first octets of mess/ID).
   Returns 0 ok (e filled, *body = offset of the first octet of the message after the blank
   line), -1 errno EINVAL (not a Y1 header or a bad record) or ENODATA (no blank line within
   n octets; give at least QFILE_HEADER_MAX octets or the whole file). Pure; fuzzed. */
int qenv_parse_header(const char *p, size_t n, struct qenv *e, size_t *body);
/* Render the header (including the blank line) into out (caller frees *out with free()).
   0 ok; -1 errno ENOMEM or EINVAL (a field fails qaddr_ok). */
int qenv_format_header(const struct qenv *e, char **out, size_t *outlen);
/* Read and parse the header of an open message file; on success the file offset is at the
   message (*body gives it too). 0 ok, -1 errno (EINVAL/ENODATA for a bad file, or I/O). */
int qfile_read_header(int fd, struct qenv *e, off_t *body);

/* IDs: 16 lower-case hex digits: the commit time's seconds ("%08lx", low 32 bits), its
   microseconds ("%05lx") and the low 12 bits of the file's inode ("%03lx"). Unique while
   queued (a clash fails the link, which retries a microsecond later) and, as long as the clock
   does not step back, never reused: a later message is committed at a later microsecond. */
#define QID_BUF (QUEUE_ID_LEN + 1)
void qid_make(time_t sec, long usec, uint64_t ino, char out[QID_BUF]);
/* 1 if s is exactly 16 lower-case hex digits (NUL-terminated), else 0. */
int qid_ok(const char *s);

/* out = ROOT "/queue/" dir ["/" id]; id may be NULL. 0 ok, -1 ENAMETOOLONG. */
int qfile_path(char *out, size_t cap, const char *root, const char *dir, const char *id);

/* ---- state log (state/ID) ---- */

enum qline_kind { QL_RCPT, QL_BOUNCE, QL_HELD, QL_WARNED };
enum qrcpt_status {
    QS_PENDING = 0,   /* no line yet */
    QS_DONE,          /* D: delivered */
    QS_FAILED,        /* F: failed permanently */
    QS_DEFERRED       /* Z: temporary failure, will retry */
};

struct qline {
    enum qline_kind kind;
    size_t index;                    /* QL_RCPT only */
    char status;                     /* 'D' 'F' 'Z' for QL_RCPT */
    time_t when;
    const char *text;                /* QL_RCPT: points into the parsed line; not NUL-ended */
    size_t text_len;
};

/* Parse one state line p[0..n) without its "\n". 0 ok, -1 malformed (a torn line after a
   crash, zeros, unknown letter). Pure. */
int qstate_parse_line(const char *p, size_t n, struct qline *l);

/* Texts of recipient lines that record no delivery attempt (RFC 3464 §2.3.7: Last-Attempt-Date
   is a try's time): queue-run, deliver and mailq write them. Such a line's time is not the
   recipient's last attempt, and such a Z is not one of its failed tries (its backoff step
   stays). A temporary failure past QUEUE_LIFETIME becomes "message expired after N days in
   the queue; last error: TEXT (#4.4.7)", no attempt either when TEXT is one of these. */
/* queue-run could not read cdb/domains.cdb or cdb/homes.cdb: the recipient was not tried */
#define QUEUE_MAP_UNREADABLE "temporary failure reading the domain map (#4.3.0)"
/* the domain is frozen by a move (queue-run, or deliver when it froze meanwhile) */
#define QUEUE_MOVING "held: the domain is moving between nodes; delivered when the move ends " \
    "(#4.3.2)"
/* deliver could not read the domain's home (a fleet's cdb/homes.cdb) */
#define QUEUE_HOME_UNREADABLE "temporary failure reading the domain's home (#4.3.0)"
/* deliver: a move homed the domain on another node since queue-run looked; the next try
   routes it there */
#define QUEUE_HOMED_ELSEWHERE "the domain's mailboxes are on another server now; the queue " \
    "sends it there (#4.3.2)"
/* queue-run could not connect to run/deliver.sock or run/remote.sock (the service is down);
   the socket's name and the error follow */
#define QUEUE_UNREACHABLE_LOCAL "local delivery: unable to reach run/"
#define QUEUE_UNREACHABLE_REMOTE "remote delivery: unable to reach run/"
/* mailq delete */
#define QUEUE_DELETED "deleted by the operator (#5.0.0)"
/* The start of the F line of a recipient that expired while it waited for its destination
   down, without a try of its own (sched.c wait_down): "destination down: message expired
   after N days in the queue; last error: MARK'S REASON (#4.4.7)". */
#define QUEUE_EXPIRED_DOWN  "destination down: "

/* Which of the lines above l is: QW_ATTEMPT for a recipient's line that records a delivery
   attempt (none of them), QW_NOT_RCPT for a line that is not a recipient's. Pure. */
enum qline_why {
    QW_ATTEMPT = 0, QW_NOT_RCPT, QW_EXPIRED_DOWN, QW_DELETED,
    QW_MAP_UNREADABLE, QW_MOVING, QW_HOME_UNREADABLE, QW_HOMED_ELSEWHERE, QW_UNREACHABLE_LOCAL,
    QW_UNREACHABLE_REMOTE
};
int qline_why(const struct qline *l);
/* 1 if l (a recipient's line) records a delivery attempt (qline_why QW_ATTEMPT). */
int qline_attempt(const struct qline *l);

/* Per-recipient summary of a state log. */
struct qrcpt_state {
    unsigned char status;            /* enum qrcpt_status */
    unsigned char bounced;           /* F line followed by a B line (bounce already made) */
    unsigned tries;                  /* number of Z lines that record an attempt */
    time_t last;                     /* time of the last line, 0 if none */
    time_t tried;                    /* time of the last line that records an attempt
                                        (qline_attempt), 0 if none */
    unsigned char held;              /* the last line is a Z that records no attempt: its
                                        enum qline_why; 0 if not */
};
struct qstate {
    size_t nrcpt;
    struct qrcpt_state *r;           /* nrcpt entries, owned (qstate_free) */
    int warned;                      /* a W line was seen */
    time_t bounce_time;              /* time of the last B line, 0 if none */
};

/* Call cb for every well-formed line of the state file at path, in order; malformed lines
   and lines with index >= nrcpt are skipped (counted in *skipped if not NULL). A missing file
   is an empty log. cb returning -1 stops the replay. Lines longer than QUEUE_STATE_LINE_MAX
   are skipped. 0 ok, -1 errno (I/O). */
int qstate_replay(const char *path, size_t nrcpt, int (*cb)(void *ctx, const struct qline *l),
                  void *ctx, size_t *skipped);
/* Replay into s (allocated for nrcpt recipients; qstate_free releases). 0 ok, -1 errno. */
int qstate_load(const char *path, size_t nrcpt, struct qstate *s);
void qstate_free(struct qstate *s);
/* Apply one line to s (what qstate_load does per line). A recipient that has a D line stays
   QS_DONE: a later line for it changes nothing (not even last or tries). A line that records
   no attempt (qline_attempt) sets the status and last, not tries or tried. */
void qstate_apply(struct qstate *s, const struct qline *l);

/* The state file at path opened for qstate_append (created 0600 if missing): fd, or -1. */
int qstate_open(const char *path);
/* Append one line with a single write() (fd from qstate_open). text may hold anything: CR,
   LF, NUL and other control bytes become '_' and it is cut so the line fits
   QUEUE_STATE_LINE_MAX. A file that ends inside a line (torn by a crash or a short write) gets
   a newline first, so the fragment stays a line of its own that the replay skips, and never
   joins ours ("1" + "0 D ..." would read "10 D ..."). For kinds other than QL_RCPT, index,
   status and text are ignored. 0 ok, -1 errno. */
int qstate_append(int fd, const struct qline *l);
/* Format that line into out (cap >= QUEUE_STATE_LINE_MAX); returns its length. */
size_t qstate_format(char *out, size_t cap, const struct qline *l);

/* ---- flush ---- */

/* ROOT/queue/flushed: an empty file whose modification time is the last `mailq flush`,
   written by mailq before it asks queue-run, read by queue-run at its start and by mailq's
   listing, so that both know what the flush changed, across a restart too: a recipient last
   tried before it is due at once, not at its backoff step, and a destination's mark written
   before it (queue/down older than it) has its next try at once. */
#define QFILE_FLUSHED "flushed"
/* Create or touch ROOT/queue/flushed (0600, not synced: a lost flush is only asked again).
   0 ok, -1 errno. */
int qflush_mark(const char *root);
/* The time of the last flush, or 0: none, unreadable, or after now (a clock stepped back:
   it orders nothing). *down_before: 1 when ROOT/queue/down was written before that flush
   (its marks not yet flushed by queue-run), else 0. */
time_t qflush_time(const char *root, time_t now, int *down_before);

/* ---- trigger ---- */

/* Write msg (one line, < PIPE_BUF) to ROOT/queue/trigger without blocking. A missing
   reader (ENXIO), a full FIFO (EAGAIN) or a missing FIFO (ENOENT) are not errors: queue-run
   rescans mess/ periodically. 0 ok, -1 errno (other failures). */
int qtrigger_send(const char *root, const char *msg, size_t n);

/* ---- commit a new message (queue-inject, and queue-run for bounces) ---- */

/* Create the queue's subdirectories (tmp mess state hold, 0700) and the trigger FIFO
   (0600) when missing. 0 ok, -1 errno. */
int qfile_setup(const char *root);
/* Commit a message: write header(e) + head[0..headlen) + the whole of spill (read from
   offset 0 to EOF, if spill >= 0) into a new tmp/ file, fsync it, link it to mess/ID,
   fsync mess/, unlink the tmp file. e->arrival is set to now if 0. id receives the ID.
   Exactly one fsync of the data and one of the directory. Nothing is left in mess/ on
   failure. 0 ok; -1 errno (ENOSPC/EDQUOT = disk full, EIO, EINVAL bad envelope, ...). */
int qfile_commit(const char *root, struct qenv *e, const char *head, size_t headlen,
                 int spill, char id[QID_BUF]);

#endif

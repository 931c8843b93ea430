/* maildrop.h: one Maildir as a POP3 maildrop (RFC 1939 §5, §7, §11; SPECS.md §4.2, §5.3).
   Scanning new/ and cur/ (moving new/X to cur/X:2,), message sizes in the CRLF form POP3
   sends, UIDLs from the Maildir unique names, the byte-stuffed wire form, and the deletions
   of UPDATE. No network I/O here: pop3d streams what maildrop_stuff() produces.

   Sizes: a POP3 size is the message as sent with CRLF line ends, before byte-stuffing,
   without the final "." (RFC 1939 §11): file bytes + one CR for every LF not already after a
   CR + 2 when the file does not end in LF (we send CRLF before the "."). The size comes from
   the name's ",W=" tag when present (Maildir++/Courier: the CRLF size, written by deliver),
   else from the size cache MAILDIR/yubin-pop3-sizes (kept by pop3d, keyed by unique name;
   a Maildir file never changes once delivered), else from reading the file once. Sizes are
   computed only when a command needs one (UIDL alone never opens a message). */
#ifndef YUBIN_MAILDROP_H
#define YUBIN_MAILDROP_H

#include <stddef.h>
#include <stdint.h>

#define MAILDROP_MSGS_MAX   500000              /* messages listed in one session, at most */
#define MAILDROP_NAMES_MAX  (64UL * 1024 * 1024) /* bytes of file names held in memory */
#define MAILDROP_CACHE_MAX  (64UL * 1024 * 1024) /* size cache file we are willing to read */
#define MAILDROP_CHUNK      65536               /* bytes read from a message at a time */
#define MAILDROP_UIDL_MAX   70                  /* RFC 1939 §7: 1..70 octets 0x21..0x7E */
#define MAILDROP_CACHE_NAME "yubin-pop3-sizes"
#define MAILDROP_LOCK_NAME  ".pop3.lock"
#define MAILDROP_UNKNOWN    UINT64_MAX

struct maildrop_msg {
    const char *path;       /* "cur/NAME" or "new/NAME", relative to the Maildir */
    size_t uniqlen;         /* octets of the unique name (before ':') at path + 4 */
    uint64_t size;          /* POP3 (CRLF) octets, or MAILDROP_UNKNOWN */
    uint64_t fsize;         /* file octets, or MAILDROP_UNKNOWN */
    uint64_t time;          /* leading digits of the name (delivery time): the sort key, */
    uint64_t key8;          /* then the next 8 octets (big-endian), then the whole name */
    unsigned char deleted;  /* DELE in this session (RSET clears) */
    unsigned char gone;     /* the file vanished: treated as deleted, never restored */
};

struct maildrop {
    int dirfd;              /* the Maildir (O_DIRECTORY), owned by the caller */
    struct maildrop_msg *msg;     /* msg[0..n): message i is number i + 1 */
    size_t n, cap;
    char *names;            /* all paths, NUL-separated */
    size_t nameslen, namescap;
    int sized;              /* every size is known (or the message is gone) */
    char *scratch;          /* MAILDROP_CHUNK bytes for size counting */
    size_t max;             /* messages listed at most (maildrop_scan's max) */
    int more;               /* the Maildir holds more than was listed: a bound was reached */
    size_t moved;           /* new/ -> cur/ moves done by the scan */
    size_t computed;        /* sizes computed by reading files (cache misses) */
};

/* tmp/ files older than this (seconds) are a dead delivery's: maildrop_scan removes them */
#define MAILDROP_TMP_MAX_AGE (36 * 3600)

/* Scan dirfd's cur/ then new/: move every new/X to cur/X:2, (rename without replacing), list
   both, sorted by unique name (delivery time first). Names starting with '.' are skipped;
   files that vanish meanwhile are skipped. First, tmp/ files older than MAILDROP_TMP_MAX_AGE
   are removed. At most max messages (1..MAILDROP_MSGS_MAX) and MAILDROP_NAMES_MAX octets of
   names are listed: past either, the scan stops, md->more is 1 and what was found is listed
   (cur/ first: the mail of earlier sessions; new/ files not reached stay there for the next).
   0 ok; -1 error (errno). */
int maildrop_scan(struct maildrop *md, int dirfd, size_t max);
void maildrop_free(struct maildrop *md);

/* Make every size known (",W=", cache, or reading the file; files that vanish become gone)
   and rewrite the cache when anything was computed. 0 ok, -1 error (errno). */
int maildrop_sizes(struct maildrop *md);

/* UIDL of message i into out (cap > MAILDROP_UIDL_MAX): the unique name when it is 1..70
   octets of 0x21..0x7E, else "h" + 32 hex digits of two 64-bit FNV-1a hashes of it. */
void maildrop_uidl(const struct maildrop *md, size_t i, char *out);

/* Open message i read-only. -1 with errno ENOENT marks it gone. */
int maildrop_open(struct maildrop *md, size_t i);

/* UPDATE (RFC 1939 §6): unlink every deleted message. *bytes and *count = file octets and number
   removed (for the quota); *failed = deletions that failed (other than already gone). */
void maildrop_update(struct maildrop *md, uint64_t *bytes, uint64_t *count, size_t *failed);

/* ---- pure helpers (unit tests, fuzzer) ---- */

/* Value of the ",X=digits" tag (X = 'S' or 'W') in a Maildir name before ':'. 1 / 0. */
int maildrop_name_tag(const char *name, size_t n, char tag, uint64_t *out);

struct maildrop_count {
    uint64_t bytes;         /* file octets seen */
    uint64_t extra;         /* CRs to add */
    int lastcr;             /* the previous byte was CR */
    int lastlf;             /* the last byte was LF */
};
void maildrop_count_init(struct maildrop_count *c);
void maildrop_count_add(struct maildrop_count *c, const char *in, size_t n);
/* POP3 size of everything added so far. */
uint64_t maildrop_count_total(const struct maildrop_count *c);

struct maildrop_stuff {
    int bol;                /* at the start of a line */
    int lastcr;             /* the previous byte was CR */
    int top;                /* TOP: stop after the header, the blank line and `body_left` lines */
    int in_header;
    size_t linelen;         /* octets of the current line so far (TOP) */
    unsigned long body_left;
    int done;               /* TOP has sent all it should */
    uint64_t stuffed;       /* dots added by byte-stuffing (not part of the size) */
};
/* top = 0: the whole message (RETR); top = 1: TOP with `lines` body lines. */
void maildrop_stuff_init(struct maildrop_stuff *st, int top, unsigned long lines);
/* Wire form of in[0..n) into out, which must have room for 2 * n octets: LF -> CRLF (an LF
   already after CR is kept), a line starting with '.' gets another '.' (RFC 1939 §3).
   Returns the octets written; *used = input consumed (< n only when TOP is done). */
size_t maildrop_stuff(struct maildrop_stuff *st, const char *in, size_t n, char *out, size_t *used);
/* The end of the multi-line reply into out (room >= 5): CRLF if the last line had no LF,
   then ".\r\n". Returns the octets written. */
size_t maildrop_stuff_end(struct maildrop_stuff *st, char *out);

#endif

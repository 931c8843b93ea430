/* qdown.h: the destinations queue-run found down, kept in ROOT/queue/down so that a restart
   keeps them and mailq shows them. Format: docs/internals.md "Queue" and docs/queue.md "A
   destination that is down".

   Written by queue-run (qdown_save, whole: tmp/down, then rename; never half-written, not
   synced: a hint that is safe to lose), read by queue-run at its start and by mailq
   (qdown_load). A missing file is no mark; one that cannot be read or parsed is no mark
   either (the caller says so).

     D1\n                                                  format version
     <domain> <since> <until> <rounds> <reason>\n          one per destination, at most
                                                           QUEUE_DOWN_MAX */
#ifndef YUBIN_QDOWN_H
#define YUBIN_QDOWN_H

#include "limits.h"

#include <stddef.h>
#include <time.h>

#define QFILE_DOWN      "down"      /* ROOT/queue/down; written through ROOT/queue/tmp/down */
#define QDOWN_VERSION   "D1"
/* Destinations remembered as down at once: past it one is forgotten (queue-run: the one due
   soonest among those whose try is not running), and its mail is woken and tried as before;
   a file with more lines is malformed. */
#define QUEUE_DOWN_MAX  256
/* Octets of remote's reason kept with a mark (what mailq shows of a recipient's error too). */
#define QDOWN_WHY_MAX   300
/* A mark whose next try is this many seconds past is dropped when read: queue-run was away
   (stopped, crashed) for longer than a round's try lasts at most (QUEUE_JOB_TIMEOUT's
   default), so it says nothing of now. A mark whose time came a moment ago still is one:
   its destination gets one job first after a restart, not one per message. */
#define QDOWN_STALE     3600
/* One line: domain, three numbers of at most 20 digits, the reason, four spaces and LF. */
#define QDOWN_LINE_MAX  (SMTP_DOMAIN_MAX + 3 * 20 + QDOWN_WHY_MAX + 5)
#define QDOWN_FILE_MAX  (sizeof QDOWN_VERSION + QUEUE_DOWN_MAX * QDOWN_LINE_MAX)

/* A destination none of whose servers answered: every recipient of a remote job deferred
   with "(#4.4.1)" (cannot connect, no server reached). */
struct qdown {
    char domain[SMTP_DOMAIN_MAX + 1];
    time_t since;               /* the first round of this outage that found it down */
    time_t until;               /* its next try: its mail waits until then */
    unsigned rounds;            /* rounds in a row that found it down (>= 1) */
    char why[QDOWN_WHY_MAX + 1];    /* remote's reason (the Z text), no control bytes */
};

/* What a recipient that waits for a mark is told (its delay warning, its expiry): the
   mark's reason, or "no mail server of DOMAIN answered (#4.4.1)" when it has none. */
#define QDOWN_REASON_MAX (QDOWN_WHY_MAX + SMTP_DOMAIN_MAX + 40)

/* 1 if domain can be a mark's: 1..SMTP_DOMAIN_MAX octets, none a space or a control byte. */
int qdown_domain_ok(const char *domain);
/* d->why = text[0..n), control bytes turned into '_', cut at QDOWN_WHY_MAX octets; a text cut
   keeps the "(#X.Y.Z)" it ends with (QDOWN_TAIL_MAX octets at most), after "... ", so that
   the notices of the mail that waits for the mark read its status code. */
#define QDOWN_TAIL_MAX  16
void qdown_set_why(struct qdown *d, const char *text, size_t n);

/* 1 if text[0..n), the text of a remote recipient's deferral, says that no server of its
   destination answered: it ends in "(#4.4.1)" (remote keeps that code for a run that reached
   no server: queue/remote.c) and quotes no server's reply ("HOST [IP] said: ..."). Such
   deferrals make a mark; any other is the recipient's own. */
int qdown_no_server(const char *text, size_t n);

/* The index of domain's mark among d[0..n), or n when it has none. Domains are compared
   without regard to ASCII case (RFC 5321 §2.4): mail to user@Example.COM and to
   user@example.com shares one mark, which keeps the spelling of the mail that made it. */
size_t qdown_find(const struct qdown *d, size_t n, const char *domain);
/* The reason of mark d into out (cap >= QDOWN_REASON_MAX), NUL-ended; returns its length. */
size_t qdown_reason(const struct qdown *d, char *out, size_t cap);

/* Parse a whole file p[0..n) into d[0..max): 0 ok with *count marks, those stale at now
   (until + QDOWN_STALE <= now) left out; -1 (errno EINVAL, *count 0) when anything is wrong:
   no "D1" line, a line that is not "<domain> <since> <until> <rounds> <reason>" (domain as
   qdown_domain_ok; decimal numbers, since <= until, rounds >= 1; reason at most
   QDOWN_WHY_MAX octets without control bytes), no final LF, a domain twice (in any case),
   more than max lines. Pure; fuzzed. */
int qdown_parse(const char *p, size_t n, time_t now, struct qdown *d, size_t max,
                size_t *count);
/* The file for d[0..n) into out (cap >= QDOWN_FILE_MAX for n <= QUEUE_DOWN_MAX); returns its
   length. A mark whose domain fails qdown_domain_ok, or whose since or until is negative, is
   left out. */
size_t qdown_format(const struct qdown *d, size_t n, char *out, size_t cap);

/* Read ROOT/queue/down into d (room for QUEUE_DOWN_MAX): 0 with *count marks (0 when the
   file is missing); -1 with errno when it cannot be read or is malformed (EINVAL) or larger
   than QDOWN_FILE_MAX (EFBIG); *count is then 0. */
int qdown_load(const char *root, time_t now, struct qdown *d, size_t *count);
/* Write d[0..n) to ROOT/queue/down: whole into tmp/down (0600), then renamed over it, so a
   reader finds the old file or the new one; n == 0 removes the file. No fsync: losing the
   marks only costs each message of a down destination one try. 0 ok, -1 errno. */
int qdown_save(const char *root, const struct qdown *d, size_t n);

#endif

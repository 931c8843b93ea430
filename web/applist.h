/* applist.h: acctd's answer to "pending" (web/acctd_admin.c): a domain's waiting applications and a
   page of those decided in the last APPLY_DECIDED_DAYS, newest first, of a bounded size
   whatever ROOT/requests/ and requests/done/ hold; decided records past those days are
   removed on the way. And what a domain's auto-approval added lately, from the same records
   (applist_auto_added: acctd's cap of it). docs/web.md "Applications". */
#ifndef YUBIN_APPLIST_H
#define YUBIN_APPLIST_H

#include "apply.h"
#include "buf.h"

#include <stdint.h>
#include <time.h>

/* One line of the answer without its newline: "ID KIND TARGET DATE STATE[ REASON]" (KIND at
   most "addon", STATE at most "approved", TARGET an address or a plan name) */
#define APPLIST_LINE_MAX    (APPLY_ID_LEN + 1 + 5 + 1 + ADDR_MAX + 1 + APPLY_DATE_LEN + 1 + 8 + 1 \
                             + APPLY_REASON_MAX)
/* The whole answer: its head line, then at most APPLY_WAITING_MAX + APPLY_DECIDED_PAGE lines
   (120 lines of at most 574 octets: under 70 kB) */
#define APPLIST_ANSWER_MAX  (64 + (APPLY_WAITING_MAX + APPLY_DECIDED_PAGE) * (APPLIST_LINE_MAX + 1))

/* The cap entries of the largest keys offered (key, then key2, then the larger id), so that a
   listing keeps a bounded part of a folder of any size. */
struct applist_entry {
    long long key, key2;
    char id[APPLY_ID_LEN + 1];
    char line[APPLIST_LINE_MAX + 1];
};
struct applist_top {
    struct applist_entry *e;
    size_t n, cap;
};
/* 0, -1 (ENOMEM, or EINVAL for cap 0). */
int applist_top_init(struct applist_top *t, size_t cap);
/* Offer one entry; id at most APPLY_ID_LEN and line at most APPLIST_LINE_MAX octets (longer:
   not kept). */
void applist_top_add(struct applist_top *t, long long key, long long key2, const char *id,
                     const char *line);
/* The kept entries, largest key first, in t->e[0 .. t->n); add no more after it. */
void applist_top_sort(struct applist_top *t);
void applist_top_free(struct applist_top *t);

/* a's line into line[APPLIST_LINE_MAX + 1]: DATE is the due date while it waits, the day it
   was decided (local time) once decided. 0, -1 too long (not a record apply_parse took). */
int applist_line(const struct application *a, char *line);

/* The answer to "pending FROM" for domain at now, appended to out (whose max should be at least
   APPLIST_ANSWER_MAX): "WAITING DECIDED FROM\n" (how many applications of the domain wait, how
   many were decided in the last APPLY_DECIDED_DAYS, and the index, newest first, of the first
   decided line below: FROM clamped to the last page of the newest APPLY_DECIDED_REACH), then the
   waiting ones oldest first (at most APPLY_WAITING_MAX), then the decided ones from FROM on (at
   most APPLY_DECIDED_PAGE). Decided records of any domain older than APPLY_DECIDED_DAYS are
   unlinked from requests/done/ on the way; *pruned counts them. 0, -1 (errno). */
int applist_pending(const char *root, const char *domain, time_t now, uint64_t from,
                    struct buf *out, size_t *pruned);

/* How many new addresses of domain auto-approval carried out in the APPLY_AUTO_SECONDS before
   now: the records in requests/done/ of applications to add approved with decided-by "auto"
   and a decided-at in those seconds, counted up to max and no further (max 0: 0). An
   auto-approval runs the moment its application is filed, so only the records filed in those
   seconds are read: an id begins with the UTC time of its filing, and older names are passed
   over unread. The count; -1 (errno) when requests/done/ cannot be read (none yet: 0). */
long applist_auto_added(const char *root, const char *domain, time_t now, size_t max);

#endif

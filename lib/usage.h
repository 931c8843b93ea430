/* usage.h: per-account usage summaries in ROOT/quota/ADDRESS ("BYTES COUNT CHECK\n", fixed
   width; "BYTES COUNT\n" from older versions is still read), written by the
   mailbox uid (deliver, pop3d) after every change, read by smtpd for the RCPT-time quota check
   so that smtpd never needs to open a Maildir. */
#ifndef YUBIN_USAGE_H
#define YUBIN_USAGE_H

#include <stdint.h>

/* 1 found, 0 no summary yet (treat as empty mailbox), -1 error (errno). */
int usage_read(const char *root, const char *addr, uint64_t *bytes, uint64_t *count);
/* Replace the summary: in place by one pwrite of the fixed-width record, or by tmp + rename
   when there is none yet, or when the old file has another mode than 0640 or another group
   than the setgid quota/ folder (smtpd reads it through its group, whatever the writer's
   umask). No fsync: it is derived state, recomputed from the Maildir when lost. A reader that
   sees a torn record (CHECK wrong) reads again, up to 3 times. 0 ok, -1 error. */
int usage_write(const char *root, const char *addr, uint64_t bytes, uint64_t count);
/* Remove the summary before a change a crash could leave it behind, until usage_write has the
   new figure: smtpd then takes mail (no summary) and deliver checks the quota exactly, where a
   stale "full" would refuse every sender. 0 ok (also when there was none), -1 error. */
int usage_forget(const char *root, const char *addr);

#endif

/* usage.h: per-account usage summaries in ROOT/quota/ADDRESS ("BYTES COUNT\n"), written by the
   mailbox uid (deliver, pop3d) after every change, read by smtpd for the RCPT-time quota check
   so that smtpd never needs to open a Maildir. */
#ifndef YUBIN_USAGE_H
#define YUBIN_USAGE_H

#include <stdint.h>

/* 1 found, 0 no summary yet (treat as empty mailbox), -1 error (errno). */
int usage_read(const char *root, const char *addr, uint64_t *bytes, uint64_t *count);
/* Replace the summary atomically (write tmp, rename; no fsync: it is derived state and is
   recomputed from the Maildir when lost). 0 ok, -1 error. */
int usage_write(const char *root, const char *addr, uint64_t bytes, uint64_t count);

#endif

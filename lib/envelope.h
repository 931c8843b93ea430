/* envelope.h: the envelope that smtpd hands queue-inject on its fd 1 after the message
   (qmail-queue's format), its bounds, and queue-inject's exit codes. The one place both sides
   take them from; formats in docs/internals.md "queue-inject".

   Wire format: ["A" account "\0"] "F" sender "\0", then "T" rcpt "\0" per recipient, then
   "\0". The optional "A" record (ours; qmail-queue has none, so envelopes without it stay
   valid) names the account that authenticated the message (SMTP AUTH or POP-before-SMTP): it
   asks queue-inject to have the message DKIM-signed (docs/dkim.md). sender may be empty (the
   null sender <>); the account, when present, is not; there is at least one recipient and at
   most SMTP_RCPT_MAX; every address is at most ADDR_MAX octets with no byte < 0x20 and no
   0x7f. */
#ifndef YUBIN_ENVELOPE_H
#define YUBIN_ENVELOPE_H

#include "buf.h"
#include "limits.h"

#include <stddef.h>

/* The longest envelope: SMTP_RCPT_MAX + 2 addresses (account, sender, recipients) of ADDR_MAX
   octets, each with its letter and its "\0", then the final "\0". */
#define ENVELOPE_MAX ((size_t)(ADDR_MAX + 2) * (SMTP_RCPT_MAX + 2) + 1)

/* queue-inject's answer on fd 1, "<ID>\n" (QUEUE_ID_LEN + 1 octets), read into a buffer of
   this many octets; anything longer or odd is logged as id=unknown. */
#define ENVELOPE_ID_LINE_MAX 64

/* queue-inject's exit codes (qmail-queue's numbers, qmail-queue(8)): 11..40 are permanent
   refusals, the others temporary. smtpd turns them into replies. */
enum envelope_exit {
    ENVELOPE_EXIT_OK = 0,
    ENVELOPE_EXIT_TOOLONG = 11,     /* an address is longer than ADDR_MAX */
    ENVELOPE_EXIT_REFUSED = 31,     /* message refused (larger than QUEUE_MESSAGE_MAX) */
    ENVELOPE_EXIT_NOMEM = 51,       /* out of memory */
    ENVELOPE_EXIT_TIMEOUT = 52,     /* the message or envelope did not arrive in time */
    ENVELOPE_EXIT_SIGNER = 71,      /* the DKIM signer is unavailable (nothing queued) */
    ENVELOPE_EXIT_WRITE = 53,       /* write error or disk full */
    ENVELOPE_EXIT_READ = 54,        /* cannot read the message or the envelope */
    ENVELOPE_EXIT_BUG = 81,         /* internal error (no YUBIN_ROOT) */
    ENVELOPE_EXIT_BAD = 91          /* bad envelope */
};

/* What a queue-inject exit code means for the client. */
enum envelope_verdict {
    ENVELOPE_QUEUED,                /* 0: the message is queued */
    ENVELOPE_NO_SPACE,              /* 53: write error or disk full (452 4.3.1) */
    ENVELOPE_REFUSED,               /* 11..40: permanent (554 5.3.0) */
    ENVELOPE_TEMPORARY              /* anything else, or no code (-1): try again (451 4.3.0) */
};
enum envelope_verdict envelope_verdict(int code);

/* 1 if s[0..n) may travel as an address: n <= ADDR_MAX, no byte < 0x20 and no 0x7f (so no
   NUL, CR, LF). Empty is allowed (the null sender). */
int envelope_addr_ok(const char *s, size_t n);

/* Append the envelope of sender (NUL-terminated) and the nrcpt recipients packed in
   rcpts[0..len), each NUL-terminated, to out (whose max should be ENVELOPE_MAX).
   0 ok; -1 errno EINVAL (an address fails envelope_addr_ok, an empty recipient, nrcpt 0,
   or rcpts not ending in "\0"), E2BIG (over SMTP_RCPT_MAX recipients or out's max), ENOMEM.
   On -1, out may hold part of the envelope. */
int envelope_encode(struct buf *out, const char *sender, const char *rcpts, size_t len);
/* The same with the "A" record first when account is not empty (envelope_encode is this with
   ""). -1 errno EINVAL also when account fails envelope_addr_ok. */
int envelope_encode_as(struct buf *out, const char *account, const char *sender,
                       const char *rcpts, size_t len);

/* Called by envelope_decode for each address, in order: kind 'A' once if the envelope has an
   account (n > 0), 'F' once, then 'T' per recipient; a[0..n) is not NUL-terminated. Return 0 to go on, -1 (errno set) to stop. */
typedef int envelope_addr_fn(void *ctx, char kind, const char *a, size_t n);

/* Decode an envelope from p[0..n), calling fn for each complete address.
   1 complete (*used = octets through the final "\0"), 0 incomplete (need more input; nothing
   is wrong so far; fn has been called for the complete addresses seen), -1 bad with errno
   ENAMETOOLONG (an address over ADDR_MAX, queue-inject's exit 11), E2BIG (over SMTP_RCPT_MAX
   recipients), EINVAL (syntax: letter, control byte, empty recipient or account, "A" not
   first, no recipient), or the
   errno of fn. A caller that feeds more input calls again from the start. Pure; fuzzed. */
int envelope_decode(const char *p, size_t n, envelope_addr_fn *fn, void *ctx, size_t *used);

#endif

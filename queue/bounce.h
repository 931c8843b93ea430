/* bounce.h: delivery status notifications (RFC 3464 inside RFC 6522 multipart/report).
   Pure: the caller supplies every input (times, host name, original headers); the result is
   a complete message (LF line ends) ready for qfile_commit with the null sender. */
#ifndef YUBIN_BOUNCE_H
#define YUBIN_BOUNCE_H

#include "buf.h"
#include "limits.h"

#include <stddef.h>
#include <time.h>

/* Original header octets quoted in the text/rfc822-headers part; the rest is cut at a line. */
#define BOUNCE_HEADERS_MAX  (64 * 1024)
/* Whole notification: headers quoted + explanations of up to SMTP_RCPT_MAX recipients (the
   text part in base64, 4/3 of its size, and the status part: 8 KB a recipient at most). */
#define BOUNCE_MAX          (BOUNCE_HEADERS_MAX + 8192 * (SMTP_RCPT_MAX + 4))
/* A reason line as recorded in the state log. */
#define BOUNCE_REASON_MAX   QUEUE_STATE_LINE_MAX

enum bounce_kind {
    BOUNCE_FAILED,      /* Action: failed (the message is returned) */
    BOUNCE_DELAYED      /* Action: delayed (a warning; delivery is still being retried) */
};

struct bounce_rcpt {
    const char *addr;           /* the envelope recipient */
    const char *reason;         /* delivery agent's text, ideally ending in "(#X.Y.Z)" */
    size_t reason_len;
    int remote;                 /* 1 if the remote delivery agent reported it */
    time_t last;                /* when its last attempt was made (0: none, no
                                   Last-Attempt-Date) */
    int addon;                  /* 1: our mailbox, and the capacity add-on can enlarge it
                                   (acct_addon_applies); only said of a full mailbox */
    int ours;                   /* 1: an account of ours, here or on another node of the fleet
                                   (its home's refusal over the relay route is our own: our
                                   quota, our 20 MB, not "their mail server") */
};

struct bounce_in {
    enum bounce_kind kind;
    const char *me;             /* this host (Reporting-MTA, From: MAILER-DAEMON@me) */
    const char *to;             /* the original envelope sender (To:) */
    const char *id;             /* the original queue ID (Message-ID and boundary) */
    time_t arrival;             /* Arrival-Date */
    time_t now;                 /* Date: */
    time_t retry_until;         /* Will-Retry-Until for BOUNCE_DELAYED */
    const struct bounce_rcpt *rcpt;
    size_t nrcpt;               /* >= 1 */
    const char *headers;        /* the original message (only its header section is used) */
    size_t headers_len;
};

/* Reason categories, chosen from the status code and text. */
enum bounce_reason {
    BR_OTHER, BR_MAILBOX_FULL, BR_UNKNOWN_USER, BR_TOO_BIG, BR_EXPIRED, BR_LOOP, BR_REMOTE,
    BR_NO_DOMAIN,               /* x.1.2 / x.1.10: no such domain, or a null MX */
    BR_REMOTE_FULL,             /* x.2.2 of a remote recipient: a mailbox on another server */
    BR_REMOTE_TOO_BIG           /* x.3.4 / x.2.3 of a remote recipient: that server's limit */
};

/* Extract "X.Y.Z" from the last "(#X.Y.Z)" of text into out (cap >= 12). Falls back to
   "5.0.0" (or "4.0.0" when temporary is 1). 1 found, 0 fallback used. */
int bounce_status(const char *text, size_t n, int temporary, char *out, size_t cap);
enum bounce_reason bounce_classify(const struct bounce_rcpt *r, const char *status);

/* 1 if the reason quotes a server's SMTP reply ("HOST [IP] said: NNN ..."); 0 if it is our
   own finding (a connection failure, DNS, a local delivery, "HOST [IP]: WHAT"). */
int bounce_is_reply(const struct bounce_rcpt *r);

/* Build the notification into out (initialised by the caller with a max >= BOUNCE_MAX).
   0 ok; -1 errno EINVAL (no recipient or a missing field), E2BIG, ENOMEM. */
int bounce_build(const struct bounce_in *in, struct buf *out);

#endif

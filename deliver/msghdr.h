/* msghdr.h: scans a message's header section, fed in pieces of any size, for the loop checks
   of final delivery: a "Delivered-To: RECIPIENT" line (SPECS.md §5.5, qmail-local) and the
   number of Received: fields (RFC 5321 §6.3). Pure: no I/O, no allocation. */
#ifndef YUBIN_MSGHDR_H
#define YUBIN_MSGHDR_H

#include "limits.h"

#include <stddef.h>

/* Bytes of each header line kept for matching: "Delivered-To:" plus blanks plus an address.
   A longer line cannot be a Delivered-To line for an address we deliver to. */
#define MSGHDR_LINE_MAX (ADDR_MAX + 64)

struct msghdr {
    char rcpt[ADDR_MAX + 1];        /* the recipient, as given */
    size_t rcptlen;
    size_t received;                /* Received: fields seen */
    int delivered_to;               /* 1 once "Delivered-To: rcpt" was seen */
    int in_body;                    /* 1 after the empty line ending the header section */
    char line[MSGHDR_LINE_MAX];     /* the start of the current line */
    size_t len;                     /* bytes of the current line seen (may exceed the kept) */
};

/* Start a scan for recipient rcpt. Returns 0, or -1 (EINVAL) if rcpt is empty or longer than
   ADDR_MAX. */
int msghdr_init(struct msghdr *h, const char *rcpt);
/* Feed the next n bytes of the message (LF line ends; a CR before LF is ignored). */
void msghdr_feed(struct msghdr *h, const char *p, size_t n);
/* End of message: a last header line without LF is examined. */
void msghdr_finish(struct msghdr *h);
/* 1 if the message is looping: Delivered-To for this recipient, or more than RECEIVED_MAX
   Received: fields. */
int msghdr_looping(const struct msghdr *h);

#endif

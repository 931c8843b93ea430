/* warnmsg.h: the 90% quota warning deliver writes into a Maildir (Japanese and English).
   Pure: builds the message text, no I/O. */
#ifndef YUBIN_WARNMSG_H
#define YUBIN_WARNMSG_H

#include "buf.h"

#include <stdint.h>

/* Usage at or above this percentage of the quota triggers the warning (the issue). */
#define WARN_PERCENT    90
/* Bytes of one warning message, headers included. */
#define WARN_MSG_MAX    8192

struct warnmsg {
    const char *addr;       /* the account, lower case */
    const char *me;         /* this host's name */
    const char *plan;       /* the account's plan: "basic" gets the add-on advice */
    const char *date;       /* RFC 5322 date-time */
    const char *msgid;      /* left side of the Message-ID, unique */
    uint64_t bytes;         /* usage after the delivery */
    uint64_t quota;         /* bytes, > 0 */
};

/* 1 if usage crossed WARN_PERCENT of quota: before < 90% <= after (quota 0: never). */
int warn_crossed(uint64_t before, uint64_t after, uint64_t quota);
/* 1 if usage is at or above WARN_PERCENT of quota (quota 0: never). */
int warn_above(uint64_t bytes, uint64_t quota);
/* Append the whole message (Return-Path: <> and Delivered-To: on top, LF line ends) to b,
   which should be initialised with max >= WARN_MSG_MAX. 0 ok, -1 (E2BIG/ENOMEM). */
int warnmsg_build(struct buf *b, const struct warnmsg *w);

#endif

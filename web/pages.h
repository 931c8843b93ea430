/* pages.h: the HTML of the member page (Japanese first, English beside it, no script, one
   style sheet from /style.css). Every value from a request or a map goes through
   web_escape. Each function appends to out and returns 0, or -1 when out is full. */
#ifndef YUBIN_PAGES_H
#define YUBIN_PAGES_H

#include "buf.h"

#include <stdint.h>

/* A message on a page: Japanese and English, constant strings; NULL ja = none. */
struct msg {
    const char *ja;
    const char *en;
    int ok;         /* 1 done (green), 0 refused (red) */
};

struct member_view {
    const char *addr;
    const char *csrf;
    uint64_t quota;         /* bytes; 0 unlimited */
    uint64_t used;          /* bytes in the usage summary */
    uint64_t count;         /* messages in the usage summary */
    int usage_known;        /* 0: no summary yet (nothing delivered) */
    const char *plan;
    int pop3s;
};

/* The domain administrator's page (管理者ページ). list and pending are acctd's answers (lines
   "ADDR QUOTA PLAN[ disabled] USED COUNT" and "ID KIND TARGET DATE STATE[ REASON]": DATE the
   due date while waiting, the day it was decided after), plans the ids of etc/plans
   separated by spaces (shown by the manual's names, lib/plan.h); every value from them is
   escaped.
   Its size is bounded whatever the domain holds, since every list on it is: at most
   WEB_LIST_PAGE addresses (drawn four times at most: the table and three lists to choose
   from), APPLY_WAITING_MAX waiting applications and APPLY_DECIDED_PAGE decided ones, and
   after an auto-approval a sheet of at most 16 kB (web/acctd_admin.c ACCTD_SHEET_MAX). With every
   field at its longest (addresses of 320 octets, reasons of 200 octets that all need
   escaping as &quot;) that is under PAGE_ADMIN_MAX (tests/unit/test_pages.c draws it). */
#define PAGE_ADMIN_MAX (384 * 1024)
struct admin_view {
    const char *domain;
    const char *csrf;
    const char *plan;           /* the domain's plan */
    int addon;                  /* the plan allows the 50 MB add-on (basic) */
    const char *list;           /* one page of the domain's addresses: WEB_LIST_PAGE at most */
    size_t listlen;
    size_t total;               /* the domain's addresses */
    size_t from;                /* the page's first, 0-based */
    const char *pending;        /* the waiting applications (all but those past
                                   APPLY_WAITING_MAX), then a page of the decided ones */
    size_t pendinglen;
    size_t waiting;             /* the domain's applications waiting */
    size_t decided;             /* its applications decided in the last APPLY_DECIDED_DAYS */
    size_t decided_from;        /* the page's first decided one, 0-based, newest first */
    const char *plans;
    const char *due;            /* "YYYY-MM-DD": an application made now is carried out then */
    const char *today;          /* "YYYY-MM-DD", local time: an application done at once */
    const char *zone;           /* the local time's zone, e.g. "JST, UTC+09:00" */
    const char *applied_id;     /* after an application: its id, else NULL */
    const char *applied_due;
    int approved;               /* the domain applies at once: it is done */
    const char *sheet;          /* what was done, with the settings sheet: shown this once */
    size_t sheetlen;
};

/* The FAQ (よくあるご質問), from the manual; anyone may read it. servers: the settings sheet's
   data (cdb/sheet.h) of the visitor's own domain, or with domain NULL for one not logged in. */
struct sheet;
struct faq_view {
    const struct sheet *servers;
    int member;                 /* a member's session: links to its sheet and profile */
    int admin;                  /* a domain administrator's session */
    int pop3s;                  /* the visitor's plan has POP over SSL: 1, 0; -1 not known */
    uint64_t quota;             /* the visitor's quota in bytes; 0 unlimited or not known */
};

extern const char PAGES_CSS[];

int page_login(struct buf *out, const char *csrf, const struct msg *m, const char *typed);
int page_member(struct buf *out, const struct member_view *v, const struct msg *m);
int page_admin(struct buf *out, const struct admin_view *v, const struct msg *m);
/* What was just applied for (v's applied_id …, sheet) on a page of its own, with a link to the
   administrator's page: at most 16 kB of sheet, a few kB of page around it. */
int page_admin_applied(struct buf *out, const struct admin_view *v);
int page_faq(struct buf *out, const struct faq_view *v);
/* A page with only a heading and a message (errors, 404). */
int page_message(struct buf *out, const char *title_ja, const char *title_en,
                 const struct msg *m);

#endif

/* webadmin.h: mailacct's side of the member page's domain administrators and their
   applications (docs/web.md "The domain administrator", "Applications"): etc/webadmins,
   ROOT/requests/, the settings mail through the queue. Called by cdb/mailacct.c with its
   context (edit.h); like the rest of mailacct, each function dies with 100 or 111 and one
   line on stderr when it cannot do its job. */
#ifndef YUBIN_WEBADMIN_H
#define YUBIN_WEBADMIN_H

#include "edit.h"
#include "sheet.h"
#include "web/apply.h"

#include <stddef.h>

/* Replace or add (w) or delete (w NULL) the line of domain in ROOT/etc/webadmins,
   root:yubin-auth 0640, written atomically. */
void webadmin_put(const struct ctx *c, const char *domain, const struct webadmin *w);
/* The line of domain: 1 found (w filled), 0 none. */
int webadmin_get(const struct ctx *c, const char *domain, struct webadmin *w);
/* The member page sessions of domain's administrator end (and acctd's records of them). */
void webadmin_end_sessions(const struct ctx *c, const char *domain);
/* A new random password for domain's administrator (contact: a new contact, or NULL to keep;
   needed when the domain has none yet); prints the login, contact and password once. Every
   member page session of the administrator ends. */
void webadmin_reset(struct ctx *c, const char *domain, const char *contact);
/* `domain admin D`: show the administrator; with reset or contact, webadmin_reset. */
void webadmin_show(struct ctx *c, const char *arg, const char *contact, int reset);
/* `domain set D auto-approve on|off` */
void webadmin_set(struct ctx *c, const char *arg, const char *what, const char *val);
/* ROOT/requests/ID (done: requests/done/ID): 1 read (a filled), 0 no such application. */
int webadmin_request_read(const char *root, const char *id, int done, struct application *a);
/* The application id waiting in ROOT/requests/ into a, for verb ("approved", "rejected");
   else it dies (100) saying what became of it: decided already (requests/done/ID), decided
   and its record removed after APPLY_DECIDED_DAYS (log/audit says so), or none with that
   number. */
void webadmin_need_waiting(const char *root, const char *id, const char *verb,
                           struct application *a);
/* The decided record a to requests/done/ID (atomically), then requests/ID removed. */
void webadmin_request_close(const char *root, const struct application *a);
/* The settings sheet of addr with pw, mailed to w's contact through the queue (queue-inject
   run as the queue uid); prints the queue id. */
void webadmin_mail_sheet(struct ctx *c, const struct webadmin *w, const char *addr,
                         const char *pw);
/* What a change of plan from was does to domain's mailboxes (now on its new plan), into p:
   was_quota and quota (the plans' default sizes), lowered (the addresses on the default whose
   size goes down), of them those whose mail already reaches the new size (full, at most
   SHEET_FULL_MAX named; from ROOT/quota/ADDR, so in a fleet only this node's mailboxes), and
   addon (the new plan has the capacity add-on). */
void webadmin_plan_quota(const struct ctx *c, const char *domain, const char *was,
                         struct sheet_plan *p, struct sheet_full *full);
/* After a change of plan that turned POP over SSL on or off for domain, or lowered the size of
   some of its mailboxes (p: was, pop3s_changed and webadmin_plan_quota's part filled): the
   notice (sheet_plan_text) and the new sheets of every address of the domain, without
   passwords (only their hashes are kept), mailed to w's contact through the queue,
   WEBADMIN_SHEETS_PER_MAIL addresses a mail; prints each queue id. again: the command that
   sends it when run again, named in the refusal when the queue does not take it. */
void webadmin_mail_plan(struct ctx *c, const struct webadmin *w, const char *domain,
                        struct sheet_plan *p, const char *again);
/* `reject ID --reason TEXT`, `requests` */
void webadmin_reject(struct ctx *c, const char *id, const char *reason);
void webadmin_requests(struct ctx *c);

#endif

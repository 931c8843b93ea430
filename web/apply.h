/* apply.h: the domain administrator's applications (申請): the due-date rule, the records in
   ROOT/requests/, the administrators' file ROOT/etc/webadmins, the audit log line and the
   settings-sheet mail. Pure functions over (pointer, length) where they parse: unit-tested
   (tests/unit/test_webparse.c) and fuzzed (tests/fuzz/fuzz_webparse.c). docs/web.md. */
#ifndef YUBIN_APPLY_H
#define YUBIN_APPLY_H

#include "buf.h"
#include "limits.h"

#include <stddef.h>
#include <time.h>

#define APPLY_CUTOFF_HOUR   14          /* 平日午後 2 時迄のお申し込み分は当日中 */
#define APPLY_DATE_LEN      10          /* "YYYY-MM-DD" */
#define APPLY_ID_LEN        24          /* "YYYYMMDD-HHMMSS-" + 8 hex digits */
#define APPLY_RECORD_MAX    2048        /* one ROOT/requests/ID file, decisions included */
#define APPLY_REASON_MAX    200         /* a rejection's reason, octets */
#define APPLY_HOLIDAYS_MAX  (64 * 1024) /* ROOT/etc/holidays read, at most */
#define APPLY_ADMINS_MAX    (1024 * 1024)   /* ROOT/etc/webadmins read, at most */
#define APPLY_IP_MAX        45
#define APPLY_WHO_MAX       (SMTP_DOMAIN_MAX + 16)
#define APPLY_WAITING_MAX   100         /* a domain's applications waiting at once; more are
                                           refused until the operator decides some */
#define APPLY_AUTO_ADD_MAX  20          /* new addresses one domain's auto-approval carries
                                           out in APPLY_AUTO_SECONDS (etc/env WEB_AUTO_ADD_MAX,
                                           0 no cap); more wait for the operator */
#define APPLY_AUTO_SECONDS  86400       /* ... in any 24 hours */
#define APPLY_DECIDED_DAYS  14          /* decided applications are shown so long, and their
                                           records kept in requests/done/ (log/audit keeps all) */
#define APPLY_DECIDED_PAGE  20          /* decided applications on a page, newest first */
#define APPLY_DECIDED_REACH 1000        /* the newest decided ones the pages reach; older ones
                                           of the APPLY_DECIDED_DAYS are counted, not listed */

/* 1 if the date y-m-d (m 1..12) is listed in text[0..n): lines "YYYY-MM-DD", anything after
   the date on the line ignored, blank lines and lines starting with '#' skipped. */
int apply_is_holiday(const char *text, size_t n, int y, int m, int d);

/* The day an application made at the local time lt is carried out, as "YYYY-MM-DD" into
   out[APPLY_DATE_LEN + 1]: lt's own day when it is a business day (Monday to Friday, not in
   holidays[0..n)) and lt is before APPLY_CUTOFF_HOUR:00; else the next business day. At most
   400 days ahead (a holidays file listing every day is refused). 0 ok, -1 none found. */
int apply_due(const struct tm *lt, const char *holidays, size_t n, char *out);

/* What an application asks for. */
enum apply_kind { APPLY_ADD, APPLY_RESET, APPLY_ADDON, APPLY_PLAN, APPLY_DEL, APPLY_NKINDS };
/* "add" "reset" "addon" "plan" "del"; apply_kind_of: -1 for anything else */
const char *apply_kind_name(enum apply_kind k);
int apply_kind_of(const char *s);

struct application {
    char id[APPLY_ID_LEN + 1];
    char domain[SMTP_DOMAIN_MAX + 1];
    enum apply_kind kind;
    char target[ADDR_MAX + 1];          /* an address of domain; a plan name for APPLY_PLAN */
    char by[APPLY_WHO_MAX + 1];         /* "admin:DOMAIN" */
    char ip[APPLY_IP_MAX + 1];          /* the client's address, "" if unknown */
    long long time;                     /* when it was made (Unix time) */
    char due[APPLY_DATE_LEN + 1];
    char state[16];                     /* "" pending, "approved", "rejected" */
    char decided_by[64];
    long long decided_at;
    char reason[APPLY_REASON_MAX + 1];
};

/* The record: lines "KEY VALUE" (id domain kind target by ip time due; then, once decided,
   state decided-by decided-at [reason]). apply_format appends it to out; 0 / -1 full.
   apply_parse: 1 a record (a filled), 0 malformed (a key unknown, twice or missing, a value
   over its bound or with a control character, a kind unknown). Never reads past s[n-1]. */
int apply_format(const struct application *a, struct buf *out);
int apply_parse(const char *s, size_t n, struct application *a);

/* A fresh id "YYYYMMDD-HHMMSS-XXXXXXXX" (UTC time, random hex) into out[APPLY_ID_LEN + 1];
   apply_id_ok: 1 if s has that shape (so it is a safe file name). */
int apply_id(time_t now, char *out);
int apply_id_ok(const char *s);

/* The administrators' file: lines "DOMAIN:CONTACT:AUTO:HASH" (AUTO "on" or "off": the
   domain's applications are carried out at once). */
struct webadmin {
    char domain[SMTP_DOMAIN_MAX + 1];
    char contact[ADDR_MAX + 1];
    int auto_approve;
    char hash[AUTH_FIELD_MAX + 1];
};
/* The line of domain in text[0..n): 1 found (w filled), 0 none. Malformed lines are skipped. */
int apply_admin_find(const char *text, size_t n, const char *domain, struct webadmin *w);
/* "DOMAIN:CONTACT:AUTO:HASH" without newline into out; 0, -1 too long. */
int apply_admin_line(const struct webadmin *w, char *out, size_t cap);

/* Append one audit line ("event=E id=ID domain=D kind=K target=T due=DATE by=WHO ip=IP
   [reason=..]") to ROOT/log/audit (lib/audit.h: the time first, one write, fsync). Values
   are made log-safe. 0 ok, -1 errno. */
int apply_audit(const char *root, const char *event, const struct application *a,
                const char *who, const char *ip, const char *reason);

/* The settings mails' subjects: a sheet (an added address, a new password), and the new
   sheets of a domain's addresses after a change of plan (POP over SSL on or off). */
#define APPLY_SUBJECT_SHEET "メールアカウント設定情報のお知らせ (Settings of your mail account)"
#define APPLY_SUBJECT_PLAN  "メールアカウント設定情報変更のお知らせ (Changes to the settings of " \
                            "your mail accounts)"

/* The settings-sheet mail: From from, To to, the UTF-8 subject as RFC 2047 encoded-words,
   multipart/mixed with text (the sheets' text, base64) and the printable HTML attached
   (settings.html, base64). date: RFC 5322 date; msgid: the Message-ID's left part. */
int apply_sheet_mail(struct buf *out, const char *from, const char *to, const char *me,
                     const char *subject, const char *date, const char *msgid,
                     const char *text, size_t textlen, const char *html, size_t htmllen);

#endif

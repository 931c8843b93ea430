/* admin.c: the member page's domain administrator (管理者): the domain's list and the
   applications; part of the program member (web/member.c), runs as yubin-web */
#include "member.h"

#include "acct.h"
#include "addr.h"
#include "idna.h"
#include "apply.h"
#include "applist.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "log.h"
#include "str.h"

#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

_Static_assert(APPLIST_ANSWER_MAX <= ACCTD_ANSWER_MAX, "acctd's list of applications fits");
_Static_assert(PAGE_ADMIN_MAX <= WEB_REPLY_MAX, "the administrator's page fits the answer");

/* a number's macro as the text of a page */
#define NUMBER_TEXT_(n) #n
#define NUMBER_TEXT(n) NUMBER_TEXT_(n)

struct applied {
    const char *id, *due, *sheet;
    size_t sheetlen;
    int approved;
};

/* The plans' names of etc/plans, separated by spaces. */
static void plan_names(const char *root, char *out, size_t cap)
{
    char path[YUBIN_PATH_MAX], text[16384];
    size_t i = 0, o = 0;
    ssize_t n = cfg_path(path, sizeof path, root, "etc/plans") == 0
                ? fd_read_file(path, text, sizeof text) : -1;
    out[0] = '\0';
    while (n > 0 && i < (size_t)n) {
        const char *nl = memchr(text + i, '\n', (size_t)n - i);
        size_t len = nl ? (size_t)(nl - text) - i : (size_t)n - i, k = strcspn(text + i, ":\n");
        if (text[i] != '#' && k > 0 && k < len && k <= PLAN_NAME_MAX && o + k + 2 < cap) {
            if (o) {
                out[o++] = ' ';
            }
            memcpy(out + o, text + i, k);
            o += k;
            out[o] = '\0';
        }
        i += len + 1;
    }
}

/* The day an application made now is carried out (etc/holidays, the server's local time). */
static void due_now(const struct req *r, char *out)
{
    char path[YUBIN_PATH_MAX], hol[APPLY_HOLIDAYS_MAX];
    struct tm lt;
    ssize_t n = cfg_path(path, sizeof path, r->root, "etc/holidays") == 0
                ? fd_read_file(path, hol, sizeof hol) : -1;
    if (!localtime_r(&r->now, &lt) || apply_due(&lt, hol, n > 0 ? (size_t)n : 0, out) < 0) {
        str_fmt(out, APPLY_DATE_LEN + 1, "-");
    }
}

/* Today's date and the zone the 14:00 rule is read in ("JST, UTC+09:00"): the page says which,
   since it is the server's (etc/env/TZ, else /etc/localtime), not the visitor's. */
static void today_and_zone(const struct req *r, char *today, char *zone, size_t zcap)
{
    char abbr[16], off[8];
    struct tm lt;
    if (!localtime_r(&r->now, &lt)
        || strftime(today, APPLY_DATE_LEN + 1, "%Y-%m-%d", &lt) != APPLY_DATE_LEN) {
        str_fmt(today, APPLY_DATE_LEN + 1, "-");
        str_fmt(zone, zcap, "-");
        return;
    }
    if (strftime(abbr, sizeof abbr, "%Z", &lt) == 0) {
        abbr[0] = '\0';
    }
    if (strftime(off, sizeof off, "%z", &lt) != 5) {       /* "+0900" */
        str_fmt(zone, zcap, "%s", abbr[0] ? abbr : "-");
        return;
    }
    str_fmt(zone, zcap, "%s%sUTC%.3s:%.2s", abbr, abbr[0] ? ", " : "", off, off + 3);
}

/* A page's first item: the query's name (GET /?from=N for the addresses, done=N for the
   decided applications: the rel=next/prev links), else 0. */
static void page_start(const struct req *r, const char *name, char *out, size_t cap)
{
    char v[24];
    uint64_t n;
    if (strcmp(r->method, "GET") != 0
        || web_form_get(r->query, r->qlen, name, v, sizeof v, NULL) != 1
        || str_to_u64(v, strlen(v), &n) < 0) {
        n = 0;
    }
    str_fmt(out, cap, "%llu", (unsigned long long)n);
}

/* What was applied for, and the sheet of an auto-approval with its password, on a page of
   their own: after an application, this is what is shown when the whole page could not be
   (acctd did not list the domain), since the application was filed, maybe carried out, and
   the sheet is not shown again. */
static int show_applied(struct req *r, struct admin_view *v, const struct applied *ap)
{
    v->applied_id = ap->id;
    v->applied_due = ap->due;
    v->approved = ap->approved;
    v->sheet = ap->sheet;
    v->sheetlen = ap->sheetlen;
    buf_reset(&r->out);
    return html(r, "200 OK", page_admin_applied(&r->out, v));
}

/* acctd refused the session (its record is gone or from before a reset of the password:
   `mailacct domain admin D --reset` while the page was open, or just after its login): asked
   again it would refuse it again for its 8 hours, so it ends here and the login page is shown;
   an application just filed is still shown on its own page. */
static int session_refused(struct req *r, struct admin_view *v, const struct applied *ap)
{
    static const struct msg ended = { "ログインが終了しました。もう一度ログインして下さい。",
                                      "Your login has ended: please log in again.", 0 };
    log_info("session ended: acctd refused the administrator session domain=%s ip=%s",
             r->sess.addr, r->ip);
    session_delete(r->root, r->sess.id);
    return ap ? show_applied(r, v, ap) : show_login(r, "200 OK", &ended, NULL);
}

static int show_admin(struct req *r, const char *status, const struct msg *m,
                      const struct applied *ap)
{
    char sid[WEB_TOKEN_LEN + 2], plans[1024], due[APPLY_DATE_LEN + 1], from[24], done[24];
    char today[APPLY_DATE_LEN + 1], zone[48];
    const char *list_argv[] = { "list", from, NULL };
    const char *pend_argv[] = { "pending", done, NULL };
    struct admin_view v;
    struct domain d;
    struct buf list, pend;
    unsigned long long total = 0, first = 0, waiting = 0, decided = 0, dfrom = 0;
    const char *nl, *pnl = NULL;
    int found = acct_domain(r->root, r->sess.addr, &d), rc, lc, pc = -1;
    memset(&v, 0, sizeof v);
    v.domain = r->sess.addr;
    v.csrf = r->sess.csrf;
    today_and_zone(r, today, zone, sizeof zone);
    v.today = today;
    if (found < 0) {
        return ap ? show_applied(r, &v, ap) : refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    if (found == 0) {       /* the domain was deleted */
        session_delete(r->root, r->sess.id);
        return show_login(r, "200 OK", NULL, NULL);
    }
    str_fmt(sid, sizeof sid, "%s\n", r->sess.id);
    page_start(r, "from", from, sizeof from);
    page_start(r, "done", done, sizeof done);
    buf_init(&list, ACCTD_ANSWER_MAX);
    buf_init(&pend, ACCTD_ANSWER_MAX);
    /* the page's addresses after the line "TOTAL FROM"; the applications after the line
       "WAITING DECIDED FROM". EXIT_PERM: no administrator session that acctd holds (the
       requests themselves are well-formed) */
    lc = acctd_call(r, list_argv, sid, strlen(sid), &list);
    if (lc == 0 && list.s && (nl = memchr(list.s, '\n', list.len)) != NULL
        && sscanf(list.s, "%llu %llu", &total, &first) == 2) {
        pc = acctd_call(r, pend_argv, sid, strlen(sid), &pend);
    }
    if (pc != 0 || !pend.s || !(pnl = memchr(pend.s, '\n', pend.len))
        || sscanf(pend.s, "%llu %llu %llu", &waiting, &decided, &dfrom) != 3) {
        buf_free(&list);
        buf_free(&pend);
        if (lc == EXIT_PERM || pc == EXIT_PERM) {
            return session_refused(r, &v, ap);
        }
        log_warn("acctd could not list domain %s", r->sess.addr);
        return ap ? show_applied(r, &v, ap) : refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    plan_names(r->root, plans, sizeof plans);
    due_now(r, due);
    v.domain = d.name;
    v.plan = d.plan;
    v.addon = d.maxquota >= 50ULL * 1024 * 1024 && d.quota < 50ULL * 1024 * 1024;
    v.list = nl + 1;
    v.listlen = list.len - (size_t)(nl + 1 - list.s);
    v.total = (size_t)total;
    v.from = (size_t)first;
    v.pending = pnl + 1;
    v.pendinglen = pend.len - (size_t)(pnl + 1 - pend.s);
    v.waiting = (size_t)waiting;
    v.decided = (size_t)decided;
    v.decided_from = (size_t)dfrom;
    v.plans = plans;
    v.due = due;
    v.zone = zone;
    if (ap) {
        v.applied_id = ap->id;
        v.applied_due = ap->due;
        v.approved = ap->approved;
        v.sheet = ap->sheet;
        v.sheetlen = ap->sheetlen;
    }
    rc = page_admin(&r->out, &v, m);
    /* within WEB_REPLY_MAX by construction (pages.h); should it not be, an application is
       not answered with lighttpd's 500 after it was filed */
    rc = rc < 0 && ap ? show_applied(r, &v, ap) : html(r, status, rc);
    buf_free(&list);
    buf_free(&pend);
    return rc;
}

int admin_apply(struct req *r)
{
    static const struct msg bad = {
        "この申請はお受けできません。入力内容をご確認下さい (追加するアドレスが既にある、"
        "削除するアドレスがない、同じプランへの変更など)。",
        "This application cannot be taken: check what you entered (an address to add that "
        "exists already, one to delete that does not, the plan you have already, ...).", 0 };
    static const struct msg limit = {
        "受付済みの申請が上限 (" NUMBER_TEXT(APPLY_WAITING_MAX) " 件) に達しているため、新しい"
        "申請をお受けできません。受付済みの申請のサーバ設定 (平日午後 2 時迄のお申し込み分は"
        "当日中、午後 2 時以降のお申し込みは翌営業日) が済むまでお待ち頂き、その後あらためて"
        "お申し込み下さい。",
        "The limit of " NUMBER_TEXT(APPLY_WAITING_MAX) " applications waiting has been "
        "reached: no new application can be taken until those are set up (the same business "
        "day when received by 2 p.m., else the next business day). Please apply again once "
        "they are done.", 0 };
    char kind[16], target[WEB_FIELD_MAX], local[WEB_FIELD_MAX], sid[WEB_TOKEN_LEN + 2];
    char typed[WEB_FIELD_MAX + 1 + SMTP_DOMAIN_MAX];
    char id[APPLY_ID_LEN + 1], due[APPLY_DATE_LEN + 1];
    struct applied ap;
    struct buf out;
    const char *argv[] = { "apply", r->ip, kind, target, NULL };
    int k, code, rc;

    if (!csrf_ok(r, r->sess.csrf)) {
        log_info("refused: application form without its token domain=%s ip=%s", r->sess.addr,
                 r->ip);
        return refused(r, "403 Forbidden", &MSG_CSRF);
    }
    if (web_form_get(r->body, r->blen, "kind", kind, sizeof kind, NULL) != 1
        || (k = apply_kind_of(kind)) < 0) {
        return show_admin(r, "200 OK", &bad, NULL);
    }
    if (k == APPLY_ADD) {
        /* the part before the @: the domain is always the session's */
        if (web_form_get(r->body, r->blen, "local", local, sizeof local, NULL) != 1
            || !local[0] || strchr(local, '@')) {
            return show_admin(r, "200 OK", &bad, NULL);
        }
    } else if (web_form_get(r->body, r->blen, "target", target, sizeof target, NULL) != 1
               || !target[0]) {
        return show_admin(r, "200 OK", &bad, NULL);
    } else if (k != APPLY_PLAN) {
        memcpy(local, target, strlen(target) + 1);
    }
    if (k != APPLY_PLAN) {
        /* as typed (Hanako, ｈａｎａｋｏ＠… in an input method's full-width mode, or in a big
           domain's form only the part before the @): the maps' form (lib/addr
           addr_map_form), what acctd checks and files */
        if (idna_fold_fullwidth(local, strlen(local), typed, sizeof typed) < 0
            || str_fmt(local, sizeof local, "%s", typed) < 0
            || (k == APPLY_ADD && strchr(local, '@'))
            || (strchr(local, '@') ? str_fmt(typed, sizeof typed, "%s", local)
                                : str_fmt(typed, sizeof typed, "%s@%s", local, r->sess.addr)) < 0
            || !addr_map_form(typed, target, sizeof target)) {
            return show_admin(r, "200 OK", &bad, NULL);
        }
    }
    str_fmt(sid, sizeof sid, "%s\n", r->sess.id);
    buf_init(&out, ACCTD_ANSWER_MAX);
    code = acctd_call(r, argv, sid, strlen(sid), &out);
    if (code == EXIT_PERM) {
        /* "waiting ID\n": the same application is waiting already (a reload, a double click) */
        char ja[256], en[256];
        struct msg same = { ja, en, 0 };
        int dup = out.len == 8 + APPLY_ID_LEN + 1 && memcmp(out.s, "waiting ", 8) == 0
                  && out.s[out.len - 1] == '\n';
        int full = out.len == 6 && memcmp(out.s, "limit\n", 6) == 0;
        if (dup) {
            out.s[out.len - 1] = '\0';
            if (!apply_id_ok(out.s + 8)) {
                dup = 0;
            } else {
                (void)str_fmt(ja, sizeof ja, "同じ内容の申請 (申請番号 %s) を受付済みです。"
                              "設定予定日までお待ち下さい。", out.s + 8);
                (void)str_fmt(en, sizeof en, "The same application (No. %s) is waiting "
                              "already; it is carried out on its date.", out.s + 8);
            }
        }
        buf_free(&out);
        log_info("application refused domain=%s kind=%s ip=%s%s", r->sess.addr, kind, r->ip,
                 dup ? " (the same one is waiting)"
                 : full ? " (" NUMBER_TEXT(APPLY_WAITING_MAX) " applications are waiting)" : "");
        return show_admin(r, "200 OK", dup ? &same : full ? &limit : &bad, NULL);
    }
    if (code != 0 || out.len < APPLY_ID_LEN + 1 + APPLY_DATE_LEN + 1
        || out.s[APPLY_ID_LEN] != ' ' || out.s[APPLY_ID_LEN + 1 + APPLY_DATE_LEN] != '\n') {
        buf_wipe(&out);
        buf_free(&out);
        log_warn("application not filed: acctd answered %d domain=%s", code, r->sess.addr);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    memcpy(id, out.s, APPLY_ID_LEN);
    id[APPLY_ID_LEN] = '\0';
    memcpy(due, out.s + APPLY_ID_LEN + 1, APPLY_DATE_LEN);
    due[APPLY_DATE_LEN] = '\0';
    memset(&ap, 0, sizeof ap);
    ap.id = id;
    ap.due = due;
    {
        size_t at = APPLY_ID_LEN + APPLY_DATE_LEN + 2;
        if (out.len - at >= 9 && memcmp(out.s + at, "approved\n", 9) == 0) {
            ap.approved = 1;
            if ((k == APPLY_ADD || k == APPLY_RESET) && out.len > at + 9) {
                ap.sheet = out.s + at + 9;
                ap.sheetlen = out.len - at - 9;
            }
        }
    }
    log_info("application %s %s domain=%s ip=%s%s", id, kind, r->sess.addr, r->ip,
             ap.approved ? " (carried out at once)" : "");
    rc = show_admin(r, "200 OK", NULL, &ap);
    buf_wipe(&out);
    buf_free(&out);
    return rc;
}

int admin_page(struct req *r)
{
    return show_admin(r, "200 OK", NULL, NULL);
}

/* adminpage.c: the domain administrator's page of the member page (pages.h page_admin):
   the domain's addresses a page at a time, its applications, the application forms;
   part of the program member, runs as yubin-web */
#include "pages.h"
#include "pages_impl.h"

#include "limits.h"
#include "plan.h"
#include "str.h"
#include "webparse.h"

#include "applist.h"
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_ja[] = { "メールアドレスの追加", "パスワードの再発行",
                                       "メール容量追加 (50MB)", "プランの変更",
                                       "メールアドレスの削除" };
static const char *const kind_en[] = { "Add an address", "New password", "50 MB add-on",
                                       "Change of plan", "Delete an address" };

/* "<option>ADDR</option>" for each address of the list (first field of each line) */
static int addr_options(struct buf *b, const struct admin_view *v)
{
    size_t i = 0;
    int r = 0;
    while (i < v->listlen) {
        const char *line = v->list + i, *nl = memchr(line, '\n', v->listlen - i);
        size_t len = nl ? (size_t)(nl - line) : v->listlen - i, an = strcspn(line, " \n");
        if (an > len) {
            an = len;
        }
        r |= buf_puts(b, "<option>");
        r |= web_escape(b, line, an);
        r |= buf_puts(b, "</option>\n");
        i += len + 1;
    }
    return r;
}

static int apply_form(struct buf *b, const struct admin_view *v, const char *kind, int ki,
                      const char *body_html_pre, int with_addr)
{
    int r = 0;
    r |= buf_printf(b, "<form method=\"post\" action=\"/apply\" id=\"form-%s\">\n", kind);
    r |= csrf_field(b, v->csrf);
    r |= buf_printf(b, "<input type=\"hidden\" name=\"kind\" value=\"%s\">\n<h3>", kind);
    r |= both(b, kind_ja[ki], kind_en[ki]);
    r |= buf_puts(b, "</h3>\n");
    if (body_html_pre) {
        r |= buf_puts(b, body_html_pre);
    }
    if (with_addr && v->total > WEB_LIST_PAGE) {
        /* a list longer than a page: the address is typed (the page's are offered) */
        r |= buf_printf(b, "<label for=\"%s-addr\">", kind);
        r |= both(b, "メールアドレス", "Address");
        r |= buf_printf(b, "</label>\n<input id=\"%s-addr\" name=\"target\" type=\"text\" "
                        "required maxlength=\"%d\" list=\"addr-choices\">\n", kind, ADDR_MAX);
    } else if (with_addr) {
        r |= buf_printf(b, "<label for=\"%s-addr\">", kind);
        r |= both(b, "メールアドレス", "Address");
        r |= buf_printf(b, "</label>\n<select id=\"%s-addr\" name=\"target\" required>\n", kind);
        r |= addr_options(b, v);
        r |= buf_puts(b, "</select>\n");
    }
    r |= buf_puts(b, "<button type=\"submit\">");
    r |= both(b, "申請する", "Apply");
    r |= buf_puts(b, "</button>\n</form>\n");
    return r;
}

/* The change of plan: each plan of etc/plans but the domain's own (acctd refuses that one),
   by the manual's names; no form when there is no other plan. */
static int plan_form(struct buf *b, const struct admin_view *v)
{
    const char *p;
    int r = 0, n = 0;
    struct buf opts;
    /* the plans' ids (admin.c: 1,023 octets of them at most, each at most PLAN_NAME_MAX) as
       value and label, each escaped (6 octets a character at most) */
    buf_init(&opts, 16 * 1024);
    for (p = v->plans; p && *p;) {
        size_t len = strcspn(p, " ");
        if (len > 0 && (strlen(v->plan) != len || memcmp(p, v->plan, len) != 0)) {
            char id[64];
            if (len < sizeof id) {
                memcpy(id, p, len);
                id[len] = '\0';
                r |= buf_puts(&opts, "<option value=\"");
                r |= esc(&opts, id);
                r |= buf_puts(&opts, "\">");
                r |= esc(&opts, plan_name_ja(id) ? plan_name_ja(id) : id);
                if (plan_name_en(id)) {
                    r |= buf_printf(&opts, " (%s)", plan_name_en(id));
                }
                r |= buf_puts(&opts, "</option>\n");
                n++;
            }
        }
        p += len + (p[len] == ' ');
    }
    if (n > 0) {
        r |= buf_puts(b, "<form method=\"post\" action=\"/apply\" id=\"form-plan\">\n");
        r |= csrf_field(b, v->csrf);
        r |= buf_puts(b, "<input type=\"hidden\" name=\"kind\" value=\"plan\">\n<h3>");
        r |= both(b, kind_ja[3], kind_en[3]);
        r |= buf_puts(b, "</h3>\n<label for=\"plan-name\">");
        r |= both(b, "新しいプラン", "New plan");
        r |= buf_puts(b, "</label>\n<select id=\"plan-name\" name=\"target\" required>\n");
        r |= opts.s ? buf_append(b, opts.s, opts.len) : 0;
        r |= buf_puts(b, "</select>\n<button type=\"submit\">");
        r |= both(b, "申請する", "Apply");
        r |= buf_puts(b, "</button>\n</form>\n");
    }
    buf_free(&opts);
    return r;
}

/* "<table id=ID><tr><th>…</th>…</tr>": n headings, each Japanese then English. */
static int table_head(struct buf *b, const char *id, const char *const cols[][2], size_t n)
{
    size_t i;
    int r = buf_printf(b, "<table id=\"%s\">\n<tr>", id);
    for (i = 0; i < n; i++) {
        r |= buf_puts(b, "<th>");
        r |= both(b, cols[i][0], cols[i][1]);
        r |= buf_puts(b, "</th>");
    }
    return r | buf_puts(b, "</tr>\n");
}

/* "/?from=F&amp;done=D" in an attribute, each part only when not 0: the page whose addresses
   begin at from and whose decided applications at done. */
static int page_href(struct buf *b, size_t from, size_t done)
{
    if (from && done) {
        return buf_printf(b, "/?from=%zu&amp;done=%zu", from, done);
    }
    return from ? buf_printf(b, "/?from=%zu", from) : done ? buf_printf(b, "/?done=%zu", done)
                                                           : buf_puts(b, "/");
}

/* Under a list longer than a page: which addresses these are, links to the pages before and
   after (GET /?from=N), and the page's addresses offered to the forms' typed address. */
static int list_pager(struct buf *b, const struct admin_view *v, int shown)
{
    int r = 0;
    if (v->total <= WEB_LIST_PAGE) {
        return 0;
    }
    r |= buf_printf(b, "<p class=\"pager\" id=\"pager\"><span lang=\"ja\">全 %zu 件中 %zu〜%zu "
                    "件目</span><span class=\"en\" lang=\"en\">addresses %zu to %zu of %zu</span>",
                    v->total, v->from + 1, v->from + (size_t)shown, v->from + 1,
                    v->from + (size_t)shown, v->total);
    if (v->from > 0) {
        r |= buf_puts(b, " <a rel=\"prev\" href=\"");
        r |= page_href(b, v->from > WEB_LIST_PAGE ? v->from - WEB_LIST_PAGE : 0, v->decided_from);
        r |= buf_puts(b, "\">");
        r |= both(b, "前へ", "Previous");
        r |= buf_puts(b, "</a>");
    }
    if (v->from + WEB_LIST_PAGE < v->total) {
        r |= buf_puts(b, " <a rel=\"next\" href=\"");
        r |= page_href(b, v->from + WEB_LIST_PAGE, v->decided_from);
        r |= buf_puts(b, "\">");
        r |= both(b, "次へ", "Next");
        r |= buf_puts(b, "</a>");
    }
    r |= buf_puts(b, "</p>\n<datalist id=\"addr-choices\">\n");
    r |= addr_options(b, v);
    return r | buf_puts(b, "</datalist>\n");
}

static int list_table(struct buf *b, const struct admin_view *v)
{
    size_t i = 0;
    int r = 0, n = 0;
    static const char *const cols[][2] = {
        {"メールアドレス", "Address"}, {"使用中のディスク容量", "Space used"},
        {"保存されているメール", "Messages"}};
    r |= table_head(b, "addresses", cols, sizeof cols / sizeof cols[0]);
    while (i < v->listlen) {
        /* ADDR QUOTA PLAN[ disabled] USED COUNT */
        const char *line = v->list + i, *nl = memchr(line, '\n', v->listlen - i);
        size_t len = nl ? (size_t)(nl - line) : v->listlen - i, an = strcspn(line, " \n");
        char tmp[512], *f[6], used[32], quota[32];
        int k = 0, disabled;
        unsigned long long u, c;
        i += len + 1;
        if (len >= sizeof tmp || an >= len) {
            continue;
        }
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        for (f[k] = strtok(tmp, " "); f[k] && ++k < 6; f[k] = strtok(NULL, " ")) {
        }
        disabled = k == 6 && strcmp(f[3], "disabled") == 0;
        if (k != 5 && !disabled) {
            continue;
        }
        u = strtoull(f[k - 2], NULL, 10);
        c = strtoull(f[k - 1], NULL, 10);
        str_size_human(u, used, sizeof used);
        /* mailacct list's size: "20M", "1G", bytes, or "unlimited" */
        if (strcmp(f[1], "unlimited") == 0) {
            snprintf(quota, sizeof quota, "無制限");
        } else {
            char *end;
            unsigned long long q = strtoull(f[1], &end, 10);
            unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
            if (q < (1ULL << 32)) {
                str_size_human((uint64_t)q << shift, quota, sizeof quota);
            } else {
                snprintf(quota, sizeof quota, "%s", f[1]);
            }
        }
        r |= buf_puts(b, "<tr><td class=\"addr\">");
        r |= web_escape(b, line, an);
        if (disabled) {
            r |= buf_puts(b, " <span class=\"disabled\">");
            r |= both(b, "(利用停止中)", "(disabled)");
            r |= buf_puts(b, "</span>");
        }
        r |= buf_puts(b, "</td><td>");
        r |= esc(b, used);
        r |= buf_puts(b, " / ");
        r |= esc(b, quota);
        r |= buf_printf(b, "</td><td>%llu</td></tr>\n", c);
        n++;
    }
    r |= buf_puts(b, "</table>\n");
    if (n == 0 && v->total == 0) {
        r |= buf_puts(b, "<p class=\"note\">");
        r |= both(b, "メールアドレスはまだありません。", "There are no addresses yet.");
        r |= buf_puts(b, "</p>\n");
    }
    return r | list_pager(b, v, n);
}

/* Under the applications: how many were decided in the last APPLY_DECIDED_DAYS and which of
   them these are (newest first), with links to the newer and older ones (GET /?done=N; the
   newest APPLY_DECIDED_REACH are reached). */
static int decided_pager(struct buf *b, const struct admin_view *v, size_t shown)
{
    size_t reach = v->decided < APPLY_DECIDED_REACH ? v->decided : APPLY_DECIDED_REACH;
    int r = 0;
    if (v->decided <= shown && v->decided_from == 0) {
        return 0;
    }
    r |= buf_printf(b, "<p class=\"pager\" id=\"decided-pager\"><span lang=\"ja\">%d 日以内に"
                    "処理した申請 全 %zu 件中、新しいものから %zu〜%zu 件目を表示しています (ほか "
                    "%zu 件)</span><span class=\"en\" lang=\"en\">applications decided in the last "
                    "%d days: %zu to %zu of %zu, newest first (%zu more)</span>",
                    APPLY_DECIDED_DAYS, v->decided, v->decided_from + 1, v->decided_from + shown,
                    v->decided - shown, APPLY_DECIDED_DAYS, v->decided_from + 1,
                    v->decided_from + shown, v->decided, v->decided - shown);
    if (v->decided_from > 0) {
        r |= buf_puts(b, " <a id=\"decided-newer\" href=\"");
        r |= page_href(b, v->from, v->decided_from > APPLY_DECIDED_PAGE
                                   ? v->decided_from - APPLY_DECIDED_PAGE : 0);
        r |= buf_puts(b, "\">");
        r |= both(b, "新しい申請", "Newer");
        r |= buf_puts(b, "</a>");
    }
    if (v->decided_from + APPLY_DECIDED_PAGE < reach) {
        r |= buf_puts(b, " <a id=\"decided-older\" href=\"");
        r |= page_href(b, v->from, v->decided_from + APPLY_DECIDED_PAGE);
        r |= buf_puts(b, "\">");
        r |= both(b, "古い申請", "Older");
        r |= buf_puts(b, "</a>");
    }
    return r | buf_puts(b, "</p>\n");
}

static int pending_table(struct buf *b, const struct admin_view *v)
{
    static const char *const cols[][2] = {
        {"申請番号", "No."}, {"内容", "What"}, {"対象", "Of"}, {"設定日", "Date"},
        {"状況", "Status"}};
    size_t i = 0, decided = 0;
    int r = 0;
    if (v->pendinglen == 0 && v->waiting == 0 && v->decided == 0) {
        return 0;
    }
    r |= buf_puts(b, "<h2>");
    r |= both(b, "申請の状況", "Your applications");
    r |= buf_puts(b, "</h2>\n");
    r |= table_head(b, "pending", cols, sizeof cols / sizeof cols[0]);
    while (i < v->pendinglen) {
        const char *line = v->pending + i, *nl = memchr(line, '\n', v->pendinglen - i);
        size_t len = nl ? (size_t)(nl - line) : v->pendinglen - i;
        char tmp[APPLIST_LINE_MAX + 1], *id, *kind, *target, *due, *state, *reason;
        int k;
        i += len + 1;
        if (len >= sizeof tmp) {
            continue;
        }
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        id = strtok(tmp, " ");
        kind = strtok(NULL, " ");
        target = strtok(NULL, " ");
        due = strtok(NULL, " ");
        state = strtok(NULL, " ");
        reason = strtok(NULL, "");
        if (!state || (k = apply_kind_of(kind)) < 0) {
            continue;
        }
        r |= buf_puts(b, "<tr><td>");
        r |= esc(b, id);
        r |= buf_puts(b, "</td><td>");
        r |= both(b, kind_ja[k], kind_en[k]);
        r |= buf_puts(b, "</td><td>");
        r |= k == APPLY_PLAN ? plan_label(b, target) : esc(b, target);
        /* waiting: the due date, marked as planned; decided: the day it was decided */
        r |= buf_puts(b, "</td><td class=\"date\">");
        r |= esc(b, due);
        if (strcmp(state, "pending") == 0) {
            r |= buf_puts(b, " ");
            r |= both(b, "(予定)", "(planned)");
        }
        r |= buf_printf(b, "</td><td class=\"%s\">", strcmp(state, "pending") == 0 ? "pending"
                        : strcmp(state, "approved") == 0 ? "approved" : "rejected");
        decided += strcmp(state, "pending") != 0;
        if (strcmp(state, "pending") == 0) {
            r |= both(b, "受付済み", "Received");
        } else if (strcmp(state, "approved") == 0) {
            r |= both(b, "設定完了", "Done");
        } else {
            r |= both(b, "お受けできませんでした", "Not accepted");
            if (reason) {
                r |= buf_puts(b, ": ");
                r |= esc(b, reason);
            }
        }
        r |= buf_puts(b, "</td></tr>\n");
    }
    r |= buf_puts(b, "</table>\n");
    return r | decided_pager(b, v, decided);
}

/* What was just applied for: its number and date, and after an auto-approval the settings
   sheet with the new password, shown this once. */
static int applied(struct buf *b, const struct admin_view *v)
{
    int r = 0;
    if (v->applied_id) {
        r |= buf_puts(b, "<p class=\"msg ok\" role=\"status\" id=\"applied\">");
        if (v->approved) {
            r |= both(b, "設定が完了しました。", "It has been done.");
        } else {
            r |= both(b, "申請を受け付けました。", "Your application has been received.");
        }
        r |= buf_puts(b, " ");
        r |= both(b, "申請番号", "No.");
        r |= buf_puts(b, " <code id=\"applied-id\">");
        r |= esc(b, v->applied_id);
        r |= buf_puts(b, "</code> ");
        if (v->approved) {
            /* done now: its due date (maybe the next business day) is no longer the news */
            r |= both(b, "設定完了日", "done on");
            r |= buf_puts(b, " <span id=\"applied-done\">");
            r |= esc(b, v->today);
        } else {
            r |= both(b, "設定予定日", "to be done on");
            r |= buf_puts(b, " <span id=\"applied-due\">");
            r |= esc(b, v->applied_due);
        }
        r |= buf_puts(b, "</span></p>\n");
    }
    if (v->sheet) {
        r |= buf_puts(b, "<h2>");
        r |= both(b, "設定情報", "Settings");
        r |= buf_puts(b, "</h2>\n<p class=\"note\">");
        r |= both(b, "この画面は一度だけ表示されます。パスワードを控えて下さい "
                  "(設定情報はご連絡先にもメールでお送りしました)。",
                  "This is shown once: note the password (the settings were also mailed to "
                  "your contact).");
        r |= buf_puts(b, "</p>\n<pre id=\"sheet\">");
        r |= web_escape(b, v->sheet, v->sheetlen);
        r |= buf_puts(b, "</pre>\n");
    }
    return r;
}

int page_admin_applied(struct buf *b, const struct admin_view *v)
{
    int r = 0;
    if (head(b, "ドメイン管理", "Domain administration") < 0) {
        return -1;
    }
    r |= applied(b, v);
    r |= buf_puts(b, "<p><a id=\"back\" href=\"/\">");
    r |= both(b, "ドメイン管理のページへ", "To the domain administration page");
    r |= buf_puts(b, "</a></p>\n");
    r |= logout_form(b, v->csrf);
    return r ? -1 : tail(b);
}

int page_admin(struct buf *b, const struct admin_view *v, const struct msg *m)
{
    int r = 0;
    if (head(b, "ドメイン管理", "Domain administration") < 0 || message(b, m) < 0) {
        return -1;
    }
    r |= applied(b, v);
    r |= buf_puts(b, "<table>\n");
    r |= row_text(b, "ドメイン名", "Domain", "domain", v->domain);
    r |= buf_puts(b, "<tr><th>");
    r |= both(b, "プラン", "Plan");
    r |= buf_puts(b, "</th><td id=\"plan\">");
    r |= plan_label(b, v->plan);
    r |= buf_puts(b, "</td></tr>\n</table>\n<h2>");
    r |= both(b, "メールアドレスとご利用状況", "Addresses and their use");
    r |= buf_puts(b, "</h2>\n");
    r |= list_table(b, v);
    r |= pending_table(b, v);
    r |= buf_puts(b, "<h2>");
    r |= both(b, "アカウント追加/削除/変更の申請", "Apply for a change");
    r |= buf_puts(b, "</h2>\n<p class=\"note\">");
    r |= both(b, "平日午後 2 時迄のお申し込み分は、当日中にサーバ設定を行わせて頂きます。"
              "午後 2 時以降のお申し込みについては、翌営業日に設定を行います。",
              "Applications received by 2 p.m. on a business day are set up the same day; later "
              "ones on the next business day.");
    r |= buf_puts(b, " <span id=\"zone\">");
    r |= buf_puts(b, "<span lang=\"ja\">(時刻は ");
    r |= esc(b, v->zone);
    r |= buf_puts(b, " です)</span><span class=\"en\" lang=\"en\">(times in ");
    r |= esc(b, v->zone);
    r |= buf_puts(b, ")</span></span>");
    r |= buf_puts(b, "</p>\n<p>");
    r |= both(b, "今お申し込み頂いた場合の設定予定日:", "Applied for now, it will be done on:");
    r |= buf_puts(b, " <strong id=\"due\">");
    r |= esc(b, v->due);
    r |= buf_puts(b, "</strong></p>\n<p class=\"note\">");
    r |= both(b, "メールアドレスの追加、パスワードの再発行の申請を頂いた場合、サーバ設定完了後に"
              "設定情報をご連絡先へメールでお送り致します。プランの変更で POP over SSL (ポート 995) "
              "がご利用頂けるようになる、またはご利用頂けなくなる場合、または割り当てディスク容量が"
              "小さくなる場合は、各メールアドレスの新しい設定情報 (パスワードは記載しておりません) "
              "をご連絡先へメールでお送り致します (すでに新しい割り当てディスク容量に達している"
              "メールアドレスもお知らせ致します)。メール"
              "容量追加、その他のプランの変更、削除のご依頼についてはメールでのご連絡はしておりません "
              "(プラン変更後の設定は、各メールアドレスでログインした会員専用ページの設定情報でご確認"
              "頂けます)。",
              "Once an address is added or its password renewed, the settings go to your contact "
              "address by mail. A change of plan that adds or removes POP over SSL (port 995), or "
              "makes mailboxes smaller, sends every address's new settings (without passwords) to "
              "your contact, naming the addresses whose mail fills the new size already. Nothing is "
              "sent for the add-on, another change of plan or a deletion (after a change of plan, "
              "each address's settings are on its own member page).");
    r |= buf_puts(b, "</p>\n");
    {
        struct buf pre;
        buf_init(&pre, 1024);
        r |= buf_puts(&pre, "<label for=\"add-local\">");
        r |= both(&pre, "メールアドレス (@ の前の部分)", "Address (the part before the @)");
        r |= buf_puts(&pre, "</label>\n<input id=\"add-local\" name=\"local\" type=\"text\" "
                      "required maxlength=\"64\"> @");
        r |= esc(&pre, v->domain);
        r |= buf_puts(&pre, "\n");
        r |= apply_form(b, v, "add", 0, pre.s, 0);
        buf_free(&pre);
    }
    r |= apply_form(b, v, "reset", 1, NULL, 1);
    if (v->addon) {
        r |= apply_form(b, v, "addon", 2, NULL, 1);
    }
    r |= plan_form(b, v);
    r |= apply_form(b, v, "del", 4, NULL, 1);
    r |= logout_form(b, v->csrf);
    return r ? -1 : tail(b);
}

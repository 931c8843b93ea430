/* pages.c: the member page's HTML (pages.h); wording from the provider's manual */
#include "pages.h"

#include "str.h"
#include "webparse.h"

#include <string.h>

const char PAGES_CSS[] =
    "body{font-family:\"IPAPGothic\",\"IPAGothic\",\"Noto Sans CJK JP\",sans-serif;"
    "margin:0;background:#f4f6f8;color:#222}\n"
    "header{background:#1f4e79;color:#fff;padding:.8em 1.5em}\n"
    "header h1{margin:0;font-size:1.4em}\n"
    "main{max-width:46em;margin:1.5em auto;background:#fff;padding:1em 2em 2em;"
    "border:1px solid #ccd}\n"
    ".en{color:#666;font-size:.9em;margin-left:.6em}\n"
    "h2{border-bottom:2px solid #1f4e79;padding-bottom:.2em;font-size:1.15em}\n"
    "label{display:block;margin:.8em 0 .2em}\n"
    "input[type=text],input[type=email],input[type=password]{width:100%;max-width:28em;"
    "padding:.4em;font-size:1em;box-sizing:border-box}\n"
    "button{margin-top:1em;padding:.5em 1.4em;font-size:1em}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.4em .8em;"
    "text-align:left}th{background:#eef2f6;font-weight:normal}\n"
    ".msg{padding:.6em 1em;border:1px solid #c33;background:#fdecec;margin:1em 0}\n"
    ".msg.ok{border-color:#393;background:#eaf6ea}\n"
    ".note{color:#555;font-size:.9em}\n"
    "form.inline{display:inline}\n";

static int esc(struct buf *b, const char *s)
{
    return web_escape(b, s, strlen(s));
}

/* "日本語 <span class=en>English</span>" */
static int both(struct buf *b, const char *ja, const char *en)
{
    return buf_printf(b, "<span lang=\"ja\">%s</span><span class=\"en\" lang=\"en\">%s</span>",
                      ja, en);
}

static int head(struct buf *b, const char *ja, const char *en)
{
    if (buf_printf(b, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>%s / %s</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n"
                   "</head>\n<body>\n<header><h1>", ja, en) < 0
        || both(b, "会員専用ページ", "Member page") < 0
        || buf_puts(b, "</h1></header>\n<main>\n<h2>") < 0 || both(b, ja, en) < 0) {
        return -1;
    }
    return buf_puts(b, "</h2>\n");
}

static int tail(struct buf *b)
{
    return buf_puts(b, "</main>\n</body>\n</html>\n");
}

static int message(struct buf *b, const struct msg *m)
{
    if (!m || !m->ja) {
        return 0;
    }
    if (buf_printf(b, "<p class=\"msg%s\" role=\"status\">", m->ok ? " ok" : "") < 0
        || both(b, m->ja, m->en) < 0) {
        return -1;
    }
    return buf_puts(b, "</p>\n");
}

static int csrf_field(struct buf *b, const char *csrf)
{
    if (buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"") < 0 || esc(b, csrf) < 0) {
        return -1;
    }
    return buf_puts(b, "\">\n");
}

static int field(struct buf *b, const char *name, const char *type, const char *ja,
                 const char *en, const char *autocomplete)
{
    if (buf_printf(b, "<label for=\"%s\">", name) < 0 || both(b, ja, en) < 0) {
        return -1;
    }
    return buf_printf(b, "</label>\n<input id=\"%s\" name=\"%s\" type=\"%s\" required "
                      "autocomplete=\"%s\" maxlength=\"255\">\n", name, name, type, autocomplete);
}

int page_login(struct buf *b, const char *csrf, const struct msg *m, const char *typed)
{
    if (head(b, "ログイン", "Log in") < 0 || message(b, m) < 0) {
        return -1;
    }
    if (typed && typed[0]) {
        if (buf_puts(b, "<p>") < 0 || both(b, "入力されたメールアドレス:", "Address entered:") < 0
            || buf_puts(b, " <code id=\"typed\">") < 0 || esc(b, typed) < 0
            || buf_puts(b, "</code></p>\n") < 0) {
            return -1;
        }
    }
    if (buf_puts(b, "<form method=\"post\" action=\"/login\">\n") < 0 || csrf_field(b, csrf) < 0
        || field(b, "addr", "text", "メールアドレス", "E-mail address", "username") < 0
        || field(b, "password", "password", "パスワード", "Password", "current-password") < 0
        || buf_puts(b, "<p class=\"note\">") < 0
        || both(b, "メールソフトに設定している POP3 のパスワードです。パスワードは大文字/小文字を"
                "区別します。", "The POP3 password of your mail program. Passwords are "
                "case-sensitive.") < 0
        || buf_puts(b, "</p>\n<button type=\"submit\">") < 0 || both(b, "ログイン", "Log in") < 0
        || buf_puts(b, "</button>\n</form>\n") < 0) {
        return -1;
    }
    return tail(b);
}

static int row(struct buf *b, const char *ja, const char *en, const char *id, const char *val)
{
    if (buf_puts(b, "<tr><th>") < 0 || both(b, ja, en) < 0
        || buf_printf(b, "</th><td id=\"%s\">", id) < 0 || buf_puts(b, val) < 0) {
        return -1;
    }
    return buf_puts(b, "</td></tr>\n");
}

/* A row whose value is text (escaped here). */
static int row_text(struct buf *b, const char *ja, const char *en, const char *id,
                    const char *text)
{
    if (buf_puts(b, "<tr><th>") < 0 || both(b, ja, en) < 0
        || buf_printf(b, "</th><td id=\"%s\">", id) < 0 || esc(b, text) < 0) {
        return -1;
    }
    return buf_puts(b, "</td></tr>\n");
}

static int usage_rows(struct buf *b, const struct member_view *v)
{
    char used[32], quota[32], val[160];
    int r = row_text(b, "メールアドレス", "Address", "addr", v->addr);
    str_size_human(v->used, used, sizeof used);
    if (v->quota) {
        str_size_human(v->quota, quota, sizeof quota);
        r |= str_fmt(val, sizeof val, "%s / %s (%u%%)", used, quota,
                 (unsigned)(v->used >= v->quota ? 100 : v->used * 100 / v->quota));
    } else {
        r |= str_fmt(val, sizeof val, "%s / 無制限 <span class=\"en\">unlimited</span>", used);
    }
    r |= row(b, "使用中のディスク容量", "Space used", "used", val);
    r |= str_fmt(val, sizeof val, "%llu 通<span class=\"en\">%llu messages</span>",
             (unsigned long long)v->count, (unsigned long long)v->count);
    r |= row(b, "保存されているメール", "Messages stored", "count", val);
    r |= row_text(b, "プラン", "Plan", "plan", v->plan);
    return r ? -1 : 0;
}

static int settings(struct buf *b, const struct member_view *v)
{
    int r = 0;
    r |= buf_puts(b, "<h2>");
    r |= both(b, "メールソフトの設定", "Mail program settings");
    r |= buf_puts(b, "</h2>\n<ul>\n<li><a id=\"sheet\" href=\"/settings.html\">");
    r |= both(b, "設定情報 (印刷用)", "Settings sheet (printable)");
    r |= buf_puts(b, "</a></li>\n<li><a id=\"profile\" href=\"/profile.mobileconfig\">");
    r |= both(b, "Apple 構成プロファイル (iPhone・iPad・Mac のメール)",
              "Apple configuration profile (Mail on iPhone, iPad, Mac)");
    r |= buf_puts(b, "</a></li>\n</ul>\n<p class=\"note\">");
    r |= both(b, "Thunderbird と Outlook は、メールアドレスとパスワードを入力すると自動で設定されます。",
              "Thunderbird and Outlook set themselves up from the address and the password.");
    if (v->pop3s) {
        r |= both(b, " POP over SSL (995 番ポート) をご利用頂けます。",
                  " POP3 over SSL (port 995) is part of your plan.");
    }
    r |= buf_puts(b, "</p>\n");
    return r ? -1 : 0;
}

static int password_form(struct buf *b, const char *csrf)
{
    int r = 0;
    r |= buf_puts(b, "<h2>");
    r |= both(b, "パスワードの変更", "Change the password");
    r |= buf_puts(b, "</h2>\n<form method=\"post\" action=\"/password\">\n");
    r |= csrf_field(b, csrf);
    r |= field(b, "current", "password", "現在のパスワード", "Current password",
               "current-password");
    r |= field(b, "new", "password", "新しいパスワード (8 文字以上)",
               "New password (8 characters or more)", "new-password");
    r |= field(b, "new2", "password", "新しいパスワード (確認)", "New password (again)",
               "new-password");
    r |= buf_puts(b, "<p class=\"note\">");
    r |= both(b, "変更後すぐに POP3 と SMTP Auth の両方で新しいパスワードが有効になります。"
              "メールソフトの設定も変更して下さい。", "The new password works for POP3 and SMTP "
              "AUTH at once: change it in your mail program too.");
    r |= buf_puts(b, "</p>\n<button type=\"submit\">");
    r |= both(b, "変更する", "Change");
    r |= buf_puts(b, "</button>\n</form>\n");
    return r ? -1 : 0;
}

int page_member(struct buf *b, const struct member_view *v, const struct msg *m)
{
    int r = 0;
    if (head(b, "ご利用状況", "Your mailbox") < 0 || message(b, m) < 0) {
        return -1;
    }
    r |= buf_puts(b, "<table>\n");
    r |= usage_rows(b, v);
    r |= buf_puts(b, "</table>\n");
    if (!v->usage_known) {
        r |= buf_puts(b, "<p class=\"note\">");
        r |= both(b, "まだメールを受信していません。", "No mail has been received yet.");
        r |= buf_puts(b, "</p>\n");
    }
    r |= settings(b, v);
    r |= password_form(b, v->csrf);
    r |= buf_puts(b, "<form class=\"inline\" method=\"post\" action=\"/logout\">\n");
    r |= csrf_field(b, v->csrf);
    r |= buf_puts(b, "<button type=\"submit\">");
    r |= both(b, "ログアウト", "Log out");
    r |= buf_puts(b, "</button>\n</form>\n");
    return r ? -1 : tail(b);
}

int page_message(struct buf *b, const char *ja, const char *en, const struct msg *m)
{
    if (head(b, ja, en) < 0 || message(b, m) < 0
        || buf_puts(b, "<p><a href=\"/\">") < 0 || both(b, "会員専用ページへ", "To the member page") < 0
        || buf_puts(b, "</a></p>\n") < 0) {
        return -1;
    }
    return tail(b);
}

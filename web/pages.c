/* pages.c: the member page's HTML (pages.h); wording from the provider's manual */
#include "pages.h"
#include "pages_impl.h"

#include "plan.h"
#include "str.h"
#include "webparse.h"

#include "cdb/sheet.h"

#include <string.h>

const char PAGES_CSS[] =
    "body{font-family:\"IPAPGothic\",\"IPAGothic\",\"Noto Sans CJK JP\",sans-serif;"
    "margin:0;background:#f4f6f8;color:#222}\n"
    "header{background:#1f4e79;color:#fff;padding:.8em 1.5em}\n"
    "header h1{margin:0;font-size:1.4em}\n"
    "header nav{margin-top:.3em}header nav a{color:#fff;margin-right:1.2em}header .en{color:#cde}\n"
    "dt{font-weight:bold;margin-top:1.4em}dd{margin:.4em 0 0 1em}\n"
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
    "form.inline{display:inline}\n"
    "h3{font-size:1em;margin:1.2em 0 .2em}select{font-size:1em;padding:.3em}\n"
    "pre{background:#f6f6f6;border:1px solid #ccd;padding:.8em;white-space:pre-wrap}\n";

int esc(struct buf *b, const char *s)
{
    return web_escape(b, s, strlen(s));
}

/* A plan by the manual's name ("ベーシックプラン" with "Basic plan" beside it); an operator's
   own plan by its id. */
int plan_label(struct buf *b, const char *id)
{
    const char *ja = plan_name_ja(id), *en = plan_name_en(id);
    if (!ja || !en) {
        return esc(b, id);
    }
    return buf_printf(b, "<span lang=\"ja\">%s</span><span class=\"en\" lang=\"en\">%s</span>",
                      ja, en);
}

/* "日本語 <span class=en>English</span>" */
int both(struct buf *b, const char *ja, const char *en)
{
    return buf_printf(b, "<span lang=\"ja\">%s</span><span class=\"en\" lang=\"en\">%s</span>",
                      ja, en);
}

int head(struct buf *b, const char *ja, const char *en)
{
    if (buf_printf(b, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>%s / %s</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n"
                   "</head>\n<body>\n<header><h1>", ja, en) < 0
        || both(b, "会員専用ページ", "Member page") < 0
        || buf_puts(b, "</h1>\n<nav><a id=\"nav-top\" href=\"/\">") < 0
        || both(b, "トップ", "Top") < 0
        || buf_puts(b, "</a><a id=\"nav-faq\" href=\"/faq\">") < 0
        || both(b, "FAQ (よくあるご質問)", "FAQ") < 0
        || buf_puts(b, "</a></nav></header>\n<main>\n<h2>") < 0 || both(b, ja, en) < 0) {
        return -1;
    }
    return buf_puts(b, "</h2>\n");
}

int tail(struct buf *b)
{
    return buf_puts(b, "</main>\n</body>\n</html>\n");
}

int message(struct buf *b, const struct msg *m)
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

int csrf_field(struct buf *b, const char *csrf)
{
    if (buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"") < 0 || esc(b, csrf) < 0) {
        return -1;
    }
    return buf_puts(b, "\">\n");
}

int logout_form(struct buf *b, const char *csrf)
{
    int r = buf_puts(b, "<form class=\"inline\" method=\"post\" action=\"/logout\">\n");
    r |= csrf_field(b, csrf);
    r |= buf_puts(b, "<button type=\"submit\">");
    r |= both(b, "ログアウト", "Log out");
    r |= buf_puts(b, "</button>\n</form>\n");
    return r;
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
int row_text(struct buf *b, const char *ja, const char *en, const char *id,
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
    r |= buf_puts(b, "<tr><th>");
    r |= both(b, "プラン", "Plan");
    r |= buf_puts(b, "</th><td id=\"plan\">");
    r |= plan_label(b, v->plan);
    r |= buf_puts(b, "</td></tr>\n");
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
    r |= logout_form(b, v->csrf);
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

/* ---- the FAQ (よくあるご質問): the manual's answers ---- */

/* <dt id=ID>question</dt><dd>: the answer follows, closed by faq_end */
static int faq_q(struct buf *b, const char *id, const char *ja, const char *en)
{
    if (buf_printf(b, "<dt id=\"%s\">", id) < 0 || both(b, ja, en) < 0) {
        return -1;
    }
    return buf_puts(b, "</dt>\n<dd>");
}

/* one paragraph of an answer */
static int faq_p(struct buf *b, const char *ja, const char *en)
{
    if (buf_puts(b, "<p>") < 0 || both(b, ja, en) < 0) {
        return -1;
    }
    return buf_puts(b, "</p>\n");
}

static int faq_servers(struct buf *b, const struct faq_view *v)
{
    int r = 0;
    r |= faq_q(b, "faq-servers", "メールソフトに設定するサーバ名とポート番号を教えて下さい。",
               "Which servers and ports do I set in my mail program?");
    if (v->member) {
        r |= faq_p(b, "お客様のメールアドレスの設定情報です。", "The settings of your address.");
    } else {
        r |= faq_p(b, "「お客様ドメイン名」は、メールアドレスの @ より後ろの部分です。",
                   "YOUR-DOMAIN is the part of your address after the @.");
    }
    r |= sheet_servers_html(v->servers, b);
    r |= faq_p(b, "パスワードは大文字/小文字を区別します。SMTP Auth には POP3 と同じメールアカウント名と"
               "パスワードを使います。弊社では、POP before SMTP より安全な SMTP Auth の利用を推奨して"
               "おります。", "Passwords are case-sensitive. SMTP AUTH uses the POP3 account name "
               "and password; we recommend it over POP before SMTP.");
    r |= faq_p(b, "一部のプロバイダは、外部 SMTP サーバの利用を許可していないことがあります。この場合、"
               "インターネット接続プロバイダから提供される SMTP サーバをご利用下さい。",
               "Some providers block outside SMTP servers: then use your Internet provider's.");
    return r | buf_puts(b, "</dd>\n");
}

static int faq_ssl(struct buf *b, const struct faq_view *v)
{
    int r = 0;
    r |= faq_q(b, "faq-ssl", "POP over SSL は使えますか?", "Can I use POP over SSL?");
    r |= faq_p(b, "セキュアプランおよびプレミアムプランをご利用のお客様は、POP over SSL (995 番ポート) "
               "もお使い頂けます。受信メールサーバ名は、上の表の「POP over SSL」をご覧下さい。",
               "On the secure and premium plans, POP over SSL (port 995) is included; the server "
               "is in the POP over SSL table above.");
    if (v->pop3s == 1) {
        r |= faq_p(b, "お客様のプランでは POP over SSL をご利用頂けます。",
                   "Your plan includes POP over SSL.");
    } else if (v->pop3s == 0) {
        r |= faq_p(b, "お客様のプランでは POP over SSL はご利用頂けません (110 番ポートをお使い下さい)。",
                   "Your plan does not include POP over SSL: use port 110.");
    }
    return r | buf_puts(b, "</dd>\n");
}

static int faq_size(struct buf *b, const struct faq_view *v)
{
    char q[32];
    int r = 0;
    r |= faq_q(b, "faq-quota", "メールボックスの容量はどれくらいですか?",
               "How much mail can my mailbox hold?");
    r |= faq_p(b, "ベーシックプランでは 20MB 標準となっており、メール容量追加サービスをお申し込み頂く"
               "ことで 50MB までご利用頂けます。セキュアプラン・プレミアムプラン・プロプラン・専用"
               "サーバプランでは標準 50MB となっております。",
               "Basic plan: 20 MB, or 50 MB with the mail capacity add-on. Secure, premium, pro "
               "and dedicated server plans: 50 MB.");
    if (v->quota) {
        str_size_human(v->quota, q, sizeof q);
        r |= buf_puts(b, "<p>");
        r |= buf_puts(b, "<span lang=\"ja\">お客様のメールアドレスの容量: ");
        r |= esc(b, q);
        r |= buf_puts(b, "</span><span class=\"en\" lang=\"en\">Your quota: ");
        r |= esc(b, q);
        r |= buf_puts(b, "</span></p>\n");
    }
    r |= faq_p(b, "メール容量追加サービスは、ドメインの管理者様が会員専用ページ (ドメイン名でログイン) "
               "からお申し込み頂けます。", "The add-on is applied for by the domain's "
               "administrator on the member page (logged in with the domain name).");
    r |= buf_puts(b, "</dd>\n");
    r |= faq_q(b, "faq-size", "送受信できるメールの大きさに制限はありますか?",
               "How large may a message be?");
    r |= faq_p(b, "1 通のメールにつき、メールのヘッダや本文、添付ファイルを含めて最大 20MB まで送受信頂く"
               "ことが可能です。", "At most 20 MB per message, headers, text and attachments "
               "included, when sending and when receiving.");
    r |= faq_p(b, "添付ファイルは、テキストデータ (文字列) としてエンコードされ、1.2~1.5 倍程度 (平均約 "
               "1.37 倍) にデータ量が増加致します。実際には 13MB~18MB 程度のファイルサイズが上限と"
               "なります。10MB 以上の添付ファイルを送受信することが多々ある場合には、大容量メール送信"
               "サービスや FTP サービスでの代用などをご検討下さい。",
               "Attachments are encoded as text and grow about 1.37x (1.2 to 1.5x), so files of "
               "about 13 MB to 18 MB are the practical limit. For files of 10 MB and more, "
               "consider a large-file sending service or FTP.");
    return r | buf_puts(b, "</dd>\n");
}

static int faq_full(struct buf *b)
{
    int r = 0;
    r |= faq_q(b, "faq-full", "メールボックスがいっぱいになるとどうなりますか?",
               "What happens when my mailbox is full?");
    r |= faq_p(b, "最大利用ディスク容量を超過すると、新しいメールをサーバ側で保存することが出来ず、From "
               "(送信者) にエラーメッセージが返ります。容量の 90% に達すると、お知らせのメールが届き"
               "ます。", "New mail is not stored and an error goes back to the sender (From). "
               "At 90% of the quota you get a notice by mail.");
    r |= faq_p(b, "不要なメールを削除して下さい。メールソフトの設定でサーバ上にメールを保存している場合"
               "は、受信後にサーバから削除する設定に変更して下さい。ベーシックプランでは、ドメインの管理"
               "者様にメール容量追加サービス (50MB) をお申し込み頂くこともできます。",
               "Delete mail you no longer need; if your mail program leaves a copy on the server, "
               "set it to remove messages after downloading them. On the basic plan your domain's "
               "administrator can apply for the 50 MB add-on.");
    return r | buf_puts(b, "</dd>\n");
}

static int faq_apply(struct buf *b)
{
    int r = 0;
    r |= faq_q(b, "faq-apply", "メールアドレスの追加、変更、削除はどうすればよいですか?",
               "How do I add, change or delete an address?");
    r |= faq_p(b, "ドメインの管理者様が、会員専用ページにドメイン名でログインして、申請フォームから申請"
               "して下さい。平日午後 2 時迄のお申し込み分は、当日中にサーバ設定を行わせて頂きます。"
               "午後 2 時以降のお申し込みについては、翌営業日に設定を行います。追加については、利用"
               "開始日の指定は出来ませんので、予めご了承下さい。",
               "The domain's administrator logs in on the member page with the domain name and "
               "applies there. Applications by 2 p.m. on a business day are set up the same day, "
               "later ones on the next business day. No start date can be chosen for an address.");
    r |= faq_p(b, "メールアドレスの追加、パスワードの再発行は、サーバ設定完了後に設定情報をご連絡先へ"
               "メールでお送り致します。プランの変更で POP over SSL (ポート 995) がご利用頂けるように"
               "なる、またはご利用頂けなくなる場合、または割り当てディスク容量が小さくなる場合は、各"
               "メールアドレスの新しい設定情報をお送り致します。なお、削除のご依頼についてはご連絡は"
               "しておりません。",
               "For a new address or a new password the settings are mailed to the domain's "
               "contact once it is done; a change of plan that adds or removes POP over SSL (port "
               "995), or makes mailboxes smaller, sends every address's new settings. Nothing is "
               "sent for a deletion.");
    return r | buf_puts(b, "</dd>\n");
}

static int faq_password(struct buf *b, const struct faq_view *v)
{
    int r = 0;
    r |= faq_q(b, "faq-password", "パスワードを変更したい、または忘れてしまいました。",
               "How do I change my password, or what if I forgot it?");
    r |= faq_p(b, "メールアドレスと現在のパスワードで会員専用ページにログインし、「パスワードの変更」から"
               "変更できます (8 文字以上)。変更後すぐに POP3 と SMTP Auth の両方で新しいパスワードが"
               "有効になりますので、メールソフトの設定も変更して下さい。",
               "Log in on the member page with your address and current password and use "
               "\"Change the password\" (8 characters or more). It works for POP3 and SMTP AUTH at "
               "once: change it in your mail program too.");
    r |= faq_p(b, "パスワードを忘れた場合は、ドメインの管理者様にパスワードの再発行をご依頼下さい。"
               "管理者様が会員専用ページから申請すると、新しいパスワードの設定情報がご連絡先へメールで"
               "届きます。", "If you forgot it, ask your domain's administrator to apply for a new "
               "password on the member page: the settings with the new one are mailed to the "
               "domain's contact.");
    if (v->member) {
        r |= buf_puts(b, "<p><a href=\"/#current\">");
        r |= both(b, "パスワードの変更へ", "To the password change");
        r |= buf_puts(b, "</a></p>\n");
    }
    return r | buf_puts(b, "</dd>\n");
}

static int faq_clients(struct buf *b, const struct faq_view *v)
{
    int r = 0;
    r |= faq_q(b, "faq-clients", "メールソフトの設定方法を教えて下さい。",
               "How do I set up my mail program?");
    if (v->member) {
        r |= buf_puts(b, "<ul>\n<li><a id=\"faq-sheet\" href=\"/settings.html\">");
        r |= both(b, "設定情報 (印刷用)", "Settings sheet (printable)");
        r |= buf_puts(b, "</a></li>\n<li><a id=\"faq-profile\" href=\"/profile.mobileconfig\">");
        r |= both(b, "Apple 構成プロファイル (iPhone・iPad・Mac のメール)",
                  "Apple configuration profile (Mail on iPhone, iPad, Mac)");
        r |= buf_puts(b, "</a></li>\n</ul>\n");
    } else {
        r |= faq_p(b, "メールアドレスとパスワードで会員専用ページにログインすると、設定情報 (印刷用) と "
                   "iPhone・iPad・Mac のメール用の Apple 構成プロファイルをダウンロードできます。",
                   "Log in with your address and password to download your printable settings "
                   "sheet and an Apple configuration profile for Mail on iPhone, iPad and Mac.");
    }
    r |= faq_p(b, "Thunderbird と Outlook は、メールアドレスとパスワードを入力すると自動で設定されます。"
               "手動で設定する場合は、上の表の値を入力し、アカウントの種類は POP、認証は「通常の"
               "パスワード」(Outlook では「セキュリティで保護されたパスワード認証 (SPA)」を使わない)、"
               "送信サーバも認証を使う設定にして下さい。暗号化 (SSL/TLS、STARTTLS) は、上の表の"
               "SSL の欄のサーバ名でお使い頂けます (ポート 110 と 587 の STARTTLS はすべてのプラン"
               "で、ポート 995 の POP over SSL はセキュアプランとプレミアムプランで)。",
               "Thunderbird and Outlook set themselves up from the address and the password. "
               "By hand: the values of the table above, account type POP, \"normal password\" "
               "(in Outlook, SPA off), authentication for the outgoing server too. Encryption "
               "(SSL/TLS, STARTTLS) works with the server name of the SSL tables: STARTTLS on "
               "ports 110 and 587 on every plan, POP over SSL on port 995 on the secure and "
               "premium plans.");
    r |= faq_p(b, "1 つのアカウントに対して、メールの受信作業は重複して行うことは出来ません。複数の"
               "メールソフトで受信する場合は、1 つ以外で「サーバにメッセージのコピーを置く」設定に"
               "して下さい。弊社ではメールソフトに関するお問い合わせをサポート対象外とさせて頂いて"
               "おります。",
               "One account can be read by one POP session at a time: with several mail "
               "programs, let all but one leave a copy on the server. We do not support mail "
               "programs themselves.");
    return r | buf_puts(b, "</dd>\n");
}

int page_faq(struct buf *b, const struct faq_view *v)
{
    int r = 0;
    if (head(b, "FAQ (よくあるご質問)", "Frequently asked questions") < 0) {
        return -1;
    }
    r |= buf_puts(b, "<dl id=\"faq\">\n");
    r |= faq_servers(b, v);
    r |= faq_ssl(b, v);
    r |= faq_clients(b, v);
    r |= faq_size(b, v);
    r |= faq_full(b);
    r |= faq_apply(b);
    r |= faq_password(b, v);
    r |= buf_puts(b, "</dl>\n<p><a href=\"/\">");
    r |= both(b, "会員専用ページへ", "To the member page");
    r |= buf_puts(b, "</a></p>\n");
    return r ? -1 : tail(b);
}

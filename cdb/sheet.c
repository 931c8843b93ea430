/* sheet.c: the settings sheet of one account (text and HTML), wording from the manual */
#include "sheet.h"

#include "acct.h"
#include "limits.h"
#include "plan.h"
#include "str.h"

#include <stdio.h>
#include <string.h>

#define SHEET_ROWS_MAX 32
#define VALUE_MAX      (SMTP_DOMAIN_MAX + 16)

enum lang { JA, EN };

struct row {
    const char *label[2];
    char value[2][VALUE_MAX + 256];   /* values include a password (<= AUTH_FIELD_MAX) */
};

struct section {
    const char *title[2];
    size_t first, count;
};

struct layout {
    struct row row[SHEET_ROWS_MAX];
    size_t nrows;
    struct section sec[8];
    size_t nsec;
};

static struct row *add_row(struct layout *l, const char *ja, const char *en, const char *vja,
                           const char *ven)
{
    struct row *r = &l->row[l->nrows++];
    r->label[JA] = ja;
    r->label[EN] = en;
    snprintf(r->value[JA], sizeof r->value[JA], "%s", vja);
    snprintf(r->value[EN], sizeof r->value[EN], "%s", ven ? ven : vja);
    l->sec[l->nsec - 1].count++;
    return r;
}

static void add_section(struct layout *l, const char *ja, const char *en)
{
    struct section *s = &l->sec[l->nsec++];
    s->title[JA] = ja;
    s->title[EN] = en;
    s->first = l->nrows;
    s->count = 0;
}

/* The row of a server named HOST.DOMAIN: the account's domain, or "your domain" (the FAQ's
   table before a login). */
static void host_row(struct layout *l, const struct sheet *s, const char *ja, const char *en,
                     const char *host)
{
    struct row *r = add_row(l, ja, en, "", NULL);
    if (s->domain) {
        snprintf(r->value[JA], sizeof r->value[JA], "%s.%s", host, s->domain);
        snprintf(r->value[EN], sizeof r->value[EN], "%s.%s", host, s->domain);
    } else {
        snprintf(r->value[JA], sizeof r->value[JA], "%s.お客様ドメイン名", host);
        snprintf(r->value[EN], sizeof r->value[EN], "%s.YOUR-DOMAIN", host);
    }
}

static void build(const struct sheet *s, struct layout *l)
{
    char q[32];
    memset(l, 0, sizeof *l);
    add_section(l, "受信メールサーバ (POP3)", "Incoming mail server (POP3)");
    host_row(l, s, "受信メールサーバ名", "Incoming mail server", "pop3");
    add_row(l, "メールサーバの種類", "Server type", "POP3", NULL);
    add_row(l, "使用ポート", "Port", "110", NULL);
    add_row(l, "認証方法", "Authentication", "平文パスワード", "Plain text password");
    if (s->addr) {
        add_row(l, "メールアカウント名", "Account name", s->addr, NULL);
    } else {
        add_row(l, "メールアカウント名", "Account name", "メールアドレス (@ 以降も含めて全体)",
                "the whole e-mail address");
    }
    if (s->password) {
        add_row(l, "パスワード", "Password", s->password, NULL);
    } else {
        add_row(l, "パスワード", "Password", "(別途お知らせしたパスワード)",
                "(the password sent to you separately)");
    }
    add_row(l, "受信可能な最大メールサイズ/1通", "Largest message received", "20MB", "20 MB");
    if (s->pop3s) {
        if (s->domain) {
            add_section(l, "POP over SSL", "POP over SSL");
        } else {
            add_section(l, "POP over SSL (セキュアプランおよびプレミアムプラン)",
                        "POP over SSL (secure and premium plans)");
        }
        add_row(l, "受信メールサーバ名", "Incoming mail server", s->me, NULL);
        add_row(l, "使用ポート", "Port", "995", NULL);
        add_row(l, "セキュア対応", "Secure connection (SSL/TLS)", "有効", "on");
    }
    add_section(l, "送信メールサーバ (SMTP)", "Outgoing mail server (SMTP)");
    host_row(l, s, "送信メールサーバ名", "Outgoing mail server", "smtp");
    add_row(l, "使用ポート", "Port", "25 または 587", "25 or 587 (submission)");
    add_row(l, "SMTP 認証方法", "SMTP authentication", "SMTP Auth または POP before SMTP",
            "SMTP AUTH or POP before SMTP");
    add_row(l, "SMTP Auth 認証方法", "SMTP AUTH login", "POP3 サーバログイン情報と同じ",
            "the same account name and password as POP3");
    add_row(l, "SMTP Auth パスワード認証方法", "SMTP AUTH password method", "Plain", "PLAIN");
    add_row(l, "送信可能な最大メールサイズ/1通", "Largest message sent", "20MB", "20 MB");
    add_section(l, "SMTP over SSL", "SMTP over SSL");
    add_row(l, "送信メールサーバ名", "Outgoing mail server", s->me, NULL);
    add_row(l, "使用ポート", "Port", "465", NULL);
    add_row(l, "セキュア対応", "Secure connection", "SSL/TLS", NULL);
    add_section(l, "利用可能なディスク容量", "Mailbox size (quota)");
    if (s->quota == 0) {
        add_row(l, "割り当てディスク容量", "Quota", "無制限", "unlimited");
    } else {
        str_size_human(s->quota, q, sizeof q);
        add_row(l, "割り当てディスク容量", "Quota", q, NULL);
    }
}

static const char *const notes[2][4] = {
    { "パスワードは大文字/小文字を区別します。",
      "1 通のメールにつき、メールのヘッダや本文、添付ファイルを含めて最大 20MB まで送受信頂けます。",
      "添付ファイルはエンコードによって 1.2~1.5 倍程度 (平均約 1.37 倍) にデータ量が増加するため、"
      "実際には 13MB~18MB 程度のファイルサイズが上限となります。",
      "割り当てディスク容量を超過すると新しいメールは保存されず、From (送信者) にエラーメッセージが返ります。" },
    { "Passwords are case-sensitive.",
      "A message may be at most 20 MB, headers, text and attachments included, "
      "when sending and when receiving.",
      "Attachments grow about 1.37x (1.2 to 1.5x) when encoded, so files of about 13 MB to "
      "18 MB are the practical limit.",
      "When the mailbox is full, new mail is not stored and an error goes back to the sender "
      "(From)." },
};

static const char *const heading[2] = { "メールアカウント設定情報", "Mail account settings" };
static const char *const notes_title[2] = { "ご注意", "Notes" };

static int text_body(const struct layout *lp, const struct sheet *s, struct buf *out)
{
    const struct layout *l = lp;
    size_t i, k;
    int lang;
    for (lang = JA; lang <= EN; lang++) {
        if (buf_printf(out, "%s==== %s: %s ====\n", lang == EN ? "\n" : "", heading[lang],
                       s->addr) < 0) {
            return -1;
        }
        for (i = 0; i < l->nsec; i++) {
            if (buf_printf(out, "\n[%s]\n", l->sec[i].title[lang]) < 0) {
                return -1;
            }
            for (k = l->sec[i].first; k < l->sec[i].first + l->sec[i].count; k++) {
                if (buf_printf(out, "  %s: %s\n", l->row[k].label[lang],
                               l->row[k].value[lang]) < 0) {
                    return -1;
                }
            }
        }
        if (buf_printf(out, "\n[%s]\n", notes_title[lang]) < 0) {
            return -1;
        }
        for (k = 0; k < 4; k++) {
            if (buf_printf(out, "  * %s\n", notes[lang][k]) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int sheet_text(const struct sheet *s, struct buf *out)
{
    struct layout l;
    int r;
    build(s, &l);
    r = text_body(&l, s, out);
    explicit_bzero(&l, sizeof l);    /* it held the password */
    return r;
}

static int put_escaped(struct buf *out, const char *s)
{
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default: break;
        }
        if (e ? buf_puts(out, e) < 0 : buf_append(out, s, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One A4 page: Japanese on the left, English on the right. */
static const char css[] =
    "@page{size:A4;margin:10mm}"
    "body{font-family:'Hiragino Sans','Noto Sans CJK JP','Yu Gothic',sans-serif;"
    "font-size:8.5pt;color:#000;margin:0 auto;max-width:190mm}"
    ".cols{display:flex;gap:5mm;align-items:flex-start}"
    "section{flex:1 1 0;min-width:0}"
    "h1{font-size:11pt;border-bottom:2px solid #000;margin:0 0 2mm;overflow-wrap:anywhere}"
    "h2{font-size:9pt;margin:3mm 0 1mm}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #666;padding:0.6mm 1.5mm;text-align:left;vertical-align:top}"
    "th{width:45%;background:#eee;font-weight:normal}"
    "td{font-family:monospace,sans-serif;overflow-wrap:anywhere}"
    "ul{margin:1mm 0;padding-left:4mm}"
    ".cols+.cols{break-before:page;margin-top:10mm}"   /* one account per page */
    "@media print{body{max-width:none}.cols+.cols{margin-top:0}}";

static int html_lang(const struct layout *l, const struct sheet *s, int lang, struct buf *out)
{
    size_t i, k;
    if (buf_printf(out, "<section lang=\"%s\">\n<h1>", lang == JA ? "ja" : "en") < 0
        || buf_puts(out, heading[lang]) < 0 || buf_puts(out, ": ") < 0
        || put_escaped(out, s->addr) < 0 || buf_puts(out, "</h1>\n") < 0) {
        return -1;
    }
    for (i = 0; i < l->nsec; i++) {
        if (buf_puts(out, "<h2>") < 0 || put_escaped(out, l->sec[i].title[lang]) < 0
            || buf_puts(out, "</h2>\n<table>\n") < 0) {
            return -1;
        }
        for (k = l->sec[i].first; k < l->sec[i].first + l->sec[i].count; k++) {
            if (buf_puts(out, "<tr><th>") < 0 || put_escaped(out, l->row[k].label[lang]) < 0
                || buf_puts(out, "</th><td>") < 0 || put_escaped(out, l->row[k].value[lang]) < 0
                || buf_puts(out, "</td></tr>\n") < 0) {
                return -1;
            }
        }
        if (buf_puts(out, "</table>\n") < 0) {
            return -1;
        }
    }
    if (buf_printf(out, "<h2>%s</h2>\n<ul>\n", notes_title[lang]) < 0) {
        return -1;
    }
    for (k = 0; k < 4; k++) {
        if (buf_puts(out, "<li>") < 0 || put_escaped(out, notes[lang][k]) < 0
            || buf_puts(out, "</li>\n") < 0) {
            return -1;
        }
    }
    return buf_puts(out, "</ul>\n</section>\n");
}

int sheet_html_list(const struct sheet *s, size_t n, const char *title, struct buf *out)
{
    struct layout l;
    size_t i;
    int r = 0;
    if (buf_puts(out, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                 "<title>") < 0 || buf_puts(out, heading[JA]) < 0 || buf_puts(out, " / ") < 0
        || buf_puts(out, heading[EN]) < 0 || buf_puts(out, ": ") < 0
        || put_escaped(out, title) < 0
        || buf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", css) < 0) {
        return -1;
    }
    for (i = 0; i < n && r == 0; i++) {
        build(&s[i], &l);
        if (buf_puts(out, "<div class=\"cols\">\n") < 0 || html_lang(&l, &s[i], JA, out) < 0
            || html_lang(&l, &s[i], EN, out) < 0 || buf_puts(out, "</div>\n") < 0) {
            r = -1;
        }
        explicit_bzero(&l, sizeof l);    /* it held the password */
    }
    if (r == 0 && buf_puts(out, "</body>\n</html>\n") < 0) {
        r = -1;
    }
    return r;
}

int sheet_html(const struct sheet *s, struct buf *out)
{
    return sheet_html_list(s, 1, s->addr, out);
}

static int fragment_lang(struct buf *out, const char *ja, const char *en)
{
    if (buf_puts(out, "<span lang=\"ja\">") < 0 || put_escaped(out, ja) < 0) {
        return -1;
    }
    if (strcmp(ja, en) != 0 && (buf_puts(out, "</span><span class=\"en\" lang=\"en\">") < 0
                                || put_escaped(out, en) < 0)) {
        return -1;
    }
    return buf_puts(out, "</span>");
}

int sheet_servers_html(const struct sheet *s, struct buf *out)
{
    struct layout l;
    size_t i, k;
    int r = 0;
    build(s, &l);
    for (i = 0; i < l.nsec && r == 0; i++) {
        if (strcmp(l.sec[i].title[EN], "Mailbox size (quota)") == 0) {
            continue;       /* the servers only */
        }
        r |= buf_puts(out, "<h3>");
        r |= fragment_lang(out, l.sec[i].title[JA], l.sec[i].title[EN]);
        r |= buf_puts(out, "</h3>\n<table class=\"servers\">\n");
        for (k = l.sec[i].first; k < l.sec[i].first + l.sec[i].count; k++) {
            r |= buf_puts(out, "<tr><th>");
            r |= fragment_lang(out, l.row[k].label[JA], l.row[k].label[EN]);
            r |= buf_puts(out, "</th><td>");
            r |= fragment_lang(out, l.row[k].value[JA], l.row[k].value[EN]);
            r |= buf_puts(out, "</td></tr>\n");
        }
        r |= buf_puts(out, "</table>\n");
    }
    explicit_bzero(&l, sizeof l);
    return r ? -1 : 0;
}

/* ---- a change of plan that turns POP over SSL on or off ---- */

/* A plan by the manual's name ("ベーシックプラン", "the Basic plan"; "The" to start a sentence),
   an operator's own by its id (as pop3d's refusal names it). */
static void plan_label(const char *id, int lang, int start, char *out, size_t cap)
{
    const char *name = lang == JA ? plan_name_ja(id) : plan_name_en(id);
    const char *the = lang == JA ? "" : start ? "The " : "the ";
    if (name) {
        snprintf(out, cap, "%s%s", the, name);
    } else {
        snprintf(out, cap, lang == JA ? "%s%sプラン" : "%s%s plan", the, id);
    }
}

static const char *const plan_heading[2] = {
    "メールアカウント設定情報変更のお知らせ", "Changes to the settings of your mail accounts" };

/* The notice's rows: the server a mail program receives from now, as the sheet's labels. */
static int plan_rows(const struct sheet_plan *p, int lang, struct buf *out)
{
    if (p->pop3s) {
        return buf_printf(out, "\n[POP over SSL]\n  %s: %s\n  %s: 995\n  %s: %s\n",
                          lang == JA ? "受信メールサーバ名" : "Incoming mail server", p->me,
                          lang == JA ? "使用ポート" : "Port",
                          lang == JA ? "セキュア対応" : "Secure connection (SSL/TLS)",
                          lang == JA ? "有効" : "on");
    }
    return buf_printf(out, "\n[%s]\n  %s: pop3.%s\n  %s: POP3\n  %s: 110\n  %s: %s\n",
                      lang == JA ? "受信メールサーバ (POP3)" : "Incoming mail server (POP3)",
                      lang == JA ? "受信メールサーバ名" : "Incoming mail server", p->domain,
                      lang == JA ? "メールサーバの種類" : "Server type",
                      lang == JA ? "使用ポート" : "Port",
                      lang == JA ? "セキュア対応" : "Secure connection (SSL/TLS)",
                      lang == JA ? "無効" : "off");
}

/* The notice's part on POP over SSL turned on or off: what the plan offers now, the server a
   mail program receives from, and what to do. */
static int plan_pop3s(const struct sheet_plan *p, int lang, const char *now, const char *start,
                      struct buf *out)
{
    int r = 0;
    if (lang == JA) {
        r |= p->pop3s ? buf_printf(out, "%sでは、POP3 に加えて POP over SSL もお使い頂けます。\n",
                                   now)
                      : buf_printf(out, "%sでは、POP over SSL (%s、ポート 995) はご利用頂けません。"
                                   "\n", now, p->me);
    } else {
        r |= p->pop3s ? buf_printf(out, "With %s, POP over SSL can be used as well as POP3.\n",
                                   now)
                      : buf_printf(out, "%s does not include POP over SSL (%s, port 995).\n",
                                   start, p->me);
    }
    r |= plan_rows(p, lang, out);
    if (lang == JA) {
        r |= p->pop3s
             ? buf_printf(out, "\nPOP over SSL をお使い頂く場合は、メールソフトの受信メールサーバの設定を"
                          "上記のとおり変更して下さい。Microsoft Outlook や Windows メールなど、"
                          "POP over SSL に対応したメールソフトをご利用頂く必要があります。これまでの"
                          "設定 (pop3.%s、ポート 110) のままでも、引き続きメールを受信頂けます。\n",
                          p->domain)
             : buf_printf(out, "\nメールソフトで POP over SSL をお使いの場合は、このままではメールを"
                          "受信できなくなりますので、受信メールサーバの設定を上記のとおり変更して"
                          "下さい。\n");
    } else {
        r |= p->pop3s
             ? buf_printf(out, "\nTo use POP over SSL, change the incoming mail server of your "
                          "mail program as above; the program must support POP over SSL "
                          "(Microsoft Outlook, Windows Mail, ...). The settings you have "
                          "(pop3.%s, port 110) go on working.\n", p->domain)
             : buf_printf(out, "\nA mail program set up for POP over SSL can no longer receive "
                          "mail: change its incoming mail server as above.\n");
    }
    return r ? -1 : 0;
}

static void size_label(uint64_t bytes, int lang, char *out, size_t cap)
{
    if (bytes == 0) {
        snprintf(out, cap, "%s", lang == JA ? "無制限" : "unlimited");
    } else {
        str_size_human(bytes, out, cap);
    }
}

/* The notice's part on a smaller mailbox (the manual's "利用可能なディスク容量"): the new size,
   what happens over it, the addresses whose mail reaches it already, and the add-on. */
static int plan_quota(const struct sheet_plan *p, int lang, const char *now, struct buf *out)
{
    char q[32], was[32], used[32], addon[32];
    size_t i;
    int r = 0;
    size_label(p->quota, lang, q, sizeof q);
    size_label(p->was_quota, lang, was, sizeof was);
    size_label(PLAN_ADDON_QUOTA, lang, addon, sizeof addon);
    if (lang == JA) {
        r |= buf_printf(out, "\n[利用可能なディスク容量]\n  割り当てディスク容量: %s (これまで %s)\n"
                        "\n%sでは、1 つのメールアドレスの割り当てディスク容量は %s 標準となります。"
                        "%zu 件のメールアドレスの割り当てディスク容量が %s から %s になりました。"
                        "割り当てディスク容量を超過すると、新しいメールをサーバ側で保存することが"
                        "出来ず、From (送信者) にエラーメッセージが返ります。メールソフトの設定で"
                        "サーバ上にメールを保存している場合や、添付ファイルを多く受け取られる場合"
                        "には、利用可能なディスク容量にご注意下さい。\n", q, was, now, q,
                        p->lowered, was, q);
    } else {
        r |= buf_printf(out, "\n[Mailbox size (quota)]\n  Quota: %s (was %s)\n"
                        "\nWith %s, a mailbox holds %s as standard: the mailbox of %zu "
                        "address%s is now %s (it was %s). Once a mailbox is full, new mail is not "
                        "stored and the sender (From) gets an error message. Mind the space if "
                        "your mail program keeps mail on the server or you receive many "
                        "attachments.\n", q, was, now, q, p->lowered,
                        p->lowered == 1 ? "" : "es", q, was);
    }
    if (p->full_total > 0) {
        r |= buf_puts(out, lang == JA
                      ? "\n以下のメールアドレスは、現在のご利用量がすでに新しい割り当てディスク容量に"
                        "達しているため、不要なメールを削除して頂くまで、新しいメールを保存すること"
                        "が出来ません (送信者にエラーメッセージが返ります)。\n"
                      : "\nThese addresses hold as much mail as the new size already: they "
                        "cannot store new mail (the senders get an error message) until mail is "
                        "deleted.\n");
        for (i = 0; i < p->nfull; i++) {
            str_size_human(p->full[i].used, used, sizeof used);
            r |= buf_printf(out, lang == JA ? "  %s (ご利用量 %s)\n" : "  %s (%s in use)\n",
                            p->full[i].addr, used);
        }
        if (p->full_total > p->nfull) {
            r |= buf_printf(out, lang == JA ? "  ほか %zu 件\n" : "  and %zu more\n",
                            p->full_total - p->nfull);
        }
    }
    if (p->addon) {
        r |= lang == JA
             ? buf_printf(out, "\n%sでは、メール容量追加サービスをお申し込み頂くことで %s まで"
                          "ご利用頂けます (会員専用ページから申請頂けます)。\n", now, addon)
             : buf_printf(out, "\nWith %s, the mail capacity add-on raises a mailbox to %s "
                          "(apply on the member page).\n", now, addon);
    }
    return r ? -1 : 0;
}

static int plan_lang(const struct sheet_plan *p, int lang, struct buf *out)
{
    char was[PLAN_NAME_MAX + 32], now[PLAN_NAME_MAX + 32], start[PLAN_NAME_MAX + 32];
    int r = 0;
    plan_label(p->was, lang, 0, was, sizeof was);
    plan_label(p->plan, lang, 0, now, sizeof now);
    plan_label(p->plan, lang, 1, start, sizeof start);
    r |= buf_printf(out, "%s==== %s: %s ====\n", lang == EN ? "\n" : "", plan_heading[lang],
                    p->domain);
    if (p->parts > 1) {
        r |= lang == JA ? buf_printf(out, "(%zu 通のうち %zu 通目)\n", p->parts, p->part)
                        : buf_printf(out, "(mail %zu of %zu)\n", p->part, p->parts);
    }
    r |= lang == JA ? buf_printf(out, "ドメイン %s のプランを、%sから%sへ変更致しました。\n",
                                 p->domain, was, now)
                    : buf_printf(out, "The plan of %s has been changed from %s to %s.\n",
                                 p->domain, was, now);
    if (p->pop3s_changed) {
        r |= plan_pop3s(p, lang, now, start, out);
    }
    if (p->lowered > 0) {
        r |= plan_quota(p, lang, now, out);
    }
    if (lang == JA) {
        r |= buf_printf(out, "\n各メールアドレス (%zu 件) の新しい設定情報を以下にお送り致します "
                        "(印刷用のページを settings.html として添付しております)。設定情報をご参照"
                        "の上、メールソフトへの設定を行って下さい。パスワードは変更しておりません。"
                        "お手元のパスワードをそのままお使い下さい (設定情報には記載しておりません)。"
                        "\n", p->addrs);
    } else {
        r |= buf_printf(out, "\nThe new settings of each address (%zu) follow, and are attached "
                        "as a page to print (settings.html). The passwords have not changed: "
                        "keep using yours (they are not in the settings).\n", p->addrs);
    }
    return r ? -1 : 0;
}

int sheet_plan_text(const struct sheet_plan *p, struct buf *out)
{
    return plan_lang(p, JA, out) < 0 || plan_lang(p, EN, out) < 0 ? -1 : 0;
}

/* ---- the domain's DNS records (sender authentication: DKIM, SPF, DMARC) ---- */

static const char *const dns_text[2][6] = {
    { "DNS 設定情報 (送信ドメイン認証)",
      "お客様のドメインの DNS に、以下の TXT レコードを登録してください。",
      "DKIM 公開鍵 (署名に使用中のセレクタ: ",
      "DKIM 公開鍵 (未作成: 送信メールには署名されません)",
      "SPF (送信メールサーバ)",
      "DMARC (まずは p=none で運用し、レポートを確認してから強化してください)" },
    { "DNS records (sender authentication)",
      "Publish these TXT records in your domain's DNS.",
      "DKIM public key (selector signing now: ",
      "DKIM public key (none yet: outgoing mail is not signed)",
      "SPF (our sending servers)",
      "DMARC (start with p=none, read the reports, then move on)" },
};

int sheet_dns_text(const struct sheet_dns *d, struct buf *out)
{
    int lang;
    for (lang = JA; lang <= EN; lang++) {
        const char *const *t = dns_text[lang];
        if (buf_printf(out, "%s==== %s: %s ====\n%s\n\n[", lang == EN ? "\n" : "", t[0],
                       d->domain, t[1]) < 0
            || (d->selector ? buf_printf(out, "%s%s)", t[2], d->selector)
                            : buf_puts(out, t[3])) < 0
            || buf_printf(out, "]\n%s\n[%s]\n%s\n[%s]\n%s", d->dkim, t[4], d->spf, t[5],
                          d->dmarc) < 0) {
            return -1;
        }
    }
    return 0;
}

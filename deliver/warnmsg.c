/* warnmsg.c: the 90% quota warning message (Japanese and English) */
#include "warnmsg.h"
#include "acct.h"
#include "b64.h"
#include "str.h"

#include <string.h>

/* ceil(quota * WARN_PERCENT / 100) without overflow */
static uint64_t warn_threshold(uint64_t quota)
{
    return quota / 100 * WARN_PERCENT + ((quota % 100) * WARN_PERCENT + 99) / 100;
}

int warn_above(uint64_t bytes, uint64_t quota)
{
    return quota > 0 && bytes >= warn_threshold(quota);
}

int warn_crossed(uint64_t before, uint64_t after, uint64_t quota)
{
    return !warn_above(before, quota) && warn_above(after, quota);
}

static unsigned percent(uint64_t bytes, uint64_t quota)
{
    uint64_t p = bytes / quota * 100 + bytes % quota * 100 / quota;
    return p > 999 ? 999 : (unsigned)p;
}

static int warn_headers(struct buf *b, const struct warnmsg *w)
{
    static const char subject_ja[] = "メールボックス容量の警告";
    char enc[128];

    if (b64_encode((const unsigned char *)subject_ja, sizeof subject_ja - 1, enc,
                   sizeof enc) < 0) {
        return -1;
    }
    return buf_printf(b,
                      "Return-Path: <>\n"
                      "Delivered-To: %s\n"
                      "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
                      "To: <%s>\n"
                      "Subject: =?UTF-8?B?%s?= / Mailbox almost full\n"
                      "Date: %s\n"
                      "Message-ID: <%s@%s>\n"
                      "Auto-Submitted: auto-generated\n"
                      "MIME-Version: 1.0\n"
                      "Content-Type: text/plain; charset=UTF-8\n"
                      "Content-Transfer-Encoding: base64\n"
                      "\n",
                      w->addr, w->me, w->addr, enc, w->date, w->msgid, w->me);
}

/* The Japanese and English text, UTF-8. */
static int warn_body(struct buf *b, const struct warnmsg *w)
{
    char used[32], quota[32];
    int addon = acct_addon_applies(w->plan, w->quota);
    unsigned pct = percent(w->bytes, w->quota);

    str_size_human(w->bytes, used, sizeof used);
    str_size_human(w->quota, quota, sizeof quota);
    if (warn_headers(b, w) < 0
        || buf_printf(b,
               "%s 様\n\n"
               "メールボックスの使用量が容量の %d%% に達しました。\n\n"
               "  使用量: %s (%u%%)\n"
               "  容量:   %s\n\n"
               "容量を超えると、新しいメールはサーバーに保存されず、送信者 (From) に\n"
               "エラーメールが返ります。次のいずれかをお願いいたします。\n\n"
               "  - 不要なメールを削除してください。メールソフトで「サーバーにメッセージの\n"
               "    コピーを置く」設定をお使いの場合は、受信後にサーバーから削除する\n"
               "    設定に変更してください。\n",
               w->addr, WARN_PERCENT, used, pct, quota) < 0
        || (addon && buf_puts(b,
               "  - ベーシックプランでは 20MB 標準となっており、メール容量追加サービスを\n"
               "    お申し込み頂くことで 50MB までご利用頂けます。お申し込みは、ドメインの\n"
               "    管理者様が会員専用ページから行います。ドメインの管理者様にご依頼ください。\n")
           < 0)
        || buf_printf(b,
               "\nこのメールは自動送信されています。返信はできません。\n\n"
               "----------------------------------------------------------------------\n\n"
               "Your mailbox %s has reached %d%% of its quota.\n\n"
               "  Usage: %s (%u%%)\n"
               "  Quota: %s\n\n"
               "When the mailbox is full, new messages are not stored and their senders\n"
               "get an error message back. Please do one of the following:\n\n"
               "  - Delete messages you no longer need. If your mail program leaves a copy\n"
               "    of each message on the server, set it to remove messages from the\n"
               "    server after downloading them.\n",
               w->addr, WARN_PERCENT, used, pct, quota) < 0
        || (addon && buf_puts(b,
               "  - On the basic plan the quota is 20 MB; with the mail capacity add-on\n"
               "    (メール容量追加サービス) it is 50 MB. Your domain's administrator applies\n"
               "    for it on the member page: please ask your domain's administrator.\n") < 0)
        || buf_puts(b, "\nThis message was sent automatically; replies are not read.\n") < 0) {
        return -1;
    }
    return 0;
}

/* The body goes in base64: the warning is 7-bit, whatever later carries it (a forward, a
   server without 8BITMIME, RFC 6152). */
int warnmsg_build(struct buf *b, const struct warnmsg *w)
{
    struct buf text;
    int rc;

    buf_init(&text, WARN_MSG_MAX);
    rc = warn_headers(b, w) < 0 || warn_body(&text, w) < 0
                 || b64_append_lines(b, text.s, text.len) < 0 ? -1 : 0;
    buf_free(&text);
    return rc;
}

/* bounce.c: delivery status notifications (RFC 3464 in RFC 6522 multipart/report) */
#include "bounce.h"
#include "b64.h"
#include "date.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Accumulates output; the first failure sticks, so each part is checked once at the end. */
struct out {
    struct buf *b;
    int fail;
    int err;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (!o->fail && buf_append(o->b, s, n) < 0) {
        o->fail = 1;
        o->err = errno;
    }
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(struct out *o, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= sizeof line) {
        o->fail = 1;
        o->err = E2BIG;
        return;
    }
    put(o, line, (size_t)r);
}

/* Copy s[0..n) with control bytes (CR, LF, NUL, ...) replaced by '?', at most max octets;
   with ascii = 1 also every octet above 0x7f (a US-ASCII field, RFC 3464 §2.1). */
static void put_text(struct out *o, const char *s, size_t n, size_t max, int ascii)
{
    char tmp[1024];
    size_t i, k = 0;
    if (n > max) {
        n = max;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        tmp[k++] = (c < 0x20 || c == 0x7f || (ascii && c > 0x7f)) ? '?' : (char)c;
        if (k == sizeof tmp) {
            put(o, tmp, k);
            k = 0;
        }
    }
    put(o, tmp, k);
}

static void put_clean(struct out *o, const char *s, size_t n, size_t max)
{
    put_text(o, s, n, max, 0);
}

/* s[0..n) in base64 lines of 76 characters (RFC 2045 §6.8). */
static void put_base64(struct out *o, const char *s, size_t n)
{
    if (!o->fail && b64_append_lines(o->b, s, n) < 0) {
        o->fail = 1;
        o->err = errno;
    }
}

static int has_8bit(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s > 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* An address as RFC 6533 §3 utf-8-addr-unitext: UTF-8 kept, SP, '\\', '+', '=' and DEL as
   \x{HH}. Other control bytes (the queue refuses them) become '?'. */
static void put_unitext(struct out *o, const char *addr)
{
    size_t i, n = strlen(addr) > ADDR_MAX ? ADDR_MAX : strlen(addr);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c == ' ' || c == '\\' || c == '+' || c == '=' || c == 0x7f) {
            putf(o, "\\x{%02X}", c);
        } else {
            put(o, c < 0x20 ? "?" : &addr[i], 1);
        }
    }
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "X.Y.Z" at s[0..n) with X in 2,4,5 and Y, Z of 1-3 digits; returns its length or 0. */
static size_t status_len(const char *s, size_t n)
{
    size_t i = 0, part, digits;
    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') {
        return 0;
    }
    i = 2;
    for (part = 0; part < 2; part++) {
        digits = 0;
        while (i < n && is_digit(s[i]) && digits < 3) {
            i++;
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
        if (part == 0) {
            if (i >= n || s[i] != '.') {
                return 0;
            }
            i++;
        }
    }
    return i;
}

int bounce_status(const char *text, size_t n, int temporary, char *out, size_t cap)
{
    size_t i = n;
    while (i >= 2) {
        i--;
        if (text[i - 1] == '(' && text[i] == '#') {
            size_t len = status_len(text + i + 1, n - i - 1);
            if (len > 0 && i + 1 + len < n && text[i + 1 + len] == ')' && len < cap) {
                memcpy(out, text + i + 1, len);
                out[len] = '\0';
                return 1;
            }
        }
    }
    snprintf(out, cap, "%s", temporary ? "4.0.0" : "5.0.0");
    return 0;
}

/* remote's text (docs/internals.md "remote"; queue/remote_job.c job_describe) is
   "HOST [IP] said: REPLY (#X.Y.Z)", a server's SMTP reply, or "HOST [IP]: WHAT (#X.Y.Z)", our
   own finding while at HOST (cannot connect, no SMTPUTF8, over its announced SIZE). Returns the
   host's length (0 if the text has neither shape: no server was involved) and sets *rest,
   *restlen to what follows and *said to 1 for a reply that starts with its 3-digit code. */
static size_t remote_host(const struct bounce_rcpt *r, const char **rest_, size_t *restlen,
                          int *said)
{
    const char *s = r->reason, *sp, *close_, *rest;
    size_t n = r->reason_len, host, left;

    *rest_ = s;
    *restlen = n;
    *said = 0;
    if (!r->remote || !(sp = memchr(s, ' ', n)) || (size_t)(sp - s) > SMTP_DOMAIN_MAX) {
        return 0;
    }
    host = (size_t)(sp - s);
    if (host == 0 || sp + 1 >= s + n || sp[1] != '['
        || !(close_ = memchr(sp, ']', n - host))) {
        return 0;
    }
    rest = close_ + 1;
    left = (size_t)(s + n - rest);
    if (left >= 7 && memcmp(rest, " said: ", 7) == 0) {
        rest += 7;
        left -= 7;
        *said = left >= 4 && is_digit(rest[0]) && is_digit(rest[1]) && is_digit(rest[2])
                && (rest[3] == ' ' || rest[3] == '-');
    } else if (left >= 2 && memcmp(rest, ": ", 2) == 0) {
        rest += 2;
        left -= 2;
    } else {
        return 0;
    }
    *rest_ = rest;
    *restlen = left;
    return host;
}

int bounce_is_reply(const struct bounce_rcpt *r)
{
    const char *rest;
    size_t restlen;
    int said;
    remote_host(r, &rest, &restlen, &said);
    return said;
}

enum bounce_reason bounce_classify(const struct bounce_rcpt *r, const char *status)
{
    const char *sub = status + 1;   /* ".Y.Z" */
    if (strcmp(sub, ".2.2") == 0) {
        return r->remote && !r->ours ? BR_REMOTE_FULL : BR_MAILBOX_FULL;
    }
    if (strcmp(sub, ".1.1") == 0) {
        return BR_UNKNOWN_USER;
    }
    if (strcmp(sub, ".3.4") == 0 || strcmp(sub, ".2.3") == 0) {
        /* our 20 MB only for our own refusal; another server has its own limit */
        return r->remote && !r->ours ? BR_REMOTE_TOO_BIG : BR_TOO_BIG;
    }
    if (strcmp(sub, ".4.7") == 0) {
        return BR_EXPIRED;
    }
    if (strcmp(sub, ".4.6") == 0) {
        return BR_LOOP;
    }
    if (strcmp(sub, ".1.2") == 0 || strcmp(sub, ".1.10") == 0) {
        return BR_NO_DOMAIN;
    }
    /* "the server refused" only when one replied: our own findings are not its refusal */
    return bounce_is_reply(r) ? BR_REMOTE : BR_OTHER;
}

struct explain {
    const char *ja_what, *ja_todo, *en_what, *en_todo;
};

static const struct explain explains[] = {
    [BR_OTHER] = {
        "配送中にエラーが発生しました。",
        "お手数ですが、この通知を添えて弊社までお問い合わせ下さい。",
        "The message could not be delivered.",
        "Please contact us and include this notice."},
    [BR_MAILBOX_FULL] = {
        "受信者のメールボックスが割り当てディスク容量の上限に達しているため、メールを保存できませんでした。",
        "受信者の方に、サーバ上の不要なメールを削除して頂くようお伝えの上、改めて送信して下さい。",
        "The recipient's mailbox is full (its disk quota is used up), so the message could not be stored.",
        "Ask the recipient to delete mail kept on the server, then send your message again."},
    [BR_UNKNOWN_USER] = {
        "宛先のメールアドレスは存在しません。",
        "メールアドレスに誤りがないかご確認下さい。",
        "The recipient's address does not exist.",
        "Check the address for typing mistakes, or ask the recipient for the correct address."},
    [BR_TOO_BIG] = {
        "メールのサイズが上限を超えています。1 通のメールは、ヘッダや本文、添付ファイルを含めて"
        "最大 20MB までです。添付ファイルはエンコードにより約 1.37 倍に増加します。",
        "添付ファイルを小さくするか分割して送信して下さい。大きなファイルには大容量メール送信"
        "サービスや FTP サービスのご利用をご検討下さい。",
        "The message is larger than the limit of 20 MB per message, headers and attachments "
        "included; attachments grow about 1.37 times when they are encoded.",
        "Make the attachments smaller or send them in several messages; for large files "
        "consider a large-file transfer service or FTP."},
    [BR_EXPIRED] = {
        "一定期間配送を試みましたが、相手先のサーバに届けることができませんでした。",
        "宛先のメールアドレスに誤りがないかご確認の上、時間をおいて改めて送信して下さい。",
        "Delivery was retried for the whole queue lifetime without success.",
        "Check the address, then send your message again later."},
    [BR_LOOP] = {
        "メールが転送を繰り返している(ループしている)ため、配送を中止しました。",
        "受信者の方に転送設定をご確認頂くようお伝え下さい。",
        "The message was looping between forwarding addresses, so delivery was stopped.",
        "Ask the recipient to check their forwarding settings."},
    [BR_NO_DOMAIN] = {
        "宛先のドメイン (メールアドレスの @ より後ろの部分) が存在しないか、メールを受け付けていません。",
        "メールアドレスの @ より後ろに誤りがないかご確認下さい。",
        "The recipient's domain (the part of the address after the @) does not exist or accepts "
        "no mail.",
        "Check the part of the address after the @ for typing mistakes."},
    [BR_REMOTE] = {
        "相手先のメールサーバが受信を拒否しました。サーバからの応答は下記のとおりです。",
        "応答の内容をご確認下さい。ご不明な点は、この通知を添えて弊社までお問い合わせ下さい。",
        "The recipient's mail server refused the message; its reply is quoted below.",
        "Read the reply below; if it is unclear, contact us and include this notice."},
    [BR_REMOTE_FULL] = {
        "受信者のメールボックス (相手先のメールサーバ上) が満杯のため、メールを保存できませんでした。",
        "時間をおいて改めて送信するか、別の方法で受信者の方にご連絡下さい。",
        "The recipient's mailbox on their mail server is full, so the message could not be "
        "stored.",
        "Send your message again later, or reach the recipient another way."},
    [BR_REMOTE_TOO_BIG] = {
        "メールのサイズが、相手先のメールサーバが受け付ける上限を超えています (上限はサーバごとに"
        "異なります)。",
        "添付ファイルを小さくするか分割して送信して下さい。添付ファイルはエンコードにより約 "
        "1.37 倍に増加します。大きなファイルには大容量メール送信サービスや FTP サービスの"
        "ご利用をご検討下さい。",
        "The message is larger than the recipient's mail server accepts (each server sets its "
        "own limit).",
        "Make the attachments smaller or send them in several messages (attachments grow about "
        "1.37 times when they are encoded); for large files consider a large-file transfer "
        "service or FTP."},
};

/* Said of a full mailbox of ours that the capacity add-on can enlarge (bounce_rcpt.addon). */
static const char addon_ja[] = "受信者の方は、容量増設オプション(50MB)のお申し込みで容量を増やすこともできます。";
static const char addon_en[] = "The recipient can also order the capacity add-on (50 MB) for more "
                               "space.";

/* "=?UTF-8?B?...?=" of a short UTF-8 string (RFC 2047 §4.1). */
static void put_encoded_word(struct out *o, const char *s)
{
    char enc[256];
    long n = b64_encode((const unsigned char *)s, strlen(s), enc, sizeof enc);
    if (n < 0) {
        o->fail = 1;
        o->err = E2BIG;
        return;
    }
    puts_(o, "=?UTF-8?B?");
    put(o, enc, (size_t)n);
    puts_(o, "?=");
}

/* The header section of the original message: lines up to the first empty one, at most
   BOUNCE_HEADERS_MAX octets, cut at a line end. *n gets its length. */
static const char *header_section(const char *m, size_t len, size_t *n)
{
    size_t i = 0;
    if (len > BOUNCE_HEADERS_MAX) {
        len = BOUNCE_HEADERS_MAX;
    }
    while (i < len) {
        const char *nl = memchr(m + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - m) : len;
        if (end == i || (end == i + 1 && m[i] == '\r')) {
            break;
        }
        if (!nl) {
            if (len == BOUNCE_HEADERS_MAX) {
                break;      /* the line goes on past our bound: leave it out */
            }
            i = len;
            break;
        }
        i = end + 1;
    }
    *n = i;
    return m;
}

/* Quote the header section safely: control bytes except TAB become '?', every line ends
   in LF, and lines longer than 998 octets are folded (RFC 5322 §2.1.1). */
static void put_headers(struct out *o, const char *h, size_t n)
{
    char tmp[1024];
    size_t i, k = 0, col = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '\n') {
            tmp[k++] = '\n';
            col = 0;
        } else {
            if (col >= 990) {
                tmp[k++] = '\n';
                tmp[k++] = ' ';
                col = 1;
                if (k >= sizeof tmp - 4) {
                    put(o, tmp, k);
                    k = 0;
                }
            }
            tmp[k++] = ((c < 0x20 && c != '\t') || c == 0x7f) ? '?' : (char)c;
            col++;
        }
        if (k >= sizeof tmp - 4) {
            put(o, tmp, k);
            k = 0;
        }
    }
    if (col > 0) {
        tmp[k++] = '\n';
    }
    put(o, tmp, k);
}

static int contains(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* A boundary that occurs nowhere in the quoted material (RFC 2046 §5.1.1). */
static void make_boundary(const struct bounce_in *in, const char *h, size_t hn, char *out,
                          size_t cap)
{
    unsigned k;
    for (k = 0;; k++) {
        size_t i;
        int clash;
        snprintf(out, cap, "=_yubin_%.16s_%lx_%u", in->id, (unsigned long)in->now, k);
        clash = contains(h, hn, out);
        for (i = 0; !clash && i < in->nrcpt; i++) {
            clash = contains(in->rcpt[i].reason, in->rcpt[i].reason_len, out)
                || contains(in->rcpt[i].addr, strlen(in->rcpt[i].addr), out);
        }
        if (!clash || k > 1000) {
            return;
        }
    }
}

/* One block per recipient: address, what happened and what to do (failures; a full mailbox
   is named in a delay warning too, without the advice to send again), then the detail, labelled
   as the server's reply only when it is one; en = 0 Japanese, 1 English. */
static void put_rcpt_list(struct out *o, const struct bounce_in *in, int delayed, int en)
{
    size_t i;
    for (i = 0; i < in->nrcpt; i++) {
        const struct bounce_rcpt *r = &in->rcpt[i];
        const struct explain *x;
        char st[16];
        enum bounce_reason why;
        int full, said = bounce_is_reply(r);
        bounce_status(r->reason, r->reason_len, delayed, st, sizeof st);
        why = bounce_classify(r, st);
        x = &explains[why];
        full = why == BR_MAILBOX_FULL || why == BR_REMOTE_FULL;
        puts_(o, "<");
        put_clean(o, r->addr, strlen(r->addr), ADDR_MAX);
        puts_(o, ">\n");
        if (!delayed || full) {
            putf(o, en ? "  Reason: %s\n" : "  理由: %s\n", en ? x->en_what : x->ja_what);
        }
        if (!delayed) {
            putf(o, en ? "  What to do: %s" : "  対処: %s", en ? x->en_todo : x->ja_todo);
            if (why == BR_MAILBOX_FULL && r->addon) {
                putf(o, en ? " %s" : "%s", en ? addon_en : addon_ja);
            }
            puts_(o, "\n");
        }
        if (en) {
            puts_(o, said ? "  Remote server's reply: " : "  What happened: ");
        } else {
            puts_(o, said ? "  相手先サーバの応答: " : "  状況: ");
        }
        put_clean(o, r->reason, r->reason_len, BOUNCE_REASON_MAX);
        puts_(o, "\n\n");
    }
}

static void put_text_body(struct out *o, const struct bounce_in *in)
{
    char until[DATE_RFC5322_MAX] = "";
    int delayed = in->kind == BOUNCE_DELAYED;

    if (delayed && date_rfc5322(in->retry_until, until, sizeof until) < 0) {
        o->fail = 1;
        o->err = EINVAL;
        return;
    }
    putf(o, "このメールは %s の配送システムからの自動送信です。\n\n", in->me);
    if (delayed) {
        putf(o, "お送り頂いたメールは、下記の宛先へまだ配送できていません。配送は %s まで"
                "自動的に再試行しますので、再送の必要はありません。\n\n", until);
    } else {
        puts_(o, "お送り頂いたメールは、下記の宛先へ配送できませんでした。元のメールの"
                 "ヘッダを添付しております。\n\n");
    }
    put_rcpt_list(o, in, delayed, 0);
    putf(o, "----\nThis is the mail system at %s.\n\n", in->me);
    if (delayed) {
        putf(o, "Your message has not yet been delivered to the recipients below. Delivery "
                "is retried automatically until %s; you do not need to send it again.\n\n",
             until);
    } else {
        puts_(o, "Your message could not be delivered to the recipients below. The headers "
                 "of your message are attached.\n\n");
    }
    put_rcpt_list(o, in, delayed, 1);
}

/* A part made of the body b built, in base64 under the header lines head: the notice stays
   7-bit, so it may go to a server without 8BITMIME (RFC 6152 §3), as remote sends it. A body
   that failed to build fails the notice. */
static void put_base64_part(struct out *o, const char *head, const struct out *b)
{
    if (b->fail) {
        if (!o->fail) {
            o->fail = 1;
            o->err = b->err;
        }
        return;
    }
    puts_(o, head);
    puts_(o, "Content-Transfer-Encoding: base64\n\n");
    put_base64(o, b->b->s, b->b->len);
}

/* A part whose body build() writes, in base64 (put_base64_part). */
static void put_encoded_part(struct out *o, const char *head,
                             void (*build)(struct out *, const struct bounce_in *),
                             const struct bounce_in *in)
{
    struct buf body;
    struct out b;

    buf_init(&body, BOUNCE_MAX);
    b = (struct out){&body, 0, 0};
    build(&b, in);
    put_base64_part(o, head, &b);
    buf_free(&body);
}

/* The returned header section. ASCII: text/rfc822-headers as it is (7bit). With 8-bit octets
   (a raw UTF-8 Subject, an SMTPUTF8 message's header): message/global-headers (RFC 6533
   §3.5) in base64, so the notice stays 7-bit for a server without 8BITMIME (RFC 6152). */
static void put_headers_part(struct out *o, const char *h, size_t n)
{
    struct buf body;
    struct out b;
    size_t i;

    for (i = 0; i < n && (unsigned char)h[i] < 0x80; i++) {
    }
    if (i == n) {
        puts_(o, "Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: 7bit\n\n");
        put_headers(o, h, n);
        return;
    }
    buf_init(&body, BOUNCE_MAX);
    b = (struct out){&body, 0, 0};
    put_headers(&b, h, n);
    put_base64_part(o, "Content-Type: message/global-headers\n", &b);
    buf_free(&body);
}

/* RFC 6533 §3: a report naming a non-ASCII address is a message/global-delivery-status. */
static int is_global(const struct bounce_in *in)
{
    size_t i;
    for (i = 0; i < in->nrcpt; i++) {
        if (has_8bit(in->rcpt[i].addr)) {
            return 1;
        }
    }
    return 0;
}

/* RFC 3464 §2.3.6: "smtp" only for a server's reply as it gave it; our own finding (DNS, a
   local delivery, a connection that failed) is ours, typed as Postfix's "X-Postfix; text". */
static void put_diagnostic(struct out *o, const struct bounce_rcpt *r, int global)
{
    const char *reply;
    size_t replylen;
    int said;
    remote_host(r, &reply, &replylen, &said);
    if (said) {
        puts_(o, "Diagnostic-Code: smtp; ");
        put_text(o, reply, replylen, 900, !global);
    } else {
        puts_(o, "Diagnostic-Code: X-Yubin; ");
        put_text(o, r->reason, r->reason_len, 900, !global);
    }
    puts_(o, "\n");
}

/* The fields of the report (RFC 3464 §2.2, §2.3). global: message/global-delivery-status, where
   a non-ASCII address is "utf-8; " unitext and UTF-8 may stand in the text (RFC 6533 §3, §6). */
static void put_status_fields(struct out *o, const struct bounce_in *in, int global)
{
    char date[DATE_RFC5322_MAX], last[DATE_RFC5322_MAX], until[DATE_RFC5322_MAX];
    size_t i;
    int delayed = in->kind == BOUNCE_DELAYED;

    if (date_rfc5322(in->arrival, date, sizeof date) < 0
        || date_rfc5322(in->retry_until, until, sizeof until) < 0) {
        o->fail = 1;
        o->err = EINVAL;
        return;
    }
    putf(o, "Reporting-MTA: dns; %s\nX-Yubin-Queue-ID: %s\nArrival-Date: %s\n", in->me,
         in->id, date);
    for (i = 0; i < in->nrcpt; i++) {
        const struct bounce_rcpt *r = &in->rcpt[i];
        const char *reply;
        size_t replylen, hostlen;
        char st[16];
        int said;
        hostlen = remote_host(r, &reply, &replylen, &said);
        bounce_status(r->reason, r->reason_len, delayed, st, sizeof st);
        if (global && has_8bit(r->addr)) {
            puts_(o, "\nFinal-Recipient: utf-8; ");
            put_unitext(o, r->addr);
        } else {
            puts_(o, "\nFinal-Recipient: rfc822; ");
            put_text(o, r->addr, strlen(r->addr), ADDR_MAX, 1);
        }
        putf(o, "\nAction: %s\nStatus: %s\n", delayed ? "delayed" : "failed", st);
        if (said) {     /* §2.3.5: the MTA that reported the status */
            puts_(o, "Remote-MTA: dns; ");
            put_text(o, r->reason, hostlen, hostlen, 1);
            puts_(o, "\n");
        }
        put_diagnostic(o, r, global);
        /* RFC 3464 §2.3.7: the time of that recipient's last attempt; none (optional) for a
           recipient never tried (mail that waited for its destination down) */
        if (r->last > 0) {
            if (date_rfc5322(r->last, last, sizeof last) < 0) {
                o->fail = 1;
                o->err = EINVAL;
                return;
            }
            putf(o, "Last-Attempt-Date: %s\n", last);
        }
        if (delayed) {
            putf(o, "Will-Retry-Until: %s\n", until);
        }
    }
}

static void put_global_fields(struct out *o, const struct bounce_in *in)
{
    put_status_fields(o, in, 1);
}

static void put_status_part(struct out *o, const struct bounce_in *in)
{
    if (is_global(in)) {
        put_encoded_part(o, "Content-Type: message/global-delivery-status\n", put_global_fields,
                         in);
        return;
    }
    puts_(o, "Content-Type: message/delivery-status\n\n");
    put_status_fields(o, in, 0);
}

int bounce_build(const struct bounce_in *in, struct buf *outb)
{
    struct out o = {outb, 0, 0};
    char boundary[128], date[DATE_RFC5322_MAX];
    const char *h;
    size_t hn;
    int delayed = in->kind == BOUNCE_DELAYED;

    size_t i;

    if (!in->me || !in->to || !in->id || in->nrcpt == 0 || !in->rcpt) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < in->nrcpt; i++) {
        if (!in->rcpt[i].addr || !in->rcpt[i].reason) {
            errno = EINVAL;
            return -1;
        }
    }
    h = header_section(in->headers ? in->headers : "", in->headers ? in->headers_len : 0, &hn);
    make_boundary(in, h, hn, boundary, sizeof boundary);
    if (date_rfc5322(in->now, date, sizeof date) < 0) {
        errno = EINVAL;
        return -1;
    }
    putf(&o, "From: MAILER-DAEMON@%s (Mail Delivery System)\nTo: <", in->me);
    put_clean(&o, in->to, strlen(in->to), ADDR_MAX);
    puts_(&o, ">\nSubject: ");
    put_encoded_word(&o, delayed ? "配送遅延のお知らせ" : "配送エラー");
    puts_(&o, delayed ? " / Delayed Mail (still being retried)\n"
                      : " / Undelivered Mail Returned to Sender\n");
    putf(&o, "Date: %s\nMessage-ID: <%.16s.%lx.%s@%s>\n", date, in->id, (unsigned long)in->now,
         delayed ? "delay" : "bounce", in->me);
    puts_(&o, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n");
    putf(&o, "Content-Type: multipart/report; report-type=%s;\n\tboundary=\"%s\"\n\n",
         is_global(in) ? "global-delivery-status" : "delivery-status", boundary);
    puts_(&o, "This is a MIME-encapsulated message (RFC 3464 delivery status notification).\n");
    putf(&o, "\n--%s\n", boundary);
    put_encoded_part(&o, "Content-Type: text/plain; charset=UTF-8\n", put_text_body, in);
    putf(&o, "\n--%s\n", boundary);
    put_status_part(&o, in);
    putf(&o, "\n--%s\n", boundary);
    put_headers_part(&o, h, hn);
    putf(&o, "\n--%s--\n", boundary);
    if (o.fail) {
        errno = o.err ? o.err : E2BIG;
        return -1;
    }
    return 0;
}

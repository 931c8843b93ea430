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

/* Copy s[0..n) with control bytes (CR, LF, NUL, ...) replaced by '?', at most max octets. */
static void put_clean(struct out *o, const char *s, size_t n, size_t max)
{
    char tmp[1024];
    size_t i, k = 0;
    if (n > max) {
        n = max;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        tmp[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        if (k == sizeof tmp) {
            put(o, tmp, k);
            k = 0;
        }
    }
    put(o, tmp, k);
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

/* remote's text (docs/internals.md "remote"; queue/remote.c) is "HOST [IP] said: REPLY (#X.Y.Z)"
   or "HOST [IP]: WHAT (#X.Y.Z)": the host goes to Remote-MTA, the rest to Diagnostic-Code.
   Returns the host's length (0 if the text has another shape: no server answered) and sets
   *reply, *replylen (each may be NULL). */
static size_t remote_host(const struct bounce_rcpt *r, const char **reply, size_t *replylen)
{
    const char *s = r->reason, *sp, *close_, *rest;
    size_t n = r->reason_len, host;
    const char *rp;
    size_t rl;

    reply = reply ? reply : &rp;
    replylen = replylen ? replylen : &rl;
    *reply = s;
    *replylen = n;
    if (!r->remote || !(sp = memchr(s, ' ', n)) || (size_t)(sp - s) > SMTP_DOMAIN_MAX) {
        return 0;
    }
    host = (size_t)(sp - s);
    if (host == 0 || sp + 1 >= s + n || sp[1] != '['
        || !(close_ = memchr(sp, ']', n - host))) {
        return 0;
    }
    rest = close_ + 1;
    if ((size_t)(s + n - rest) >= 7 && memcmp(rest, " said: ", 7) == 0) {
        rest += 7;
    } else if ((size_t)(s + n - rest) >= 2 && memcmp(rest, ": ", 2) == 0) {
        rest += 2;
    } else {
        return 0;
    }
    *reply = rest;
    *replylen = (size_t)(s + n - rest);
    return host;
}

enum bounce_reason bounce_classify(const struct bounce_rcpt *r, const char *status)
{
    const char *sub = status + 1;   /* ".Y.Z" */
    if (strcmp(sub, ".2.2") == 0) {
        return BR_MAILBOX_FULL;
    }
    if (strcmp(sub, ".1.1") == 0) {
        return BR_UNKNOWN_USER;
    }
    if (strcmp(sub, ".3.4") == 0 || strcmp(sub, ".2.3") == 0) {
        return BR_TOO_BIG;
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
    /* "the server refused" only when one did: remote's own findings (DNS) have no HOST [IP] */
    return remote_host(r, NULL, NULL) ? BR_REMOTE : BR_OTHER;
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
        "受信者の方に、サーバ上の不要なメールを削除して頂くか、容量増設オプション(50MB)の"
        "お申し込みをご検討頂くようお伝えの上、改めて送信して下さい。",
        "The recipient's mailbox is full (its disk quota is used up), so the message could not be stored.",
        "Ask the recipient to delete mail kept on the server or to order the capacity add-on "
        "(50 MB), then send your message again."},
    [BR_UNKNOWN_USER] = {
        "宛先のメールアドレスは存在しません。",
        "メールアドレスに誤りがないかご確認下さい。",
        "The recipient's address does not exist.",
        "Check the address for typing mistakes, or ask the recipient for the correct address."},
    [BR_TOO_BIG] = {
        "メールのサイズが上限を超えています。1 通のメールは、ヘッダや本文、添付ファイルを含めて"
        "最大 20MB までです。添付ファイルはエンコードにより 1.2~1.5 倍程度に増加します。",
        "添付ファイルを小さくするか分割して送信して下さい。大きなファイルには大容量メール送信"
        "サービスや FTP サービスのご利用をご検討下さい。",
        "The message is larger than the limit of 20 MB per message, headers and attachments "
        "included; attachments grow about 1.37x when they are encoded.",
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
};

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

/* One block per recipient: address, what happened and what to do (failures, and a full
   mailbox even when only delayed), then the detail; en = 0 Japanese, 1 English. */
static void put_rcpt_list(struct out *o, const struct bounce_in *in, int delayed, int en)
{
    size_t i;
    for (i = 0; i < in->nrcpt; i++) {
        const struct bounce_rcpt *r = &in->rcpt[i];
        char st[16];
        enum bounce_reason why;
        int said;
        bounce_status(r->reason, r->reason_len, delayed, st, sizeof st);
        why = bounce_classify(r, st);
        puts_(o, "<");
        put_clean(o, r->addr, strlen(r->addr), ADDR_MAX);
        puts_(o, ">\n");
        if ((!delayed || why == BR_MAILBOX_FULL) && en) {
            putf(o, "  Reason: %s\n  What to do: %s\n", explains[why].en_what,
                 explains[why].en_todo);
        } else if (!delayed || why == BR_MAILBOX_FULL) {
            putf(o, "  理由: %s\n  対処: %s\n", explains[why].ja_what, explains[why].ja_todo);
        }
        said = remote_host(r, NULL, NULL) > 0;     /* a server's reply is quoted */
        if (en) {
            puts_(o, said ? "  Remote server's reply: " : "  Details: ");
        } else {
            puts_(o, said ? "  相手先サーバの応答: " : "  詳細: ");
        }
        put_clean(o, r->reason, r->reason_len, BOUNCE_REASON_MAX);
        puts_(o, "\n\n");
    }
}

static void put_text_part(struct out *o, const struct bounce_in *in)
{
    char until[DATE_RFC5322_MAX] = "";
    int delayed = in->kind == BOUNCE_DELAYED;

    if (delayed && date_rfc5322(in->retry_until, until, sizeof until) < 0) {
        o->fail = 1;
        o->err = EINVAL;
        return;
    }
    puts_(o, "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n");
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

static void put_status_part(struct out *o, const struct bounce_in *in)
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
    /* RFC 3464 §2.2 per-message fields */
    puts_(o, "Content-Type: message/delivery-status\n\n");
    putf(o, "Reporting-MTA: dns; %s\nX-Yubin-Queue-ID: %s\nArrival-Date: %s\n", in->me,
         in->id, date);
    for (i = 0; i < in->nrcpt; i++) {
        const struct bounce_rcpt *r = &in->rcpt[i];
        const char *reply;
        size_t replylen, hostlen = remote_host(r, &reply, &replylen);
        char st[16];
        bounce_status(r->reason, r->reason_len, delayed, st, sizeof st);
        /* RFC 3464 §2.3 per-recipient fields */
        puts_(o, "\nFinal-Recipient: rfc822; ");
        put_clean(o, r->addr, strlen(r->addr), ADDR_MAX);
        putf(o, "\nAction: %s\nStatus: %s\n", delayed ? "delayed" : "failed", st);
        if (hostlen) {
            puts_(o, "Remote-MTA: dns; ");
            put_clean(o, r->reason, hostlen, hostlen);
            puts_(o, "\n");
        }
        puts_(o, "Diagnostic-Code: smtp; ");
        if (!(replylen >= 4 && is_digit(reply[0]) && is_digit(reply[1]) && is_digit(reply[2])
              && reply[3] == ' ')) {
            putf(o, "%s %s ", st[0] == '5' ? "550" : "450", st);
        }
        put_clean(o, reply, replylen, 900);
        /* RFC 3464 §2.3.7: the time of that recipient's last attempt, if recorded */
        if (date_rfc5322(r->last > 0 ? r->last : in->now, last, sizeof last) < 0) {
            o->fail = 1;
            o->err = EINVAL;
            return;
        }
        putf(o, "\nLast-Attempt-Date: %s\n", last);
        if (delayed) {
            putf(o, "Will-Retry-Until: %s\n", until);
        }
    }
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
    putf(&o, "Content-Type: multipart/report; report-type=delivery-status;\n"
             "\tboundary=\"%s\"\n\n", boundary);
    puts_(&o, "This is a MIME-encapsulated message (RFC 3464 delivery status notification).\n");
    putf(&o, "\n--%s\n", boundary);
    put_text_part(&o, in);
    putf(&o, "\n--%s\n", boundary);
    put_status_part(&o, in);
    putf(&o, "\n--%s\n", boundary);
    puts_(&o, "Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\n");
    put_headers(&o, h, hn);
    putf(&o, "\n--%s--\n", boundary);
    if (o.fail) {
        errno = o.err ? o.err : E2BIG;
        return -1;
    }
    return 0;
}

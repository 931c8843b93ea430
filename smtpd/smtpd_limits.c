/* smtpd_limits.c: smtpd's sending limits: messages and recipients per window for an account
   (users.cdb msgs= rcpts=, from the plan or the account's options) or a RELAYCLIENT IP
   (RATE_IP_MSGS, RATE_IP_RCPTS), suspended sending (nosend=1), counters in ROOT/rate/
   (lib/rate) plus, in a fleet, the other nodes' counts of an account in ROOT/ratefleet/
   (written by ratesync), and the operator's alerts (etc/admin, once per account per day) */
#include "smtpd.h"
#include "cdbmap.h"
#include "cfg.h"
#include "date.h"
#include "envelope.h"
#include "fd.h"
#include "log.h"
#include "rate.h"
#include "str.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIMITS_ALERT_MAX 2048       /* octets of one alert message */

void smtpd_limits_init(struct smtpd_session *s)
{
    s->rate_window = cfg_num("RATE_WINDOW", 3600);
    if (s->rate_window < RATE_WINDOW_MIN || s->rate_window > RATE_WINDOW_MAX) {
        s->rate_window = 3600;
    }
    s->rate_burst = cfg_num("RATE_BURST", 100);
    s->rate_burst_secs = cfg_num("RATE_BURST_SECONDS", 300);
    s->rate_ip_msgs = cfg_num("RATE_IP_MSGS", 0);
    s->rate_ip_rcpts = cfg_num("RATE_IP_RCPTS", 0);
}

/* One alert to the operator: why names the event, what the account's figures. */
static void alert(struct smtpd_session *s, const char *kind, const char *subject,
                  const char *body)
{
    char admin[ADDR_MAX + 1], date[DATE_RFC5322_MAX], id[ENVELOPE_ID_LINE_MAX];
    char text[LIMITS_ALERT_MAX], from[ADDR_MAX + 1];
    if (cfg_admin(s->root, admin, sizeof admin) < 0) {
        log_warn("no operator address (etc/admin, or the directory's in a fleet): alert not "
                 "sent (%s)", subject);
        return;
    }
    if (date_rfc5322(time(NULL), date, sizeof date) < 0
        || str_fmt(text, sizeof text,
                   "From: Mail Delivery System <MAILER-DAEMON@%s>\nTo: <%s>\n"
                   "Subject: %s\nDate: %s\nMessage-ID: <%s.%u.%s@%s>\n"
                   "Auto-Submitted: auto-generated\nMIME-Version: 1.0\n"
                   "Content-Type: text/plain; charset=us-ascii\n\n%s\n",
                   s->me, admin, subject, date, s->id, s->nmsg, kind, s->me, body) < 0) {
        log_warn("alert too long: not sent (%s)", subject);
        return;
    }
    /* signed for the host name, as a bounce is (docs/dkim.md "The server's own mail") */
    if (str_fmt(from, sizeof from, "MAILER-DAEMON@%s", s->me) < 0
        || smtpd_inject_text(s, from, "", admin, text, strlen(text), id, sizeof id) < 0) {
        log_warn_sys("unable to queue the alert to %s (%s)", admin, subject);
        return;
    }
    log_info("alert id=%s to=<%s> session=%s: %s", id, admin, s->id, subject);
}

/* Mark today's alert of kind (burst or not) as sent in the counter file; 1 if this call
   marked it (send the alert), 0 if it was sent already or the file cannot be written. */
static int alert_due(struct smtpd_session *s, int burst)
{
    struct rate_rec r;
    uint64_t today;
    int fd, due = 0;
    if (rate_open(s->root, s->rate_name, s->rate_window, &fd, &r) < 0) {
        log_warn_sys("unable to open the counters of %s (no alert)", s->rate_name);
        return 0;
    }
    today = rate_day_no(&r, (uint64_t)time(NULL));
    if ((burst ? r.burst_day : r.alert_day) != today) {
        if (burst) {
            r.burst_day = today;
        } else {
            r.alert_day = today;
        }
        due = rate_store(fd, &r) == 0;
        if (!due) {
            log_warn_sys("unable to write the counters of %s (no alert)", s->rate_name);
        }
    }
    close(fd);
    return due;
}

/* The window as a customer reads it: "hour", "2 hours", "30 minutes", "24 seconds". */
static void span(unsigned long secs, char *out, size_t cap)
{
    if (secs == 3600) {
        str_fmt(out, cap, "hour");
    } else if (secs % 3600 == 0) {
        str_fmt(out, cap, "%lu hours", secs / 3600);
    } else if (secs % 60 == 0) {
        str_fmt(out, cap, "%lu minutes", secs / 60);
    } else {
        str_fmt(out, cap, "%lu seconds", secs);
    }
}

/* Over a limit: log, alert once a day, refuse. what: "messages" or "recipients" (the log's
   key); the sentences say "message" / "recipient" of a limit of 1. */
static void over(struct smtpd_session *s, const char *what, unsigned long used,
                 unsigned long limit)
{
    char subject[ADDR_MAX + 96], body[ADDR_MAX * 2 + 512], per[32];
    int wlen = (int)strlen(what) - (limit == 1);      /* without the plural's s */
    span(s->rate_window, per, sizeof per);
    log_warn("sending limit reached account=%s ip=%s session=%s %s=%lu limit=%lu window=%lu",
             s->rate_name, s->ip, s->id, what, used, limit, s->rate_window);
    if (alert_due(s, 0)) {
        str_fmt(subject, sizeof subject, "sending limit reached: %s", s->rate_name);
        str_fmt(body, sizeof body,
                "%s reached its sending limit of %lu %.*s per %lu seconds (client %s).\n"
                "Further mail is refused with 451 4.7.1 until the window passes.\n"
                "If the customer did not send this mail, the password may be stolen:\n"
                "  mailacct show %s\n  mailacct suspend-sending %s\n"
                "To raise the limit: the msgs= / rcpts= options in etc/users, or the plan's "
                "fields in etc/plans (docs/smtp.md).\n(one alert per account per day)",
                s->rate_name, limit, wlen, what, s->rate_window, s->ip, s->rate_name,
                s->rate_name);
        alert(s, "limit", subject, body);
    }
    smtpd_reply(s, "451 4.7.1 sending limit reached: at most %lu %.*s per %s from your %s; wait "
                "and send again later, or ask your provider to raise the limit", limit, wlen, what,
                per,
                strchr(s->rate_name, '@') ? "account" : "address");
}

/* The limits of an account from users.cdb; 1 found, 0 not an account, -1 error. */
static int account_limits(struct smtpd_session *s, const char *account, int *nosend)
{
    char val[MAP_VALUE_MAX];
    unsigned long long m = 0, r = 0, flag = 0;
    int found = cdbmap_get(s->root, "users", account, strlen(account), val, sizeof val, NULL);
    *nosend = 0;
    if (found <= 0) {
        return found;
    }
    if (cdbmap_kv_get_u64(val, "msgs", &m) < 0 || cdbmap_kv_get_u64(val, "rcpts", &r) < 0) {
        return -1;
    }
    *nosend = cdbmap_kv_get_u64(val, "nosend", &flag) == 1 && flag == 1;
    s->rate_msgs = (unsigned long)m;
    s->rate_rcpts = (unsigned long)r;
    return 1;
}

int smtpd_limits_bind(struct smtpd_session *s, const char *account)
{
    struct rate_rec r;
    uint64_t now = (uint64_t)time(NULL);
    int nosend = 0, fleet = 0;
    s->rate_name[0] = '\0';
    s->rate_msgs = s->rate_rcpts = 0;
    if (account) {
        int found = account_limits(s, account, &nosend);
        if (found < 0) {
            log_warn_sys("lookup of %s failed (sending limits not applied)", account);
            return 1;
        }
        if (nosend) {
            log_warn("sending suspended account=%s ip=%s session=%s", account, s->ip, s->id);
            smtpd_reply(s, "550 5.7.1 sending from <%s> is suspended by your provider; contact "
                        "your provider's support to have it restored", account);
            return 0;
        }
        str_fmt(s->rate_name, sizeof s->rate_name, "%s", account);
    } else {
        s->rate_msgs = s->rate_ip_msgs;
        s->rate_rcpts = s->rate_ip_rcpts;
        if (str_fmt(s->rate_name, sizeof s->rate_name, "ip-%s", s->ip) < 0) {
            s->rate_name[0] = '\0';
            return 1;
        }
    }
    if (rate_read(s->root, s->rate_name, s->rate_window, &r) < 0) {
        log_warn_sys("unable to read the counters of %s (limits not applied)", s->rate_name);
        rate_init(&r, s->rate_window);
    }
    s->rate_used = rate_recent(&r, now, s->rate_window);
    /* in a fleet an account's limits hold for the fleet: add what the other nodes counted,
       as ratesync last read it from etcd (none while it is stopped or cut off: then this
       node's own counts, as on a single server; ratesync logs that once) */
    if (account && (fleet = rate_fleet_read(s->root, s->rate_name, s->rate_window, now, &r,
                                            NULL)) == 1) {
        struct rate_sum o = rate_recent(&r, now, s->rate_window);
        s->rate_used.msgs += o.msgs;
        s->rate_used.rcpts += o.rcpts;
    } else if (fleet < 0) {
        log_warn_sys("unable to read the other nodes' counters of %s (this node's counts "
                     "apply)", s->rate_name);
    }
    if (s->rate_msgs && s->rate_used.msgs >= s->rate_msgs) {
        over(s, "messages", s->rate_used.msgs, s->rate_msgs);
        s->rate_name[0] = '\0';
        return 0;
    }
    return 1;
}

int smtpd_limits_rcpt(struct smtpd_session *s)
{
    if (!s->rate_name[0] || !s->rate_rcpts || s->rate_used.rcpts + s->nrcpt < s->rate_rcpts) {
        return 1;
    }
    over(s, "recipients", s->rate_used.rcpts + s->nrcpt, s->rate_rcpts);
    return 0;
}

void smtpd_limits_sent(struct smtpd_session *s)
{
    struct rate_rec r;
    struct rate_sum b;
    uint64_t now = (uint64_t)time(NULL), today;
    int fd, burst = 0;
    char subject[ADDR_MAX + 96], body[ADDR_MAX * 2 + 512];
    if (!s->rate_name[0]) {
        return;
    }
    if (rate_open(s->root, s->rate_name, s->rate_window, &fd, &r) < 0) {
        log_warn_sys("unable to count the message of %s", s->rate_name);
        return;
    }
    rate_add(&r, now, 1, s->nrcpt);
    b = rate_recent(&r, now, s->rate_burst_secs);
    today = rate_day_no(&r, now);
    /* a burst is an account's (an IP has no login to steal) */
    if (strchr(s->rate_name, '@') && s->rate_burst && b.msgs >= s->rate_burst
        && r.burst_day != today) {
        r.burst_day = today;
        burst = 1;
    }
    if (rate_store(fd, &r) < 0) {
        log_warn_sys("unable to count the message of %s", s->rate_name);
        burst = 0;
    }
    close(fd);
    if (burst) {
        log_warn("sending burst account=%s ip=%s session=%s msgs=%lu seconds=%lu", s->rate_name,
                 s->ip, s->id, b.msgs, s->rate_burst_secs);
        str_fmt(subject, sizeof subject, "sending burst: %s", s->rate_name);
        str_fmt(body, sizeof body,
                "%s sent %lu messages in %lu seconds (client %s), the burst rule is %lu.\n"
                "If the customer did not send this mail, the password may be stolen:\n"
                "  mailacct show %s\n  mailacct suspend-sending %s\n"
                "(one burst alert per account per day)",
                s->rate_name, b.msgs, s->rate_burst_secs, s->ip, s->rate_burst, s->rate_name,
                s->rate_name);
        alert(s, "burst", subject, body);
    }
}

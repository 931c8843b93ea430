/* smtpd_rcpt.c: smtpd's MAIL and RCPT: envelope syntax, relay rules, local recipients, quota */
#include "smtpd.h"
#include "acct.h"
#include "grant.h"
#include "cfg.h"
#include "log.h"
#include "srs.h"
#include "str.h"
#include "usage.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Add one final recipient to the envelope, once. 1 added, 0 already there, -1 full. */
static int rcpt_add(struct smtpd_session *s, const char *addr)
{
    size_t i = 0, n = strlen(addr);
    while (i < s->rcpts.len) {
        size_t l = strlen(s->rcpts.s + i);
        if (l == n && memcmp(s->rcpts.s + i, addr, n) == 0) {
            return 0;
        }
        i += l + 1;
    }
    if (s->nrcpt >= SMTP_RCPT_MAX || buf_append(&s->rcpts, addr, n + 1) < 0) {
        return -1;
    }
    s->nrcpt++;
    return 1;
}

/* Each space-separated target of an alias. 0 ok, -1 the envelope is full. */
static int rcpt_add_targets(struct smtpd_session *s, char *targets)
{
    char *t = targets;
    size_t len = s->rcpts.len;
    unsigned nrcpt = s->nrcpt;
    while (*t) {
        char *e = strchr(t, ' ');
        if (e) {
            *e = '\0';
        }
        if (*t && rcpt_add(s, t) < 0) {
            s->rcpts.len = len;     /* all targets or none */
            if (s->rcpts.s) {
                s->rcpts.s[len] = '\0';
            }
            s->nrcpt = nrcpt;
            return -1;
        }
        if (!e) {
            break;
        }
        t = e + 1;
    }
    return 0;
}

/* The sender rule of a login (AUTH, or the account of a POP-before-SMTP grant): the sender
   must be the login or an alias whose targets include it. After AUTH, <> too: the null sender
   names nobody and is what a read receipt (RFC 8098 §2.1) and a customer's own server's
   bounces (RFC 5321 §4.5.5) carry; the message is still counted, and signed, as the login's.
   Not with a grant: it is found by IP alone (an office or carrier NAT shares it), and the
   sender is all that ties the relayed mail to the account. 1 allowed, 0 not, -1 the alias
   map could not be read. */
static int sender_allowed(struct smtpd_session *s, const char *sender, const char *login)
{
    char key[ADDR_MAX + 1], targets[MAP_VALUE_MAX];
    size_t i = 0, n = strlen(sender), ln = strlen(login);
    int r;
    if (n == 0) {
        return s->authed;
    }
    if (n > ADDR_MAX) {
        return 0;
    }
    memcpy(key, sender, n + 1);
    str_lower(key, n);
    if (strcmp(key, login) == 0) {
        return 1;
    }
    r = acct_alias(s->root, key, targets, sizeof targets);
    if (r != 1) {
        if (r < 0) {
            log_warn_sys("lookup of %s failed", key);
        }
        return r;
    }
    while (targets[i]) {
        size_t l = strcspn(targets + i, " ");
        if (l == ln && memcmp(targets + i, login, l) == 0) {
            return 1;
        }
        i += l;
        while (targets[i] == ' ') {
            i++;
        }
    }
    return 0;
}

/* The reply when sender_allowed said no (0) or could not tell (-1). A grant is found by IP
   alone, so its refusal does not name the account: whoever else shares that address (an
   office or carrier NAT) must not learn which address it may send as. */
static void sender_refused(struct smtpd_session *s, int r, const char *sender, int by_grant)
{
    if (r < 0) {
        smtpd_reply(s, "451 4.3.0 <%s>: temporary lookup failure, try again later", sender);
    } else if (by_grant && !sender[0]) {
        smtpd_reply(s, "553 5.7.1 <>: the null sender is relayed after SMTP AUTH only; turn on "
                 "SMTP authentication in your mail program");
    } else if (by_grant) {
        smtpd_reply(s, "553 5.7.1 <%s>: sender address is not yours; send as the address you "
                 "checked mail with (POP before SMTP) or one of its aliases", sender);
    } else {
        smtpd_reply(s, "553 5.7.1 <%s>: sender address is not yours; send as <%s> or one of its "
                 "aliases", sender, s->user);
    }
}

/* A fresh POP-before-SMTP grant for this IP: its account into s->grant_user. 1 found, 0 not.
   Port 465 (submission over implicit TLS) honours none: the settings sheet pairs POP before
   SMTP with 25 and 587 only. */
static int grant_find(struct smtpd_session *s)
{
    int g = 0;
    if (strcmp(s->ip, "unknown") != 0 && !(s->mode == SMTPD_MODE_SUBMISSION && s->implicit_tls)) {
        g = grant_check(s->root, s->ip, s->relay_window, s->grant_user, sizeof s->grant_user);
    }
    if (g < 0) {
        log_warn_sys("unable to check the POP-before-SMTP grant of %s", s->ip);
    }
    if (g != 1) {
        s->grant_user[0] = '\0';
    }
    return g == 1;
}

static void mail_parse_error(struct smtpd_session *s, enum smtp_perr e)
{
    switch (e) {
    case PARSE_NOPREFIX:
        smtpd_reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
        break;
    case PARSE_TOOLONG:
        smtpd_reply(s, "501 5.1.7 sender address too long");
        break;
    case PARSE_PARAM:
        smtpd_reply(s, "555 5.5.4 unsupported MAIL parameter; supported: SIZE BODY SMTPUTF8 AUTH");
        break;
    case PARSE_PARAMVAL:
        smtpd_reply(s, "501 5.5.4 invalid or repeated MAIL parameter value");
        break;
    default:
        smtpd_reply(s, "501 5.1.7 bad sender address syntax; use MAIL FROM:<you@example.com>");
        break;
    }
}

void smtpd_cmd_mail(struct smtpd_session *s, const char *arg, size_t n)
{
    struct smtp_mailcmd m;
    enum smtp_perr e;

    if (s->state == SMTPD_ST_GREETED) {
        smtpd_reply(s, "503 5.5.1 send EHLO (or HELO) first");
        return;
    }
    if (s->state != SMTPD_ST_READY) {
        smtpd_reply(s, "503 5.5.1 a transaction is already open; send RSET first");
        return;
    }
    s->grant_user[0] = '\0';
    if (s->mode == SMTPD_MODE_SUBMISSION && !s->authed && !s->relayclient) {
        if (s->require_tls && !s->tls) {
            smtpd_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
            return;
        }
        if (!grant_find(s)) {
            smtpd_reply(s, "530 5.7.0 Authentication required: log in with your mail address and "
                     "password (SMTP AUTH)");
            return;
        }
    }
    e = smtp_parse_mail(arg, n, &m);
    if (e != PARSE_OK) {
        mail_parse_error(s, e);
        return;
    }
    s->log_from = m.path.s;     /* for the refusals below; dispatch clears it */
    if (!m.path.null && m.path.at == m.path.len) {
        smtpd_reply(s, "501 5.1.7 sender address needs a domain: use MAIL FROM:<you@example.com>");
        return;
    }
    if (m.path.utf8 && !m.smtputf8) {
        smtpd_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
        return;
    }
    if (addr_domain_to_ascii(&m.path) < 0) {
        smtpd_reply(s, "553 5.1.7 <%s>: the sender's domain is not a valid internationalized "
                       "domain name", m.path.s);
        return;
    }
    if (m.has_size && m.size > MESSAGE_MAX) {
        smtpd_reply(s, "%s", SMTPD_TOO_BIG);
        return;
    }
    /* a login binds the sender at once; on port 25 a grant binds it only when a recipient
       needs the relay (relay_allowed), since anyone may send to local recipients */
    if (s->authed || s->grant_user[0]) {
        int r = sender_allowed(s, m.path.s, s->authed ? s->user : s->grant_user);
        if (r != 1) {
            sender_refused(s, r, m.path.s, !s->authed);
            return;
        }
    }
    /* sending limits: counted under the login, else a trusted network's IP */
    if ((s->authed || s->grant_user[0] || s->relayclient)
        && !smtpd_limits_bind(s, s->authed ? s->user : s->grant_user[0] ? s->grant_user : NULL)) {
        return;
    }
    memcpy(s->sender, m.path.s, m.path.len + 1);
    s->has_size = m.has_size;
    s->size = m.size;
    s->smtputf8 = m.smtputf8;
    s->state = SMTPD_ST_MAIL;
    smtpd_reply(s, "250 2.1.0 Ok: sender <%s>", s->sender);
}

/* 1 room left (or no quota), 0 refused (reply sent). A summary that cannot be read lets the
   message in: deliver checks the quota again. A front (here = 0: the domain is homed on
   another node of the fleet) has no summary of the mailbox: it refuses only a declared SIZE
   over the whole quota, and the home's 552 at its RCPT bounces the rest from our queue. */
static int quota_room(struct smtpd_session *s, const struct acct *a, const char *addr, int here)
{
    uint64_t bytes = 0, count = 0;
    char q[32];
    if (a->quota == 0) {
        return 1;
    }
    if (!here) {
        str_size_human(a->quota, q, sizeof q);
        if (s->has_size && s->size > a->quota) {
            smtpd_reply(s, "552 5.2.2 <%s>: mailbox full (quota %s): no room for a message of "
                           "this size", addr, q);
            return 0;
        }
        return 1;
    }
    if (usage_read(s->root, a->addr, &bytes, &count) < 0) {
        log_warn_sys("unable to read quota/%s (quota not checked)", a->addr);
        return 1;
    }
    str_size_human(a->quota, q, sizeof q);
    if (bytes >= a->quota) {
        smtpd_reply(s, "552 5.2.2 <%s>: mailbox full (quota %s)", addr, q);
        return 0;
    }
    if (s->has_size && s->size > a->quota - bytes) {
        smtpd_reply(s, "552 5.2.2 <%s>: mailbox full (quota %s): no room for a message of this "
                       "size", addr, q);
        return 0;
    }
    return 1;
}

/* What a recipient in a local domain came to. */
enum local_result {
    LOCAL_ADDED,        /* an account, an alias's targets or postmaster joined the envelope */
    LOCAL_REFUSED,      /* disabled or over quota: the reply is sent */
    LOCAL_UNKNOWN,      /* no such account or alias */
    LOCAL_FULL,         /* the envelope holds SMTP_RCPT_MAX recipients */
    LOCAL_TEMP          /* a map could not be read (errno) */
};

static enum local_result added(int r)
{
    return r < 0 ? LOCAL_FULL : LOCAL_ADDED;
}

/* key: the address, lower case; shown: as the client wrote it; here: the domain's mailboxes
   are on this node. */
static enum local_result local_lookup(struct smtpd_session *s, const struct addr *a,
                                      const char *key, const char *shown, int here)
{
    char targets[MAP_VALUE_MAX];
    struct acct acct;
    int r = acct_user(s->root, key, &acct);

    if (r == 1) {
        if (acct.disabled) {
            smtpd_reply(s, "550 5.2.1 <%s>: this mailbox is disabled", shown);
            return LOCAL_REFUSED;
        }
        if (!quota_room(s, &acct, shown, here)) {
            return LOCAL_REFUSED;
        }
        return added(rcpt_add(s, key));
    }
    if (r == 0) {
        r = acct_alias(s->root, key, targets, sizeof targets);
        if (r == 1) {
            return added(rcpt_add_targets(s, targets));
        }
        if (r == 0 && a->at == 10 && str_start_nocase(key, a->len, "postmaster@")) {
            log_warn("no alias for %s in aliases.cdb: queueing to it as is", key);
            return added(rcpt_add(s, key));
        }
    }
    return r < 0 ? LOCAL_TEMP : LOCAL_UNKNOWN;
}

/* A local domain: account, alias or postmaster. 1 accepted, 0 refused (reply sent). */
static int rcpt_local(struct smtpd_session *s, const struct addr *a, const char *shown, int here)
{
    char key[ADDR_MAX + 1];

    memcpy(key, a->s, a->len + 1);
    str_lower(key, a->len);
    switch (local_lookup(s, a, key, shown, here)) {
    case LOCAL_ADDED:
        return 1;
    case LOCAL_REFUSED:
        break;
    case LOCAL_FULL:
        smtpd_reply(s, "452 4.5.3 too many recipients; send the rest in another message");
        break;
    case LOCAL_TEMP:
        log_warn_sys("lookup of %s failed", key);
        smtpd_reply(s, "451 4.3.0 <%s>: temporary lookup failure, try again later", shown);
        break;
    case LOCAL_UNKNOWN:
        smtpd_reply(s, "550 5.1.1 <%s>: no such mailbox here; check the address for typing "
                       "errors", shown);
        break;
    }
    return 0;
}

static void grant_forget(struct smtpd_session *s)
{
    if (s->mode != SMTPD_MODE_SUBMISSION) {
        s->grant_user[0] = '\0';
    }
}

/* 1 if this transaction may send to other domains; 0 refused (reply sent). A login's sender
   was checked at MAIL; a grant found here checks it now. RELAYCLIENT is no login: no rule. */
static int relay_allowed(struct smtpd_session *s, const char *rcpt)
{
    int r;
    if (s->authed) {
        s->relay = SMTPD_RELAY_AUTH;
        return 1;
    }
    if (s->relayclient) {
        s->relay = SMTPD_RELAY_CLIENT;
        return 1;
    }
    if (s->relay == SMTPD_RELAY_GRANT) {
        return 1;
    }
    if (!s->grant_user[0] && !grant_find(s)) {
        smtpd_reply(s, "554 5.7.1 <%s>: relaying denied; authenticate (SMTP AUTH) or check your "
                 "mail first (POP before SMTP)", rcpt);
        return 0;
    }
    /* On port 25 the grant's account becomes the transaction's only with the relay (on 587 it
       did at MAIL). A refusal here forgets it, or mail to the local recipients would pass as
       the account's: no inbound checks (inbound_applies), signed with its domain's key. */
    r = sender_allowed(s, s->sender, s->grant_user);
    if (r != 1) {
        sender_refused(s, r, s->sender, 1);
        grant_forget(s);
        return 0;
    }
    /* it sends, so it is counted */
    if (!s->rate_name[0]
        && (!smtpd_limits_bind(s, s->grant_user) || !smtpd_limits_rcpt(s))) {
        grant_forget(s);
        return 0;
    }
    s->relay = SMTPD_RELAY_GRANT;
    return 1;
}

/* Classic relay tricks and forms we do not route (RFC 5321 §3.6, §C). 1 the form is
   routed, 0 refused (reply sent). */
/* A source route (<@a,@b:u@d>) was dropped by the parser: RFC 5321 §4.1.1.3 and §C say to
   ignore it, and the mailbox after it meets the same rules as any other. */
static int rcpt_form_ok(struct smtpd_session *s, const struct addr *a)
{
    if (a->percent || a->bang || (a->quoted && memchr(a->s, '@', a->at))) {
        smtpd_reply(s, "553 5.7.1 <%s>: addresses with %%, ! or quoted @ are not accepted; use "
                 "the plain user@domain form", a->s);
        return 0;
    }
    if (a->literal) {
        smtpd_reply(s, "553 5.1.3 <%s>: address literals are not accepted here; use a domain name",
                    a->s);
        return 0;
    }
    return 1;
}

/* A bounce to an address our queue wrote with SRS (lib/srs.c) when an alias forwarded mail
   to another domain: SRS0/SRS1 at our own name. 1 handled (accepted: the decoded address
   joined the envelope, relayed like any bounce; or refused, reply sent), 0 not an SRS address
   of ours or SRS is off (no etc/srs): the usual rules apply. */
static int rcpt_srs(struct smtpd_session *s, const struct addr *a, int *accepted)
{
    struct srs_keys k;
    char orig[ADDR_MAX + 1];
    const char *dom = a->s + a->at + 1;
    enum srs_result r;

    *accepted = 0;
    if (!str_eq_nocase(dom, a->len - a->at - 1, s->me)
        || !(str_start_nocase(a->s, a->at, "SRS0") || str_start_nocase(a->s, a->at, "SRS1"))) {
        return 0;
    }
    if (srs_keys_load(s->root, &k) < 0) {
        log_warn_sys("unable to read etc/srs");
        smtpd_reply(s, "451 4.3.0 <%s>: temporary lookup failure, try again later", a->s);
        return 1;
    }
    if (k.n == 0) {
        return 0;
    }
    r = srs_reverse(&k, a->s, a->at, time(NULL), (unsigned)cfg_num("SRS_MAX_AGE",
                    SRS_MAX_AGE_DEFAULT), orig, sizeof orig);
    switch (r) {
    case SRS_NOT:
        return 0;
    case SRS_OK:
        break;
    case SRS_EXPIRED:
        log_info("refused rcpt=<%s>: SRS address expired", a->s);
        smtpd_reply(s, "550 5.1.1 <%s>: this return address has expired (it was written for a "
                       "message forwarded more than %lu days ago)", a->s,
                    cfg_num("SRS_MAX_AGE", SRS_MAX_AGE_DEFAULT));
        return 1;
    case SRS_FORGED:
        log_info("refused rcpt=<%s>: SRS hash does not match", a->s);
        smtpd_reply(s, "550 5.7.1 <%s>: this return address was not written by this server; "
                       "bounces go only to addresses it wrote", a->s);
        return 1;
    case SRS_BAD:
        smtpd_reply(s, "550 5.1.3 <%s>: this return address is damaged; check it was copied "
                       "whole", a->s);
        return 1;
    }
    str_lower(strrchr(orig, '@'), strlen(strrchr(orig, '@')));
    if (rcpt_add(s, orig) < 0) {
        smtpd_reply(s, "452 4.5.3 too many recipients; send the rest in another message");
        return 1;
    }
    log_info("srs rcpt=<%s> to=<%s>", a->s, orig);
    *accepted = 1;
    return 1;
}

/* The fleet's internal port (smtpd -f): the recipient's domain must be one of ours (else a
   relay attempt: 554), homed on this node (else the sender's maps or ours are behind: 451,
   the sender keeps the message queued and tries again), at the epoch the sender saw (a
   message is accepted only by the node that is home at that epoch, so it cannot go round
   between nodes), and not frozen by a move (451: held in the sender's queue). 1 go on to the
   account checks, 0 refused (reply sent). */
static int rcpt_fleet_home(struct smtpd_session *s, const struct addr *a, int known,
                           const struct fleethome *h, uint64_t epoch)
{
    if (!known) {
        smtpd_reply(s, "554 5.7.1 <%s>: relaying denied: the fleet's internal port takes mail "
                       "only for domains homed on this node", a->s);
        return 0;
    }
    if (!h->recorded || !h->here) {
        smtpd_reply(s, "451 4.4.6 <%s>: the domain is not homed on this node%s%s; the sender's "
                       "maps or ours are behind: keep the message queued and try again", a->s,
                    h->recorded ? " but on " : "", h->recorded ? h->node.name : "");
        return 0;
    }
    if (epoch != h->epoch) {
        smtpd_reply(s, "451 4.4.6 <%s>: home epoch %llu in the sender's maps, %llu here; keep "
                       "the message queued until the maps agree", a->s,
                    (unsigned long long)epoch, (unsigned long long)h->epoch);
        return 0;
    }
    if (h->state == FLEETHOME_FROZEN) {
        smtpd_reply(s, "451 4.3.2 <%s>: the domain is held while it moves between nodes; keep "
                       "the message queued and try again in a minute", a->s);
        return 0;
    }
    return 1;
}

/* 1 accepted (added to the envelope), 0 refused (reply sent). epoch: the RCPT's XEPOCH (the
   fleet's internal port; 0 elsewhere). */
static int rcpt_check(struct smtpd_session *s, struct addr *a, uint64_t epoch)
{
    struct fleethome home;
    struct domain dom;
    char key[ADDR_MAX + 1];
    int r;

    if (a->utf8 && !s->smtputf8) {
        smtpd_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
        return 0;
    }
    /* a domain in U-labels is our maps' and the DNS's in A-labels (RFC 5891 §4.4); the
       envelope keeps that form */
    if (addr_domain_to_ascii(a) < 0) {
        smtpd_reply(s, "553 5.1.2 <%s>: the recipient's domain is not a valid internationalized "
                       "domain name; check the address", a->s);
        return 0;
    }
    if (!rcpt_form_ok(s, a)) {
        return 0;
    }
    if (s->mode == SMTPD_MODE_FLEET && (a->at == a->len || epoch == 0)) {
        smtpd_reply(s, "501 5.5.4 <%s>: the internal route needs RCPT TO:<user@domain> "
                       "XEPOCH=N (the home's epoch in the sender's maps)", a->s);
        return 0;
    }
    if (a->at == a->len) {
        char targets[MAP_VALUE_MAX];
        if (!str_eq_nocase(a->s, a->len, "postmaster")) {
            smtpd_reply(s, "501 5.1.3 <%s>: recipient address needs a domain", a->s);
            return 0;
        }
        r = acct_alias(s->root, "postmaster", targets, sizeof targets);
        if (r < 0) {
            smtpd_reply(s, "451 4.3.0 <postmaster>: temporary lookup failure, try again later");
            return 0;
        }
        if (r == 1 ? rcpt_add_targets(s, targets) < 0 : rcpt_add(s, "postmaster") < 0) {
            smtpd_reply(s, "452 4.5.3 too many recipients; send the rest in another message");
            return 0;
        }
        return 1;
    }
    if (s->mode != SMTPD_MODE_FLEET && rcpt_srs(s, a, &r)) {
        return r;       /* a bounce to our SRS address (never on the fleet's internal port) */
    }
    r = acct_domain(s->root, a->s + a->at + 1, &dom);
    if (r < 0) {
        log_warn_sys("lookup of domain %s failed", a->s + a->at + 1);
        smtpd_reply(s, "451 4.3.0 <%s>: temporary lookup failure, try again later", a->s);
        return 0;
    }
    if (r == 1 && fleethome_get(s->root, a->s + a->at + 1, &home) < 0) {
        log_warn("lookup of the home of %s failed: %s", a->s + a->at + 1,
                 fleethome_strerror(errno));
        smtpd_reply(s, "451 4.3.0 <%s>: temporary lookup failure, try again later", a->s);
        return 0;
    }
    if (s->mode == SMTPD_MODE_FLEET && !rcpt_fleet_home(s, a, r == 1, &home, epoch)) {
        return 0;
    }
    if (r == 1) {
        return rcpt_local(s, a, a->s, home.here);
    }
    if (!relay_allowed(s, a->s)) {
        return 0;
    }
    memcpy(key, a->s, a->len + 1);
    str_lower(key + a->at, a->len - a->at);
    if (rcpt_add(s, key) < 0) {
        smtpd_reply(s, "452 4.5.3 too many recipients; send the rest in another message");
        return 0;
    }
    return 1;
}

void smtpd_cmd_rcpt(struct smtpd_session *s, const char *arg, size_t n)
{
    struct addr a;
    enum smtp_perr e;
    uint64_t epoch = 0;
    int ok;

    if (s->state < SMTPD_ST_MAIL) {
        smtpd_reply(s, "503 5.5.1 send MAIL FROM first");
        return;
    }
    e = s->mode == SMTPD_MODE_FLEET ? smtp_parse_rcpt_fleet(arg, n, &a, &epoch)
                                    : smtp_parse_rcpt(arg, n, &a);
    if (e == PARSE_NOPREFIX) {
        smtpd_reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
        return;
    }
    if (e == PARSE_PARAM) {
        smtpd_reply(s, "555 5.5.4 RCPT parameters are not supported%s",
                    s->mode == SMTPD_MODE_FLEET ? " except XEPOCH=N" : "");
        return;
    }
    if (e == PARSE_PARAMVAL) {
        smtpd_reply(s, "501 5.5.4 XEPOCH needs a number from 1 (the home's epoch), given once");
        return;
    }
    if (e != PARSE_OK) {
        smtpd_reply(s, "501 5.1.3 bad recipient address syntax; use RCPT TO:<user@example.com>");
        return;
    }
    s->log_rcpt = a.s;
    if (s->nrcptcmd >= SMTP_RCPT_MAX) {
        smtpd_reply(s, "452 4.5.3 too many recipients; send the rest in another message");
        ok = 0;
    } else {
        ok = smtpd_limits_rcpt(s) && rcpt_check(s, &a, epoch);
    }
    s->log_rcpt = NULL;
    if (!ok) {
        return;
    }
    s->nrcptcmd++;
    s->state = SMTPD_ST_RCPT;
    smtpd_reply(s, "250 2.1.5 Ok: recipient <%s>", a.s);
}

/* smtpd: ESMTP server for one connection under tcpserver (-m MX port 25, -s submission 587, -f the fleet's internal port); runs as yubin-smtpd */
#include "smtpd.h"
#include "cfg.h"
#include "envelope.h"
#include "exitcode.h"
#include "fd.h"
#include "ipslot.h"
#include "log.h"
#include "str.h"
#include "ucspi.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    die(EXIT_PERM, "usage: smtpd -m | -s | -f");
}

void smtpd_reset_mail(struct smtpd_session *s)
{
    s->sender[0] = '\0';
    s->grant_user[0] = '\0';
    s->rate_name[0] = '\0';
    s->relay = SMTPD_RELAY_NONE;
    s->has_size = 0;
    s->size = 0;
    s->smtputf8 = 0;
    buf_reset(&s->rcpts);
    s->nrcpt = 0;
    s->nrcptcmd = 0;
    s->overshoot = 0;
    if (s->state > SMTPD_ST_READY) {
        s->state = SMTPD_ST_READY;
    }
}

/* A number of seconds from the environment: def when unset, 0 or over SMTPD_TIMEOUT_MAX. */
static unsigned setting_seconds(const char *name, unsigned def)
{
    unsigned long v = cfg_num(name, def);
    return v == 0 || v > SMTPD_TIMEOUT_MAX ? def : (unsigned)v;
}

static void session_init(struct smtpd_session *s, enum smtpd_mode mode)
{
    const char *v;
    /* s is main's static session: zero already, and left untouched here (a memset would
       fault in all of its 35 KB, most of which a session never uses) */
    s->mode = mode;
    s->root = cfg_root();
    if (!s->root) {
        die(EXIT_TEMP, "YUBIN_ROOT is not set to an absolute path");
    }
    if (cfg_me(s->me, sizeof s->me) < 0) {
        die(EXIT_TEMP, "unable to find this host's name (YUBIN_ME, etc/me)");
    }
    v = getenv("TCPREMOTEIP");
    if (!v || str_fmt(s->ip, sizeof s->ip, "%s", v) < 0 || str_has_ctl(s->ip, strlen(s->ip))) {
        str_fmt(s->ip, sizeof s->ip, "unknown");
    }
    v = getenv("TCPREMOTEHOST");
    if (v) {
        smtp_sanitize(v, strlen(v), s->host, sizeof s->host);
    }
    s->timeout = setting_seconds("SMTP_TIMEOUT", SMTPD_TIMEOUT);
    s->stress_timeout = setting_seconds("SMTP_STRESS_TIMEOUT", SMTPD_STRESS_TIMEOUT);
    if (s->stress_timeout > s->timeout) {
        s->stress_timeout = s->timeout;
    }
    s->min_rate = cfg_num("SMTP_MIN_DATA_RATE", SMTPD_MIN_DATA_RATE);
    s->error_limit = cfg_num("SMTP_ERROR_LIMIT", SMTPD_ERROR_LIMIT);
    s->limit = s->timeout;
    s->require_tls = cfg_flag("SMTP_REQUIRE_TLS");
    s->relayclient = getenv("RELAYCLIENT") != NULL;
    s->relay_window = cfg_num("RELAY_WINDOW", 600);
    smtpd_limits_init(s);
    s->rfd = 0;
    s->wfd = 1;
    s->sslctl = ucspi_env_fd("SSLCTLFD");
    s->handfd = ucspi_env_fd("SSLHANDOFFFD");
    s->slotfd = -1;
    s->portfd = -1;
    s->loadfd = -1;
    /* implicit TLS (port 465): tlsd finished the handshake before starting us */
    v = getenv("SSL_PROTOCOL");
    s->tls = v && v[0] && s->sslctl < 0;
    s->implicit_tls = s->tls;
    v = getenv("STARTTLS_SOCKET");
    s->starttls_sock = v && v[0] == '/' && s->sslctl < 0 && !s->tls ? v : NULL;
    smtpd_io_init(s);
    if (s->tls && s->handfd >= 0 && smtpd_io_take_tls(s) < 0) {
        _exit(EXIT_DONE);
    }
    buf_init(&s->rcpts, ENVELOPE_MAX);
    str_fmt(s->id, sizeof s->id, "%08lx%06lx", (unsigned long)time(NULL),
            (unsigned long)getpid() & 0xffffffUL);
    s->state = SMTPD_ST_GREETED;
}

/* STARTTLS is on offer: a tlsd in front (SSLCTLFD) or the STARTTLS service to ask */
static int tls_offered(const struct smtpd_session *s)
{
    return !s->tls && (s->sslctl >= 0 || s->starttls_sock);
}

static void cmd_ehlo(struct smtpd_session *s, const char *arg, size_t n, int esmtp)
{
    const char *kw[8];
    char size_kw[32];               /* "SIZE " and MESSAGE_MAX in decimal (RFC 1870 §4) */
    size_t nk = 0, i, w = 0;
    while (w < n && arg[w] != ' ') {
        w++;
    }
    if (w == 0) {
        smtpd_reply(s, "501 5.5.4 %s needs your host name, e.g. %s mail.example.com",
                    esmtp ? "EHLO" : "HELO", esmtp ? "EHLO" : "HELO");
        return;
    }
    smtpd_reset_mail(s);
    smtp_sanitize(arg, w, s->helo, sizeof s->helo);
    s->esmtp = esmtp;
    s->state = SMTPD_ST_READY;
    if (!esmtp) {
        smtpd_reply(s, "250 %s Hello %s", s->me, s->helo);
        return;
    }
    kw[nk++] = "PIPELINING";
    str_fmt(size_kw, sizeof size_kw, "SIZE %lu", (unsigned long)MESSAGE_MAX);
    kw[nk++] = size_kw;
    kw[nk++] = "8BITMIME";
    kw[nk++] = "ENHANCEDSTATUSCODES";
    kw[nk++] = "SMTPUTF8";
    if (s->mode == SMTPD_MODE_FLEET) {
        kw[nk++] = "XEPOCH";    /* RCPT TO:<a> XEPOCH=N: the home's epoch in the sender's maps */
    } else if (!s->require_tls || s->tls) {
        kw[nk++] = "AUTH PLAIN LOGIN";
    }
    if (tls_offered(s)) {
        kw[nk++] = "STARTTLS";
    }
    smtpd_reply(s, "250-%s Hello %s [%s]", s->me, s->helo, s->ip);
    for (i = 0; i < nk; i++) {
        smtpd_reply(s, "250%c%s", i + 1 == nk ? ' ' : '-', kw[i]);
    }
}

/* RFC 3207 §4, SPECS §7.2: ask tlsd whether TLS can start (454 if not), then 220, flush,
   discard buffered plaintext, 'Y', switch fds. */
static void cmd_starttls(struct smtpd_session *s, size_t n)
{
    struct ucspi_info info;     /* values checked by ucspi_start: printable ASCII, bounded */
    int rfd = ucspi_env_fd("SSLREADFD"), wfd = ucspi_env_fd("SSLWRITEFD");
    if (s->tls) {
        smtpd_reply(s, "503 5.5.1 TLS is already active");
        return;
    }
    if (!s->starttls_sock && (s->sslctl < 0 || (s->handfd < 0 && (rfd < 0 || wfd < 0)))) {
        smtpd_reply(s, "502 5.5.1 STARTTLS is not available on this port");
        return;
    }
    if (n > 0) {
        smtpd_reply(s, "501 5.5.4 STARTTLS takes no parameters");
        return;
    }
    if (s->starttls_sock) {
        /* no tlsd in front: the STARTTLS service starts one for this connection now */
        if (ucspi_serve_connect(s->starttls_sock, s->rfd, s->ip, &s->sslctl, &s->handfd) < 0) {
            log_warn_sys("tls unavailable ip=%s session=%s: unable to ask %s", s->ip, s->id,
                         s->starttls_sock);
            s->starttls_sock = NULL;
            smtpd_reply(s, "454 4.7.0 TLS is not available at the moment; try again later");
            return;
        }
        s->starttls_sock = NULL;
    }
    if (!ucspi_ask(s->sslctl)) {
        /* tlsd logged why; the session goes on in plaintext, without STARTTLS on offer */
        close(s->sslctl);
        s->sslctl = -1;
        if (s->handfd >= 0) {
            close(s->handfd);
            s->handfd = -1;
        }
        log_info("tls unavailable ip=%s session=%s", s->ip, s->id);
        smtpd_reply(s, "454 4.7.0 TLS is not available at the moment; try again later");
        return;
    }
    smtpd_reply(s, "220 2.0.0 Ready to start TLS");
    smtpd_io_flush(s);
    s->inlen = 0;   /* CVE-2011-0411: never read plaintext sent before the handshake */
    if (ucspi_start(s->sslctl, &info) < 0) {
        log_info("tls failed ip=%s session=%s", s->ip, s->id);
        _exit(EXIT_DONE);
    }
    if (s->handfd >= 0) {
        if (smtpd_io_take_tls(s) < 0) {
            _exit(EXIT_DONE);
        }
    } else {
        s->rfd = rfd;
        s->wfd = wfd;
    }
    s->tls = 1;
    smtpd_reset_mail(s);
    s->state = SMTPD_ST_GREETED;
    s->esmtp = 0;
    s->helo[0] = '\0';
    s->authed = 0;
    s->user[0] = '\0';
    /* the one line of a STARTTLS handshake when smtpd took the session over (tlsd -h) */
    log_info("tls ip=%s session=%s protocol=%s cipher=%s sni=%s%s", s->ip, s->id, info.protocol,
             info.cipher, info.sni[0] ? info.sni : "-",
             strcmp(info.resumed, "Resumed") == 0 ? " resumed" : "");
}

static void cmd_noarg(struct smtpd_session *s, const char *verb)
{
    smtpd_reply(s, "501 5.5.4 %s takes no parameters", verb);
}

/* One case per verb, each with its own state check and reply: longer than a screen, but a
   table of handlers would hide those checks from the reader. */
static void dispatch(struct smtpd_session *s, const struct smtp_cmd *c)
{
    switch (c->verb) {
    case VERB_EHLO:
    case VERB_HELO:
        cmd_ehlo(s, c->arg, c->arglen, c->verb == VERB_EHLO);
        break;
    case VERB_MAIL:
        smtpd_cmd_mail(s, c->arg, c->arglen);
        s->log_from = NULL;     /* it pointed into smtpd_cmd_mail's parsed command */
        break;
    case VERB_RCPT:
        smtpd_cmd_rcpt(s, c->arg, c->arglen);
        break;
    case VERB_DATA:
        smtpd_cmd_data(s, c->arg, c->arglen);
        break;
    case VERB_AUTH:
        if (s->mode == SMTPD_MODE_FLEET) {
            smtpd_reply(s, "502 5.5.1 AUTH is not available on the fleet's internal port");
            break;
        }
        smtpd_cmd_auth(s, c->arg, c->arglen);
        break;
    case VERB_STARTTLS:
        cmd_starttls(s, c->arglen);
        break;
    case VERB_RSET:
        if (c->arglen > 0) {
            cmd_noarg(s, "RSET");
            break;
        }
        smtpd_reset_mail(s);
        smtpd_reply(s, "250 2.0.0 Ok: transaction reset");
        break;
    case VERB_NOOP:
        smtpd_reply(s, "250 2.0.0 Ok");
        break;
    case VERB_QUIT:
        if (c->arglen > 0) {
            cmd_noarg(s, "QUIT");
            break;
        }
        /* Free the slots before the client can see 221: a client that connects again
           right after it must not find its old session still counted. */
        if (s->slotfd >= 0) {
            close(s->slotfd);
            s->slotfd = -1;
        }
        if (s->portfd >= 0) {
            close(s->portfd);
            s->portfd = -1;
        }
        smtpd_reply(s, "221 2.0.0 %s closing connection", s->me);
        smtpd_io_quit(s, EXIT_DONE);
    case VERB_VRFY:
        if (c->arglen == 0) {
            smtpd_reply(s, "501 5.5.4 VRFY needs an address");
            break;
        }
        smtpd_reply(s, "252 2.5.2 cannot verify addresses, but will accept the message and try to "
                 "deliver it");
        break;
    case VERB_EXPN:
        smtpd_reply(s, "502 5.5.1 EXPN is not available");
        break;
    case VERB_HELP:
        smtpd_reply(s, "214 2.0.0 commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY AUTH%s",
                    tls_offered(s) ? " STARTTLS" : "");
        break;
    case VERB_UNKNOWN:
        smtpd_reply(s, "500 5.5.1 command not recognized");
        break;
    }
}

static void session_loop(struct smtpd_session *s)
{
    for (;;) {
        struct smtp_cmd c;
        size_t n = 0;
        /* AUTH lines may carry a long initial response (RFC 4954 §4); others fit 512 */
        if (smtpd_io_getline(s, SMTP_AUTH_LINE_MAX, &n) == SMTPD_GL_LONG) {
            if (str_start_nocase(s->line, strlen(s->line), "AUTH ")) {
                smtpd_reply(s, "500 5.5.6 authentication line too long");    /* RFC 4954 §4 */
            } else {
                smtpd_reply(s, "500 5.5.2 line too long: commands are limited to 512 characters");
            }
            continue;
        }
        if (smtp_cmd_parse(s->line, n, &c) < 0) {
            smtpd_reply(s, "500 5.5.2 command contains control characters");
            continue;
        }
        if (c.verb == VERB_MAIL && n + 2 > SMTP_MAIL_CMD_MAX) {
            smtpd_reply(s, "500 5.5.2 line too long: MAIL with its parameters is limited to %d "
                        "characters", SMTP_MAIL_CMD_MAX);
            continue;
        }
        if (c.verb != VERB_AUTH && c.verb != VERB_MAIL && n + 2 > SMTP_CMD_MAX) {
            smtpd_reply(s, "500 5.5.2 line too long: commands are limited to 512 characters");
            continue;
        }
        dispatch(s, &c);
        /* RFC 2920 §3.2: replies to MAIL, RCPT, RSET may wait for the rest of the group;
           the others go out at once */
        if (c.verb != VERB_MAIL && c.verb != VERB_RCPT && c.verb != VERB_RSET) {
            smtpd_io_flush(s);
        }
    }
}

/* The per-IP slot: 421 4.7.0 and exit when the client's address holds SMTP_MAXPERIP. */
static void take_ip_slot(struct smtpd_session *s, const char *dir)
{
    unsigned long maxperip = cfg_num("SMTP_MAXPERIP", 10);
    int r;
    if (maxperip == 0) {
        return;
    }
    r = ipslot_take(dir, s->ip, maxperip, &s->slotfd);
    if (r == 0) {
        smtpd_reply(s, "421 4.7.0 too many connections from your address, try again later");
        smtpd_io_quit(s, EXIT_DONE);
    }
    if (r < 0) {
        log_warn_sys("unable to take a per-IP slot in %s (limit not applied)", dir);
    }
}

/* The port's table (run/smtpd/port-PORT.N): a slot among the first stress-threshold ones, and
   the last of them watched: held means the port serves at least that many sessions. Beyond
   the threshold a session needs no slot (the table is full, so the watched slot is held). */
static void take_port_slot(struct smtpd_session *s, const char *dir)
{
    const char *port = getenv("TCPLOCALPORT");
    unsigned long maxconn = cfg_num("SMTP_MAXCONN", SMTPD_MAXCONN);
    unsigned long percent = cfg_num("SMTP_STRESS_PERCENT", SMTPD_STRESS_PERCENT);
    unsigned long at;
    int r, fd;
    if (!port || percent == 0 || percent > 100 || maxconn == 0 || maxconn > SMTPD_MAXCONN_MAX) {
        return;
    }
    at = (maxconn * percent + 99) / 100;
    r = ipslot_port_take(dir, port, at, &fd);
    if (r < 0 || (s->loadfd = ipslot_port_open(dir, port, at - 1)) < 0) {
        log_warn_sys("unable to use the port table in %s (no stress mode)", dir);
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    s->portfd = fd;     /* -1 when the table was full: the watched slot is held then */
}

/* The fleet's internal port: this node is in fleet mode and the caller proved (tlsd -C: a
   certificate of the fleet CA) that it is node NODE, CN fleet-NODE, of nodes.cdb. Anything
   else is refused before the greeting. An unknown node may be a node just added whose record
   our maps do not hold yet: 421 (the caller retries), not 554. */
static void fleet_peer_check(struct smtpd_session *s)
{
    struct fleethome_node n;
    char self[FLEET_NODE_MAX + 1];
    const char *cn = getenv("SSL_CLIENT_S_DN_CN");
    size_t pl = sizeof FLEET_CN_PREFIX - 1;
    int r;

    r = fleethome_self(s->root, self, sizeof self);
    if (r <= 0) {
        if (r < 0) {
            log_warn("%s", fleethome_strerror(errno));
            smtpd_reply(s, "421 4.3.5 this node's etc/fleet cannot be used (its log says why); "
                           "the fleet's internal port is closed until it is mended");
        } else {
            smtpd_reply(s, "421 4.3.5 this server is not set up as a fleet node (no etc/fleet); "
                           "the fleet's internal port is closed");
        }
        smtpd_io_quit(s, EXIT_DONE);
    }
    if (!s->implicit_tls || !cn || strncmp(cn, FLEET_CN_PREFIX, pl) != 0
        || !fleethome_name_ok(cn + pl, strlen(cn + pl))) {
        log_info("fleet peer refused ip=%s cn=%s session=%s", s->ip, cn ? cn : "-", s->id);
        smtpd_reply(s, "554 5.7.1 this port serves the fleet's nodes only: present the node's "
                       "internal certificate (etc/fleet.d/remote.pem)");
        smtpd_io_quit(s, EXIT_DONE);
    }
    r = fleethome_node(s->root, cn + pl, &n);
    if (r != 1) {
        if (r < 0) {
            log_warn_sys("unable to read cdb/nodes.cdb");
        }
        log_info("fleet peer unknown ip=%s cn=%s session=%s", s->ip, cn, s->id);
        smtpd_reply(s, "421 4.7.0 node %s is not in this node's maps (yet); try again later",
                    cn + pl);
        smtpd_io_quit(s, EXIT_DONE);
    }
    memcpy(s->peer, n.name, sizeof s->peer);
}

int main(int argc, char **argv)
{
    static struct smtpd_session sess;
    enum smtpd_mode mode;
    char slotdir[YUBIN_PATH_MAX];

    log_init("smtpd");
    /* the sending-limit counters (rate/, 0640) are read by ratesync through their group in a
       fleet: not left to the umask the tree was started with (077 in a hardened shell) */
    umask(027);
    if (argc != 2 || (strcmp(argv[1], "-m") != 0 && strcmp(argv[1], "-s") != 0
                      && strcmp(argv[1], "-f") != 0)) {
        usage();
    }
    mode = strcmp(argv[1], "-s") == 0   ? SMTPD_MODE_SUBMISSION
           : strcmp(argv[1], "-f") == 0 ? SMTPD_MODE_FLEET
                                        : SMTPD_MODE_MX;
    if (getuid() == 0 || geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    signal(SIGPIPE, SIG_IGN);
    session_init(&sess, mode);
    log_info("connect ip=%s port=%s mode=%s%s session=%s", sess.ip,
             getenv("TCPLOCALPORT") ? getenv("TCPLOCALPORT") : "?",
             mode == SMTPD_MODE_MX ? "mx" : mode == SMTPD_MODE_FLEET ? "fleet" : "submission",
             sess.tls ? " tls=implicit" : "", sess.id);
    if (mode == SMTPD_MODE_FLEET) {
        /* RELAYCLIENT never applies here; nodes are not limited per IP (remote opens up to
           QUEUE_REMOTE_CONC connections to one home), the port's table still counts */
        sess.relayclient = 0;
        fleet_peer_check(&sess);
        log_info("fleet peer node=%s session=%s", sess.peer, sess.id);
        if (str_fmt(slotdir, sizeof slotdir, "%s/run/smtpd", sess.root) == 0) {
            take_port_slot(&sess, slotdir);
        }
    } else if (str_fmt(slotdir, sizeof slotdir, "%s/run/smtpd", sess.root) < 0) {
        log_warn_sys("unable to use %s/run/smtpd (no per-IP limit, no stress mode)", sess.root);
    } else {
        take_ip_slot(&sess, slotdir);
        take_port_slot(&sess, slotdir);
    }
    smtpd_reply(&sess, "220 %s ESMTP yubin", sess.me);
    session_loop(&sess);
    return EXIT_DONE;
}

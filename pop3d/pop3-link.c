/* pop3-link: a POP3 session relayed to the node that keeps the mailbox, and (-g) grants pushed
   to the other nodes; runs as yubin-link */
/*
 * Exec'd by `checkpw -s -L` (service pop3-link, run/pop3-link.sock) once the front's authd
 * accepted the password of an account whose domain is homed on another node (docs/fleet.md
 * "POP3 through any node"). Environment: YUBIN_ROOT, USER, PLAN, POP3S, POP3_PENDING (hex),
 * TCPREMOTEIP, SSL_PROTOCOL, POP3_TIMEOUT (seconds, default 600).
 * fd 0/1: the client (plaintext; tlsd's pipes on 995 or after STLS); fd 2: the log.
 * It refuses a frozen domain and a TLS login outside the plan (as pop3d does on the home),
 * connects to the home node's internal POP3 port with this node's client certificate
 * (etc/fleet.d/link.pem + link.key; the home must show the fleet CA's fleet-HOME), sends
 * "login USER IP PROTO HEX" (authd/authreq.h fleetreq), passes the home's first reply on,
 * then relays bytes both ways until one side ends. Only this uid reads link.key: pop3-front,
 * the network parser, never holds a key that opens mailboxes on other nodes.
 * Exit: 0 once the client got an answer; 111 before that (pop3-front says -ERR [SYS/TEMP]).
 * pop3-link -g: the service grant-push (run/grant-push.sock, lib/ipcserve, callers: the
 * mailbox uid): each request, argv "grant" IP ADDRESS with one fd (/dev/null), is a
 * POP-before-SMTP grant pop3d just wrote here; it is pushed to every other node's internal
 * POP3 port as "grant IP ADDRESS". Status 0 (pushed, or logged why not), 2 malformed request.
 */
#include "authd/authreq.h"
#include "cdbmap.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "fleethome.h"
#include "ipcserve.h"
#include "addr.h"
#include "limits.h"
#include "log.h"
#include "pop3_parse.h"
#include "str.h"
#include "tls/pump.h"
#include "tls/tlsclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINK_CONNECT_S      5       /* TCP connect and TLS handshake to a node */
#define LINK_LOGIN_S        60      /* the home's answer to the login (a first scan of a large
                                       Maildir) */
#define LINK_FIRST_MAX      8192    /* octets read while looking for the first reply line */
#define LINK_NODES_MAX      256     /* nodes a grant is pushed to; ours */

struct link {
    const char *root, *user, *ip, *proto, *plan, *pop3s, *hex;
    unsigned timeout;
    struct fleethome home;
    char ca[YUBIN_PATH_MAX], cert[YUBIN_PATH_MAX], key[YUBIN_PATH_MAX];
};

/* A refusal the client reads, then exit 0 (the front closes the connection). */
static void answer(const char *line) __attribute__((noreturn));
static void answer(const char *line)
{
    alarm(30);
    (void)fd_write_all(1, line, strlen(line));
    _exit(EXIT_DONE);
}

/* A TCP connection to node n's internal POP3 port within LINK_CONNECT_S, or -1 (errno). */
static int node_connect(const struct fleethome_node *n)
{
    struct addrinfo hints, *ai = NULL;
    char port[8];
    int fd, e, r;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    (void)snprintf(port, sizeof port, "%u", n->pop3_port);
    if (getaddrinfo(n->addr, port, &hints, &ai) != 0 || !ai) {
        errno = EHOSTUNREACH;
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return -1;
    }
    /* replies are batched already; without it a record written while the previous one is
       unacknowledged waits for a delayed ACK (as tcpserver -D on the POP3 ports) */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (r < 0 && errno == EINPROGRESS) {
        struct pollfd p = { fd, POLLOUT, 0 };
        socklen_t len = sizeof e;
        r = poll(&p, 1, LINK_CONNECT_S * 1000);
        if (r == 0) {
            errno = ETIMEDOUT;
            r = -1;
        } else if (r > 0) {
            r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 ? -1 : (e ? (errno = e, -1) : 0);
        }
    }
    if (r < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* TLS to node n as this node (fleet client certificate), the peer checked as fleet-NAME. */
static int node_tls(struct link *l, struct tlsc *c, int fd, const struct fleethome_node *n)
{
    char cn[sizeof FLEET_CN_PREFIX + FLEET_NODE_MAX];
    struct tlsc_fleet f = { l->ca, l->cert, l->key, cn };
    (void)snprintf(cn, sizeof cn, "%s%s", FLEET_CN_PREFIX, n->name);
    return tlsc_start_fleet(c, fd, &f, LINK_CONNECT_S);
}

/* Push "grant IP USER" to one node; 0 ok, -1 failed (logged). */
static int push_one(struct link *l, struct tlsc *c, const struct fleethome_node *n)
{
    char line[FLEETREQ_MAX], reply[64];
    int fd = node_connect(n), len, ok = -1;
    ssize_t r;
    if (fd < 0) {
        log_warn_sys("grant not pushed to node %s ip=%s", n->name, l->ip);
        return -1;
    }
    len = snprintf(line, sizeof line, "grant %s %s\n", l->ip, l->user);
    if (node_tls(l, c, fd, n) == 0 && len > 0 && (size_t)len < sizeof line
        && tlsc_write(c, line, (size_t)len) == 0 && tlsc_flush(c) == 0
        && (r = tlsc_read(c, reply, sizeof reply)) > 2 && memcmp(reply, "+OK", 3) == 0) {
        ok = 0;
    } else {
        log_warn("grant not pushed to node %s ip=%s: %s", n->name, l->ip, tlsc_error(c));
    }
    tlsc_close(c);
    close(fd);
    return ok;
}

/* POP-before-SMTP on every node (docs/fleet.md): pop3d recorded the grant here; every other
   node gets it over its internal POP3 port, one after the other. */
static void push_grants(struct link *l, struct tlsc *c, const char *self)
{
    char names[LINK_NODES_MAX][FLEET_NODE_MAX + 1];
    struct cdbmap m;
    unsigned pos, n = 0, i, pushed = 0;
    if (cdbmap_open(&m, l->root, "nodes") < 0) {
        log_warn_sys("grant not pushed: unable to open cdb/nodes.cdb");
        return;
    }
    cdb_seqinit(&pos, &m.cdb);
    while (n < LINK_NODES_MAX && cdb_seqnext(&pos, &m.cdb) > 0) {
        unsigned klen = cdb_keylen(&m.cdb);
        if (klen == 0 || klen > FLEET_NODE_MAX
            || cdb_read(&m.cdb, names[n], klen, cdb_keypos(&m.cdb)) < 0) {
            continue;
        }
        names[n][klen] = '\0';
        if (strcmp(names[n], self) != 0) {
            n++;
        }
    }
    cdbmap_close(&m);
    for (i = 0; i < n; i++) {
        struct fleethome_node node;
        if (fleethome_node(l->root, names[i], &node) == 1 && push_one(l, c, &node) == 0) {
            pushed++;
        }
    }
    log_info("grant ip=%s user=%s pushed to %u of %u nodes", l->ip, l->user, pushed, n);
}

/* Read the home's first reply line (and whatever came with it) and pass it on. 1: +OK,
   0: a refusal, -1: the home said nothing. */
static int first_reply(struct tlsc *c)
{
    char buf[LINK_FIRST_MAX];
    size_t len = 0;
    while (len < sizeof buf && !memchr(buf, '\n', len)) {
        ssize_t r = tlsc_read(c, buf + len, sizeof buf - len);
        if (r <= 0) {
            return -1;
        }
        len += (size_t)r;
    }
    if (fd_write_all(1, buf, len) < 0) {
        return 0;
    }
    return len >= 3 && memcmp(buf, "+OK", 3) == 0;
}

static void getenv_all(struct link *l)
{
    const char *at;
    l->root = cfg_root();
    l->user = getenv("USER");
    l->ip = getenv("TCPREMOTEIP");
    l->proto = getenv("SSL_PROTOCOL");
    l->plan = getenv("PLAN");
    l->pop3s = getenv("POP3S");
    l->hex = getenv("POP3_PENDING");
    l->timeout = (unsigned)cfg_num("POP3_TIMEOUT", 600);
    if (!l->root || !l->user || !(at = strrchr(l->user, '@'))) {
        die(EXIT_TEMP, "YUBIN_ROOT and USER must be set (run by checkpw -s -L)");
    }
    if (!l->ip) {
        l->ip = "";
    }
    if (!l->proto) {
        l->proto = "";
    }
    if (!l->hex) {
        l->hex = "";
    }
    if (l->timeout == 0) {
        l->timeout = 600;
    }
    if (cfg_path(l->ca, sizeof l->ca, l->root, "etc/fleet.d/ca.pem") < 0
        || cfg_path(l->cert, sizeof l->cert, l->root, "etc/fleet.d/link.pem") < 0
        || cfg_path(l->key, sizeof l->key, l->root, "etc/fleet.d/link.key") < 0) {
        die(EXIT_TEMP, "YUBIN_ROOT is too long");
    }
    if (fleethome_get(l->root, at + 1, &l->home) < 0) {
        die(EXIT_TEMP, "unable to read the home of user=%s: %s", l->user,
            fleethome_strerror(errno));
    }
}

/* The checks a front makes itself, from the fleet maps, before calling the home. */
static void check_front(struct link *l)
{
    char line[POP3_REPLY_MAX];
    if (l->home.here) {
        /* the maps changed since pop3-front looked: the session belongs to pop3d here */
        log_warn("user=%s is homed on this node now; the client should log in again", l->user);
        answer("-ERR [SYS/TEMP] your mailbox was just moved; log in again\r\n");
    }
    if (l->home.state == FLEETHOME_FROZEN) {
        log_info("refused user=%s ip=%s: domain frozen for a move", l->user, l->ip);
        answer(POP3_FROZEN_REPLY);
    }
    if (pop3_tls_implicit(l->proto) && !(l->pop3s && strcmp(l->pop3s, "1") == 0)) {
        log_info("refused user=%s ip=%s: POP3 over TLS not in plan %s", l->user, l->ip,
                 l->plan && *l->plan ? l->plan : "current");
        (void)pop3_plan_refusal(line, sizeof line, l->plan);
        answer(line);
    }
}

/* Relay client <-> home until one side ends. */
static void relay(struct link *l, struct tlsc *c, int fd)
{
    struct pump_relay r;
    char err[64];
    memset(&r, 0, sizeof r);
    r.eng = tlsc_engine(c);
    r.netin = r.netout = fd;
    r.appin = 0;
    r.appout = 1;
    /* the home ends an idle session after POP3_TIMEOUT; this is the backstop */
    r.idle_ms = (long long)(l->timeout + 60) * 1000;
    if (fd_nonblock(0, 1) < 0 || fd_nonblock(1, 1) < 0) {
        log_warn_sys("unable to relay user=%s", l->user);
        return;
    }
    if (pump_relay(&r) < 0 && r.end != PUMP_END_PEER_EOF) {
        log_info("relay ended user=%s home=%s: %s", l->user, l->home.node.name,
                 r.end == PUMP_END_TLS_ERROR ? pump_error_text(r.err, err, sizeof err)
                 : r.end == PUMP_END_IDLE ? "idle" : "connection closed");
    }
    log_info("logout user=%s home=%s octets_in=%llu octets_out=%llu", l->user,
             l->home.node.name, r.bytes_out, r.bytes_in);
}

/* -g: one request of pop3d on run/grant-push.sock. */
static int serve_grant(int argc, char **argv, void *ctx)
{
    struct link *l = ctx;
    char self[FLEET_NODE_MAX + 1];
    struct tlsc *c;
    int r;
    if (argc != 3 || strcmp(argv[0], "grant") != 0 || !str_ip_text_ok(argv[1])
        || !addr_map_ok(argv[2], strlen(argv[2])) || strlen(argv[2]) > ADDR_MAX) {
        log_warn("malformed request: expected grant IP ADDRESS");
        return 2;
    }
    r = fleethome_self(l->root, self, sizeof self);
    if (r < 0) {
        log_warn("grant not pushed ip=%s user=%s: %s", argv[1], argv[2],
                 fleethome_strerror(errno));
    }
    if (r != 1) {
        return EXIT_DONE;           /* not a fleet node (any more): nobody to tell */
    }
    signal(SIGPIPE, SIG_IGN);       /* a node that goes away mid-push is logged, not fatal */
    l->ip = argv[1];
    l->user = argv[2];
    c = malloc(sizeof *c);
    if (!c) {
        log_warn("grant not pushed ip=%s: out of memory", l->ip);
        return EXIT_TEMP;
    }
    push_grants(l, c, self);
    return EXIT_DONE;
}

static int grant_server(struct link *l)
{
    struct ipcserve srv = { "run/grant-push.sock", 1, 64, 0, serve_grant, l, 1 };
    l->root = cfg_root();
    if (!l->root || cfg_path(l->ca, sizeof l->ca, l->root, "etc/fleet.d/ca.pem") < 0
        || cfg_path(l->cert, sizeof l->cert, l->root, "etc/fleet.d/link.pem") < 0
        || cfg_path(l->key, sizeof l->key, l->root, "etc/fleet.d/link.key") < 0) {
        die(EXIT_TEMP, "YUBIN_ROOT must be an absolute path");
    }
    if (ipcserve_listening(0) != 1) {
        die(2, "-g serves run/grant-push.sock: start it from its service");
    }
    if (ipcserve(&srv) < 0) {
        die_sys(EXIT_TEMP, "unable to serve run/grant-push.sock");
    }
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    static struct link lk;
    struct link *l = &lk;
    char req[FLEETREQ_MAX];
    struct tlsc *c;
    int fd, n, first;

    log_init("pop3-link");
    if (getuid() == 0 || geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && strcmp(argv[1], "-g") == 0) {
        return grant_server(l);
    }
    getenv_all(l);
    check_front(l);
    c = malloc(sizeof *c);
    n = snprintf(req, sizeof req, "login %s %s %s %s\n", l->user, *l->ip ? l->ip : "-",
                 *l->proto ? l->proto : "-", *l->hex ? l->hex : "-");
    if (!c || n < 0 || (size_t)n >= sizeof req) {
        die(EXIT_TEMP, "unable to prepare the session of user=%s", l->user);
    }
    fd = node_connect(&l->home.node);
    if (fd < 0) {
        log_warn_sys("home node %s (%s:%u) unreachable user=%s", l->home.node.name,
                     l->home.node.addr, l->home.node.pop3_port, l->user);
        answer(POP3_HOME_DOWN_REPLY);
    }
    if (node_tls(l, c, fd, &l->home.node) < 0 || tlsc_write(c, req, (size_t)n) < 0
        || tlsc_flush(c) < 0) {
        log_warn("home node %s: TLS failed user=%s: %s", l->home.node.name, l->user,
                 tlsc_error(c));
        answer(POP3_HOME_DOWN_REPLY);
    }
    tlsc_set_timeout(c, LINK_LOGIN_S);
    first = first_reply(c);
    if (first < 0) {
        log_warn("home node %s gave no answer user=%s: %s", l->home.node.name, l->user,
                 tlsc_error(c));
        answer(POP3_HOME_DOWN_REPLY);
    }
    log_info("session user=%s ip=%s home=%s %s", l->user, l->ip, l->home.node.name,
             first ? "started" : "refused there");
    if (first) {
        relay(l, c, fd);
    }
    tlsc_close(c);
    close(fd);
    return EXIT_DONE;
}

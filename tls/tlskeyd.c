/* tlskeyd: holds the parsed TLS keys for every tlsd and signs their handshakes; yubin-tlskey */
/*
 * tlsd reads etc/tls as root at each connection (as before) and hands the bytes here ('P')
 * before it drops to yubin-tls and touches the network, then wipes them: the network-facing
 * process never holds the private key. The folder's contents are named by their SHA-256, so a
 * replaced file is a new name, parsed and checked once (keys.c, as tlsd did per connection)
 * and kept among the last TLSKEYD_CACHE folders seen; a session that read the old files at
 * connect still gets the old pair. At the handshake tlsd asks for the chains ('C') and for
 * one signature ('S'), which is done with libcrypto (RSA-2048: ~0.5 ms here, BearSSL i62 ~3.5
 * ms; docs/internals.md "Profile"). It also keeps the TLS sessions tlsd hands it after a full
 * handshake ('W'), for a client that comes back to resume ('R'), TLS_SESSION_TTL seconds
 * (docs/tls.md "Session resumption"). The protocol: tls/keyproto.h. One process, poll loop.
 *
 * usage: tlskeyd [-d FD]   listening unix socket on fd 0 (s6-ipcserver-socketbinder);
 *   -d FD: write a newline there once listening (s6 readiness). TLSKEYD_PEERS: uids allowed
 *   to ask for chains and signatures (ipcfd list format); root may always connect, and only
 *   root (or our own uid, not root) may put a folder. TLS_SESSION_TTL: seconds a session may
 *   be resumed (default 3600, at most 86400, 0 none kept).
 * exit: 100 usage, 111 a system call failed or started as root.
 */
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcfd.h"
#include "ipcserve.h"
#include "keyproto.h"
#include "keys.h"
#include "limits.h"
#include "log.h"
#include "pump.h"
#include "str.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TLSKEYD_CACHE     8         /* certificate folders kept (by content) */
#define TLSKEYD_CONNS_MIN 256       /* connections at once, at least (the fd limit allowing) */
#define TLSKEYD_CONNS_MAX 65536     /* and at most */
#define TLSKEYD_FD_SPARE  16        /* fds besides the connections: socket, log, notify, files */
#define TLSKEYD_IDLE_MS   60000     /* a connection silent this long is closed (> tlsd -t) */
#define TLSKEYD_SESSIONS  4096      /* TLS sessions kept for resumption (~0.5 MB of slots) */
#define TLSKEYD_SESSION_TTL 3600    /* TLS_SESSION_TTL default, seconds (Postfix's default) */
#define TLSKEYD_SESSION_TTL_MAX 86400   /* RFC 5246 F.1.4: no longer than 24 hours */
#define TLSKEYD_SWEEP_MS  60000     /* expired sessions are wiped at most this late */

struct entry {
    unsigned char digest[KEYPROTO_DIGEST];
    int used;
    long long last;                 /* pump_now_ms() of the last use: LRU */
    int bad;                        /* 1: err says why the folder is unusable */
    time_t valid_from;              /* bad only as not valid yet: read again from this time */
    char err[KEYS_ERR_MAX];
    char dir[YUBIN_PATH_MAX];
    struct keys keys;
    EVP_PKEY *pk[KEYS_CERTS_MAX];
};

struct conn {
    int fd;                         /* -1 = free slot */
    uid_t uid;
    unsigned char head[5];
    size_t have;                    /* octets of head + body read so far */
    unsigned char *body;            /* malloc'd once the header is in */
    size_t len;
    long long last;
};

/* A slot of the session table: the session's random ID picks it (its first four octets), a
   newer session with the same pick replaces it. */
struct session_slot {
    long long expires;              /* pump_now_ms(); 0 = empty */
    struct keyproto_session s;
};

struct keyd {
    const char *peers;
    long long session_ttl_ms;       /* 0: no resumption */
    long long swept;                /* pump_now_ms() of the last sweep */
    struct session_slot sessions[TLSKEYD_SESSIONS];
    struct entry cache[TLSKEYD_CACHE];
    size_t cap, n;                  /* room for cap connections; conns[0..n) are open */
    struct conn *conns;             /* cap of them */
    struct pollfd *pfd;             /* cap + 1: pfd[j] polls conns[j], pfd[n] the socket */
};

static void entry_free(struct entry *e)
{
    size_t i;
    for (i = 0; i < KEYS_CERTS_MAX; i++) {
        if (e->pk[i]) {
            EVP_PKEY_free(e->pk[i]);
            e->pk[i] = NULL;
        }
    }
    keys_free(&e->keys);
    e->used = 0;
    e->bad = 0;
    e->valid_from = 0;
    e->err[0] = '\0';
}

static struct entry *lookup(struct keyd *k, const unsigned char *digest)
{
    size_t i;
    for (i = 0; i < TLSKEYD_CACHE; i++) {
        if (k->cache[i].used && memcmp(k->cache[i].digest, digest, KEYPROTO_DIGEST) == 0) {
            k->cache[i].last = pump_now_ms();
            return &k->cache[i];
        }
    }
    return NULL;
}

/* libcrypto's view of each key, from copies of the PEM bytes that keys.c decodes (and
   wipes). 0 ok, -1 err set. */
static int load_pkeys(struct entry *e, char *const *pem, const size_t *len, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        BIO *b = BIO_new_mem_buf(pem[i], (int)len[i]);
        if (!b) {
            (void)str_fmt(e->err, sizeof e->err, "out of memory");
            return -1;
        }
        e->pk[i] = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        if (!e->pk[i]) {
            (void)str_fmt(e->err, sizeof e->err, "%s/%s.key: libcrypto cannot use the key",
                          e->dir, e->keys.certs[i].host[0] ? e->keys.certs[i].host : "server");
            return -1;
        }
    }
    return 0;
}

/* Parse and check a folder's bytes (keys.c, the same checks and messages as tlsd in-process)
   into the least recently used entry. */
static void put_folder(struct keyd *k, const unsigned char *digest, const unsigned char *body,
                       size_t len)
{
    struct entry *e = &k->cache[0];
    struct keys_raw *r = calloc(1, sizeof *r);
    char *copy[KEYS_CERTS_MAX] = { NULL };
    size_t clen[KEYS_CERTS_MAX] = { 0 };
    time_t now = time(NULL);
    size_t i, n = 0;

    for (i = 0; i < TLSKEYD_CACHE; i++) {
        if (!k->cache[i].used) {
            e = &k->cache[i];
            break;
        }
        if (k->cache[i].last < e->last) {
            e = &k->cache[i];
        }
    }
    entry_free(e);
    memcpy(e->digest, digest, KEYPROTO_DIGEST);
    e->used = 1;
    e->last = pump_now_ms();
    if (!r || keyproto_get_raw(body, len, r, e->dir, sizeof e->dir) < 0) {
        (void)str_fmt(e->err, sizeof e->err, "the key holder got a malformed folder");
        e->bad = 1;
        free(r);
        return;
    }
    for (n = 0; n < r->n; n++) {        /* keys_parse_raw wipes the bytes: copies for libcrypto */
        copy[n] = malloc(r->pairs[n].key_len + 1);
        if (!copy[n]) {
            break;
        }
        memcpy(copy[n], r->pairs[n].key, r->pairs[n].key_len);
        clen[n] = r->pairs[n].key_len;
    }
    if (n < r->n) {
        (void)str_fmt(e->err, sizeof e->err, "out of memory");
        e->bad = 1;
    } else if (keys_parse_raw(&e->keys, r, e->err, sizeof e->err) < 0) {
        e->bad = 1;
    }
    for (i = 0; i < e->keys.n && !e->bad; i++) {
        const struct keys_cert *c = &e->keys.certs[i];
        long days;
        if (keys_check(c, now, &days, e->err, sizeof e->err) < 0) {
            e->bad = 1;
            if (keys_match(c) && now < c->not_before && now <= c->not_after) {
                e->valid_from = c->not_before;      /* a renewal put in early, a clock behind */
            }
        }
    }
    if (!e->bad && load_pkeys(e, copy, clen, e->keys.n) < 0) {
        e->bad = 1;
    }
    for (i = 0; i < n; i++) {
        explicit_bzero(copy[i], clen[i]);
        free(copy[i]);
    }
    keys_raw_free(r);
    free(r);
    if (e->bad) {
        keys_free(&e->keys);
    }
    log_info("folder %s: %s", e->dir, e->bad ? e->err : "ok");
}

static const EVP_MD *md_of(unsigned hash_id)
{
    switch (hash_id) {
    case br_sha1_ID: return EVP_sha1();
    case br_sha224_ID: return EVP_sha224();
    case br_sha256_ID: return EVP_sha256();
    case br_sha384_ID: return EVP_sha384();
    case br_sha512_ID: return EVP_sha512();
    default: return NULL;
    }
}

/* PKCS#1 v1.5 (RSA, with the hash's DigestInfo) or DER ECDSA over hv. Length, or 0. */
static size_t sign(EVP_PKEY *pk, unsigned hash_id, const unsigned char *hv, size_t hv_len,
                   unsigned char *sig, size_t cap)
{
    const EVP_MD *md = md_of(hash_id);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    size_t n = cap;
    int ok;

    if (!ctx || !md || hv_len != (size_t)EVP_MD_get_size(md)) {
        EVP_PKEY_CTX_free(ctx);
        return 0;
    }
    ok = EVP_PKEY_sign_init(ctx) > 0
         && (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA
             || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0)
         && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0
         && EVP_PKEY_sign(ctx, sig, &n, hv, hv_len) > 0;
    EVP_PKEY_CTX_free(ctx);
    return ok ? n : 0;
}

/* A folder checked when it was put may have expired since (or come into its dates): the date
   checks again, with keys_check's words, whenever a certificate is outside its dates now. */
static void expired(struct entry *e)
{
    time_t now = time(NULL);
    size_t i;
    for (i = 0; i < e->keys.n; i++) {
        const struct keys_cert *c = &e->keys.certs[i];
        long days;
        if ((now > c->not_after || now < c->not_before)
            && keys_check(c, now, &days, e->err, sizeof e->err) < 0) {
            e->bad = 1;
            if (now < c->not_before) {  /* the clock went back: read it again when it is time */
                e->valid_from = c->not_before;
            }
            keys_free(&e->keys);
            return;
        }
    }
}

static int reply_err(int fd, const char *text)
{
    return keyproto_send(fd, KEYPROTO_ERR, text, strlen(text));
}

static struct session_slot *session_slot(struct keyd *k, const unsigned char *id)
{
    uint32_t v = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
    return &k->sessions[v % TLSKEYD_SESSIONS];
}

/* Wipe every expired session: a master secret is kept no longer than TLS_SESSION_TTL (plus
   TLSKEYD_SWEEP_MS), even when no newer session comes to take its slot. 4,096 slots, about
   0.5 MB read once a minute. */
static void session_sweep(struct keyd *k, long long now)
{
    size_t i;
    if (now - k->swept < TLSKEYD_SWEEP_MS) {
        return;
    }
    k->swept = now;
    for (i = 0; i < TLSKEYD_SESSIONS; i++) {
        struct session_slot *slot = &k->sessions[i];
        if (slot->expires != 0 && slot->expires <= now) {
            explicit_bzero(slot, sizeof *slot);
        }
    }
}

/* 'W' (keep a session; no answer) and 'R' (the session with this ID if it has not expired,
   else an empty answer). */
static int session_request(struct keyd *k, struct conn *c, int type)
{
    struct keyproto_session s;
    struct keyproto_buf b = { NULL, 0, 0 };
    struct session_slot *slot;
    long long now = pump_now_ms();
    int rc;

    if (keyproto_get_session(c->body, c->len, &s, type == KEYPROTO_SAVE) < 0) {
        return -1;
    }
    slot = session_slot(k, s.id);
    if (slot->expires != 0 && slot->expires <= now) {
        explicit_bzero(slot, sizeof *slot);
    }
    if (type == KEYPROTO_SAVE) {
        if (k->session_ttl_ms > 0) {
            slot->s = s;
            slot->expires = now + k->session_ttl_ms;
        }
        explicit_bzero(&s, sizeof s);
        return 0;
    }
    if (slot->expires == 0 || memcmp(slot->s.id, s.id, sizeof s.id) != 0) {
        return keyproto_send(c->fd, KEYPROTO_OK, NULL, 0);
    }
    if (keyproto_put_session(&b, &slot->s, 1) < 0) {
        keyproto_free(&b);
        return reply_err(c->fd, "out of memory");
    }
    rc = keyproto_send(c->fd, KEYPROTO_OK, b.p, b.len);
    keyproto_free(&b);
    return rc;
}

/* The 'C' answer for a usable folder. */
static int send_chains(int fd, struct entry *e)
{
    struct keyproto_buf b = { NULL, 0, 0 };
    int rc;

    if (keyproto_put_chains(&b, &e->keys) < 0) {
        keyproto_free(&b);
        return reply_err(fd, "out of memory");
    }
    rc = keyproto_send(fd, KEYPROTO_OK, b.p, b.len);
    keyproto_free(&b);
    return rc;
}

/* One complete request. 0 keep the connection, -1 close it. */
static int handle(struct keyd *k, struct conn *c)
{
    unsigned char digest[KEYPROTO_DIGEST];
    struct entry *e;
    int type = c->head[0];

    if (type == KEYPROTO_PUT) {
        br_sha256_context h;
        if (c->uid != 0 && c->uid != geteuid()) {
            log_warn("refused a folder from uid %lu (only root puts one)", (unsigned long)c->uid);
            return -1;
        }
        br_sha256_init(&h);
        br_sha256_update(&h, c->body, c->len);
        br_sha256_out(&h, digest);
        e = lookup(k, digest);
        if (e && e->bad && e->valid_from && time(NULL) >= e->valid_from) {
            entry_free(e);      /* not valid yet when it was read, and now it may be */
            e = NULL;
        }
        if (!e) {
            put_folder(k, digest, c->body, c->len);
            e = lookup(k, digest);
        }
        if (e && !e->bad) {
            expired(e);
        }
        /* a usable folder's chains come back at once, so that tlsd need not ask for them when
           TLS starts; for a bad one the answer is empty, and 'C' then gives the reason */
        return e && !e->bad ? send_chains(c->fd, e) : keyproto_send(c->fd, KEYPROTO_OK, NULL, 0);
    }
    if (type == KEYPROTO_CHAINS) {
        if (c->len != KEYPROTO_DIGEST) {
            return -1;
        }
        e = lookup(k, c->body);
        if (e && !e->bad) {
            expired(e);
        }
        if (!e || e->bad) {
            return reply_err(c->fd, e ? e->err : "the key holder no longer has the certificate "
                             "folder this connection read (restarted?)");
        }
        return send_chains(c->fd, e);
    }
    if (type == KEYPROTO_SAVE || type == KEYPROTO_RESUME) {
        return session_request(k, c, type);
    }
    if (type == KEYPROTO_SIGN) {
        unsigned idx, hash_id;
        const unsigned char *hv;
        size_t hv_len, n;
        unsigned char sig[KEYPROTO_SIG_MAX];
        if (keyproto_get_sign(c->body, c->len, digest, &idx, &hash_id, &hv, &hv_len) < 0) {
            return -1;
        }
        e = lookup(k, digest);
        if (!e || e->bad || idx >= e->keys.n) {
            return reply_err(c->fd, "no such key");
        }
        n = sign(e->pk[idx], hash_id, hv, hv_len, sig, sizeof sig);
        if (n == 0) {
            return reply_err(c->fd, "signing failed");
        }
        return keyproto_send(c->fd, KEYPROTO_OK, sig, n);
    }
    return -1;
}

static void conn_close(struct conn *c)
{
    if (c->body) {
        explicit_bzero(c->body, c->len);
        free(c->body);
        c->body = NULL;
    }
    close(c->fd);
    c->fd = -1;
}

/* Read what is there; run a request once it is complete. */
static void conn_read(struct keyd *k, struct conn *c)
{
    for (;;) {
        ssize_t r;
        if (c->have < sizeof c->head) {
            r = read(c->fd, c->head + c->have, sizeof c->head - c->have);
        } else {
            r = read(c->fd, c->body + (c->have - sizeof c->head),
                     c->len - (c->have - sizeof c->head));
        }
        if (r < 0 && errno == EAGAIN) {
            return;
        }
        if (r <= 0) {
            conn_close(c);
            return;
        }
        c->have += (size_t)r;
        c->last = pump_now_ms();
        if (c->have == sizeof c->head) {
            c->len = (size_t)c->head[1] << 24 | (size_t)c->head[2] << 16
                     | (size_t)c->head[3] << 8 | c->head[4];
            if (c->len > KEYPROTO_MSG_MAX || !(c->body = malloc(c->len ? c->len : 1))) {
                conn_close(c);
                return;
            }
        }
        if (c->have >= sizeof c->head && c->have == sizeof c->head + c->len) {
            int rc = handle(k, c);
            explicit_bzero(c->body, c->len);
            free(c->body);
            c->body = NULL;
            c->have = 0;
            if (rc < 0) {
                conn_close(c);
                return;
            }
        }
    }
}

static void accept_one(struct keyd *k)
{
    struct conn *c = NULL;
    struct timeval tv = { 1, 0 };   /* answers are small: a peer that does not read is dropped */
    uid_t uid;
    int fd = accept4(0, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        return;
    }
    if (ipcserve_peer_uid(fd, &uid) < 0
        || (uid != 0 && uid != geteuid() && ipcfd_peers_find(k->peers, uid) != 1)) {
        log_warn("refused a connection from uid %lu (not in TLSKEYD_PEERS)", (unsigned long)uid);
        close(fd);
        return;
    }
    if (k->n < k->cap) {
        c = &k->conns[k->n];
    }
    if (!c || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
        close(fd);
        return;
    }
    memset(c, 0, sizeof *c);
    k->n++;
    c->fd = fd;
    c->uid = uid;
    c->last = pump_now_ms();
}

/* The poll loop. Each pass drops the connections closed in the last one (and the idle ones)
   by moving the open ones down, so pfd[j] is conns[j] and a pass costs the open ones only. */
static void serve(struct keyd *k)
{
    size_t i, m;
    for (;;) {
        long long now = pump_now_ms();
        session_sweep(k, now);
        for (i = m = 0; i < k->n; i++) {
            struct conn *c = &k->conns[i];
            if (c->fd >= 0 && now - c->last > TLSKEYD_IDLE_MS) {
                conn_close(c);
            }
            if (c->fd < 0) {
                continue;
            }
            if (m != i) {
                k->conns[m] = *c;
            }
            k->pfd[m].fd = c->fd;
            k->pfd[m].events = POLLIN;
            k->pfd[m].revents = 0;
            m++;
        }
        k->n = m;
        k->pfd[m].fd = m < k->cap ? 0 : -1;     /* full: new clients wait in the backlog */
        k->pfd[m].events = POLLIN;
        k->pfd[m].revents = 0;
        if (poll(k->pfd, m + 1, 1000) < 0) {
            if (errno == EINTR) {
                continue;
            }
            die_sys(EXIT_TEMP, "unable to poll");
        }
        for (i = 0; i < m; i++) {
            if (k->pfd[i].revents) {
                conn_read(k, &k->conns[i]);     /* a close leaves fd -1: dropped next pass */
            }
        }
        if (k->pfd[m].revents & POLLIN) {
            accept_one(k);
        }
    }
}

/* Room for a connection from every TLS session the ports may hold at once (each tlsd keeps
   one to us through its handshake), so a port's own session limit is reached before we are
   full: 25, 587, 465 and the fleet's 4025 take SMTP_MAXCONN each, 110 and 995 POP3_MAXCONN,
   the fleet's 4110 POP3D_MAXCONN (the run scripts' defaults). Raises the soft fd limit to fit,
   as far as the hard one allows. */
static void conn_budget(struct keyd *k)
{
    unsigned long smtp = cfg_num("SMTP_MAXCONN", 1000), pop3 = cfg_num("POP3_MAXCONN", 100),
                  pop3d = cfg_num("POP3D_MAXCONN", 400);
    unsigned long want = 4 * (smtp < TLSKEYD_CONNS_MAX ? smtp : TLSKEYD_CONNS_MAX)
                         + 2 * (pop3 < TLSKEYD_CONNS_MAX ? pop3 : TLSKEYD_CONNS_MAX)
                         + (pop3d < TLSKEYD_CONNS_MAX ? pop3d : TLSKEYD_CONNS_MAX);
    unsigned long need, have;

    want = want < TLSKEYD_CONNS_MIN ? TLSKEYD_CONNS_MIN
           : want > TLSKEYD_CONNS_MAX ? TLSKEYD_CONNS_MAX : want;
    need = want + TLSKEYD_FD_SPARE;
    if (fd_limit_raise(need, &have) < 0) {
        die_sys(EXIT_TEMP, "unable to raise the fd limit");
    }
    k->cap = want;
    if (have < need) {
        if (have < 64 + TLSKEYD_FD_SPARE) {
            die(EXIT_TEMP, "fd limit %lu too low: tlskeyd needs %lu", have, need);
        }
        k->cap = have - TLSKEYD_FD_SPARE;
        log_warn("fd limit %lu below %lu: at most %zu TLS handshakes at once", have, need,
                 k->cap);
    }
    k->conns = calloc(k->cap, sizeof *k->conns);
    k->pfd = calloc(k->cap + 1, sizeof *k->pfd);
    if (!k->conns || !k->pfd) {
        die(EXIT_TEMP, "out of memory");
    }
}

int main(int argc, char **argv)
{
    struct keyd *k = calloc(1, sizeof *k);
    unsigned long ttl;
    int notify = -1;

    log_init("tlskeyd");
    if (argc == 3 && strcmp(argv[1], "-d") == 0) {
        uint64_t v;
        if (str_to_u64(argv[2], strlen(argv[2]), &v) < 0 || v < 3 || v > 1024) {
            die(EXIT_PERM, "usage: tlskeyd [-d FD]");
        }
        notify = (int)v;
    } else if (argc != 1) {
        die(EXIT_PERM, "usage: tlskeyd [-d FD]");
    }
    if (geteuid() == 0) {
        die(EXIT_TEMP, "refusing to hold keys as root: start me as the TLS key uid");
    }
    if (!k) {
        die(EXIT_TEMP, "out of memory");
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
    }
    k->peers = getenv("TLSKEYD_PEERS");
    ttl = cfg_num("TLS_SESSION_TTL", TLSKEYD_SESSION_TTL);
    k->session_ttl_ms = (long long)(ttl < TLSKEYD_SESSION_TTL_MAX ? ttl : TLSKEYD_SESSION_TTL_MAX)
                        * 1000;
    conn_budget(k);
    if (fd_nonblock(0, 1) < 0) {
        die_sys(EXIT_TEMP, "unable to set up the listening socket");
    }
    log_info("ready; TLS sessions kept %lld s for resumption; room for %zu handshakes at once",
             k->session_ttl_ms / 1000, k->cap);
    if (notify >= 0) {
        (void)fd_write_all(notify, "\n", 1);
        close(notify);
    }
    serve(k);
    return EXIT_TEMP;
}

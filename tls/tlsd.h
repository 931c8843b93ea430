/* tlsd.h: the state of one tlsd connection, shared by the files of the tlsd program
   (tlsd.c: arguments, the set-up as root, the privilege drops, the STARTTLS service's loop,
   main; tlsd_certs.c: the certificate folder, parsed here or held by tlskeyd; tlsd_engine.c:
   the BearSSL server engine and the handshake; tlsd_child.c: the child, its control channel
   and the relay to it) */
#ifndef YUBIN_TLS_TLSD_H
#define YUBIN_TLS_TLSD_H

#include "handoff.h"
#include "keyproto.h"
#include "keys.h"
#include "limits.h"
#include "tlsclient.h"
#include "ucspi.h"

#include <bearssl.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* MODE_SERVE (-S): the STARTTLS service, one STARTTLS per request of a daemon that tcpserver
   started without tlsd in front (run/starttls.sock, lib/ipcserve; docs/tls.md) */
enum mode { MODE_IMPLICIT, MODE_STARTTLS, MODE_SERVE, MODE_CHECK };

#define TLSD_CHAINS_FRESH 60        /* seconds the chains sent with the folder's answer serve */

struct tlsd;

/* The TLS sessions kept for resumption: tlskeyd holds them (docs/tls.md "Session
   resumption"); this is BearSSL's cache interface in front of it. */
struct session_cache {
    const br_ssl_session_cache_class *vtable;   /* first: BearSSL passes &vtable */
    struct tlsd *t;
};

struct sni_policy {
    const br_ssl_server_policy_class *vtable;   /* first: BearSSL passes &vtable */
    br_ssl_server_context *sc;
    struct keys *keys;
    const struct keys_cert *chosen;
    struct tlsd *t;
};

/* A key that tlskeyd holds: what BearSSL's single-certificate policy needs to choose (RSA
   modulus size, EC curve) and, through the pointer it passes to our sign function, the way
   back to the holder. The key itself is never here. */
struct remote_key {
    br_rsa_private_key rsa;         /* only n_bitlen is set */
    br_ec_private_key ec;           /* only curve is set */
    struct tlsd *t;
    unsigned idx;                   /* the pair in tlskeyd's folder */
};

struct tlsd {
    enum mode mode;
    const char *user;               /* -u NAME or UID:GID; NULL = stay who we are (not root) */
    int drop;                       /* 1: become uid/gid (-u) before reading the network */
    uid_t uid;
    gid_t gid;
    const char *child_ids;          /* -c as given, for messages; NULL = child keeps our ids */
    int child_drop;                 /* 1: the child drops to child_uid/child_gid before exec */
    uid_t child_uid;
    gid_t child_gid;
    unsigned long handshake_s, idle_s;
    const char *dir;
    char dirbuf[YUBIN_PATH_MAX];    /* $YUBIN_ROOT/etc/tls when -d is absent */
    char **prog;
    const char *ip;
    unsigned maxconn;               /* -S: handshakes at once (-n) */
    int serving;                    /* -S: a request's child; the caller is not our child */
    int logfd;                      /* -S: the service's log, put back on fd 2 in each child */
    struct keys_raw raw;            /* the files' bytes, read as root; parsed when TLS starts */
    char keyerr[KEYS_ERR_MAX];
    struct keys keys;               /* parsed and checked: only once TLS is wanted */
    const char *keysock;            /* -k: tlskeyd's socket; NULL = keys parsed in-process */
    int holder;                     /* 1: tlskeyd has the folder (digest); keys.certs have no key */
    unsigned char digest[KEYPROTO_DIGEST];
    int kfd;                        /* to tlskeyd while TLS starts; -1 otherwise */
    unsigned char *chains;          /* tlskeyd's chains, not yet decoded (malloc'd); or NULL */
    size_t chains_len;
    time_t chains_at;               /* when tlskeyd checked them */
    struct keyproto_pair pairs[KEYS_CERTS_MAX];
    struct remote_key rkeys[KEYS_CERTS_MAX];
    br_ssl_server_context sc;
    struct sni_policy policy;
    struct session_cache cache;
    int resumed;                    /* 1: this handshake resumed a session tlskeyd kept */
    unsigned char resumed_name[KEYPROTO_DIGEST];    /* the server name it was made for */
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
    pid_t child;
    int ctl, appin, appout, info;   /* our ends: control socket, pipes; -1 if unused */
    int handoff;                    /* -h: the child takes over the records after the handshake */
    int hand;                       /* -h: our end of the pipe the handoff state goes on; -1 */
    char envbuf[3][32];             /* the STARTTLS child's SSL*FD=N entries */
    char **childenv;                /* its environment while it is being started */
    struct ucspi_info report;
    const char *cafile;             /* -C: require a client certificate of this CA */
    struct tlsc_anchors ca;
    br_x509_minimal_context xc;
    br_name_element cn;             /* the client certificate's subject CN */
    char cnbuf[TLSC_CN_MAX + 1];
};

/* tlsd.c */
/* The checked drop to uid/gid (setgroups, setgid, setuid, setuid(0) must fail); dies if not. */
void drop_to(uid_t uid, gid_t gid, const char *who);

/* tlsd_certs.c */
/* Decode and check the folder's pairs (or get the chains from tlskeyd). 0 ok, -1 t->keyerr. */
int parse_keys(struct tlsd *t);
/* As root: hand the folder's bytes to tlskeyd (-k) and wipe them here if it takes them. */
void hand_over(struct tlsd *t);
/* The connection to tlskeyd for a lookup or the signature, made when first needed (t->kfd).
   0 ok, -1 errno. */
int holder_connect(struct tlsd *t);
/* Install pair c as BearSSL's single certificate, its key here or at tlskeyd. */
void set_pair(struct tlsd *t, br_ssl_server_context *sc, const struct keys_cert *c);
/* --check: read, parse and check the whole folder, one line a pair; EXIT_DONE or dies 100. */
int run_check(struct tlsd *t);

/* tlsd_engine.c */
/* Set up the server engine for this connection. 0 ok, -1 failure (logged). */
int engine_setup(struct tlsd *t);
/* Set up the engine and do the handshake on fd 0/1, t->report filled. 0 done, -1 (logged). */
int handshake(struct tlsd *t);

/* tlsd_child.c */
/* Fork the child with its pipes and control channel; our ends in t (as root: -c drops it). */
void spawn(struct tlsd *t);
/* Close our ends of the child's pipes and control channel that are still open. */
void close_ours(struct tlsd *t);
/* Wait a bounded time for the child to end. */
void reap(struct tlsd *t);
/* Write the handshake report on fd. 0 ok, -1 errno. */
int send_report(int fd, const struct ucspi_info *ui);
/* STARTTLS: wait for the child's start byte. 1 start (*want_report set), 0 declined. */
int wait_start(struct tlsd *t, int *want_report);
/* Relay between the TLS engine on fd 0/1 and the child's pipes until the session ends. */
void relay(struct tlsd *t);
/* -h: write the record state on t->hand and close it. 0 ok, -1 (logged). */
int hand_off(struct tlsd *t);

#endif

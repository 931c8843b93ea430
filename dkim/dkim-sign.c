/* dkim-sign: DKIM-signs one message for queue-inject (rsa-sha256, relaxed/relaxed); runs as yubin-dkim (run/dkim.sock) */
/* Request (lib/ipcfd, from the queue's uid only: queue-inject and queue-run, through
   queue/signcall): argv "dkim-sign" ACCOUNT SENDER, fd 0 the message (read to EOF), fd 1 the
   answer. ACCOUNT: the account that authenticated, or for the server's own mail (bounces,
   alerts, the settings mail) the address the server wrote in its From. Exit codes (enum dkim_sign_exit, lib/dkim.h): 0 the
   DKIM-Signature field is on fd 1; 1 the From domain has no key, 2 the From address is missing,
   several, or not in the domain of ACCOUNT or SENDER, 3 the header section is over
   DKIM_HEADER_MAX (for 1..3 fd 1 holds the From domain or nothing, and "\n"); 100 bad usage;
   111 the key cannot be read or used.

   The only uid that reads ROOT/dkim/ and cdb/dkim.cdb (the private keys); it opens no socket
   but its own and never talks to the network. Memory: the header section (at most
   DKIM_HEADER_MAX) and its field index; the body is hashed as it streams by. The loop parses
   every domain's current key at start (keys_preload) and its children use that copy while the
   key file is the same file (device, inode, size, mtime, ctime); any other key file (a
   rotation: mailacct domain dkim D rotate, or a key copied over) is read by the child itself,
   so the next message is signed with it. In fleet mode (ROOT/etc/fleet) the keys come from
   ROOT/cdb/dkim.cdb instead, which mapsync compiles from etcd (dkim/dkimdir.h;
   yubin-sync:yubin-dkim 0640): the loop's copy is used while the map holds the same octets
   for that domain and selector, so a rotation anywhere in the fleet signs from the next
   message on. RSA with libcrypto (~6x BearSSL's portable code here). Where and why it runs,
   the header it writes, the cost: docs/dkim.md. */
#include "cdbmap.h"
#include "cfg.h"
#include "dkim.h"
#include "dkimdir.h"
#include "dkimkey.h"
#include "exitcode.h"
#include "fd.h"
#include "fleethome.h"
#include "ipcserve.h"
#include "log.h"
#include "str.h"
#include "tls/keys.h"
#include "b64.h"

#include <bearssl.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIGN_CONN_MAX   64          /* messages signed at once */
#define SIGN_PROCESS_USES 100       /* messages one child of the loop signs, then ends */
#define SIGN_READ       65536       /* one read() of the message */
#define SIGN_KEYS_MAX   4096        /* domains whose key the loop parses at start */
#define SIGN_LINE       78          /* characters a line of the field holds (RFC 5322 §2.1.1) */

/* The keys the loop parsed at start (keys_preload), shared with its children: a child forked
   per message inherits them, so a message whose key file is unchanged is signed without
   reading or decoding it. */
struct keyent {
    char path[YUBIN_PATH_MAX];      /* the key file; in a fleet "DOMAIN/SELECTOR" of dkim.cdb */
    struct stat st;                 /* the file as it was parsed (same_file) */
    unsigned char sum[br_sha256_SIZE];  /* fleet: SHA-256 of the key's DER as it was parsed */
    EVP_PKEY *pk;
};
struct keycache {
    struct keyent *e;               /* at most SIGN_KEYS_MAX */
    size_t n;
};

struct signer {
    const struct keycache *keys;    /* NULL when run by hand */
    int fleet;                      /* ROOT/etc/fleet: the keys are in cdb/dkim.cdb */
    const char *root, *account, *sender;
    char *h;                        /* the header section, then the first part of the body */
    size_t len, hlen;
    struct dkim_field *f;
    long nf;
    br_sha256_context bh;
    struct dkim_body body;
    char domain[SMTP_DOMAIN_MAX + 1];
    char sel[DKIM_SELECTOR_MAX + 1];
};

static void sha_out(void *ctx, const char *p, size_t n)
{
    br_sha256_update(ctx, p, n);
}

/* Read the header section into g->h and hash the body as it comes. 0 ok, or DKIM_SIGN_TOOBIG;
   a read error dies 111. */
static int read_message(struct signer *g)
{
    size_t cap = DKIM_HEADER_MAX + SIGN_READ, body = 0;
    int found = 0;
    ssize_t r;

    g->h = malloc(cap);
    if (!g->h) {
        die(EXIT_TEMP, "out of memory");
    }
    while (!found) {
        r = read(0, g->h + g->len, cap - g->len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            die_sys(EXIT_TEMP, "unable to read the message");
        }
        if (r == 0) {
            break;
        }
        g->len += (size_t)r;
        found = dkim_header_end(g->h, g->len, &g->hlen, &body);
        if (!found && g->len > DKIM_HEADER_MAX) {
            return DKIM_SIGN_TOOBIG;
        }
    }
    if (!found) {
        dkim_header_end(g->h, g->len, &g->hlen, &body);   /* no body: all header */
    }
    if (g->hlen > DKIM_HEADER_MAX) {
        return DKIM_SIGN_TOOBIG;
    }
    br_sha256_init(&g->bh);
    dkim_body_init(&g->body, sha_out, &g->bh);
    dkim_body_update(&g->body, g->h + body, g->len - body);
    for (;;) {
        char buf[SIGN_READ];
        r = read(0, buf, sizeof buf);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            die_sys(EXIT_TEMP, "unable to read the message");
        }
        if (r == 0) {
            break;
        }
        dkim_body_update(&g->body, buf, (size_t)r);
    }
    dkim_body_final(&g->body);
    return 0;
}

static int same_domain(const char *addr, const char *domain)
{
    const char *at = strrchr(addr, '@');
    return at && str_eq_nocase(at + 1, strlen(at + 1), domain);
}

/* The From domain, checked against the sender's (DMARC alignment: d= is the From domain; we
   sign it only for the account that owns it). 0 ok, or DKIM_SIGN_FOREIGN. */
static int from_domain(struct signer *g)
{
    long i, from = -1;
    size_t max = g->hlen / 2 + 1;

    g->f = malloc(max * sizeof *g->f);
    if (!g->f) {
        die(EXIT_TEMP, "out of memory");
    }
    g->nf = dkim_fields(g->h, g->hlen, g->f, max);
    for (i = 0; i < g->nf; i++) {
        if (dkim_field_is(g->h, &g->f[i], "from")) {
            if (from >= 0) {
                return DKIM_SIGN_FOREIGN;       /* two From fields */
            }
            from = i;
        }
    }
    if (from < 0 || dkim_from_domain(g->h + g->f[from].off, g->f[from].len, g->domain,
                                     sizeof g->domain) != 1) {
        g->domain[0] = '\0';
        return DKIM_SIGN_FOREIGN;
    }
    if (!same_domain(g->account, g->domain) && !same_domain(g->sender, g->domain)) {
        return DKIM_SIGN_FOREIGN;
    }
    return 0;
}

/* Append "TAG=VALUE;" to out: after a space when it fits on the line (*col octets so far)
   within SIGN_LINE, else on a line of its own (FWS before a tag, RFC 6376 §3.2). A value
   longer than a line (a domain of over 74 octets) has no place to fold and runs past it. */
static int add_tag(struct buf *out, size_t *col, const char *tag, const char *value)
{
    size_t n = strlen(tag) + 1 + strlen(value) + 1;
    int fold = *col + 1 + n > SIGN_LINE;
    *col = (fold ? 1 : *col + 1) + n;
    return buf_printf(out, "%s%s=%s;", fold ? "\n\t" : " ", tag, value);
}

/* Append "name" (or ":name") to the h= list in out, folding before the ':' so that the name
   and one more octet (the ':' of the next or the list's ';') end within SIGN_LINE. */
static int add_name(struct buf *out, size_t *col, const char *name, int first)
{
    size_t n = strlen(name) + (first ? 0 : 1);
    if (*col + n + 1 > SIGN_LINE) {
        if (buf_puts(out, "\n\t") < 0) {
            return -1;
        }
        *col = 1;
    }
    *col += n;
    return buf_printf(out, "%s%s", first ? "" : ":", name);
}

/* The field without b='s value, and the names it signs: each listed name as often as it
   occurs, From once more (oversigning: an added From breaks the signature). Every line ends
   within SIGN_LINE octets (a tab counts one), but for a d= value too long for any line. */
static int sig_field(struct signer *g, struct buf *out, char names[][DKIM_NAME_MAX + 1],
                     size_t *nnames)
{
    static const char head[] = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;";
    unsigned char hash[br_sha256_SIZE];
    char bh[64], t[24];
    size_t k, col = sizeof head - 1;
    long i;
    int fold;

    br_sha256_out(&g->bh, hash);
    if (b64_encode(hash, sizeof hash, bh, sizeof bh) < 0
        || str_fmt(t, sizeof t, "%lld", (long long)time(NULL)) < 0
        || buf_puts(out, head) < 0 || add_tag(out, &col, "d", g->domain) < 0
        || add_tag(out, &col, "s", g->sel) < 0 || add_tag(out, &col, "t", t) < 0) {
        return -1;
    }
    /* " h=" and its first name, "from" (listed at least once), on one line */
    fold = col + strlen(" h=from:") > SIGN_LINE;
    if (buf_puts(out, fold ? "\n\th=" : " h=") < 0) {
        return -1;
    }
    col = (fold ? 1 : col + 1) + 2;
    *nnames = 0;
    for (k = 0; dkim_sign_names[k]; k++) {
        size_t count = 0;
        for (i = 0; i < g->nf; i++) {
            count += (size_t)dkim_field_is(g->h, &g->f[i], dkim_sign_names[k]);
        }
        count += k == 0;                        /* from: once more */
        for (; count > 0 && *nnames < DKIM_HNAMES_MAX; count--) {
            if (add_name(out, &col, dkim_sign_names[k], *nnames == 0) < 0) {
                return -1;
            }
            memcpy(names[(*nnames)++], dkim_sign_names[k], strlen(dkim_sign_names[k]) + 1);
        }
    }
    return buf_printf(out, ";\n\tbh=%s;\n\tb=", bh);
}

/* §3.7: the selected fields, bottom-up per name, then the field itself without b='s value and
   without its final CRLF. */
static void header_hash(struct signer *g, const struct buf *field,
                        char names[][DKIM_NAME_MAX + 1], size_t nnames, unsigned char *hash)
{
    br_sha256_context c;
    size_t k, j;
    br_sha256_init(&c);
    for (k = 0; k < nnames; k++) {
        size_t seen = 0;
        long i;
        for (j = 0; j < k; j++) {
            seen += strcmp(names[j], names[k]) == 0;
        }
        i = dkim_select(g->h, g->f, (size_t)g->nf, names[k], seen);
        if (i >= 0) {
            dkim_canon_header(g->h + g->f[i].off, g->f[i].len, 1, sha_out, &c);
        }
    }
    dkim_canon_header(field->s, field->len, 0, sha_out, &c);
    br_sha256_out(&c, hash);
}

struct der {
    unsigned char *p;
    size_t len, cap;
};

static void der_add(void *ctx, const void *p, size_t n)
{
    struct der *d = ctx;
    if (d->len + n <= d->cap) {
        memcpy(d->p + d->len, p, n);
    }
    d->len += n;                        /* over cap: seen by the caller, nothing written */
}

/* libcrypto's EVP_PKEY from the DER of a private key: PKCS#1 "RSA PRIVATE KEY" (what
   mailacct writes) or PKCS#8 "PRIVATE KEY". NULL when it is neither. */
static EVP_PKEY *der_key(const unsigned char *der, size_t len, int pkcs8)
{
    const unsigned char *p = der;             /* len <= KEYS_PEM_MAX: fits a long */
    return pkcs8 ? d2i_AutoPrivateKey(NULL, &p, (long)len)
                 : d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)len);
}

/* pk if it is an RSA key we sign with (1024 bits or more, at most KEYS_RSA_MAX_BYTES), else
   NULL (pk freed). */
static EVP_PKEY *usable(EVP_PKEY *pk)
{
    if (pk && (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < 1024
               || EVP_PKEY_get_size(pk) > KEYS_RSA_MAX_BYTES)) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    return pk;
}

/* The private key of path as libcrypto's EVP_PKEY, RSA only. The PEM armour is taken off
   with BearSSL's decoder and the DER given to d2i_PrivateKey (libcrypto's PEM reader tries
   every decoder it has: ~0.9 ms here against ~0.25). NULL when the file cannot be read
   (*sys = 1, errno set) or holds no usable RSA private key (*sys = 0). The PEM and DER bytes
   are wiped before they are freed. */
static EVP_PKEY *load_key(const char *path, int *sys)
{
    br_pem_decoder_context pc;
    struct der d = { NULL, 0, 0 };
    EVP_PKEY *pk = NULL;
    char *pem;
    size_t pemlen, off = 0;
    int in = 0, pkcs8 = 0, done = 0;

    *sys = 1;
    if (keys_read_file(path, &pem, &pemlen) < 0) {
        return NULL;
    }
    d.cap = pemlen;                     /* DER is shorter than its base64 */
    d.p = malloc(d.cap + 1);
    if (!d.p) {
        explicit_bzero(pem, pemlen);
        free(pem);
        errno = ENOMEM;
        return NULL;
    }
    br_pem_decoder_init(&pc);
    while (off < pemlen && !done) {
        off += br_pem_decoder_push(&pc, pem + off, pemlen - off);
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            in = strcmp(br_pem_decoder_name(&pc), "RSA PRIVATE KEY") == 0
                 || (pkcs8 = strcmp(br_pem_decoder_name(&pc), "PRIVATE KEY") == 0);
            d.len = 0;
            br_pem_decoder_setdest(&pc, in ? der_add : NULL, &d);
            break;
        case BR_PEM_END_OBJ:
            done = in;
            break;
        case BR_PEM_ERROR:
            off = pemlen;
            break;
        default:
            break;
        }
    }
    explicit_bzero(pem, pemlen);
    free(pem);
    if (done && d.len <= d.cap) {
        pk = der_key(d.p, d.len, pkcs8);
    }
    explicit_bzero(d.p, d.cap);
    free(d.p);
    *sys = 0;
    return usable(pk);
}

/* Which file a parsed key came from: a key file that is replaced (mailacct writes new names,
   an operator may copy over an old one) differs in one of these. */
static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
           && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
           && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The key of path: the loop's parsed copy when the file is still the one it parsed, else
   read and decoded now (*owned = 1: the caller frees it). Dies 111 when it is unusable. */
static EVP_PKEY *key_for(const struct keycache *kc, const char *path, int *owned)
{
    struct stat st;
    EVP_PKEY *pk;
    size_t i;
    int sys;

    *owned = 0;
    if (kc && stat(path, &st) == 0) {
        for (i = 0; i < kc->n; i++) {
            if (same_file(&kc->e[i].st, &st) && strcmp(kc->e[i].path, path) == 0) {
                return kc->e[i].pk;
            }
        }
    }
    pk = load_key(path, &sys);
    if (!pk && sys) {
        die_sys(EXIT_TEMP, "unable to read %s", path);
    }
    if (!pk) {
        die(EXIT_TEMP, "%s: not an RSA private key in PEM that can sign", path);
    }
    *owned = 1;
    return pk;
}

/* Fleet mode: the key of name ("DOMAIN/SELECTOR") whose DER dkim.cdb holds now: the loop's
   parsed copy when it parsed these very octets (mapsync rewrites dkim.cdb at every change of
   the directory, so the file says nothing; the octets do), else decoded now (*owned = 1).
   Dies 111 when it is unusable. */
static EVP_PKEY *key_for_der(const struct keycache *kc, const char *name,
                             const unsigned char *der, size_t len, int *owned)
{
    unsigned char sum[br_sha256_SIZE];
    br_sha256_context c;
    EVP_PKEY *pk;
    size_t i;

    *owned = 0;
    br_sha256_init(&c);
    br_sha256_update(&c, der, len);
    br_sha256_out(&c, sum);
    for (i = 0; kc && i < kc->n; i++) {
        if (memcmp(kc->e[i].sum, sum, sizeof sum) == 0 && strcmp(kc->e[i].path, name) == 0) {
            return kc->e[i].pk;
        }
    }
    pk = usable(der_key(der, len, 0));
    if (!pk) {
        die(EXIT_TEMP, "cdb/dkim.cdb: the key of %s is not an RSA private key that can sign",
            name);
    }
    *owned = 1;
    return pk;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 of hash (br_sha256_SIZE octets) into sig. 1 ok. */
static int rsa_sign(EVP_PKEY *pk, const unsigned char *hash, unsigned char *sig, size_t *siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    int ok = ctx && EVP_PKEY_sign_init(ctx) > 0
             && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
             && EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0
             && EVP_PKEY_sign(ctx, sig, siglen, hash, br_sha256_SIZE) > 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* Once in the loop, before any request: libcrypto reads its configuration and fetches the
   RSA key manager, DER decoder, SHA-256 and signature code on first use (~3 ms here); done
   in a forked child that would be paid per message. So the loop makes a throwaway RSA-1024
   key, goes once through der_key and rsa_sign with it, and forgets it; the children inherit
   the loaded tables. Failure only costs the time. */
static void warm_up(void)
{
    unsigned char der[2048], sig[KEYS_RSA_MAX_BYTES], hash[br_sha256_SIZE] = { 0 };
    unsigned char *p = der;
    size_t siglen = sizeof sig;
    EVP_PKEY *gen = EVP_RSA_gen(1024), *pk = NULL;
    int n = gen ? i2d_PrivateKey(gen, NULL) : -1;

    if (n > 0 && (size_t)n <= sizeof der && i2d_PrivateKey(gen, &p) == n) {
        pk = der_key(der, (size_t)n, 0);
    }
    if (!pk || !rsa_sign(pk, hash, sig, &siglen)) {
        log_warn("could not warm up libcrypto; signing works, slower");
    }
    explicit_bzero(der, sizeof der);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(gen);
}

/* Once in the loop, before any request: the current key of every domain under ROOT/dkim/
   (at most SIGN_KEYS_MAX; ~1 ms each), parsed and used once (libcrypto imports a key on its
   first use). A key rotated or replaced later is not here, or no longer the same file: the
   child reads it itself, so the new key signs at once; the loop parses it again when it
   restarts. Unreadable keys are left out (their messages fail in the child, which logs why). */
static void keys_preload(struct keycache *kc, const char *root)
{
    char dir[YUBIN_PATH_MAX], sel[DKIM_SELECTOR_MAX + 1];
    unsigned char sig[KEYS_RSA_MAX_BYTES], hash[br_sha256_SIZE] = { 0 };
    struct dirent *de;
    DIR *d;
    int sys;

    kc->n = 0;
    kc->e = NULL;
    if (str_fmt(dir, sizeof dir, "%s/dkim", root) < 0 || !(d = opendir(dir))) {
        return;
    }
    while ((de = readdir(d)) && kc->n < SIGN_KEYS_MAX) {
        struct keyent *e;
        struct keyent *grown;
        size_t siglen = sizeof sig;
        if (de->d_name[0] == '.' || dkimkey_current(root, de->d_name, sel, sizeof sel) != 1) {
            continue;
        }
        grown = realloc(kc->e, (kc->n + 1) * sizeof *kc->e);
        if (!grown) {
            break;
        }
        kc->e = grown;
        e = &kc->e[kc->n];
        memset(e, 0, sizeof *e);
        if (str_fmt(e->path, sizeof e->path, "%s/dkim/%s/%s.key", root, de->d_name, sel) < 0
            || stat(e->path, &e->st) < 0) {
            continue;
        }
        e->pk = load_key(e->path, &sys);
        if (e->pk && rsa_sign(e->pk, hash, sig, &siglen)) {
            kc->n++;
        } else {
            EVP_PKEY_free(e->pk);
        }
    }
    closedir(d);
    log_info("%zu domain keys parsed", kc->n);
}

/* Fleet mode, once in the loop: every key in cdb/dkim.cdb (its "DOMAIN/SELECTOR" records:
   mapsync writes only the signing key of each domain), parsed and used once, remembered by
   name and the SHA-256 of its DER (key_for_der). */
static void keys_preload_fleet(struct keycache *kc, const char *root)
{
    unsigned char der[DKIMDIR_DER_MAX], sig[KEYS_RSA_MAX_BYTES], hash[br_sha256_SIZE] = { 0 };
    struct cdbmap m;
    unsigned pos;

    if (cdbmap_open(&m, root, DKIMDIR_CDB) < 0) {
        log_info("0 domain keys parsed (no cdb/dkim.cdb yet)");
        return;
    }
    cdb_seqinit(&pos, &m.cdb);
    while (cdb_seqnext(&pos, &m.cdb) > 0 && kc->n < SIGN_KEYS_MAX) {
        unsigned kl = cdb_keylen(&m.cdb), dl = cdb_datalen(&m.cdb);
        size_t siglen = sizeof sig;
        br_sha256_context c;
        struct keyent *grown, *e;
        if (kl >= sizeof e->path || dl > sizeof der
            || !(grown = realloc(kc->e, (kc->n + 1) * sizeof *kc->e))) {
            continue;
        }
        kc->e = grown;
        e = &kc->e[kc->n];
        memset(e, 0, sizeof *e);
        if (cdb_read(&m.cdb, e->path, kl, cdb_keypos(&m.cdb)) < 0 || !memchr(e->path, '/', kl)
            || cdb_read(&m.cdb, der, dl, cdb_datapos(&m.cdb)) < 0) {
            continue;
        }
        br_sha256_init(&c);
        br_sha256_update(&c, der, dl);
        br_sha256_out(&c, e->sum);
        e->pk = usable(der_key(der, dl, 0));
        if (e->pk && rsa_sign(e->pk, hash, sig, &siglen)) {
            kc->n++;
        } else {
            EVP_PKEY_free(e->pk);
        }
    }
    explicit_bzero(der, sizeof der);
    cdbmap_close(&m);
    log_info("%zu domain keys parsed from cdb/dkim.cdb", kc->n);
}

/* Sign with pk (the key of g->sel; what names it in errors); append b= folded. Dies 111 when
   the signature fails. RSASSA-PKCS1-v1_5 is deterministic, so libcrypto gives the same octets
   BearSSL's br_rsa_pkcs1_sign gave; libcrypto because its RSA-2048 private operation takes
   ~0.5 ms of this CPU against BearSSL i62's ~3.5 ms (docs/dkim.md "Cost", tlskeyd likewise). */
static void sign(struct buf *field, const unsigned char *hash, EVP_PKEY *pk, const char *what)
{
    char b[1024];
    unsigned char sig[KEYS_RSA_MAX_BYTES];
    size_t siglen = sizeof sig, i, col;
    long bl;

    if (!rsa_sign(pk, hash, sig, &siglen)) {
        die(EXIT_TEMP, "%s: the RSA signature failed", what);
    }
    bl = b64_encode(sig, siglen, b, sizeof b);
    if (bl < 0) {
        die(EXIT_BUG, "signature of %zu octets does not fit", siglen);
    }
    /* b= may hold FWS (§3.5); the value starts right after "b=" so removing it for the
       verifier's hash leaves exactly the "b=" signed above */
    for (i = 0, col = 3; i < (size_t)bl; col = 1) {
        size_t k = (size_t)bl - i < SIGN_LINE - 2 - col ? (size_t)bl - i : SIGN_LINE - 2 - col;
        if ((i > 0 && buf_puts(field, "\n\t") < 0) || buf_append(field, b + i, k) < 0) {
            die(EXIT_TEMP, "out of memory");
        }
        i += k;
    }
    if (buf_puts(field, "\n") < 0) {
        die(EXIT_TEMP, "out of memory");
    }
}

static int answer(const char *p, size_t n, int code)
{
    if (fd_write_all(1, p, n) < 0) {
        die_sys(EXIT_TEMP, "unable to write the answer");
    }
    return code;
}

static int not_signed(struct signer *g, int code)
{
    char line[SMTP_DOMAIN_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", g->domain);
    return answer(line, (size_t)n, code);
}

/* What a request took, freed before a reused child of the loop takes the next one. */
static int done(struct signer *g, int code)
{
    free(g->h);
    free(g->f);
    return code;
}

static int sign_one(int argc, char **argv, void *keys)
{
    struct signer g;
    char names[DKIM_HNAMES_MAX][DKIM_NAME_MAX + 1];
    unsigned char hash[br_sha256_SIZE], der[DKIMDIR_DER_MAX];
    char what[YUBIN_PATH_MAX], self[FLEET_NODE_MAX + 1];
    struct buf field;
    EVP_PKEY *pk;
    size_t nnames, derlen = 0;
    int r, owned;

    memset(&g, 0, sizeof g);
    g.keys = keys;
    if (argc != 3) {
        die(EXIT_PERM, "usage: dkim-sign ACCOUNT SENDER < message");
    }
    g.account = argv[1];
    g.sender = argv[2];
    g.root = cfg_root();
    if (!g.root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    g.fleet = fleethome_self(g.root, self, sizeof self);
    if (g.fleet < 0) {
        die(EXIT_TEMP, "%s", fleethome_strerror(errno));
    }
    r = read_message(&g);
    if (r == 0) {
        r = from_domain(&g);
    }
    if (r != 0) {
        return done(&g, not_signed(&g, r));
    }
    r = g.fleet ? dkimkey_fleet(g.root, g.domain, g.sel, sizeof g.sel, der, sizeof der, &derlen)
                : dkimkey_current(g.root, g.domain, g.sel, sizeof g.sel);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read the %s of %s", g.fleet ? "key in cdb/dkim.cdb"
                : "selector", g.domain);
    }
    if (r == 0) {
        return done(&g, not_signed(&g, DKIM_SIGN_NOKEY));
    }
    if (str_fmt(what, sizeof what, g.fleet ? "%s%s/%s" : "%s/dkim/%s/%s.key",
                g.fleet ? "" : g.root, g.domain, g.sel) < 0) {
        die(EXIT_TEMP, "key path too long for domain %s", g.domain);
    }
    pk = g.fleet ? key_for_der(g.keys, what, der, derlen, &owned) : key_for(g.keys, what, &owned);
    explicit_bzero(der, sizeof der);
    buf_init(&field, DKIM_SIG_MAX);
    if (sig_field(&g, &field, names, &nnames) < 0) {
        die(EXIT_TEMP, "the DKIM-Signature field does not fit");
    }
    header_hash(&g, &field, names, nnames, hash);
    sign(&field, hash, pk, what);
    if (owned) {
        EVP_PKEY_free(pk);
    }
    r = answer(field.s, field.len, DKIM_SIGN_OK);
    buf_free(&field);
    return done(&g, r);
}

int main(int argc, char **argv)
{
    static struct keycache kc;
    struct ipcserve srv = { "run/dkim.sock", IPCFD_FDS, SIGN_CONN_MAX, 0, sign_one, &kc,
                            SIGN_PROCESS_USES };
    char self[FLEET_NODE_MAX + 1];
    const char *root;

    log_init("dkim-sign");
    if (geteuid() == 0 || getuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    if (ipcserve_listening(0)) {
        warm_up();
        root = cfg_root();
        if (root && fleethome_self(root, self, sizeof self) == 1) {
            keys_preload_fleet(&kc, root);
        } else if (root) {
            keys_preload(&kc, root);
        }
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve run/dkim.sock");
        }
        return EXIT_DONE;
    }
    return sign_one(argc, argv, NULL);
}

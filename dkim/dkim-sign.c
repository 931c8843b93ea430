/* dkim-sign: DKIM-signs one message for queue-inject (rsa-sha256, relaxed/relaxed); runs as yubin-dkim (run/dkim.sock) */
/* Request (lib/ipcfd, from queue-inject's uid only): argv "dkim-sign" ACCOUNT SENDER, fd 0 the
   message (read to EOF), fd 1 the answer. Exit codes (enum dkim_sign_exit, lib/dkim.h): 0 the
   DKIM-Signature field is on fd 1; 1 the From domain has no key, 2 the From address is missing,
   several, or not in the domain of ACCOUNT or SENDER, 3 the header section is over
   DKIM_HEADER_MAX (for 1..3 fd 1 holds the From domain or nothing, and "\n"); 100 bad usage;
   111 the key cannot be read or used.

   The only uid that reads ROOT/dkim/ (the private keys); it opens no socket but its own and
   never talks to the network. Memory: the header section (at most DKIM_HEADER_MAX) and its
   field index; the body is hashed as it streams by. The key is read at every message, so a
   rotation (mailacct domain dkim D rotate) signs the next message with the new selector.
   Where and why it runs, the header it writes: docs/dkim.md. */
#include "cfg.h"
#include "dkim.h"
#include "dkimkey.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcserve.h"
#include "log.h"
#include "str.h"
#include "tls/keys.h"
#include "b64.h"

#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIGN_CONN_MAX   64          /* messages signed at once */
#define SIGN_READ       65536       /* one read() of the message */
#define SIGN_LINE       78          /* fold the field before this column (RFC 5322 §2.1.1) */

struct signer {
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

/* Append "name" (or ":name") to the h= list in out, folding before the ':' at SIGN_LINE. */
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
   occurs, From once more (oversigning: an added From breaks the signature). */
static int sig_field(struct signer *g, struct buf *out, char names[][DKIM_NAME_MAX + 1],
                     size_t *nnames)
{
    unsigned char hash[br_sha256_SIZE];
    char bh[64];
    size_t k, col;
    long i;

    br_sha256_out(&g->bh, hash);
    if (b64_encode(hash, sizeof hash, bh, sizeof bh) < 0
        || buf_printf(out, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=%s;"
                      "\n\tt=%lld; h=", g->domain, g->sel, (long long)time(NULL)) < 0) {
        return -1;
    }
    col = 12;
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

/* Sign with the key of g->sel; append b= folded. 0 ok; dies 111 when the key is unusable. */
static void sign(struct signer *g, struct buf *field, const unsigned char *hash)
{
    char path[YUBIN_PATH_MAX], err[KEYS_ERR_MAX], b[1024];
    unsigned char sig[KEYS_RSA_MAX_BYTES];
    struct keys_cert c;
    const br_rsa_private_key *sk;
    char *pem;
    size_t pemlen, siglen, i, col;
    long bl;

    memset(&c, 0, sizeof c);
    if (dkimkey_path(path, sizeof path, g->root, g->domain, NULL) < 0
        || str_fmt(path, sizeof path, "%s/dkim/%s/%s.key", g->root, g->domain, g->sel) < 0) {
        die(EXIT_TEMP, "key path too long for domain %s", g->domain);
    }
    if (keys_read_file(path, &pem, &pemlen) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s", path);
    }
    if (keys_parse_key(&c, pem, pemlen, err, sizeof err) < 0) {
        explicit_bzero(pem, pemlen);
        die(EXIT_TEMP, "%s: %s", path, err);
    }
    explicit_bzero(pem, pemlen);
    free(pem);
    sk = br_skey_decoder_get_rsa(c.skey);
    siglen = sk ? (sk->n_bitlen + 7) / 8 : 0;
    if (!sk || siglen > sizeof sig
        || !br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, br_sha256_SIZE, sk, sig)) {
        die(EXIT_TEMP, "%s: not an RSA key BearSSL can sign with", path);
    }
    keys_free_cert(&c);
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

static int sign_one(int argc, char **argv, void *unused)
{
    struct signer g;
    char names[DKIM_HNAMES_MAX][DKIM_NAME_MAX + 1];
    unsigned char hash[br_sha256_SIZE];
    struct buf field;
    size_t nnames;
    int r;

    (void)unused;
    memset(&g, 0, sizeof g);
    if (argc != 3) {
        die(EXIT_PERM, "usage: dkim-sign ACCOUNT SENDER < message");
    }
    g.account = argv[1];
    g.sender = argv[2];
    g.root = cfg_root();
    if (!g.root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    r = read_message(&g);
    if (r == 0) {
        r = from_domain(&g);
    }
    if (r != 0) {
        return not_signed(&g, r);
    }
    r = dkimkey_current(g.root, g.domain, g.sel, sizeof g.sel);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read the selector of %s", g.domain);
    }
    if (r == 0) {
        return not_signed(&g, DKIM_SIGN_NOKEY);
    }
    buf_init(&field, DKIM_SIG_MAX);
    if (sig_field(&g, &field, names, &nnames) < 0) {
        die(EXIT_TEMP, "the DKIM-Signature field does not fit");
    }
    header_hash(&g, &field, names, nnames, hash);
    sign(&g, &field, hash);
    return answer(field.s, field.len, DKIM_SIGN_OK);
}

int main(int argc, char **argv)
{
    static const struct ipcserve srv = {
        "run/dkim.sock", IPCFD_FDS, SIGN_CONN_MAX, 0, sign_one, NULL
    };

    log_init("dkim-sign");
    if (geteuid() == 0 || getuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root");
    }
    if (ipcserve_listening(0)) {
        if (ipcserve(&srv) < 0) {
            die_sys(EXIT_TEMP, "unable to serve run/dkim.sock");
        }
        return EXIT_DONE;
    }
    return sign_one(argc, argv, NULL);
}

/* keys.c: PEM chains and keys for tlsd (BearSSL decoders), key/certificate checks, SNI table */
#include "keys.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct der_sink {
    unsigned char *p;
    size_t len, cap;
    int overflow;
};

static void der_append(void *ctx, const void *data, size_t n)
{
    struct der_sink *d = ctx;
    if (d->overflow || n > d->cap - d->len) {
        d->overflow = 1;
        return;
    }
    memcpy(d->p + d->len, data, n);
    d->len += n;
}

static void seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (cap == 0) {
        return;
    }
    va_start(ap, fmt);
    if (vsnprintf(err, cap, fmt, ap) < 0) {
        err[0] = '\0';
    }
    va_end(ap);
}

/* The PEM objects of text, one callback per complete object: fn returns 0 to go on, -1 to
   stop (its own error). Returns 0 ok, -1 (PEM syntax error: err set; or fn's -1). */
typedef int (*pem_fn)(void *ctx, const char *name, unsigned char *der, size_t len);

static int pem_each(const char *pem, size_t len, pem_fn fn, void *ctx, char *err, size_t cap)
{
    br_pem_decoder_context pc;
    struct der_sink d;
    char name[128];
    int inobj = 0, rc = 0, pass;

    d.cap = len;            /* DER is shorter than its base64 */
    d.p = malloc(d.cap ? d.cap : 1);
    if (!d.p) {
        seterr(err, cap, "out of memory");
        return -1;
    }
    br_pem_decoder_init(&pc);
    for (pass = 0; pass < 2 && rc == 0; pass++) {
        const char *s = pass == 0 ? pem : "\n";
        size_t n = pass == 0 ? len : 1;
        while (n > 0 && rc == 0) {
            size_t used = br_pem_decoder_push(&pc, s, n);
            s += used;
            n -= used;
            switch (br_pem_decoder_event(&pc)) {
            case BR_PEM_BEGIN_OBJ:
                if (str_fmt(name, sizeof name, "%s", br_pem_decoder_name(&pc)) < 0) {
                    name[0] = '\0';
                }
                d.len = 0;
                d.overflow = 0;
                inobj = 1;
                br_pem_decoder_setdest(&pc, der_append, &d);
                break;
            case BR_PEM_END_OBJ:
                if (inobj) {
                    inobj = 0;
                    if (d.overflow) {
                        seterr(err, cap, "PEM object too large");
                        rc = -1;
                    } else {
                        rc = fn(ctx, name, d.p, d.len);
                    }
                }
                break;
            case BR_PEM_ERROR:
                seterr(err, cap, "malformed PEM");
                rc = -1;
                break;
            default:
                break;
            }
        }
    }
    if (rc == 0 && inobj) {
        seterr(err, cap, "truncated PEM (no END line)");
        rc = -1;
    }
    explicit_bzero(d.p, d.cap);
    free(d.p);
    explicit_bzero(&pc, sizeof pc);
    return rc;
}

struct chain_ctx {
    struct keys_cert *c;
    char *err;
    size_t cap;
};

static int chain_one(void *ctx, const char *name, unsigned char *der, size_t len)
{
    struct chain_ctx *cc = ctx;
    struct keys_cert *c = cc->c;
    unsigned char *copy;

    if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0) {
        return 0;   /* other objects (e.g. a key in the same file) are not part of the chain */
    }
    if (c->chain_len == KEYS_CHAIN_MAX) {
        seterr(cc->err, cc->cap, "more than %d certificates in the chain", KEYS_CHAIN_MAX);
        return -1;
    }
    copy = malloc(len ? len : 1);
    if (!copy) {
        seterr(cc->err, cc->cap, "out of memory");
        return -1;
    }
    memcpy(copy, der, len);
    c->chain[c->chain_len].data = copy;
    c->chain[c->chain_len].data_len = len;
    c->chain_len++;
    return 0;
}

int keys_parse_chain(struct keys_cert *c, const char *pem, size_t len, char *err, size_t cap)
{
    struct chain_ctx cc = { c, err, cap };
    br_x509_decoder_context dc;

    if (pem_each(pem, len, chain_one, &cc, err, cap) < 0) {
        return -1;
    }
    if (c->chain_len == 0) {
        seterr(err, cap, "no CERTIFICATE in the file");
        return -1;
    }
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
    if (br_x509_decoder_last_error(&dc) != 0 || !br_x509_decoder_get_pkey(&dc)) {
        seterr(err, cap, "the first certificate does not decode (BearSSL error %d)",
               br_x509_decoder_last_error(&dc));
        return -1;
    }
    c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
    if (keys_validity(c->chain[0].data, c->chain[0].data_len, &c->not_before,
                      &c->not_after) < 0) {
        seterr(err, cap, "the first certificate has no readable validity dates");
        return -1;
    }
    return 0;
}

struct key_ctx {
    struct keys_cert *c;
    int found;
    char *err;
    size_t cap;
};

static int key_one(void *ctx, const char *name, unsigned char *der, size_t len)
{
    struct key_ctx *kc = ctx;
    br_skey_decoder_context *sk;
    int e;

    if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 || strstr(name, "ENCRYPTED")) {
        seterr(kc->err, kc->cap, "the key is encrypted; store it without a passphrase (0600)");
        return -1;
    }
    if (strcmp(name, "RSA PRIVATE KEY") != 0 && strcmp(name, "EC PRIVATE KEY") != 0
        && strcmp(name, "PRIVATE KEY") != 0) {
        return 0;   /* e.g. "EC PARAMETERS" written by openssl ecparam */
    }
    if (kc->found) {
        seterr(kc->err, kc->cap, "more than one private key in the file");
        return -1;
    }
    sk = malloc(sizeof *sk);
    if (!sk) {
        seterr(kc->err, kc->cap, "out of memory");
        return -1;
    }
    br_skey_decoder_init(sk);
    br_skey_decoder_push(sk, der, len);
    e = br_skey_decoder_last_error(sk);
    if (e != 0 || br_skey_decoder_key_type(sk) == 0) {
        explicit_bzero(sk, sizeof *sk);
        free(sk);
        seterr(kc->err, kc->cap, "the private key does not decode (BearSSL error %d)", e);
        return -1;
    }
    kc->c->skey = sk;
    kc->c->key_type = br_skey_decoder_key_type(sk);
    kc->found = 1;
    return 0;
}

int keys_parse_key(struct keys_cert *c, const char *pem, size_t len, char *err, size_t cap)
{
    struct key_ctx kc = { c, 0, err, cap };
    if (pem_each(pem, len, key_one, &kc, err, cap) < 0) {
        return -1;
    }
    if (!kc.found) {
        seterr(err, cap, "no PRIVATE KEY in the file");
        return -1;
    }
    return 0;
}

int keys_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *p;
    ssize_t r;

    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KEYS_PEM_MAX) {
        close(fd);
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        return -1;
    }
    p = malloc((size_t)st.st_size + 1);
    if (!p) {
        close(fd);
        return -1;
    }
    r = fd_read_full(fd, p, (size_t)st.st_size + 1);
    close(fd);
    if (r < 0 || r > st.st_size) {
        explicit_bzero(p, (size_t)st.st_size + 1);
        free(p);
        if (r >= 0) {
            errno = EAGAIN;   /* grew while we read it: being replaced, try again */
        }
        return -1;
    }
    *out = p;
    *len = (size_t)r;
    return 0;
}

/* "unable to read PATH: why", with our own words for keys_read_file's special cases. */
static void read_error(char *err, size_t cap, const char *path)
{
    if (errno == EFBIG) {
        seterr(err, cap, "unable to read %s: larger than %d bytes", path, KEYS_PEM_MAX);
    } else if (errno == EINVAL) {
        seterr(err, cap, "unable to read %s: not a regular file", path);
    } else {
        seterr(err, cap, "unable to read %s: %s", path, strerror(errno));
    }
}

/* Wipe and free one buffer of len bytes; *b becomes NULL. */
static void wipe_free(char **b, size_t *len)
{
    if (*b) {
        explicit_bzero(*b, *len);
        free(*b);
        *b = NULL;
    }
    *len = 0;
}

void keys_raw_free_pair(struct keys_raw_pair *p)
{
    wipe_free(&p->key, &p->key_len);
    wipe_free(&p->pem, &p->pem_len);
}

void keys_raw_free(struct keys_raw *r)
{
    size_t i;
    for (i = 0; i < r->n; i++) {
        keys_raw_free_pair(&r->pairs[i]);
    }
    r->n = 0;
}

int keys_read_pair(struct keys_raw_pair *p, const char *dir, const char *name, char *err,
                   size_t cap)
{
    char path[YUBIN_PATH_MAX];

    memset(p, 0, sizeof p[0]);
    if (str_fmt(p->name, sizeof p->name, "%s", name) < 0) {
        seterr(err, cap, "%s/%s.pem: host name too long", dir, name);
        return -1;
    }
    if (str_fmt(path, sizeof path, "%s/%s.pem", dir, name) < 0) {
        seterr(err, cap, "%s: path too long", dir);
        return -1;
    }
    if (keys_read_file(path, &p->pem, &p->pem_len) < 0) {
        read_error(err, cap, path);
        return -1;
    }
    if (str_fmt(path, sizeof path, "%s/%s.key", dir, name) < 0) {
        seterr(err, cap, "%s: path too long", dir);
        keys_raw_free_pair(p);
        return -1;
    }
    if (keys_read_file(path, &p->key, &p->key_len) < 0) {
        read_error(err, cap, path);
        keys_raw_free_pair(p);
        return -1;
    }
    return 0;
}

int keys_parse_pair(struct keys_cert *c, struct keys_raw_pair *p, const char *dir, char *err,
                    size_t cap)
{
    char why[KEYS_ERR_MAX];
    int rc;

    memset(c, 0, sizeof *c);
    if (strcmp(p->name, "server") != 0) {
        memcpy(c->host, p->name, sizeof c->host);   /* same size, NUL-terminated */
    }
    if (!p->pem || !p->key) {
        seterr(err, cap, "%s/%s: the pair was not read", dir, p->name);
        keys_raw_free_pair(p);
        return -1;
    }
    rc = keys_parse_chain(c, p->pem, p->pem_len, why, sizeof why);
    if (rc < 0) {
        seterr(err, cap, "%s/%s.pem: %s", dir, p->name, why);
    } else {
        rc = keys_parse_key(c, p->key, p->key_len, why, sizeof why);
        if (rc < 0) {
            seterr(err, cap, "%s/%s.key: %s", dir, p->name, why);
        }
    }
    /* the key now lives (decoded) in c->skey only: wipe the file's bytes at once (the .pem
       too: a chain file may hold a key as well) */
    keys_raw_free_pair(p);
    if (rc < 0) {
        keys_free_cert(c);
    }
    return rc;
}

int keys_load_pair(struct keys_cert *c, const char *dir, const char *name, char *err,
                   size_t cap)
{
    struct keys_raw_pair p;

    memset(c, 0, sizeof *c);
    if (keys_read_pair(&p, dir, name, err, cap) < 0) {
        return -1;
    }
    return keys_parse_pair(c, &p, dir, err, cap);
}

/* A host name as a file name: letters, digits, '-', '.', not starting with '.'. */
static int host_file_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > KEYS_HOST_MAX || s[0] == '.' || s[0] == '-') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || ch == '-' || ch == '.')) {
            return 0;
        }
    }
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The SNI pair names in dir (HOST for each HOST.pem with a HOST.key), malloc'd, sorted.
   0 ok (*n set), -1 with err set (nothing kept). */
static int sni_names(const char *dir, char **names, size_t *count, char *err, size_t cap)
{
    size_t nnames = 0, i;
    DIR *d;
    struct dirent *e;
    int rc = 0;

    d = opendir(dir);
    if (!d) {
        seterr(err, cap, "unable to open %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char key[YUBIN_PATH_MAX];
        if (n < 5 || strcmp(e->d_name + n - 4, ".pem") != 0) {
            continue;
        }
        n -= 4;
        if ((n == 6 && strncmp(e->d_name, "server", 6) == 0)
            || (n == 2 && strncmp(e->d_name, "ca", 2) == 0) || !host_file_ok(e->d_name, n)) {
            continue;
        }
        if (str_fmt(key, sizeof key, "%s/%.*s.key", dir, (int)n, e->d_name) < 0
            || access(key, F_OK) < 0) {
            continue;   /* a .pem without a .key (e.g. a CA file) is not an SNI pair */
        }
        if (nnames == KEYS_CERTS_MAX - 1) {
            seterr(err, cap, "%s: more than %d certificates", dir, KEYS_CERTS_MAX - 1);
            rc = -1;
            break;
        }
        names[nnames] = strndup(e->d_name, n);
        if (!names[nnames]) {
            seterr(err, cap, "out of memory");
            rc = -1;
            break;
        }
        nnames++;
    }
    closedir(d);
    if (rc < 0) {
        for (i = 0; i < nnames; i++) {
            free(names[i]);
        }
        return -1;
    }
    qsort(names, nnames, sizeof names[0], name_cmp);  /* same order every time */
    *count = nnames;
    return 0;
}

int keys_read_dir(struct keys_raw *r, const char *dir, char *err, size_t cap)
{
    char *names[KEYS_CERTS_MAX];
    size_t nnames = 0, i;
    int rc = 0;

    memset(r, 0, sizeof *r);
    r->dir = dir;
    if (keys_read_pair(&r->pairs[0], dir, "server", err, cap) < 0) {
        return -1;
    }
    r->n = 1;
    if (sni_names(dir, names, &nnames, err, cap) < 0) {
        keys_raw_free(r);
        return -1;
    }
    for (i = 0; i < nnames; i++) {
        if (rc == 0) {
            if (keys_read_pair(&r->pairs[r->n], dir, names[i], err, cap) < 0) {
                rc = -1;
            } else {
                r->n++;
            }
        }
        free(names[i]);
    }
    if (rc < 0) {
        keys_raw_free(r);
    }
    return rc;
}

int keys_parse_raw(struct keys *k, struct keys_raw *r, char *err, size_t cap)
{
    size_t i;
    int rc = 0;

    memset(k, 0, sizeof *k);
    for (i = 0; i < r->n && rc == 0; i++) {
        if (keys_parse_pair(&k->certs[k->n], &r->pairs[i], r->dir, err, cap) < 0) {
            rc = -1;
        } else {
            k->n++;
        }
    }
    keys_raw_free(r);
    if (rc < 0) {
        keys_free(k);
    }
    return rc;
}

int keys_load_dir(struct keys *k, const char *dir, char *err, size_t cap)
{
    struct keys_raw *r = malloc(sizeof *r);
    int rc;

    memset(k, 0, sizeof *k);
    if (!r) {
        seterr(err, cap, "out of memory");
        return -1;
    }
    rc = keys_read_dir(r, dir, err, cap);
    if (rc == 0) {
        rc = keys_parse_raw(k, r, err, cap);
    }
    free(r);
    return rc;
}

/* --- checks --- */

int keys_match(const struct keys_cert *c)
{
    br_x509_decoder_context dc;
    const br_x509_pkey *pk;
    int ok = 0;

    if (!c->skey || c->chain_len == 0) {
        return 0;
    }
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
    pk = br_x509_decoder_get_pkey(&dc);
    if (!pk || br_x509_decoder_last_error(&dc) != 0 || pk->key_type != c->key_type) {
        return 0;
    }
    if (c->key_type == BR_KEYTYPE_RSA) {
        const br_rsa_private_key *sk = br_skey_decoder_get_rsa(c->skey);
        unsigned char n[KEYS_RSA_MAX_BYTES];
        br_rsa_compute_modulus mod = br_rsa_compute_modulus_get_default();
        br_rsa_compute_pubexp pubexp = br_rsa_compute_pubexp_get_default();
        size_t nlen = mod(NULL, sk), off = 0, eoff = 0;
        uint32_t e = pubexp(sk), ce = 0;
        const unsigned char *cn = pk->key.rsa.n;
        size_t cnlen = pk->key.rsa.nlen, i;

        if (nlen == 0 || nlen > sizeof n || mod(n, sk) != nlen) {
            return 0;
        }
        while (off < cnlen && cn[off] == 0) {   /* the certificate may carry leading zeros */
            off++;
        }
        while (eoff < pk->key.rsa.elen && pk->key.rsa.e[eoff] == 0) {
            eoff++;
        }
        if (pk->key.rsa.elen - eoff > 4) {
            return 0;
        }
        for (i = eoff; i < pk->key.rsa.elen; i++) {
            ce = (ce << 8) | pk->key.rsa.e[i];
        }
        /* the modulus identifies the key pair (its factors are the key); BearSSL 0.6 cannot
           always recompute e (it returns 0 then), so e is compared only when it can */
        ok = cnlen - off == nlen && memcmp(cn + off, n, nlen) == 0 && (e == 0 || ce == e);
    } else if (c->key_type == BR_KEYTYPE_EC) {
        const br_ec_private_key *sk = br_skey_decoder_get_ec(c->skey);
        unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
        br_ec_public_key pub;
        size_t qlen = br_ec_compute_pub(br_ec_get_default(), &pub, q, sk);
        ok = qlen > 0 && pub.curve == pk->key.ec.curve && qlen == pk->key.ec.qlen
             && memcmp(q, pk->key.ec.q, qlen) == 0;
    }
    return ok;
}

/* DER: read one tag and length at *p (bounded by end). 0 ok, -1 malformed. */
static int der_tl(const unsigned char **p, const unsigned char *end, unsigned *tag, size_t *len)
{
    const unsigned char *s = *p;
    size_t l;
    if (end - s < 2) {
        return -1;
    }
    *tag = *s++;
    l = *s++;
    if (l & 0x80) {
        unsigned n = l & 0x7f;
        if (n == 0 || n > sizeof(size_t) || (size_t)(end - s) < n) {
            return -1;
        }
        l = 0;
        while (n-- > 0) {
            l = (l << 8) | *s++;
        }
    }
    if (l > (size_t)(end - s)) {
        return -1;
    }
    *len = l;
    *p = s;
    return 0;
}

static int two_digits(const unsigned char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
        return -1;
    }
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

/* UTCTime (0x17) YYMMDDHHMMSSZ or GeneralizedTime (0x18) YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5). */
static int der_time(unsigned tag, const unsigned char *s, size_t len, time_t *out)
{
    struct tm tm;
    int y1, y2 = 0, mo, d, h, mi, se;
    time_t t;

    memset(&tm, 0, sizeof tm);
    if (tag == 0x17 && len == 13 && s[12] == 'Z') {
        if (two_digits(s, &y1) < 0) {
            return -1;
        }
        y1 += y1 < 50 ? 2000 : 1900;
        s += 2;
    } else if (tag == 0x18 && len == 15 && s[14] == 'Z') {
        if (two_digits(s, &y1) < 0 || two_digits(s + 2, &y2) < 0) {
            return -1;
        }
        y1 = y1 * 100 + y2;
        s += 4;
    } else {
        return -1;
    }
    if (two_digits(s, &mo) < 0 || two_digits(s + 2, &d) < 0 || two_digits(s + 4, &h) < 0
        || two_digits(s + 6, &mi) < 0 || two_digits(s + 8, &se) < 0 || mo < 1 || mo > 12
        || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return -1;
    }
    tm.tm_year = y1 - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    t = timegm(&tm);
    if (t == (time_t)-1) {
        return -1;
    }
    *out = t;
    return 0;
}

int keys_validity(const unsigned char *der, size_t len, time_t *not_before, time_t *not_after)
{
    const unsigned char *p = der, *end = der + len, *tend;
    unsigned tag;
    size_t l;
    int i;

    if (der_tl(&p, end, &tag, &l) < 0 || tag != 0x30) {       /* Certificate */
        return -1;
    }
    end = p + l;
    if (der_tl(&p, end, &tag, &l) < 0 || tag != 0x30) {       /* TBSCertificate */
        return -1;
    }
    tend = p + l;
    if (der_tl(&p, tend, &tag, &l) < 0) {
        return -1;
    }
    if (tag == 0xa0) {                                         /* [0] version */
        p += l;
        if (der_tl(&p, tend, &tag, &l) < 0) {
            return -1;
        }
    }
    if (tag != 0x02) {                                         /* serialNumber */
        return -1;
    }
    p += l;
    for (i = 0; i < 2; i++) {                                  /* signature, issuer */
        if (der_tl(&p, tend, &tag, &l) < 0 || tag != 0x30) {
            return -1;
        }
        p += l;
    }
    if (der_tl(&p, tend, &tag, &l) < 0 || tag != 0x30) {       /* validity */
        return -1;
    }
    tend = p + l;
    if (der_tl(&p, tend, &tag, &l) < 0 || der_time(tag, p, l, not_before) < 0) {
        return -1;
    }
    p += l;
    if (der_tl(&p, tend, &tag, &l) < 0 || der_time(tag, p, l, not_after) < 0) {
        return -1;
    }
    return 0;
}

int keys_check(const struct keys_cert *c, time_t now, long *days_left, char *err, size_t cap)
{
    const char *what = c->host[0] ? c->host : "server";
    char when[32];
    struct tm tm;

    *days_left = (long)((c->not_after - now) / 86400);
    if (!keys_match(c)) {
        seterr(err, cap, "%s.key does not belong to the certificate in %s.pem", what, what);
        return -1;
    }
    if (!gmtime_r(&c->not_after, &tm) || strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC",
                                                  &tm) == 0) {
        when[0] = '\0';
    }
    if (now > c->not_after) {
        seterr(err, cap, "the certificate in %s.pem expired on %s; install a renewed one",
               what, when);
        return -1;
    }
    if (now < c->not_before) {
        seterr(err, cap, "the certificate in %s.pem is not valid yet (check the clock)", what);
        return -1;
    }
    return 0;
}

const struct keys_cert *keys_find(const struct keys *k, const char *name)
{
    size_t i;
    if (k->n == 0) {
        return NULL;
    }
    if (name && name[0]) {
        for (i = 1; i < k->n; i++) {
            if (strcasecmp(k->certs[i].host, name) == 0) {
                return &k->certs[i];
            }
        }
    }
    return &k->certs[0];
}

static void wipe_key(struct keys_cert *c)
{
    if (c->skey) {
        explicit_bzero(c->skey, sizeof *c->skey);
        free(c->skey);
        c->skey = NULL;
    }
}

void keys_free_cert(struct keys_cert *c)
{
    size_t i;
    wipe_key(c);
    for (i = 0; i < c->chain_len; i++) {
        free(c->chain[i].data);
    }
    c->chain_len = 0;
}

void keys_free(struct keys *k)
{
    size_t i;
    for (i = 0; i < k->n; i++) {
        keys_free_cert(&k->certs[i]);
    }
    k->n = 0;
}

void keys_wipe_keys(struct keys *k, const struct keys_cert *keep)
{
    size_t i;
    for (i = 0; i < k->n; i++) {
        if (&k->certs[i] != keep) {
            wipe_key(&k->certs[i]);
        }
    }
}

/* test_keys.c: tls/keys (PEM, key match, validity, SNI table), lib/ucspi (control channel),
   tls/pump names, and tls/tlsclient against an in-process BearSSL server on a socketpair.
   Needs the openssl command to make fresh certificates (skips those parts without it). */
#include "tls/keys.h"
#include "tls/pump.h"
#include "tls/tlsclient.h"
#include "ucspi.h"
#include "t.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* an expired (2020-01-01..2020-02-01) self-signed P-256 test certificate and its key */
static const char expired_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBDzCBtgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwHhcN\n"
    "MjAwMTAxMDAwMDAwWhcNMjAwMjAxMDAwMDAwWjAUMRIwEAYDVQQDDAlsb2NhbGhv\n"
    "c3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASy6o+w1XP32Q28mOUwI8JVRxlF\n"
    "0GMuSGMtLkAowRP+725ZKTU8x4O/xzjdLOLtr2hvGfz5WzWHTl+xBZKytOgoMAoG\n"
    "CCqGSM49BAMCA0gAMEUCIQCvkWdLOpLH1m7CVrknmwLlrgDbnrYw1GGPPZRAhWGo\n"
    "zQIgMd/NDCKH3MMrNE7Pz77Jw1ws0dEdogU+B7fs06a37ts=\n"
    "-----END CERTIFICATE-----\n";
static const char expired_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFHYw3vBsPA9VDTFx\n"
    "juJ2qewIaDlswsj3AJqPb+4SL5KhRANCAASy6o+w1XP32Q28mOUwI8JVRxlF0GMu\n"
    "SGMtLkAowRP+725ZKTU8x4O/xzjdLOLtr2hvGfz5WzWHTl+xBZKytOgo\n"
    "-----END PRIVATE KEY-----\n";

static char dir[64];

static int sh(const char *fmt, const char *a)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, dir, a);   /* fmt uses %1$s = dir, %2$s = a */
    return system(cmd);
}

static void test_expired(void)
{
    struct keys_cert c;
    char err[KEYS_ERR_MAX];
    long days;

    memset(&c, 0, sizeof c);
    T_CHECK((keys_parse_chain(&c, expired_pem, strlen(expired_pem), err, sizeof err)) == (0),
             "expired chain parses");
    T_EQ_INT(c.chain_len, 1, "one certificate");
    T_EQ_INT(c.not_before, 1577836800, "notBefore 2020-01-01");
    T_EQ_INT(c.not_after, 1580515200, "notAfter 2020-02-01");
    T_CHECK((keys_parse_key(&c, expired_key, strlen(expired_key), err, sizeof err)) == (0),
             "PKCS#8 EC key parses");
    T_EQ_INT(c.key_type, BR_KEYTYPE_EC, "EC key");
    T_CHECK((keys_match(&c)) == (1), "key matches");
    T_CHECK((keys_check(&c, 1700000000, &days, err, sizeof err)) == (-1), "expired refused");
    T_CHECK(strstr(err, "expired on 2020-02-01") != NULL, "says when: %s", err);
    T_CHECK((keys_check(&c, 1500000000, &days, err, sizeof err)) == (-1), "not yet valid refused");
    T_CHECK((keys_check(&c, 1580000000, &days, err, sizeof err)) == (0), "valid inside its dates");
    T_EQ_INT(days, 5, "days left");
    keys_free_cert(&c);
    T_CHECK(c.skey == NULL, "key wiped and freed");
}

static void test_hostile_pem(void)
{
    struct keys_cert c;
    char err[KEYS_ERR_MAX], buf[4096];
    size_t n = strlen(expired_pem);
    time_t nb, na;
    unsigned char der[64];
    static const char *const bad[] = {
        "",
        "no pem at all\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n",                  /* no END */
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",   /* bad DER */
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&c, 0, sizeof c);
        T_CHECK(keys_parse_chain(&c, bad[i], strlen(bad[i]), err, sizeof err) == -1,
                "bad chain %zu refused (%s)", i, err);
        keys_free_cert(&c);
    }
    /* truncated in the middle of the base64 */
    memcpy(buf, expired_pem, n / 2);
    memset(&c, 0, sizeof c);
    T_CHECK((keys_parse_chain(&c, buf, n / 2, err, sizeof err)) == (-1), "truncated PEM refused");
    keys_free_cert(&c);
    /* nine certificates: over KEYS_CHAIN_MAX */
    memset(&c, 0, sizeof c);
    {
        static char many[8192];
        size_t len = 0;
        for (i = 0; i < KEYS_CHAIN_MAX + 1; i++) {
            memcpy(many + len, expired_pem, n);
            len += n;
        }
        T_CHECK((keys_parse_chain(&c, many, len, err, sizeof err)) == (-1), "chain of 9 refused");
        T_CHECK(strstr(err, "more than") != NULL, "says why: %s", err);
        keys_free_cert(&c);
    }
    memset(&c, 0, sizeof c);
    T_CHECK((keys_parse_key(&c, expired_pem, n, err, sizeof err)) == (-1), "certificate is no key");
    {
        static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                                  "-----END ENCRYPTED PRIVATE KEY-----\n";
        static const char undecodable[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                          "-----END PRIVATE KEY-----\n";
        int r = keys_parse_key(&c, enc, strlen(enc), err, sizeof err);
        T_EQ_INT(r, -1, "encrypted key refused");
        T_CHECK(strstr(err, "encrypted") != NULL, "says encrypted: %s", err);
        r = keys_parse_key(&c, undecodable, strlen(undecodable), err, sizeof err);
        T_EQ_INT(r, -1, "undecodable key refused");
    }
    /* DER validity parser on hostile input */
    memset(der, 0, sizeof der);
    T_CHECK((keys_validity(der, 0, &nb, &na)) == (-1), "empty DER");
    der[0] = 0x30;
    der[1] = 0x84;
    der[2] = 0xff;
    T_CHECK((keys_validity(der, 6, &nb, &na)) == (-1), "length past the end");
    der[1] = 0x89;
    T_CHECK((keys_validity(der, sizeof der, &nb, &na)) == (-1), "9-byte length");
    T_CHECK((keys_validity(der, 1, &nb, &na)) == (-1), "one byte");
}

static int have_openssl;

static void make_certs(void)
{
    const char *ec = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                     "-keyout %s/%s.key -out %s/%s.pem -days 30 -subj /CN=%s "
                     "-addext subjectAltName=DNS:%s >/dev/null 2>&1";
    char cmd[1024];
    snprintf(dir, sizeof dir, "/tmp/test_keys.XXXXXX");
    if (!mkdtemp(dir)) {
        return;
    }
    snprintf(cmd, sizeof cmd, ec, dir, "server", dir, "server", "localhost", "localhost");
    have_openssl = system(cmd) == 0;
    if (!have_openssl) {
        return;
    }
    snprintf(cmd, sizeof cmd, ec, dir, "pop3.example.test", dir, "pop3.example.test",
             "pop3.example.test", "pop3.example.test");
    have_openssl &= system(cmd) == 0;
    have_openssl &= sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout %1$s/%2$s.key -out "
                       "%1$s/%2$s.pem -days 400 -subj /CN=rsa >/dev/null 2>&1", "rsa") == 0;
    have_openssl &= sh("openssl rsa -traditional -in %1$s/%2$s.key -out %1$s/%2$s.trad "
                       ">/dev/null 2>&1",
                       "rsa") == 0;
    have_openssl &= sh("openssl ec -in %1$s/%2$s.key -out %1$s/%2$s.trad >/dev/null 2>&1",
                       "server") == 0;
}


static void test_formats(void)
{
    struct keys_cert c;
    char err[KEYS_ERR_MAX];
    long days;
    static const struct {
        const char *name;
        int type, ok;
        const char *why;
    } pairs[] = {
        { "server", BR_KEYTYPE_EC, 0, "EC P-256, PKCS#8" },
        { "rsa", BR_KEYTYPE_RSA, 0, "RSA-2048, PKCS#8" },
        { "rsatrad", BR_KEYTYPE_RSA, 0, "RSA PRIVATE KEY" },
        { "ectrad", BR_KEYTYPE_EC, 0, "EC PRIVATE KEY" },
        { "mis1", BR_KEYTYPE_RSA, -1, "EC certificate, RSA key" },
        { "mis2", BR_KEYTYPE_EC, -1, "EC certificate, another EC key" },
        { "mis3", BR_KEYTYPE_EC, -1, "RSA certificate, EC key" },
    };
    size_t i;

    sh("cp %1$s/%2$s.pem %1$s/rsatrad.pem; cp %1$s/rsa.trad %1$s/rsatrad.key", "rsa");
    sh("cp %1$s/%2$s.pem %1$s/ectrad.pem; cp %1$s/server.trad %1$s/ectrad.key", "server");
    sh("cp %1$s/%2$s.pem %1$s/mis1.pem; cp %1$s/rsa.key %1$s/mis1.key", "server");
    sh("cp %1$s/%2$s.pem %1$s/mis2.pem; cp %1$s/pop3.example.test.key %1$s/mis2.key", "server");
    sh("cp %1$s/%2$s.pem %1$s/mis3.pem; cp %1$s/server.key %1$s/mis3.key", "rsa");
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        memset(&c, 0, sizeof c);
        T_CHECK(keys_load_pair(&c, dir, pairs[i].name, err, sizeof err) == 0, "%s loads",
                pairs[i].why);
        T_CHECK(c.key_type == pairs[i].type, "%s: key type", pairs[i].why);
        T_CHECK(keys_check(&c, time(NULL), &days, err, sizeof err) == pairs[i].ok,
                "%s: check", pairs[i].why);
        if (pairs[i].ok < 0) {
            T_CHECK(strstr(err, "does not belong") != NULL, "says mismatch: %s", err);
        }
        keys_free_cert(&c);
    }
    memset(&c, 0, sizeof c);
    T_CHECK((keys_load_pair(&c, dir, "server", err, sizeof err)) == (0), "server pair");
    keys_check(&c, time(NULL), &days, err, sizeof err);
    T_CHECK(days >= 29 && days <= 30, "30 days left (%ld)", days);
    keys_free_cert(&c);
    T_CHECK((keys_load_pair(&c, dir, "absent", err, sizeof err)) == (-1), "missing pair");
    T_CHECK(strstr(err, "absent.pem: No such file") != NULL, "names the file: %s", err);
}

static void test_dir(void)
{
    struct keys k;
    char err[KEYS_ERR_MAX] = "", sub[128];
    const struct keys_cert *c;

    /* a directory like etc/tls: server pair, one SNI pair, ca.pem without key, junk */
    snprintf(sub, sizeof sub, "%s/tls", dir);
    mkdir(sub, 0700);
    sh("cp %1$s/%2$s.pem %1$s/tls/; cp %1$s/server.key %1$s/tls/", "server");
    sh("cp %1$s/%2$s.pem %1$s/tls/; cp %1$s/pop3.example.test.key %1$s/tls/", "pop3.example.test");
    sh("cp %1$s/%2$s.pem %1$s/tls/ca.pem; cp %1$s/rsa.pem %1$s/tls/lonely.pem", "rsa");
    T_CHECK(keys_load_dir(&k, sub, err, sizeof err) == 0, "directory loads (%s)", err);
    T_EQ_INT(k.n, 2, "server + one SNI pair (ca.pem and a .pem without .key skipped)");
    c = keys_find(&k, "POP3.Example.Test");
    T_EQ_STR(c->host, "pop3.example.test", "SNI name matched without case");
    c = keys_find(&k, "smtp.example.test");
    T_EQ_STR(c->host, "", "unknown name: default");
    c = keys_find(&k, NULL);
    T_CHECK(c == &k.certs[0], "no SNI: default");
    keys_wipe_keys(&k, &k.certs[1]);
    T_CHECK(k.certs[0].skey == NULL && k.certs[1].skey != NULL, "wipe keeps only the chosen key");
    keys_free(&k);
    T_EQ_INT(k.n, 0, "freed");
    sh("rm -f %1$s/tls/server.key%2$s", "");
    T_CHECK((keys_load_dir(&k, sub, err, sizeof err)) == (-1), "no server.key: refused");
    T_CHECK(strstr(err, "server.key") != NULL, "names server.key: %s", err);
}

/* Write n bytes of ch to dir/sub/name. 0 ok. */
static int put_file(const char *sub, const char *name, size_t n, char ch)
{
    char path[512];
    FILE *f;
    size_t i;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        fputc(ch, f);
    }
    return fclose(f);
}

/* The read/parse split tlsd uses: reading is bytes only (bounded, no decoding), parsing
   later gives the same messages as keys_load_dir and consumes (wipes) the bytes. */
static void test_raw(void)
{
    static struct keys_raw r;
    struct keys_raw_pair p;
    struct keys k;
    struct keys_cert c;
    char err[KEYS_ERR_MAX], sub[128], path[512], name[KEYS_HOST_MAX + 8];
    char *buf;
    size_t len, i;
    long days;

    snprintf(sub, sizeof sub, "%s/raw", dir);
    mkdir(sub, 0700);
    sh("cp %1$s/server.pem %1$s/server.key %1$s/raw/%2$s", "");
    sh("cp %1$s/pop3.example.test.pem %1$s/pop3.example.test.key %1$s/raw/%2$s", "");
    sh("cp %1$s/rsa.pem %1$s/raw/ca.pem; cp %1$s/rsa.key %1$s/raw/ca.key%2$s", "");

    /* keys_read_file: the bound is KEYS_PEM_MAX bytes, inclusive */
    T_CHECK(put_file("raw", "max", KEYS_PEM_MAX, 'A') == 0, "write a file of KEYS_PEM_MAX");
    T_CHECK(put_file("raw", "over", KEYS_PEM_MAX + 1, 'A') == 0, "write one byte more");
    T_CHECK(put_file("raw", "empty", 0, 'A') == 0, "write an empty file");
    snprintf(path, sizeof path, "%s/max", sub);
    buf = NULL;
    T_CHECK(keys_read_file(path, &buf, &len) == 0 && len == KEYS_PEM_MAX,
            "a file of exactly KEYS_PEM_MAX bytes is read whole");
    free(buf);
    snprintf(path, sizeof path, "%s/over", sub);
    errno = 0;
    T_CHECK(keys_read_file(path, &buf, &len) == -1 && errno == EFBIG,
            "KEYS_PEM_MAX + 1 bytes: EFBIG");
    snprintf(path, sizeof path, "%s/empty", sub);
    buf = NULL;
    T_CHECK(keys_read_file(path, &buf, &len) == 0 && len == 0, "an empty file reads as 0 bytes");
    free(buf);
    snprintf(path, sizeof path, "%s/absent", sub);
    errno = 0;
    T_CHECK(keys_read_file(path, &buf, &len) == -1 && errno == ENOENT, "missing file: ENOENT");
    errno = 0;
    T_CHECK(keys_read_file(sub, &buf, &len) == -1 && errno == EINVAL,
            "a directory is not a regular file: EINVAL");

    /* keys_read_pair: messages name the file; nothing is kept on failure */
    T_CHECK(keys_read_pair(&p, sub, "absent", err, sizeof err) == -1, "missing pair refused");
    T_CHECK(strstr(err, "raw/absent.pem: No such file") != NULL, "names the .pem: %s", err);
    T_CHECK(p.pem == NULL && p.key == NULL, "nothing kept");
    sh("cp %1$s/server.pem %1$s/raw/nokey.pem%2$s", "");
    T_CHECK(keys_read_pair(&p, sub, "nokey", err, sizeof err) == -1, "missing key refused");
    T_CHECK(strstr(err, "unable to read") && strstr(err, "raw/nokey.key: No such file"),
            "names the .key: %s", err);
    T_CHECK(p.pem == NULL && p.key == NULL, "the .pem read first is not kept");
    sh("cp %1$s/server.pem %1$s/raw/big.pem%2$s", "");
    put_file("raw", "big.key", KEYS_PEM_MAX + 1, 'A');
    T_CHECK(keys_read_pair(&p, sub, "big", err, sizeof err) == -1, "oversize key refused");
    T_CHECK(strstr(err, "big.key: larger than 262144 bytes") != NULL, "says why: %s", err);
    memset(name, 'a', KEYS_HOST_MAX + 1);
    name[KEYS_HOST_MAX + 1] = '\0';
    T_CHECK(keys_read_pair(&p, sub, name, path, sizeof path) == -1,
            "host name over 253 refused");
    T_CHECK(strstr(path, "host name too long") != NULL, "says why");

    /* a pair read then parsed: the bytes are consumed */
    T_CHECK(keys_read_pair(&p, sub, "server", err, sizeof err) == 0, "server pair read");
    T_CHECK(p.pem && p.key && p.key_len > 0 && strcmp(p.name, "server") == 0, "bytes held");
    T_CHECK(keys_parse_pair(&c, &p, sub, err, sizeof err) == 0, "and parsed (%s)", err);
    T_CHECK(p.key == NULL && p.key_len == 0 && p.pem == NULL, "raw bytes wiped and freed");
    T_CHECK(keys_check(&c, time(NULL), &days, err, sizeof err) == 0, "the pair checks");
    T_EQ_STR(c.host, "", "server is the default pair");
    keys_free_cert(&c);
    keys_raw_free_pair(&p);     /* twice is harmless */

    /* keys_read_dir: the rules of keys_load_dir; the extra files above are no pairs */
    sh("rm -f %1$s/raw/nokey.pem %1$s/raw/big.pem %1$s/raw/big.key%2$s", "");
    T_CHECK(keys_read_dir(&r, sub, err, sizeof err) == 0, "directory read (%s)", err);
    T_EQ_INT(r.n, 2, "server + one SNI pair (ca skipped)");
    T_EQ_STR(r.pairs[0].name, "server", "server first");
    T_EQ_STR(r.pairs[1].name, "pop3.example.test", "then the SNI pair");
    T_CHECK(keys_parse_raw(&k, &r, err, sizeof err) == 0, "parsed (%s)", err);
    T_EQ_INT(r.n, 0, "raw consumed");
    T_CHECK(r.pairs[0].key == NULL && r.pairs[1].key == NULL, "key bytes wiped and freed");
    T_EQ_INT(k.n, 2, "two pairs parsed");
    T_EQ_STR(keys_find(&k, "pop3.example.test")->host, "pop3.example.test", "SNI table");
    keys_free(&k);

    /* reading does not decode: garbage reads fine and fails at parse time, with the
       message keys_load_dir gives */
    put_file("raw", "server.key", 40, 'x');
    T_CHECK(keys_read_dir(&r, sub, err, sizeof err) == 0, "garbage key still reads");
    T_CHECK(keys_parse_raw(&k, &r, err, sizeof err) == -1, "but does not parse");
    T_CHECK(strstr(err, "raw/server.key: no PRIVATE KEY in the file") != NULL, "says: %s", err);
    T_CHECK(k.n == 0 && r.n == 0, "nothing kept, raw consumed");
    T_CHECK(keys_load_dir(&k, sub, path, sizeof path) == -1 && strcmp(path, err) == 0,
            "keys_load_dir says the same");
    sh("cp %1$s/server.key %1$s/raw/server.key%2$s", "");

    /* bounds of the directory */
    for (i = 0; i < KEYS_CERTS_MAX; i++) {
        char f[32];
        snprintf(f, sizeof f, "h%zu.pem", i);
        put_file("raw", f, 1, 'x');
        snprintf(f, sizeof f, "h%zu.key", i);
        put_file("raw", f, 1, 'x');
    }
    T_CHECK(keys_read_dir(&r, sub, err, sizeof err) == -1, "more than 63 SNI pairs refused");
    T_CHECK(strstr(err, "more than 63 certificates") != NULL, "says: %s", err);
    T_EQ_INT(r.n, 0, "nothing kept");
    snprintf(path, sizeof path, "%s/nowhere", dir);
    T_CHECK(keys_read_dir(&r, path, err, sizeof err) == -1, "missing directory refused");
    T_CHECK(strstr(err, "nowhere/server.pem: No such file") != NULL, "says: %s", err);
    sh("rm -rf %1$s/raw%2$s", "");
}

static void test_ucspi(void)
{
    struct ucspi_info in, out;
    char rep[UCSPI_INFO_MAX];
    long n;
    size_t used, i;
    int r;
    static const struct {
        const char *s;
        size_t n;
        int want;
        const char *name;
    } cases[] = {
        { "SSL_PROTOCOL=TLSv1.2\0SSL_CIPHER=X\0\0", 35, 1, "complete" },
        { "SSL_PROTOCOL=TLSv1.2\0SSL_CIPHER=X\0", 34, 0, "no final NUL yet" },
        { "SSL_PROTOCOL=TLSv1.2\0SSL_CI", 27, 0, "mid-record" },
        { "\0", 1, 1, "empty report" },
        { "", 0, 0, "nothing yet" },
        { "OTHER_VAR=1\0\0", 13, 1, "unknown name skipped" },
        { "SSL_PROTOCOL\0\0", 14, -1, "no '='" },
        { "ssl_protocol=x\0\0", 16, -1, "lower-case name" },
        { "=x\0\0", 4, -1, "empty name" },
        { "SSL_PROTOCOL=\0\0", 15, -1, "empty value" },
        { "SSL_PROTOCOL=a b\0\0", 18, -1, "space in value" },
        { "SSL_PROTOCOL=a\nb\0\0", 18, -1, "LF in value" },
        { "SSL_PROTOCOL=a\0SSL_PROTOCOL=b\0\0", 31, -1, "repeated" },
    };

    T_CHECK((ucspi_start_byte('Y')) == (UCSPI_START_INFO), "Y");
    T_CHECK((ucspi_start_byte('y')) == (UCSPI_START_QUIET), "y");
    T_CHECK((ucspi_start_byte('?')) == (UCSPI_ASK), "?");
    T_CHECK((ucspi_start_byte('N')) == (-1), "N");
    T_CHECK((ucspi_start_byte(0)) == (-1), "NUL");
    memset(&in, 0, sizeof in);
    strcpy(in.protocol, "TLSv1.2");
    strcpy(in.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    n = ucspi_info_build(&in, rep, sizeof rep);
    T_EQ_INT(n, 63, "report length");
    T_CHECK(memcmp(rep, "SSL_PROTOCOL=TLSv1.2\0SSL_CIPHER=ECDHE-ECDSA-AES128-GCM-SHA256\0\0",
                   63) == 0, "report bytes");
    T_CHECK((ucspi_info_parse(rep, (size_t)n, &out, &used)) == (1), "round trip parses");
    T_EQ_INT(used, 63, "consumed exactly");
    T_EQ_STR(out.cipher, in.cipher, "cipher back");
    T_EQ_STR(out.sni, "", "no SNI");
    for (i = 1; i < (size_t)n; i++) {
        r = ucspi_info_parse(rep, i, &out, &used);
        if (r != 0) {
            break;
        }
    }
    T_EQ_INT(i, n, "every prefix is incomplete");
    strcpy(in.sni, "mail.example.test");
    strcpy(in.resumed, "Resumed");
    n = ucspi_info_build(&in, rep, sizeof rep);
    T_CHECK(n > 0 && memmem(rep, (size_t)n, "\0SSL_SESSION_RESUMED=Resumed\0\0", 30) != NULL,
            "SSL_SESSION_RESUMED last in the report");
    T_CHECK(ucspi_info_parse(rep, (size_t)n, &out, &used) == 1, "with SNI and resumption");
    T_EQ_STR(out.resumed, "Resumed", "resumption back");
    T_EQ_STR(out.sni, "mail.example.test", "SNI back");
    memset(in.sni, 0, sizeof in.sni);
    memset(in.resumed, 0, sizeof in.resumed);
    T_CHECK((ucspi_info_build(&in, rep, 30)) == (-1), "small buffer refused");
    strcpy(in.sni, "bad name");
    T_CHECK((ucspi_info_build(&in, rep, sizeof rep)) == (-1), "space in a value refused");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_CHECK(ucspi_info_parse(cases[i].s, cases[i].n, &out, &used) == cases[i].want, "%s",
                cases[i].name);
    }
    /* a value over UCSPI_VALUE_MAX, and a report that never ends */
    memset(rep, 'A', sizeof rep);
    memcpy(rep, "SSL_CIPHER=", 11);
    T_CHECK((ucspi_info_parse(rep, 11 + UCSPI_VALUE_MAX + 1, &out, &used)) == (-1),
             "over-long value without NUL");
    rep[11 + UCSPI_VALUE_MAX + 1] = '\0';
    T_CHECK(ucspi_info_parse(rep, 11 + UCSPI_VALUE_MAX + 2, &out, &used) == -1,
            "over-long value");
    for (i = 0; i + 4 <= sizeof rep; i += 4) {
        memcpy(rep + i, "X=1", 4);
    }
    T_CHECK((ucspi_info_parse(rep, sizeof rep, &out, &used)) == (-1), "report over UCSPI_INFO_MAX");
}

static void test_names(void)
{
    char t[64];
    T_EQ_STR(pump_suite_name(BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
             "ECDHE-RSA-CHACHA20-POLY1305", "suite name");
    T_CHECK(pump_suite_name(0xffff) == NULL, "unknown suite");
    T_EQ_STR(pump_version_name(BR_TLS12), "TLSv1.2", "version name");
    T_EQ_STR(pump_error_text(512 + 70, t, sizeof t), "sent alert 70 protocol_version", "alert");
    T_EQ_STR(pump_error_text(BR_ERR_X509_NOT_TRUSTED, t, sizeof t), "certificate not trusted",
             "x509");
    T_EQ_INT(pump_server_suites_len, 6, "six server suites (ECDHE + AEAD)");
}

/* A BearSSL server for the client tests: handshake on fd, then echo until close. */
static void echo_server(int fd, const char *name)
{
    static struct keys_cert c;
    static br_ssl_server_context sc;
    static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
    char err[KEYS_ERR_MAX];

    if (keys_load_pair(&c, dir, name, err, sizeof err) < 0) {
        _exit(2);
    }
    br_ssl_server_init_full_ec(&sc, c.chain, c.chain_len, c.issuer_key_type,
                               br_skey_decoder_get_ec(c.skey));
    br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
    br_ssl_server_reset(&sc);
    for (;;) {
        size_t len;
        unsigned char *p, tmp[512];
        if (pump_wait(&sc.eng, fd, fd, BR_SSL_RECVAPP, pump_now_ms() + 5000) <= 0) {
            _exit(0);
        }
        size_t got;
        p = br_ssl_engine_recvapp_buf(&sc.eng, &len);
        got = len < sizeof tmp ? len : sizeof tmp;
        memcpy(tmp, p, got);
        br_ssl_engine_recvapp_ack(&sc.eng, got);
        if (pump_wait(&sc.eng, fd, fd, BR_SSL_SENDAPP, pump_now_ms() + 5000) <= 0) {
            _exit(0);
        }
        p = br_ssl_engine_sendapp_buf(&sc.eng, &len);
        if (got > len) {
            got = len;
        }
        memcpy(p, tmp, got);
        br_ssl_engine_sendapp_ack(&sc.eng, got);
        br_ssl_engine_flush(&sc.eng, 0);
    }
}

/* One client session against echo_server(certname). Returns tlsc_start's result. */
static int client_case(const char *certname, const char *servername, int verify,
                       const char *cafile, struct tlsc *c, int echo)
{
    int sv[2], r;
    pid_t pid;
    char buf[64];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return -2;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        echo_server(sv[1], certname);
        _exit(0);
    }
    close(sv[1]);
    r = tlsc_start(c, sv[0], servername, verify, cafile, 5);
    if (r == 0 && echo) {
        T_CHECK((tlsc_write(c, "EHLO x\r\n", 8)) == (0), "write");
        T_CHECK((tlsc_read(c, buf, sizeof buf)) == (8), "echo comes back");
        T_CHECK(memcmp(buf, "EHLO x\r\n", 8) == 0, "same bytes");
        T_CHECK((tlsc_info(c, buf, sizeof buf)) == (0), "info");
        T_EQ_STR(buf, "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256", "protocol and cipher");
    }
    tlsc_close(c);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return r;
}

static void test_client(void)
{
    struct tlsc *c = malloc(sizeof *c);
    char ca[128], other[128];

    snprintf(ca, sizeof ca, "%s/server.pem", dir);
    snprintf(other, sizeof other, "%s/rsa.pem", dir);
    T_CHECK((client_case("server", "localhost", 0, NULL, c, 1)) == (0), "no verification: ok");
    T_CHECK((client_case("server", "localhost", 1, ca, c, 1)) == (0), "verified against its CA");
    T_CHECK((client_case("server", "mx.other.test", 1, ca, c, 0)) == (-1), "wrong name refused");
    T_CHECK((tlsc_verify_failed(c)) == (1), "as a verification failure");
    T_CHECK(strstr(tlsc_error(c), "another host name") != NULL, "error: %s", tlsc_error(c));
    T_CHECK((client_case("server", "localhost", 1, other, c, 0)) == (-1), "unknown CA refused");
    T_CHECK((tlsc_verify_failed(c)) == (1), "as a verification failure");
    T_CHECK(client_case("server", "127.0.0.1", 1, ca, c, 0) == -1,
            "IP literal + verify refused");
    T_CHECK((client_case("server", "localhost", 1, "/nonexistent", c, 0)) == (-1), "no CA file");
    T_CHECK(strstr(tlsc_error(c), "CA file") != NULL, "error: %s", tlsc_error(c));
    free(c);
}

/* The app's side over a socketpair standing in for tlsd's end of the channel. */
static void test_ucspi_app(void)
{
    static const char rep[] = "SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER=TLS_AES_128_GCM_SHA256\0\0";
    struct ucspi_info info;
    char got[4];
    int sp[2], i;
    struct { const char *answer; int want; const char *name; } asks[] = {
        { "+", 1, "'+': TLS can start" },
        { "-", 0, "'-': unavailable" },
        { "", 0, "channel closed: unavailable" },
        { "Y", 0, "any other byte: unavailable" },
    };

    for (i = 0; i < 4; i++) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
        if (asks[i].answer[0]) {
            write(sp[1], asks[i].answer, 1);
        } else {
            shutdown(sp[1], SHUT_WR);
        }
        T_EQ_INT(ucspi_ask(sp[0]), asks[i].want, asks[i].name);
        T_CHECK(read(sp[1], got, sizeof got) == 1 && got[0] == '?', "the app wrote '?' (%s)",
                asks[i].name);
        close(sp[0]);
        close(sp[1]);
    }

    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    if (fork() == 0) {          /* the report in two pieces, the second a moment later */
        close(sp[0]);
        read(sp[1], got, 1);
        write(sp[1], rep, 20);
        usleep(20000);
        write(sp[1], rep + 20, sizeof rep - 1 - 20);
        _exit(got[0] == 'Y' ? 0 : 1);
    }
    close(sp[1]);
    T_EQ_INT(ucspi_start(sp[0], &info), 0, "report read across two writes");
    T_EQ_STR(info.protocol, "TLSv1.3", "protocol from the report");
    T_EQ_STR(info.cipher, "TLS_AES_128_GCM_SHA256", "cipher from the report");
    wait(&i);
    T_CHECK(WIFEXITED(i) && WEXITSTATUS(i) == 0, "the app wrote 'Y'");
    close(sp[0]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    write(sp[1], rep, 20);
    close(sp[1]);
    T_EQ_INT(ucspi_start(sp[0], &info), -1, "channel closed mid-report: the handshake failed");
    close(sp[0]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    write(sp[1], "SSL_PROTOCOL=a b\0\0", 18);
    T_EQ_INT(ucspi_start(sp[0], &info), -1, "malformed report refused");
    close(sp[0]);
    close(sp[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_expired();
    test_hostile_pem();
    test_ucspi();
    test_ucspi_app();
    test_names();
    make_certs();
    if (have_openssl) {
        test_formats();
        test_dir();
        test_raw();
        test_client();
        sh("rm -rf %1$s%2$s", "");
    } else {
        printf("# openssl not available: certificate file tests skipped\n");
    }
    return T_DONE();
}

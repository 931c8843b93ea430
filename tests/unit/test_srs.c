/* test_srs: SRS0/SRS1 forward and reverse against hashes computed independently (Python's
   hmac, hashlib and base64), expiry, forged hashes, rotation, and the secrets file */
#include "srs.h"
#include "t.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2026-12-03 00:00 UTC: day 20790, 310 mod 1024, "JW" in base32 */
#define NOW ((time_t)1796256000)
#define DAY ((time_t)86400)

static void keys(struct srs_keys *k, const char *first, const char *second)
{
    memset(k, 0, sizeof *k);
    k->len[0] = strlen(first);
    memcpy(k->s[0], first, k->len[0]);
    k->n = 1;
    if (second) {
        k->len[1] = strlen(second);
        memcpy(k->s[1], second, k->len[1]);
        k->n = 2;
    }
}

static enum srs_result rev(const struct srs_keys *k, const char *local, time_t now, char *out)
{
    return srs_reverse(k, local, strlen(local), now, SRS_MAX_AGE_DEFAULT, out, ADDR_MAX + 1);
}

static void test_forward(void)
{
    struct srs_keys k;
    char out[ADDR_MAX + 1];
    keys(&k, "s3cret", NULL);
    T_EQ_INT(srs_forward(&k, "Bob.Smith@sender.example", "mx.example.jp", NOW, out, sizeof out),
             1, "a plain sender is rewritten");
    T_EQ_STR(out, "SRS0=vYnn=JW=sender.example=Bob.Smith@mx.example.jp",
             "SRS0 with the independently computed hash and day");
    T_EQ_INT(srs_forward(&k, "SRS0=ABCD=JW=orig.example=alice@fwd1.example", "mx.example.jp", NOW,
                         out, sizeof out), 1, "another forwarder's SRS0 is rewritten");
    T_EQ_STR(out, "SRS1=CKwF=fwd1.example==ABCD=JW=orig.example=alice@mx.example.jp",
             "SRS1 keeps the first forwarder and the SRS0 part");
    T_EQ_INT(srs_forward(&k, "SRS1=zzzz=fwd1.example==ABCD=JW=orig.example=alice@fwd2.example",
                         "mx.example.jp", NOW, out, sizeof out), 1, "an SRS1 is re-signed");
    T_EQ_STR(out, "SRS1=CKwF=fwd1.example==ABCD=JW=orig.example=alice@mx.example.jp",
             "an SRS1 keeps its first forwarder, with our hash");
    T_EQ_INT(srs_forward(&k, "", "mx.example.jp", NOW, out, sizeof out), 0, "<> stays <>");
    T_EQ_INT(srs_forward(&k, "x@MX.example.jp", "mx.example.jp", NOW, out, sizeof out), 0,
             "a sender at our own SRS domain is left alone");
    {
        char big[ADDR_MAX + 1];
        memset(big, 'a', SMTP_LOCAL_MAX);     /* 64 + 1 + 248 = 313 octets: a valid sender */
        snprintf(big + SMTP_LOCAL_MAX, sizeof big - SMTP_LOCAL_MAX, "@%0240d.example", 0);
        errno = 0;
        T_CHECK(srs_forward(&k, big, "mx.example.jp", NOW, out, sizeof out) == -1 && errno == E2BIG,
                "a result longer than ADDR_MAX is refused");
    }
}

static void test_reverse(void)
{
    struct srs_keys k, old_new;
    char out[ADDR_MAX + 1], fwd[ADDR_MAX + 1];
    keys(&k, "s3cret", NULL);
    T_EQ_INT(rev(&k, "SRS0=vYnn=JW=sender.example=Bob.Smith", NOW, out), SRS_OK, "SRS0 decodes");
    T_EQ_STR(out, "Bob.Smith@sender.example", "to the original sender");
    T_EQ_INT(rev(&k, "srs0=VYNN=jw=sender.example=bob.smith", NOW + 3 * DAY, out), SRS_OK,
             "a lower-cased SRS0 still decodes, three days later");
    T_EQ_INT(rev(&k, "SRS0=vYnn=JW=sender.example=Bob.Smith", NOW + 22 * DAY, out), SRS_EXPIRED,
             "22 days later it has expired");
    T_EQ_INT(rev(&k, "SRS0=vYnn=JW=sender.example=Eve", NOW, out), SRS_FORGED,
             "another local part with the same hash is forged");
    T_EQ_INT(rev(&k, "SRS0=vYnm=JW=sender.example=Bob.Smith", NOW, out), SRS_FORGED,
             "a changed hash is forged");
    T_EQ_INT(rev(&k, "SRS1=CKwF=fwd1.example==ABCD=JW=orig.example=alice", NOW, out), SRS_OK,
             "SRS1 decodes");
    T_EQ_STR(out, "SRS0=ABCD=JW=orig.example=alice@fwd1.example", "to the first forwarder's SRS0");
    T_EQ_INT(rev(&k, "SRS1=CKwF=fwd9.example==ABCD=JW=orig.example=alice", NOW, out), SRS_FORGED,
             "SRS1 with another forwarder is forged");
    T_EQ_INT(rev(&k, "taro", NOW, out), SRS_NOT, "an ordinary local part is not SRS");
    T_EQ_INT(rev(&k, "SRS0=vYnn=JW", NOW, out), SRS_BAD, "a cut SRS0 is bad");
    T_EQ_INT(rev(&k, "SRS0=vYnn=J!=sender.example=Bob", NOW, out), SRS_BAD, "a bad stamp is bad");
    T_EQ_INT(rev(&k, "SRS1=CKwF=fwd1.example", NOW, out), SRS_BAD, "a cut SRS1 is bad");
    /* rotation: a new first secret signs; the old one still verifies */
    T_EQ_INT(srs_forward(&k, "carol@c.example", "mx.example.jp", NOW, fwd, sizeof fwd), 1, "signed");
    keys(&old_new, "n3w-secret", "s3cret");
    *strrchr(fwd, '@') = '\0';
    T_EQ_INT(rev(&old_new, fwd, NOW, out), SRS_OK, "an address signed with the old secret decodes");
    keys(&old_new, "n3w-secret", NULL);
    T_EQ_INT(rev(&old_new, fwd, NOW, out), SRS_FORGED, "once the old secret is gone it is refused");
}

static void test_load(void)
{
    char dir[] = "/tmp/yubin-srs-XXXXXX", path[256];
    struct srs_keys k;
    FILE *f;
    T_CHECK(mkdtemp(dir) != NULL, "temp dir");
    T_CHECK(srs_keys_load(dir, &k) == 0 && k.n == 0, "no etc/srs: SRS is off");
    snprintf(path, sizeof path, "%s/etc", dir);
    T_CHECK(mkdir(path, 0700) == 0, "etc");
    snprintf(path, sizeof path, "%s/etc/srs", dir);
    f = fopen(path, "w");
    fputs("# secrets\n\nfirst-secret  \nsecond\n", f);
    fclose(f);
    T_CHECK(srs_keys_load(dir, &k) == 0 && k.n == 2, "two secrets");
    T_CHECK(k.len[0] == 12 && memcmp(k.s[0], "first-secret", 12) == 0, "trailing blanks cut");
    f = fopen(path, "w");
    for (int i = 0; i < 300; i++) {
        fputc('x', f);
    }
    fputc('\n', f);
    fclose(f);
    errno = 0;
    T_CHECK(srs_keys_load(dir, &k) == -1 && errno == EINVAL, "a secret over SRS_SECRET_MAX refused");
    unlink(path);
    snprintf(path, sizeof path, "%s/etc", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    test_forward();
    test_reverse();
    test_load();
    return T_DONE();
}

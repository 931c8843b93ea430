/* authcheck: the Authentication-Results smtpd would add to a message (SPF, DKIM, DMARC); run by the operator (root: yubin-smtpd) */
/* usage: authcheck IP SENDER HELO [ME] < message. The message on fd 0 (at most MESSAGE_MAX,
   LF or CRLF line ends); prints the header (lib/authres, the code smtpd runs at the end of
   DATA on port 25) and the log line's summary. DNS as smtpd: YUBIN_RESOLVER, SPF_TIMEOUT. */
#include "authres.h"
#include "buf.h"
#include "cfg.h"
#include "dns.h"
#include "exitcode.h"
#include "limits.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include "inbound/checkuser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE "usage: authcheck IP SENDER HELO [ME] < MESSAGE   (SENDER \"\" or \"<>\": the null sender)"


int main(int argc, char **argv)
{
    static struct authres_out o;
    char me[SMTP_DOMAIN_MAX + 1], sum[512], root[YUBIN_PATH_MAX], list[YUBIN_PATH_MAX];
    struct authres_in in;
    struct dmarc_psl psl;
    struct spf_ip ip;
    struct dns d;
    struct buf msg, ar;
    ssize_t got;

    log_init("authcheck");
    if (argc < 4 || argc > 5) {
        die(EXIT_PERM, USAGE);
    }
    if (spf_ip_parse(argv[1], &ip) < 0) {
        die(EXIT_PERM, "%s is not an IPv4 or IPv6 address; " USAGE, argv[1]);
    }
    if (strlen(argv[2]) > ADDR_MAX || strlen(argv[3]) > SMTP_DOMAIN_MAX
        || (argc > 4 && strlen(argv[4]) > SMTP_DOMAIN_MAX)) {
        die(EXIT_PERM, "the sender, HELO or ME is too long");
    }
    str_fmt(me, sizeof me, "%s", argc > 4 ? argv[4] : "localhost");
    checkuser_become();
    buf_init(&msg, MESSAGE_MAX);
    for (;;) {
        char chunk[65536];
        got = read(0, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            die_sys(EXIT_TEMP, "unable to read the message");
        }
        if (got == 0) {
            break;
        }
        if (buf_append(&msg, chunk, (size_t)got) < 0) {
            die(EXIT_PERM, "the message is over 20 MB");
        }
    }
    if (dns_init(&d) < 0) {
        die_sys(EXIT_PERM, "unable to set up the DNS resolver (YUBIN_RESOLVER=IP[:PORT]?)");
    }
    /* the root's list and its psl.cdb when a root is found (as smtpd), else Debian's file */
    if (cfg_root_find(root, sizeof root, NULL) == 1) {
        dmarc_psl_lazy(&psl, dmarc_psl_path(root, list, sizeof list), root);
    } else {
        dmarc_psl_lazy(&psl, DMARC_PSL_PATH, NULL);
    }
    in.me = me;
    in.ip = &ip;
    in.helo = argv[3];
    in.sender = strcmp(argv[2], "<>") == 0 ? "" : argv[2];
    authres_run(&d, &in, &psl, msg.s ? msg.s : "", msg.len, (long long)time(NULL),
                (unsigned)time(NULL) % 100, &o);
    dns_close(&d);
    dmarc_psl_free(&psl);
    buf_init(&ar, AUTHRES_HEADER_MAX);
    if (authres_header(&ar, &in, &o) < 0 || authres_summary(sum, sizeof sum, &o) < 0) {
        die(EXIT_TEMP, "the result does not fit");
    }
    if (fwrite(ar.s, 1, ar.len, stdout) != ar.len || printf("%s\n", sum) < 0
        || fflush(stdout) != 0) {
        die_sys(EXIT_TEMP, "unable to write the result");
    }
    return EXIT_DONE;
}

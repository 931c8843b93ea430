/* spfcheck: SPF result (RFC 7208) of an IP for a sender; run by the operator (root: yubin-smtpd) */
#include "dns.h"
#include "exitcode.h"
#include "limits.h"
#include "log.h"
#include "spf.h"
#include "spfdns.h"
#include "str.h"

#include "inbound/checkuser.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define USAGE "usage: spfcheck IP SENDER [HELO]   (SENDER \"\" or \"<>\": the null sender, " \
              "checked as postmaster@HELO)"
#define WHY_MAX 512                 /* the reason printed after the result */


int main(int argc, char **argv)
{
    char sender[ADDR_MAX + 16], why[WHY_MAX];
    const char *helo = argc > 3 ? argv[3] : "", *at;
    struct spf_query q;
    struct spf_resolver r;
    struct dns d;
    enum spf_result res;
    size_t i;
    int null_sender;

    log_init("spfcheck");
    if (argc < 3 || argc > 4) {
        die(EXIT_PERM, USAGE);
    }
    if (spf_ip_parse(argv[1], &q.ip) < 0) {
        die(EXIT_PERM, "%s is not an IPv4 or IPv6 address; " USAGE, argv[1]);
    }
    /* §2.4: the null sender is checked as postmaster@HELO (the HELO identity's check, §2.3);
       §4.3: no local-part: postmaster */
    null_sender = argv[2][0] == '\0' || strcmp(argv[2], "<>") == 0;
    if (null_sender) {
        if (!helo[0]) {
            die(EXIT_PERM, "the null sender needs the HELO name; " USAGE);
        }
        if (str_fmt(sender, sizeof sender, "postmaster@%s", helo) < 0) {
            die(EXIT_PERM, "the HELO name is too long");
        }
    } else if (strlen(argv[2]) > ADDR_MAX ||
               str_fmt(sender, sizeof sender, "%s%s", strchr(argv[2], '@') ? "" : "postmaster@",
                       argv[2]) < 0) {
        die(EXIT_PERM, "the sender is too long (at most %d octets)", ADDR_MAX);
    }
    at = strrchr(sender, '@');
    checkuser_become();
    if (dns_init(&d) < 0) {
        die_sys(EXIT_PERM, "unable to set up the DNS resolver (YUBIN_RESOLVER=IP[:PORT]?)");
    }
    q.sender = sender;
    q.helo = helo;
    spfdns_resolver(&d, &r);
    if (null_sender && !spf_is_fqdn(helo)) {
        /* the HELO identity is checked only when it is a FQDN (§2.3) */
        str_fmt(why, sizeof why, "the HELO name %s is not a fully qualified domain name", helo);
        res = SPF_NONE;
    } else {
        res = spf_check(&r, &q, at + 1, why, sizeof why);
    }
    dns_close(&d);
    for (i = 0; why[i]; i++) {      /* the reason quotes DNS data: no escapes to the terminal */
        if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f) {
            why[i] = '?';
        }
    }
    if (printf("spf=%s (%s)\n", spf_result_name(res), why) < 0 || fflush(stdout) != 0) {
        die_sys(EXIT_TEMP, "unable to write the result");
    }
    return EXIT_DONE;
}

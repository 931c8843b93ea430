/* fleet-conf: checks ROOT/etc/fleet by the rule every program of the node reads it with; runs as its caller */
/* usage: fleet-conf ROOT
   Exit 0, printing nothing, when ROOT/etc/fleet is as mapsync, smtpd and the rest take it
   (lib/fleethome.c fleethome_conf_parse); 100 with their reason on stdout ("etc/fleet:LINE:
   reason", or "etc/fleet: reason" for a missing setting) when they refuse it, or when there
   is no etc/fleet; 111 when it cannot be read. yubin-move and yubin-check ask it, so the rule
   is written once, in C. */
#include "exitcode.h"
#include "fleethome.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char self[FLEET_NODE_MAX + 1];
    int r;

    if (argc != 2) {
        fputs("usage: fleet-conf ROOT\n", stderr);
        return EXIT_PERM;
    }
    r = fleethome_self(argv[1], self, sizeof self);
    if (r == 1) {
        return 0;
    }
    if (r == 0) {
        puts("etc/fleet: missing: this is not a fleet node");
        return EXIT_PERM;
    }
    if (errno == EINVAL && fleethome_conf_why()[0]) {
        puts(fleethome_conf_why());
        return EXIT_PERM;
    }
    printf("etc/fleet: unable to read it: %s\n", strerror(errno));
    return EXIT_TEMP;
}

/* mkmaps: compiles ROOT/etc maps into ROOT/cdb/NAME.cdb atomically; run by the operator (root) */
/* usage: mkmaps [--root DIR] [--check] [--quiet]
   Exit 0 done; 100 a bad line ("FILE:LINE: reason" on stderr, every old cdb kept) or bad
   usage, or a fleet node (ROOT/etc/fleet: mapsync builds its maps from etcd); 111 a system
   error. */
#include "cfg.h"
#include "exitcode.h"
#include "fleet.h"
#include "limits.h"
#include "log.h"
#include "mapsio.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct opts {
    const char *root;
    int check, quiet;
    char rootbuf[YUBIN_PATH_MAX];
};

static void usage(void)
{
    die(EXIT_PERM, "usage: mkmaps [--root DIR] [--check] [--quiet]");
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            o->root = argv[++i];
        } else if (strncmp(argv[i], "--root=", 7) == 0) {
            o->root = argv[i] + 7;
        } else if (strcmp(argv[i], "--check") == 0) {
            o->check = 1;
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            o->quiet = 1;
        } else {
            usage();
        }
    }
    cfg_root_need(o->rootbuf, sizeof o->rootbuf, o->root);
    o->root = o->rootbuf;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct maps_src src;
    struct maps_err err;
    struct maps_report rep;
    struct maps *m;
    char line[MAPS_REASON_MAX + 64];
    int lock = -1;

    log_init("mkmaps");
    parse_args(argc, argv, &o);
    if (!o.check && fleet_present(o.root) == 1) {
        die(EXIT_PERM, "%s is a fleet node (etc/fleet): its maps come from etcd through mapsync; "
            "change them with mailacct (mailacct import loads etc/ into etcd)", o.root);
    }
    if (!o.check && (lock = mapsio_lock(o.root, 1)) < 0) {
        die_sys(EXIT_TEMP, "unable to lock %s/etc/.lock", o.root);
    }
    if (mapsio_read(o.root, &src) < 0) {
        die_sys(EXIT_TEMP, "unable to read %s/etc/%s", o.root, maps_file_name(src.failed));
    }
    m = mapsio_compile(&src, &err);
    mapsio_src_free(&src);
    if (!m) {
        if (err.sys) {
            die(EXIT_TEMP, "unable to compile the maps: %s", err.reason);
        }
        mapsio_err_str(&err, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        return EXIT_PERM;
    }
    if (maps_warning(m)[0]) {
        log_warn("%s", maps_warning(m));
    }
    if (o.check) {
        if (!o.quiet) {
            printf("mkmaps: ok: %zu accounts\n", maps_user_count(m));
        }
        maps_free(m);
        return fflush(stdout) == 0 ? EXIT_DONE : EXIT_TEMP;
    }
    if (mapsio_write_cdbs(o.root, m, &rep) < 0) {
        die_sys(EXIT_TEMP, "unable to write %s/cdb", o.root);
    }
    if (!o.quiet) {
        mapsio_report_str(&rep, line, sizeof line);
        printf("mkmaps: %s\n", line);
    }
    maps_free(m);
    if (fflush(stdout) != 0) {
        die_sys(EXIT_TEMP, "unable to write the report");
    }
    close(lock);
    return EXIT_DONE;
}

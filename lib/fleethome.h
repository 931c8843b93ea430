/* fleethome.h: where a domain's mailboxes live in a fleet (docs/fleet.md "Part 2: homes and
   routing"), answered from ROOT/etc/fleet (this node's name) and the compiled maps
   cdb/homes.cdb and cdb/nodes.cdb, without etcd. Single-node mode (no ROOT/etc/fleet):
   every domain is homed here. Used by smtpd, queue-run, remote and pop3-front. */
#ifndef YUBIN_FLEETHOME_H
#define YUBIN_FLEETHOME_H

#include "limits.h"

#include <stddef.h>
#include <stdint.h>

#define FLEET_NODE_MAX        63      /* a node name: [a-z0-9-], 1-63; ours */
#define FLEET_SMTP_PORT       4025    /* a node's internal SMTP (relay from fronts); ours */
#define FLEET_POP3_PORT       4110    /* a node's internal POP3 (sessions from fronts); ours */
#define FLEET_EPOCH_MAX       1000000000000ULL   /* ours: far beyond any number of moves */
#define FLEET_CN_PREFIX       "fleet-"           /* CN of nodes' internal certificates */
/* CN of pop3-link's client certificate (link-NODE): the internal POP3 port takes only this
   one, so remote's certificate (fleet-NODE) offers mail and opens no mailbox */
#define FLEET_LINK_CN_PREFIX  "link-"

enum fleethome_state { FLEETHOME_LIVE, FLEETHOME_FROZEN };

/* A node as nodes.cdb describes it: "addr=ADDRESS smtp=PORT pop3=PORT". */
struct fleethome_node {
    char name[FLEET_NODE_MAX + 1];
    char addr[SMTP_DOMAIN_MAX + 1];    /* host name or IPv4 address */
    unsigned smtp_port, pop3_port;
};

/* A domain's home as homes.cdb describes it: "node=NODE epoch=N state=live|frozen", with
   the home node's record. */
struct fleethome {
    int here;                          /* 1: the domain's mailboxes are on this node */
    int fleet;                         /* 1: fleet mode (ROOT/etc/fleet exists) */
    int recorded;                      /* 1: the domain has a home record */
    char self[FLEET_NODE_MAX + 1];     /* this node's name ("" in single-node mode) */
    uint64_t epoch;                    /* 0 without a home record */
    enum fleethome_state state;
    struct fleethome_node node;        /* the home node (name "" without a record) */
};

/* 1 if s (n octets) is a node name: 1-FLEET_NODE_MAX of [a-z0-9-]. */
int fleethome_name_ok(const char *s, size_t n);
/* etc/fleet's settings (docs/fleet.md "Modes"), as every reader of the file takes them. */
#define FLEET_CONF_MAX        4096    /* etc/fleet's size; ours */
#define FLEET_CONF_WHY_MAX    256     /* "etc/fleet:LINE: reason" (a value quoted to 60) */
struct fleethome_conf {
    char node[FLEET_NODE_MAX + 1];
    char endpoints[1024];
    unsigned wait;                     /* wait=: seconds, 0-3600 (10 without the line) */
};
/* The rule of etc/fleet for every reader (mapsync, ratesync, mailacct through fleet_conf_read;
   smtpd, pop3d, the DKIM signer through fleethome_self; the shell tools through fleet-conf):
   text (len octets) is lines of NAME=VALUE, a line starting with # a comment, empty lines
   skipped; nothing may follow a value (no comment, no space); NAME is node (1-FLEET_NODE_MAX of
   [a-z0-9-]), endpoints (URL,... without spaces), wait (0-3600), copy_timeout (1-86400,
   yubin-move's) or addr; a setting on several
   lines counts by its last; node and endpoints are required (a fleet node's name, and the etcd
   its maps come from). 0, or -1 with why "etc/fleet:LINE: reason" (a missing setting:
   "etc/fleet: reason"). */
int fleethome_conf_parse(const char *text, size_t len, struct fleethome_conf *c, char *why,
                         size_t cap);
/* ROOT/etc/fleet (at most FLEET_CONF_MAX octets) read and parsed into c by that rule: 1 read,
   0 no etc/fleet (single-node mode), -1 error (errno; EINVAL: refused, why says so). */
int fleethome_conf_read(const char *root, struct fleethome_conf *c, char *why, size_t cap);
/* Why the last fleethome_self (or fleethome_get) failed with EINVAL on etc/fleet: its
   "etc/fleet:LINE: reason"; "" when etc/fleet was not the cause. */
const char *fleethome_conf_why(void);
/* The text to log for err, the errno of a fleethome_self or fleethome_get that just failed:
   "ROOT/etc/fleet:LINE: reason" when etc/fleet was refused (EINVAL), "ROOT/etc/fleet: "
   strerror(err) when it could not be read; else (the maps) strerror(err). Static storage,
   valid until the next fleethome_self or fleethome_get. */
const char *fleethome_strerror(int err);
/* This node's name from ROOT/etc/fleet's node= line into self (cap >= FLEET_NODE_MAX + 1);
   of several node= lines the last counts, as for every reader of etc/fleet. 1 fleet mode, 0
   single-node mode (no etc/fleet; self = ""), -1 error (errno; EINVAL: a file
   fleethome_conf_parse refuses, fleethome_conf_why says why). */
int fleethome_self(const char *root, char *self, size_t cap);
/* The record of node name from cdb/nodes.cdb. 1 found, 0 absent (or the map is missing),
   -1 error (errno; EINVAL: a malformed record). */
int fleethome_node(const char *root, const char *name, struct fleethome_node *n);
/* Where domain (lower-case or not) is homed. Always fills h. here = 1 in single-node mode,
   for a domain without a home record (served by every node: the fleet before homes), and
   when the record names this node. A record naming a node missing from nodes.cdb is an
   error (EINVAL): never guess a route. 1 a home record was found, 0 none, -1 error. */
int fleethome_get(const char *root, const char *domain, struct fleethome *h);

#endif

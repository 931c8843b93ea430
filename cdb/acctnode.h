/* acctnode.h: mailacct's fleet records: the nodes (mailacct node add|list, run by
   yubin-fleet node add|list) and the home of a domain that domain add/del write. */
#ifndef YUBIN_ACCTNODE_H
#define YUBIN_ACCTNODE_H

#include "edit.h"

/* mailacct node add NAME ADDRESS [SMTP_PORT [POP3_PORT]] | node list; argv[i] is the
   subcommand. Exits on refusal like every edit. */
void acctnode_run(struct ctx *c, int argc, char **argv, int i);
/* domain add DOMAIN: append the home record DOMAIN:NODE:1:live where NODE is home (--home)
   or, when home is NULL, this node if it is in etc/nodes (in single-node mode and on a node
   not yet added, nothing: the domain is served by every node). The file bits to commit
   (1 << MAPS_HOMES or 0); *node is set to the home's name or "". */
unsigned acctnode_home_add(struct ctx *c, const char *domain, const char *home, char *node,
                           size_t cap);
/* domain del DOMAIN: delete its home record if it has one; the file bits to commit. */
unsigned acctnode_home_del(struct ctx *c, const char *domain);

#endif

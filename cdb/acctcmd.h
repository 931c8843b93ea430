/* acctcmd.h: mailacct's account subcommands (cdb/acctcmd.c). Each takes its arguments from
   c->a (parsed by mailacct) and the address or value given, edits the maps under the lock
   edit_load took, commits and prints what it did; a refusal exits 100 (edit.h). */
#ifndef YUBIN_ACCTCMD_H
#define YUBIN_ACCTCMD_H

#include "edit.h"

/* add ADDR [--password PW | --random] [--quota SIZE] [--force]: the account, its Maildir,
   its sheet printed. add, del and passwd end the address's member page sessions. */
void cmd_add(struct ctx *c, const char *arg);
/* del ADDR: the account and its aliases' mentions; the mailbox moved to trash/ */
void cmd_del(struct ctx *c, const char *arg);
/* passwd ADDR [PW | --random] */
void cmd_passwd(struct ctx *c, const char *arg);
/* quota ADDR SIZE [--force] */
void cmd_quota(struct ctx *c, const char *arg, const char *size);
/* import: this node's etc/ maps and DKIM keys into the fleet's directory (its first node) */
void cmd_import(struct ctx *c);
/* list [DOMAIN] */
void cmd_list(struct ctx *c);
/* suspend-sending (nosend 1) / resume-sending (0) ADDR */
void cmd_sending(struct ctx *c, const char *arg, int nosend);
/* sending-limits ADDR MSGS RCPTS | sending-limits ADDR plan */
void cmd_limits(struct ctx *c);
/* operator [ADDR]: the operator's address (etc/admin; in a fleet the directory's, on every
   node): postmaster@ and abuse@ of each domain, double bounces, the sending-limit alerts
   (cdb/admin). Printed; with ADDR, set. */
void cmd_operator(struct ctx *c, const char *arg);
/* show ADDR */
void cmd_show(struct ctx *c, const char *arg);
/* sheet ADDR [--html [FILE]] */
void cmd_sheet(struct ctx *c, const char *arg);

#endif

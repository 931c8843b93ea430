/* checkuser.h: the operator's inbound tools (spfcheck, authcheck) parse answers from the
   network and messages, so run as root they first become the uid that runs the checks on
   port 25 (STYLE "Privileges") */
#ifndef YUBIN_INBOUND_CHECKUSER_H
#define YUBIN_INBOUND_CHECKUSER_H

#define CHECK_USER "yubin-smtpd"    /* the uid that runs the checks on port 25 */

/* As root: become CHECK_USER (or nobody), with no other group, and make sure root cannot be
   had back; the tool ends (exit 111) when that fails. Not root: nothing. */
void checkuser_become(void);

#endif

/* audit.h: ROOT/log/audit, one line for every change a person makes: the domain
   administrators' applications and their decisions (acctd, mailacct approve/reject), and the
   operator's changes from the command line (mailacct, mailq). docs/web.md "Audit log".

   A line is "TIME FIELDS\n": TIME in UTC to the microsecond ("2026-12-06T18:40:00.250000Z";
   older lines have the second alone, "2026-12-06T18:40:00Z"), FIELDS
   "event=E ..." as the caller builds them (values made safe by audit_safe; one free-text
   field may come last), at most AUDIT_LINE_MAX bytes with the newline (cut short past it).
   Appended with one write() on an O_APPEND descriptor, then fsync: lines of programs writing
   at once never mix, and a line written is kept. The file is made root:AUDIT_GROUP 0640 by
   its first writer (so also after an operator moved it away to rotate it); yubin-setup makes
   it so too. */
#ifndef YUBIN_AUDIT_H
#define YUBIN_AUDIT_H

#include <stddef.h>

#define AUDIT_LINE_MAX  1024
#define AUDIT_WHO_MAX   64      /* the operator's login name, cut there */
#define AUDIT_IP_MAX    46      /* INET6_ADDRSTRLEN */
#define AUDIT_GROUP     "yubin-adm"     /* the operators' group: reads the logs and this */

/* Open ROOT/log/audit for appending (never through a symlink; made root:AUDIT_GROUP 0640 when
   it is not there, the group as root only). The fd (close-on-exec), or -1 with errno. A
   program that gives up root opens it before. */
int audit_open(const char *root);

/* Append "TIME fields\n" to fd, one write, fsync. 0, or -1 with errno. */
int audit_write(int fd, const char *fields);

/* audit_open, audit_write, close. 0, or -1 with errno. */
int audit_append(const char *root, const char *fields);

/* s made safe for one field value into out[0..cap): bytes outside 0x21..0x7e (spaces and
   UTF-8 too) become '?'; cut to fit. "" becomes "-". */
void audit_safe(const char *s, char *out, size_t cap);

/* Who runs this command, for by= and ip=: $SUDO_USER, else the name of the real uid (else
   "root"); the address of $SSH_CLIENT, else "local". Call it while the ids are still the
   caller's (before a drop of root). */
void audit_operator(char *who, size_t wcap, char *ip, size_t icap);

#endif

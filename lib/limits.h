/* limits.h: every protocol and storage bound that more than one module uses, named once, with
   its source. A bound only one module uses lives in that module's header with a comment
   (e.g. lib/envelope.h ENVELOPE_MAX, pop3d/maildrop.h, quota/quota.h); none has two names. */
#ifndef YUBIN_LIMITS_H
#define YUBIN_LIMITS_H

/* RFC 5321 §4.5.3.1 */
#define SMTP_LOCAL_MAX      64      /* local-part octets (§4.5.3.1.1) */
#define SMTP_DOMAIN_MAX     255     /* domain octets (§4.5.3.1.2) */
#define SMTP_PATH_MAX       256     /* path incl. <> (§4.5.3.1.3) */
#define SMTP_CMD_MAX        512     /* command line incl. CRLF (§4.5.3.1.4) */
/* MAIL with the parameters we announce, each extension lengthening the line: SIZE= +26
   (RFC 1870 §3), BODY= +16 (as Postfix counts 8BITMIME), SMTPUTF8 +10 (RFC 6531 §3.4), AUTH=
   +500 (RFC 4954 §3) */
#define SMTP_MAIL_CMD_MAX   (SMTP_CMD_MAX + 26 + 16 + 10 + 500)
#define SMTP_REPLY_MAX      512     /* reply line incl. CRLF (§4.5.3.1.5) */
#define SMTP_TEXT_MAX       1000    /* DATA line incl. CRLF (§4.5.3.1.6) */
#define SMTP_AUTH_LINE_MAX  12288   /* AUTH base64 lines (RFC 4954 §4) */
#define SMTP_RCPT_MAX       1000    /* recipients per message; ours (RFC asks >= 100) */
#define SMTP_HEADER_MAX     (256 * 1024)  /* header section bytes; ours */

/* The manual: at most 20 MB per message, headers and attachments included. */
#define MESSAGE_MAX         20971520UL
/* Largest message the queue stores and remote sends: MESSAGE_MAX plus 1 MB for the header
   lines added on the way (Received:, Delivered-To: of forwarded copies). */
#define QUEUE_MESSAGE_MAX   (MESSAGE_MAX + 1048576UL)

/* An address as we store it: local@domain without the angle brackets. */
#define ADDR_MAX            (SMTP_LOCAL_MAX + 1 + SMTP_DOMAIN_MAX)

/* POP3: RFC 2449 §4 command line 255 incl. CRLF; RFC 1939 §3 response line 512. */
#define POP3_CMD_MAX        255
#define POP3_AUTH_LINE_MAX  1024    /* ours: pop3-front's lines (USER/PASS/AUTH PLAIN of 255+255) */
#define POP3_REPLY_MAX      512

/* checkpassword (cr.yp.to/checkpwd/interface.html): at most 512 bytes on fd 3. */
#define CHECKPW_MAX         512
/* pop3-front's and pop3d's input buffer: the longest line accepted (an AUTH continuation
   line, POP3_AUTH_LINE_MAX) plus pipelined commands behind it; also the most pop3-front hands
   on to pop3d after the login (through checkpw). */
#define POP3_PENDING_MAX    4096
/* The value of a NAME=value argument pop3-front gives checkpw (TCPREMOTEIP, SSL_PROTOCOL). */
#define CHECKPW_ARG_MAX     64

/* authd: one request at most 1 KB (the foundation issue). */
#define AUTH_REQ_MAX        1024
#define AUTH_FIELD_MAX      255     /* RFC 4616 §2: authcid and passwd up to 255 octets */

/* Maps: one source line; cdb values. */
#define MAP_LINE_MAX        4096
#define MAP_VALUE_MAX       4096
#define ALIAS_TARGETS_MAX   100     /* targets of one alias after flattening */
#define ALIAS_DEPTH_MAX     10

/* Paths built under the mail root. */
#define YUBIN_PATH_MAX      1024

/* Log lines are written by one write(). */
#define LOG_LINE_MAX        1024

/* Queue: a state line is one write() below PIPE_BUF so appends never interleave. */
#define QUEUE_STATE_LINE_MAX 1024
#define QUEUE_ID_LEN        16
/* Jobs queue-run runs at once, each of QUEUE_LOCAL_CONC, QUEUE_REMOTE_CONC (also remote's
   processes behind run/remote.sock) and QUEUE_DOMAIN_CONC (docs/queue.md "Settings"). A job
   holds two descriptors in queue-run (its result pipe and its connection); a remote job is
   also a process of remote and an SMTP connection. 1000 of each is ten times what Postfix
   runs by default (default_process_limit 100) and more than one server's disk and uplink
   keep busy; a larger value is a typo, and one of a billion made queue-run's job table too
   big to allocate (queue-run died at each start). */
#define QUEUE_CONC_MAX      1000U
#define QUEUE_CONC_DEF      20U

/* Received: loop threshold (RFC 5321 §6.3) */
#define RECEIVED_MAX        100

#endif

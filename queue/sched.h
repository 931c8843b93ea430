/* sched.h: queue-run's state: loaded messages, running delivery jobs, and the scheduler.
   Internal to queue-run (queue-run.c: main loop; sched.c: jobs; notify.c: bounces). */
#ifndef YUBIN_SCHED_H
#define YUBIN_SCHED_H

#include "buf.h"
#include "ipcfd.h"
#include "qfile.h"

#include <sys/types.h>
#include <time.h>

#define BACKOFF_MAX_STEPS   16
#define JOB_LOCAL_OUT_MAX   4096            /* deliver's reason line (one line) */
#define JOB_REMOTE_LINE_MAX 1100            /* "D " + 512-octet reply + slack, per recipient */
/* Recipients per remote job: what one lib/ipcfd request carries (IPCFD_ARGS_MAX), and the
   100 of RFC 5321 §4.5.3.1.8 a server must take in one transaction. */
#define QUEUE_JOB_RCPT_MAX  100
#define TMP_MAX_AGE         (36 * 3600)     /* queue/tmp garbage (qmail's 36 h) */

struct msg {
    char id[QID_BUF];
    struct qenv e;
    off_t body;                 /* offset of the message in mess/ID */
    struct qstate st;
    unsigned char *busy;        /* per recipient: in a running job */
    unsigned char *where;       /* per recipient: WHERE_* (looked up once per attempt) */
    time_t *next;               /* per recipient: earliest next attempt */
    time_t retry_at;            /* whole message: next try of a failed bounce/removal */
    int gone;                   /* mess/ID vanished (held or removed by the operator) */
    struct msg *link;
};

enum job_kind { JOB_LOCAL, JOB_REMOTE };
enum { WHERE_UNKNOWN = 0, WHERE_LOCAL, WHERE_REMOTE };

#define JOB_SOCKET ((pid_t)-1)   /* pid of a job that is a socket call, not a process */

struct job {
    pid_t pid;                  /* 0 = free slot; JOB_SOCKET: a local delivery call in flight */
    enum job_kind kind;
    struct msg *m;
    size_t *idx;                /* recipient indexes (local: 1; remote: one domain's) */
    size_t nidx;
    char domain[SMTP_DOMAIN_MAX + 1];
    int out;                    /* read end of the child's fd 1, -1 once closed */
    int sock;                   /* JOB_SOCKET: the run/deliver.sock connection, else -1 */
    struct ipcfd_answer answer; /* JOB_SOCKET: deliver's status line read so far */
    struct buf text;
    time_t started;
};

struct runner {
    const char *root;
    char me[SMTP_DOMAIN_MAX + 1];
    struct msg *msgs;           /* loaded messages, oldest first (delivery order) */
    struct msg *last;           /* the list's tail */
    size_t nmsgs;
    struct job *jobs;           /* local_conc + remote_conc slots */
    size_t njobs;
    unsigned local_conc, remote_conc, domain_conc;
    unsigned local_busy, remote_busy;
    unsigned long lifetime, warn, scan_every, job_timeout;
    unsigned long backoff[BACKOFF_MAX_STEPS];
    size_t nbackoff;
    time_t now;
    int stopping;
};

/* sched.c */
int msg_load(struct runner *r, const char *id);         /* 1 loaded, 0 skipped, -1 error */
struct msg *msg_find(struct runner *r, const char *id);
void msg_forget(struct runner *r, struct msg *m);
void sched_start_jobs(struct runner *r);
void sched_job_output(struct runner *r, struct job *j);  /* the pipe is readable */
void sched_job_done(struct runner *r, pid_t pid, int status);
/* A JOB_SOCKET job's connection is readable: read its status; finish the job once it is in
   (or the connection ended without one: a temporary failure). */
void sched_job_socket(struct runner *r, struct job *j);
void sched_kill_overdue(struct runner *r);
time_t sched_next_due(struct runner *r);                 /* 0 = nothing waiting */
void sched_flush(struct runner *r, struct msg *only);   /* retry deferred now */
void sched_record(struct runner *r, struct msg *m, size_t i, char status, const char *text,
                  size_t len, int remote);
int rcpt_is_local(struct runner *r, const char *addr);
int msg_rcpt_local(struct runner *r, struct msg *m, size_t i);   /* cached rcpt_is_local */

/* notify.c */
void msg_check(struct runner *r, struct msg *m);          /* bounce/warn/remove when due */
void sched_check_all(struct runner *r);

#endif

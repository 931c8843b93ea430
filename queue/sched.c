/* sched.c: queue-run's messages and delivery jobs (deliver through deliver.sock, remote by exec) */
#include "sched.h"
#include "acct.h"
#include "fd.h"
#include "ipcfd.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg *msg_find(struct runner *r, const char *id)
{
    struct msg *m;
    for (m = r->msgs; m; m = m->link) {
        if (strcmp(m->id, id) == 0) {
            return m;
        }
    }
    return NULL;
}

static time_t backoff_after(const struct runner *r, unsigned tries)
{
    size_t k = tries == 0 ? 0 : tries - 1;
    if (k >= r->nbackoff) {
        k = r->nbackoff - 1;
    }
    return (time_t)r->backoff[k];
}

static void msg_free(struct msg *m)
{
    qenv_free(&m->e);
    qstate_free(&m->st);
    free(m->busy);
    free(m->where);
    free(m->next);
    free(m);
}

void msg_forget(struct runner *r, struct msg *m)
{
    struct msg **p, *prev = NULL;
    for (p = &r->msgs; *p; prev = *p, p = &(*p)->link) {
        if (*p == m) {
            *p = m->link;
            if (r->last == m) {
                r->last = prev;
            }
            r->nmsgs--;
            msg_free(m);
            return;
        }
    }
}

/* Load mess/ID and replay state/ID. A recipient's next try follows its Z lines. */
int msg_load(struct runner *r, const char *id)
{
    char path[YUBIN_PATH_MAX];
    struct msg *m;
    size_t i;
    int fd;

    if (!qid_ok(id) || msg_find(r, id)) {
        return 0;
    }
    if (qfile_path(path, sizeof path, r->root, QDIR_MESS, id) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return -1;
    }
    snprintf(m->id, sizeof m->id, "%s", id);
    qenv_init(&m->e);
    if (qfile_read_header(fd, &m->e, &m->body) < 0) {
        log_warn_sys("unable to read the header of id=%s (left in mess/)", id);
        close(fd);
        msg_free(m);
        return -1;
    }
    close(fd);
    if (qfile_path(path, sizeof path, r->root, QDIR_STATE, id) < 0
        || qstate_load(path, m->e.nrcpt, &m->st) < 0) {
        log_warn_sys("unable to read state/%s", id);
        msg_free(m);
        return -1;
    }
    m->busy = calloc(m->e.nrcpt, 1);
    m->where = calloc(m->e.nrcpt, 1);
    m->next = calloc(m->e.nrcpt, sizeof *m->next);
    if (!m->busy || !m->where || !m->next) {
        msg_free(m);
        return -1;
    }
    if (m->st.held) {
        msg_free(m);
        return 0;
    }
    for (i = 0; i < m->e.nrcpt; i++) {
        if (m->st.r[i].status == QS_DEFERRED) {
            m->next[i] = m->st.r[i].last + backoff_after(r, m->st.r[i].tries);
        }
    }
    if (r->last) {
        r->last->link = m;
    } else {
        r->msgs = m;
    }
    r->last = m;
    r->nmsgs++;
    return 1;
}

int rcpt_is_local(struct runner *r, const char *addr)
{
    const char *at = strrchr(addr, '@');
    struct domain d;
    int found;
    if (!at) {
        return 1;
    }
    found = acct_domain(r->root, at + 1, &d);
    return found < 0 ? -1 : found;
}

int msg_rcpt_local(struct runner *r, struct msg *m, size_t i)
{
    if (m->where[i] == WHERE_UNKNOWN) {
        int local = rcpt_is_local(r, m->e.rcpt[i]);
        if (local < 0) {
            return -1;      /* never guess: a local domain sent out would loop back */
        }
        m->where[i] = local ? WHERE_LOCAL : WHERE_REMOTE;
    }
    return m->where[i] == WHERE_LOCAL;
}

static const char *rcpt_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "";
}

static int due(const struct runner *r, const struct msg *m, size_t i)
{
    unsigned char s = m->st.r[i].status;
    return !m->busy[i] && (s == QS_PENDING || s == QS_DEFERRED) && m->next[i] <= r->now;
}

/* The sender as handed to deliver/remote: the double-bounce marker becomes <>. */
static const char *wire_sender(const struct msg *m)
{
    return strcmp(m->e.sender, QFILE_DOUBLE_BOUNCE) == 0 ? "" : m->e.sender;
}

static struct job *free_slot(struct runner *r)
{
    size_t k;
    for (k = 0; k < r->njobs; k++) {
        if (r->jobs[k].pid == 0) {
            return &r->jobs[k];
        }
    }
    return NULL;
}

/* fork with fd 0 = the message (after its header) and fd 1 = a pipe to us, then exec argv;
   or with sock != NULL, no process: pass both fds and argv to the server on that socket
   (lib/ipcfd) and wait for its status line in the poll loop (a JOB_SOCKET job). 0 started;
   -1 (errno; ENOENT: the message file is gone); -2 the socket could not be reached. */
static int job_spawn(struct runner *r, struct job *j, char *const argv[], const char *sock)
{
    char path[YUBIN_PATH_MAX];
    int msgfd, p[2];
    pid_t pid;

    if (qfile_path(path, sizeof path, r->root, QDIR_MESS, j->m->id) < 0) {
        return -1;
    }
    msgfd = open(path, O_RDONLY | O_CLOEXEC);
    if (msgfd < 0) {
        return -1;
    }
    if (lseek(msgfd, j->m->body, SEEK_SET) < 0 || pipe2(p, O_CLOEXEC) < 0) {
        close(msgfd);
        return -1;
    }
    if (sock) {
        int s = ipcfd_call(sock, msgfd, p[1], (const char *const *)argv);
        int e = errno;
        /* deliver holds the only other copies: EOF on the result pipe when it is done */
        close(msgfd);
        close(p[1]);
        if (s < 0) {
            close(p[0]);
            errno = e;
            return -2;      /* the socket, not the message: the caller records a deferral */
        }
        fd_nonblock(s, 1);
        fd_nonblock(p[0], 1);
        j->pid = JOB_SOCKET;
        j->sock = s;
        j->answer.len = 0;
        j->out = p[0];
        j->started = r->now;
        return 0;
    }
    pid = fork();
    if (pid < 0) {
        close(msgfd);
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(msgfd, 0) < 0 || dup2(p[1], 1) < 0) {
            _exit(111);
        }
        /* remote's log lines carry the queue id (mailtrace ID) */
        if (setenv("QUEUE_ID", j->m->id, 1) < 0) {
            _exit(111);
        }
        execvp(argv[0], argv);
        log_warn_sys("unable to run %s", argv[0]);
        _exit(111);
    }
    close(msgfd);
    close(p[1]);
    fd_nonblock(p[0], 1);
    j->pid = pid;
    j->out = p[0];
    j->started = r->now;
    return 0;
}

static void job_clear(struct job *j)
{
    if (j->out >= 0) {
        close(j->out);
    }
    if (j->sock >= 0) {
        close(j->sock);
    }
    free(j->idx);
    buf_free(&j->text);
    memset(j, 0, sizeof *j);
    j->out = -1;
    j->sock = -1;
}

static void start_local(struct runner *r, struct msg *m, size_t i)
{
    struct job *j = free_slot(r);
    char sock[YUBIN_PATH_MAX];
    char *argv[5];
    int rc;

    if (!j || str_fmt(sock, sizeof sock, "%s/run/deliver.sock", r->root) < 0) {
        return;
    }
    j->idx = malloc(sizeof *j->idx);
    if (!j->idx) {
        return;
    }
    j->idx[0] = i;
    j->nidx = 1;
    j->kind = JOB_LOCAL;
    j->m = m;
    buf_init(&j->text, JOB_LOCAL_OUT_MAX);
    /* deliver SENDER RECIPIENT QUEUE_ID: the id only for deliver's log lines */
    argv[0] = "deliver";
    argv[1] = (char *)wire_sender(m);
    argv[2] = m->e.rcpt[i];
    argv[3] = m->id;
    argv[4] = NULL;
    rc = job_spawn(r, j, argv, sock);
    if (rc == -2) {
        char text[256];
        snprintf(text, sizeof text, "local delivery: unable to reach run/deliver.sock: %s "
                 "(#4.3.0)", strerror(errno));
        job_clear(j);
        sched_record(r, m, i, 'Z', text, strlen(text), 0);
        return;
    }
    if (rc < 0) {
        int e = errno;
        job_clear(j);
        if (e == ENOENT) {
            m->gone = 1;
            return;
        }
        errno = e;
        log_warn_sys("unable to start delivery id=%s", m->id);
        m->next[i] = r->now + 60;
        return;
    }
    m->busy[i] = 1;
    r->local_busy++;
}

/* remote -i ID DOMAIN SENDER RCPT... over run/remote.sock for the due recipients of one
   domain in m, at most QUEUE_JOB_RCPT_MAX of them (what one request carries; the rest wait
   for the next job). */
static void start_remote(struct runner *r, struct msg *m, const char *domain)
{
    struct job *j = free_slot(r);
    char sock[YUBIN_PATH_MAX];
    char *argv[QUEUE_JOB_RCPT_MAX + 6];
    size_t i, n = 0;
    int rc;

    if (!j || str_fmt(sock, sizeof sock, "%s/run/remote.sock", r->root) < 0) {
        return;
    }
    j->idx = calloc(QUEUE_JOB_RCPT_MAX, sizeof *j->idx);
    if (!j->idx) {
        job_clear(j);
        return;
    }
    argv[0] = "remote";
    argv[1] = "-i";
    argv[2] = m->id;
    argv[3] = (char *)domain;
    argv[4] = (char *)wire_sender(m);
    for (i = 0; i < m->e.nrcpt && n < QUEUE_JOB_RCPT_MAX; i++) {
        if (due(r, m, i) && strcmp(rcpt_domain(m->e.rcpt[i]), domain) == 0
            && msg_rcpt_local(r, m, i) == 0) {
            j->idx[n] = i;
            argv[5 + n] = m->e.rcpt[i];
            n++;
        }
    }
    argv[5 + n] = NULL;
    j->nidx = n;
    j->kind = JOB_REMOTE;
    j->m = m;
    snprintf(j->domain, sizeof j->domain, "%s", domain);
    buf_init(&j->text, n * JOB_REMOTE_LINE_MAX);
    if (n == 0) {
        job_clear(j);
        return;
    }
    rc = job_spawn(r, j, argv, sock);
    if (rc == -2) {
        char text[256];
        snprintf(text, sizeof text, "remote delivery: unable to reach run/remote.sock: %s "
                 "(#4.3.0)", strerror(errno));
        for (i = 0; i < n; i++) {
            sched_record(r, m, j->idx[i], 'Z', text, strlen(text), 1);
        }
        job_clear(j);
        return;
    }
    if (rc < 0) {
        int e = errno;
        for (i = 0; i < n; i++) {
            m->next[j->idx[i]] = r->now + 60;
        }
        job_clear(j);
        if (e == ENOENT) {
            m->gone = 1;
        } else {
            errno = e;
            log_warn_sys("unable to start remote delivery id=%s", m->id);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        m->busy[j->idx[i]] = 1;
    }
    r->remote_busy++;
}

static unsigned domain_jobs(const struct runner *r, const char *domain)
{
    size_t k;
    unsigned n = 0;
    for (k = 0; k < r->njobs; k++) {
        if (r->jobs[k].pid && r->jobs[k].kind == JOB_REMOTE
            && strcmp(r->jobs[k].domain, domain) == 0) {
            n++;
        }
    }
    return n;
}

static int msg_busy(const struct msg *m)
{
    size_t i;
    for (i = 0; i < m->e.nrcpt; i++) {
        if (m->busy[i]) {
            return 1;
        }
    }
    return 0;
}

static void start_for_msg(struct runner *r, struct msg *m)
{
    size_t i;
    for (i = 0; i < m->e.nrcpt && !m->gone; i++) {
        int local;
        if (!due(r, m, i)) {
            continue;
        }
        local = msg_rcpt_local(r, m, i);
        if (local < 0) {
            static const char t[] = "temporary failure reading the domain map (#4.3.0)";
            log_warn_sys("unable to read cdb/domains.cdb");
            sched_record(r, m, i, 'Z', t, sizeof t - 1, 0);
        } else if (local) {
            if (r->local_busy < r->local_conc) {
                start_local(r, m, i);
            }
        } else if (r->remote_busy < r->remote_conc) {
            const char *d = rcpt_domain(m->e.rcpt[i]);
            if (domain_jobs(r, d) < r->domain_conc) {
                start_remote(r, m, d);
            }
        }
    }
}

void sched_start_jobs(struct runner *r)
{
    struct msg *m, *nx;
    if (r->stopping) {
        return;
    }
    for (m = r->msgs; m; m = nx) {
        nx = m->link;
        if (r->local_busy >= r->local_conc && r->remote_busy >= r->remote_conc) {
            break;
        }
        start_for_msg(r, m);
    }
    for (m = r->msgs; m; m = nx) {
        nx = m->link;
        if (m->gone && !msg_busy(m)) {
            log_info("gone id=%s (held or removed by the operator)", m->id);
            msg_forget(r, m);
        }
    }
}

void sched_job_output(struct runner *r, struct job *j)
{
    char tmp[4096];
    (void)r;
    for (;;) {
        ssize_t n = read(j->out, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN) {
                close(j->out);
                j->out = -1;
            }
            return;
        }
        /* past the bound the rest is dropped: the lines we need come first */
        if (j->text.len < j->text.max) {
            size_t room = j->text.max - j->text.len;
            buf_append(&j->text, tmp, (size_t)n < room ? (size_t)n : room);
        }
    }
}

/* "exited with status 3" / "killed by signal 9"; status: a wait status, or -1 for a socket
   call that ended without a status line */
static void describe_status(int status, char *out, size_t cap)
{
    if (status == -1) {
        snprintf(out, cap, "ended without a status");
    } else if (WIFEXITED(status)) {
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, cap, "ended with status %d", status);
    }
}

/* The first line of s[0..n) from *pos; returns its length, sets *line. */
static size_t take_line(const char *s, size_t n, size_t *pos, const char **line)
{
    size_t start = *pos, end = start;
    while (end < n && s[end] != '\n') {
        end++;
    }
    *line = s + start;
    *pos = end < n ? end + 1 : n;
    while (end > start && s[end - 1] == '\r') {
        end--;
    }
    return end - start;
}

static void local_done(struct runner *r, struct job *j, int status)
{
    const char *line;
    size_t pos = 0, n = take_line(j->text.s ? j->text.s : "", j->text.len, &pos, &line);
    char why[128], text[256];
    int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;

    if (code == 0) {
        sched_record(r, j->m, j->idx[0], 'D', n ? line : "delivered", n ? n : 9, 0);
        return;
    }
    if (code == 100 && n > 0) {
        sched_record(r, j->m, j->idx[0], 'F', line, n, 0);
        return;
    }
    if (n > 0 && code == 111) {
        sched_record(r, j->m, j->idx[0], 'Z', line, n, 0);
        return;
    }
    describe_status(status, why, sizeof why);
    snprintf(text, sizeof text, "local delivery %s%s%.*s (#4.3.0)", why, n ? ": " : "",
             (int)(n > 100 ? 100 : n), n ? line : "");
    sched_record(r, j->m, j->idx[0], 'Z', text, strlen(text), 0);
}

static void remote_done(struct runner *r, struct job *j, int status)
{
    const char *s = j->text.s ? j->text.s : "";
    size_t pos = 0, k;
    char why[128], text[256];
    describe_status(status, why, sizeof why);
    snprintf(text, sizeof text, "remote delivery %s without a result (#4.3.0)", why);
    for (k = 0; k < j->nidx; k++) {
        const char *line;
        size_t n = pos < j->text.len ? take_line(s, j->text.len, &pos, &line) : 0;
        if (n >= 2 && (line[0] == 'D' || line[0] == 'F' || line[0] == 'Z') && line[1] == ' ') {
            sched_record(r, j->m, j->idx[k], line[0], line + 2, n - 2, 1);
        } else {
            sched_record(r, j->m, j->idx[k], 'Z', text, strlen(text), 1);
        }
    }
}

static void job_finish(struct runner *r, struct job *j, int status);

void sched_job_done(struct runner *r, pid_t pid, int status)
{
    size_t k;

    if (pid <= 0) {
        return;
    }
    for (k = 0; k < r->njobs; k++) {
        if (r->jobs[k].pid == pid) {
            job_finish(r, &r->jobs[k], status);
            return;
        }
    }
}

void sched_job_socket(struct runner *r, struct job *j)
{
    int code = ipcfd_status_read(j->sock, &j->answer);
    if (code == IPCFD_MORE) {
        return;
    }
    /* an exit code as a wait status ((code << 8): WIFEXITED, WEXITSTATUS = code); 128+N from
       a loop that reports signals (remote's): killed by signal N */
    if (code > 128 && code < 128 + 64) {
        job_finish(r, j, code - 128);
        return;
    }
    job_finish(r, j, code < 0 ? -1 : code << 8);
}

static void job_finish(struct runner *r, struct job *j, int status)
{
    size_t i;
    struct msg *m;

    if (j->out >= 0) {
        sched_job_output(r, j);
    }
    m = j->m;
    for (i = 0; i < j->nidx; i++) {
        m->busy[j->idx[i]] = 0;
    }
    if (j->kind == JOB_LOCAL) {
        r->local_busy--;
        local_done(r, j, status);
    } else {
        r->remote_busy--;
        remote_done(r, j, status);
    }
    job_clear(j);
    msg_check(r, m);
}

void sched_kill_overdue(struct runner *r)
{
    size_t k;
    for (k = 0; k < r->njobs; k++) {
        struct job *j = &r->jobs[k];
        if (j->pid && r->job_timeout && r->now - j->started > (time_t)r->job_timeout) {
            if (j->pid == JOB_SOCKET) {
                /* deliver has its own alarm; we stop waiting (a temporary failure) */
                log_warn("giving up on delivery id=%s after %lu seconds", j->m->id,
                         r->job_timeout);
                job_finish(r, j, -1);
                continue;
            }
            log_warn("killing delivery pid=%ld id=%s after %lu seconds", (long)j->pid,
                     j->m->id, r->job_timeout);
            kill(j->pid, SIGKILL);
            j->started = r->now;    /* once per timeout period */
        }
    }
}

time_t sched_next_due(struct runner *r)
{
    struct msg *m;
    time_t best = 0;
    for (m = r->msgs; m; m = m->link) {
        size_t i;
        if (m->retry_at && (!best || m->retry_at < best)) {
            best = m->retry_at;
        }
        for (i = 0; i < m->e.nrcpt; i++) {
            unsigned char s = m->st.r[i].status;
            if (!m->busy[i] && (s == QS_PENDING || s == QS_DEFERRED)
                && (!best || m->next[i] < best)) {
                best = m->next[i];
            }
        }
    }
    return best;
}

void sched_flush(struct runner *r, struct msg *only)
{
    struct msg *m;
    for (m = r->msgs; m; m = m->link) {
        size_t i;
        if (only && m != only) {
            continue;
        }
        for (i = 0; i < m->e.nrcpt; i++) {
            m->next[i] = 0;
        }
        m->retry_at = m->retry_at ? r->now : 0;
    }
}

/* 1 when recipient i is the last open one and every other recipient is delivered (or failed
   and already bounced): a 'D' for i ends the message with nothing left to report. */
static int completes_quietly(const struct msg *m, size_t i)
{
    size_t k;
    for (k = 0; k < m->e.nrcpt; k++) {
        unsigned char s = m->st.r[k].status;
        if (k == i) {
            continue;
        }
        if (m->busy[k] || s == QS_PENDING || s == QS_DEFERRED
            || (s == QS_FAILED && !m->st.r[k].bounced)) {
            return 0;
        }
    }
    return 1;
}

/* Record one result: one O_APPEND write to state/ID (skipped for the 'D' that completes a
   message: completes_quietly), then the log line. A temporary failure
   past QUEUE_LIFETIME becomes permanent. */
void sched_record(struct runner *r, struct msg *m, size_t i, char status, const char *text,
                  size_t len, int remote)
{
    char path[YUBIN_PATH_MAX], expired[QUEUE_STATE_LINE_MAX];
    struct qline l;
    int fd;

    if (status == 'Z' && r->now - m->e.arrival >= (time_t)r->lifetime) {
        int n = snprintf(expired, sizeof expired,
                         "message expired after %lu days in the queue; last error: %.*s (#4.4.7)",
                         (r->lifetime + 86399) / 86400, (int)(len > 700 ? 700 : len), text);
        status = 'F';
        text = expired;
        len = n < 0 ? 0 : (size_t)n >= sizeof expired ? sizeof expired - 1 : (size_t)n;
    }
    memset(&l, 0, sizeof l);
    l.kind = QL_RCPT;
    l.index = i;
    l.status = status;
    l.when = r->now;
    l.text = text;
    l.text_len = len;
    if (status == 'D' && completes_quietly(m, i)) {
        /* The message is removed right after this (msg_check): a state line now would be one
           more file created and deleted per message. A crash in between only repeats this
           delivery, as a crash between the delivery and the line would. */
    } else if (qfile_path(path, sizeof path, r->root, QDIR_STATE, m->id) < 0) {
        log_warn("path too long for state/%s", m->id);
    } else if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0
               || qstate_append(fd, &l) < 0) {
        /* the result lives on in memory; a restart would only repeat this delivery */
        log_warn_sys("unable to append to state/%s", m->id);
        if (fd >= 0) {
            close(fd);
        }
    } else {
        close(fd);
    }
    qstate_apply(&m->st, &l);
    m->where[i] = WHERE_UNKNOWN;     /* the maps may change before the next try */
    if (status == 'Z') {
        m->next[i] = r->now + backoff_after(r, m->st.r[i].tries);
        log_info("deferred id=%s to=<%s> reason=%.*s", m->id, m->e.rcpt[i], (int)len, text);
    } else if (status == 'F') {
        log_info("bounced id=%s to=<%s> reason=%.*s", m->id, m->e.rcpt[i], (int)len, text);
    } else {
        log_info("delivered id=%s to=<%s> how=%s", m->id, m->e.rcpt[i],
                 remote ? "remote" : "local");
    }
}

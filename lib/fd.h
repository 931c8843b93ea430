/* fd.h: whole reads and writes, small files, fsync of directories, unix-socket connect */
#ifndef YUBIN_FD_H
#define YUBIN_FD_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Write all n bytes, retrying on EINTR and short writes. 0 ok, -1 error (errno). */
int fd_write_all(int fd, const void *p, size_t n);
/* Write all of iov[0..n) (n <= FD_IOV_MAX) in as few writev calls as the fd takes: a
   message made of a header and a body wakes its reader once, not twice. 0 ok, -1 error
   (errno; EINVAL for n out of bounds). */
#define FD_IOV_MAX 4
int fd_writev_all(int fd, const struct iovec *iov, int n);
/* Read until n bytes or EOF; returns bytes read (< n only at EOF), -1 on error. */
ssize_t fd_read_full(int fd, void *p, size_t n);
/* Read the small file at path into buf[0..cap-1) and NUL-terminate it (cap >= 1). Returns the
   bytes read (cap - 1 when the file may be longer), -1 with errno when it cannot be opened or
   read. */
ssize_t fd_read_file(const char *path, char *buf, size_t cap);
/* One sendmsg of p[0..n) with nfds (0..FD_PASS_MAX) descriptors attached (SCM_RIGHTS),
   retrying EINTR; flags as for sendmsg (MSG_NOSIGNAL is always added). 0 when all n bytes
   went in one call, -1 with errno (EPROTO for a short send, EINVAL for too many fds). */
#define FD_PASS_MAX 4
int fd_send_fds(int sock, const void *p, size_t n, const int *fds, size_t nfds, int flags);
/* read() retrying EINTR. */
ssize_t fd_read(int fd, void *p, size_t n);
/* fsync the directory at path. 0 ok, -1 error. */
int fd_fsync_dir(const char *path);
/* Set or clear O_NONBLOCK / FD_CLOEXEC. 0 ok, -1 error. */
int fd_nonblock(int fd, int on);
int fd_cloexec(int fd, int on);
/* Connect a stream socket to the unix socket at path (close-on-exec). Returns the fd, or -1
   (errno; ENAMETOOLONG if path does not fit sun_path). */
int fd_connect_unix(const char *path);
/* renameat2(RENAME_NOREPLACE) through syscall(2), as musl has no wrapper for it: rename old
   to new unless new exists (EEXIST). 0 ok, -1 error (EINVAL/ENOSYS where unsupported). */
int fd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new);
/* Create a directory chain like mkdir -p with the given mode for new parts. 0 ok, -1 error. */
int fd_mkdirs(const char *path, mode_t mode);
/* open(path, flags, mode) and flock(op) on it, waiting (EINTR retried): the lock lives as
   long as the descriptor. fd, or -1 (errno; nothing left open). */
int fd_open_locked(const char *path, int flags, mode_t mode, int op);
/* Raise the soft limit of open descriptors to need, as far as the hard limit allows (never
   lower it). The soft limit now in *have (RLIM_INFINITY as ~0UL). 0, or -1 (errno). */
int fd_limit_raise(unsigned long need, unsigned long *have);

#endif

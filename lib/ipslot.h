/* ipslot.h: at most N sessions per client IP, counted with flock()ed files DIR/IP.0 .. IP.N-1.
   A slot is held by an open file descriptor, so it is released when the process ends, however
   it ends (exit, crash, kill -9). The files stay (empty). */
#ifndef YUBIN_IPSLOT_H
#define YUBIN_IPSLOT_H

/* Take a free slot for ip (plain IPv4/IPv6 text: hex digits, '.', ':') in dir, a folder
   writable by the caller. Returns the descriptor holding the slot (>= 0, close-on-exec; keep
   it open for the session), -2 when all max slots are taken, -1 on error (errno; EINVAL for
   an unusable ip). */
int ipslot_take(const char *dir, const char *ip, unsigned long max);

#endif

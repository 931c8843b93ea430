/* ipslot.h: at most N sessions per client IP, counted with flock()ed files DIR/IP.0 .. IP.N-1;
   the same files count a listener's sessions (DIR/port-PORT.0 ..) so that a session can tell
   how full its port is. A slot is held by an open file descriptor, so it is released when the
   process ends, however it ends (exit, crash, kill -9). The files stay (empty) until a taker's
   sweep, every 10 minutes at most, removes the per-IP ones no session holds. */
#ifndef YUBIN_IPSLOT_H
#define YUBIN_IPSLOT_H

/* Take a free slot for ip (plain IPv4/IPv6 text: hex digits, '.', ':') in dir, a folder
   writable by the caller. 1 taken: *fd is the descriptor holding the slot (close-on-exec;
   keep it open for the session); 0 all max slots are taken; -1 error (errno; EINVAL for an
   unusable ip). *fd is -1 unless 1 is returned. */
int ipslot_take(const char *dir, const char *ip, unsigned long max, int *fd);

/* The same for the listener on port (1 to 5 decimal digits, e.g. TCPLOCALPORT): the lowest
   free of DIR/port-PORT.0 .. max-1. Slots are taken lowest first, so slot i is held only if
   slots 0 .. i-1 were all held when it was taken. Same returns (EINVAL: unusable port). */
int ipslot_port_take(const char *dir, const char *port, unsigned long max, int *fd);

/* Open (creating) DIR/port-PORT.INDEX to watch it with ipslot_held; the descriptor is
   close-on-exec and holds no lock. -1 on error (errno). */
int ipslot_port_open(const char *dir, const char *port, unsigned long index);

/* 1 if some session holds the slot opened as fd (the caller's own slot included: flock locks
   belong to open file descriptions), 0 if it is free, -1 on error (errno). Testing takes a
   shared lock for two system calls; a session taking the slot at that instant moves on. */
int ipslot_held(int fd);

#endif

/* ipslot.h: at most N sessions per client address, counted with flock()ed files DIR/KEY.0 ..
   KEY.N-1, KEY the address's group (ipslot_key): an IPv6 address counts as its whole /64,
   which one home line or host holds and may rotate through, an IPv4-mapped one as IPv4. The
   same files count a listener's sessions (DIR/port-PORT.0 ..) so that a session can tell how
   full its port is. A slot is held by an open file descriptor, so it is released when the
   process ends, however it ends (exit, crash, kill -9). The files stay (empty) until a taker's
   sweep, every 10 minutes at most, removes the per-address ones no session holds. */
#ifndef YUBIN_IPSLOT_H
#define YUBIN_IPSLOT_H

#include <stddef.h>

/* The file name stem of ip's slots: its group (str_ip_group) with '/' as '_'
   ("2001:db8:1:2::_64", "192.0.2.1"). out holds IPSLOT_KEY_MAX + 1. 0 ok, -1 (EINVAL) when ip
   is no plain IPv4/IPv6 text (str_ip_text_ok). */
#define IPSLOT_KEY_MAX 45
int ipslot_key(const char *ip, char *out, size_t cap);

/* Take a free slot for ip (plain IPv4/IPv6 text: hex digits, '.', ':') in dir, a folder
   writable by the caller; the addresses of one group (ipslot_key) share the max slots.
   1 taken: *fd is the descriptor holding the slot (close-on-exec; keep it open for the
   session); 0 all max slots are taken; -1 error (errno; EINVAL for an unusable ip). *fd is -1
   unless 1 is returned. */
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

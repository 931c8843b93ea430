/* glibc_abi.c: the glibc-only symbols that Debian's static libbearssl.a and libcdb.a call,
   for the programs linked statically against musl (Makefile: STATIC_PROGRAMS). Not part of
   libyubin.a: linked only into those programs. Built with glibc it defines nothing. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef __GLIBC__

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);
int __fxstat64(int ver, int fd, struct stat *st);

/* _FORTIFY_SOURCE checks: the compiler knew the destination's size; overflowing it is a bug,
   and glibc aborts there too. */
void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
    if (n > dstlen) {
        abort();
    }
    return memcpy(dst, src, n);
}

void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
    if (n > dstlen) {
        abort();
    }
    return memmove(dst, src, n);
}

void *__memset_chk(void *dst, int c, size_t n, size_t dstlen)
{
    if (n > dstlen) {
        abort();
    }
    return memset(dst, c, n);
}

/* glibc's old stat entry point; on x86_64 and aarch64 glibc's struct stat is the kernel's,
   as musl's is, so the call maps straight onto fstat. */
int __fxstat64(int ver, int fd, struct stat *st)
{
    (void)ver;
    return fstat(fd, st);
}

#else
typedef int glibc_abi_unused;   /* ISO C wants one declaration per file */
#endif

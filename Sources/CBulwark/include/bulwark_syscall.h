// Fixed-argument wrappers for variadic libc entry points (syscall, prctl) that Swift cannot call.
// Header-only static inline so they inline into Swift callers.
#ifndef BULWARK_SYSCALL_H
#define BULWARK_SYSCALL_H
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <unistd.h>

/// Raw syscall with six arguments; returns -1 and sets errno like libc's syscall(2).
static inline long bw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    return syscall(nr, a1, a2, a3, a4, a5, a6);
}

/// Why C: prctl(2) is variadic in glibc.
static inline int bw_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}

/// Why C: errno is a thread-local macro; reading it through a function keeps Swift's view exact.
static inline int bw_errno(void) { return errno; }
static inline void bw_set_errno(int value) { errno = value; }

static inline int bw_gettid(void) { return (int)syscall(SYS_gettid); }


/// Why C: pipe2 is declared only under _GNU_SOURCE, which Swift's Glibc module does not define.
static inline int bw_pipe2(int fds[2], int flags) { return (int)syscall(SYS_pipe2, fds, flags); }
#endif

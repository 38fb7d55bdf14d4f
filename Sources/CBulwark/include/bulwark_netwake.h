// The socket arena's Sentry doorbell as a futex (HostOS/SocketArenaUnsafe.swift, ArenaDoorbell): a
// Sentry task waiting for network readiness sleeps in FUTEX_WAIT on the low 32 bits of the arena's
// netstack generation counter, and the netstack's driver FUTEX_WAKEs it directly after a change,
// without a Sentry thread in between. Shared (not _PRIVATE) futex operations: the word lives in a
// MAP_SHARED memfd mapped by two processes, so the futex key must be the file page, not the address.
// Why C: futex(2) is reached through the variadic syscall(), which Swift cannot call.
#ifndef BULWARK_NETWAKE_H
#define BULWARK_NETWAKE_H
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>

/// Wakes every thread (of any process) sleeping on `w`.
static inline void bw_netwake_all(void *w) {
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, 0, 0, 0);
}
/// Sleeps while *w == seen, until woken or the absolute CLOCK_MONOTONIC `deadline` (NULL: none).
/// Returns 0 when woken (or the word had already changed), -1 on timeout, 1 on a signal/spurious return.
static inline int bw_netwake_wait(void *w, uint32_t seen, const struct timespec *deadline) {
    long r = syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_BITSET, seen, deadline, 0, FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN) return 0;
    return errno == ETIMEDOUT ? -1 : 1;
}
#endif

// Per-task wake words of the Sentry (SentryKernel/WaitQueue.swift): a blocked task sleeps in
// FUTEX_WAIT on its own word, and a waker bumps the word and FUTEX_WAKEs exactly that task.
// Why C: futex(2) is reached through the variadic syscall(), which Swift cannot call.
#ifndef BULWARK_WAKE_H
#define BULWARK_WAKE_H
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>

static inline uint32_t bw_wake_load(const uint32_t *w) { return __atomic_load_n(w, __ATOMIC_SEQ_CST); }
/// Bumps the word (under the kernel lock); the FUTEX_WAKE may come later, after the lock is released.
static inline void bw_wake_bump(uint32_t *w) { __atomic_fetch_add(w, 1, __ATOMIC_SEQ_CST); }
/// Wakes the thread sleeping on `w` (private futex: only Sentry threads use these words).
static inline void bw_wake_futex(uint32_t *w) {
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}
/// Sleeps while *w == seen, until woken or the absolute CLOCK_MONOTONIC `deadline` (NULL: none).
/// Returns 0 when woken (or the word had already changed), -1 on timeout, 1 on a signal/spurious return.
static inline int bw_wake_wait(uint32_t *w, uint32_t seen, const struct timespec *deadline) {
    long r = syscall(SYS_futex, w, FUTEX_WAIT_BITSET_PRIVATE, seen, deadline, 0, FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN) return 0;
    return errno == ETIMEDOUT ? -1 : 1;
}
#endif

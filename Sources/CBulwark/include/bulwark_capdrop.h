// Dropping host capabilities in EVERY thread of this process (the Sentry, SentryCapabilities.swift).
// Capability sets, the bounding set and no_new_privs belong to a thread, not to the process, and
// capset(2)/prctl(2) change only the caller; threads started before the drop (signal forwarder, vDSO
// timekeeper, netstack waker...) would keep the full sets. So the caller signals every other thread
// (tgkill, like glibc's setxid broadcast) and each one applies the same drop in a signal handler.
#ifndef BULWARK_CAPDROP_H
#define BULWARK_CAPDROP_H
#include <stdint.h>

/// Drops, in every thread: the bounding set except `keep` (a mask of capability numbers; needs
/// CAP_SETPCAP, skipped without it), the ambient and inheritable sets, the permitted and effective sets
/// except `keep` (intersected with what the thread has), and sets no_new_privs. Waits (bounded,
/// `timeout_ms`) for every signalled thread. Returns 0, or an errno value (ETIMEDOUT: a thread did
/// not answer). `*threads` is the number of threads that applied it (the caller included).
/// `*verified` is 1 if every thread read back its own sets (capget) within `keep` and the process has
/// no thread that was not signalled; then the caller need not read each thread's /proc status.
int bw_capdrop_all_threads(uint64_t keep, int timeout_ms, int *threads, int *verified);

/// Unblocks the broadcast signal in the calling thread; called before any other thread exists so all
/// inherit it (a parent may start us with it blocked, e.g. a test runner's Process).
void bw_capdrop_prepare(void);

/// The signal used for the broadcast (a real-time signal nothing else in the Sentry uses).
int bw_capdrop_signal(void);
#endif

// The supervisor's wait: signals as a descriptor (signalfd), so one poll(2) covers both the signals it
// forwards and the channels of services it starts on first use. Why C: sys/signalfd.h is not in the
// Glibc module and struct signalfd_siginfo is only read here.
#ifndef BULWARK_SUPERVISE_H
#define BULWARK_SUPERVISE_H
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

/// A CLOEXEC, non-blocking signalfd for `set` (which the caller keeps blocked), or -1 with errno.
static inline int bw_signalfd(const sigset_t *set) { return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK); }

/// The next pending signal's number from a signalfd, 0 when none is pending, or -1 with errno.
static inline int bw_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
    return (n < 0 && errno != EAGAIN) ? -1 : 0;
}
#endif

// Signal state for service processes. Why C: SIG_IGN/SIG_DFL are casts of integers to function
// pointers (macros Swift does not import) and sigset_t is manipulated through macros in some libcs.
#ifndef BULWARK_SIGNAL_RESET_H
#define BULWARK_SIGNAL_RESET_H
#include <signal.h>
#include <stddef.h>

/// Unblocks every signal and turns inherited "ignore" dispositions of the standard signals back to
/// the default. Handlers installed in this process (e.g. the Swift runtime's crash reporter) are
/// kept: exec already reset inherited handlers, only the mask and ignores leak through it.
/// Returns 0 or -1 with errno.
static inline int bw_reset_inherited_signals(void) {
    for (int s = 1; s < 32; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        struct sigaction current;
        if (sigaction(s, NULL, &current) != 0) continue;
        if (current.sa_handler == SIG_IGN) {
            struct sigaction dfl;
            sigemptyset(&dfl.sa_mask);
            dfl.sa_flags = 0;
            dfl.sa_handler = SIG_DFL;
            sigaction(s, &dfl, NULL);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}
#endif

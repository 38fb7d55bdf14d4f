// Touching memory that may raise SIGBUS, for the mmap/mremap programs compared with native: the
// handler records si_code and si_addr and jumps back, so each access prints either what it read or
// wrote, or the signal it raised (and whether si_addr is the touched byte). Install onBus with
// SA_SIGINFO for SIGBUS before the first touch. Included as "sigbus_probe.h" (found next to the
// including file).
#ifndef BULWARK_TEST_SIGBUS_PROBE_H
#define BULWARK_TEST_SIGBUS_PROBE_H
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

static sigjmp_buf jb;
static volatile void *faultAddr;
static volatile int faultCode;

static void onBus(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    faultAddr = si->si_addr;
    faultCode = si->si_code;
    siglongjmp(jb, 1);
}

static void reportFault(const char *what, volatile char *p) {
    printf("  %s: SIGBUS code %d%s at the byte %d\n", what, faultCode, faultCode == BUS_ADRERR ? " (BUS_ADRERR)" : "",
           faultAddr == (void *)p);
}

/// Reads one byte at p; prints it, or the signal it raised.
static void touch(const char *what, volatile char *p) {
    faultAddr = NULL;
    faultCode = 0;
    if (sigsetjmp(jb, 1) == 0) {
        char c = *p;
        printf("  %s: '%c' (%d)\n", what, c >= ' ' && c < 127 ? c : '.', c);
    } else {
        reportFault(what, p);
    }
}

/// Writes c at p; prints "written", or the signal it raised.
static void poke(const char *what, volatile char *p, char c) {
    faultAddr = NULL;
    faultCode = 0;
    if (sigsetjmp(jb, 1) == 0) {
        *p = c;
        printf("  %s: written\n", what);
    } else {
        reportFault(what, p);
    }
}
#endif

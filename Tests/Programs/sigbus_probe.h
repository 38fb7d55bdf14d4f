// Touching memory that may raise SIGBUS, for the mmap/mremap programs compared with native: the
// handler records si_code and si_addr and jumps back, so each access prints either what it read or
// wrote, or the signal it raised (and whether si_addr is the touched byte); and two probes of what a
// mapping's file and system calls see. Install onBus with
// SA_SIGINFO for SIGBUS before the first touch. Included as "sigbus_probe.h" (found next to the
// including file).
#ifndef BULWARK_TEST_SIGBUS_PROBE_H
#define BULWARK_TEST_SIGBUS_PROBE_H
#include <setjmp.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/// The programs' common start: DIR (argv[1]) exists, stdout is unbuffered (a fault must not lose
/// printed lines), and onBus handles SIGBUS.
static void startProbe(int argc, char **argv, const char *name) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR\n", name); exit(2); }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) { perror(argv[1]); exit(1); }
    struct sigaction sa = {0};
    sa.sa_sigaction = onBus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
}

/// A system call reading from a SIGBUS page fails with EFAULT instead of raising the signal; one
/// reading from a page inside the file succeeds: write(2) of 16 bytes from each into a pipe.
static void writeFromPages(char *pastEnd, char *inFile) {
    int pf[2];
    if (pipe(pf) != 0) return;
    ssize_t n = write(pf[1], pastEnd, 16);
    printf("  write(pipe) from page 2: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    n = write(pf[1], inFile, 16);
    printf("  write(pipe) from page 1: %zd\n", n);
    close(pf[0]);
    close(pf[1]);
}

/// Prints len bytes of the file at off, as pread(2) returns them.
static void fileAt(int fd, const char *what, long off, int len) {
    char b[64] = {0};
    ssize_t n = pread(fd, b, len, off);
    printf("  file %s: pread %zd \"%.*s\"\n", what, n, n > 0 ? (int)n : 0, b);
}
#endif

// Test helper for native runs: resets the signal mask and dispositions that the test runner's
// process may have left blocked or ignored (both are inherited across exec), then execs argv[1...].
// The Sentry starts applications with a clean signal state, so native baselines must too.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: cleansig PROGRAM [ARG...]\n"); return 2; }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    for (int s = 1; s < 65; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        signal(s, SIG_DFL);
    }
    execv(argv[1], argv + 1);
    perror("execv");
    return 127;
}

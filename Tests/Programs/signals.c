// Signals: handlers with SA_SIGINFO and sigreturn (registers and FP state survive), masks and
// pending signals, sigaltstack, SA_RESTART vs EINTR on a blocking pipe read, SIGCHLD, SIGPIPE,
// default actions seen through wait status.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile sig_atomic_t got_usr1 = 0, got_chld = 0, on_alt = 0, got_alrm = 0;
static volatile int info_pid = -1;
static char altstack[65536];

static void usr1(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_usr1 = sig;
    info_pid = si->si_pid;
    volatile double x = 1.5;
    x = x * 3.25;   // use FP in the handler: must not corrupt the interrupted code's FP state
    (void)x;
}
static void chld(int sig) { (void)sig; got_chld++; }
static void onalt(int sig) {
    (void)sig;
    char here;
    on_alt = (&here >= altstack && &here < altstack + sizeof altstack);
}
static void alrm(int sig) { (void)sig; got_alrm = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);

    double before = 2.75;
    kill(getpid(), SIGUSR1);
    printf("handler ran: sig=%d from self=%d fp=%g\n", got_usr1, info_pid == getpid(), before * 2);

    // Blocked signals stay pending until unblocked.
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    got_usr1 = 0;
    kill(getpid(), SIGUSR1);
    sigset_t pend;
    sigpending(&pend);
    printf("pending while blocked: %d, delivered: %d\n", sigismember(&pend, SIGUSR1), got_usr1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("delivered after unblock: %d\n", got_usr1);

    // sigaltstack
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    struct sigaction sb;
    memset(&sb, 0, sizeof sb);
    sb.sa_handler = onalt;
    sb.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sb, NULL);
    raise(SIGUSR2);
    printf("handler on alternate stack: %d\n", on_alt);

    // SIGCHLD when a child exits; wait status of a child killed by a signal.
    signal(SIGCHLD, chld);
    pid_t p = fork();
    if (p == 0) _exit(7);
    int st;
    waitpid(p, &st, 0);
    printf("child exit: exited=%d code=%d sigchld=%d\n", WIFEXITED(st), WEXITSTATUS(st), got_chld > 0);
    p = fork();
    if (p == 0) { raise(SIGTERM); _exit(0); }
    waitpid(p, &st, 0);
    printf("child killed: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

    // EINTR vs SA_RESTART on a blocking read, interrupted by a signal from a child.
    int fds[2];
    pipe(fds);
    struct sigaction sc;
    memset(&sc, 0, sizeof sc);
    sc.sa_handler = alrm;
    sigaction(SIGALRM, &sc, NULL);   // no SA_RESTART
    pid_t parent = getpid();
    p = fork();
    if (p == 0) { usleep(50000); kill(parent, SIGALRM); _exit(0); }
    char c;
    ssize_t r = read(fds[0], &c, 1);
    printf("read without SA_RESTART: r=%zd eintr=%d alrm=%d\n", r, r < 0 && errno == EINTR, got_alrm);
    waitpid(p, NULL, 0);
    sc.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sc, NULL);
    got_alrm = 0;
    p = fork();
    if (p == 0) { usleep(50000); kill(parent, SIGALRM); usleep(50000); write(fds[1], "x", 1); _exit(0); }
    r = read(fds[0], &c, 1);
    printf("read with SA_RESTART: r=%zd c=%c alrm=%d\n", r, r == 1 ? c : '?', got_alrm);
    waitpid(p, NULL, 0);

    // SIGPIPE ignored -> EPIPE
    signal(SIGPIPE, SIG_IGN);
    int q[2];
    pipe(q);
    close(q[0]);
    r = write(q[1], "x", 1);
    printf("write to closed pipe: r=%zd epipe=%d\n", r, r < 0 && errno == EPIPE);
    return 0;
}

// Job control (children get their own process groups so terminal stop signals are not discarded
// as for an orphaned group): SIGSTOP/SIGCONT of a child seen through waitpid(WUNTRACED/WCONTINUED), waitid
// (WSTOPPED/WCONTINUED/WNOWAIT), SIGCHLD with CLD_STOPPED/CLD_CONTINUED, a stopped child really not
// running, SIGTSTP with a handler vs default, SIGCONT discarding a pending stop, and SIGTTIN for a
// background read from a controlling pseudo-terminal.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static volatile int chld_codes[16];
static volatile int nchld;

static void on_chld(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    if (nchld < 16) chld_codes[nchld++] = si->si_code;
}

static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static const char *code_name(int c) {
    switch (c) {
    case CLD_EXITED: return "EXITED";
    case CLD_KILLED: return "KILLED";
    case CLD_STOPPED: return "STOPPED";
    case CLD_CONTINUED: return "CONTINUED";
    default: return "?";
    }
}

// Waits (up to 2 s, for loaded machines) until something arrives on a non-blocking pipe.
static int got_tick(int fd) {
    char b[4096];
    for (int i = 0; i < 400; i++) {
        if (read(fd, b, sizeof b) > 0) return 1;
        msleep(5);
    }
    return 0;
}

static void wait_chld_count(int n) {
    for (int i = 0; i < 200 && nchld < n; i++) msleep(5);
}

static void stop_and_continue(void) {
    int p2c[2];
    pipe(p2c);
    pid_t c = fork();
    if (c == 0) {
        // Ticks into the pipe every 5 ms until killed. Its own process group, whose parent (we)
        // is in another group of the same session: not orphaned, so SIGTSTP stops it.
        setpgid(0, 0);
        close(p2c[0]);
        for (;;) { write(p2c[1], "t", 1); msleep(5); }
    }
    setpgid(c, c);
    close(p2c[1]);
    fcntl(p2c[0], F_SETFL, O_NONBLOCK);
    char buf[4096];
    printf("ticking before stop: %d\n", got_tick(p2c[0]));

    kill(c, SIGSTOP);
    int st = 0;
    pid_t r = waitpid(c, &st, WUNTRACED);
    printf("waitpid WUNTRACED: same pid %d, stopped %d, sig %s\n", r == c, WIFSTOPPED(st), strsignal(WSTOPSIG(st)));
    wait_chld_count(1);
    printf("SIGCHLD: %s\n", nchld >= 1 ? code_name(chld_codes[0]) : "none");
    // A second wait does not report the same stop again.
    printf("second WNOHANG|WUNTRACED: %d\n", waitpid(c, &st, WNOHANG | WUNTRACED));
    msleep(20);
    while (read(p2c[0], buf, sizeof buf) > 0) {}
    msleep(60);
    ssize_t n = read(p2c[0], buf, sizeof buf);
    printf("stopped child wrote nothing: %d\n", n < 0 && errno == EAGAIN);

    kill(c, SIGCONT);
    r = waitpid(c, &st, WCONTINUED);
    printf("waitpid WCONTINUED: same pid %d, continued %d\n", r == c, WIFCONTINUED(st));
    wait_chld_count(2);
    printf("SIGCHLD: %s\n", nchld >= 2 ? code_name(chld_codes[1]) : "none");
    printf("ticking after continue: %d\n", got_tick(p2c[0]));

    // waitid with WSTOPPED and WNOWAIT keeps the report for a later call.
    kill(c, SIGTSTP);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int w = waitid(P_PID, c, &si, WSTOPPED | WNOWAIT);
    printf("waitid WSTOPPED|WNOWAIT: %d code %s status %s\n", w, code_name(si.si_code), strsignal(si.si_status));
    memset(&si, 0, sizeof si);
    w = waitid(P_PID, c, &si, WSTOPPED);
    printf("waitid WSTOPPED again: %d code %s pid ok %d\n", w, code_name(si.si_code), si.si_pid == c);
    kill(c, SIGCONT);
    memset(&si, 0, sizeof si);
    w = waitid(P_PID, c, &si, WCONTINUED);
    printf("waitid WCONTINUED: %d code %s status %s\n", w, code_name(si.si_code), strsignal(si.si_status));

    // SIGKILL ends a stopped child too.
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    kill(c, SIGKILL);
    r = waitpid(c, &st, 0);
    printf("killed while stopped: signaled %d sig %s\n", WIFSIGNALED(st), strsignal(WTERMSIG(st)));
    close(p2c[0]);
}

static volatile int got_tstp;
static void on_tstp(int s) { (void)s; got_tstp++; }

static void tstp_handler_and_pending(void) {
    int fds[2];
    pipe(fds);
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        signal(SIGTSTP, on_tstp);
        write(fds[1], "r", 1);
        for (int i = 0; i < 400 && !got_tstp; i++) msleep(5);
        _exit(got_tstp ? 11 : 12);
    }
    char b;
    read(fds[0], &b, 1);
    kill(c, SIGTSTP);
    int st;
    waitpid(c, &st, WUNTRACED);
    printf("TSTP with handler: exited %d code %d\n", WIFEXITED(st), WEXITSTATUS(st));

    // A blocked SIGSTOP? Not blockable. A pending, blocked SIGTSTP is discarded by SIGCONT.
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, SIGTSTP);
        sigprocmask(SIG_BLOCK, &m, NULL);
        write(fds[1], "r", 1);
        msleep(100);
        sigset_t pend;
        sigpending(&pend);
        _exit(sigismember(&pend, SIGTSTP) ? 21 : 20);
    }
    read(fds[0], &b, 1);
    kill(c, SIGTSTP);
    msleep(20);
    kill(c, SIGCONT);
    waitpid(c, &st, 0);
    printf("pending TSTP discarded by CONT: code %d\n", WEXITSTATUS(st));
    close(fds[0]);
    close(fds[1]);
}

static int tick_fd;
static void *ticker(void *a) {
    (void)a;
    for (;;) { write(tick_fd, "t", 1); msleep(3); }
    return NULL;
}

// A stop applies to every thread of the group.
static void stop_threads(void) {
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        tick_fd = p[1];
        pthread_t t[3];
        for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, ticker, NULL);
        for (;;) pause();
    }
    setpgid(c, c);
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    char b[65536];
    printf("threads ticking: %d\n", got_tick(p[0]));
    kill(c, SIGTSTP);
    int st;
    waitpid(c, &st, WUNTRACED);
    printf("threads stopped: %d by %s\n", WIFSTOPPED(st), strsignal(WSTOPSIG(st)));
    msleep(20);
    while (read(p[0], b, sizeof b) > 0) {}
    msleep(80);
    ssize_t n = read(p[0], b, sizeof b);
    printf("no thread ran while stopped: %d\n", n < 0 && errno == EAGAIN);
    kill(c, SIGCONT);
    waitpid(c, &st, WCONTINUED);
    printf("threads ticking again: %d\n", got_tick(p[0]));
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    close(p[0]);
}

static volatile int winches;
static void on_winch(int s) { (void)s; winches++; }

static void background_read(void) {
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0) { perror("openpty"); return; }
    pid_t leader = fork();
    if (leader == 0) {
        close(master);
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) != 0) { perror("TIOCSCTTY"); _exit(1); }
        printf("  leader owns tty: %d\n", tcgetpgrp(slave) == getpid());
        // A window size change signals the foreground group (us); setting the same size does not.
        signal(SIGWINCH, on_winch);
        struct winsize ws = {.ws_row = 40, .ws_col = 120};
        ioctl(slave, TIOCSWINSZ, &ws);
        ioctl(slave, TIOCSWINSZ, &ws);
        struct winsize got;
        ioctl(slave, TIOCGWINSZ, &got);
        printf("  SIGWINCH count %d, size %dx%d\n", winches, got.ws_row, got.ws_col);
        pid_t bg = fork();
        if (bg == 0) {
            setpgid(0, 0);
            char c = 0;
            ssize_t n = read(slave, &c, 1);   // background: SIGTTIN stops us until we are foreground
            _exit(n == 1 ? c : 99);
        }
        setpgid(bg, bg);
        int st;
        waitpid(bg, &st, WUNTRACED);
        printf("  background reader: stopped %d by %s\n", WIFSTOPPED(st), strsignal(WSTOPSIG(st)));
        // Make it the foreground group and let it continue; the parent then types a line.
        signal(SIGTTOU, SIG_IGN);
        printf("  tcsetpgrp: %d\n", tcsetpgrp(slave, bg));
        kill(bg, SIGCONT);
        write(slave, "", 0);
        waitpid(bg, &st, 0);
        printf("  foreground reader got: %c\n", WIFEXITED(st) ? WEXITSTATUS(st) : '?');
        // With SIGTTIN ignored, a background read fails with EIO instead.
        tcsetpgrp(slave, getpgrp());
        pid_t bg2 = fork();
        if (bg2 == 0) {
            setpgid(0, 0);
            signal(SIGTTIN, SIG_IGN);
            char c;
            ssize_t n = read(slave, &c, 1);
            _exit(n < 0 && errno == EIO ? 5 : 6);
        }
        setpgid(bg2, bg2);
        waitpid(bg2, &st, 0);
        printf("  ignored SIGTTIN: code %d\n", WEXITSTATUS(st));
        fflush(stdout);
        _exit(0);
    }
    close(slave);
    msleep(150);
    write(master, "Z\n", 2);
    // Drain the echo so the leader's output is all that matters.
    int st;
    waitpid(leader, &st, 0);
    printf("leader exit %d\n", WEXITSTATUS(st));
    close(master);
}

static int report_fd;
static void on_hup(int s) {
    (void)s;
    char c = 'H';
    write(report_fd, &c, 1);
}
static void on_cont_report(int s) {
    (void)s;
    char c = 'C';
    write(report_fd, &c, 1);
}

// Exits that orphan a process group with a stopped member send it SIGHUP and SIGCONT; a session
// leader's exit sends SIGHUP to its terminal's foreground group. Run in a new session so that where
// orphans are reparented (the host's init natively, ours in the sandbox) is outside it either way.
static void orphans_and_hangup(void) {
    int rep[2];
    pipe(rep);
    pid_t s = fork();
    if (s == 0) {
        setsid();
        report_fd = rep[1];
        int go[2];
        pipe(go);
        pid_t c = fork();
        if (c == 0) {
            setpgid(0, 0);
            pid_t g = fork();
            if (g == 0) {
                signal(SIGHUP, on_hup);
                signal(SIGCONT, on_cont_report);
                raise(SIGSTOP);
                msleep(300);
                _exit(0);
            }
            int st;
            waitpid(g, &st, WUNTRACED);
            _exit(0);   // the group {g} is orphaned now, with g stopped
        }
        int st;
        waitpid(c, &st, 0);
        msleep(100);
        // Controlling terminal, a foreground job with a SIGHUP handler, then the leader exits.
        int m, sl;
        if (openpty(&m, &sl, NULL, NULL, NULL) != 0) _exit(1);
        ioctl(sl, TIOCSCTTY, 0);
        pid_t f = fork();
        if (f == 0) {
            setpgid(0, 0);
            signal(SIGHUP, on_hup);
            signal(SIGCONT, SIG_DFL);
            write(go[1], "g", 1);   // handler in place: the leader may exit now
            for (int i = 0; i < 200; i++) msleep(5);
            _exit(0);
        }
        char x;
        read(go[0], &x, 1);
        setpgid(f, f);
        signal(SIGTTOU, SIG_IGN);
        tcsetpgrp(sl, f);
        _exit(0);
    }
    close(rep[1]);
    int st;
    waitpid(s, &st, 0);
    char buf[16] = {0};
    int n = 0;
    for (int i = 0; i < 100 && n < 3; i++) {
        fcntl(rep[0], F_SETFL, O_NONBLOCK);
        ssize_t k = read(rep[0], buf + n, sizeof buf - 1 - n);
        if (k > 0) n += k; else msleep(10);
    }
    // Orphaned stopped member: 'H' then 'C'; foreground job of the exited leader: 'H'.
    printf("orphaned group and hangup reports: %s\n", buf);
    close(rep[0]);
}

// A session leader without a controlling terminal acquires the pty slave it opens without
// O_NOCTTY (not with it); /dev/tty then opens it.
static void ctty_by_open(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    grantpt(m);
    unlockpt(m);
    char name[64];
    ptsname_r(m, name, sizeof name);
    struct stat sb;
    printf("pts node is a character device: %d\n", stat(name, &sb) == 0 && S_ISCHR(sb.st_mode));
    pid_t c = fork();
    if (c == 0) {
        setsid();
        int s = open(name, O_RDWR | O_NOCTTY);
        printf("  O_NOCTTY open: controlling %d\n", tcgetpgrp(s) == getpgrp());
        printf("  /dev/tty before: %d\n", open("/dev/tty", O_RDWR) >= 0);
        int s2 = open(name, O_RDWR);
        printf("  plain open: controlling %d, sid matches %d\n", tcgetpgrp(s2) == getpgrp(), tcgetsid(s2) == getpid());
        printf("  /dev/tty after: %d\n", open("/dev/tty", O_RDWR) >= 0);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    close(m);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    stop_and_continue();
    signal(SIGCHLD, SIG_DFL);
    tstp_handler_and_pending();
    stop_threads();
    background_read();
    orphans_and_hangup();
    ctty_by_open();
    return 0;
}

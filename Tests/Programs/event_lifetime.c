// Lifetimes of event objects and timers (session 9): closed timerfds stop (also armed, periodic
// ones, also inside an epoll set), a dup keeps a timerfd alive, a process's interval and POSIX
// timers stop when it exits, POSIX timers are deleted by execve while ITIMER_REAL survives it, and
// many eventfd/epoll/signalfd/inotify instances come and go. Run natively and in the sandbox; the
// sandbox's debug log must then report no live event object and no armed timer at init's exit.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

static void arm(int fd, long first_ns, long interval_ns) {
    struct itimerspec its = { { 0, interval_ns }, { 0, first_ns } };
    if (timerfd_settime(fd, 0, &its, NULL) != 0) printf("settime: %s\n", strerror(errno));
}

static int after_exec(void) {
    // POSIX timers do not survive execve; ITIMER_REAL does.
    struct itimerspec its;
    long r = syscall(SYS_timer_gettime, 0, &its);
    printf("exec: posix timer 0 after exec: %s\n", r == 0 ? "still there" : strerror(errno));
    struct itimerval iv;
    getitimer(ITIMER_REAL, &iv);
    printf("exec: itimer real kept: %s\n", iv.it_value.tv_sec > 100 ? "yes" : "no");
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) return after_exec();

    // 1. Many armed timerfds (1 ms periodic), closed right away; some of them read first.
    int ok = 0;
    for (int i = 0; i < 400; i++) {
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (fd < 0) { printf("timerfd_create: %s\n", strerror(errno)); break; }
        arm(fd, 1000000, 1000000);
        if (i % 100 == 0) {
            uint64_t n = 0;
            usleep(3000);
            if (read(fd, &n, 8) == 8 && n >= 1) ok++;
        }
        close(fd);
    }
    printf("timerfd churn: 400 created and closed, %d of 4 read expirations\n", ok);

    // 2. A dup keeps the description (and its timer) alive after the first fd closes.
    int a = timerfd_create(CLOCK_MONOTONIC, 0);
    arm(a, 2000000, 0);
    int b = dup(a);
    close(a);
    uint64_t n = 0;
    ssize_t r = read(b, &n, 8);
    printf("dup keeps the timer: read %zd, expirations %llu\n", r, (unsigned long long)n);
    close(b);

    // 3. A periodic timerfd in an epoll set, closed: the set reports nothing afterwards.
    int ep = epoll_create1(0);
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 };
    epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
    arm(t, 1000000, 1000000);
    struct epoll_event out[4];
    int k = epoll_wait(ep, out, 4, 1000);
    printf("epoll before close: %d event(s), data %llu\n", k, k > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
    close(t);
    k = epoll_wait(ep, out, 4, 20);
    printf("epoll after close: %d event(s)\n", k);
    close(ep);

    // 4. A child arms ITIMER_REAL and a POSIX timer (periodic, signal ignored) and exits.
    pid_t c = fork();
    if (c == 0) {
        signal(SIGALRM, SIG_IGN);
        struct itimerval iv = { { 0, 1000 }, { 0, 1000 } };
        setitimer(ITIMER_REAL, &iv, NULL);
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGALRM;
        int id = -1;
        if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id) != 0) _exit(2);
        struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
        if (syscall(SYS_timer_settime, id, 0, &its, NULL) != 0) _exit(3);
        usleep(5000);
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    printf("child with timers exited: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

    // 5. execve: a child with a POSIX timer and a long ITIMER_REAL re-executes this program.
    c = fork();
    if (c == 0) {
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_NONE;
        int id = -1;
        syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id);
        struct itimerspec its = { { 1, 0 }, { 1000, 0 } };
        syscall(SYS_timer_settime, id, 0, &its, NULL);
        printf("exec: posix timer id %d\n", id);
        struct itimerval iv = { { 0, 0 }, { 1000, 0 } };
        setitimer(ITIMER_REAL, &iv, NULL);
        char *args[] = { argv[0], "after-exec", NULL };
        execv(argv[0], args);
        _exit(4);
    }
    waitpid(c, &st, 0);
    printf("exec child exited: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

    // 6. Other event objects come and go: eventfd, epoll (also nested), signalfd, inotify.
    int fails = 0;
    for (int i = 0; i < 100; i++) {
        int e = eventfd(1, 0);
        int p1 = epoll_create1(0), p2 = epoll_create1(0);
        struct epoll_event x = { .events = EPOLLIN };
        if (epoll_ctl(p1, EPOLL_CTL_ADD, e, &x) != 0) fails++;
        if (epoll_ctl(p2, EPOLL_CTL_ADD, p1, &x) != 0) fails++;
        if (epoll_ctl(p1, EPOLL_CTL_ADD, p2, &x) == 0) fails++;   // a loop: ELOOP natively
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, SIGUSR1);
        int s = signalfd(-1, &m, 0);
        int in = inotify_init1(0);
        if (inotify_add_watch(in, "/tmp", IN_CREATE) < 0) fails++;
        if (e < 0 || p1 < 0 || p2 < 0 || s < 0 || in < 0) fails++;
        close(in); close(s); close(e); close(p2); close(p1);
    }
    printf("event objects churn: %d failure(s)\n", fails);

    // 7. An interest outlives its fd while a dup keeps the description open (epoll(7), Q6) and goes
    // with the description; a set released while it is inside another set leaves that set.
    int e1 = eventfd(1, 0), e2 = dup(e1);
    int s1 = epoll_create1(0);
    struct epoll_event y = { .events = EPOLLIN, .data.u32 = 42 };
    epoll_ctl(s1, EPOLL_CTL_ADD, e1, &y);
    close(e1);
    k = epoll_wait(s1, out, 4, 0);
    printf("interest after closing its fd, dup open: %d event(s), data %u\n", k, k > 0 ? out[0].data.u32 : 0);
    printf("EPOLL_CTL_DEL through the dup: %s\n", epoll_ctl(s1, EPOLL_CTL_DEL, e2, &y) == 0 ? "0" : strerror(errno));
    close(e2);
    printf("after the dup closes: %d event(s)\n", epoll_wait(s1, out, 4, 0));
    int s2 = epoll_create1(0), s3 = epoll_create1(0), e3 = eventfd(1, 0);
    epoll_ctl(s2, EPOLL_CTL_ADD, e3, &y);
    epoll_ctl(s3, EPOLL_CTL_ADD, s2, &y);
    printf("outer set sees the inner one: %d event(s)\n", epoll_wait(s3, out, 4, 0));
    close(s2);
    printf("inner set closed: %d event(s)\n", epoll_wait(s3, out, 4, 0));
    close(s3);
    close(e3);
    close(s1);
    return 0;
}

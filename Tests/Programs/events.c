// Readiness and timers: poll and select on pipes, epoll with several fds, eventfd counters,
// timerfd periodic expirations, setitimer/alarm delivering SIGALRM, nanosleep durations.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

static volatile int alarms = 0;
static volatile int ticks = 0;
static void on_tick(int s) { (void)s; ticks++; }
static void on_alarm(int s) { (void)s; alarms++; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe(p);
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    printf("poll empty: %d\n", poll(&pf, 1, 10));
    write(p[1], "ab", 2);
    int pn = poll(&pf, 1, 1000);
    printf("poll data: %d revents_in=%d\n", pn, (pf.revents & POLLIN) != 0);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {1, 0};
    int sn = select(p[0] + 1, &r, NULL, NULL, &tv);
    printf("select: %d isset=%d\n", sn, FD_ISSET(p[0], &r));

    // Poll wakes when another process writes.
    char c[2];
    read(p[0], c, 2);
    if (fork() == 0) { usleep(30000); write(p[1], "z", 1); _exit(0); }
    double t0 = now();
    int pr = poll(&pf, 1, 5000);
    printf("poll woken by child: %d waited_ok=%d\n", pr, now() - t0 > 0.02);
    wait(NULL);
    read(p[0], c, 1);

    int efd = eventfd(0, EFD_NONBLOCK);
    uint64_t v = 0;
    ssize_t er = read(efd, &v, 8);
    printf("eventfd empty read: %zd eagain=%d\n", er, errno == EAGAIN);
    v = 3; write(efd, &v, 8);
    v = 4; write(efd, &v, 8);
    read(efd, &v, 8);
    printf("eventfd sum: %llu\n", (unsigned long long)v);

    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 111 };
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev.data.u64 = 222;
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    struct epoll_event out[4];
    printf("epoll nothing: %d\n", epoll_wait(ep, out, 4, 10));
    v = 1; write(efd, &v, 8);
    int n = epoll_wait(ep, out, 4, 1000);
    printf("epoll one: %d data=%llu\n", n, (unsigned long long)out[0].data.u64);
    write(p[1], "q", 1);
    n = epoll_wait(ep, out, 4, 1000);
    printf("epoll two: %d\n", n);
    int cr = epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    printf("epoll_ctl dup add: %d eexist=%d\n", cr, errno == EEXIST);

    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = { .it_interval = {0, 20000000}, .it_value = {0, 20000000} };
    timerfd_settime(tfd, 0, &its, NULL);
    usleep(110000);
    uint64_t exp = 0;
    read(tfd, &exp, 8);
    printf("timerfd expirations >= 3: %d\n", exp >= 3);

    signal(SIGALRM, on_alarm);
    struct itimerval it = { .it_interval = {0, 20000}, .it_value = {0, 20000} };
    setitimer(ITIMER_REAL, &it, NULL);
    while (alarms < 3) pause();
    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("itimer alarms: %d\n", alarms >= 3);
    alarms = 0;
    alarm(1);
    printf("alarm remaining: %u\n", alarm(0));

    // POSIX timer delivering SIGUSR1 periodically.
    signal(SIGUSR1, on_tick);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    timer_t tid;
    int tc = timer_create(CLOCK_MONOTONIC, &sev, &tid);
    struct itimerspec pits = { .it_interval = {0, 10000000}, .it_value = {0, 10000000} };
    timer_settime(tid, 0, &pits, NULL);
    while (ticks < 3) pause();
    timer_delete(tid);
    printf("posix timer: created=%d ticks>=3=%d\n", tc == 0, ticks >= 3);

    t0 = now();
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    double d = now() - t0;
    printf("nanosleep 50ms ok: %d\n", d >= 0.05 && d < 0.5);
    return 0;
}

// Wake-ups of tasks blocked on AF_INET sockets (the netstack wakes them itself, through the socket
// arena's generation word), run natively and in the sandbox with outputs compared. Modes:
//   basic:    epoll on two sockets woken by data on one; a timed epoll_wait and poll time out; a
//             blocking read and a poll woken by data; two sleepers in different processes woken in
//             turn; a signal interrupts epoll_wait; 2000 request/response round trips (epoll on one
//             side, blocking reads on the other) finish without a lost wake-up.
//   busypoll: 500 request/response round trips where neither side ever blocks: each writes, then
//             polls with non-blocking reads and getppid() calls in between (a netstack doorbell held
//             while the application keeps making system calls must still go out).
//   idlewait: a process blocked in epoll_wait and one blocked in read on idle connections (the
//             test kills the netstack meanwhile): both must return, with HUP/ERR and reset/down.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s errno=%d\n", __FILE__, __LINE__, #x, errno); fflush(stdout); exit(1); } } while (0)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static int lsock, lport;

static void listen_loopback(void) {
    lsock = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(lsock >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(lsock, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t l = sizeof a;
    CHECK(getsockname(lsock, (struct sockaddr *)&a, &l) == 0);
    lport = ntohs(a.sin_port);
    CHECK(listen(lsock, 16) == 0);
}

/// A connected pair: *c the client end, returns the server end.
static int pair(int *c) {
    *c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(*c >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(lport) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(*c, (struct sockaddr *)&a, sizeof a) == 0);
    int s = accept(lsock, NULL, NULL);
    CHECK(s >= 0);
    int one = 1;
    CHECK(setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    return s;
}

/// Forks a child that sleeps `ms` and writes `tag` to `fd`.
static pid_t later(int fd, int ms, char tag) {
    fflush(stdout);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        usleep(ms * 1000);
        CHECK(write(fd, &tag, 1) == 1);
        _exit(0);
    }
    return p;
}

static void onalarm(int s) { (void)s; }

static void basic(void) {
    listen_loopback();
    int ca, cb;
    int sa = pair(&ca), sb = pair(&cb);

    // epoll on two sockets, data arrives on the second one only.
    int ep = epoll_create1(0);
    CHECK(ep >= 0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sa, &ev) == 0);
    ev.data.u32 = 2;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sb, &ev) == 0);
    pid_t p = later(cb, 50, 'b');
    struct epoll_event out[4];
    int n = epoll_wait(ep, out, 4, 5000);
    printf("epoll woke: %d event(s), socket %u, in %d\n", n, n > 0 ? out[0].data.u32 : 0, n > 0 && (out[0].events & EPOLLIN) != 0);
    char c;
    CHECK(read(sb, &c, 1) == 1);
    waitpid(p, NULL, 0);

    // Timed waits with nothing to read time out, not sooner and not much later.
    double t0 = now();
    n = epoll_wait(ep, out, 4, 100);
    double dt = now() - t0;
    printf("timed epoll_wait -> %d, waited >= 90 ms %d, < 2 s %d\n", n, dt >= 0.09, dt < 2);
    struct pollfd pf[2] = { { .fd = sa, .events = POLLIN }, { .fd = sb, .events = POLLIN } };
    t0 = now();
    n = poll(pf, 2, 100);
    dt = now() - t0;
    printf("timed poll -> %d, waited >= 90 ms %d, < 2 s %d\n", n, dt >= 0.09, dt < 2);

    // A blocking read, then a poll, woken by data from another process.
    p = later(ca, 50, 'x');
    n = (int)read(sa, &c, 1);
    printf("blocking read -> %d '%c'\n", n, c);
    waitpid(p, NULL, 0);
    p = later(ca, 50, 'y');
    n = poll(pf, 2, 5000);
    printf("poll woke: %d, first in %d, second in %d\n", n, (pf[0].revents & POLLIN) != 0, (pf[1].revents & POLLIN) != 0);
    CHECK(read(sa, &c, 1) == 1);
    waitpid(p, NULL, 0);

    // Two sleepers at once in two processes (one in read, one in epoll_wait), woken in turn: each
    // answers with one byte, so a lost wake-up shows as a missing answer.
    fflush(stdout);
    pid_t r1 = fork();
    if (r1 == 0) { char b; if (read(sa, &b, 1) != 1) _exit(1); b++; _exit(write(sa, &b, 1) == 1 ? 0 : 2); }
    pid_t r2 = fork();
    if (r2 == 0) {
        struct epoll_event e[2];
        if (epoll_wait(ep, e, 2, 10000) != 1 || e[0].data.u32 != 2) _exit(3);
        char b; if (read(sb, &b, 1) != 1) _exit(1); b++; _exit(write(sb, &b, 1) == 1 ? 0 : 2);
    }
    usleep(100 * 1000);   // both asleep by now
    CHECK(write(cb, "p", 1) == 1);
    CHECK(read(cb, &c, 1) == 1);
    printf("second sleeper answered '%c'\n", c);
    CHECK(write(ca, "m", 1) == 1);
    CHECK(read(ca, &c, 1) == 1);
    printf("first sleeper answered '%c'\n", c);
    int st1, st2;
    waitpid(r1, &st1, 0);
    waitpid(r2, &st2, 0);
    printf("sleepers exited %d %d\n", WEXITSTATUS(st1), WEXITSTATUS(st2));

    // A signal interrupts a blocked epoll_wait (no SA_RESTART: EINTR, as for Linux's epoll_wait).
    struct sigaction sa_ = { .sa_handler = onalarm };
    sigaction(SIGALRM, &sa_, NULL);
    alarm(1);
    n = epoll_wait(ep, out, 4, 10000);
    printf("epoll_wait with a signal -> %d %s\n", n, n < 0 && errno == EINTR ? "EINTR" : strerror(errno));

    // Request/response round trips: the server side waits in epoll_wait, the client in read.
    fflush(stdout);
    pid_t srv = fork();
    if (srv == 0) {
        for (int i = 0; i < 2000; i++) {
            struct epoll_event e[2];
            int k = epoll_wait(ep, e, 2, 10000);
            if (k != 1) _exit(3);
            int fd = e[0].data.u32 == 1 ? sa : sb;
            char b;
            if (read(fd, &b, 1) != 1) _exit(1);
            if (write(fd, &b, 1) != 1) _exit(2);
        }
        _exit(0);
    }
    int ok = 0;
    t0 = now();
    for (int i = 0; i < 2000; i++) {
        int fd = i % 2 ? ca : cb;
        char b = (char)('a' + i % 26), r = 0;
        CHECK(write(fd, &b, 1) == 1);
        CHECK(read(fd, &r, 1) == 1);
        if (r == b) ok++;
    }
    int st;
    waitpid(srv, &st, 0);
    fprintf(stderr, "ROUNDTRIPS 2000 in %.3f s\n", now() - t0);
    printf("round trips answered %d, server exited %d\n", ok, WEXITSTATUS(st));
    printf("done\n");
}

/// Reads one byte from `fd` without ever blocking: non-blocking reads with getppid() in between.
static char poll_read(int fd, double t0) {
    char r;
    for (;;) {
        ssize_t n = recv(fd, &r, 1, MSG_DONTWAIT);
        if (n == 1) return r;
        CHECK(n < 0 && errno == EAGAIN);
        (void)getppid();
        CHECK(now() - t0 < 30);   // a doorbell held for good would stall both sides here
    }
}

static void busypoll(void) {
    listen_loopback();
    int c;
    int s = pair(&c);
    fflush(stdout);
    double t0 = now();
    pid_t srv = fork();
    if (srv == 0) {
        for (int i = 0; i < 500; i++) {
            char b = poll_read(s, t0);
            if (write(s, &b, 1) != 1) _exit(2);
        }
        _exit(0);
    }
    int ok = 0;
    for (int i = 0; i < 500; i++) {
        char b = (char)('a' + i % 26);
        CHECK(write(c, &b, 1) == 1);
        if (poll_read(c, t0) == b) ok++;
    }
    int st;
    waitpid(srv, &st, 0);
    fprintf(stderr, "BUSYPOLL 500 round trips in %.3f s\n", now() - t0);
    printf("busy-poll round trips answered %d, server exited %d\n", ok, WEXITSTATUS(st));
    printf("done\n");
}

static void idlewait(void) {
    listen_loopback();
    int ca, cb;
    int sa = pair(&ca), sb = pair(&cb);
    fflush(stdout);
    pid_t r = fork();
    if (r == 0) {
        char b;
        ssize_t n = read(sb, &b, 1);
        printf("reader: read -> %s\n", n < 0 && (errno == ECONNRESET || errno == ENETDOWN) ? "reset/down" : n == 0 ? "EOF" : strerror(errno));
        fflush(stdout);
        _exit(0);
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sa, &ev) == 0);
    printf("waiting\n");
    fflush(stdout);
    struct epoll_event out[2];
    int n = epoll_wait(ep, out, 2, 20000);
    printf("epoll_wait -> %d, hup/err %d\n", n, n == 1 && (out[0].events & (EPOLLHUP | EPOLLERR)) != 0);
    waitpid(r, NULL, 0);
    printf("done\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    const char *mode = argc > 1 ? argv[1] : "basic";
    if (!strcmp(mode, "basic")) basic();
    else if (!strcmp(mode, "idlewait")) idlewait();
    else if (!strcmp(mode, "busypoll")) busypoll();
    else { printf("unknown mode %s\n", mode); return 2; }
    return 0;
}

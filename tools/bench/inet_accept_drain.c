// How fast a redis-like server drains its accept queue: a forked client connects and closes N times
// as fast as it can (backlog 511, so with N <= 511 nothing overflows), while the server, in an epoll
// loop, makes redis's calls per connection (accept4 until EAGAIN; TCP_NODELAY, SO_KEEPALIVE,
// TCP_KEEPIDLE/INTVL/CNT; epoll_ctl ADD; getpeername; read -> EOF; epoll_ctl DEL; close) and times
// each kind of call. Prints accepts/s and the mean microseconds per call. Bounded: gives up after 60 s.
// Build: cc -O2 -o /tmp/inet_accept_drain tools/bench/inet_accept_drain.c; run natively or under
// `bulwark-sentry run --rootfs / -- /tmp/inet_accept_drain 400`.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

enum { ACCEPT, ACCEPT_EAGAIN, SETSOCKOPT, EPOLL_ADD, GETPEERNAME, READ, EPOLL_DEL, CLOSE, KINDS };
static const char *names[KINDS] = {"accept4", "accept4-EAGAIN", "setsockopt", "epoll_ctl-add", "getpeername", "read-EOF", "epoll_ctl-del", "close"};
static double total[KINDS];
static long count[KINDS];
#define TIMED(kind, expr) ({ double t0_ = now(); __typeof__(expr) r_ = (expr); total[kind] += now() - t0_; count[kind]++; r_; })

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 400;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l < 0 || bind(l, (void *)&a, sizeof a) || listen(l, 511) || getsockname(l, (void *)&a, &alen)) { perror("listener"); return 1; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int refused = 0;
        for (int i = 0; i < n; i++) {
            int c = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(c, (void *)&a, sizeof a)) refused++;
            close(c);
        }
        _exit(refused ? 1 : 0);
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    int done = 0;
    double start = 0, deadline = now() + 60;
    struct epoll_event evs[64];
    while (done < n && now() < deadline) {
        int k = epoll_wait(ep, evs, 64, 1000);
        for (int e = 0; e < k; e++) {
            int fd = evs[e].data.fd;
            if (fd == l) {
                for (;;) {
                    struct sockaddr_in p;
                    socklen_t plen = sizeof p;
                    double t0 = now();
                    int s = accept4(l, (void *)&p, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (s < 0) { total[ACCEPT_EAGAIN] += now() - t0; count[ACCEPT_EAGAIN]++; break; }
                    total[ACCEPT] += now() - t0; count[ACCEPT]++;
                    if (start == 0) start = t0;
                    int v = 1, idle = 300, intvl = 100, cnt = 3;
                    TIMED(SETSOCKOPT, setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
                    TIMED(SETSOCKOPT, setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v));
                    TIMED(SETSOCKOPT, setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
                    TIMED(SETSOCKOPT, setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl));
                    TIMED(SETSOCKOPT, setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt));
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = s};
                    TIMED(EPOLL_ADD, epoll_ctl(ep, EPOLL_CTL_ADD, s, &ce));
                    TIMED(GETPEERNAME, getpeername(s, (void *)&p, &plen));
                }
            } else {
                char buf[16384];
                ssize_t r = TIMED(READ, read(fd, buf, sizeof buf));
                if (r > 0 || (r < 0 && errno == EAGAIN)) continue;
                TIMED(EPOLL_DEL, epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
                TIMED(CLOSE, close(fd));
                done++;
            }
        }
    }
    double secs = now() - start;
    int status = 0;
    if (done < n) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    printf("%d connections in %.2f s: %.0f accepts/s%s\n", done, secs, done / secs, done < n ? " (gave up)" : "");
    for (int i = 0; i < KINDS; i++)
        if (count[i]) printf("  %-15s %6ld calls %8.1f us each\n", names[i], count[i], total[i] / count[i] * 1e6);
    return done == n ? 0 : 1;
}

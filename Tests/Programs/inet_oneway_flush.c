// A close or option queued by a task that keeps running without sleeping must still reach the peer
// promptly (the Sentry sends its queued one-way netstack requests when a task sleeps, or after a
// few system calls of one that does not). Run natively and in the sandbox; outputs compared.
//   child: connects, sets TCP_NODELAY, closes, then keeps making system calls (never blocks)
//   parent: accepts and waits (bounded, 2 s) for EOF; also checks a close followed by a blocking
//   wait on a pipe (the task sleeps at once).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x); exit(1); } } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int listener(struct sockaddr_in *a) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = 0;
    CHECK(bind(l, (struct sockaddr *)a, sizeof *a) == 0);
    socklen_t n = sizeof *a;
    CHECK(getsockname(l, (struct sockaddr *)a, &n) == 0);
    CHECK(listen(l, 4) == 0);
    return l;
}

// Waits for EOF on c for at most 2 s; prints what came.
static void expect_eof(const char *what, int c) {
    double start = now();
    struct pollfd p = {c, POLLIN, 0};
    int r = poll(&p, 1, 2000);
    char b[8];
    ssize_t n = r == 1 ? read(c, b, sizeof b) : -2;
    printf("%s: %s\n", what, n == 0 ? "eof" : r == 0 ? "no eof within 2 s" : "unexpected");
    fprintf(stderr, "%s after %.3f s\n", what, now() - start);
}

int main(void) {
    struct sockaddr_in a;
    int l = listener(&a);
    // 1. The closing task never sleeps afterwards.
    pid_t busy = fork();
    if (busy == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
        int one = 1;
        CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
        CHECK(close(s) == 0);
        for (;;) (void)getppid();
    }
    int c = accept(l, NULL, NULL);
    CHECK(c >= 0);
    expect_eof("close, then busy", c);
    kill(busy, SIGKILL);
    waitpid(busy, NULL, 0);
    close(c);
    // 2. The closing task sleeps at once (blocks on a pipe nobody writes until the parent saw EOF).
    int gate[2];
    CHECK(pipe(gate) == 0);
    pid_t sleeper = fork();
    if (sleeper == 0) {
        close(gate[1]);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
        CHECK(close(s) == 0);
        char x;
        (void)read(gate[0], &x, 1);
        _exit(0);
    }
    close(gate[0]);
    c = accept(l, NULL, NULL);
    CHECK(c >= 0);
    expect_eof("close, then sleep", c);
    close(gate[1]);
    waitpid(sleeper, NULL, 0);
    close(c);
    printf("done\n");
    return 0;
}

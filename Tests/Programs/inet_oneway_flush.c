// A close or option queued by a task that keeps running without sleeping must still reach the peer
// promptly (the Sentry sends its queued one-way netstack requests when a task sleeps, or after a
// few system calls of one that does not). Run natively and in the sandbox; outputs compared.
//   child: connects, sets TCP_NODELAY, closes, then keeps making system calls (never blocks)
//   parent: accepts and waits (bounded, 2 s) for EOF; also checks a close followed by a blocking
//   wait on a pipe (the task sleeps at once), and a close followed by computing without any system
//   call while the parent already sleeps (EOF within 0.5 s: the Sentry's waker sends a queue that
//   waited a tick; before session 9 it waited for the waker's 1 s timeout), and the same with a
//   write instead of the close (the doorbell the Sentry defers for a send, session 9).
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

// Waits for EOF on c for at most ms; prints what came.
static void expect_eof_within(const char *what, int c, int ms) {
    double start = now();
    struct pollfd p = {c, POLLIN, 0};
    int r = poll(&p, 1, ms);
    char b[8];
    ssize_t n = r == 1 ? read(c, b, sizeof b) : -2;
    printf("%s: %s\n", what, n == 0 ? "eof" : r == 0 ? "no eof in time" : "unexpected");
    fprintf(stderr, "%s after %.3f s\n", what, now() - start);
}

static void expect_eof(const char *what, int c) { expect_eof_within(what, c, 2000); }

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
    // 3. The closing task computes without any system call, and the parent already sleeps in poll
    //    (so no sleep of another task sends the queue either).
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t spinner = fork();
    if (spinner == 0) {
        close(go[1]);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
        char x;
        CHECK(read(go[0], &x, 1) == 1);
        usleep(100000);   // the parent is in poll by now
        CHECK(close(s) == 0);
        for (volatile unsigned long spin = 0;; spin++) {}
    }
    close(go[0]);
    c = accept(l, NULL, NULL);
    CHECK(c >= 0);
    CHECK(write(go[1], "g", 1) == 1);
    expect_eof_within("close, then compute", c, 500);
    kill(spinner, SIGKILL);
    waitpid(spinner, NULL, 0);
    close(go[1]);
    close(c);
    // 4. The same with a write instead of a close: the Sentry defers the netstack's doorbell for a
    //    send until the task's next system call or sleep (session 9), so this one is rung by the
    //    waker's tick. The parent must see the byte within 0.5 s.
    CHECK(pipe(go) == 0);
    pid_t writer = fork();
    if (writer == 0) {
        close(go[1]);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
        char x;
        CHECK(read(go[0], &x, 1) == 1);
        usleep(100000);
        CHECK(write(s, "w", 1) == 1);
        for (volatile unsigned long spin = 0;; spin++) {}
    }
    close(go[0]);
    c = accept(l, NULL, NULL);
    CHECK(c >= 0);
    CHECK(write(go[1], "g", 1) == 1);
    {
        double start = now();
        struct pollfd p = {c, POLLIN, 0};
        int r = poll(&p, 1, 500);
        char b[8];
        ssize_t n = r == 1 ? read(c, b, sizeof b) : -2;
        printf("write, then compute: %s\n", n == 1 && b[0] == 'w' ? "data" : r == 0 ? "no data in time" : "unexpected");
        fprintf(stderr, "write, then compute after %.3f s\n", now() - start);
    }
    kill(writer, SIGKILL);
    waitpid(writer, NULL, 0);
    close(go[1]);
    close(c);
    printf("done\n");
    return 0;
}

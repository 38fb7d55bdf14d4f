// The accept queue of a loopback TCP listener, as an application sees it: a non-blocking accept with
// nothing queued (EAGAIN, no POLLIN); queued connections accepted in arrival order with their peers'
// addresses, SOCK_NONBLOCK and SOCK_CLOEXEC; a blocking accept woken by a later connection; closing a
// listener with connections nobody accepted (their clients are reset); a backlog of 2 holding three
// connections (Linux queues backlog + 1) while later SYNs wait for room; shutdown of a listener
// (SHUT_WR: nothing, SHUT_RD: stops it, resets its queue, accept gives EINVAL); and accepting more
// connections over time than the Sentry has socket slots (1024). Prints only what Linux decides, so
// the output is compared with a native run. Usage: inet_accept_queue [CHURN]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) { printf("FAIL %s: %s\n", what, strerror(errno)); exit(1); }

static int listener(int backlog, int flags, struct sockaddr_in *a) {
    int l = socket(AF_INET, SOCK_STREAM | flags, 0);
    socklen_t alen = sizeof *a;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (void *)a, sizeof *a) || listen(l, backlog) || getsockname(l, (void *)a, &alen)) die("listener");
    return l;
}

static int client(struct sockaddr_in *a, int nonblock) {
    int c = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (c < 0) die("socket");
    if (connect(c, (void *)a, sizeof *a) && !(nonblock && errno == EINPROGRESS)) die("connect");
    return c;
}

static int port_of(int fd, int peer) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if ((peer ? getpeername : getsockname)(fd, (void *)&a, &len)) return -errno;
    return ntohs(a.sin_port);
}

// Waits (bounded) until `fd` reports one of `events`; returns the revents, 0 on timeout.
static int wait_for(int fd, short events, int ms) {
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

static const char *err(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

int main(int argc, char **argv) {
    int churn = argc > 1 ? atoi(argv[1]) : 1100;
    struct sockaddr_in a;
    socklen_t alen;

    // 1. Nothing queued: a non-blocking accept fails with EAGAIN and poll shows no POLLIN.
    int l = listener(8, SOCK_NONBLOCK, &a);
    printf("empty: accept %s, poll %d\n", err(accept4(l, NULL, NULL, 0)), wait_for(l, POLLIN, 0));

    // 2. Five queued connections, accepted in arrival order with their peers.
    int c[5];
    for (int i = 0; i < 5; i++) c[i] = client(&a, 0);
    printf("queued: poll %d\n", wait_for(l, POLLIN, 2000));
    for (int i = 0; i < 5; i++) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int s = -1;
        for (int tries = 0; tries < 200 && s < 0; tries++) {
            s = accept4(l, (void *)&peer, &plen, i % 2 ? SOCK_NONBLOCK | SOCK_CLOEXEC : 0);
            if (s < 0 && errno == EAGAIN) wait_for(l, POLLIN, 10);
        }
        if (s < 0) die("accept");
        int order = -1;
        for (int j = 0; j < 5; j++) if (port_of(c[j], 0) == ntohs(peer.sin_port)) order = j;
        printf("accept %d: client %d, addrlen %u, getpeername same %d, nonblock %d, cloexec %d\n", i, order, plen,
               port_of(s, 1) == ntohs(peer.sin_port), (fcntl(s, F_GETFL) & O_NONBLOCK) != 0, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
        char b = (char)('a' + i), r = 0;
        if (write(s, &b, 1) != 1 || read(c[order], &r, 1) != 1 || r != b) die("server to client");
        close(s);
    }
    printf("drained: accept %s\n", err(accept4(l, NULL, NULL, 0)));
    for (int i = 0; i < 5; i++) close(c[i]);
    close(l);

    // 3. A blocking accept sleeps until a connection arrives (a child connects 100 ms later).
    l = listener(8, 0, &a);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        int k = client(&a, 0);
        char r;
        _exit(read(k, &r, 1) == 1 && r == 'x' ? 0 : 1);
    }
    int s = accept(l, NULL, NULL);
    printf("blocking accept: %s\n", err(s));
    if (s >= 0 && write(s, "x", 1) != 1) die("write");
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child got its byte: %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(s);
    close(l);

    // 4. Closing a listener resets the connections nobody accepted.
    l = listener(8, 0, &a);
    for (int i = 0; i < 3; i++) c[i] = client(&a, 0);
    wait_for(l, POLLIN, 2000);
    usleep(200000);   // the sandbox's netstack queues them a moment after connect returns
    close(l);
    for (int i = 0; i < 3; i++) {
        char r;
        int rev = wait_for(c[i], POLLIN, 2000);
        ssize_t n = read(c[i], &r, 1);
        printf("unaccepted %d: readable %d, read %zd %s\n", i, (rev & POLLIN) != 0, n, n < 0 ? strerrorname_np(errno) : "");
        close(c[i]);
    }

    // 5. Backlog 2: three connections fit, the other SYNs wait; accepting makes room and, after the
    // clients retransmit their SYNs, all six are accepted.
    l = listener(2, SOCK_NONBLOCK, &a);
    int b[6];
    for (int i = 0; i < 6; i++) { b[i] = client(&a, 1); usleep(20000); }
    usleep(300000);
    int connected = 0;
    for (int i = 0; i < 6; i++) connected += (wait_for(b[i], POLLOUT, 0) & POLLOUT) != 0;
    printf("backlog 2: %d of 6 connected\n", connected);
    int accepted = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (accepted < 6) {
        int k = accept4(l, NULL, NULL, 0);
        if (k >= 0) { accepted++; close(k); continue; }
        if (errno != EAGAIN) die("accept backlog");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 10) break;
        wait_for(l, POLLIN, 100);
    }
    printf("backlog 2: accepted %d\n", accepted);
    for (int i = 0; i < 6; i++) close(b[i]);
    close(l);

    // 6. shutdown on a listener: SHUT_WR changes nothing; SHUT_RD stops it (queued connections are
    // reset, accept fails with EINVAL) and listen() starts it again.
    l = listener(8, SOCK_NONBLOCK, &a);
    printf("listener shutdown(SHUT_WR): %s\n", err(shutdown(l, SHUT_WR)));
    for (int i = 0; i < 2; i++) c[i] = client(&a, 0);
    wait_for(l, POLLIN, 2000);
    usleep(200000);
    printf("listener shutdown(SHUT_RD): %s\n", err(shutdown(l, SHUT_RD)));
    printf("accept after shutdown: %s\n", err(accept4(l, NULL, NULL, 0)));
    for (int i = 0; i < 2; i++) {
        char r;
        wait_for(c[i], POLLIN, 2000);
        ssize_t n = read(c[i], &r, 1);
        printf("queued before shutdown %d: read %zd %s\n", i, n, n < 0 ? strerrorname_np(errno) : "");
        close(c[i]);
    }
    printf("listen again: %s\n", err(listen(l, 8)));
    alen = sizeof a;   // Linux gives an automatically bound port back on shutdown: ask again
    if (getsockname(l, (void *)&a, &alen)) die("getsockname");
    c[0] = client(&a, 0);
    wait_for(l, POLLIN, 2000);
    s = -1;
    for (int tries = 0; tries < 200 && s < 0; tries++) {
        s = accept4(l, NULL, NULL, 0);
        if (s < 0 && errno == EAGAIN) wait_for(l, POLLIN, 10);
    }
    printf("accept after listen again: %s\n", err(s));
    close(s);
    close(c[0]);
    close(l);

    // 7. More connections over time than the Sentry has slots.
    l = listener(16, 0, &a);
    for (int i = 0; i < churn; i++) {
        int k = client(&a, 0);
        int t = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (t < 0) die("accept churn");
        close(t);
        close(k);
    }
    printf("churn: %d accepted\n", churn);
    close(l);
    printf("done\n");
    return 0;
}

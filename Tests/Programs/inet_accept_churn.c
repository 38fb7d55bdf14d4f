// Accept/close churn over loopback TCP, like a server that takes many short connections (redis's
// accept path): every round connects, accepts, sets the options such servers set on each accepted
// socket (TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT), sends one byte each way, and closes
// both ends. Two sockets a round, more in all than the Sentry has socket slots (1024), so slots
// must come back after close. Then: the options read back, out-of-range values fail with EINVAL, and SO_LINGER {1, 0}
// before close resets the peer. Output is compared with a native run, so it prints only what
// Linux decides. Usage: inet_accept_churn [ROUNDS]
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) { printf("FAIL %s: %s\n", what, strerror(errno)); exit(1); }

static int opt(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len)) die("getsockopt");
    return v;
}

static int set(int fd, int level, int name, int v) { return setsockopt(fd, level, name, &v, sizeof v) ? errno : 0; }

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 520;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (l < 0 || bind(l, (void *)&a, sizeof a) || listen(l, 16) || getsockname(l, (void *)&a, &alen)) die("listener");
    for (int i = 0; i < rounds; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (void *)&a, sizeof a)) die("connect");
        int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (s < 0) die("accept");
        if (set(s, IPPROTO_TCP, TCP_NODELAY, 1) || set(s, SOL_SOCKET, SO_KEEPALIVE, 1) ||
            set(s, IPPROTO_TCP, TCP_KEEPIDLE, 300) || set(s, IPPROTO_TCP, TCP_KEEPINTVL, 100) ||
            set(s, IPPROTO_TCP, TCP_KEEPCNT, 3))
            die("setsockopt");
        char b = (char)i, r = 0;
        if (write(s, &b, 1) != 1 || read(c, &r, 1) != 1 || r != b) die("server to client");
        if (write(c, &b, 1) != 1 || read(s, &r, 1) != 1 || r != b) die("client to server");
        if (i == rounds - 1)
            printf("options nodelay=%d keepalive=%d idle=%d intvl=%d cnt=%d\n", opt(s, IPPROTO_TCP, TCP_NODELAY) != 0,
                   opt(s, SOL_SOCKET, SO_KEEPALIVE) != 0, opt(s, IPPROTO_TCP, TCP_KEEPIDLE),
                   opt(s, IPPROTO_TCP, TCP_KEEPINTVL), opt(s, IPPROTO_TCP, TCP_KEEPCNT));
        close(s);
        if (read(c, &r, 1) != 0) die("end of stream");
        close(c);
    }
    printf("rounds %d\n", rounds);

    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (void *)&a, sizeof a)) die("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0) die("accept");
    printf("keepidle 0: %s\n", strerror(set(s, IPPROTO_TCP, TCP_KEEPIDLE, 0)));
    printf("keepidle 32768: %s\n", strerror(set(s, IPPROTO_TCP, TCP_KEEPIDLE, 32768)));
    printf("keepintvl 0: %s\n", strerror(set(s, IPPROTO_TCP, TCP_KEEPINTVL, 0)));
    printf("keepcnt 128: %s\n", strerror(set(s, IPPROTO_TCP, TCP_KEEPCNT, 128)));
    printf("keepcnt 127: %s\n", strerror(set(s, IPPROTO_TCP, TCP_KEEPCNT, 127)));
    printf("nodelay 0: %s, reads %d\n", strerror(set(s, IPPROTO_TCP, TCP_NODELAY, 0)), opt(s, IPPROTO_TCP, TCP_NODELAY));
    printf("keepalive 0: %s, reads %d\n", strerror(set(s, SOL_SOCKET, SO_KEEPALIVE, 0)), opt(s, SOL_SOCKET, SO_KEEPALIVE));
    printf("after refusals idle=%d intvl=%d cnt=%d\n", opt(s, IPPROTO_TCP, TCP_KEEPIDLE), opt(s, IPPROTO_TCP, TCP_KEEPINTVL),
           opt(s, IPPROTO_TCP, TCP_KEEPCNT));
    // SO_LINGER {on, 0}: close discards and resets; the options before it must have reached the netstack.
    struct linger lg = {1, 0};
    if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)) die("SO_LINGER");
    close(s);
    char r;
    ssize_t n = read(c, &r, 1);
    printf("peer after linger-0 close: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    close(c);
    close(l);
    printf("done\n");
    return 0;
}

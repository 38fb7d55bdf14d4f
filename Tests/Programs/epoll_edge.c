// epoll edge-triggered (EPOLLET) and one-shot (EPOLLONESHOT) semantics on pipes, eventfd and a
// pseudo-terminal, next to level-triggered for contrast.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static int ep;

static int wait0(void) {
    struct epoll_event ev[4];
    int n = epoll_wait(ep, ev, 4, 0);
    return n;
}

// Linux moves pty data to the other side from a work queue: wait a little for pty events.
static int wait100(void) {
    struct epoll_event ev[4];
    return epoll_wait(ep, ev, 4, 100);
}

// Two successive checks, evaluated in order (printf's argument order is unspecified).
static int twice[2];
static int *wait2(void) { twice[0] = wait0(); twice[1] = wait0(); return twice; }

static int waitEvents(unsigned *events) {
    struct epoll_event ev[4];
    int n = epoll_wait(ep, ev, 4, 100);
    *events = n > 0 ? ev[0].events : 0;
    return n;
}

static void add(int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) perror("epoll_ctl add");
}

static void mod(int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0) perror("epoll_ctl mod");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char buf[256];
    unsigned e;
    int p[2];

    // Level-triggered: reported as long as data is there.
    ep = epoll_create1(0);
    pipe2(p, O_NONBLOCK);
    add(p[0], EPOLLIN);
    write(p[1], "a", 1);
    wait2(); printf("LT: %d %d\n", twice[0], twice[1]);
    close(ep);

    // Edge-triggered read end.
    ep = epoll_create1(0);
    add(p[0], EPOLLIN | EPOLLET);
    wait2(); printf("ET already readable at add: %d, then %d\n", twice[0], twice[1]);
    write(p[1], "b", 1);
    wait2(); printf("ET new data while still readable: %d, then %d\n", twice[0], twice[1]);
    while (read(p[0], buf, sizeof buf) > 0) {}
    printf("ET after draining: %d\n", wait0());
    write(p[1], "c", 1);
    int n = waitEvents(&e);
    printf("ET after new write: %d events %#x\n", n, e);
    read(p[0], buf, sizeof buf);
    close(p[1]);
    n = waitEvents(&e);
    int again = wait0();
    printf("ET writer closed: %d events %#x, again %d\n", n, e, again);
    close(p[0]);
    close(ep);

    // Edge-triggered write end: writable once, again after the reader makes room.
    ep = epoll_create1(0);
    pipe2(p, O_NONBLOCK);
    add(p[1], EPOLLOUT | EPOLLET);
    wait2(); printf("ET writable: %d, then %d\n", twice[0], twice[1]);
    int total = 0;
    while ((n = write(p[1], buf, sizeof buf)) > 0) total += n;
    printf("filled pipe (%d bytes): %d\n", total, wait0());
    while (read(p[0], buf, sizeof buf) > 0) {}
    n = waitEvents(&e);
    printf("ET writable after drain: %d events %#x\n", n, e);
    close(p[0]);
    close(p[1]);
    close(ep);

    // EPOLLONESHOT: one report, then disabled until EPOLL_CTL_MOD re-arms it.
    ep = epoll_create1(0);
    pipe2(p, O_NONBLOCK);
    add(p[0], EPOLLIN | EPOLLONESHOT);
    write(p[1], "d", 1);
    wait2(); printf("ONESHOT: %d, then %d\n", twice[0], twice[1]);
    write(p[1], "e", 1);
    printf("ONESHOT more data while disabled: %d\n", wait0());
    mod(p[0], EPOLLIN | EPOLLONESHOT);
    wait2(); printf("ONESHOT re-armed: %d, then %d\n", twice[0], twice[1]);
    mod(p[0], EPOLLIN | EPOLLET | EPOLLONESHOT);
    wait2(); printf("ET|ONESHOT re-armed: %d, then %d\n", twice[0], twice[1]);
    close(p[0]);
    close(p[1]);
    close(ep);

    // eventfd, edge-triggered: every write is a new edge.
    ep = epoll_create1(0);
    int efd = eventfd(0, EFD_NONBLOCK);
    add(efd, EPOLLIN | EPOLLET);
    printf("eventfd ET empty: %d\n", wait0());
    uint64_t one = 1;
    write(efd, &one, 8);
    wait2(); printf("eventfd ET write: %d, then %d\n", twice[0], twice[1]);
    write(efd, &one, 8);
    wait2(); printf("eventfd ET second write: %d, then %d\n", twice[0], twice[1]);
    close(efd);
    close(ep);

    // Unix stream socket, edge-triggered: each message is a new edge.
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    ep = epoll_create1(0);
    add(sv[0], EPOLLIN | EPOLLET);
    printf("socket ET idle: %d\n", wait0());
    write(sv[1], "m", 1);
    wait2(); printf("socket ET message: %d, then %d\n", twice[0], twice[1]);
    write(sv[1], "n", 1);
    wait2(); printf("socket ET second message: %d, then %d\n", twice[0], twice[1]);
    close(sv[1]);
    n = waitEvents(&e);
    printf("socket ET peer closed: %d events %#x\n", n, e);
    close(sv[0]);
    close(ep);

    // pseudo-terminal master, edge-triggered: output from the slave side.
    int m, s;
    if (openpty(&m, &s, NULL, NULL, NULL) == 0) {
        ep = epoll_create1(0);
        fcntl(m, F_SETFL, O_NONBLOCK);
        add(m, EPOLLIN | EPOLLET);
        printf("pty ET idle: %d\n", wait0());
        write(s, "x\n", 2);
        int first = wait100();
        printf("pty ET output: %d, then %d\n", first, wait0());
        write(s, "y\n", 2);
        printf("pty ET more output: %d\n", wait100());
        n = read(m, buf, sizeof buf);
        printf("pty master read %d bytes\n", n);
        close(s);
        n = waitEvents(&e);
        printf("pty slave closed: %d events %#x\n", n, e);
        close(m);
        close(ep);
    }
    return 0;
}

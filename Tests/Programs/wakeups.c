// Wake-ups of blocked tasks: with many tasks blocked at once (pipe readers, futex waiters, a poll
// waiter, a blocked writer), each event wakes the right one and no wake-up is lost. The output is
// compared with a native run, so it must not depend on timing.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 6

static void die(const char *what) { perror(what); exit(1); }

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static long futex(int *addr, int op, int val) { return syscall(SYS_futex, addr, op, val, NULL, NULL, 0); }

// Threads parked in futex waits for the whole run (they must not be disturbed by pipe traffic).
static int park_word = 0;
static void *parked(void *arg) {
    (void)arg;
    while (__atomic_load_n(&park_word, __ATOMIC_SEQ_CST) == 0) futex(&park_word, FUTEX_WAIT, 0);
    return NULL;
}

// 1. Children each blocked reading their own pipe are woken one by one, in the order written.
static void pipes_in_order(void) {
    int to[CHILDREN][2], back[2];
    if (pipe(back)) die("pipe");
    for (int i = 0; i < CHILDREN; i++) if (pipe(to[i])) die("pipe");
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        if (pids[i] < 0) die("fork");
        if (pids[i] == 0) {
            char c;
            for (int round = 0; round < 3; round++) {
                if (read(to[i][0], &c, 1) != 1) _exit(2);
                char msg = (char)('a' + i);
                if (write(back[1], &msg, 1) != 1) _exit(3);
            }
            _exit(0);
        }
    }
    const int order[CHILDREN] = { 3, 0, 5, 1, 4, 2 };
    char seen[3 * CHILDREN + 1];
    int n = 0;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < CHILDREN; k++) {
            int i = order[(k + round) % CHILDREN];
            char c = 'x';
            if (write(to[i][1], &c, 1) != 1) die("write");
            if (read(back[0], &seen[n], 1) != 1) die("read");
            n++;
        }
    }
    seen[n] = 0;
    int ok = 1;
    for (int i = 0; i < CHILDREN; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ok = 0;
    }
    printf("pipe readers woken in order: %s, children ok %d\n", seen, ok);
}

// 2. A reader blocked on an empty pipe wakes with end of file when the last writer closes.
static void pipe_eof(void) {
    int p[2];
    if (pipe(p)) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        char c;
        _exit(read(p[0], &c, 1) == 0 ? 7 : 8);
    }
    close(p[0]);
    sleep_ms(30);
    close(p[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("blocked reader sees EOF: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

// 3. A writer blocked on a full pipe resumes as the reader drains it.
static void pipe_full_writer(void) {
    int p[2];
    if (pipe(p)) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        static char buf[300000];
        memset(buf, 'w', sizeof buf);
        ssize_t n = write(p[1], buf, sizeof buf);
        _exit(n == (ssize_t)sizeof buf ? 0 : 1);
    }
    close(p[1]);
    sleep_ms(30);
    long total = 0;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) total += n;
    int st = 0;
    waitpid(pid, &st, 0);
    printf("blocked writer finished: %ld bytes, status %d\n", total, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(p[0]);
}

// 4. A signal interrupts a blocked pipe read (no SA_RESTART): EINTR.
static void on_usr1(int sig) { (void)sig; }
static void pipe_read_interrupted(void) {
    int p[2];
    if (pipe(p)) die("pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        char c;
        ssize_t r = read(p[0], &c, 1);
        _exit(r < 0 && errno == EINTR ? 0 : 1);
    }
    close(p[0]);
    // Again until it ends: a signal that lands before the child reaches read() does not end it.
    int st = 0;
    for (int i = 0; i < 1000 && waitpid(pid, &st, WNOHANG) == 0; i++) {
        sleep_ms(i == 0 ? 30 : 10);
        kill(pid, SIGUSR1);
    }
    if (waitpid(pid, &st, WNOHANG) == 0) { kill(pid, SIGKILL); waitpid(pid, &st, 0); }
    printf("blocked pipe read interrupted by a signal: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "EINTR" : "no");
    close(p[1]);
}

// 5. A poll waiter and an epoll waiter on quiet pipes sleep through traffic on other pipes, and wake
// for their own; a poll timeout still expires while other pipes are busy.
static void pollers(void) {
    int quiet[2], equiet[2], busy[2];
    if (pipe(quiet) || pipe(equiet) || pipe(busy)) die("pipe");
    pid_t poller = fork();
    if (poller == 0) {
        struct pollfd pfd = { quiet[0], POLLIN, 0 };
        int r = poll(&pfd, 1, 10000);
        char c = 0;
        if (r == 1 && (pfd.revents & POLLIN)) { if (read(quiet[0], &c, 1) != 1) c = '?'; }
        _exit(c == 'q' ? 0 : 1);
    }
    pid_t epoller = fork();
    if (epoller == 0) {
        int ep = epoll_create1(0);
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = equiet[0] };
        epoll_ctl(ep, EPOLL_CTL_ADD, equiet[0], &ev);
        struct epoll_event out;
        int r = epoll_wait(ep, &out, 1, 10000);
        char c = 0;
        if (r == 1 && out.data.fd == equiet[0]) { if (read(equiet[0], &c, 1) != 1) c = '?'; }
        _exit(c == 'e' ? 0 : 1);
    }
    // Traffic on another pipe while both wait; a timed poll on an empty pipe must still time out.
    for (int i = 0; i < 200; i++) {
        char c = 'b';
        if (write(busy[1], &c, 1) != 1 || read(busy[0], &c, 1) != 1) die("busy");
    }
    struct pollfd self = { busy[0], POLLIN, 0 };
    int timed = poll(&self, 1, 40);
    char q = 'q', e = 'e';
    if (write(quiet[1], &q, 1) != 1 || write(equiet[1], &e, 1) != 1) die("write");
    int st1 = 0, st2 = 0;
    waitpid(poller, &st1, 0);
    waitpid(epoller, &st2, 0);
    printf("poll waiter woken for its pipe: %d, epoll waiter: %d, timed poll: %d\n",
           WIFEXITED(st1) ? WEXITSTATUS(st1) : -1, WIFEXITED(st2) ? WEXITSTATUS(st2) : -1, timed);
}

// 6. Unix stream sockets: a ping-pong between processes, and a sender blocked on a full socket.
static void unix_sockets(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair");
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char c;
        for (int i = 0; i < 500; i++) {
            if (read(sv[1], &c, 1) != 1) _exit(1);
            c++;
            if (write(sv[1], &c, 1) != 1) _exit(1);
        }
        // Then fill the socket until it blocks; the parent drains it.
        static char buf[1 << 20];
        memset(buf, 's', sizeof buf);
        _exit(write(sv[1], buf, sizeof buf) == (ssize_t)sizeof buf ? 0 : 2);
    }
    close(sv[1]);
    unsigned char c = 0;
    int ok = 1;
    for (int i = 0; i < 500; i++) {
        unsigned char want = (unsigned char)(c + 1);
        if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1) die("unix");
        if (c != want) ok = 0;
    }
    sleep_ms(30);
    long total = 0;
    char buf[8192];
    ssize_t n;
    while (total < (1 << 20) && (n = read(sv[0], buf, sizeof buf)) > 0) total += n;
    int st = 0;
    waitpid(pid, &st, 0);
    printf("unix ping-pong ok %d, blocked sender drained: %ld bytes, status %d\n", ok, total,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(sv[0]);
}

// 7. FUTEX_WAKE with count 1 wakes one of several waiters at a time.
static int gate = 0, passed = 0;
static void *gate_waiter(void *arg) {
    (void)arg;
    while (__atomic_load_n(&gate, __ATOMIC_SEQ_CST) == 0) {
        futex(&gate, FUTEX_WAIT, 0);
        // A wake-up without the gate open: count it and wait again only if it came from FUTEX_WAKE.
        if (__atomic_load_n(&gate, __ATOMIC_SEQ_CST) == 0) { __atomic_fetch_add(&passed, 1, __ATOMIC_SEQ_CST); return NULL; }
    }
    __atomic_fetch_add(&passed, 1, __ATOMIC_SEQ_CST);
    return NULL;
}
static void futex_one_at_a_time(void) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, gate_waiter, NULL);
    sleep_ms(50);
    int steps_ok = 1, woken_total = 0;
    for (int k = 1; k <= 4; k++) {
        long r = 0;
        for (int tries = 0; tries < 2000 && r == 0; tries++) { r = futex(&gate, FUTEX_WAKE, 1); if (r == 0) sleep_ms(1); }
        woken_total += (int)r;
        if (r != 1) steps_ok = 0;
        for (int tries = 0; tries < 2000 && __atomic_load_n(&passed, __ATOMIC_SEQ_CST) < k; tries++) sleep_ms(1);
        sleep_ms(5);
        if (__atomic_load_n(&passed, __ATOMIC_SEQ_CST) != k) steps_ok = 0;
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("futex wakes one waiter at a time: %s (%d woken)\n", steps_ok ? "yes" : "no", woken_total);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_t parkers[2];
    for (int i = 0; i < 2; i++) pthread_create(&parkers[i], NULL, parked, NULL);
    pipes_in_order();
    pipe_eof();
    pipe_full_writer();
    pipe_read_interrupted();
    pollers();
    unix_sockets();
    futex_one_at_a_time();
    __atomic_store_n(&park_word, 1, __ATOMIC_SEQ_CST);
    futex(&park_word, FUTEX_WAKE, 2);
    for (int i = 0; i < 2; i++) pthread_join(parkers[i], NULL);
    printf("parked threads released\n");
    return 0;
}

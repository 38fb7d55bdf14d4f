// AF_UNIX sockets: socketpair of every type, bind/listen/accept/connect with abstract and path
// names, names, send/recv variants and flags, SCM_RIGHTS, SCM_CREDENTIALS, shutdown, options,
// readiness (poll/select/epoll), EPIPE+SIGPIPE, signal-interrupted blocking, AF_INET refusal.
// Output is deterministic (no pids, no host-dependent sizes) so it is compared with native Linux.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <sys/ioctl.h>

static long e_(long r) { return r < 0 ? -errno : r; }
#define E(x) ((int)e_((long)(x)))
static volatile int sigpipes = 0, alarms = 0;
static void on_pipe(int s) { (void)s; sigpipes++; }
static void on_alarm(int s) { (void)s; alarms++; }

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    a->sun_path[0] = 0;
    strcpy(a->sun_path + 1, name);
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static void print_name(const char *what, struct sockaddr_un *a, socklen_t len) {
    printf("%s: len=%d fam=%d", what, (int)len, a->sun_family);
    if (len > 2) {
        if (a->sun_path[0] == 0) printf(" abstract=%.*s", (int)len - 3, a->sun_path + 1);
        else printf(" path=%s", a->sun_path);
    }
    printf("\n");
}

static void pairs(void) {
    int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
    const char *names[] = { "stream", "dgram", "seqpacket" };
    for (int i = 0; i < 3; i++) {
        int sv[2];
        int r = socketpair(AF_UNIX, types[i] | SOCK_CLOEXEC, 0, sv);
        int type = 0, dom = 0, acc = 1;
        socklen_t l = sizeof type;
        getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &l);
        l = sizeof dom;
        getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &dom, &l);
        l = sizeof acc;
        getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &acc, &l);
        struct stat st;
        fstat(sv[0], &st);
        printf("%s pair: r=%d type=%d domain=%d acceptconn=%d cloexec=%d sock=%d\n", names[i], r, type, dom, acc,
               (fcntl(sv[0], F_GETFD) & FD_CLOEXEC) != 0, S_ISSOCK(st.st_mode));
        // Two writes: a stream merges them, message types keep boundaries.
        write(sv[0], "hello", 5);
        write(sv[0], "world", 5);
        char buf[32] = { 0 };
        int n = read(sv[1], buf, sizeof buf);
        printf("  read %d '%.*s'\n", n, n, buf);
        if (types[i] != SOCK_STREAM) {
            // MSG_TRUNC: a short buffer cuts the message; the flag reports the full length.
            n = recv(sv[1], buf, 2, MSG_TRUNC);
            printf("  recv MSG_TRUNC %d '%.2s'\n", n, buf);
        } else {
            n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
            printf("  recv again %d errno=%s\n", n, n < 0 ? strerror(errno) : "-");
        }
        // MSG_PEEK leaves the data in place.
        send(sv[1], "peek", 4, 0);
        n = recv(sv[0], buf, sizeof buf, MSG_PEEK);
        int m = recv(sv[0], buf + 10, sizeof buf - 10, 0);
        printf("  peek %d then recv %d '%.*s'\n", n, m, m, buf + 10);
        // Empty nonblocking read.
        n = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
        printf("  dontwait %d %s\n", n, n < 0 ? strerror(errno) : "-");
        // Scatter/gather.
        struct iovec out[2] = { { "abc", 3 }, { "defg", 4 } };
        struct msghdr mh = { .msg_iov = out, .msg_iovlen = 2 };
        printf("  sendmsg %zd\n", sendmsg(sv[0], &mh, 0));
        char a[2], b[10];
        struct iovec in[2] = { { a, 2 }, { b, 10 } };
        struct msghdr rh = { .msg_iov = in, .msg_iovlen = 2 };
        n = recvmsg(sv[1], &rh, 0);
        printf("  recvmsg %d '%.2s' '%.*s' flags=%d\n", n, a, n - 2, b, rh.msg_flags);
        close(sv[0]);
        n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
        printf("  after peer close: %d %s\n", n, n < 0 ? strerror(errno) : "eof");
        close(sv[1]);
    }
}

static void listen_connect(int type, const char *label, int use_path) {
    struct sockaddr_un sa;
    socklen_t salen;
    char path[64];
    if (use_path) {
        snprintf(path, sizeof path, "/tmp/bw-unix-%s.sock", label);
        unlink(path);
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        strcpy(sa.sun_path, path);
        salen = sizeof sa;
    } else {
        salen = abstract_addr(&sa, label);
    }
    int l = socket(AF_UNIX, type, 0);
    int br = E(bind(l, (struct sockaddr *)&sa, salen));
    printf("%s: bind %d listen %d\n", label, br, E(listen(l, 4)));
    int l2 = socket(AF_UNIX, type, 0);
    printf("  second bind: %d\n", E(bind(l2, (struct sockaddr *)&sa, salen)));
    close(l2);
    int acc = 0;
    socklen_t ol = sizeof acc;
    getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &ol);
    printf("  acceptconn %d\n", acc);
    int c = socket(AF_UNIX, type | SOCK_NONBLOCK, 0);
    struct pollfd pf = { .fd = l, .events = POLLIN };
    printf("  poll listener before connect: %d\n", poll(&pf, 1, 0));
    printf("  connect %d\n", E(connect(c, (struct sockaddr *)&sa, salen)));
    int pr = poll(&pf, 1, 0);
    printf("  poll listener after connect: %d revents=%d\n", pr, pf.revents);
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    int s = accept4(l, (struct sockaddr *)&got, &gl, SOCK_CLOEXEC);
    printf("  accept4 ok=%d cloexec=%d\n", s >= 0, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
    print_name("  accepted peer addr", &got, gl);
    gl = sizeof got;
    getsockname(s, (struct sockaddr *)&got, &gl);
    print_name("  server getsockname", &got, gl);
    gl = sizeof got;
    getpeername(c, (struct sockaddr *)&got, &gl);
    print_name("  client getpeername", &got, gl);
    gl = sizeof got;
    getsockname(c, (struct sockaddr *)&got, &gl);
    print_name("  client getsockname", &got, gl);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
    printf("  peercred len=%d pid_is_me=%d uid_ok=%d gid_ok=%d\n", (int)cl, cr.pid == getpid(), cr.uid == getuid(), cr.gid == getgid());
    send(c, "ping", 4, 0);
    char buf[16];
    int n = recv(s, buf, sizeof buf, 0);
    printf("  server got %d '%.*s'\n", n, n, buf);
    send(s, "pong!", 5, 0);
    n = recv(c, buf, sizeof buf, 0);
    printf("  client got %d '%.*s'\n", n, n, buf);
    int e = 0;
    socklen_t el = sizeof e;
    int gr = getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("  so_error %d=%d\n", gr, e);
    // Connecting to a name nobody listens on.
    int d = socket(AF_UNIX, type, 0);
    struct sockaddr_un none;
    socklen_t nl = abstract_addr(&none, "bw-nobody-here");
    printf("  connect to nobody: %d\n", E(connect(d, (struct sockaddr *)&none, nl)));
    close(d);
    close(c); close(s); close(l);
    if (use_path) unlink(path);
}

static void dgram_names(void) {
    struct sockaddr_un a, b, from;
    socklen_t al = abstract_addr(&a, "bw-dgram-a"), bl = abstract_addr(&b, "bw-dgram-b");
    int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(x, (struct sockaddr *)&a, al);
    bind(y, (struct sockaddr *)&b, bl);
    printf("dgram sendto %zd\n", sendto(x, "to-b", 4, 0, (struct sockaddr *)&b, bl));
    char buf[16];
    socklen_t fl = sizeof from;
    int n = recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("dgram recvfrom %d '%.*s'\n", n, n, buf);
    print_name("  from", &from, fl);
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(u, "anon", 4, 0, (struct sockaddr *)&b, bl);
    fl = sizeof from;
    n = recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("dgram from unbound: %d fromlen=%d\n", n, (int)fl);
    // Autobind: bind with only the family gives an abstract name.
    struct sockaddr_un fam = { .sun_family = AF_UNIX };
    printf("autobind %d\n", E(bind(u, (struct sockaddr *)&fam, sizeof(sa_family_t))));
    fl = sizeof from;
    getsockname(u, (struct sockaddr *)&from, &fl);
    printf("  autobind len=%d abstract=%d\n", (int)fl, from.sun_path[0] == 0);
    // connect() fixes the destination; stream sendto on a connected stream is EISCONN.
    int cr = E(connect(x, (struct sockaddr *)&b, bl));
    printf("dgram connect %d send %d\n", cr, E(send(x, "c", 1, 0)));
    n = recv(y, buf, sizeof buf, 0);
    printf("  got %d\n", n);
    close(u); close(x); close(y);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf("stream sendto with addr: %d\n", E((int)sendto(sv[0], "x", 1, 0, (struct sockaddr *)&b, bl)));
    close(sv[0]); close(sv[1]);
}

static void rights_and_creds(void) {
    int sv[2], p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    char data = 'R';
    struct iovec iov = { &data, 1 };
    union { char buf[CMSG_SPACE(2 * sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), p, 2 * sizeof(int));
    printf("sendmsg rights %zd\n", sendmsg(sv[0], &mh, 0));
    close(p[0]); close(p[1]);
    char rd;
    union { char buf[CMSG_SPACE(2 * sizeof(int))]; struct cmsghdr align; } ru;
    struct iovec riov = { &rd, 1 };
    struct msghdr rh = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = ru.buf, .msg_controllen = sizeof ru.buf };
    int n = recvmsg(sv[1], &rh, MSG_CMSG_CLOEXEC);
    struct cmsghdr *rc = CMSG_FIRSTHDR(&rh);
    int fds[2] = { -1, -1 };
    printf("recvmsg %d '%c' controllen=%d flags=%d", n, rd, (int)rh.msg_controllen, rh.msg_flags);
    if (rc) {
        memcpy(fds, CMSG_DATA(rc), sizeof fds);
        printf(" level=%d type=%d len=%d cloexec=%d", rc->cmsg_level, rc->cmsg_type, (int)rc->cmsg_len,
               (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
    }
    printf("\n");
    // The passed pipe works: write into the received write end, read from the received read end.
    write(fds[1], "via-pipe", 8);
    char buf[16];
    n = read(fds[0], buf, sizeof buf);
    printf("  passed pipe carries %d '%.*s'\n", n, n, buf);
    close(fds[0]); close(fds[1]);
    // Too small a control buffer: MSG_CTRUNC and the descriptors are dropped.
    int q[2];
    pipe(q);
    memcpy(CMSG_DATA(c), q, 2 * sizeof(int));
    mh.msg_controllen = sizeof u.buf;
    sendmsg(sv[0], &mh, 0);
    close(q[0]); close(q[1]);
    struct msghdr small = { .msg_iov = &riov, .msg_iovlen = 1 };
    n = recvmsg(sv[1], &small, 0);
    printf("  no control buffer: %d ctrunc=%d\n", n, (small.msg_flags & MSG_CTRUNC) != 0);
    // Credentials: SO_PASSCRED makes every message carry the sender's ucred.
    int on = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    int got = 0;
    socklen_t gl = sizeof got;
    getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &got, &gl);
    printf("passcred %d\n", got);
    send(sv[0], "C", 1, 0);
    union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } cu;
    struct msghdr ch = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = cu.buf, .msg_controllen = sizeof cu.buf };
    n = recvmsg(sv[1], &ch, 0);
    struct cmsghdr *cc = CMSG_FIRSTHDR(&ch);
    if (cc && cc->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cr;
        memcpy(&cr, CMSG_DATA(cc), sizeof cr);
        printf("  creds msg %d len=%d pid_is_me=%d uid_ok=%d gid_ok=%d\n", n, (int)cc->cmsg_len, cr.pid == getpid(),
               cr.uid == getuid(), cr.gid == getgid());
    } else {
        printf("  creds missing (n=%d)\n", n);
    }
    // Explicit SCM_CREDENTIALS from the sender.
    struct ucred mine = { getpid(), getuid(), getgid() };
    union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } su;
    struct msghdr sh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = su.buf, .msg_controllen = sizeof su.buf };
    struct cmsghdr *sc = CMSG_FIRSTHDR(&sh);
    sc->cmsg_level = SOL_SOCKET;
    sc->cmsg_type = SCM_CREDENTIALS;
    sc->cmsg_len = CMSG_LEN(sizeof mine);
    memcpy(CMSG_DATA(sc), &mine, sizeof mine);
    printf("  explicit creds send %zd\n", sendmsg(sv[0], &sh, 0));
    ch.msg_controllen = sizeof cu.buf;
    n = recvmsg(sv[1], &ch, 0);
    cc = CMSG_FIRSTHDR(&ch);
    printf("  explicit creds recv %d type=%d\n", n, cc ? cc->cmsg_type : -1);
    close(sv[0]); close(sv[1]);
}

static void shutdown_and_pipe(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf("shutdown WR %d\n", shutdown(sv[0], SHUT_WR));
    char buf[8];
    struct pollfd pf = { .fd = sv[1], .events = POLLIN | POLLRDHUP };
    poll(&pf, 1, 0);
    printf("  peer poll in=%d rdhup=%d hup=%d\n", !!(pf.revents & POLLIN), !!(pf.revents & POLLRDHUP), !!(pf.revents & POLLHUP));
    printf("  peer read %zd\n", read(sv[1], buf, sizeof buf));
    int wr = E(send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("  write after SHUT_WR %d sigpipes=%d\n", wr, sigpipes);
    int w1 = write(sv[1], "y", 1);
    printf("  other direction still works %d %d\n", w1, (int)read(sv[0], buf, 1));
    close(sv[1]);
    wr = E(write(sv[0], "z", 1));
    printf("  write to closed peer %d sigpipes=%d\n", wr, sigpipes);
    pf.fd = sv[0];
    pf.events = POLLIN | POLLOUT;
    poll(&pf, 1, 0);
    printf("  poll after peer close hup=%d\n", !!(pf.revents & POLLHUP));
    close(sv[0]);
    printf("shutdown bad how %d\n", E(shutdown(0 > 1 ? 0 : 1000, 7)));
}

static void options(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int v = 65536;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    int snd = 0, rcv = 0;
    socklen_t l = sizeof snd;
    getsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, &l);
    l = sizeof rcv;
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
    printf("bufs set 65536 -> snd=%d rcv=%d\n", snd, rcv);
    struct timeval tv = { 0, 50000 }, got;
    printf("rcvtimeo set %d\n", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    l = sizeof got;
    getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &l);
    // Linux rounds to scheduler ticks: only check the value is about what was set.
    printf("  rcvtimeo get ~50ms=%d len=%d\n", got.tv_sec == 0 && got.tv_usec >= 50000 && got.tv_usec < 60000, (int)l);
    printf("unknown option %d\n", E(getsockopt(s, SOL_SOCKET, 12345, &v, &l)));
    printf("getsockopt on pipe %d\n", ({ int p[2]; pipe(p); int r = E(getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &l)); close(p[0]); close(p[1]); r; }));
    close(s);
    // Receive timeout on an empty connected socket: EAGAIN after the timeout.
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    printf("recv with timeout %d\n", E((int)recv(sv[0], &c, 1, 0)));
    // Fill a nonblocking stream until EAGAIN; poll no longer reports POLLOUT.
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    static char big[4096];
    long total = 0;
    int r;
    while ((r = write(sv[0], big, sizeof big)) > 0) total += r;
    struct pollfd pf = { .fd = sv[0], .events = POLLOUT };
    poll(&pf, 1, 0);
    printf("filled: total>0=%d err=%s pollout=%d\n", total > 0, strerror(errno), !!(pf.revents & POLLOUT));
    close(sv[0]); close(sv[1]);
}

static void readiness(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = sv[1] };
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
    struct epoll_event out[2];
    printf("epoll empty %d\n", epoll_wait(ep, out, 2, 0));
    send(sv[0], "e", 1, 0);
    int n = epoll_wait(ep, out, 2, 1000);
    printf("epoll data %d fd_ok=%d in=%d\n", n, n == 1 && out[0].data.fd == sv[1], n == 1 && (out[0].events & EPOLLIN));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sv[1], &rs);
    struct timeval tv = { 0, 0 };
    printf("select %d\n", select(sv[1] + 1, &rs, NULL, NULL, &tv));
    int avail = 0;
    ioctl(sv[1], FIONREAD, &avail);
    printf("fionread %d\n", avail);
    char c;
    recv(sv[1], &c, 1, 0);
    close(ep);
    // A child blocks in recv; the parent's write wakes it (fork shares the socket).
    pid_t pid = fork();
    if (pid == 0) {
        int fl = fcntl(sv[1], F_GETFL);
        fcntl(sv[1], F_SETFL, fl & ~O_NONBLOCK);
        char b[8];
        int k = recv(sv[1], b, sizeof b, 0);
        printf("child got %d '%.*s'\n", k, k, b);
        _exit(0);
    }
    send(sv[0], "wake", 4, 0);
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    close(sv[0]); close(sv[1]);
}

static void interrupted(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sigaction sa = { .sa_handler = on_alarm };  // no SA_RESTART: EINTR
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 0 }, { 0, 100000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    char c;
    int r = E((int)recv(sv[0], &c, 1, 0));
    int al0 = alarms;
    printf("blocked recv interrupted: %d alarms=%d\n", r, al0);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    socklen_t al = abstract_addr(&a, "bw-accept-eintr");
    bind(l, (struct sockaddr *)&a, al);
    listen(l, 1);
    setitimer(ITIMER_REAL, &it, NULL);
    r = E(accept(l, NULL, NULL));
    printf("blocked accept interrupted: %d alarms=%d\n", r, alarms);
    close(l); close(sv[0]); close(sv[1]);
}

static void bad_input(void) {
    int sv[2];
    printf("bad type: %d\n", E(socketpair(AF_UNIX, 77, 0, sv)));
    printf("bad protocol: %d\n", E(socket(AF_UNIX, SOCK_STREAM, 9)));
    printf("connect on pipe: %d\n", ({ int p[2]; pipe(p); struct sockaddr_un a; socklen_t al = abstract_addr(&a, "x"); int r = E(connect(p[0], (struct sockaddr *)&a, al)); close(p[0]); close(p[1]); r; }));
    printf("bind bad family: %d\n", ({ int s = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un a = { .sun_family = AF_INET }; int r = E(bind(s, (struct sockaddr *)&a, sizeof a)); close(s); r; }));
    printf("listen on dgram: %d\n", ({ int s = socket(AF_UNIX, SOCK_DGRAM, 0); int r = E(listen(s, 1)); close(s); r; }));
    printf("accept on unlistened: %d\n", ({ int s = socket(AF_UNIX, SOCK_STREAM, 0); int r = E(accept(s, NULL, NULL)); close(s); r; }));
    printf("getpeername unconnected: %d\n", ({ int s = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un a; socklen_t l = sizeof a; int r = E(getpeername(s, (struct sockaddr *)&a, &l)); close(s); r; }));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "inet") == 0) {
        // AF_INET/AF_INET6 are served by the netstack now: compared with native (same fd numbers).
        printf("AF_INET socket: %d\n", E(socket(AF_INET, SOCK_STREAM, 0)));
        printf("AF_INET6 socket: %d\n", E(socket(AF_INET6, SOCK_DGRAM, 0)));
        return 0;
    }
    signal(SIGPIPE, on_pipe);
    pairs();
    listen_connect(SOCK_STREAM, "bw-stream-abs", 0);
    listen_connect(SOCK_SEQPACKET, "bw-seq-abs", 0);
    listen_connect(SOCK_STREAM, "path", 1);
    dgram_names();
    rights_and_creds();
    shutdown_and_pipe();
    options();
    readiness();
    interrupted();
    bad_input();
    printf("done\n");
    return 0;
}

// AF_INET/AF_INET6 sockets over loopback, run natively and in the sandbox with outputs compared.
// Modes: tcp (echo client/server across fork), tcp6, udp, nbconnect (non-blocking connect + epoll),
// bulk MB (one-way transfer, throughput on stderr), mmsg (sendmmsg/recvmmsg on UDP and AF_UNIX).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s errno=%d\n", __FILE__, __LINE__, #x, errno); fflush(stdout); exit(1); } } while (0)

static uint32_t mix(uint32_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static int listener(int family, int type, int *port) {
    int s = socket(family, type, 0);
    CHECK(s >= 0);
    int one = 1;
    CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    if (family == AF_INET) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
        socklen_t l = sizeof a;
        CHECK(getsockname(s, (struct sockaddr *)&a, &l) == 0);
        *port = ntohs(a.sin_port);
    } else {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = 0, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
        socklen_t l = sizeof a;
        CHECK(getsockname(s, (struct sockaddr *)&a, &l) == 0);
        *port = ntohs(a.sin6_port);
    }
    if (type == SOCK_STREAM) CHECK(listen(s, 8) == 0);
    return s;
}

static int connect_to(int family, int port, int flags) {
    int c = socket(family, SOCK_STREAM | flags, 0);
    CHECK(c >= 0);
    int r;
    if (family == AF_INET) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r = connect(c, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        r = connect(c, (struct sockaddr *)&a, sizeof a);
    }
    if (r < 0 && errno != EINPROGRESS) { printf("connect: errno %d\n", errno); exit(1); }
    return c;
}

static size_t write_all(int fd, const unsigned char *p, size_t n) {
    size_t done = 0;
    while (done < n) { ssize_t k = write(fd, p + done, n - done); CHECK(k > 0); done += k; }
    return done;
}

static char later[4096];
static size_t laterLen;
#define LATER(...) (laterLen += snprintf(later + laterLen, sizeof later - laterLen, __VA_ARGS__))

static void echo_server(int ls, int family) {
    union { struct sockaddr_in v4; struct sockaddr_in6 v6; } peer;
    socklen_t pl = sizeof peer;
    int c = accept(ls, (struct sockaddr *)&peer, &pl);
    CHECK(c >= 0);
    LATER("server: accepted, peer family %d, len %d\n", ((struct sockaddr *)&peer)->sa_family, (int)pl);
    int type = 0; socklen_t tl = sizeof type;
    CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, &type, &tl) == 0);
    LATER("server: SO_TYPE %d\n", type);
    static unsigned char buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        CHECK(n >= 0);
        if (n == 0) break;
        write_all(c, buf, n);
        total += n;
    }
    LATER("server: echoed %zu bytes, then EOF\n", total);
    close(c);
    (void)family;
}

static void tcp(int family) {
    int port;
    int ls = listener(family, SOCK_STREAM, &port);
    int acc = 0; socklen_t al = sizeof acc;
    CHECK(getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0);
    printf("listening (SO_ACCEPTCONN %d)\n", acc);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int c = connect_to(family, port, 0);
        int one = 1;
        CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
        union { struct sockaddr_in v4; struct sockaddr_in6 v6; } peer;
        socklen_t pl = sizeof peer;
        CHECK(getpeername(c, (struct sockaddr *)&peer, &pl) == 0);
        printf("client: connected, peer port matches %d\n",
               family == AF_INET ? ntohs(peer.v4.sin_port) == port : ntohs(peer.v6.sin6_port) == port);
        static unsigned char out[1 << 20], in[1 << 20];
        for (size_t i = 0; i < sizeof out; i++) out[i] = (unsigned char)(i * 7 + (i >> 9));
        size_t sizes[] = { 1, 5, 1000, 65536, 1 << 20 };
        for (int k = 0; k < 5; k++) {
            size_t n = sizes[k];
            pid_t w = fork();
            if (w == 0) { write_all(c, out, n); _exit(0); }   // write while reading: no deadlock on big sizes
            size_t got = 0;
            while (got < n) { ssize_t r = read(c, in + got, n - got); CHECK(r > 0); got += r; }
            waitpid(w, NULL, 0);
            printf("client: %zu bytes echoed, match %d\n", n, mix(2166136261u, in, n) == mix(2166136261u, out, n));
        }
        CHECK(shutdown(c, SHUT_WR) == 0);
        char b;
        printf("client: read after shutdown -> %zd\n", read(c, &b, 1));
        signal(SIGPIPE, SIG_IGN);
        ssize_t w = write(c, "x", 1);
        printf("client: write after shutdown -> %zd errno %s\n", w, w < 0 && errno == EPIPE ? "EPIPE" : "other");
        close(c);
        fflush(stdout);
        _exit(0);
    }
    echo_server(ls, family);
    int st;
    waitpid(pid, &st, 0);
    fputs(later, stdout);
    printf("client exit %d\n", WEXITSTATUS(st));
    close(ls);
}

static void udp(void) {
    int port;
    int a = listener(AF_INET, SOCK_DGRAM, &port);
    int b = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(b >= 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "datagram %d", i);
        CHECK(sendto(b, msg, n, 0, (struct sockaddr *)&to, sizeof to) == n);
    }
    struct sockaddr_in me; socklen_t ml = sizeof me;
    CHECK(getsockname(b, (struct sockaddr *)&me, &ml) == 0);
    printf("udp: sender bound by its first sendto: %d\n", me.sin_port != 0);
    for (int i = 0; i < 3; i++) {
        char buf[64];
        struct sockaddr_in from; socklen_t fl = sizeof from;
        ssize_t n = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        CHECK(n > 0);
        printf("udp: got '%.*s' from 127.0.0.1 %d, len %d\n", (int)n, buf, from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), (int)fl);
    }
    // Truncation: MSG_TRUNC reports the real length.
    CHECK(sendto(b, "0123456789", 10, 0, (struct sockaddr *)&to, sizeof to) == 10);
    char small[4];
    ssize_t n = recv(a, small, sizeof small, MSG_TRUNC);
    printf("udp: MSG_TRUNC -> %zd\n", n);
    // Connected UDP and a reply to the sender's address.
    CHECK(connect(b, (struct sockaddr *)&to, sizeof to) == 0);
    CHECK(send(b, "ping", 4, 0) == 4);
    struct sockaddr_in from; socklen_t fl = sizeof from;
    char buf[16];
    n = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    CHECK(n == 4);
    CHECK(sendto(a, "pong", 4, 0, (struct sockaddr *)&from, fl) == 4);
    n = recv(b, buf, sizeof buf, 0);
    printf("udp: connected reply '%.*s'\n", (int)n, buf);
    // Non-blocking empty receive.
    n = recv(a, buf, sizeof buf, MSG_DONTWAIT);
    printf("udp: empty -> %zd %s\n", n, n < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    struct pollfd p = { .fd = a, .events = POLLIN };
    printf("udp: poll empty -> %d\n", poll(&p, 1, 0));
    struct timeval tv = { 0, 50000 };
    CHECK(setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    double t0 = now();
    n = recv(a, buf, sizeof buf, 0);
    double waited = now() - t0;
    printf("udp: recv with SO_RCVTIMEO -> %zd %s, waited >= 40 ms %d\n", n, n < 0 && errno == EAGAIN ? "EAGAIN" : "?", waited >= 0.04);
    close(a); close(b);
}

static void nbconnect(void) {
    int port;
    int ls = listener(AF_INET, SOCK_STREAM, &port);
    int fl = fcntl(ls, F_GETFL);
    CHECK(fcntl(ls, F_SETFL, fl | O_NONBLOCK) == 0);
    int r = accept(ls, NULL, NULL);
    printf("accept on empty non-blocking listener -> %d %s\n", r, r < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    int c = connect_to(AF_INET, port, SOCK_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLOUT, .data.fd = c };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) == 0);
    struct epoll_event lev = { .events = EPOLLIN, .data.fd = ls };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev) == 0);
    int sawOut = 0, sawIn = 0;
    for (int i = 0; i < 10 && !(sawOut && sawIn); i++) {
        struct epoll_event got[4];
        int n = epoll_wait(ep, got, 4, 2000);
        for (int k = 0; k < n; k++) {
            if (got[k].data.fd == c && (got[k].events & EPOLLOUT)) sawOut = 1;
            if (got[k].data.fd == ls && (got[k].events & EPOLLIN)) sawIn = 1;
        }
    }
    printf("epoll: connected socket writable %d, listener readable %d\n", sawOut, sawIn);
    int err = -1; socklen_t el = sizeof err;
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
    printf("SO_ERROR after connect %d\n", err);
    int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    CHECK(s >= 0);
    char buf[8];
    ssize_t n = read(s, buf, sizeof buf);
    printf("read on empty non-blocking -> %zd %s\n", n, n < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    // Only the accepted socket from here on (the others are ready, level-triggered, all along).
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL) == 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, ls, NULL) == 0);
    ev.events = EPOLLIN; ev.data.fd = s;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
    CHECK(write(c, "hello", 5) == 5);
    struct epoll_event got[4];
    int m = epoll_wait(ep, got, 4, 2000);
    int readable = 0;
    for (int k = 0; k < m; k++) if (got[k].data.fd == s && (got[k].events & EPOLLIN)) readable = 1;
    printf("epoll: accepted socket readable %d\n", readable);
    n = read(s, buf, sizeof buf);
    printf("read -> %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
    // Edge-triggered: one event per arrival, none while nothing new came.
    struct epoll_event et = { .events = EPOLLIN | EPOLLET, .data.fd = s };
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &et) == 0);
    CHECK(write(c, "a", 1) == 1);
    int e1 = epoll_wait(ep, got, 4, 2000);
    int e2 = epoll_wait(ep, got, 4, 0);
    CHECK(write(c, "b", 1) == 1);
    int e3 = epoll_wait(ep, got, 4, 2000);
    printf("EPOLLET: %d %d %d\n", e1, e2, e3);
    CHECK(read(s, buf, sizeof buf) == 2);
    close(c);
    struct pollfd p = { .fd = s, .events = POLLIN };
    CHECK(poll(&p, 1, 2000) == 1);
    printf("after peer close: POLLIN %d, read -> %zd\n", (p.revents & POLLIN) != 0, read(s, buf, sizeof buf));
    close(s);
    // A refused connection: nobody listens on the closed listener's port.
    close(ls);
    int d = connect_to(AF_INET, port, SOCK_NONBLOCK);
    struct pollfd q = { .fd = d, .events = POLLOUT };
    CHECK(poll(&q, 1, 2000) == 1);
    err = 0;
    CHECK(getsockopt(d, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
    printf("refused: POLLERR %d, SO_ERROR %s\n", (q.revents & POLLERR) != 0, err == ECONNREFUSED ? "ECONNREFUSED" : strerror(err));
    close(d);
    int e = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r = connect(e, (struct sockaddr *)&a, sizeof a);
    printf("blocking connect to closed port -> %d %s\n", r, r < 0 && errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    close(e);
}


static void bulk(long mb) {
    int port;
    int ls = listener(AF_INET, SOCK_STREAM, &port);
    fflush(stdout);
    size_t total = (size_t)mb << 20;
    pid_t pid = fork();
    if (pid == 0) {
        int c = connect_to(AF_INET, port, 0);
        static unsigned char buf[1 << 16];
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)i;
        size_t done = 0;
        while (done < total) done += write_all(c, buf, sizeof buf < total - done ? sizeof buf : total - done);
        close(c);
        _exit(0);
    }
    int s = accept(ls, NULL, NULL);
    CHECK(s >= 0);
    static unsigned char buf[1 << 16];
    size_t got = 0;
    uint32_t h = 2166136261u;
    double t0 = now();
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        CHECK(n >= 0);
        if (n == 0) break;
        h = mix(h, buf, n);
        got += n;
    }
    double dt = now() - t0;
    waitpid(pid, NULL, 0);
    uint32_t want = 2166136261u;
    static unsigned char pat[1 << 16];
    for (size_t i = 0; i < sizeof pat; i++) pat[i] = (unsigned char)i;
    for (size_t left = total; left > 0;) { size_t k = left < sizeof pat ? left : sizeof pat; want = mix(want, pat, k); left -= k; }
    printf("bulk: received %zu bytes, checksum match %d\n", got, h == want);
    fprintf(stderr, "THROUGHPUT %.1f MB/s (%ld MB in %.3f s)\n", mb / dt, mb, dt);
}

static void mmsg(void) {
    int port;
    int a = listener(AF_INET, SOCK_DGRAM, &port);
    int b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(b, (struct sockaddr *)&to, sizeof to) == 0);
    int un[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, un) == 0);
    int pairs[2][2] = { { b, a }, { un[0], un[1] } };
    const char *names[2] = { "udp", "unix" };
    for (int k = 0; k < 2; k++) {
        char data[3][8] = { "one", "two", "three" };
        struct iovec iov[3];
        struct mmsghdr msgs[3];
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < 3; i++) {
            iov[i].iov_base = data[i]; iov[i].iov_len = strlen(data[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(pairs[k][0], msgs, 3, 0);
        printf("%s sendmmsg -> %d, lens %u %u %u\n", names[k], n, msgs[0].msg_len, msgs[1].msg_len, msgs[2].msg_len);
        char in[4][16];
        struct iovec riov[4];
        struct mmsghdr r[4];
        memset(r, 0, sizeof r);
        for (int i = 0; i < 4; i++) { riov[i].iov_base = in[i]; riov[i].iov_len = 16; r[i].msg_hdr.msg_iov = &riov[i]; r[i].msg_hdr.msg_iovlen = 1; }
        struct timespec t = { 1, 0 };
        // vlen 3, no MSG_WAITFORONE, no timeout: waits for all three (the sandbox's loopback delivers
        // a moment after send returns, Linux's before; a timeout could expire first on a busy machine).
        (void)t;
        n = recvmmsg(pairs[k][1], r, 3, 0, NULL);
        printf("%s recvmmsg -> %d:", names[k], n);
        for (int i = 0; i < n; i++) printf(" '%.*s'", (int)r[i].msg_len, in[i]);
        printf("\n");
    }
}

// The netstack is killed from outside while this runs: every socket call must fail, none may hang.
static void outage(void) {
    int port;
    int ls = listener(AF_INET, SOCK_STREAM, &port);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        int c = connect_to(AF_INET, port, 0);
        static unsigned char buf[1 << 16];
        for (;;) {
            ssize_t n = write(c, buf, sizeof buf);
            if (n < 0) { printf("client: write failed: %s\n", errno == ECONNRESET || errno == ENETDOWN || errno == EPIPE ? "reset/down" : strerror(errno)); break; }
        }
        _exit(0);
    }
    int s = accept(ls, NULL, NULL);
    CHECK(s >= 0);
    static unsigned char buf[1 << 16];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n <= 0) { printf("server: read -> %s after %s\n", n == 0 ? "EOF" : (errno == ECONNRESET || errno == ENETDOWN ? "reset/down" : strerror(errno)), got > 0 ? "data" : "nothing"); break; }
        if (got == 0) { printf("transferring\n"); fflush(stdout); }
        got += n;
    }
    waitpid(pid, NULL, 0);
    int r = accept(ls, NULL, NULL);
    printf("accept after outage -> %d %s\n", r, r < 0 && errno == ENETDOWN ? "ENETDOWN" : strerror(errno));
    r = socket(AF_INET, SOCK_STREAM, 0);
    printf("socket after outage -> %d %s\n", r, r < 0 && errno == ENETDOWN ? "ENETDOWN" : strerror(errno));
    printf("sandbox still running\n");
}

// What the loopback interface looks like through getifaddrs (netlink) and the SIOCGIF* ioctls: the
// same natively (lo is always index 1, 127.0.0.1/8, ::1, MTU 65536) and in the sandbox.
static void ifaces(void) {
    struct ifaddrs *list;
    CHECK(getifaddrs(&list) == 0);
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0 || !i->ifa_addr) continue;
        char buf[64] = "";
        int fam = i->ifa_addr->sa_family;
        if (fam == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof buf);
        if (fam == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, buf, sizeof buf);
        char mask[64] = "";
        if (fam == AF_INET && i->ifa_netmask) inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, mask, sizeof mask);
        printf("getifaddrs: lo family %d %s %s flags up %d loopback %d\n", fam, buf, mask, !!(i->ifa_flags & IFF_UP), !!(i->ifa_flags & IFF_LOOPBACK));
    }
    freeifaddrs(list);
    printf("if_nametoindex(lo) = %u\n", if_nametoindex("lo"));
    char name[IF_NAMESIZE];
    printf("if_indextoname(1) = %s\n", if_indextoname(1, name) ? name : "?");
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r;
    memset(&r, 0, sizeof r); strcpy(r.ifr_name, "lo");
    CHECK(ioctl(s, SIOCGIFFLAGS, &r) == 0);
    printf("SIOCGIFFLAGS up %d loopback %d running %d\n", !!(r.ifr_flags & IFF_UP), !!(r.ifr_flags & IFF_LOOPBACK), !!(r.ifr_flags & IFF_RUNNING));
    CHECK(ioctl(s, SIOCGIFADDR, &r) == 0);
    printf("SIOCGIFADDR %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));
    CHECK(ioctl(s, SIOCGIFNETMASK, &r) == 0);
    printf("SIOCGIFNETMASK %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_netmask)->sin_addr));
    CHECK(ioctl(s, SIOCGIFMTU, &r) == 0);
    printf("SIOCGIFMTU %d\n", r.ifr_mtu);
    CHECK(ioctl(s, SIOCGIFINDEX, &r) == 0);
    printf("SIOCGIFINDEX %d\n", r.ifr_ifindex);
    CHECK(ioctl(s, SIOCGIFHWADDR, &r) == 0);
    printf("SIOCGIFHWADDR family %d\n", r.ifr_hwaddr.sa_family);
    strcpy(r.ifr_name, "nosuch0");
    int rc = ioctl(s, SIOCGIFFLAGS, &r);
    printf("unknown interface -> %d %s\n", rc, errno == ENODEV ? "ENODEV" : strerror(errno));
    struct ifreq reqs[16];
    struct ifconf conf = { .ifc_len = sizeof reqs, .ifc_req = reqs };
    CHECK(ioctl(s, SIOCGIFCONF, &conf) == 0);
    int lo = 0;
    for (int k = 0; k < conf.ifc_len / (int)sizeof(struct ifreq); k++) if (!strcmp(reqs[k].ifr_name, "lo")) lo++;
    printf("SIOCGIFCONF lists lo %d time(s)\n", lo);
    close(s);
}

// The first IP socket of the sandbox comes from a child that then exits: the netstack must outlive it.
static void childfirst(void) {
    pid_t pid = fork();
    if (pid == 0) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        CHECK(s >= 0);
        close(s);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child made the first socket, exit %d\n", WEXITSTATUS(st));
    udp();
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "tcp";
    if (!strcmp(mode, "tcp")) tcp(AF_INET);
    else if (!strcmp(mode, "tcp6")) tcp(AF_INET6);
    else if (!strcmp(mode, "udp")) udp();
    else if (!strcmp(mode, "nbconnect")) nbconnect();
    else if (!strcmp(mode, "bulk")) bulk(argc > 2 ? atol(argv[2]) : 100);
    else if (!strcmp(mode, "mmsg")) mmsg();
    else if (!strcmp(mode, "outage")) outage();
    else if (!strcmp(mode, "ifaces")) ifaces();
    else if (!strcmp(mode, "childfirst")) childfirst();
    else { fprintf(stderr, "unknown mode\n"); return 2; }
    printf("done\n");
    return 0;
}

// Socket options whose behaviour the netstack implements, printed so that a native run and a run in
// the sandbox can be compared line for line: TCP_KEEPIDLE/KEEPINTVL/KEEPCNT ranges and read-back,
// SO_KEEPALIVE, IP_TOS and IPV6_TCLASS (with Linux's ECN-bit rule for TCP), TCP_INFO's state, MSS,
// cwnd, RTT and retransmission fields over a loopback connection, and SO_LINGER {1, 0} turning close
// into a reset the peer sees as ECONNRESET.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void try_set(int s, int level, int name, const char *label, int v) {
    int r = setsockopt(s, level, name, &v, sizeof v);
    printf("set %s=%d -> %s\n", label, v, r == 0 ? "ok" : strerror(errno));
}

static void show(int s, int level, int name, const char *label) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, name, &v, &l) != 0) printf("get %s -> %s\n", label, strerror(errno));
    else printf("get %s = %d (len %d)\n", label, v, (int)l);
}

static void info(int s, const char *label) {
    struct tcp_info ti;
    memset(&ti, 0xff, sizeof ti);
    socklen_t l = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0) { printf("%s: TCP_INFO -> %s\n", label, strerror(errno)); return; }
    printf("%s: state %d retransmits %d total_retrans %u len>=104 %d\n", label, ti.tcpi_state, ti.tcpi_retransmits,
           ti.tcpi_total_retrans, l >= 104);
    if (ti.tcpi_state == 1)
        printf("%s: snd_mss>0 %d cwnd>=2 %d rtt>0 %d rto>=200ms %d ssthresh>0 %d\n", label, ti.tcpi_snd_mss > 0,
               ti.tcpi_snd_cwnd >= 2, ti.tcpi_rtt > 0, ti.tcpi_rto >= 200000, ti.tcpi_snd_ssthresh > 0);
}

int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    try_set(s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 0);
    try_set(s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 32768);
    try_set(s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 5);
    try_set(s, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 0);
    try_set(s, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 3);
    try_set(s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 0);
    try_set(s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 128);
    try_set(s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 4);
    show(s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
    show(s, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL");
    show(s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
    show(s, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    try_set(s, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
    show(s, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    show(s, IPPROTO_IP, IP_TOS, "IP_TOS");
    try_set(s, IPPROTO_IP, IP_TOS, "IP_TOS", 0x10);
    show(s, IPPROTO_IP, IP_TOS, "IP_TOS");
    try_set(s, IPPROTO_IP, IP_TOS, "IP_TOS", 0x2b);
    show(s, IPPROTO_IP, IP_TOS, "IP_TOS");
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    try_set(u, IPPROTO_IP, IP_TOS, "udp IP_TOS", 0x2b);
    show(u, IPPROTO_IP, IP_TOS, "udp IP_TOS");
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    show(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS");
    try_set(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", 256);
    try_set(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", -2);
    try_set(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", 0x2b);
    show(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS");
    try_set(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", -1);
    show(s6, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS");
    info(s, "unconnected");

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4) || getsockname(ls, (struct sockaddr *)&a, &al)) { perror("listen"); return 1; }
    info(ls, "listener");
    if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    int p = accept(ls, NULL, NULL);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 64; i++) {   // 256 KiB each way, so RTT samples exist
        if (write(s, buf, sizeof buf) != sizeof buf) { perror("write"); return 1; }
        size_t got = 0;
        while (got < sizeof buf) { ssize_t n = read(p, buf, sizeof buf - got); if (n <= 0) { perror("read"); return 1; } got += n; }
    }
    info(s, "connected");
    show(s, IPPROTO_TCP, TCP_KEEPIDLE, "connected TCP_KEEPIDLE");

    struct linger lg = { 1, 0 };
    printf("set SO_LINGER {1,0} -> %s\n", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0 ? "ok" : strerror(errno));
    struct linger back = { -1, -1 };
    socklen_t bl = sizeof back;
    getsockopt(s, SOL_SOCKET, SO_LINGER, &back, &bl);
    printf("get SO_LINGER = {%d,%d}\n", back.l_onoff != 0, back.l_linger);
    close(s);
    ssize_t n = read(p, buf, sizeof buf);
    printf("peer read after linger-0 close: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    printf("done\n");
    return 0;
}

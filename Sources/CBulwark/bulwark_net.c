// See include/bulwark_net.h.
#define _GNU_SOURCE
#include "bulwark_net.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/filter.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int bw_packet_open(const char *ifname, int *ifindex_out) {
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) { errno = ENODEV; return -1; }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -1;
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)idx;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { int e = errno; close(fd); errno = e; return -1; }
    int one = 1;
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); // pre-4.20: filtered in recv
    (void)setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);   // checksum status per frame
    int size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (ifindex_out) *ifindex_out = (int)idx;
    return fd;
}

ssize_t bw_packet_recv(int fd, void *buffer, size_t capacity) {
    for (;;) {
        struct sockaddr_ll from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buffer, capacity, MSG_TRUNC, (struct sockaddr *)&from, &len);
        if (n < 0) return -1;
        if (from.sll_pkttype == PACKET_OUTGOING) continue;
        if ((size_t)n > capacity) continue;   // larger than the MTU buffer (e.g. a GSO frame): dropped
        return n;
    }
}

ssize_t bw_packet_recv_partial(int fd, void *buffer, size_t capacity, int *partial) {
    for (;;) {
        struct sockaddr_ll from;
        union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(struct tpacket_auxdata))]; } control;
        struct iovec iov = { .iov_base = buffer, .iov_len = capacity };
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        ssize_t n = recvmsg(fd, &msg, MSG_TRUNC);
        if (n < 0) return -1;
        if (from.sll_pkttype == PACKET_OUTGOING) continue;
        if ((size_t)n > capacity) continue;   // larger than the buffer: dropped
        *partial = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(c), sizeof aux);
                if (aux.tp_status & TP_STATUS_CSUMNOTREADY) *partial = 1;
            }
        }
        return n;
    }
}

// Sends one request and walks the (possibly multi-part) reply, calling `each` per message.
static int nl_transact(int fd, struct nlmsghdr *req, void (*each)(struct nlmsghdr *, void *), void *ctx) {
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -1;
    char buf[32768] __attribute__((aligned(4)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != req->nlmsg_seq) continue;
            if (h->nlmsg_type == NLMSG_DONE) return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                if (e->error == 0) return 0;   // an ACK
                errno = -e->error;
                return -1;
            }
            if (each) each(h, ctx);
            if (!(h->nlmsg_flags & NLM_F_MULTI) && !(req->nlmsg_flags & NLM_F_ACK)) return 0;
        }
    }
}

static int nl_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl local;
    memset(&local, 0, sizeof local);
    local.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

struct dump_req { struct nlmsghdr h; union { struct ifinfomsg link; struct ifaddrmsg addr; struct rtmsg route; } u; };

static void on_link(struct nlmsghdr *h, void *ctx) {
    struct bw_net_interface *out = ctx;
    if (h->nlmsg_type != RTM_NEWLINK) return;
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (ifi->ifi_index != out->ifindex) return;
    out->up = (ifi->ifi_flags & IFF_UP) != 0;
    int len = (int)IFLA_PAYLOAD(h);
    for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) memcpy(out->mac, RTA_DATA(a), 6);
        if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= 4) memcpy(&out->mtu, RTA_DATA(a), 4);
    }
}

static void on_addr(struct nlmsghdr *h, void *ctx) {
    struct bw_net_interface *out = ctx;
    if (h->nlmsg_type != RTM_NEWADDR) return;
    struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if ((int)ifa->ifa_index != out->ifindex || out->address_count >= BW_NET_MAX_ADDRS) return;
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return;
    int alen = ifa->ifa_family == AF_INET ? 4 : 16;
    int len = (int)IFA_PAYLOAD(h);
    const void *local = NULL, *address = NULL;
    for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if ((int)RTA_PAYLOAD(a) != alen) continue;
        if (a->rta_type == IFA_LOCAL) local = RTA_DATA(a);
        if (a->rta_type == IFA_ADDRESS) address = RTA_DATA(a);
    }
    // IFA_LOCAL is our address on point-to-point links; otherwise IFA_ADDRESS is.
    const void *mine = local ? local : address;
    if (!mine) return;
    struct bw_net_addr *slot = &out->addresses[out->address_count++];
    slot->family = ifa->ifa_family;
    slot->prefix = ifa->ifa_prefixlen;
    memset(slot->bytes, 0, sizeof slot->bytes);
    memcpy(slot->bytes, mine, (size_t)alen);
}

static void on_route(struct nlmsghdr *h, void *ctx) {
    struct bw_net_interface *out = ctx;
    if (h->nlmsg_type != RTM_NEWROUTE) return;
    struct rtmsg *rt = NLMSG_DATA(h);
    if (rt->rtm_dst_len != 0 || rt->rtm_table != RT_TABLE_MAIN) return;   // default routes only
    int len = (int)RTM_PAYLOAD(h), oif = 0;
    const void *gw = NULL;
    for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= 4) memcpy(&oif, RTA_DATA(a), 4);
        if (a->rta_type == RTA_GATEWAY) gw = RTA_DATA(a);
    }
    if (oif != out->ifindex || !gw) return;
    if (rt->rtm_family == AF_INET) { out->has_gateway4 = 1; memcpy(out->gateway4, gw, 4); }
    if (rt->rtm_family == AF_INET6) { out->has_gateway6 = 1; memcpy(out->gateway6, gw, 16); }
}

int bw_netlink_read_interface(const char *ifname, struct bw_net_interface *out) {
    memset(out, 0, sizeof *out);
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) { errno = ENODEV; return -1; }
    out->ifindex = (int)idx;
    int fd = nl_open();
    if (fd < 0) return -1;
    struct dump_req req;
    int rc = 0;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    rc = nl_transact(fd, &req.h, on_link, out);
    if (rc == 0) {
        memset(&req, 0, sizeof req);
        req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        req.h.nlmsg_type = RTM_GETADDR;
        req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.h.nlmsg_seq = 2;
        rc = nl_transact(fd, &req.h, on_addr, out);
    }
    if (rc == 0) {
        memset(&req, 0, sizeof req);
        req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        req.h.nlmsg_type = RTM_GETROUTE;
        req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.h.nlmsg_seq = 3;
        rc = nl_transact(fd, &req.h, on_route, out);
    }
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int bw_netlink_delete_address(int ifindex, const struct bw_net_addr *addr) {
    int fd = nl_open();
    if (fd < 0) return -1;
    struct { struct nlmsghdr h; struct ifaddrmsg ifa; char attrs[64]; } req;
    memset(&req, 0, sizeof req);
    int alen = addr->family == AF_INET ? 4 : 16;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    req.h.nlmsg_type = RTM_DELADDR;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.h.nlmsg_seq = 4;
    req.ifa.ifa_family = (unsigned char)addr->family;
    req.ifa.ifa_prefixlen = (unsigned char)addr->prefix;
    req.ifa.ifa_index = (unsigned)ifindex;
    struct rtattr *a = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.h.nlmsg_len));
    a->rta_type = IFA_LOCAL;
    a->rta_len = (unsigned short)RTA_LENGTH(alen);
    memcpy(RTA_DATA(a), addr->bytes, (size_t)alen);
    req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(a->rta_len);
    int rc = nl_transact(fd, &req.h, NULL, NULL);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

// Appends one attribute (type, payload) at the end of the message in `h` (room is the caller's).
static struct rtattr *nl_put(struct nlmsghdr *h, unsigned short type, const void *data, size_t length) {
    struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(length);
    if (length) memcpy(RTA_DATA(a), data, length);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

struct tc_req { struct nlmsghdr h; struct tcmsg t; char attrs[256]; } __attribute__((aligned(4)));

static void tc_begin(struct tc_req *req, unsigned short type, unsigned short flags, int ifindex,
                     unsigned parent, unsigned handle, unsigned info, unsigned seq) {
    memset(req, 0, sizeof *req);
    req->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
    req->h.nlmsg_type = type;
    req->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
    req->h.nlmsg_seq = seq;
    req->t.tcm_family = AF_UNSPEC;
    req->t.tcm_ifindex = ifindex;
    req->t.tcm_parent = parent;
    req->t.tcm_handle = handle;
    req->t.tcm_info = info;
}

// The filter's priority (tc's "pref"); with ETH_P_ALL it matches every frame.
#define BW_INGRESS_DROP_PRIO 1u

int bw_netlink_drop_ingress(int ifindex, int *created_qdisc) {
    *created_qdisc = 0;
    int fd = nl_open();
    if (fd < 0) return -1;
    struct tc_req req;
    // tc qdisc add dev IF clsact
    tc_begin(&req, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, TC_H_CLSACT,
             TC_H_MAKE(TC_H_CLSACT, 0), 0, 10);
    nl_put(&req.h, TCA_KIND, "clsact", sizeof "clsact");
    int rc = nl_transact(fd, &req.h, NULL, NULL);
    if (rc == 0) *created_qdisc = 1;
    else if (errno == EEXIST) rc = 0;   // someone's clsact (or ingress) is there: add our filter to it
    if (rc == 0) {
        // tc filter add dev IF ingress pref 1 protocol all bpf bytecode '1,6 0 0 2' direct-action:
        // a one-instruction classic BPF program returning TC_ACT_SHOT (no bpf(2), no eBPF verifier:
        // cls_bpf converts it; needs only CAP_NET_ADMIN over the namespace).
        struct sock_filter drop[1] = { BPF_STMT(BPF_RET | BPF_K, TC_ACT_SHOT) };
        unsigned short count = 1;
        unsigned flags = TCA_BPF_FLAG_ACT_DIRECT;
        tc_begin(&req, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex,
                 TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), 0,
                 TC_H_MAKE(BW_INGRESS_DROP_PRIO << 16, htons(ETH_P_ALL)), 11);
        nl_put(&req.h, TCA_KIND, "bpf", sizeof "bpf");
        struct rtattr *options = nl_put(&req.h, TCA_OPTIONS, NULL, 0);
        nl_put(&req.h, TCA_BPF_OPS_LEN, &count, sizeof count);
        nl_put(&req.h, TCA_BPF_OPS, drop, sizeof drop);
        nl_put(&req.h, TCA_BPF_FLAGS, &flags, sizeof flags);
        nl_put(&req.h, TCA_BPF_NAME, "bulwark-netstack", sizeof "bulwark-netstack");
        options->rta_len = (unsigned short)((char *)&req + req.h.nlmsg_len - (char *)options);
        rc = nl_transact(fd, &req.h, NULL, NULL);
        if (rc != 0 && *created_qdisc) {
            int e = errno;
            (void)bw_netlink_remove_ingress_drop(ifindex, 1);
            *created_qdisc = 0;
            errno = e;
        }
    }
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int bw_netlink_remove_ingress_drop(int ifindex, int created_qdisc) {
    int fd = nl_open();
    if (fd < 0) return -1;
    struct tc_req req;
    if (created_qdisc) {   // tc qdisc del dev IF clsact (takes our filter with it)
        tc_begin(&req, RTM_DELQDISC, 0, ifindex, TC_H_CLSACT, TC_H_MAKE(TC_H_CLSACT, 0), 0, 12);
        nl_put(&req.h, TCA_KIND, "clsact", sizeof "clsact");
    } else {               // tc filter del dev IF ingress pref 1 protocol all
        tc_begin(&req, RTM_DELTFILTER, 0, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), 0,
                 TC_H_MAKE(BW_INGRESS_DROP_PRIO << 16, htons(ETH_P_ALL)), 13);
    }
    int rc = nl_transact(fd, &req.h, NULL, NULL);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

uint64_t bw_fast_checksum(uint64_t seed, const void *data, size_t length) {
    const unsigned char *p = data;
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < length; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

int bw_enter_netns(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

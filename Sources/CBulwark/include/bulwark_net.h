// Host networking for bulwark-netstack: an AF_PACKET socket on one interface, and the rtnetlink
// queries that read (and take over) that interface's configuration. Plain C because the netlink
// message walk is pointer arithmetic over kernel-defined layouts.
#ifndef BULWARK_NET_H
#define BULWARK_NET_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BW_NET_MAX_ADDRS 8

struct bw_net_addr {
    int family;            // AF_INET or AF_INET6
    int prefix;
    uint8_t bytes[16];     // network order; 4 used for AF_INET
};

struct bw_net_interface {
    int ifindex;
    int mtu;
    int up;                // IFF_UP
    uint8_t mac[6];
    int address_count;
    struct bw_net_addr addresses[BW_NET_MAX_ADDRS];
    int has_gateway4;
    uint8_t gateway4[4];
    int has_gateway6;
    uint8_t gateway6[16];
};

/// socket(AF_PACKET, SOCK_RAW, ETH_P_ALL) bound to `ifname`, non-blocking, close-on-exec, own
/// outgoing frames ignored, larger buffers. Returns the fd, or -1 with errno set.
int bw_packet_open(const char *ifname, int *ifindex_out);
/// One received frame (not one we sent), or -1 with errno (EAGAIN when none is waiting).
ssize_t bw_packet_recv(int fd, void *buffer, size_t capacity);
/// Like bw_packet_recv; `*partial` is 1 when the kernel left the transport checksum unfinished
/// (TP_STATUS_CSUMNOTREADY: a local sender with checksum offload, e.g. Docker's side of a veth,
/// whose frames never crossed a wire). Needs PACKET_AUXDATA, which bw_packet_open turns on.
ssize_t bw_packet_recv_partial(int fd, void *buffer, size_t capacity, int *partial);
/// Reads the link (MAC, MTU), its addresses and default routes over NETLINK_ROUTE.
/// Returns 0, or -1 with errno (ENODEV when the interface does not exist).
int bw_netlink_read_interface(const char *ifname, struct bw_net_interface *out);
/// RTM_DELADDR for one address of `ifindex`: the host kernel stops answering for it.
int bw_netlink_delete_address(int ifindex, const struct bw_net_addr *addr);
/// Stops the host kernel's own protocol input on a taken-over interface: a clsact qdisc (created
/// unless one exists: `*created_qdisc` says) with an ingress filter that drops every frame (cls_bpf,
/// a classic-BPF "return TC_ACT_SHOT", direct action). AF_PACKET sockets bound to ETH_P_ALL still see
/// every frame: the kernel delivers to them (ptype_all taps) before tc ingress. Needs CAP_NET_ADMIN
/// over the network namespace. Returns 0, or -1 with errno (nothing left installed).
int bw_netlink_drop_ingress(int ifindex, int *created_qdisc);
/// Undoes bw_netlink_drop_ingress: deletes the clsact qdisc if it made it, otherwise its filter.
int bw_netlink_remove_ingress_drop(int ifindex, int created_qdisc);
/// A fast 64-bit checksum of a buffer (word-wise multiply-xor), for bulk transfer checks.
uint64_t bw_fast_checksum(uint64_t seed, const void *data, size_t length);
/// Enters the network namespace at `path` (setns on this thread). Returns 0 or -1 with errno.
int bw_enter_netns(const char *path);
#endif

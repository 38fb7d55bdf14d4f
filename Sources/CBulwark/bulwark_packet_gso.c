// See include/bulwark_packet_gso.h.
#define _GNU_SOURCE
#include "bulwark_packet_gso.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

int bw_packet_open_gso_tx(const char *ifname) {
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) { errno = ENODEV; return -1; }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) { int e = errno; close(fd); errno = e; return -1; }
    // Not PACKET_QDISC_BYPASS: its direct transmit drops a packet the device cannot take whole
    // (a GSO packet on a device without TSO, which the qdisc path segments in software).
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;   // bound to the device for sending, hooked to no protocol: receives nothing
    sll.sll_ifindex = (int)idx;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { int e = errno; close(fd); errno = e; return -1; }
    int size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return fd;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

// One frame's virtio-net header, checksum bytes and iovecs (up to 4), as bw_packet_send_gso sends it.
struct gso_frame { struct virtio_net_hdr h; uint8_t check[2]; struct iovec iov[4]; int n; };

static void prepare(struct gso_frame *g, const void *frame, size_t length, unsigned segment_size) {
    const uint8_t *f = frame;
    struct virtio_net_hdr h;
    memset(&h, 0, sizeof h);
    size_t field = 0;   // offset of the TCP checksum when rewritten
    if (length >= 14) {
        unsigned type = (unsigned)f[12] << 8 | f[13];
        size_t l4 = 0, l4len = 0;
        uint32_t s = 0;
        uint8_t gso = VIRTIO_NET_HDR_GSO_NONE;
        if (type == ETH_P_IP && length >= 34 && f[14] >> 4 == 4 && f[23] == IPPROTO_TCP && (f[20] & 0x3f) == 0 && f[21] == 0) {
            size_t ihl = (size_t)(f[14] & 15) * 4, total = (size_t)f[16] << 8 | f[17];
            if (ihl >= 20 && 14 + total <= length && total >= ihl + 20) {
                l4 = 14 + ihl; l4len = total - ihl;
                s = sum16(f + 26, 8, 0);
                gso = VIRTIO_NET_HDR_GSO_TCPV4;
            }
        } else if (type == ETH_P_IPV6 && length >= 74 && f[14] >> 4 == 6 && f[20] == IPPROTO_TCP) {
            size_t payload = (size_t)f[18] << 8 | f[19];
            if (54 + payload <= length && payload >= 20) {
                l4 = 54; l4len = payload;
                s = sum16(f + 22, 32, 0);
                gso = VIRTIO_NET_HDR_GSO_TCPV6;
            }
        }
        size_t thl = l4 ? (size_t)(f[l4 + 12] >> 4) * 4 : 0;
        if (l4 && thl >= 20 && thl <= l4len) {
            // Every TCP frame: the kernel fills in the checksum (the stack left it out), so the
            // field gets the pseudo-header sum, not complemented, as CHECKSUM_PARTIAL expects.
            s += IPPROTO_TCP + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
            uint16_t pseudo = fold(s);
            g->check[0] = (uint8_t)(pseudo >> 8); g->check[1] = (uint8_t)pseudo;
            field = l4 + 16;
            h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
            h.csum_start = (uint16_t)l4;
            h.csum_offset = 16;
            if (segment_size > 0 && l4len - thl > segment_size) {
                h.gso_type = gso;
                h.hdr_len = (uint16_t)(l4 + thl);
                h.gso_size = (uint16_t)segment_size;
            }
        }
    }
    g->h = h;
    int n = 0;
    g->iov[n++] = (struct iovec){ &g->h, sizeof g->h };
    if (field) {
        g->iov[n++] = (struct iovec){ (void *)f, field };
        g->iov[n++] = (struct iovec){ g->check, 2 };
        g->iov[n++] = (struct iovec){ (void *)(f + field + 2), length - field - 2 };
    } else {
        g->iov[n++] = (struct iovec){ (void *)f, length };
    }
    g->n = n;
}

ssize_t bw_packet_send_gso(int fd, const void *frame, size_t length, unsigned segment_size) {
    struct gso_frame g;
    prepare(&g, frame, length, segment_size);
    // sendmsg, not writev: the netstack's seccomp policy already allows it (ServiceKit's base).
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = g.iov;
    m.msg_iovlen = (size_t)g.n;
    ssize_t r = sendmsg(fd, &m, MSG_DONTWAIT);
    if (r < 0) return -1;
    return r - (ssize_t)sizeof g.h;
}

int bw_packet_send_gso_batch(int fd, const void *const *frames, const size_t *lengths, const unsigned *segment_sizes,
                             unsigned count) {
    if (count > BW_PACKET_BATCH_MAX) count = BW_PACKET_BATCH_MAX;
    struct gso_frame g[BW_PACKET_BATCH_MAX];
    struct mmsghdr m[BW_PACKET_BATCH_MAX];
    memset(m, 0, sizeof(struct mmsghdr) * count);
    for (unsigned i = 0; i < count; i++) {
        prepare(&g[i], frames[i], lengths[i], segment_sizes[i]);
        m[i].msg_hdr.msg_iov = g[i].iov;
        m[i].msg_hdr.msg_iovlen = (size_t)g[i].n;
    }
    return sendmmsg(fd, m, count, MSG_DONTWAIT);
}

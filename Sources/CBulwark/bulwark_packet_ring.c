// See include/bulwark_packet_ring.h.
#define _GNU_SOURCE
#include "bulwark_packet_ring.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

void *bw_packet_rx_ring_setup(int fd, unsigned frame_size, unsigned frame_count) {
    if (frame_size < 2048 || frame_size > 4096 || (frame_size & (frame_size - 1)) || frame_count == 0 ||
        (frame_count & (frame_count - 1))) { errno = EINVAL; return NULL; }
    int version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return NULL;
    // Frames that do not fit a slot are queued on the socket too, whole (the slot gets TP_STATUS_COPY).
    int thresh = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &thresh, sizeof thresh) < 0) return NULL;
    struct tpacket_req req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = 4096;   // one page per block: the kernel needs no large contiguous allocation
    req.tp_frame_size = frame_size;
    req.tp_block_nr = frame_count * frame_size / 4096;
    req.tp_frame_nr = frame_count;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return NULL;
    void *m = mmap(NULL, (size_t)frame_size * frame_count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        memset(&req, 0, sizeof req);   // tear the ring down again: the socket goes on with recvmsg
        (void)setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
        errno = e;
        return NULL;
    }
    return m;
}

long bw_packet_rx_ring_peek(void *ring, unsigned frame_size, unsigned index, const uint8_t **data,
                            int *partial, int *copied, int *outgoing) {
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)((uint8_t *)ring + (size_t)index * frame_size);
    uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if (!(status & TP_STATUS_USER)) return -1;
    // The header's other fields and the frame are read only after the status (acquire above).
    if ((size_t)h->tp_mac + h->tp_snaplen > frame_size) { *data = NULL; *copied = 0; *partial = 0; *outgoing = 1; return 0; }
    *data = (const uint8_t *)h + h->tp_mac;
    *partial = (status & TP_STATUS_CSUMNOTREADY) != 0;
    *copied = (status & TP_STATUS_COPY) != 0;
    const struct sockaddr_ll *from = (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(struct tpacket2_hdr)));
    *outgoing = from->sll_pkttype == PACKET_OUTGOING;
    if (h->tp_snaplen < h->tp_len && !*copied) *outgoing = 1;   // truncated and not queued (socket buffer full): lost
    return (long)h->tp_snaplen;
}

void bw_packet_rx_ring_release(void *ring, unsigned frame_size, unsigned index) {
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)((uint8_t *)ring + (size_t)index * frame_size);
    __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

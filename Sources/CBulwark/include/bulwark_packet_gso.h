// A transmit-only AF_PACKET socket with virtio-net headers: the netstack hands the kernel one TCP
// packet of up to 64 KiB and the kernel (or the veth's peer) cuts it into MSS-sized segments
// (generic segmentation offload), one write instead of one per segment.
#ifndef BULWARK_PACKET_GSO_H
#define BULWARK_PACKET_GSO_H
#include <stddef.h>
#include <sys/types.h>

/// Opens a non-blocking AF_PACKET socket on `ifname` that only sends (protocol 0: it receives
/// nothing), with PACKET_VNET_HDR. Returns the fd or -1 with errno.
int bw_packet_open_gso_tx(const char *ifname);

/// Sends one Ethernet frame. A TCP frame (IPv4, not a fragment, or IPv6 without extension headers)
/// goes with its checksum left to the kernel (the checksum field is replaced by the pseudo-header
/// sum on the way out; the caller's bytes are not modified), and, when `segment_size` > 0 and its
/// payload is longer, as a GSO packet of `segment_size`-byte segments. Anything else is sent as is.
/// Returns the bytes sent (the frame's length) or -1 with errno (EAGAIN when the queue is full).
ssize_t bw_packet_send_gso(int fd, const void *frame, size_t length, unsigned segment_size);

/// The most frames one bw_packet_send_gso_batch call takes.
#define BW_PACKET_BATCH_MAX 64

/// Sends `count` frames (at most BW_PACKET_BATCH_MAX) as bw_packet_send_gso would, with one sendmmsg.
/// Returns how many the kernel took (in order; the rest did not go: queue full or refused) or -1 with
/// errno when none did.
int bw_packet_send_gso_batch(int fd, const void *const *frames, const size_t *lengths, const unsigned *segment_sizes,
                             unsigned count);
#endif

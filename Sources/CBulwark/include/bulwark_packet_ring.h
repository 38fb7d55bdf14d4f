// The receive side of the netstack's host link without a system call per frame: a PACKET_MMAP
// receive ring (TPACKET_V2) on the AF_PACKET socket. The kernel writes each frame into the next free
// slot of a ring shared with us and flips its status word; checking for frames is a memory read.
// Frames larger than a slot (GSO super-frames from a peer with TSO) are also queued whole on the
// socket (PACKET_COPY_THRESH) and their slot says so: the caller then reads them with recvmsg.
#ifndef BULWARK_PACKET_RING_H
#define BULWARK_PACKET_RING_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Sets up the ring on `fd` (TPACKET_V2, `frame_count` slots of `frame_size` bytes, both powers of
/// two, frame_size >= 2048, <= 4096) and maps it. Returns the mapping's address (length
/// frame_size * frame_count) or NULL with errno (the socket is then unchanged or unusable for the ring).
void *bw_packet_rx_ring_setup(int fd, unsigned frame_size, unsigned frame_count);

/// The frame in slot `index`, if the kernel handed it over: returns its captured length and sets
/// `data`, `partial` (checksum left to offload: a local sender), `copied` (the slot holds a
/// truncated frame; the whole one waits in the socket's queue) and `outgoing` (a frame to skip: our own, or
/// truncated without a whole copy). Returns -1 when the slot is still the kernel's.
long bw_packet_rx_ring_peek(void *ring, unsigned frame_size, unsigned index, const uint8_t **data,
                            int *partial, int *copied, int *outgoing);

/// Gives slot `index` back to the kernel.
void bw_packet_rx_ring_release(void *ring, unsigned frame_size, unsigned index);
#endif

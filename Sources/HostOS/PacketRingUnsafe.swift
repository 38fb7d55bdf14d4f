// A PACKET_MMAP receive ring on a PacketSocket (bulwark_packet_ring.c): frames are read from memory
// shared with the kernel, so looking for frames and taking one costs no system call. Frames larger
// than a slot (GSO super-frames) come through the socket's queue as before.
import CBulwark
import Glibc
import LinuxABI

public final class PacketReceiveRing {
    // SAFETY: `base` is the ring mapping (frameSize * frameCount bytes), owned by this object and
    // unmapped in deinit; slots are read only while the kernel has handed them to us (status
    // TP_STATUS_USER, checked with acquire in C) and released once copied out.
    private let base: UnsafeMutableRawPointer
    public let frameSize: Int
    public let frameCount: Int
    private var next = 0
    /// The array `take` copies frames into: its storage is reused whenever the consumer has let go of
    /// the previous frame (the stack handles one frame at a time), so taking a frame allocates nothing;
    /// a consumer that keeps a frame makes the next take copy on write into new storage, as before.
    private var frame: [UInt8] = []

    /// Maps a ring of `frameCount` slots of `frameSize` bytes on `fd`; throws when the kernel refuses
    /// (the caller keeps reading with recvmsg).
    public init(fd: Int32, frameSize: Int = 2048, frameCount: Int = 1024) throws(HostError) {
        guard let m = bw_packet_rx_ring_setup(fd, UInt32(frameSize), UInt32(frameCount)) else {
            throw HostError(call: "setsockopt(PACKET_RX_RING)", errno: Errno(rawValue: errno))
        }
        base = m
        self.frameSize = frameSize
        self.frameCount = frameCount
        frame.reserveCapacity(frameSize)
    }

    deinit { munmap(base, frameSize * frameCount) }

    /// What the next slot holds.
    public enum Slot {
        case empty                         // still the kernel's: no frame waiting in the ring
        case frame([UInt8], partial: Bool) // a frame (copied out, into reused storage; the slot is released)
        case queued                        // the frame was too large: read it from the socket's queue
        case skipped                       // nothing to deliver (own frame, lost one)
    }

    /// Whether the kernel handed the next slot over (a load of its status word: no system call,
    /// nothing taken), for a driver that looks for work a little longer before it sleeps.
    public var frameWaiting: Bool {
        var data: UnsafePointer<UInt8>?
        var partial: Int32 = 0, copied: Int32 = 0, skip: Int32 = 0
        return bw_packet_rx_ring_peek(base, UInt32(frameSize), UInt32(next), &data, &partial, &copied, &skip) >= 0
    }

    /// Takes the next slot's frame, if the kernel handed one over.
    public func take() -> Slot {
        var data: UnsafePointer<UInt8>?
        var partial: Int32 = 0, copied: Int32 = 0, skip: Int32 = 0
        let n = bw_packet_rx_ring_peek(base, UInt32(frameSize), UInt32(next), &data, &partial, &copied, &skip)
        if n < 0 { return .empty }
        defer {
            bw_packet_rx_ring_release(base, UInt32(frameSize), UInt32(next))
            next = (next + 1) & (frameCount - 1)
        }
        if copied != 0 { return .queued }
        if skip != 0 || n == 0 { return .skipped }
        frame.removeAll(keepingCapacity: true)
        frame.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
        return .frame(frame, partial: partial != 0)
    }
}

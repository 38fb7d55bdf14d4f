// The send side of the netstack's host link with segmentation offload: an AF_PACKET socket with
// virtio-net headers that takes TCP packets of up to 64 KiB and lets the kernel cut them into
// MSS-sized segments (bulwark_packet_gso.c). Non-blocking.
import CBulwark
import Glibc

public final class PacketTransmitter {
    public let fd: OwnedFD

    /// Largest IP packet one send may carry (the IPv4 total-length limit).
    public static let largestPacket = 65535

    /// Opens the socket on `interface`; throws when the kernel lacks PACKET_VNET_HDR (the caller
    /// then sends MSS-sized frames through its receiving socket instead).
    public init(interface: String) throws(HostError) {
        let raw = try hostCall("socket(AF_PACKET, vnet)") { bw_packet_open_gso_tx(interface) }
        fd = OwnedFD(adopting: raw)
    }

    /// A socket opened by someone else (the supervisor: LinkHandoff.swift) and inherited.
    public init(adopting fd: consuming OwnedFD) {
        self.fd = fd
    }

    /// Sends one frame; `segmentSize` > 0 asks the kernel to segment a TCP frame longer than the
    /// MTU. Returns false when the queue is full or the kernel refused the frame.
    @discardableResult
    public func send(_ frame: [UInt8], segmentSize: Int = 0) -> Bool {
        let n = frame.withUnsafeBytes { bw_packet_send_gso(fd.rawValue, $0.baseAddress, $0.count, UInt32(segmentSize)) }
        return n == frame.count
    }

    /// The most frames one `send(batch:)` hands the kernel.
    public static let batchLimit = Int(BW_PACKET_BATCH_MAX)

    /// Sends `frames[from...]` (at most `batchLimit`) with one sendmmsg, each as `send` would.
    /// Returns how many went, in order (0 when the first could not: queue full or refused).
    public func send(batch frames: [[UInt8]], segmentSizes: [UInt32], from: Int) -> Int {
        let count = min(frames.count - from, PacketTransmitter.batchLimit)
        guard count > 0 else { return 0 }
        // The pointer and length arrays are the transmitter's, reused (no two allocations per batch).
        var pointers = batchPointers, lengths = batchLengths
        batchPointers = []; batchLengths = []
        defer { batchPointers = pointers; batchLengths = lengths }
        if pointers.count < count {
            pointers = [UnsafeRawPointer?](repeating: nil, count: PacketTransmitter.batchLimit)
            lengths = [Int](repeating: 0, count: PacketTransmitter.batchLimit)
        }
        // Each frame's bytes are pinned by nesting its withUnsafeBytes around the ones after it
        // (depth <= batchLimit), so every pointer is valid during the one sendmmsg at the bottom.
        func pin(_ i: Int) -> Int32 {
            if i == count {
                return pointers.withUnsafeBufferPointer { p in
                    lengths.withUnsafeBufferPointer { l in
                        segmentSizes.withUnsafeBufferPointer { g in
                            bw_packet_send_gso_batch(fd.rawValue, p.baseAddress, l.baseAddress, g.baseAddress! + from, UInt32(count))
                        }
                    }
                }
            }
            return frames[from + i].withUnsafeBytes { b in
                pointers[i] = b.baseAddress
                lengths[i] = b.count
                return pin(i + 1)
            }
        }
        return max(0, Int(pin(0)))
    }
    private var batchPointers: [UnsafeRawPointer?] = []
    private var batchLengths: [Int] = []
}

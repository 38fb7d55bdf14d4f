// What the stack needs from the outside world, injected so tests are deterministic: a clock, links that
// carry frames, and a seeded random source.

/// A monotonic clock in nanoseconds.
public protocol NetClock: AnyObject {
    var nanoseconds: Int64 { get }
}

/// A network device that carries whole Ethernet frames.
public protocol Link: AnyObject {
    /// Queues one frame for transmission. The link may drop it.
    func transmit(_ frame: [UInt8])
    /// The next received frame, or nil when none is waiting.
    func receive() -> [UInt8]?
    /// Largest TCP packet (IP header included) the link takes as one frame and cuts into
    /// `segmentSize` pieces itself (segmentation offload, e.g. a packet socket with virtio-net
    /// headers); 0 when it cannot.
    var segmentationOffload: Int { get }
    /// Queues one TCP frame longer than the MTU, to be sent as segments of `segmentSize` payload
    /// bytes each (only when `segmentationOffload` allows it).
    func transmit(_ frame: [UInt8], segmentSize: Int)
    /// The link fills in the TCP checksum of every frame it sends: the stack leaves it out.
    var transmitChecksumOffload: Bool { get }
    /// The host vouches for the TCP checksum of the frame `receive()` returned last (it came from a
    /// local sender and never crossed a wire): the stack does not verify it.
    var receivedChecksumTrusted: Bool { get }
    /// Sends what `transmit` queued (a link may hold frames to hand them to its host in one call).
    /// The stack calls it at the end of `poll()` and `flushLinks()`.
    func flush()
}

extension Link {
    public var segmentationOffload: Int { 0 }
    public func transmit(_ frame: [UInt8], segmentSize: Int) { transmit(frame) }
    public var transmitChecksumOffload: Bool { false }
    public var receivedChecksumTrusted: Bool { false }
    public func flush() {}
}

/// SplitMix64: small, fast and fully determined by its seed.
public struct SplitMix64: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    public mutating func next32() -> UInt32 { UInt32(truncatingIfNeeded: next() >> 32) }

    /// A value in 0..<bound (bound > 0).
    public mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
}

public enum Time {
    public static let millisecond: Int64 = 1_000_000
    public static let second: Int64 = 1_000_000_000
}

// Transmit buffers for reuse: a link that has handed its frames to the host (PacketLink after its
// sendmmsg) gives the arrays back here, and the stack's next `makePacket` takes one instead of a new
// allocation (malloc + swift_allocObject + free + swift_release per transmitted frame before; session
// 11). Only moved-in arrays are kept and each is handed out once (popped), so a buffer is never in
// two hands: if anything still shared one, the first mutation in `take` would copy it (Array's
// copy-on-write), the old cost and never aliasing. Bounded in count and in size (a 64 KiB GSO buffer
// is kept, larger ones are not), so the pool holds at most `limit` x ~64 KiB.

public final class FramePool {
    /// Buffers kept at most.
    public static let limit = 32
    /// Buffers with more capacity than this are dropped instead of kept.
    public static let largestKept = 65536 + 256
    private var spare: [[UInt8]] = []
    /// Frames handed out from the pool / allocated new (tests and diagnostics).
    public private(set) var reused = 0
    public private(set) var allocated = 0

    public init() { spare.reserveCapacity(FramePool.limit) }

    /// Buffers waiting for reuse.
    public var count: Int { spare.count }

    /// A zeroed buffer of `count` bytes: a kept one if there is one, else a new array. The kept
    /// buffer is emptied (its storage stays) and refilled from `zeros` with one contiguous copy (a
    /// memcpy, as fast as the memset of a new array; an append of repeated zeros would go byte by
    /// byte, 64 KiB for a GSO packet).
    public func take(zeroed count: Int) -> [UInt8] {
        guard count <= FramePool.largestKept, var b = spare.popLast() else {
            allocated &+= 1
            return [UInt8](repeating: 0, count: count)
        }
        reused &+= 1
        b.removeAll(keepingCapacity: true)   // a buffer someone else still holds gets new storage here
        b.append(contentsOf: zeros[0..<count])
        return b
    }

    /// The zeros `take` copies from (the largest buffer kept), made at the first reuse.
    private lazy var zeros = [UInt8](repeating: 0, count: FramePool.largestKept)

    /// Takes `frame` back for reuse (the caller lets go of it: pass it consumed, e.g. popLast()).
    public func give(_ frame: consuming [UInt8]) {
        guard spare.count < FramePool.limit, frame.capacity <= FramePool.largestKept, frame.capacity > 0 else { return }
        spare.append(frame)
    }
}

// Network namespaces: entering one (setns affects only the calling thread; sockets keep the
// namespace they were created in), and a fast checksum for bulk-transfer checks.
import CBulwark

public enum NetNamespace {
    /// setns(CLONE_NEWNET) on the calling thread, e.g. "/run/netns/NAME" made by `ip netns add`.
    public static func enter(path: String) throws(HostError) {
        _ = try hostCall("setns(CLONE_NEWNET)") { bw_enter_netns(path) }
    }
}

/// A checksum of a byte stream that does not depend on how the stream was split into reads: input
/// is gathered into fixed blocks and each full block is hashed (word-wise) into the running value.
public struct StreamChecksum {
    public static let blockSize = 1 << 20
    private var block: [UInt8] = [UInt8](repeating: 0, count: StreamChecksum.blockSize)
    private var filled = 0
    public private(set) var value: UInt64 = 0
    public private(set) var count = 0

    public init() {}

    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        count += bytes.count
        var rest = bytes
        while !rest.isEmpty {
            if filled == 0 && rest.count >= StreamChecksum.blockSize {
                value = bw_fast_checksum(value, rest.baseAddress, StreamChecksum.blockSize)
                rest = UnsafeRawBufferPointer(rebasing: rest[StreamChecksum.blockSize...])
                continue
            }
            let take = min(StreamChecksum.blockSize - filled, rest.count)
            let at = filled
            block.withUnsafeMutableBytes { dst in
                UnsafeMutableRawBufferPointer(rebasing: dst[at..<(at + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            }
            filled += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if filled == StreamChecksum.blockSize {
                value = block.withUnsafeBytes { bw_fast_checksum(value, $0.baseAddress, $0.count) }
                filled = 0
            }
        }
    }

    public mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }

    /// The checksum of everything added so far.
    public func finish() -> UInt64 {
        block.withUnsafeBytes { bw_fast_checksum(value, $0.baseAddress, filled) }
    }
}

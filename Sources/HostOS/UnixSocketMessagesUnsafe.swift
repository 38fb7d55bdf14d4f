// sendmsg/recvmsg of whole SEQPACKET messages with SCM_RIGHTS descriptors.
// SAFETY: the C helpers read/write exactly the buffers' counts; the fd storage is a fixed array of
// BW_MAX_FDS (8) Int32 that the helper never overruns.
import CBulwark
import Glibc

/// Descriptors received with one message (at most 8). Each is owned: whatever is not taken is closed
/// when this value goes away, so a rejected message never leaks a descriptor.
public struct ReceivedFDs: ~Copyable {
    public static let capacity = 8
    @usableFromInline var storage: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) =
        (-1, -1, -1, -1, -1, -1, -1, -1)
    /// How many descriptors arrived.
    public internal(set) var count: Int = 0

    public init() {}

    /// The raw number of descriptor `index` (-1 once taken); valid while this value owns it.
    public func raw(_ index: Int) -> Int32 {
        precondition(index >= 0 && index < count)
        return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: index * 4, as: Int32.self) }
    }

    /// Takes ownership of descriptor `index`; nil if it was already taken.
    public mutating func take(_ index: Int) -> OwnedFD? {
        let fd = raw(index)
        guard fd >= 0 else { return nil }
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: -1, toByteOffset: index * 4, as: Int32.self) }
        return OwnedFD(adopting: fd)
    }

    /// Closes every descriptor not taken.
    public mutating func closeAll() {
        for i in 0..<count {
            let fd = raw(i)
            if fd >= 0 { _ = Glibc.close(fd) }
        }
        count = 0
    }

    deinit {
        for i in 0..<count {
            let fd = withUnsafeBytes(of: storage) { $0.load(fromByteOffset: i * 4, as: Int32.self) }
            if fd >= 0 { _ = Glibc.close(fd) }
        }
    }
}

/// What one receive produced.
public struct ReceivedMessageInfo: Equatable, Sendable {
    /// Bytes placed in the buffer; 0 means the peer closed the connection.
    public var byteCount: Int
    /// The message did not fit the buffer (MSG_TRUNC): the rest was discarded by the kernel.
    public var truncated: Bool
    /// More descriptors came than fit (MSG_CTRUNC): the kernel closed the extra ones.
    public var descriptorsTruncated: Bool
}

extension UnixSocket {
    /// Sends one message made of `header` then `body`, with `fds` (at most 8, still owned by the
    /// caller). Returns the byte count sent (all or nothing on SEQPACKET).
    @inlinable
    public static func send(_ fd: Int32, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                            fds: UnsafeBufferPointer<Int32>) throws(HostError) -> Int {
        try hostCall("sendmsg") {
            bw_send_frame(fd, header.baseAddress, header.count, body.baseAddress, body.count,
                          fds.baseAddress, Int32(fds.count))
        }
    }

    /// Receives one message into `buffer`; descriptors that came with it go into `fds` (replacing and
    /// closing what it held). EINTR is not retried here: the caller owns the deadline.
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer,
                               fds: inout ReceivedFDs) throws(HostError) -> ReceivedMessageInfo {
        fds.closeAll()
        var count: Int32 = 0
        var flags: Int32 = 0
        let n = try withUnsafeMutableBytes(of: &fds.storage) { (raw) throws(HostError) -> Int in
            let slots = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
            return try hostCall("recvmsg") {
                bw_recv_frame(fd, buffer.baseAddress, buffer.count, slots, &count, &flags)
            }
        }
        fds.count = Int(count)
        return ReceivedMessageInfo(byteCount: n, truncated: flags & bw_msg_trunc() != 0,
                                   descriptorsTruncated: flags & bw_msg_ctrunc() != 0)
    }
}

// A received message: its checked header, its body (a view of the channel's receive buffer) and the
// descriptors that came with it.
import HostOS
import Wire

public struct Message: ~Copyable {
    public let header: FrameHeader
    /// The body bytes (after the header). Valid only until the next receive or call on the same
    /// channel, which reuses the buffer: decode or copy before that.
    public let body: UnsafeRawBufferPointer
    /// Descriptors passed with the message; those not taken are closed with the message.
    public var fds: ReceivedFDs

    public init(header: FrameHeader, body: UnsafeRawBufferPointer, fds: consuming ReceivedFDs) {
        self.header = header
        self.body = body
        self.fds = fds
    }

    public var messageID: UInt16 { header.messageID }
    public var requestID: UInt32 { header.requestID }
    public var isError: Bool { header.flags.contains(.error) }
}

// A request/response channel over one SOCK_SEQPACKET socket. Each SEQPACKET message is one frame:
// Wire.FrameHeader + body, plus up to 8 descriptors (SCM_RIGHTS). Every receive is bounded in size
// (one buffer per channel, allocated once) and in time (SO_RCVTIMEO/SO_SNDTIMEO set from the call's
// deadline), and every message is checked; garbage closes the connection. One thread uses a channel
// at a time; one call is outstanding at a time (replies to abandoned, timed-out calls are discarded).
import FaultInjection
import HostOS
import LinuxABI
import Wire

public final class Channel {
    /// Largest frame (header + body) this channel sends or accepts.
    public let maximumMessageSize: Int
    /// The socket; -1 once closed.
    public private(set) var descriptor: Int32
    /// The one receive buffer (maximumMessageSize bytes), reused by every receive.
    let buffer: UnsafeMutableRawBufferPointer
    private var nextRequestID: UInt32 = 1
    /// The first request id whose call timed out before its reply came (nil: none). Replies with ids
    /// from there up to the current call are late replies to abandoned calls and are dropped; a reply
    /// to an id this channel never issued is garbage.
    private var firstAbandonedRequestID: UInt32?
    /// What SO_RCVTIMEO / SO_SNDTIMEO are currently set to, in microseconds (0 = forever), so a call
    /// sets them only when its deadline differs noticeably.
    private var receiveTimeout: Int64 = 0
    private var sendTimeout: Int64 = 0
    // FAULT INJECTION HOOKS (issue 8, see ChannelFaults.swift): both nil unless faults were requested,
    // so the normal path pays one predictable branch per call and per send.
    // Building with -DBULWARK_NO_FAULT_HOOKS makes both constant nil, so the optimizer removes the
    // hooks: only for measuring their cost (docs/FAULT-INJECTION.md, "Cost when off").
    #if BULWARK_NO_FAULT_HOOKS
    public internal(set) var faults: ChannelFaults? { get { nil } set {} }
    var pendingFault: FaultAction? { get { nil } set {} }
    #else
    /// Client-side fault rules, decided once per call.
    public internal(set) var faults: ChannelFaults?
    /// A frame fault (corrupt, truncate, duplicate, dropped reply) to apply to the next send.
    var pendingFault: FaultAction?
    #endif

    /// Takes ownership of a connected SEQPACKET socket.
    public init(_ socket: consuming OwnedFD, maximumMessageSize: Int = FrameHeader.maximumLength) {
        precondition(maximumMessageSize >= FrameHeader.size && maximumMessageSize <= FrameHeader.maximumLength)
        self.maximumMessageSize = maximumMessageSize
        self.descriptor = socket.release()
        self.buffer = Channel.allocateBuffer(maximumMessageSize)
    }

    deinit {
        close()
        buffer.deallocate()
    }

    public var isClosed: Bool { descriptor < 0 }

    /// Closes the connection (the peer sees end of stream). Later operations fail with `.closed`.
    public func close() {
        if descriptor >= 0 {
            closeDescriptor(descriptor)
            descriptor = -1
        }
    }

    // MARK: client side

    /// Sends a request and waits for its reply, at most `timeout` in all. `fds` stay owned by the
    /// caller (the kernel duplicates them into the peer). An error reply throws `.remote`.
    /// The returned message's body is valid until the next operation on this channel.
    public func call(_ messageID: UInt16, body: UnsafeRawBufferPointer, fds: UnsafeBufferPointer<Int32> = .empty,
                     timeout: Duration) throws(IPCError) -> Message {
        let deadline = Deadline(after: timeout)
        let requestID = takeRequestID()
        do {
            if let faults { try faultBeforeCall(faults, messageID: messageID, deadline: deadline) }   // FAULT HOOK
            try send(messageID: messageID, flags: [], requestID: requestID, body: body, fds: fds, deadline: deadline)
            return try awaitReply(to: requestID, deadline: deadline)
        } catch {
            noteAbandoned(requestID, error)
            throw error
        }
    }

    /// `call` with the body in an array (convenience for tools and tests).
    public func call(_ messageID: UInt16, body: [UInt8], fds: [Int32] = [], timeout: Duration) throws(IPCError) -> Message {
        let deadline = Deadline(after: timeout)
        let requestID = takeRequestID()
        do {
            if let faults { try faultBeforeCall(faults, messageID: messageID, deadline: deadline) }   // FAULT HOOK
            try withBuffers(body, fds) { b, f throws(IPCError) in
                try send(messageID: messageID, flags: [], requestID: requestID, body: b, fds: f, deadline: deadline)
            }
            return try awaitReply(to: requestID, deadline: deadline)
        } catch {
            noteAbandoned(requestID, error)
            throw error
        }
    }

    /// After a timeout the request may still be answered later: remember where abandoned ids start.
    private func noteAbandoned(_ requestID: UInt32, _ error: IPCError) {
        if error == .timeout && firstAbandonedRequestID == nil { firstAbandonedRequestID = requestID }
    }

    private func takeRequestID() -> UInt32 {
        let requestID = nextRequestID
        nextRequestID = nextRequestID == UInt32.max ? 1 : nextRequestID + 1
        return requestID
    }

    private func awaitReply(to requestID: UInt32, deadline: Deadline) throws(IPCError) -> Message {
        while true {
            let message = try receive(deadline: deadline)
            let header = message.header
            if header.flags.contains(.reply) && header.requestID == requestID {
                // FAULT HOOK: a drop-reply fault discards the reply; the call then times out.
                if let faults, faults.dropReply {
                    faults.dropReply = false
                    continue
                }
                if header.flags.contains(.error) {
                    let decoded: ErrorReply
                    do throws(WireError) {
                        guard header.messageID == ErrorReply.messageID else {
                            throw WireError.malformed("error reply with message id \(header.messageID)")
                        }
                        decoded = try ErrorReply.decode(try MessageView(body: message.body, fdCount: message.fds.count))
                    } catch {
                        close()
                        throw .malformed(error)
                    }
                    throw .remote(errno: Errno(rawValue: decoded.errno), message: decoded.message)
                }
                return message
            }
            // A late reply to an earlier call that timed out: drop it (its descriptors close with it).
            if header.flags.contains(.reply), let first = firstAbandonedRequestID,
               header.requestID &- first < requestID &- first {
                continue
            }
            close()
            throw .malformed(.malformed(
                "unexpected message \(header.messageID) (request \(header.requestID)) while waiting for reply to \(requestID)"))
        }
    }

    // MARK: server side and low level

    /// Waits for the next message (`timeout` nil = forever) and checks it.
    public func receive(timeout: Duration?) throws(IPCError) -> Message {
        try receive(deadline: timeout.map { Deadline(after: $0) })
    }

    /// Sends the reply to `request`: FrameFlags.reply, the request's id, and `messageID` (the reply
    /// message's id in the channel's schema).
    public func reply(to request: FrameHeader, messageID: UInt16, body: UnsafeRawBufferPointer,
                      fds: UnsafeBufferPointer<Int32> = .empty, timeout: Duration? = nil) throws(IPCError) {
        try send(messageID: messageID, flags: .reply, requestID: request.requestID, body: body, fds: fds,
                 deadline: timeout.map { Deadline(after: $0) })
    }

    /// Sends the reply to `request` from a body `writer` filled by a generated codec (finished here
    /// with the reply flag, the request's id and `messageID`).
    public func reply(to request: FrameHeader, messageID: UInt16, writer: inout MessageWriter,
                      fds: UnsafeBufferPointer<Int32> = .empty, timeout: Duration? = nil) throws(IPCError) {
        let frame: FrameHeader
        do {
            frame = try writer.finish(messageID: messageID, requestID: request.requestID, flags: .reply, fdCount: fds.count)
        } catch {
            throw Channel.outgoing(error)
        }
        try sendEncoded(frame, writer, fds: fds, deadline: timeout.map { Deadline(after: $0) })
    }

    /// Sends an error reply to `request`: Wire.ErrorReply (message id 0, flags reply + error), encoded
    /// with `writer` (reset first; its capacity is reused).
    public func replyError(to request: FrameHeader, errno: Errno, message: String, writer: inout MessageWriter,
                           timeout: Duration? = nil) throws(IPCError) {
        let frame: FrameHeader
        do {
            frame = try writer.encode(ErrorReply(errno: errno.rawValue, message: message), requestID: request.requestID,
                                      flags: [.reply, .error])
        } catch {
            // Only an over-long message can fail: send the errno alone.
            frame = try! writer.encode(ErrorReply(errno: errno.rawValue), requestID: request.requestID,
                                       flags: [.reply, .error])
        }
        try sendEncoded(frame, writer, fds: .empty, deadline: timeout.map { Deadline(after: $0) })
    }

    /// Typed call through the generated codecs: encodes `request` with `writer`, waits for the reply,
    /// checks that it is `R.Reply` and decodes it. Descriptors that came with the reply land in
    /// `receivedFDs` (the reply's FDIndex fields index into it).
    public func call<R: WireRequest>(_ request: R, writer: inout MessageWriter, fds: UnsafeBufferPointer<Int32> = .empty,
                                     receivedFDs: inout ReceivedFDs, timeout: Duration) throws(IPCError) -> R.Reply {
        let deadline = Deadline(after: timeout)
        let requestID = takeRequestID()
        let frame: FrameHeader
        do {
            frame = try writer.encode(request, requestID: requestID, fdCount: fds.count)
        } catch {
            throw Channel.outgoing(error)
        }
        do throws(IPCError) {
            if let faults { try faultBeforeCall(faults, messageID: R.messageID, deadline: deadline) }   // FAULT HOOK
            try sendEncoded(frame, writer, fds: fds, deadline: deadline)
            var reply = try awaitReply(to: requestID, deadline: deadline)
            guard reply.messageID == R.Reply.messageID else {
                close()
                throw IPCError.malformed(.malformed("reply id \(reply.messageID), expected \(R.Reply.messageID) (\(R.Reply.name))"))
            }
            let decoded: R.Reply
            do throws(WireError) {
                decoded = try R.Reply.decode(try MessageView(body: reply.body, fdCount: reply.fds.count))
            } catch {
                close()
                throw IPCError.malformed(error)
            }
            swap(&receivedFDs, &reply.fds)
            return decoded
        } catch {
            noteAbandoned(requestID, error)
            throw error
        }
    }

    /// An encoding failure on our side: size limits become `.tooLarge`/`.tooManyFDs`.
    static func outgoing(_ error: WireError) -> IPCError {
        switch error {
        case let .oversized(length, limit): return .tooLarge(length: length, limit: limit)
        case let .limitExceeded(what, value, _) where what == "fd count": return .tooManyFDs(value)
        default: return .malformed(error)
        }
    }

    /// Sends a frame a MessageWriter finished (its header is re-encoded from `frame`).
    func sendEncoded(_ frame: FrameHeader, _ writer: MessageWriter, fds: UnsafeBufferPointer<Int32>,
                     deadline: Deadline?) throws(IPCError) {
        var failure: IPCError?
        writer.withFrame { bytes in
            do throws(IPCError) {
                try send(messageID: frame.messageID, flags: frame.flags, requestID: frame.requestID,
                         body: UnsafeRawBufferPointer(rebasing: bytes[FrameHeader.size...]), fds: fds, deadline: deadline)
            } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Sends one frame. Refuses (before sending anything) a frame above the size limit or more than
    /// 8 descriptors; the connection stays usable then.
    public func send(messageID: UInt16, flags: FrameFlags, requestID: UInt32, body: UnsafeRawBufferPointer,
                     fds: UnsafeBufferPointer<Int32> = .empty, timeout: Duration?) throws(IPCError) {
        try send(messageID: messageID, flags: flags, requestID: requestID, body: body, fds: fds,
                 deadline: timeout.map { Deadline(after: $0) })
    }

    // MARK: internals

    func send(messageID: UInt16, flags: FrameFlags, requestID: UInt32, body: UnsafeRawBufferPointer,
              fds: UnsafeBufferPointer<Int32>, deadline: Deadline?) throws(IPCError) {
        guard descriptor >= 0 else { throw .closed }
        let length = FrameHeader.size + body.count
        guard length <= maximumMessageSize else { throw .tooLarge(length: length, limit: maximumMessageSize) }
        guard fds.count <= ReceivedFDs.capacity else { throw .tooManyFDs(fds.count) }
        let header = FrameHeader(length: UInt32(length), messageID: messageID, flags: flags, requestID: requestID,
                                 fdCount: UInt8(fds.count))
        while true {
            try configureTimeout(receive: false, deadline: deadline)
            // FAULT HOOK: an armed frame fault replaces the normal send.
            let errno = pendingFault.map { sendFaulty($0, header, body: body, fds: fds) } ?? sendFrame(header, body: body, fds: fds)
            switch errno {
            case nil: return
            case .EINTR?: continue
            case .EAGAIN?: throw .timeout
            case .EPIPE?:
                close()
                throw .peerClosed
            case .ECONNRESET?:
                close()
                throw .peerDied
            case let other?: throw .host(HostError(call: "sendmsg", errno: other))
            }
        }
    }

    func receive(deadline: Deadline?) throws(IPCError) -> Message {
        guard descriptor >= 0 else { throw .closed }
        while true {
            try configureTimeout(receive: true, deadline: deadline)
            var fds = ReceivedFDs()
            let info: ReceivedMessageInfo
            do {
                info = try UnixSocket.receive(descriptor, into: buffer, fds: &fds)
            } catch {
                switch error.errno {
                case .EINTR: continue
                case .EAGAIN: throw .timeout
                case .ECONNRESET:
                    close()
                    throw .peerDied
                default: throw .host(error)
                }
            }
            if info.byteCount == 0 {
                close()
                throw .peerClosed
            }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[..<info.byteCount])
            if info.truncated {
                close()
                let declared = bytes.count >= 4 ? Int(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))) : 0
                throw .tooLarge(length: max(declared, maximumMessageSize + 1), limit: maximumMessageSize)
            }
            if info.descriptorsTruncated {
                close()
                throw .tooManyFDs(ReceivedFDs.capacity + 1)
            }
            let header: FrameHeader
            do {
                header = try FrameHeader.decode(bytes, receivedFDs: fds.count)
            } catch {
                close()
                throw .malformed(error)
            }
            return Message(header: header, body: UnsafeRawBufferPointer(rebasing: bytes[FrameHeader.size...]), fds: fds)
        }
    }

    /// Sets SO_RCVTIMEO or SO_SNDTIMEO for the time left until `deadline` (nil = forever), unless the
    /// current setting is already within 2 ms above it.
    private func configureTimeout(receive: Bool, deadline: Deadline?) throws(IPCError) {
        var wanted: Int64 = 0
        if let deadline {
            wanted = deadline.remainingMicroseconds()
            guard wanted > 0 else { throw .timeout }
        }
        let current = receive ? receiveTimeout : sendTimeout
        if current == wanted { return }
        if wanted != 0 && current != 0 && current >= wanted && current - wanted <= 2000 { return }
        do {
            if receive {
                try UnixSocket.setReceiveTimeout(descriptor, microseconds: wanted)
                receiveTimeout = wanted
            } else {
                try UnixSocket.setSendTimeout(descriptor, microseconds: wanted)
                sendTimeout = wanted
            }
        } catch { throw .host(error) }
    }
}

/// A point in CLOCK_MONOTONIC time by which a call must end.
struct Deadline {
    let nanoseconds: Int64

    /// A timeout of zero or less expires at once; a huge one saturates at ~146 years instead of
    /// overflowing.
    init(after timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        let limit: Int64 = 1 << 62
        let span = seconds >= limit / 1_000_000_000 ? limit : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        nanoseconds = monotonicNanoseconds() + max(span, 1000)
    }

    /// Microseconds left, rounded up; <= 0 once passed.
    func remainingMicroseconds() -> Int64 {
        let left = nanoseconds - monotonicNanoseconds()
        return left <= 0 ? 0 : (left + 999) / 1000
    }
}

extension UnsafeBufferPointer where Element == Int32 {
    /// No descriptors.
    public static var empty: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: nil, count: 0) }
}

// Serving requests: receive -> dispatch by message id -> reply. One connection (--channel-fd) or
// many (--listen, multiplexed with epoll on one thread).
@preconcurrency import Glibc
import FaultInjection
import HostOS
import IPC
import LinuxABI
import Wire

/// Why serving a connection ended.
public enum ConnectionEnd: Equatable {
    /// The peer closed the connection.
    case closed
    /// The peer broke the protocol or the transport failed; the connection was closed.
    case failed(String)
}

/// Dispatches requests for one service. Holds the reusable reply and error scratch buffers.
public final class ServiceDispatcher {
    let table: HandlerTable
    let name: String
    private var reply = Reply()
    private var errorWriter = MessageWriter(capacity: 256)
    /// How long a reply may wait for a slow client before that connection is dropped (nil = forever).
    let replyTimeout: Duration?
    /// FAULT INJECTION (issue 8): server-side fault rules from --fault; nil (one branch) without them.
    public internal(set) var faults: ChannelFaults?
    /// TEST HOOK (HostOS/SeccompProbe.swift): make a forbidden host syscall at this request number.
    var seccompProbeAt: Int?
    private var requestsSeen = 0

    public init(name: String, table: HandlerTable, replyTimeout: Duration? = nil) {
        self.name = name
        self.table = table
        self.replyTimeout = replyTimeout
    }

    /// Receives and answers one request on `channel` (waiting at most `timeout`; nil = forever).
    /// Returns nil while the connection is still good.
    public func serveOne(_ channel: Channel, timeout: Duration? = nil) -> ConnectionEnd? {
        var request: Message
        do {
            request = try channel.receive(timeout: timeout)
        } catch {
            switch error {
            case .peerClosed, .closed: return .closed
            default:
                channel.close()
                return .failed("\(error)")
            }
        }
        let header = request.header
        if let probe = seccompProbeAt {   // TEST HOOK: dies here by SIGSYS under the service's policy
            requestsSeen += 1
            if requestsSeen == probe {
                log("\(name): \(SeccompProbe.variable): calling a host syscall outside the allowlist")
                SeccompProbe.callForbiddenSyscall()
            }
        }
        if header.flags.contains(.reply) {
            channel.close()
            return .failed("peer sent a reply (request \(header.requestID)) where a request was expected")
        }
        reply.reset(for: header)
        var failure: ServiceFailure?
        if header.messageID == ServiceMessage.ping {
            reply.body.append(contentsOf: request.body)
        } else if let handler = table.handler(for: header.messageID) {
            do throws(ServiceFailure) { try handler(&request, &reply) } catch { failure = error }
        } else {
            failure = ServiceFailure(.ENOSYS, "\(name): unknown message id \(header.messageID)")
        }
        if header.flags.contains(.oneWay) {
            reply.closeFDs()
            return nil
        }
        // FAULT HOOK (issue 8, ServiceFaults.swift): delay, drop, close, corrupt... this reply.
        var killAfterReply = false
        if let faults {
            switch applyFault(faults, channel, header) {
            case .proceed: break
            case .killAfterReply: killAfterReply = true
            case .skipReply:
                reply.closeFDs()
                return nil
            case .close:
                reply.closeFDs()
                channel.close()
                return .closed
            }
        }
        do throws(IPCError) {
            if failure == nil {
                do throws(IPCError) {
                    try sendReply(channel, header)
                } catch {
                    // Our own reply broke a limit: tell the caller instead of dropping the connection.
                    switch error {
                    case .tooLarge, .tooManyFDs, .malformed:
                        failure = ServiceFailure(.EMSGSIZE, "\(name): reply to message \(header.messageID): \(error)")
                    default: throw error
                    }
                }
                reply.closeFDs()
            }
            if let failure {
                reply.closeFDs()
                try channel.replyError(to: header, errno: failure.errno, message: failure.message, writer: &errorWriter,
                                       timeout: replyTimeout)
            }
        } catch {
            reply.closeFDs()
            switch error {
            case .peerClosed, .closed: return .closed
            default:
                channel.close()
                return .failed("\(error)")
            }
        }
        if killAfterReply { faultKillSelf() }   // FAULT HOOK
        return nil
    }

    private func sendReply(_ channel: Channel, _ header: FrameHeader) throws(IPCError) {
        var failure: IPCError?
        let timeout = replyTimeout
        let messageID = reply.messageID
        if reply.encoded {
            // A copy of the (small) fd array, so that reading it does not overlap the writer's access.
            let attached = reply.fds
            attached.withUnsafeBufferPointer { fds in
                do throws(IPCError) {
                    try channel.reply(to: header, messageID: messageID, writer: &reply.writer, fds: fds, timeout: timeout)
                } catch { failure = error }
            }
        } else {
            reply.body.withUnsafeBytes { body in
                reply.fds.withUnsafeBufferPointer { fds in
                    do throws(IPCError) {
                        try channel.reply(to: header, messageID: messageID, body: body, fds: fds, timeout: timeout)
                    } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
    }

    /// Serves one connection until it ends.
    public func serve(_ channel: Channel) -> ConnectionEnd {
        while true {
            if let end = serveOne(channel) { return end }
        }
    }

    /// Accepts connections on `listener` and serves them all from one thread with epoll. Returns only
    /// on a host failure of the listener or epoll itself.
    public func serveListener(_ listener: Int32) -> HostError {
        do throws(HostError) {
            try serveListenerLoop(listener)
        } catch {
            return error
        }
    }

    private func serveListenerLoop(_ listener: Int32) throws(HostError) -> Never {
        let epoll = try Epoll.create()
        try Epoll.add(epoll.rawValue, listener, events: Epoll.readable, cookie: UInt64.max)
        var connections: [Int32: Channel] = [:]
        var events = [UInt32](repeating: 0, count: 16)
        var cookies = [UInt64](repeating: 0, count: 16)
        while true {
            var ready = 0
            var waitError: HostError?
            events.withUnsafeMutableBufferPointer { e in
                cookies.withUnsafeMutableBufferPointer { c in
                    do throws(HostError) {
                        ready = try Epoll.wait(epoll.rawValue, events: e, cookies: c, timeoutMilliseconds: -1)
                    } catch { waitError = error }
                }
            }
            if let waitError { throw waitError }
            for i in 0..<ready {
                if cookies[i] == UInt64.max {
                    do {
                        let socket = try UnixSocket.accept(listener)
                        let fd = socket.rawValue
                        let channel = Channel(socket)
                        try Epoll.add(epoll.rawValue, fd, events: Epoll.readable, cookie: UInt64(fd))
                        connections[fd] = channel
                    } catch {
                        log("\(name): accept: \(error)")
                    }
                    continue
                }
                let fd = Int32(truncatingIfNeeded: cookies[i])
                guard let channel = connections[fd] else { continue }
                if let end = serveOne(channel) {
                    if case .failed(let why) = end { log("\(name): connection dropped: \(why)") }
                    try? Epoll.remove(epoll.rawValue, fd)
                    channel.close()
                    connections[fd] = nil
                }
            }
        }
    }
}

func log(_ text: String) {
    fputs(text + "\n", stderr)
}

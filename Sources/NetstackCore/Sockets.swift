// The socket-level API the Sentry calls: non-blocking, returning Linux errno values. Sockets are named
// by a small integer id (the Sentry maps guest fds onto these).

public struct SocketID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Int32
    public init(raw: Int32) { self.raw = raw }
    public var description: String { "socket#\(raw)" }
}

public enum SocketType: Sendable {
    case stream    // TCP
    case datagram  // UDP
}

/// shutdown(2) directions.
public enum ShutdownHow: Sendable {
    case read, write, both
}

extension NetworkStack {
    public func socket(_ type: SocketType) -> SocketID {
        let id = SocketID(raw: nextSocketID)
        nextSocketID &+= 1
        switch type {
        case .datagram: udpSockets[id] = UDPSocket(id: id)
        case .stream: tcpSockets[id] = TCPSocket(id: id, stack: self)
        }
        return id
    }

    public func bind(_ s: SocketID, _ addr: SocketAddress) throws(NetErrno) {
        if let u = udpSockets[s] { return try udpBind(u, addr) }
        if let t = tcpSockets[s] { return try tcpBind(t, addr) }
        throw .EBADF
    }

    /// connect(2). For TCP the first call returns EINPROGRESS; completion shows as writability, and
    /// failure as `socketError` (SO_ERROR).
    public func connect(_ s: SocketID, _ addr: SocketAddress) throws(NetErrno) {
        if let u = udpSockets[s] { return try udpConnect(u, addr) }
        if let t = tcpSockets[s] { return try tcpConnect(t, addr) }
        throw .EBADF
    }

    public func listen(_ s: SocketID, backlog: Int) throws(NetErrno) {
        if udpSockets[s] != nil { throw .EOPNOTSUPP }
        guard let t = tcpSockets[s] else { throw .EBADF }
        try tcpListen(t, backlog: backlog)
    }

    /// accept(2): EAGAIN when no connection is ready.
    public func accept(_ s: SocketID) throws(NetErrno) -> (SocketID, SocketAddress) {
        if udpSockets[s] != nil { throw .EOPNOTSUPP }
        guard let t = tcpSockets[s] else { throw .EBADF }
        return try tcpAccept(t)
    }

    /// send(2) on a connected socket: the number of bytes taken (TCP may take fewer than offered).
    @discardableResult
    public func send(_ s: SocketID, _ data: [UInt8]) throws(NetErrno) -> Int {
        if let u = udpSockets[s] { return try udpSend(u, data, to: nil) }
        if let t = tcpSockets[s] { return try tcpSend(t, data) }
        throw .EBADF
    }

    @discardableResult
    public func sendTo(_ s: SocketID, _ data: [UInt8], to addr: SocketAddress) throws(NetErrno) -> Int {
        if let u = udpSockets[s] { return try udpSend(u, data, to: addr) }
        if let t = tcpSockets[s] { return try tcpSend(t, data) }  // the address is ignored, as Linux does
        throw .EBADF
    }

    /// recv(2): up to `max` bytes; an empty result on TCP means end of stream. EAGAIN when nothing waits.
    public func recv(_ s: SocketID, max: Int) throws(NetErrno) -> [UInt8] {
        if let u = udpSockets[s] { return try udpReceive(u, max: max).0 }
        if let t = tcpSockets[s] { return try tcpReceive(t, max: max) }
        throw .EBADF
    }

    public func recvFrom(_ s: SocketID, max: Int) throws(NetErrno) -> ([UInt8], SocketAddress) {
        if let u = udpSockets[s] { return try udpReceive(u, max: max) }
        if let t = tcpSockets[s] {
            let d = try tcpReceive(t, max: max)
            return (d, t.remote ?? SocketAddress(.any, 0))
        }
        throw .EBADF
    }

    public func shutdown(_ s: SocketID, _ how: ShutdownHow) throws(NetErrno) {
        if let u = udpSockets[s] {
            if u.remote == nil { throw .ENOTCONN }
            if how != .write { u.readShut = true }
            if how != .read { u.writeShut = true }
            return
        }
        guard let t = tcpSockets[s] else { throw .EBADF }
        try tcpShutdown(t, how)
    }

    /// close(2): the id is invalid afterwards. A TCP connection finishes (or is reset) in the background.
    public func close(_ s: SocketID) throws(NetErrno) {
        if udpSockets.removeValue(forKey: s) != nil { return }
        guard let t = tcpSockets.removeValue(forKey: s) else { throw .EBADF }
        tcpClose(t)
    }

    public func readiness(_ s: SocketID) -> Readiness {
        if let u = udpSockets[s] { return u.readiness }
        if let t = tcpSockets[s] { return t.readiness }
        return [.error, .hup]
    }

    /// getsockopt(SO_ERROR): returns and clears the pending error.
    public func socketError(_ s: SocketID) -> NetErrno? {
        if let u = udpSockets[s] { defer { u.pendingError = nil }; return u.pendingError }
        if let t = tcpSockets[s] { defer { t.pendingError = nil }; return t.pendingError }
        return .EBADF
    }

    public func localAddress(_ s: SocketID) throws(NetErrno) -> SocketAddress {
        if let u = udpSockets[s] { return u.local ?? SocketAddress(.any, 0) }
        if let t = tcpSockets[s] { return t.local ?? SocketAddress(.any, 0) }
        throw .EBADF
    }

    public func peerAddress(_ s: SocketID) throws(NetErrno) -> SocketAddress {
        if let u = udpSockets[s] { guard let r = u.remote else { throw .ENOTCONN }; return r }
        if let t = tcpSockets[s] {
            guard let r = t.remote, t.state != .closed, t.state != .listen, t.state != .synSent else { throw .ENOTCONN }
            return r
        }
        throw .EBADF
    }

    /// A free ephemeral port (Linux's default range 32768-60999), chosen at random.
    func ephemeralPort(inUse: (UInt16) -> Bool) -> UInt16? {
        let lo: UInt64 = 32768, n: UInt64 = 60999 - 32768 + 1
        let start = rng.below(n)
        for i in 0..<n {
            let p = UInt16(lo + (start + i) % n)
            if !inUse(p) { return p }
        }
        return nil
    }
}

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
    public func socket(_ type: SocketType, family: AddressFamily = .inet) -> SocketID {
        let id = SocketID(raw: nextSocketID)
        nextSocketID &+= 1
        switch type {
        case .datagram: udpSockets[id] = UDPSocket(id: id, v6: family == .inet6)
        case .stream: tcpSockets[id] = TCPSocket(id: id, stack: self, v6: family == .inet6)
        }
        return id
    }

    /// The address the stack works with for one a user passed: an AF_INET6 socket's v4-mapped
    /// address is IPv4 inside (allowed unless IPV6_V6ONLY); the wrong family is `wrong`.
    func internalAddress(_ a: SocketAddress, v6: Bool, v6Only: Bool, wrong: NetErrno) throws(NetErrno) -> SocketAddress {
        switch a.ip {
        case .v4:
            guard !v6 else { throw wrong }
            return a
        case .v6(let x):
            guard v6 else { throw wrong }
            if let m = x.v4Mapped {
                guard !v6Only else { throw wrong }
                return SocketAddress(m, a.port)
            }
            return a
        }
    }

    /// What the user sees: IPv4 addresses on an AF_INET6 socket are shown v4-mapped.
    func userAddress(_ a: SocketAddress, v6: Bool) -> SocketAddress {
        if v6, case .v4(let x) = a.ip { return SocketAddress(IPv6Address(v4Mapped: x), a.port) }
        return a
    }

    public func bind(_ s: SocketID, _ addr: SocketAddress) throws(NetErrno) {
        if let u = udpSockets[s] { return try udpBind(u, internalAddress(addr, v6: u.v6, v6Only: u.v6Only, wrong: .EINVAL)) }
        if let t = tcpSockets[s] { return try tcpBind(t, internalAddress(addr, v6: t.v6, v6Only: t.v6Only, wrong: .EINVAL)) }
        throw .EBADF
    }

    /// connect(2). For TCP the first call returns EINPROGRESS; completion shows as writability, and
    /// failure as `socketError` (SO_ERROR).
    public func connect(_ s: SocketID, _ addr: SocketAddress) throws(NetErrno) {
        if let u = udpSockets[s] {
            return try udpConnect(u, internalAddress(addr, v6: u.v6, v6Only: u.v6Only, wrong: .EAFNOSUPPORT))
        }
        if let t = tcpSockets[s] {
            return try tcpConnect(t, internalAddress(addr, v6: t.v6, v6Only: t.v6Only, wrong: .EAFNOSUPPORT))
        }
        throw .EBADF
    }

    public func listen(_ s: SocketID, backlog: Int) throws(NetErrno) {
        if udpSockets[s] != nil { throw .EOPNOTSUPP }
        guard let t = tcpSockets[s] else { throw .EBADF }
        try tcpListen(t, backlog: backlog)
    }

    /// Counts connections a listener's owner took off its accept queue (`accept`) but the
    /// application has not accepted yet; they count against the backlog. Nil stops counting.
    public func setParkedCounter(_ s: SocketID, _ counter: (() -> Int)?) {
        tcpSockets[s]?.parked = counter
    }

    /// accept(2): EAGAIN when no connection is ready.
    public func accept(_ s: SocketID) throws(NetErrno) -> (SocketID, SocketAddress) {
        if udpSockets[s] != nil { throw .EOPNOTSUPP }
        guard let t = tcpSockets[s] else { throw .EBADF }
        let (id, peer) = try tcpAccept(t)
        return (id, userAddress(peer, v6: t.v6))
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
        if let u = udpSockets[s] {
            return try udpSend(u, data, to: internalAddress(addr, v6: u.v6, v6Only: u.v6Only, wrong: .EAFNOSUPPORT))
        }
        if let t = tcpSockets[s] { return try tcpSend(t, data) }  // the address is ignored, as Linux does
        throw .EBADF
    }

    /// recv(2): up to `max` bytes; an empty result on TCP means end of stream. EAGAIN when nothing waits.
    /// `peek` is MSG_PEEK: the data stays queued.
    public func recv(_ s: SocketID, max requested: Int, peek: Bool = false) throws(NetErrno) -> [UInt8] {
        let max = Swift.max(0, requested)
        if let u = udpSockets[s] { return try udpReceive(u, max: max, peek: peek).0 }
        if let t = tcpSockets[s] { return try tcpReceive(t, max: max, peek: peek) }
        throw .EBADF
    }

    public func recvFrom(_ s: SocketID, max requested: Int, peek: Bool = false) throws(NetErrno) -> ([UInt8], SocketAddress) {
        let max = Swift.max(0, requested)
        if let u = udpSockets[s] {
            let (d, from) = try udpReceive(u, max: max, peek: peek)
            return (d, userAddress(from, v6: u.v6))
        }
        if let t = tcpSockets[s] {
            let d = try tcpReceive(t, max: max, peek: peek)
            return (d, userAddress(t.remote ?? SocketAddress.any(v6: t.v6), v6: t.v6))
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

    /// FIONREAD/SIOCINQ: bytes readable now (for UDP, the size of the next datagram).
    public func bytesReadable(_ s: SocketID) throws(NetErrno) -> Int {
        if let t = tcpSockets[s] {
            guard t.state != .listen else { throw .EINVAL }
            return t.receiveBuffer.count
        }
        if let u = udpSockets[s] { return u.hasData ? u.queue[u.queueHead].1.count : 0 }
        throw .EBADF
    }

    /// SIOCOUTQ: bytes in the send buffer not yet acknowledged (zero for UDP, which does not queue).
    public func bytesUnacknowledged(_ s: SocketID) throws(NetErrno) -> Int {
        if udpSockets[s] != nil { return 0 }
        if let t = tcpSockets[s] {
            guard t.state != .listen else { throw .EINVAL }
            return t.sendBuffer.count
        }
        throw .EBADF
    }

    public func readiness(_ s: SocketID) -> Readiness {
        if let t = tcpSockets[s] { return t.readiness }
        if let u = udpSockets[s] { return u.readiness }
        return [.error, .hup]
    }

    /// getsockopt(SO_ERROR): returns and clears the pending error.
    public func socketError(_ s: SocketID) -> NetErrno? {
        if let u = udpSockets[s] { defer { u.pendingError = nil }; return u.pendingError }
        if let t = tcpSockets[s] { defer { t.pendingError = nil }; return t.pendingError }
        return .EBADF
    }

    public func localAddress(_ s: SocketID) throws(NetErrno) -> SocketAddress {
        if let u = udpSockets[s] { return userAddress(u.local ?? SocketAddress.any(v6: u.v6), v6: u.v6) }
        if let t = tcpSockets[s] { return userAddress(t.local ?? SocketAddress.any(v6: t.v6), v6: t.v6) }
        throw .EBADF
    }

    public func peerAddress(_ s: SocketID) throws(NetErrno) -> SocketAddress {
        if let u = udpSockets[s] { guard let r = u.remote else { throw .ENOTCONN }; return userAddress(r, v6: u.v6) }
        if let t = tcpSockets[s] {
            guard let r = t.remote, t.state != .closed, t.state != .listen, t.state != .synSent else { throw .ENOTCONN }
            return userAddress(r, v6: t.v6)
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

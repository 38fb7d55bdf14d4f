// The user side of TCP (RFC 9293 3.10.1-3.10.6): bind, listen, accept, connect, send, receive,
// shutdown, close, as non-blocking calls returning Linux errno values.

public enum SocketOption: Sendable {
    case noDelay(Bool)     // TCP_NODELAY
    case keepAlive(Bool)   // SO_KEEPALIVE
    case reuseAddress(Bool) // SO_REUSEADDR: bind despite connections (not listeners) on the port
    case v6Only(Bool)       // IPV6_V6ONLY, before bind; off by default as on Linux
    case sendBuffer(Int)    // SO_SNDBUF (bytes of buffer; clamped to 4 KiB...16 MiB), before connect/listen
    case receiveBuffer(Int) // SO_RCVBUF (likewise; it also decides the window scale)
    case broadcast(Bool)    // SO_BROADCAST (UDP)
    case keepIdle(Int)      // TCP_KEEPIDLE, seconds (1...32767, as Linux)
    case keepInterval(Int)  // TCP_KEEPINTVL, seconds (1...32767)
    case keepCount(Int)     // TCP_KEEPCNT, probes (1...127)
    case linger(Bool, Int)  // SO_LINGER (on, seconds): on with 0 makes close send RST, dropping unsent data
    case typeOfService(Int) // IP_TOS (0...255; TCP keeps the ECN bits its own)
    case trafficClass(Int)  // IPV6_TCLASS (-1...255, -1 = default 0; TCP keeps the ECN bits its own)
}

extension NetworkStack {
    func tcpPortInUse(_ port: UInt16, address: IPAddress, dual: Bool, reuse: Bool = false) -> Bool {
        func clash(_ t: TCPSocket) -> Bool {
            guard let l = t.local, l.port == port else { return false }
            if reuse && t.state != .listen { return false }
            return address.conflicts(dual: dual, with: l.ip, otherDual: t.dual)
        }
        for t in tcpSockets.values where clash(t) { return true }
        for t in tcpConnections.values where clash(t) { return true }
        return false
    }

    func tcpBind(_ t: TCPSocket, _ addr: SocketAddress) throws(NetErrno) {
        guard t.local == nil, t.state == .closed else { throw .EINVAL }
        let dual = t.v6 && !t.v6Only && addr.ip.isUnspecified && addr.ip.isV6
        guard addr.ip.isUnspecified || isLocal(addr.ip) else { throw .EADDRNOTAVAIL }
        var port = addr.port
        if port == 0 {
            guard let p = ephemeralPort(inUse: { tcpPortInUse($0, address: addr.ip, dual: dual) }) else { throw .EADDRINUSE }
            port = p
        } else if tcpPortInUse(port, address: addr.ip, dual: dual, reuse: t.reuseAddress) {
            throw .EADDRINUSE
        }
        t.local = SocketAddress(ip: addr.ip, port: port)
    }

    func tcpListen(_ t: TCPSocket, backlog: Int) throws(NetErrno) {
        let b = max(1, min(backlog, 4096))
        if t.state == .listen {
            t.backlog = b
            return
        }
        guard t.state == .closed, !t.wasConnected else { throw .EINVAL }
        if t.local == nil { try tcpBind(t, SocketAddress.any(v6: t.v6)) }
        guard tcpListeners[t.local!] == nil else { throw .EADDRINUSE }
        t.state = .listen
        t.backlog = b
        tcpListeners[t.local!] = t
    }

    func tcpAccept(_ t: TCPSocket) throws(NetErrno) -> (SocketID, SocketAddress) {
        guard t.state == .listen else { throw .EINVAL }
        guard !t.acceptQueue.isEmpty else { throw .EAGAIN }
        let c = t.acceptQueue.removeFirst()
        let id = SocketID(raw: nextSocketID)
        nextSocketID &+= 1
        c.id = id
        c.listener = nil
        tcpSockets[id] = c
        return (id, c.remote!)
    }

    func tcpConnect(_ t: TCPSocket, _ addr: SocketAddress) throws(NetErrno) {
        switch t.state {
        case .synSent, .synReceived: throw .EALREADY
        case .listen: throw .EINVAL
        case .closed:
            if t.wasConnected { throw .EISCONN }
        default: throw .EISCONN
        }
        guard addr.port != 0 else { throw .ECONNREFUSED }
        // Connecting to the wildcard address means this host, as Linux does for 0.0.0.0 and ::.
        let dst: IPAddress = addr.ip.isUnspecified ? (addr.ip.isV6 ? .v6(.loopback) : .v4(.loopback)) : addr.ip
        guard !dst.isMulticastOrBroadcast else { throw .ENETUNREACH }
        guard let rt = route(to: dst) else { throw .ENETUNREACH }
        let remote = SocketAddress(ip: dst, port: addr.port)
        if t.local == nil {
            let src = rt.source
            guard let p = ephemeralPort(inUse: { p in
                self.tcpConnections[ConnectionKey(local: SocketAddress(ip: src, port: p), remote: remote)] != nil
                    || self.tcpListeners[SocketAddress(ip: src, port: p)] != nil
                    || self.tcpListeners[SocketAddress.any(v6: src.isV6, port: p)] != nil
                    || self.tcpListeners[SocketAddress.any(v6: true, port: p)] != nil
                    || self.tcpSockets.values.contains { $0.local?.port == p }
            }) else { throw .EADDRNOTAVAIL }
            t.local = SocketAddress(ip: src, port: p)
        } else if t.local!.ip.isUnspecified {
            t.local!.ip = rt.source
        }
        let key = ConnectionKey(local: t.local!, remote: remote)
        guard tcpConnections[key] == nil else { throw .EADDRNOTAVAIL }
        t.remote = remote
        t.pendingError = nil
        setUpConnection(t, route: rt)
        t.state = .synSent
        tcpConnections[key] = t
        stats.tcpActiveOpens += 1
        sendSYN(t)
        throw .EINPROGRESS
    }

    func tcpSend<C: Collection>(_ t: TCPSocket, _ data: C) throws(NetErrno) -> Int where C.Element == UInt8 {
        if let e = t.pendingError {
            t.pendingError = nil
            throw e
        }
        switch t.state {
        case .synSent, .synReceived: throw .EAGAIN
        case .established, .closeWait: break
        case .closed: throw t.wasConnected ? .EPIPE : .ENOTCONN
        case .listen: throw .ENOTCONN
        default: throw .EPIPE
        }
        if t.finQueued { throw .EPIPE }
        if data.isEmpty { return 0 }
        let n = t.sendBuffer.append(data)
        guard n > 0 else { throw .EAGAIN }
        tcpOutput(t)
        return n
    }

    func tcpReceive(_ t: TCPSocket, max: Int, peek: Bool = false) throws(NetErrno) -> [UInt8] {
        if t.receiveBuffer.count > 0 && max > 0 {
            if peek {
                var d = [UInt8]()
                t.receiveBuffer.copy(offset: 0, count: min(max, t.receiveBuffer.count), into: &d)
                return d
            }
            let d = t.receiveBuffer.read(max: max)
            maybeWindowUpdate(t)
            return d
        }
        if let e = t.pendingError {
            t.pendingError = nil
            throw e
        }
        if t.finReceived || t.readShut { return [] }
        switch t.state {
        case .listen: throw .ENOTCONN
        case .closed: if t.wasConnected { return [] } else { throw .ENOTCONN }
        default: throw .EAGAIN
        }
    }

    /// After the user reads, tell the peer when the window opened enough to matter (RFC 1122 4.2.3.3).
    func maybeWindowUpdate(_ t: TCPSocket) {
        guard t.isSynchronized, t.state != .timeWait, !t.finReceived else { return }
        // The reader emptied the buffer after a pushed segment on a connection that is not a
        // request/response exchange: ACK now, as Linux's tcp_cleanup_rbuf does, instead of making a
        // sender that waits for it (Nagle, a small window) sit out the delayed-ACK timer.
        if t.ackPending && t.delayedAckDeadline != nil && t.pushReceived && !t.interactive && t.receiveBuffer.count == 0 {
            sendACKNow(t)
            return
        }
        let free = UInt32(t.receiveBuffer.free)
        let threshold = UInt32(min(t.receiveBuffer.capacity / 2, 2 * t.mss))
        let edge = t.rcvNxt &+ free
        let knownWindow = seqGT(t.lastAdvertisedEdge, t.rcvNxt) ? t.lastAdvertisedEdge &- t.rcvNxt : 0
        if seqGE(edge, t.lastAdvertisedEdge &+ threshold) || (knownWindow < UInt32(t.mss) && free >= UInt32(t.mss)) {
            sendACKNow(t)
        }
    }

    /// Queues our FIN after the data already buffered.
    func startClose(_ t: TCPSocket) {
        guard !t.finQueued else { return }
        switch t.state {
        case .established:
            t.finQueued = true
            t.state = .finWait1
        case .closeWait:
            t.finQueued = true
            t.state = .lastAck
        case .synReceived:
            t.finQueued = true  // sent once the handshake completes
            return
        default:
            return
        }
        tcpOutput(t)
    }

    func tcpShutdown(_ t: TCPSocket, _ how: ShutdownHow) throws(NetErrno) {
        switch t.state {
        case .listen:
            // As Linux: SHUT_WR leaves a listener alone; SHUT_RD/SHUT_RDWR stop it (its queue is
            // reset) and it may listen again.
            if how != .write { tcpStopListening(t) }
            return
        case .closed, .synSent: throw .ENOTCONN
        default: break
        }
        if how != .write { t.readShut = true }
        if how != .read { startClose(t) }
    }

    /// Unlistens: connections queued or half open are reset, as Linux does when a listener closes.
    func tcpStopListening(_ t: TCPSocket) {
        if let l = t.local, tcpListeners[l] === t { tcpListeners[l] = nil }
        for c in t.acceptQueue { c.listener = nil; tcpAbort(c, error: nil, sendReset: true) }
        t.acceptQueue.removeAll()
        for c in tcpConnections.values where c.listener === t { tcpAbort(c, error: nil, sendReset: true) }
        t.state = .closed
    }

    func tcpClose(_ t: TCPSocket) {
        t.orphaned = true
        t.id = nil
        switch t.state {
        case .listen:
            tcpStopListening(t)
        case .closed:
            break
        case .synSent:
            tcpRemove(t, error: nil)
        case .synReceived, .established, .closeWait:
            if t.lingerZero {
                tcpAbort(t, error: nil, sendReset: true)  // SO_LINGER {on, 0}: abortive close, as Linux
            } else if t.receiveBuffer.count > 0 {
                tcpAbort(t, error: nil, sendReset: true)  // unread data is lost: say so (RFC 2525 2.17)
            } else {
                startClose(t)
            }
        case .finWait2:
            t.closeDeadline = now + config.tcp.finWait2Timeout
        case .finWait1, .closing, .lastAck, .timeWait:
            break
        }
    }

    public func setOption(_ s: SocketID, _ opt: SocketOption) throws(NetErrno) {
        if case .v6Only(let on) = opt {
            if let u = udpSockets[s] {
                guard u.v6 else { throw .ENOPROTOOPT }
                guard u.local == nil else { throw .EINVAL }
                u.v6Only = on
                return
            }
            guard let t = tcpSockets[s] else { throw .EBADF }
            guard t.v6 else { throw .ENOPROTOOPT }
            guard t.local == nil else { throw .EINVAL }
            t.v6Only = on
            return
        }
        if case .receiveBuffer(let n) = opt, let u = udpSockets[s] {
            u.receiveLimit = max(4096, min(n, 16 << 20))
            return
        }
        if case .typeOfService(let v) = opt, let u = udpSockets[s] { u.tos = UInt8(truncatingIfNeeded: v); return }
        if case .trafficClass(let v) = opt, let u = udpSockets[s] {
            guard v >= -1 && v <= 255 else { throw .EINVAL }
            u.trafficClass = v < 0 ? 0 : UInt8(v)
            return
        }
        if case .broadcast(let on) = opt, let u = udpSockets[s] {
            u.broadcast = on
            return
        }
        guard let t = tcpSockets[s] else { throw udpSockets[s] != nil ? .ENOPROTOOPT : .EBADF }
        switch opt {
        case .v6Only, .broadcast:
            break  // handled above / meaningless for TCP (Linux accepts and ignores SO_BROADCAST)
        case .sendBuffer(let n):
            guard t.state == .closed, t.sendBuffer.isEmpty else { throw .EINVAL }
            t.sendBuffer = ByteRing(capacity: max(4096, min(n, 16 << 20)))
        case .receiveBuffer(let n):
            guard t.state == .closed, t.receiveBuffer.isEmpty else { throw .EINVAL }
            t.receiveBuffer = ByteRing(capacity: max(4096, min(n, 16 << 20)))
        case .noDelay(let on):
            t.noDelay = on
            if on { tcpOutput(t) }
        case .reuseAddress(let on):
            t.reuseAddress = on
        case .keepAlive(let on):
            t.keepalive = on
            if on && (t.state == .established || t.state == .closeWait) {
                t.keepaliveDeadline = now + keepaliveIdle(t)
            } else if !on {
                t.keepaliveDeadline = nil
            }
        case .keepIdle(let n):
            guard n >= 1 && n <= 32767 else { throw .EINVAL }
            t.keepIdle = Int64(n) * Time.second
            // Linux restarts the idle timer with the new value unless probes are already out.
            if t.keepalive && t.keepaliveSent == 0 && (t.state == .established || t.state == .closeWait) {
                t.keepaliveDeadline = now + t.keepIdle!
            }
        case .keepInterval(let n):
            guard n >= 1 && n <= 32767 else { throw .EINVAL }
            t.keepInterval = Int64(n) * Time.second
        case .keepCount(let n):
            guard n >= 1 && n <= 127 else { throw .EINVAL }
            t.keepCount = n
        case .linger(let on, let seconds):
            t.lingerZero = on && seconds == 0
        case .typeOfService(let v):
            t.tos = UInt8(truncatingIfNeeded: v) & ~3
        case .trafficClass(let v):
            guard v >= -1 && v <= 255 else { throw .EINVAL }
            t.trafficClass = v < 0 ? 0 : UInt8(v) & ~3
        }
    }

    /// Whether closing `s` is abortive (SO_LINGER on with 0 s): the service then closes at once
    /// instead of first draining the socket's send ring.
    public func lingersZero(_ s: SocketID) -> Bool { tcpSockets[s]?.lingerZero ?? false }

    func keepaliveIdle(_ t: TCPSocket) -> Int64 { t.keepIdle ?? config.tcp.keepaliveIdle }
    func keepaliveInterval(_ t: TCPSocket) -> Int64 { t.keepInterval ?? config.tcp.keepaliveInterval }
    func keepaliveProbes(_ t: TCPSocket) -> Int { t.keepCount ?? config.tcp.keepaliveProbes }

    /// The TCP state of a socket, for diagnostics and tests (nil for other sockets).
    public func tcpState(_ s: SocketID) -> TCPState? { tcpSockets[s]?.state }

    /// Number of TCP connections the stack still tracks (including orphans in TIME-WAIT).
    public var tcpConnectionCount: Int { tcpConnections.count }
}

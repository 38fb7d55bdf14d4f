// UDP sockets: bind, connect, sendto/recvfrom, and ICMP port unreachable -> ECONNREFUSED on a
// connected socket (as Linux reports it without IP_RECVERR).

final class UDPSocket {
    let id: SocketID
    var local: SocketAddress?
    var remote: SocketAddress?
    var queue: [(SocketAddress, [UInt8])] = []
    var queueHead = 0
    var queuedBytes = 0
    var pendingError: NetErrno?
    var readShut = false
    var writeShut = false

    static let perDatagramOverhead = 256

    init(id: SocketID) { self.id = id }

    var hasData: Bool { queueHead < queue.count }

    var readiness: Readiness {
        var r: Readiness = []
        if hasData || readShut { r.insert(.readable) }
        if !writeShut { r.insert(.writable) }
        if pendingError != nil { r.insert(.error) }
        if readShut && writeShut { r.insert(.hup) }
        return r
    }
}

extension NetworkStack {
    func udpPortInUse(_ p: UInt16, address: IPv4Address = .any) -> Bool {
        udpSockets.values.contains { s in
            guard let l = s.local, l.port == p else { return false }
            return address.isAny || l.address.isAny || l.address == address
        }
    }

    func udpBind(_ u: UDPSocket, _ addr: SocketAddress) throws(NetErrno) {
        guard u.local == nil else { throw .EINVAL }
        guard addr.address.isAny || isLocalAddress(addr.address) || addr.address.isBroadcast else { throw .EADDRNOTAVAIL }
        var port = addr.port
        if port == 0 {
            guard let p = ephemeralPort(inUse: { udpPortInUse($0) }) else { throw .EADDRINUSE }
            port = p
        } else if udpPortInUse(port, address: addr.address) {
            throw .EADDRINUSE
        }
        u.local = SocketAddress(addr.address, port)
    }

    func udpConnect(_ u: UDPSocket, _ addr: SocketAddress) throws(NetErrno) {
        guard addr.port != 0 else { throw .EINVAL }
        guard let r = route(to: addr.address) else { throw .ENETUNREACH }
        if u.local == nil { try udpBind(u, SocketAddress(.any, 0)) }
        if u.local!.address.isAny { u.local!.address = r.source }
        u.remote = addr
        u.pendingError = nil
    }

    func udpSend(_ u: UDPSocket, _ data: [UInt8], to dest: SocketAddress?) throws(NetErrno) -> Int {
        if let e = u.pendingError { u.pendingError = nil; throw e }
        guard !u.writeShut else { throw .EPIPE }
        guard let dst = dest ?? u.remote else { throw .EDESTADDRREQ }
        guard dst.port != 0 else { throw .EINVAL }
        guard data.count <= 65535 - 28 else { throw .EMSGSIZE }
        guard let r = route(to: dst.address) else { throw .ENETUNREACH }
        if u.local == nil { try udpBind(u, SocketAddress(.any, 0)) }
        let src = u.local!.address.isAny ? r.source : u.local!.address
        var p = makePacket(transportLength: UDPHeader.length + data.count)
        let o = NetworkStack.transportOffset
        p.replaceSubrange((o + 8)..<p.count, with: data)
        UDPHeader(sourcePort: u.local!.port, destinationPort: dst.port, length: 8 + data.count)
            .write(into: &p, at: o, source: src, destination: dst.address)
        guard ipOutput(p, proto: IPProtocol.udp, source: src, destination: dst.address, route: r) else { throw .EMSGSIZE }
        return data.count
    }

    func udpReceive(_ u: UDPSocket, max: Int) throws(NetErrno) -> ([UInt8], SocketAddress) {
        if let e = u.pendingError { u.pendingError = nil; throw e }
        guard u.hasData else {
            if u.readShut { return ([], SocketAddress(.any, 0)) }
            throw .EAGAIN
        }
        let (from, d) = u.queue[u.queueHead]
        u.queueHead += 1
        u.queuedBytes -= d.count + UDPSocket.perDatagramOverhead
        if u.queueHead == u.queue.count || u.queueHead > 64 {
            u.queue.removeFirst(u.queueHead)
            u.queueHead = 0
        }
        return (d.count > max ? Array(d.prefix(max)) : d, from)  // the excess of a datagram is discarded
    }

    /// The socket a datagram for `local` from `remote` belongs to: connected sockets first, then
    /// sockets bound to the exact address, then wildcard binds.
    func udpLookup(local: SocketAddress, remote: SocketAddress) -> UDPSocket? {
        var best: UDPSocket?
        var bestScore = -1
        for s in udpSockets.values {
            guard let l = s.local, l.port == local.port else { continue }
            guard l.address.isAny || l.address == local.address else { continue }
            var score = l.address.isAny ? 0 : 1
            if let r = s.remote {
                guard r == remote else { continue }
                score += 2
            }
            if score > bestScore { best = s; bestScore = score }
        }
        return best
    }

    func handleUDP(_ h: IPv4Header, _ b: [UInt8], _ payload: Range<Int>) {
        let u: UDPHeader
        do { u = try UDPHeader.parse(b, payload, source: h.source, destination: h.destination) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        let local = SocketAddress(h.destination, u.destinationPort)
        let remote = SocketAddress(h.source, u.sourcePort)
        guard let s = udpLookup(local: local, remote: remote) else {
            if !h.destination.isBroadcast {
                sendICMPError(type: ICMPType.destinationUnreachable, code: ICMPUnreachableCode.port, about: h, b, payload)
            }
            return
        }
        let d = Array(b[(payload.lowerBound + 8)..<(payload.lowerBound + u.length)])
        // Each datagram is charged an overhead too, so empty datagrams cannot queue without bound.
        let charge = d.count + UDPSocket.perDatagramOverhead
        guard !s.readShut, s.queuedBytes + charge <= config.udpReceiveBufferBytes else { return }
        s.queue.append((remote, d))
        changed.insert(s.id)
        s.queuedBytes += charge
    }

    func udpUnreachable(local: SocketAddress, remote: SocketAddress, code: UInt8) {
        for s in udpSockets.values where s.remote == remote && s.local?.port == local.port {
            changed.insert(s.id)
            s.pendingError = code == ICMPUnreachableCode.port || code == ICMPUnreachableCode.proto ? .ECONNREFUSED : .EHOSTUNREACH
        }
    }
}

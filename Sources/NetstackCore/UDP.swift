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
    /// IP_TOS and IPV6_TCLASS: the byte written into every packet's header.
    var tos: UInt8 = 0
    var trafficClass: UInt8 = 0
    /// SO_BROADCAST: without it, sending to a broadcast address is EACCES (as Linux).
    var broadcast = false
    /// SO_RCVBUF; nil uses the stack's default.
    var receiveLimit: Int?
    var readShut = false
    var writeShut = false
    /// On the stack's list of changed sockets (NetworkStack.touch).
    var changeListed = false

    static let perDatagramOverhead = 256

    /// AF_INET6 socket.
    let v6: Bool
    /// IPV6_V6ONLY; off (the Linux default) lets an AF_INET6 socket bound to :: take IPv4 too.
    var v6Only = false
    var dual: Bool { v6 && !v6Only && (local?.ip.isUnspecified ?? true) }

    init(id: SocketID, v6: Bool) {
        self.id = id
        self.v6 = v6
    }

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
    func udpPortInUse(_ p: UInt16, address: IPAddress, dual: Bool) -> Bool {
        udpSockets.values.contains { s in
            guard let l = s.local, l.port == p else { return false }
            return address.conflicts(dual: dual, with: l.ip, otherDual: s.dual)
        }
    }

    func udpBind(_ u: UDPSocket, _ addr: SocketAddress) throws(NetErrno) {
        guard u.local == nil else { throw .EINVAL }
        let dual = u.v6 && !u.v6Only && addr.ip.isUnspecified && addr.ip.isV6
        guard addr.ip.isUnspecified || isLocal(addr.ip) || addr.ip == .v4(.broadcast) else { throw .EADDRNOTAVAIL }
        var port = addr.port
        if port == 0 {
            guard let p = ephemeralPort(inUse: { udpPortInUse($0, address: addr.ip, dual: dual) }) else { throw .EADDRINUSE }
            port = p
        } else if udpPortInUse(port, address: addr.ip, dual: dual) {
            throw .EADDRINUSE
        }
        u.local = SocketAddress(ip: addr.ip, port: port)
    }

    func udpConnect(_ u: UDPSocket, _ addr: SocketAddress) throws(NetErrno) {
        guard addr.port != 0 else { throw .EINVAL }
        guard let r = route(to: addr.ip) else { throw .ENETUNREACH }
        if u.local == nil { try udpBind(u, SocketAddress.any(v6: u.v6)) }
        if u.local!.ip.isUnspecified { u.local!.ip = r.source }
        u.remote = addr
        u.pendingError = nil
    }

    func udpSend<C: Collection>(_ u: UDPSocket, _ data: C, to dest: SocketAddress?) throws(NetErrno) -> Int
        where C.Element == UInt8 {
        if let e = u.pendingError { u.pendingError = nil; throw e }
        guard !u.writeShut else { throw .EPIPE }
        guard let dst = dest ?? u.remote else { throw .EDESTADDRREQ }
        guard dst.port != 0 else { throw .EINVAL }
        guard data.count <= 65535 - 28 else { throw .EMSGSIZE }
        guard let r = route(to: dst.ip) else { throw .ENETUNREACH }
        if case .v4(let d) = dst.ip, case .v4(let rr) = r, d.isBroadcast || d == rr.interface.subnetBroadcast, !u.broadcast {
            throw .EACCES
        }
        if u.local == nil { try udpBind(u, SocketAddress.any(v6: u.v6)) }
        let src = u.local!.ip.isUnspecified ? r.source : u.local!.ip
        guard let pseudo = PseudoHeader(source: src, destination: dst.ip) else { throw .EAFNOSUPPORT }
        let v6 = dst.ip.isV6
        var p = makePacket(transportLength: UDPHeader.length + data.count, v6: v6)
        let o = NetworkStack.transportOffset(v6: v6)
        p.replaceSubrange((o + 8)..<p.count, with: data)
        UDPHeader(sourcePort: u.local!.port, destinationPort: dst.port, length: 8 + data.count)
            .write(into: &p, at: o, pseudo: pseudo)
        guard output(p, proto: IPProtocol.udp, source: src, destination: dst.ip, route: r, tos: (u.tos, u.trafficClass)) else { throw .EMSGSIZE }
        if !v6 { stats.udpOutDatagrams += 1 }
        return data.count
    }

    func udpReceive(_ u: UDPSocket, max: Int, peek: Bool = false) throws(NetErrno) -> ([UInt8], SocketAddress) {
        if let e = u.pendingError { u.pendingError = nil; throw e }
        guard u.hasData else {
            if u.readShut { return ([], SocketAddress.any(v6: u.v6)) }
            throw .EAGAIN
        }
        let (from, d) = u.queue[u.queueHead]
        if peek { return (d.count > max ? Array(d.prefix(max)) : d, from) }
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
            guard l.ip.accepts(local.ip, dual: s.dual) else { continue }
            var score = l.ip.isUnspecified ? 0 : 1
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
        guard udpLookup(local: local, remote: remote) != nil else {
            stats.udpNoPorts += 1
            if !h.destination.isBroadcast {
                sendICMPError(type: ICMPType.destinationUnreachable, code: ICMPUnreachableCode.port, about: h, b, payload)
            }
            return
        }
        udpDeliver(u, b, payload, local: local, remote: remote)
    }

    func handleUDP6(_ h: IPv6Header, _ b: [UInt8], _ payload: Range<Int>) {
        let u: UDPHeader
        do { u = try UDPHeader.parse(b, payload, pseudo: .v6(h.source, h.destination)) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        let local = SocketAddress(h.destination, u.destinationPort)
        let remote = SocketAddress(h.source, u.sourcePort)
        guard udpLookup(local: local, remote: remote) != nil else {
            if !h.destination.isMulticast {
                sendICMPv6Error(type: ICMPv6Type.destinationUnreachable, code: 4, about: h, b)
            }
            return
        }
        udpDeliver(u, b, payload, local: local, remote: remote)
    }

    private func udpDeliver(_ u: UDPHeader, _ b: [UInt8], _ payload: Range<Int>, local: SocketAddress, remote: SocketAddress) {
        guard let s = udpLookup(local: local, remote: remote) else { return }
        let d = Array(b[(payload.lowerBound + 8)..<(payload.lowerBound + u.length)])
        // Each datagram is charged an overhead too, so empty datagrams cannot queue without bound.
        let charge = d.count + UDPSocket.perDatagramOverhead
        guard !s.readShut, s.queuedBytes + charge <= (s.receiveLimit ?? config.udpReceiveBufferBytes) else { return }
        if !remote.ip.isV6 { stats.udpInDatagrams += 1 }
        s.queue.append((remote, d))
        touch(s)
        s.queuedBytes += charge
    }

    func udpUnreachable(local: SocketAddress, remote: SocketAddress, code: UInt8) {
        for s in udpSockets.values where s.remote == remote && s.local?.port == local.port {
            touch(s)
            s.pendingError = code == ICMPUnreachableCode.port || code == ICMPUnreachableCode.proto ? .ECONNREFUSED : .EHOSTUNREACH
        }
    }
}

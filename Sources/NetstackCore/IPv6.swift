// IPv6 network layer (first slice): addresses per interface, on-link routing and one default
// gateway, neighbour discovery (RFC 4861 address resolution only: NS/NA, no router discovery or
// NUD), ICMPv6 echo and port unreachable, TCP/UDP delivery to AF_INET6 sockets, fragmentation of
// oversized output and reassembly (shared with IPv4: memory limit, timeout, overlap discards).

struct Neighbour6Key: Hashable {
    var interface: Int
    var address: IPv6Address
}

public struct EchoReply6: Equatable, Sendable {
    public var from: IPv6Address
    public var identifier: UInt16
    public var sequence: UInt16
    public var payload: [UInt8]
}

struct Route6Result {
    var interface: NetworkInterface
    var nextHop: IPv6Address
    var source: IPv6Address
    var isLocal: Bool
}

extension NetworkStack {
    static let transportOffset6 = EthernetHeader.length + IPv6Header.length

    public func addIPv6Address(_ a: IPv6Address, prefixLength: Int, interface: Int) throws(NetErrno) {
        guard interface > 0, interface < interfaces.count, (0...128).contains(prefixLength), !a.isMulticast else { throw .EINVAL }
        interfaces[interface].ipv6.append(IPv6InterfaceAddress(address: a, prefixLength: prefixLength))
    }

    public func setIPv6DefaultGateway(_ gw: IPv6Address, interface: Int) throws(NetErrno) {
        guard interface > 0, interface < interfaces.count else { throw .EINVAL }
        ipv6Gateway = (gw, interface)
    }

    func isLocalIPv6(_ a: IPv6Address) -> Bool {
        for i in interfaces { for x in i.ipv6 where x.address == a { return true } }
        return false
    }

    func route6(to dst: IPv6Address) -> Route6Result? {
        if isLocalIPv6(dst) {
            return Route6Result(interface: interfaces[0], nextHop: dst, source: dst, isLocal: true)
        }
        func source(on ifc: NetworkInterface) -> IPv6Address? {
            if !dst.isLinkLocal, let g = ifc.ipv6.first(where: { !$0.address.isLinkLocal }) { return g.address }
            return ifc.ipv6.first?.address
        }
        // Link-local and multicast destinations: the first Ethernet interface (no scope ids yet).
        if dst.isLinkLocal || dst.isMulticast {
            guard interfaces.count > 1, let s = source(on: interfaces[1]) else { return nil }
            return Route6Result(interface: interfaces[1], nextHop: dst, source: s, isLocal: false)
        }
        var best: (NetworkInterface, Int)?
        for ifc in interfaces.dropFirst() {
            for x in ifc.ipv6 where !x.address.isLinkLocal && dst.matches(x.address, length: x.prefixLength) {
                if best == nil || x.prefixLength > best!.1 { best = (ifc, x.prefixLength) }
            }
        }
        if let (ifc, _) = best, let s = source(on: ifc) {
            return Route6Result(interface: ifc, nextHop: dst, source: s, isLocal: false)
        }
        if let gw = ipv6Gateway, let s = source(on: interfaces[gw.interface]) {
            return Route6Result(interface: interfaces[gw.interface], nextHop: gw.address, source: s, isLocal: false)
        }
        return nil
    }

    func handleIPv6(_ b: [UInt8], at o: Int, on ifc: NetworkInterface, reassembled: Bool = false) {
        let h: IPv6Header
        do { h = try IPv6Header.parse(b, at: o) } catch { stats.malformed += 1; return }
        let forUs = isLocalIPv6(h.destination) || h.destination == .allNodes
            || ifc.ipv6.contains { $0.address.solicitedNode == h.destination }
        guard forUs, !h.source.isMulticast else { return }
        if !ifc.isLoopback && (h.source.isLoopback || h.destination.isLoopback) { return }
        let payload = (o + IPv6Header.length)..<(o + IPv6Header.length + h.payloadLength)
        let proto: UInt8, start: Int
        do { (proto, start) = try IPv6Header.upperLayer(b, payload, first: h.nextHeader) } catch {
            stats.ipv6Dropped += 1
            return
        }
        switch proto {
        case IPv6NextHeader.fragment:
            guard !reassembled else { stats.ipv6Dropped += 1; return }  // no fragments inside fragments
            handleFragment6(h, b, start..<payload.upperBound, on: ifc)
        case IPv6NextHeader.icmpv6: handleICMPv6(h, b, start..<payload.upperBound, on: ifc)
        case IPv6NextHeader.tcp: handleTCP6(h, b, start..<payload.upperBound)
        case IPv6NextHeader.udp: handleUDP6(h, b, start..<payload.upperBound)
        default: stats.ipv6Dropped += 1
        }
    }

    /// RFC 8200 4.5: the fragment header, then the fragmentable part. The reassembled payload is put
    /// behind a rebuilt fixed header (extension headers before the fragment header are not kept) and
    /// processed as a new packet.
    private func handleFragment6(_ h: IPv6Header, _ b: [UInt8], _ r: Range<Int>, on ifc: NetworkInterface) {
        guard r.count >= 8 else { stats.malformed += 1; return }
        let o = r.lowerBound
        let next = b[o]
        let field = load16(b, o + 2)
        let offset = Int(field & 0xfff8)
        let more = field & 1 == 1
        let data = (o + 8)..<r.upperBound
        let whole: [UInt8]
        if offset == 0 && !more {
            whole = Array(b[data])  // an atomic fragment (RFC 6946)
        } else {
            let key = ReassemblyKey(source: .v6(h.source), destination: .v6(h.destination), proto: 0,
                                    identification: load32(b, o + 4))
            guard let w = reassembler.add(key: key, offset: offset, more: more, b, payload: data, now: now, maxLength: 65535)
            else { return }
            whole = w
        }
        var p = [UInt8](repeating: 0, count: NetworkStack.transportOffset6)
        p.append(contentsOf: whole)
        var nh = h
        nh.nextHeader = next
        nh.payloadLength = whole.count
        nh.write(into: &p, at: NetworkStack.linkHeadroom)
        handleIPv6(p, at: NetworkStack.linkHeadroom, on: ifc, reassembled: true)
    }

    func handleICMPv6(_ h: IPv6Header, _ b: [UInt8], _ r: Range<Int>, on ifc: NetworkInterface) {
        let m: ICMPv6Header
        do { m = try ICMPv6Header.parse(b, r, source: h.source, destination: h.destination) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        let body = (r.lowerBound + 8)..<r.upperBound
        switch m.type {
        case ICMPv6Type.echoRequest:
            guard m.code == 0, !h.destination.isMulticast else { return }
            sendICMPv6(type: ICMPv6Type.echoReply, code: 0, rest: m.restOfHeader, body: Array(b[body]), to: h.source,
                       from: h.destination)
            stats.icmpEchoRepliesSent += 1
        case ICMPv6Type.echoReply:
            if echoReplies6.count < 1024 {
                echoReplies6.append(EchoReply6(from: h.source, identifier: UInt16(truncatingIfNeeded: m.restOfHeader >> 16),
                                               sequence: UInt16(truncatingIfNeeded: m.restOfHeader), payload: Array(b[body])))
            }
        case ICMPv6Type.destinationUnreachable:
            // The body (after 4 unused bytes, already in the header) quotes the offending packet.
            guard body.count >= IPv6Header.length + 8, let inner = try? IPv6Header.parse(quote6(b, body), at: 0),
                  isLocalIPv6(inner.source) else { return }
            let q = body.lowerBound + IPv6Header.length
            let local = SocketAddress(inner.source, load16(b, q)), remote = SocketAddress(inner.destination, load16(b, q + 2))
            // ICMPv6 code 4 is "port unreachable" (ICMPv4 code 3).
            let code = m.code == 4 ? ICMPUnreachableCode.port : ICMPUnreachableCode.host
            if inner.nextHeader == IPv6NextHeader.udp {
                udpUnreachable(local: local, remote: remote, code: code)
            } else if inner.nextHeader == IPv6NextHeader.tcp {
                tcpUnreachable(local: local, remote: remote, code: code, sequence: load32(b, q + 4))
            }
        case ICMPv6Type.neighborSolicitation:
            // RFC 4861 7.1.1: hop limit 255 proves the packet was not forwarded.
            guard h.hopLimit == 255, m.code == 0, !ifc.isLoopback,
                  let ns = try? NDPMessage.parse(b, body, optionType: 1), !ns.target.isMulticast,
                  ifc.ipv6.contains(where: { $0.address == ns.target }) else { return }
            if h.source.isUnspecified {
                guard ns.linkAddress == nil, h.destination.isMulticast else { return }  // DAD probe
            } else if let mac = ns.linkAddress {
                learn6(Neighbour6Key(interface: ifc.index, address: h.source), mac: mac)
            }
            let solicited = !h.source.isUnspecified
            let flags: UInt32 = (solicited ? 0x4000_0000 : 0) | 0x2000_0000  // S, O
            let na = NDPMessage(target: ns.target, linkAddress: ifc.mac)
            var nb = [UInt8](repeating: 0, count: na.bodyLength)
            na.write(into: &nb, at: 0, optionType: 2)
            sendICMPv6(type: ICMPv6Type.neighborAdvertisement, code: 0, rest: flags, body: nb,
                       to: solicited ? h.source : .allNodes, from: ns.target, hopLimit: 255, directMAC: ns.linkAddress)
        case ICMPv6Type.neighborAdvertisement:
            guard h.hopLimit == 255, m.code == 0, !ifc.isLoopback,
                  let na = try? NDPMessage.parse(b, body, optionType: 2), !na.target.isMulticast,
                  let mac = na.linkAddress else { return }
            let key = Neighbour6Key(interface: ifc.index, address: na.target)
            if neighbours6[key] != nil { learn6(key, mac: mac) }  // only answers we asked for
        default:
            break
        }
    }

    /// The quoted packet of an ICMPv6 error with its payload length cut to what was quoted.
    private func quote6(_ b: [UInt8], _ body: Range<Int>) -> [UInt8] {
        var q = Array(b[body])
        if q.count >= IPv6Header.length, Int(load16(q, 4)) > q.count - IPv6Header.length {
            store16(&q, 4, UInt16(q.count - IPv6Header.length))
        }
        return q
    }

    /// An ICMPv6 error about packet `h` (RFC 4443 2.4: never about errors or multicast; quote as much
    /// as fits in the minimum MTU).
    func sendICMPv6Error(type: UInt8, code: UInt8, about h: IPv6Header, _ b: [UInt8]) {
        guard !h.destination.isMulticast, !h.source.isMulticast, !h.source.isUnspecified else { return }
        let start = NetworkStack.linkHeadroom  // where every received or looped-back packet's IPv6 header sits
        let end = min(b.count, start + IPv6Header.length + h.payloadLength, start + 1280 - 48)
        guard end > start else { return }
        sendICMPv6(type: type, code: code, rest: 0, body: Array(b[start..<end]), to: h.source,
                   from: isLocalIPv6(h.destination) ? h.destination : nil)
    }

    func sendICMPv6(type: UInt8, code: UInt8, rest: UInt32, body: [UInt8], to dst: IPv6Address, from src: IPv6Address?,
                    hopLimit: UInt8 = 64, directMAC: MACAddress? = nil) {
        guard let rt = route6(to: dst) else { stats.droppedNoRoute += 1; return }
        let s = src ?? rt.source
        let o = NetworkStack.transportOffset6
        var p = [UInt8](repeating: 0, count: o + 8 + body.count)
        p.replaceSubrange((o + 8)..<p.count, with: body)
        ICMPv6Header(type: type, code: code, restOfHeader: rest).write(into: &p, o..<p.count, source: s, destination: dst)
        ip6Output(p, nextHeader: IPv6NextHeader.icmpv6, source: s, destination: dst, route: rt, hopLimit: hopLimit,
                  directMAC: directMAC)
    }

    /// Fills in the IPv6 header of `p` (Ethernet headroom, then 40 bytes) and sends it.
    @discardableResult
    func ip6Output(_ p: consuming [UInt8], nextHeader: UInt8, source: IPv6Address, destination: IPv6Address,
                   route rt: Route6Result, hopLimit: UInt8 = 64, directMAC: MACAddress? = nil, segmentSize: Int = 0, trafficClass: UInt8 = 0) -> Bool {
        var h = IPv6Header()
        h.trafficClass = trafficClass
        h.payloadLength = p.count - NetworkStack.transportOffset6
        h.nextHeader = nextHeader
        h.hopLimit = hopLimit
        h.source = source
        h.destination = destination
        guard h.payloadLength <= 65535 else { return false }
        h.write(into: &p, at: NetworkStack.linkHeadroom)
        if rt.isLocal || rt.interface.isLoopback {
            loopbackQueue.append(p)
            return true
        }
        let ifc = rt.interface
        guard ifc.link != nil else { return false }
        if segmentSize > 0 && IPv6Header.length + h.payloadLength > ifc.mtu
            && IPv6Header.length + h.payloadLength <= (ifc.link?.segmentationOffload ?? 0) {
            link6Output(p, route: rt, directMAC: directMAC, segmentSize: segmentSize)
            return true
        }
        if IPv6Header.length + h.payloadLength > ifc.mtu {
            // Only the source fragments in IPv6 (RFC 8200 4.5); there are no extension headers to keep.
            let per = (ifc.mtu - IPv6Header.length - 8) & ~7
            guard per >= 8 else { return false }
            let id = rng.next32()
            let start = NetworkStack.transportOffset6
            let total = p.count - start
            var off = 0
            while off < total {
                let n = min(per, total - off)
                var f = [UInt8](repeating: 0, count: start + 8 + n)
                f.replaceSubrange((start + 8)..<f.count, with: p[(start + off)..<(start + off + n)])
                var fh = h
                fh.nextHeader = IPv6NextHeader.fragment
                fh.payloadLength = 8 + n
                fh.write(into: &f, at: NetworkStack.linkHeadroom)
                f[start] = nextHeader
                store16(&f, start + 2, UInt16(off) | (off + n < total ? 1 : 0))
                store32(&f, start + 4, id)
                link6Output(f, route: rt, directMAC: directMAC)
                off += n
            }
            return true
        }
        link6Output(p, route: rt, directMAC: directMAC)
        return true
    }

    private func link6Output(_ p: consuming [UInt8], route rt: Route6Result, directMAC: MACAddress?, segmentSize: Int = 0) {
        let ifc = rt.interface
        guard let link = ifc.link else { return }
        let mac: MACAddress
        if rt.nextHop.isMulticast {
            mac = rt.nextHop.multicastMAC
        } else if let d = directMAC {
            mac = d
        } else {
            let key = Neighbour6Key(interface: ifc.index, address: rt.nextHop)
            guard let m = neighbours6[key]?.mac else {
                queueForResolution6(p, key: key)
                return
            }
            mac = m
        }
        EthernetHeader(destination: mac, source: ifc.mac, etherType: EtherType.ipv6).write(into: &p)
        stats.framesOut += 1
        ifc.countTx(p.count)
        if segmentSize > 0 { link.transmit(p, segmentSize: segmentSize) } else { link.transmit(p) }
    }

    func learn6(_ key: Neighbour6Key, mac: MACAddress) {
        var n = neighbours6[key] ?? Neighbour(deadline: 0)
        n.mac = mac
        n.attempts = 0
        n.deadline = now + config.arpReachableTime
        let waiting = n.pending
        n.pending = []
        neighbours6[key] = n
        let ifc = interfaces[key.interface]
        for var p in waiting {
            EthernetHeader(destination: mac, source: ifc.mac, etherType: EtherType.ipv6).write(into: &p)
            stats.framesOut += 1
            ifc.countTx(p.count)
            ifc.link?.transmit(p)
        }
    }

    func queueForResolution6(_ p: [UInt8], key: Neighbour6Key) {
        if var n = neighbours6[key] {
            if n.pending.count >= config.arpPendingLimit { n.pending.removeFirst() }
            n.pending.append(p)
            neighbours6[key] = n
            return
        }
        neighbours6[key] = Neighbour(mac: nil, pending: [p], attempts: 1, deadline: now + config.arpRetryInterval)
        sendSolicitation(key)
    }

    func sendSolicitation(_ key: Neighbour6Key) {
        let ifc = interfaces[key.interface]
        guard let src = ifc.ipv6.first?.address else { return }
        let ns = NDPMessage(target: key.address, linkAddress: ifc.mac)
        var nb = [UInt8](repeating: 0, count: ns.bodyLength)
        ns.write(into: &nb, at: 0, optionType: 1)
        let group = key.address.solicitedNode
        let o = NetworkStack.transportOffset6
        var p = [UInt8](repeating: 0, count: o + 8 + nb.count)
        p.replaceSubrange((o + 8)..<p.count, with: nb)
        ICMPv6Header(type: ICMPv6Type.neighborSolicitation, code: 0, restOfHeader: 0).write(into: &p, o..<p.count, source: src, destination: group)
        stats.ndpSolicitationsSent += 1
        ip6Output(p, nextHeader: IPv6NextHeader.icmpv6, source: src, destination: group,
                  route: Route6Result(interface: ifc, nextHop: group, source: src, isLocal: false), hopLimit: 255)
    }

    func neighbour6Timer(_ key: Neighbour6Key) {
        guard var n = neighbours6[key] else { return }
        if n.mac != nil || n.attempts >= config.arpAttempts {
            if n.mac == nil { stats.droppedUnresolved += n.pending.count }
            neighbours6[key] = nil
            return
        }
        n.attempts += 1
        n.deadline = now + config.arpRetryInterval
        neighbours6[key] = n
        sendSolicitation(key)
    }

    /// The resolved hardware address of an IPv6 neighbour, if known.
    public func neighbour6(_ address: IPv6Address, interface: Int) -> MACAddress? {
        neighbours6[Neighbour6Key(interface: interface, address: address)]?.mac
    }

    /// Sends an ICMPv6 echo request; replies are collected in `echoReplies6`.
    public func ping6(_ dst: IPv6Address, identifier: UInt16, sequence: UInt16, payload: [UInt8] = []) throws(NetErrno) {
        guard route6(to: dst) != nil else { throw .ENETUNREACH }
        sendICMPv6(type: ICMPv6Type.echoRequest, code: 0, rest: UInt32(identifier) << 16 | UInt32(sequence), body: payload,
                   to: dst, from: nil)
    }
}

import Testing
@testable import NetstackCore

@Suite struct IPv6Tests {
    @Test func addressTextRoundTrip() {
        #expect(IPv6Address("::") == .unspecified)
        #expect(IPv6Address("::1") == .loopback)
        #expect(IPv6Address("fe80::1")?.isLinkLocal == true)
        let a = IPv6Address("2001:db8:0:0:1:0:0:1")
        #expect(a?.description == "2001:db8::1:0:0:1")
        #expect(IPv6Address("2001:db8::1")?.description == "2001:db8::1")
        for bad in ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7::8", "::+1", "::-1"] {
            #expect(IPv6Address(bad) == nil, "\(bad)")
        }
        let ll = IPv6Address.linkLocal(mac: MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56))
        #expect(ll.description == "fe80::5054:ff:fe12:3456")
        #expect(ll.solicitedNode.description == "ff02::1:ff12:3456")
        #expect(ll.solicitedNode.multicastMAC == MACAddress(0x33, 0x33, 0xff, 0x12, 0x34, 0x56))
        #expect(IPv6Address("2001:db8::77")!.matches(IPv6Address("2001:db8::")!, length: 64))
        #expect(!IPv6Address("2001:db9::77")!.matches(IPv6Address("2001:db8::")!, length: 64))
    }

    @Test func headerAndICMPv6Checks() throws {
        let src = IPv6Address("fe80::1")!, dst = IPv6Address("fe80::2")!
        var p = [UInt8](repeating: 0, count: 40 + 8 + 4)
        var h = IPv6Header()
        h.payloadLength = 12
        h.nextHeader = IPv6NextHeader.icmpv6
        h.hopLimit = 255
        h.source = src
        h.destination = dst
        h.trafficClass = 0xa5
        h.flowLabel = 0x12345
        h.write(into: &p, at: 0)
        ICMPv6Header(type: ICMPv6Type.echoRequest, code: 0, restOfHeader: 0x0001_0002).write(into: &p, 40..<52, source: src, destination: dst)
        #expect(try IPv6Header.parse(p, at: 0) == h)
        #expect(try ICMPv6Header.parse(p, 40..<52, source: src, destination: dst).type == ICMPv6Type.echoRequest)
        // The pseudo-header is covered: another destination fails the checksum.
        #expect(throws: ParseError.badChecksum) { try ICMPv6Header.parse(p, 40..<52, source: src, destination: src) }
        for n in 0..<p.count { _ = try? IPv6Header.parse(Array(p.prefix(n)), at: 0) }
        #expect(throws: ParseError.truncated) { try IPv6Header.parse(Array(p.prefix(50)), at: 0) }
        // Extension headers: hop-by-hop then ICMPv6; a fragment header is refused; a chain too long too.
        var ext = [UInt8](repeating: 0, count: 8) + [1, 2, 3]
        ext[0] = IPv6NextHeader.icmpv6
        let (proto, start) = try IPv6Header.upperLayer(ext, 0..<ext.count, first: IPv6NextHeader.hopByHop)
        #expect(proto == IPv6NextHeader.icmpv6 && start == 8)
        let frag = try IPv6Header.upperLayer(ext, 0..<ext.count, first: IPv6NextHeader.fragment)
        #expect(frag.0 == IPv6NextHeader.fragment && frag.1 == 0)
        let loop = [UInt8](repeating: 0, count: 80)  // nine hop-by-hop headers pointing at each other
        #expect(throws: ParseError.badHeaderLength) { try IPv6Header.upperLayer(loop, 0..<80, first: 0) }
        var long = ext
        long[1] = 5  // claims 48 bytes
        #expect(throws: ParseError.truncated) { try IPv6Header.upperLayer(long, 0..<long.count, first: 0) }
        // NDP option of length zero is invalid.
        var ns = [UInt8](repeating: 0, count: 24)
        ns[16] = 1
        #expect(throws: ParseError.badLength) { try NDPMessage.parse(ns, 0..<24, optionType: 1) }
    }

    @Test func neighbourDiscoveryThenPing6() throws {
        let p = Pair()
        let llB = IPv6Address.linkLocal(mac: Pair.macB)
        try p.a.ping6(llB, identifier: 9, sequence: 1, payload: [1, 2, 3])
        #expect(p.a.stats.ndpSolicitationsSent == 1)
        #expect(p.run(for: Time.second) { !p.a.echoReplies6.isEmpty })
        #expect(p.a.echoReplies6 == [EchoReply6(from: llB, identifier: 9, sequence: 1, payload: [1, 2, 3])])
        #expect(p.a.neighbour6(llB, interface: 1) == Pair.macB)
        #expect(p.b.neighbour6(IPv6Address.linkLocal(mac: Pair.macA), interface: 1) == Pair.macA)  // from the NS
        // Global addresses on a shared prefix, then loopback.
        try p.a.addIPv6Address(IPv6Address("2001:db8::a")!, prefixLength: 64, interface: 1)
        try p.b.addIPv6Address(IPv6Address("2001:db8::b")!, prefixLength: 64, interface: 1)
        try p.a.ping6(IPv6Address("2001:db8::b")!, identifier: 9, sequence: 2)
        #expect(p.run(for: Time.second) { p.a.echoReplies6.count == 2 })
        #expect(p.a.echoReplies6.last?.from == IPv6Address("2001:db8::b"))
        try p.a.ping6(.loopback, identifier: 9, sequence: 3)
        p.a.poll()
        #expect(p.a.echoReplies6.count == 3)
        #expect(throws: NetErrno.ENETUNREACH) { try p.a.ping6(IPv6Address("2001:db9::1")!, identifier: 1, sequence: 1) }
    }

    @Test func fragmentedPing6AndUDP6() throws {
        let p = Pair()
        try p.a.addIPv6Address(IPv6Address("2001:db8::a")!, prefixLength: 64, interface: 1)
        try p.b.addIPv6Address(IPv6Address("2001:db8::b")!, prefixLength: 64, interface: 1)
        p.wire.keepLog = true
        let big = pattern(4000, seed: 1)
        try p.a.ping6(IPv6Address("2001:db8::b")!, identifier: 5, sequence: 1, payload: big)
        #expect(p.run(for: Time.second) { !p.a.echoReplies6.isEmpty })
        #expect(p.a.echoReplies6.first?.payload == big)
        // Three fragments each way, every frame within the MTU.
        let fragments = p.wire.log.filter { e in
            guard let h = try? IPv6Header.parse(e.frame, at: 14) else { return false }
            return h.nextHeader == IPv6NextHeader.fragment
        }
        #expect(fragments.count == 6)
        #expect(p.wire.log.allSatisfy { $0.frame.count <= 1514 })
        // UDP over IPv6, 20 000 bytes, with a duplicated and reordered link.
        p.wire.duplicatePercent = 30
        p.wire.reorderPercent = 30
        let server = p.b.socket(.datagram, family: .inet6)
        try p.b.bind(server, SocketAddress(IPv6Address.unspecified, 9))
        let client = p.a.socket(.datagram, family: .inet6)
        let payload = pattern(20_000, seed: 2)
        try p.a.sendTo(client, payload, to: SocketAddress(IPv6Address("2001:db8::b")!, 9))
        var got: [UInt8]?
        p.run(for: Time.second) { got = try? p.b.recv(server, max: 65536); return got != nil }
        #expect(got == payload)
    }

    @Test func unresolvableNeighbourGivesUp() throws {
        let p = Pair()
        try p.a.ping6(IPv6Address("fe80::99")!, identifier: 1, sequence: 1)
        p.run(for: 10 * Time.second)
        #expect(p.a.stats.ndpSolicitationsSent == 3)
        #expect(p.a.stats.droppedUnresolved == 1)
    }

    @Test func forwardedSolicitationIsIgnored() throws {
        // A solicitation with hop limit below 255 may come from off-link: RFC 4861 says drop it.
        let p = Pair()
        let llA = IPv6Address.linkLocal(mac: Pair.macA), llB = IPv6Address.linkLocal(mac: Pair.macB)
        for hop: UInt8 in [64, 255] {
            let ns = NDPMessage(target: llB, linkAddress: Pair.macA)
            var body = [UInt8](repeating: 0, count: ns.bodyLength)
            ns.write(into: &body, at: 0, optionType: 1)
            var f = [UInt8](repeating: 0, count: 14 + 40 + 8 + body.count)
            f.replaceSubrange((14 + 48)..<f.count, with: body)
            var h = IPv6Header()
            h.payloadLength = 8 + body.count
            h.nextHeader = IPv6NextHeader.icmpv6
            h.hopLimit = hop
            h.source = llA
            h.destination = llB.solicitedNode
            h.write(into: &f, at: 14)
            ICMPv6Header(type: ICMPv6Type.neighborSolicitation, code: 0, restOfHeader: 0).write(into: &f, 54..<f.count, source: llA, destination: h.destination)
            EthernetHeader(destination: llB.solicitedNode.multicastMAC, source: Pair.macA, etherType: EtherType.ipv6).write(into: &f)
            p.wire.inject(f, to: 1)
            p.run(for: 10 * Time.millisecond)
            #expect((p.b.neighbour6(llA, interface: 1) != nil) == (hop == 255))
        }
    }
}

@Suite struct IPv6TransportTests {
    static let a6 = IPv6Address("2001:db8::a")!
    static let b6 = IPv6Address("2001:db8::b")!

    func pair() throws -> Pair {
        let p = Pair()
        try p.a.addIPv6Address(IPv6TransportTests.a6, prefixLength: 64, interface: 1)
        try p.b.addIPv6Address(IPv6TransportTests.b6, prefixLength: 64, interface: 1)
        return p
    }

    @Test func tcpOverIPv6WithLoss() throws {
        let p = try pair()
        p.wire.lossPercent = 2
        let l = p.b.socket(.stream, family: .inet6)
        try p.b.bind(l, SocketAddress(IPv6Address.unspecified, 443))
        try p.b.listen(l, backlog: 4)
        let c = p.a.socket(.stream, family: .inet6)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(IPv6TransportTests.b6, 443)) }
        var s: SocketID?
        p.run(for: 30 * Time.second) {
            if s == nil { s = try? p.b.accept(l).0 }
            return s != nil && p.a.tcpState(c) == .established
        }
        let server = try #require(s)
        #expect(try p.b.peerAddress(server) == SocketAddress(IPv6TransportTests.a6, try p.a.localAddress(c).port))
        #expect(p.a.tcpSockets[c]!.mss == 1500 - 60 - 12)
        let data = pattern(300_000, seed: 6)
        var sent = 0, got = [UInt8]()
        var eof = false
        p.run(for: 120 * Time.second) {
            while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
            if sent == data.count { try? p.a.shutdown(c, .write) }
            while let d = try? p.b.recv(server, max: 70_000) {
                if d.isEmpty { eof = true; break }
                got += d
            }
            return eof
        }
        #expect(got == data && eof)
    }

    @Test func tcpOverIPv6LoopbackAndRefusal() throws {
        let p = try pair()
        let l = p.a.socket(.stream, family: .inet6)
        try p.a.bind(l, SocketAddress(IPv6Address.loopback, 8080))
        try p.a.listen(l, backlog: 1)
        let c = p.a.socket(.stream, family: .inet6)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(IPv6Address.unspecified, 8080)) }  // :: means here
        p.run(for: Time.second) { p.a.readiness(l).contains(.readable) }
        let (s, peer) = try p.a.accept(l)
        #expect(peer.ip == .v6(.loopback))
        try p.a.send(c, [1, 2, 3])
        var got = [UInt8]()
        p.run(for: Time.second) { got += (try? p.a.recv(s, max: 10)) ?? []; return got.count == 3 }
        #expect(got == [1, 2, 3])
        // A closed port over the wire answers with RST: ECONNREFUSED.
        let r = p.a.socket(.stream, family: .inet6)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(r, SocketAddress(IPv6TransportTests.b6, 9)) }
        p.run(for: Time.second) { p.a.readiness(r).contains(.error) }
        #expect(p.a.socketError(r) == .ECONNREFUSED)
    }

    @Test func udpOverIPv6EchoAndPortUnreachable() throws {
        let p = try pair()
        let server = p.b.socket(.datagram, family: .inet6)
        try p.b.setOption(server, .v6Only(true))
        try p.b.bind(server, SocketAddress(IPv6Address.unspecified, 7))
        // An IPv4 socket on the same port coexists (the IPv6 one is IPv6-only).
        let server4 = p.b.socket(.datagram)
        try p.b.bind(server4, SocketAddress(IPv4Address.any, 7))
        let client = p.a.socket(.datagram, family: .inet6)
        try p.a.connect(client, SocketAddress(IPv6TransportTests.b6, 7))
        try p.a.send(client, Array("hi6".utf8))
        var echoed: [UInt8]?
        p.run(for: Time.second) {
            if let (d, from) = try? p.b.recvFrom(server, max: 100) { _ = try? p.b.sendTo(server, d, to: from) }
            echoed = try? p.a.recv(client, max: 100)
            return echoed != nil
        }
        #expect(echoed == Array("hi6".utf8))
        #expect(throws: NetErrno.EAGAIN) { try p.b.recv(server4, max: 10) }
        let lonely = p.a.socket(.datagram, family: .inet6)
        try p.a.connect(lonely, SocketAddress(IPv6TransportTests.b6, 9999))
        try p.a.send(lonely, [1])
        p.run(for: Time.second) { p.a.readiness(lonely).contains(.error) }
        #expect(throws: NetErrno.ECONNREFUSED) { try p.a.recv(lonely, max: 10) }
    }

    @Test func familyMismatchErrors() throws {
        let p = try pair()
        let s6 = p.a.socket(.stream, family: .inet6)
        #expect(throws: NetErrno.EINVAL) { try p.a.bind(s6, SocketAddress(IPv4Address.any, 1)) }
        #expect(throws: NetErrno.EAFNOSUPPORT) { try p.a.connect(s6, SocketAddress(Pair.addrB, 1)) }
        let u4 = p.a.socket(.datagram)
        #expect(throws: NetErrno.EAFNOSUPPORT) { try p.a.sendTo(u4, [1], to: SocketAddress(IPv6TransportTests.b6, 1)) }
        #expect(throws: NetErrno.EADDRNOTAVAIL) { try p.a.bind(s6, SocketAddress(IPv6TransportTests.b6, 1)) }
    }
}

@Suite struct DualStackTests {
    @Test func dualStackListenerAcceptsIPv4WithMappedAddresses() throws {
        let p = Pair()
        let l = p.b.socket(.stream, family: .inet6)
        try p.b.bind(l, SocketAddress(IPv6Address.unspecified, 80))
        try p.b.listen(l, backlog: 4)
        // A plain IPv4 socket cannot take the port any more (the [::] listener spans both families).
        let l4 = p.b.socket(.stream)
        #expect(throws: NetErrno.EADDRINUSE) { try p.b.bind(l4, SocketAddress(IPv4Address.any, 80)) }
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
        var accepted: (SocketID, SocketAddress)?
        p.run(for: Time.second) { accepted = accepted ?? (try? p.b.accept(l)); return accepted != nil }
        let (s, peer) = try #require(accepted)
        let clientPort = try p.a.localAddress(c).port
        #expect(peer == SocketAddress(IPv6Address(v4Mapped: Pair.addrA), clientPort))
        #expect(try p.b.localAddress(s) == SocketAddress(IPv6Address(v4Mapped: Pair.addrB), 80))
        try p.b.send(s, [9, 8, 7])
        var got = [UInt8]()
        p.run(for: Time.second) { got += (try? p.a.recv(c, max: 10)) ?? []; return got.count == 3 }
        #expect(got == [9, 8, 7])
    }

    @Test func ipv6SocketConnectsToMappedIPv4() throws {
        let p = Pair()
        p.wire.keepLog = true
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(IPv4Address.any, 81))
        try p.b.listen(l, backlog: 1)
        let c = p.a.socket(.stream, family: .inet6)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(IPv6Address(v4Mapped: Pair.addrB), 81)) }
        p.run(for: Time.second) { p.a.tcpState(c) == .established }
        #expect(p.a.tcpState(c) == .established)
        #expect(try p.a.peerAddress(c) == SocketAddress(IPv6Address(v4Mapped: Pair.addrB), 81))
        // On the wire it is plain IPv4.
        #expect(p.wire.log.contains { tcpOf($0.frame) != nil })
        #expect(!p.wire.log.contains { (try? IPv6Header.parse($0.frame, at: 14)) != nil })
        // With IPV6_V6ONLY the mapped address is refused.
        let c6 = p.a.socket(.stream, family: .inet6)
        try p.a.setOption(c6, .v6Only(true))
        #expect(throws: NetErrno.EAFNOSUPPORT) { try p.a.connect(c6, SocketAddress(IPv6Address(v4Mapped: Pair.addrB), 81)) }
    }

    @Test func v6OnlyListenerRefusesIPv4() throws {
        let p = Pair()
        let l = p.b.socket(.stream, family: .inet6)
        try p.b.setOption(l, .v6Only(true))
        try p.b.bind(l, SocketAddress(IPv6Address.unspecified, 80))
        try p.b.listen(l, backlog: 4)
        #expect(throws: NetErrno.EINVAL) { try p.b.setOption(l, .v6Only(false)) }  // only before bind
        let l4 = p.b.socket(.stream)
        try p.b.bind(l4, SocketAddress(IPv4Address.any, 81))  // a different port: unrelated
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
        p.run(for: Time.second) { p.a.readiness(c).contains(.error) }
        #expect(p.a.socketError(c) == .ECONNREFUSED)
    }

    @Test func dualStackUDP() throws {
        let p = Pair()
        let server = p.b.socket(.datagram, family: .inet6)
        try p.b.bind(server, SocketAddress(IPv6Address.unspecified, 53))
        let client = p.a.socket(.datagram)
        try p.a.sendTo(client, [1, 2], to: SocketAddress(Pair.addrB, 53))
        var req: ([UInt8], SocketAddress)?
        p.run(for: Time.second) { req = try? p.b.recvFrom(server, max: 100); return req != nil }
        let (data, from) = try #require(req)
        #expect(data == [1, 2])
        #expect(from == SocketAddress(IPv6Address(v4Mapped: Pair.addrA), try p.a.localAddress(client).port))
        try p.b.sendTo(server, [3], to: from)
        var reply: [UInt8]?
        p.run(for: Time.second) { reply = try? p.a.recv(client, max: 10); return reply != nil }
        #expect(reply == [3])
    }
}

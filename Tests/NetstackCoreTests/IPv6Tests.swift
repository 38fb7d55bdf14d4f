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
        for bad in ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7::8"] {
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
        #expect(throws: ParseError.unsupported) { try IPv6Header.upperLayer(ext, 0..<ext.count, first: IPv6NextHeader.fragment) }
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

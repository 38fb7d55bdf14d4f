import Testing
@testable import NetstackCore

/// Builds an IPv4 packet (20-byte header) around `payload`.
func makeIPv4(src: IPv4Address, dst: IPv4Address, proto: UInt8, payload: [UInt8], id: UInt16 = 1,
              fragOffset: Int = 0, more: Bool = false) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 20) + payload
    var h = IPv4Header()
    h.totalLength = b.count
    h.identification = id
    h.proto = proto
    h.source = src
    h.destination = dst
    h.fragmentOffset = fragOffset
    h.moreFragments = more
    h.write(into: &b, at: 0)
    return b
}

@Suite struct ParserTests {
    let a = IPv4Address(10, 0, 0, 1)
    let b = IPv4Address(10, 0, 0, 2)

    @Test func checksumKnownVector() {
        // RFC 1071 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2, checksum 0x220d.
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        #expect(InternetChecksum.of(bytes, 0..<8) == 0x220d)
    }

    @Test func ethernetRoundTripAndTruncation() throws {
        let h = EthernetHeader(destination: .broadcast, source: MACAddress(2, 0, 0, 0, 0, 1), etherType: EtherType.ipv4)
        var f = [UInt8](repeating: 0, count: 20)
        h.write(into: &f)
        #expect(try EthernetHeader.parse(f) == h)
        for n in 0..<14 {
            #expect(throws: ParseError.truncated) { try EthernetHeader.parse(Array(f.prefix(n))) }
        }
        store16(&f, 12, 0x0100)  // an 802.3 length, not an EtherType
        #expect(throws: ParseError.unsupported) { try EthernetHeader.parse(f) }
    }

    @Test func arpRoundTripAndHostile() throws {
        let p = ARPPacket(operation: ARPPacket.request, senderMAC: MACAddress(2, 0, 0, 0, 0, 1), senderIP: a,
                          targetMAC: .zero, targetIP: b)
        let f = p.frame(from: p.senderMAC, to: .broadcast)
        #expect(try ARPPacket.parse(f, at: 14) == p)
        #expect(throws: ParseError.truncated) { try ARPPacket.parse(Array(f.prefix(41)), at: 14) }
        var bad = f
        bad[14 + 4] = 8  // hardware length 8
        #expect(throws: ParseError.unsupported) { try ARPPacket.parse(bad, at: 14) }
        bad = f
        bad[14 + 7] = 9  // operation 9
        #expect(throws: ParseError.unsupported) { try ARPPacket.parse(bad, at: 14) }
    }

    @Test func ipv4RoundTripChecksumAndOptions() throws {
        let p = makeIPv4(src: a, dst: b, proto: IPProtocol.udp, payload: [1, 2, 3, 4])
        let h = try IPv4Header.parse(p, at: 0)
        #expect(h.source == a && h.destination == b && h.totalLength == 24 && h.headerLength == 20)
        // Link padding after the datagram is allowed.
        #expect(try IPv4Header.parse(p + [0, 0, 0], at: 0).totalLength == 24)
        var bad = p
        bad[12] ^= 1
        #expect(throws: ParseError.badChecksum) { try IPv4Header.parse(bad, at: 0) }
        bad = p
        bad[0] = 0x65
        #expect(throws: ParseError.badVersion) { try IPv4Header.parse(bad, at: 0) }
        // A header with 4 bytes of options (NOPs) is parsed and the options skipped.
        var withOpts = [UInt8](repeating: 0, count: 24) + [9, 9]
        withOpts[0] = 0x46
        store16(&withOpts, 2, 26)
        withOpts[8] = 64
        withOpts[9] = IPProtocol.udp
        store32(&withOpts, 12, a.raw)
        store32(&withOpts, 16, b.raw)
        for i in 20..<24 { withOpts[i] = 1 }
        store16(&withOpts, 10, InternetChecksum.of(withOpts, 0..<24))
        let ho = try IPv4Header.parse(withOpts, at: 0)
        #expect(ho.headerLength == 24 && ho.totalLength == 26)
        // IHL below 5, total length below the header, total length beyond the buffer.
        bad = p; bad[0] = 0x44
        #expect(throws: ParseError.badHeaderLength) { try IPv4Header.parse(bad, at: 0) }
        bad = p; store16(&bad, 2, 10); store16(&bad, 10, 0); store16(&bad, 10, InternetChecksum.of(bad, 0..<20))
        #expect(throws: ParseError.badLength) { try IPv4Header.parse(bad, at: 0) }
        #expect(throws: ParseError.truncated) { try IPv4Header.parse(Array(p.prefix(22)), at: 0) }
    }

    @Test func everyTruncationOfEveryPacketIsRefusedWithoutCrashing() {
        var tcp = [UInt8](repeating: 0, count: 32 + 5)
        var th = TCPHeader()
        th.sourcePort = 1; th.destinationPort = 2; th.flags = [.syn]; th.options.mss = 1460; th.options.windowScale = 7
        th.write(into: &tcp, 0..<tcp.count, source: a, destination: b)
        let packet = makeIPv4(src: a, dst: b, proto: IPProtocol.tcp, payload: tcp)
        for n in 0..<packet.count {
            let cut = Array(packet.prefix(n))
            _ = try? IPv4Header.parse(cut, at: 0)
            _ = try? TCPHeader.parse(cut, 20..<max(20, n), source: a, destination: b)
            _ = try? UDPHeader.parse(cut, 20..<max(20, n), source: a, destination: b)
            _ = try? ICMPv4Header.parse(cut, 20..<max(20, n))
            _ = try? ARPPacket.parse(cut, at: 0)
        }
        // Random garbage, seeded: no parser may trap.
        var rng = SplitMix64(seed: 42)
        var accepted = 0
        for _ in 0..<2000 {
            let n = Int(rng.below(80))
            let junk = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if (try? IPv4Header.parse(junk, at: 0)) != nil { accepted += 1 }
            _ = try? TCPHeader.parse(junk, 0..<n, source: a, destination: b)
            _ = try? EthernetHeader.parse(junk)
        }
        #expect(accepted < 20)  // random bytes almost never pass the IPv4 checks
    }

    @Test func udpChecksumWithPseudoHeader() throws {
        var d = [UInt8](repeating: 0, count: 8) + Array("hello".utf8)
        UDPHeader(sourcePort: 5000, destinationPort: 53, length: d.count).write(into: &d, at: 0, source: a, destination: b)
        let h = try UDPHeader.parse(d, 0..<d.count, source: a, destination: b)
        #expect(h.sourcePort == 5000 && h.destinationPort == 53 && h.length == 13)
        // The pseudo-header matters: the same bytes from another source fail.
        #expect(throws: ParseError.badChecksum) { try UDPHeader.parse(d, 0..<d.count, source: b, destination: b) }
        var z = d
        store16(&z, 6, 0)  // no checksum: accepted
        #expect(try UDPHeader.parse(z, 0..<z.count, source: b, destination: b).length == 13)
        var bad = d
        store16(&bad, 4, 40)
        #expect(throws: ParseError.truncated) { try UDPHeader.parse(bad, 0..<bad.count, source: a, destination: b) }
        store16(&bad, 4, 7)
        #expect(throws: ParseError.badLength) { try UDPHeader.parse(bad, 0..<bad.count, source: a, destination: b) }
    }

    @Test func icmpEchoRoundTrip() throws {
        var m = [UInt8](repeating: 0, count: 8) + [1, 2, 3]
        ICMPv4Header(type: ICMPType.echoRequest, code: 0, restOfHeader: 0x1234_0007).write(into: &m, 0..<m.count)
        let h = try ICMPv4Header.parse(m, 0..<m.count)
        #expect(h.type == ICMPType.echoRequest && h.identifier == 0x1234 && h.sequence == 7)
        m[9] ^= 0xff
        #expect(throws: ParseError.badChecksum) { try ICMPv4Header.parse(m, 0..<m.count) }
    }

    @Test func tcpOptionsRoundTrip() throws {
        var th = TCPHeader()
        th.sourcePort = 40000; th.destinationPort = 80; th.sequence = 0xdead_beef; th.acknowledgment = 7
        th.flags = [.syn, .ack]; th.window = 65535
        th.options.mss = 1460; th.options.windowScale = 7
        th.options.timestampValue = 123; th.options.timestampEcho = 456
        th.options.sack.append(SACKBlock(left: 10, right: 20))
        th.options.sack.append(SACKBlock(left: 30, right: 40))
        var seg = [UInt8](repeating: 0, count: th.encodedLength + 3)
        seg[th.encodedLength] = 0xaa
        th.write(into: &seg, 0..<seg.count, source: a, destination: b)
        var parsed = try TCPHeader.parse(seg, 0..<seg.count, source: a, destination: b)
        #expect(parsed.headerLength == th.encodedLength)
        parsed.headerLength = th.headerLength
        #expect(parsed == th)
        #expect(parsed.options.sack.all == [SACKBlock(left: 10, right: 20), SACKBlock(left: 30, right: 40)])
        // Too many SACK blocks for the 40 bytes of option space: the excess is left out.
        th.options.sackPermitted = true
        th.options.sack.append(SACKBlock(left: 50, right: 60))
        #expect(th.encodedLength <= 60)
        seg[seg.count - 1] ^= 1
        #expect(throws: ParseError.badChecksum) { try TCPHeader.parse(seg, 0..<seg.count, source: a, destination: b) }
    }

    @Test func hostileTCPOptionsAreSkipped() {
        // Option with length 0, option running past the header, wrong-length MSS, window scale > 14.
        let cases: [[UInt8]] = [[2, 0, 0, 0], [1, 1, 2, 9], [2, 3, 5, 1], [3, 3, 200, 0], [5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
        for opt in cases {
            let o = TCPOptions.parse(opt, 0..<opt.count)
            #expect(o.mss == nil)
        }
        #expect(TCPOptions.parse([3, 3, 200, 0], 0..<4).windowScale == 14)
        #expect(TCPOptions.parse([5, 10, 0, 0, 0, 1, 0, 0, 0, 2], 0..<10).sack.count == 1)
        #expect(TCPOptions.parse([5, 9, 0, 0, 0, 1, 0, 0, 0, 2], 0..<10).sack.count == 0)
    }

    @Test func reassemblyInOrderOutOfOrderDuplicate() {
        let r = IPv4Reassembler(memoryLimit: 1 << 16, timeout: 30 * Time.second)
        let data = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        func frag(_ off: Int, _ len: Int, more: Bool) -> [UInt8] {
            makeIPv4(src: a, dst: b, proto: IPProtocol.udp, payload: Array(data[off..<(off + len)]), id: 9,
                     fragOffset: off, more: more)
        }
        let pieces = [frag(1480, 1480, more: true), frag(2960, 40, more: false), frag(0, 1480, more: true)]
        var result: [UInt8]?
        for (i, p) in pieces.enumerated() {
            let h = try! IPv4Header.parse(p, at: 0)
            if i == 1 { _ = r.add(h, p, payload: 20..<p.count, now: 0) }  // duplicate of the last piece
            if let (_, out) = r.add(h, p, payload: 20..<p.count, now: 0) { result = out }
        }
        #expect(result == data)
        #expect(r.memoryUsed == 0 && r.pendingCount == 0)
    }

    @Test func reassemblyOverlapMemoryLimitAndTimeout() {
        let r = IPv4Reassembler(memoryLimit: 4000, timeout: 30 * Time.second)
        func add(_ id: UInt16, _ off: Int, _ len: Int, more: Bool, now: Int64 = 0) -> [UInt8]? {
            let p = makeIPv4(src: a, dst: b, proto: IPProtocol.udp, payload: [UInt8](repeating: 1, count: len), id: id,
                             fragOffset: off, more: more)
            guard let h = try? IPv4Header.parse(p, at: 0) else { return nil }  // the parser refuses > 65535
            return r.add(h, p, payload: 20..<p.count, now: now)?.1
        }
        // Overlap (a Teardrop-style fragment): the datagram is discarded, nothing delivered.
        #expect(add(1, 0, 800, more: true) == nil)
        #expect(add(1, 400, 800, more: false) == nil)
        #expect(add(1, 800, 400, more: false) == nil)  // only the new piece remains; incomplete
        #expect(r.discarded >= 1)
        // Memory limit: a second datagram evicts the oldest rather than exceeding the limit.
        #expect(add(2, 0, 2400, more: true, now: 1) == nil)
        #expect(add(3, 0, 2400, more: true, now: 2) == nil)
        #expect(r.memoryUsed <= 4000)
        // Timeout.
        r.expire(now: 31 * Time.second)
        #expect(r.pendingCount == 0 && r.memoryUsed == 0)
        // A non-last fragment whose size is not a multiple of 8 is refused; so is one past 65535.
        #expect(add(4, 0, 801, more: true) == nil && r.pendingCount == 0)
        #expect(add(5, 65000, 600, more: false) == nil && r.pendingCount == 0)
    }
}

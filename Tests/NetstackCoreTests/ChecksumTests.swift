// The word-at-a-time checksum against a plain 16-bit reference, and completing offloaded
// (pseudo-header only) TCP/UDP checksums the way a veth peer with tx offload leaves them.
import Testing
@testable import NetstackCore

@Suite struct ChecksumTests {
    static func reference(_ b: [UInt8], _ r: Range<Int>) -> UInt16 {
        var s: UInt64 = 0
        var i = r.lowerBound
        while i + 1 < r.upperBound { s += UInt64(b[i]) << 8 | UInt64(b[i + 1]); i += 2 }
        if i < r.upperBound { s += UInt64(b[i]) << 8 }
        while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
        return ~UInt16(s)
    }

    @Test func wordAtATimeMatchesReference() {
        var rng = SplitMix64(seed: 7)
        var b = [UInt8](repeating: 0, count: 3000)
        for i in b.indices { b[i] = UInt8(truncatingIfNeeded: rng.next()) }
        for _ in 0..<2000 {
            let lo = Int(rng.next() % 40), len = Int(rng.next() % 2900)
            #expect(InternetChecksum.of(b, lo..<(lo + len)) == Self.reference(b, lo..<(lo + len)))
        }
        let ones = [UInt8](repeating: 0xff, count: 1001)
        #expect(InternetChecksum.of(ones, 0..<1001) == Self.reference(ones, 0..<1001))
    }

    /// An Ethernet frame with IPv4 and a TCP (or UDP) header and payload whose checksum field holds
    /// only the pseudo-header sum, not complemented: what CHECKSUM_PARTIAL leaves.
    static func partialFrame(proto: UInt8, payload: Int) -> (frame: [UInt8], correct: UInt16, field: Int) {
        let src = IPv4Address(10, 0, 0, 1), dst = IPv4Address(10, 0, 0, 2)
        let l4 = (proto == IPProtocol.tcp ? 20 : 8) + payload
        var seg = [UInt8](repeating: 0, count: l4)
        for i in seg.indices { seg[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        let field = proto == IPProtocol.tcp ? 16 : 6
        if proto == IPProtocol.tcp { seg[12] = 0x50 } else { store16(&seg, 4, UInt16(l4)) }
        seg[field] = 0; seg[field + 1] = 0
        var pseudo = [UInt8](repeating: 0, count: 12)
        store32(&pseudo, 0, src.raw); store32(&pseudo, 4, dst.raw); pseudo[9] = proto; store16(&pseudo, 10, UInt16(l4))
        let correct = reference(pseudo + seg, 0..<(12 + l4))
        let partial = ~reference(pseudo, 0..<12)   // the folded pseudo-header sum itself
        store16(&seg, field, partial)
        let ip = makeIPv4(src: src, dst: dst, proto: proto, payload: seg)
        let frame = [UInt8](repeating: 0x02, count: 12) + [0x08, 0x00] + ip
        return (frame, correct, 14 + 20 + field)
    }

    @Test func offloadedChecksumsAreCompleted() throws {
        for proto in [IPProtocol.tcp, IPProtocol.udp] {
            for payload in [0, 1, 1460, 4001] {
                var (f, correct, field) = Self.partialFrame(proto: proto, payload: payload)
                ChecksumOffload.complete(&f)
                #expect(load16(f, field) == (correct == 0 && proto == IPProtocol.udp ? 0xffff : correct))
                if proto == IPProtocol.tcp {
                    let h = try IPv4Header.parse(f, at: 14)
                    _ = try TCPHeader.parse(f, (14 + 20)..<(14 + h.totalLength), source: h.source, destination: h.destination)
                }
            }
        }
        // Not IP, truncated, or a fragment: left alone.
        var arp = [UInt8](repeating: 1, count: 60); arp[12] = 0x08; arp[13] = 0x06
        let before = arp
        ChecksumOffload.complete(&arp)
        #expect(arp == before)
        var short = Array(Self.partialFrame(proto: IPProtocol.tcp, payload: 10).frame.prefix(40))
        let s0 = short
        ChecksumOffload.complete(&short)
        #expect(short == s0)
    }
}

// IPv4 header (RFC 791). Options are accepted and skipped; the header checksum is verified.

public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}

public struct IPv4Header: Equatable, Sendable {
    public static let minLength = 20

    public var headerLength: Int = 20
    public var tos: UInt8 = 0
    public var totalLength: Int = 20
    public var identification: UInt16 = 0
    public var dontFragment = false
    public var moreFragments = false
    /// Fragment offset in bytes (the wire field counts 8-byte units).
    public var fragmentOffset: Int = 0
    public var ttl: UInt8 = 64
    public var proto: UInt8 = 0
    public var source: IPv4Address = .any
    public var destination: IPv4Address = .any

    public init() {}

    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }

    /// Parses the header at `b[o...]`, which may carry link padding after the datagram.
    /// The payload is `b[o + headerLength ..< o + totalLength]`.
    public static func parse(_ b: [UInt8], at o: Int) throws(ParseError) -> IPv4Header {
        guard o >= 0, b.count - o >= minLength else { throw .truncated }
        guard b[o] >> 4 == 4 else { throw .badVersion }
        let ihl = Int(b[o] & 0x0f) * 4
        guard ihl >= minLength else { throw .badHeaderLength }
        guard b.count - o >= ihl else { throw .truncated }
        let total = Int(load16(b, o + 2))
        guard total >= ihl else { throw .badLength }
        guard b.count - o >= total else { throw .truncated }
        guard InternetChecksum.of(b, o..<(o + ihl)) == 0 else { throw .badChecksum }
        var h = IPv4Header()
        h.headerLength = ihl
        h.tos = b[o + 1]
        h.totalLength = total
        h.identification = load16(b, o + 4)
        let ff = load16(b, o + 6)
        guard ff & 0x8000 == 0 else { throw .badLength }  // the reserved flag must be zero
        h.dontFragment = ff & 0x4000 != 0
        h.moreFragments = ff & 0x2000 != 0
        h.fragmentOffset = Int(ff & 0x1fff) * 8
        guard h.fragmentOffset + (total - ihl) <= 65535 else { throw .badLength }
        h.ttl = b[o + 8]
        h.proto = b[o + 9]
        h.source = IPv4Address(raw: load32(b, o + 12))
        h.destination = IPv4Address(raw: load32(b, o + 16))
        return h
    }

    /// Writes a 20-byte header (no options) with its checksum at `b[o...]`.
    public func write(into b: inout [UInt8], at o: Int) {
        b[o] = 0x45
        b[o + 1] = tos
        store16(&b, o + 2, UInt16(truncatingIfNeeded: totalLength))
        store16(&b, o + 4, identification)
        var ff = UInt16(truncatingIfNeeded: fragmentOffset / 8) & 0x1fff
        if dontFragment { ff |= 0x4000 }
        if moreFragments { ff |= 0x2000 }
        store16(&b, o + 6, ff)
        b[o + 8] = ttl
        b[o + 9] = proto
        store16(&b, o + 10, 0)
        store32(&b, o + 12, source.raw)
        store32(&b, o + 16, destination.raw)
        store16(&b, o + 10, InternetChecksum.of(b, o..<(o + 20)))
    }
}

/// The checksum of a TCP or UDP segment `b[range]` including the IPv4 pseudo-header. With the
/// checksum field filled in, a valid segment sums to zero.
func transportChecksum(_ b: [UInt8], _ range: Range<Int>, source: IPv4Address, destination: IPv4Address,
                       proto: UInt8) -> UInt16 {
    var c = InternetChecksum()
    c.add32(source.raw)
    c.add32(destination.raw)
    c.add16(UInt16(proto))
    c.add16(UInt16(truncatingIfNeeded: range.count))
    c.add(b, range)
    return c.value
}

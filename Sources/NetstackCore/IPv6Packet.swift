// IPv6 addresses and the fixed header (RFC 8200), extension-header walking, and the upper-layer
// checksum with the IPv6 pseudo-header.

public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses RFC 4291 text ("fe80::1", "2001:db8:0:0:0:0:0:1"); no embedded IPv4 form.
    public init?(_ text: String) {
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let parts = text.components(separatedByDoubleColon: ())
        guard parts.count <= 2 else { return nil }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, g.allSatisfy(\.isHexDigit), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let h = groups(parts[0]) else { return nil }
        head = h
        if parts.count == 2 {
            sawGap = true
            guard let t = groups(parts[1]) else { return nil }
            tail = t
        }
        let total = head.count + tail.count
        guard sawGap ? total <= 7 : total == 8 else { return nil }
        let all = head + [UInt16](repeating: 0, count: 8 - total) + tail
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(all[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(all[i]) }
        self.init(high: hi, low: lo)
    }

    public static let unspecified = IPv6Address(high: 0, low: 0)
    public static let loopback = IPv6Address(high: 0, low: 1)
    public static let allNodes = IPv6Address(high: 0xff02_0000_0000_0000, low: 1)

    /// ::ffff:a.b.c.d, how a dual-stack IPv6 socket sees an IPv4 address (RFC 4291 2.5.5.2).
    public init(v4Mapped a: IPv4Address) {
        self.init(high: 0, low: 0xffff_0000_0000 | UInt64(a.raw))
    }

    public var v4Mapped: IPv4Address? {
        high == 0 && low >> 32 == 0xffff ? IPv4Address(raw: UInt32(truncatingIfNeeded: low)) : nil
    }

    public var isUnspecified: Bool { high == 0 && low == 0 }
    public var isLoopback: Bool { high == 0 && low == 1 }
    public var isMulticast: Bool { high >> 56 == 0xff }
    public var isLinkLocal: Bool { high >> 54 == 0x3fa }

    /// The solicited-node multicast group of this address (RFC 4291 2.7.1).
    public var solicitedNode: IPv6Address {
        IPv6Address(high: 0xff02_0000_0000_0000, low: 0x0000_0001_ff00_0000 | (low & 0xff_ffff))
    }

    /// The Ethernet multicast address for this multicast group (RFC 2464 7).
    public var multicastMAC: MACAddress { MACAddress(raw: 0x3333_0000_0000 | (low & 0xffff_ffff)) }

    /// The link-local address formed from a MAC by modified EUI-64 (RFC 4291 appendix A).
    public static func linkLocal(mac: MACAddress) -> IPv6Address {
        let m = mac.raw
        let eui = ((m >> 24) << 40) | (UInt64(0xfffe) << 24) | (m & 0xff_ffff)
        return IPv6Address(high: 0xfe80_0000_0000_0000, low: eui ^ (UInt64(0x02) << 56))
    }

    public func matches(_ prefix: IPv6Address, length: Int) -> Bool {
        let l = max(0, min(128, length))
        if l <= 64 {
            let m: UInt64 = l == 0 ? 0 : ~(UInt64.max >> UInt64(l))
            return high & m == prefix.high & m
        }
        let m: UInt64 = l == 128 ? UInt64.max : ~(UInt64.max >> UInt64(l - 64))
        return high == prefix.high && low & m == prefix.low & m
    }

    static func load(_ b: [UInt8], _ i: Int) -> IPv6Address {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for k in 0..<8 { hi = hi << 8 | UInt64(b[i + k]) }
        for k in 8..<16 { lo = lo << 8 | UInt64(b[i + k]) }
        return IPv6Address(high: hi, low: lo)
    }

    func store(_ b: inout [UInt8], _ i: Int) {
        for k in 0..<8 { b[i + k] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * k)) }
        for k in 0..<8 { b[i + 8 + k] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * k)) }
    }

    public var description: String {
        let g = (0..<8).map { i -> UInt16 in
            let w = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: w >> UInt64(48 - 16 * (i % 4)))
        }
        // Compress the longest run of two or more zero groups (RFC 5952).
        var bestStart = -1, bestLen = 1, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = g.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        return hex[0..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLen)...].joined(separator: ":")
    }
}

extension String {
    /// Splits at "::" (at most once meaningful; more occurrences give more parts, which callers refuse).
    fileprivate func components(separatedByDoubleColon _: ()) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            let n = index(after: i)
            if self[i] == ":" && n < endIndex && self[n] == ":" {
                parts.append(self[start..<i])
                start = index(after: n)
                i = start
            } else {
                i = n
            }
        }
        parts.append(self[start..<endIndex])
        return parts
    }
}

public enum IPv6NextHeader {
    public static let hopByHop: UInt8 = 0
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
}

public struct IPv6Header: Equatable, Sendable {
    public static let length = 40

    public var trafficClass: UInt8 = 0
    public var flowLabel: UInt32 = 0
    public var payloadLength: Int = 0
    public var nextHeader: UInt8 = 0
    public var hopLimit: UInt8 = 64
    public var source: IPv6Address = .unspecified
    public var destination: IPv6Address = .unspecified

    public init() {}

    /// Parses the fixed header at `b[o...]`; the payload is `b[o + 40 ..< o + 40 + payloadLength]`.
    public static func parse(_ b: [UInt8], at o: Int) throws(ParseError) -> IPv6Header {
        guard o >= 0, b.count - o >= length else { throw .truncated }
        guard b[o] >> 4 == 6 else { throw .badVersion }
        var h = IPv6Header()
        h.trafficClass = (b[o] << 4) | (b[o + 1] >> 4)
        h.flowLabel = (UInt32(b[o + 1] & 0x0f) << 16) | UInt32(load16(b, o + 2))
        h.payloadLength = Int(load16(b, o + 4))
        guard b.count - o - length >= h.payloadLength else { throw .truncated }
        h.nextHeader = b[o + 6]
        h.hopLimit = b[o + 7]
        h.source = .load(b, o + 8)
        h.destination = .load(b, o + 24)
        return h
    }

    public func write(into b: inout [UInt8], at o: Int) {
        b[o] = 0x60 | (trafficClass >> 4)
        b[o + 1] = (trafficClass << 4) | UInt8(truncatingIfNeeded: (flowLabel >> 16) & 0x0f)
        store16(&b, o + 2, UInt16(truncatingIfNeeded: flowLabel))
        store16(&b, o + 4, UInt16(truncatingIfNeeded: payloadLength))
        b[o + 6] = nextHeader
        b[o + 7] = hopLimit
        source.store(&b, o + 8)
        destination.store(&b, o + 24)
    }

    /// Walks hop-by-hop, routing and destination-options headers in `b[range]` (the payload) and
    /// returns the upper-layer protocol and where its header starts. A fragment header stops the walk
    /// and is returned as the protocol (the caller reassembles).
    public static func upperLayer(_ b: [UInt8], _ range: Range<Int>, first: UInt8) throws(ParseError) -> (UInt8, Int) {
        var next = first
        var o = range.lowerBound
        for _ in 0..<8 {
            switch next {
            case IPv6NextHeader.hopByHop, IPv6NextHeader.routing, IPv6NextHeader.destinationOptions:
                guard range.upperBound - o >= 8 else { throw .truncated }
                let len = (Int(b[o + 1]) + 1) * 8
                guard range.upperBound - o >= len else { throw .truncated }
                next = b[o]
                o += len
            default:
                return (next, o)
            }
        }
        throw .badHeaderLength  // an absurd chain of extension headers
    }
}

/// The upper-layer checksum over `b[range]` with the IPv6 pseudo-header (RFC 8200 8.1).
func transportChecksum6(_ b: [UInt8], _ range: Range<Int>, source: IPv6Address, destination: IPv6Address,
                        nextHeader: UInt8) -> UInt16 {
    var c = InternetChecksum()
    for w in [source.high, source.low, destination.high, destination.low] {
        c.add32(UInt32(truncatingIfNeeded: w >> 32))
        c.add32(UInt32(truncatingIfNeeded: w))
    }
    c.add32(UInt32(range.count))
    c.add16(UInt16(nextHeader))
    c.add(b, range)
    return c.value
}

public enum ICMPv6Type {
    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
    public static let neighborSolicitation: UInt8 = 135
    public static let neighborAdvertisement: UInt8 = 136
}

/// An ICMPv6 message header: the same 8-byte layout as ICMPv4, but the checksum covers the pseudo-header.
public struct ICMPv6Header: Equatable, Sendable {
    public var type: UInt8
    public var code: UInt8
    public var restOfHeader: UInt32

    public init(type: UInt8, code: UInt8, restOfHeader: UInt32) {
        self.type = type
        self.code = code
        self.restOfHeader = restOfHeader
    }

    public static func parse(_ b: [UInt8], _ range: Range<Int>, source: IPv6Address,
                             destination: IPv6Address) throws(ParseError) -> ICMPv6Header {
        guard range.lowerBound >= 0, range.upperBound <= b.count else { throw .truncated }
        guard range.count >= 8 else { throw .truncated }
        guard transportChecksum6(b, range, source: source, destination: destination, nextHeader: IPv6NextHeader.icmpv6) == 0 else {
            throw .badChecksum
        }
        let o = range.lowerBound
        return ICMPv6Header(type: b[o], code: b[o + 1], restOfHeader: load32(b, o + 4))
    }

    public func write(into b: inout [UInt8], _ range: Range<Int>, source: IPv6Address, destination: IPv6Address) {
        let o = range.lowerBound
        b[o] = type
        b[o + 1] = code
        store16(&b, o + 2, 0)
        store32(&b, o + 4, restOfHeader)
        store16(&b, o + 2, transportChecksum6(b, range, source: source, destination: destination, nextHeader: IPv6NextHeader.icmpv6))
    }
}

/// A Neighbor Solicitation or Advertisement (RFC 4861 4.3, 4.4) with its link-layer address option.
public struct NDPMessage: Equatable, Sendable {
    public var target: IPv6Address
    /// Source link-layer address (in a solicitation) or target link-layer address (in an advertisement).
    public var linkAddress: MACAddress?

    public init(target: IPv6Address, linkAddress: MACAddress?) {
        self.target = target
        self.linkAddress = linkAddress
    }

    /// Parses the body after the 8-byte ICMPv6 header; `optionType` is 1 (source) or 2 (target).
    /// Options of length zero make the message invalid (RFC 4861 7.1.1).
    public static func parse(_ b: [UInt8], _ range: Range<Int>, optionType: UInt8) throws(ParseError) -> NDPMessage {
        guard range.count >= 16 else { throw .truncated }
        var m = NDPMessage(target: .load(b, range.lowerBound), linkAddress: nil)
        var o = range.lowerBound + 16
        while o < range.upperBound {
            guard range.upperBound - o >= 2 else { throw .truncated }
            let len = Int(b[o + 1]) * 8
            guard len > 0 else { throw .badLength }
            guard range.upperBound - o >= len else { throw .truncated }
            if b[o] == optionType && len == 8 { m.linkAddress = .load(b, o + 2) }
            o += len
        }
        return m
    }

    /// Bytes of body (target plus an optional link-layer option).
    var bodyLength: Int { 16 + (linkAddress == nil ? 0 : 8) }

    func write(into b: inout [UInt8], at o: Int, optionType: UInt8) {
        target.store(&b, o)
        if let mac = linkAddress {
            b[o + 16] = optionType
            b[o + 17] = 1
            mac.store(&b, o + 18)
        }
    }
}

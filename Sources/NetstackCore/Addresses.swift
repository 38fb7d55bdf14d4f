// Link and network addresses as small value types (no allocation, hashable).

public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The six octets in the low 48 bits, first octet most significant.
    public var raw: UInt64

    public init(raw: UInt64) { self.raw = raw & 0xffff_ffff_ffff }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        raw = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    public static let broadcast = MACAddress(raw: 0xffff_ffff_ffff)
    public static let zero = MACAddress(raw: 0)

    public var isBroadcast: Bool { raw == 0xffff_ffff_ffff }
    public var isMulticast: Bool { (raw >> 40) & 1 == 1 }

    static func load(_ b: [UInt8], _ i: Int) -> MACAddress {
        var v: UInt64 = 0
        for k in 0..<6 { v = v << 8 | UInt64(b[i + k]) }
        return MACAddress(raw: v)
    }

    func store(_ b: inout [UInt8], _ i: Int) {
        for k in 0..<6 { b[i + k] = UInt8(truncatingIfNeeded: raw >> UInt64(40 - 8 * k)) }
    }

    public var description: String {
        (0..<6).map { k in
            let v = UInt8(truncatingIfNeeded: raw >> UInt64(40 - 8 * k))
            let s = String(v, radix: 16)
            return v < 16 ? "0" + s : s
        }.joined(separator: ":")
    }
}

public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var raw: UInt32

    public init(raw: UInt32) { self.raw = raw }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        raw = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; nil if it is not exactly four decimal octets.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0 >= "0" && $0 <= "9" }), let n = UInt8(p) else { return nil }
            v = v << 8 | UInt32(n)
        }
        raw = v
    }

    public static let any = IPv4Address(raw: 0)
    public static let broadcast = IPv4Address(raw: 0xffff_ffff)
    public static let loopback = IPv4Address(127, 0, 0, 1)

    public var isAny: Bool { raw == 0 }
    public var isLoopback: Bool { raw >> 24 == 127 }
    public var isMulticast: Bool { raw >> 28 == 0xe }
    public var isBroadcast: Bool { raw == 0xffff_ffff }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.raw < b.raw }

    public var description: String {
        "\(raw >> 24).\((raw >> 16) & 0xff).\((raw >> 8) & 0xff).\(raw & 0xff)"
    }

    /// The network mask for a prefix length 0...32.
    public static func mask(prefix: Int) -> UInt32 {
        prefix <= 0 ? 0 : (prefix >= 32 ? 0xffff_ffff : ~(UInt32(0xffff_ffff) >> UInt32(prefix)))
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a.isAny
        case .v6(let a): return a.isUnspecified
        }
    }

    public var isV6: Bool {
        if case .v6 = self { return true }
        return false
    }

    public var isMulticastOrBroadcast: Bool {
        switch self {
        case .v4(let a): return a.isMulticast || a.isBroadcast
        case .v6(let a): return a.isMulticast
        }
    }

    /// Whether a socket bound to this address receives packets for `dst`. `dual`: this is the IPv6
    /// wildcard of a socket that also takes IPv4 (IPV6_V6ONLY off).
    func accepts(_ dst: IPAddress, dual: Bool) -> Bool {
        if self == dst { return true }
        guard isUnspecified else { return false }
        return isV6 == dst.isV6 || (dual && isV6)
    }

    /// The bind conflict rule: same family and a wildcard or equal address, or a dual-stack wildcard
    /// against any address of either family.
    func conflicts(dual: Bool, with o: IPAddress, otherDual: Bool) -> Bool {
        if isV6 == o.isV6 { return isUnspecified || o.isUnspecified || self == o }
        return (dual && isV6 && isUnspecified) || (otherDual && o.isV6 && o.isUnspecified)
    }

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return "[\(a)]"
        }
    }
}

/// An address and port (sockaddr_in or sockaddr_in6 of this library).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(_ address: IPv4Address, _ port: UInt16) {
        ip = .v4(address)
        self.port = port
    }

    public init(_ address: IPv6Address, _ port: UInt16) {
        ip = .v6(address)
        self.port = port
    }

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// The wildcard address of a family.
    static func any(v6: Bool, port: UInt16 = 0) -> SocketAddress {
        v6 ? SocketAddress(IPv6Address.unspecified, port) : SocketAddress(IPv4Address.any, port)
    }

    public var description: String { "\(ip):\(port)" }
}

/// Source and destination for an upper-layer checksum.
enum PseudoHeader {
    case v4(IPv4Address, IPv4Address)
    case v6(IPv6Address, IPv6Address)

    init?(source: IPAddress, destination: IPAddress) {
        switch (source, destination) {
        case (.v4(let s), .v4(let d)): self = .v4(s, d)
        case (.v6(let s), .v6(let d)): self = .v6(s, d)
        default: return nil
        }
    }

    func checksum(_ b: [UInt8], _ range: Range<Int>, proto: UInt8) -> UInt16 {
        switch self {
        case .v4(let s, let d): return transportChecksum(b, range, source: s, destination: d, proto: proto)
        case .v6(let s, let d): return transportChecksum6(b, range, source: s, destination: d, nextHeader: proto)
        }
    }
}

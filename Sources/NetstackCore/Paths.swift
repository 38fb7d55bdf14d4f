// Family-independent routing and output for the transport layer: TCP and UDP build one packet
// whichever IP version carries it, and hand it here.

public enum AddressFamily: Sendable {
    case inet   // AF_INET
    case inet6  // AF_INET6 (IPv6 only, like IPV6_V6ONLY=1; v4-mapped addresses are not supported yet)
}

enum AnyRoute {
    case v4(RouteResult)
    case v6(Route6Result)

    var source: IPAddress {
        switch self {
        case .v4(let r): return .v4(r.source)
        case .v6(let r): return .v6(r.source)
        }
    }

    var isLocal: Bool {
        switch self {
        case .v4(let r): return r.isLocal || r.interface.isLoopback
        case .v6(let r): return r.isLocal || r.interface.isLoopback
        }
    }

    /// Largest IP packet this path carries.
    var mtu: Int {
        if isLocal { return 65536 }
        switch self {
        case .v4(let r): return r.interface.mtu
        case .v6(let r): return r.interface.mtu
        }
    }

    /// Largest IP packet the path's link cuts into segments itself (0: none, or a local path).
    var segmentationOffload: Int {
        if isLocal { return 0 }
        switch self {
        case .v4(let r): return r.interface.link?.segmentationOffload ?? 0
        case .v6(let r): return r.interface.link?.segmentationOffload ?? 0
        }
    }

    /// The path's link fills in TCP checksums itself.
    var transmitChecksumOffload: Bool {
        if isLocal { return false }
        switch self {
        case .v4(let r): return r.interface.link?.transmitChecksumOffload ?? false
        case .v6(let r): return r.interface.link?.transmitChecksumOffload ?? false
        }
    }

    var ipHeaderLength: Int {
        if case .v6 = self { return IPv6Header.length }
        return IPv4Header.minLength
    }
}

extension NetworkStack {
    func route(to dst: IPAddress) -> AnyRoute? {
        switch dst {
        case .v4(let a): return route(to: a).map { .v4($0) }
        case .v6(let a): return route6(to: a).map { .v6($0) }
        }
    }

    func isLocal(_ a: IPAddress) -> Bool {
        switch a {
        case .v4(let x): return isLocalAddress(x)
        case .v6(let x): return isLocalIPv6(x)
        }
    }

    static func transportOffset(v6: Bool) -> Int { v6 ? transportOffset6 : transportOffset }

    func makePacket(transportLength: Int, v6: Bool) -> [UInt8] {
        framePool.take(zeroed: NetworkStack.transportOffset(v6: v6) + transportLength)
    }

    /// Sends a packet built by `makePacket(transportLength:v6:)` with its transport part filled in.
    /// `segmentSize` > 0: a TCP packet over the MTU that the link segments (route.segmentationOffload).
    @discardableResult
    /// `tos`: (IP_TOS, IPV6_TCLASS) of the sending socket; `segmentSize`: send as one GSO packet.
    func output(_ p: [UInt8], proto: UInt8, source: IPAddress, destination: IPAddress, route: AnyRoute,
                segmentSize: Int = 0, tos: (UInt8, UInt8) = (0, 0)) -> Bool {
        switch (route, source, destination) {
        case (.v4(let r), .v4(let s), .v4(let d)):
            return ipOutput(p, proto: proto, source: s, destination: d, route: r, segmentSize: segmentSize, tos: tos.0)
        case (.v6(let r), .v6(let s), .v6(let d)):
            return ip6Output(p, nextHeader: proto, source: s, destination: d, route: r, segmentSize: segmentSize, trafficClass: tos.1)
        default:
            return false
        }
    }
}

// UDP header (RFC 768); the checksum covers the IPv4 pseudo-header.

public struct UDPHeader: Equatable, Sendable {
    public static let length = 8

    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// Header plus payload, as carried in the length field.
    public var length: Int

    public init(sourcePort: UInt16, destinationPort: UInt16, length: Int) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.length = length
    }

    /// Parses the datagram in `b[range]` (the IP payload). A zero checksum means "not computed".
    /// The payload is `b[range.lowerBound + 8 ..< range.lowerBound + length]`.
    public static func parse(_ b: [UInt8], _ range: Range<Int>, source: IPv4Address,
                             destination: IPv4Address) throws(ParseError) -> UDPHeader {
        try parse(b, range, pseudo: .v4(source, destination))
    }

    /// Over IPv6 the checksum is mandatory (RFC 8200 8.1): zero is refused.
    static func parse(_ b: [UInt8], _ range: Range<Int>, pseudo: PseudoHeader) throws(ParseError) -> UDPHeader {
        guard range.lowerBound >= 0, range.upperBound <= b.count else { throw .truncated }
        guard range.count >= 8 else { throw .truncated }
        let o = range.lowerBound
        let len = Int(load16(b, o + 4))
        guard len >= 8 else { throw .badLength }
        guard len <= range.count else { throw .truncated }
        if load16(b, o + 6) != 0 {
            guard pseudo.checksum(b, o..<(o + len), proto: IPProtocol.udp) == 0 else { throw .badChecksum }
        } else if case .v6 = pseudo {
            throw .badChecksum
        }
        return UDPHeader(sourcePort: load16(b, o), destinationPort: load16(b, o + 2), length: len)
    }

    /// Writes the header at `b[o...]` and the checksum over `b[o ..< o + length]`.
    public func write(into b: inout [UInt8], at o: Int, source: IPv4Address, destination: IPv4Address) {
        write(into: &b, at: o, pseudo: .v4(source, destination))
    }

    func write(into b: inout [UInt8], at o: Int, pseudo: PseudoHeader) {
        store16(&b, o, sourcePort)
        store16(&b, o + 2, destinationPort)
        store16(&b, o + 4, UInt16(truncatingIfNeeded: length))
        store16(&b, o + 6, 0)
        var sum = pseudo.checksum(b, o..<(o + length), proto: IPProtocol.udp)
        if sum == 0 { sum = 0xffff }  // zero on the wire means "no checksum"
        store16(&b, o + 6, sum)
    }
}

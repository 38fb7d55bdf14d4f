// Ethernet II framing (no 802.1Q; VLAN-tagged frames are refused as unsupported).

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86dd
    public static let vlan: UInt16 = 0x8100
}

public struct EthernetHeader: Equatable, Sendable {
    public static let length = 14

    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: UInt16

    public init(destination: MACAddress, source: MACAddress, etherType: UInt16) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    /// Parses the header at the start of `frame`; the payload is `frame[length...]`.
    public static func parse(_ frame: [UInt8]) throws(ParseError) -> EthernetHeader {
        guard frame.count >= length else { throw .truncated }
        let type = load16(frame, 12)
        // Values below 0x0600 are 802.3 lengths, not EtherTypes.
        guard type >= 0x0600, type != EtherType.vlan else { throw .unsupported }
        return EthernetHeader(destination: .load(frame, 0), source: .load(frame, 6), etherType: type)
    }

    public func write(into b: inout [UInt8], at i: Int = 0) {
        destination.store(&b, i)
        source.store(&b, i + 6)
        store16(&b, i + 12, etherType)
    }
}

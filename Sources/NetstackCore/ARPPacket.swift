// ARP for IPv4 over Ethernet (RFC 826). Only htype 1 / ptype 0x0800 / hlen 6 / plen 4 is accepted.

public struct ARPPacket: Equatable, Sendable {
    public static let length = 28
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2

    public var operation: UInt16
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    public init(operation: UInt16, senderMAC: MACAddress, senderIP: IPv4Address,
                targetMAC: MACAddress, targetIP: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    public static func parse(_ b: [UInt8], at o: Int) throws(ParseError) -> ARPPacket {
        guard o >= 0, b.count - o >= length else { throw .truncated }
        guard load16(b, o) == 1, load16(b, o + 2) == EtherType.ipv4, b[o + 4] == 6, b[o + 5] == 4 else {
            throw .unsupported
        }
        let op = load16(b, o + 6)
        guard op == request || op == reply else { throw .unsupported }
        return ARPPacket(operation: op, senderMAC: .load(b, o + 8), senderIP: IPv4Address(raw: load32(b, o + 14)),
                         targetMAC: .load(b, o + 18), targetIP: IPv4Address(raw: load32(b, o + 24)))
    }

    public func write(into b: inout [UInt8], at o: Int) {
        store16(&b, o, 1)
        store16(&b, o + 2, EtherType.ipv4)
        b[o + 4] = 6
        b[o + 5] = 4
        store16(&b, o + 6, operation)
        senderMAC.store(&b, o + 8)
        store32(&b, o + 14, senderIP.raw)
        targetMAC.store(&b, o + 18)
        store32(&b, o + 24, targetIP.raw)
    }

    /// A complete Ethernet frame carrying this packet.
    public func frame(from src: MACAddress, to dst: MACAddress) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: EthernetHeader.length + ARPPacket.length)
        EthernetHeader(destination: dst, source: src, etherType: EtherType.arp).write(into: &f)
        write(into: &f, at: EthernetHeader.length)
        return f
    }
}

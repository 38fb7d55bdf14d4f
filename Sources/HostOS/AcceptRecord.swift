// Reply-less accept (netstack.schema AcceptSlots): the record the netstack writes into a listener's
// receive ring for each connection it attached to one of the listener's spare slots. Fixed size, so
// the Sentry pops whole records; little-endian fields, as the rest of the arena.
//   [0, 4)  slot    u32   the arena slot the connection is attached to
//   [4, 8)  handle  u32   the netstack's handle for the connection
//   [8, 10) family  u16   AF_INET or AF_INET6 (the listener's family, as accept(2) reports)
//   [10,12) port    u16   the peer's port, host order
//   [12,16) zero
//   [16,32) address       the peer's address, network order (4 bytes used for AF_INET)

public struct AcceptRecord: Sendable, Equatable {
    public static let size = 32
    public var slot: UInt32
    public var handle: UInt32
    public var family: UInt16
    public var port: UInt16
    public var address: [UInt8]

    public init(slot: UInt32, handle: UInt32, family: UInt16, port: UInt16, address: [UInt8]) {
        self.slot = slot; self.handle = handle; self.family = family; self.port = port
        self.address = Array(address.prefix(16))
    }

    public func bytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: AcceptRecord.size)
        func put(_ v: UInt64, _ at: Int, _ n: Int) { for i in 0..<n { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        put(UInt64(slot), 0, 4)
        put(UInt64(handle), 4, 4)
        put(UInt64(family), 8, 2)
        put(UInt64(port), 10, 2)
        for (i, b) in address.enumerated() { out[16 + i] = b }
        return out
    }

    /// Nil unless `b` holds exactly one record.
    public static func parse(_ b: [UInt8]) -> AcceptRecord? {
        guard b.count == size else { return nil }
        func get(_ at: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
        let family = UInt16(get(8, 2))
        return AcceptRecord(slot: UInt32(get(0, 4)), handle: UInt32(get(4, 4)), family: family, port: UInt16(get(10, 2)),
                            address: Array(b[16..<(family == 2 ? 20 : 32)]))
    }

    /// Writes the record into `ring` (producer side); false if there is no room.
    public func write(to ring: SharedRing) -> Bool {
        bytes().withUnsafeBytes { ring.writeAll($0) }
    }

    /// Pops one record from `ring` (consumer side); nil if none is complete.
    public static func pop(from ring: SharedRing) -> AcceptRecord? {
        guard ring.used >= size else { return nil }
        var b = [UInt8](repeating: 0, count: size)
        guard b.withUnsafeMutableBytes({ ring.peek(offset: 0, into: $0) }) else { return nil }
        ring.commitRead(size)
        return parse(b)
    }
}

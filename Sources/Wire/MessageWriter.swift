// The trusted side of the body codec: builds a frame (16-byte header room + body) into one reusable byte
// array. Tables are written top-down: a table's slot array first, then each field's data after it, so
// every reference points forward (the reader relies on that; see protocol/README.md).

/// A table being written: where its slot array starts and how many slots it has.
public struct TableBuilder: Sendable {
    /// Body offset of the table.
    public let offset: Int
    public let fieldCount: Int
}

public struct MessageWriter: Sendable {
    /// Header room followed by the body. After `finish`, the complete frame.
    public private(set) var storage: [UInt8]
    /// The first limit a field broke, reported by `finish` (the writer itself never traps on size).
    public private(set) var limitError: WireError?

    public init(capacity: Int = 4096) {
        storage = []
        storage.reserveCapacity(max(capacity, FrameHeader.size))
        storage.append(contentsOf: repeatElement(0, count: FrameHeader.size))
    }

    /// Forgets the previous message, keeping the allocated capacity.
    public mutating func reset() {
        storage.removeAll(keepingCapacity: true)
        storage.append(contentsOf: repeatElement(0, count: FrameHeader.size))
        limitError = nil
    }

    /// Bytes of body written so far; also the body offset of the next byte.
    public var bodyCount: Int { storage.count - FrameHeader.size }

    /// The body bytes written so far (for tests and tools).
    public var body: ArraySlice<UInt8> { storage[FrameHeader.size...] }

    /// Calls `body` with the complete frame (valid after `finish`).
    public func withFrame<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body($0) }
    }

    /// Fills in the header and checks the limits. After this `storage` is the frame to send, with the
    /// descriptors (exactly `fdCount`) passed alongside.
    public mutating func finish(messageID: UInt16, requestID: UInt32, flags: FrameFlags = [],
                                fdCount: Int = 0) throws(WireError) -> FrameHeader {
        if let limitError { throw limitError }
        guard storage.count <= FrameHeader.maximumLength else {
            throw .oversized(length: storage.count, limit: FrameHeader.maximumLength)
        }
        guard fdCount >= 0, fdCount <= FrameHeader.maximumFDs else {
            throw .limitExceeded(what: "fd count", value: fdCount, limit: FrameHeader.maximumFDs)
        }
        let header = FrameHeader(length: UInt32(storage.count), messageID: messageID, flags: flags,
                                 requestID: requestID, fdCount: UInt8(fdCount))
        storage.withUnsafeMutableBytes { header.encode(into: $0) }
        return header
    }

    /// Resets, writes `message` as the body and finishes the frame.
    @discardableResult
    public mutating func encode<M: WireMessage>(_ message: M, requestID: UInt32, flags: FrameFlags = [],
                                                fdCount: Int = 0) throws(WireError) -> FrameHeader {
        reset()
        message.encode(into: &self)
        return try finish(messageID: M.messageID, requestID: requestID, flags: flags, fdCount: fdCount)
    }

    // MARK: - Low level

    /// Pads with zeros to `alignment`, then appends `size` zero bytes; returns their body offset.
    public mutating func allocate(_ size: Int, alignment: Int) -> Int {
        let misalignment = bodyCount % alignment
        if misalignment != 0 { storage.append(contentsOf: repeatElement(0, count: alignment - misalignment)) }
        let offset = bodyCount
        storage.append(contentsOf: repeatElement(0, count: size))
        return offset
    }

    /// Stores a little-endian integer at a body offset already allocated.
    public mutating func store<T: FixedWidthInteger>(_ value: T, at bodyOffset: Int) {
        let at = bodyOffset + FrameHeader.size
        storage.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self) }
    }

    private mutating func noteLimit(_ what: String, _ value: Int, _ limit: Int) {
        if value > limit, limitError == nil { limitError = .limitExceeded(what: what, value: value, limit: limit) }
    }

    private mutating func setSlot(_ table: TableBuilder, _ field: Int, _ offset: Int) {
        precondition(field < table.fieldCount, "field \(field) outside a table of \(table.fieldCount)")
        store(UInt32(truncatingIfNeeded: offset), at: table.offset + 4 + 4 * field)
    }

    /// Writes a (u32 offset, u32 count) pair and returns its body offset; the caller fills it.
    private mutating func allocatePair() -> Int { allocate(8, alignment: 4) }

    private mutating func storePair(at pair: Int, offset: Int, count: Int) {
        store(UInt32(truncatingIfNeeded: offset), at: pair)
        store(UInt32(truncatingIfNeeded: count), at: pair + 4)
    }

    // MARK: - Tables and fields

    /// Starts a table: u16 field count, u16 zero, then `fieldCount` u32 slots (0 = absent).
    public mutating func beginTable(fieldCount: Int) -> TableBuilder {
        noteLimit("field count", fieldCount, WireLimits.maximumFieldCount)
        let offset = allocate(4 + 4 * fieldCount, alignment: 4)
        store(UInt16(truncatingIfNeeded: fieldCount), at: offset)
        return TableBuilder(offset: offset, fieldCount: fieldCount)
    }

    /// An integer field, stored at its natural alignment.
    public mutating func field<T: FixedWidthInteger>(_ table: TableBuilder, _ field: Int, _ value: T) {
        let size = MemoryLayout<T>.size
        let offset = allocate(size, alignment: size)
        store(value, at: offset)
        setSlot(table, field, offset)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: Bool) {
        self.field(table, field, UInt8(value ? 1 : 0))
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: FDIndex) {
        noteLimit("fd index", value.index, FrameHeader.maximumFDs - 1)
        self.field(table, field, value.rawValue)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: String) {
        let pair = allocatePair()
        let data = bodyCount
        storage.append(contentsOf: value.utf8)
        let length = bodyCount - data
        noteLimit("string length", length, WireLimits.maximumString)
        storePair(at: pair, offset: data, count: length)
        setSlot(table, field, pair)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, bytes: UnsafeRawBufferPointer) {
        let pair = allocatePair()
        let data = bodyCount
        storage.append(contentsOf: bytes)
        noteLimit("bytes length", bytes.count, WireLimits.maximumBytes)
        storePair(at: pair, offset: data, count: bytes.count)
        setSlot(table, field, pair)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, bytes: [UInt8]) {
        let pair = allocatePair()
        let data = bodyCount
        storage.append(contentsOf: bytes)
        noteLimit("bytes length", bytes.count, WireLimits.maximumBytes)
        storePair(at: pair, offset: data, count: bytes.count)
        setSlot(table, field, pair)
    }

    /// A vector of integers: a pair (offset, count), the elements packed at their natural alignment.
    public mutating func field<T: FixedWidthInteger>(_ table: TableBuilder, _ field: Int, vector: [T]) {
        noteLimit("vector count", vector.count, WireLimits.maximumVectorCount)
        let pair = allocatePair()
        let size = MemoryLayout<T>.size
        let elements = allocate(size * vector.count, alignment: size)
        for (i, v) in vector.enumerated() { store(v, at: elements + i * size) }
        storePair(at: pair, offset: elements, count: vector.count)
        setSlot(table, field, pair)
    }

    /// A vector of strings: a pair (offset, count) to an array of (offset, length) pairs, then the bytes.
    public mutating func field(_ table: TableBuilder, _ field: Int, strings: [String]) {
        noteLimit("vector count", strings.count, WireLimits.maximumVectorCount)
        let pair = allocatePair()
        let elements = allocate(8 * strings.count, alignment: 4)
        for (i, s) in strings.enumerated() {
            let data = bodyCount
            storage.append(contentsOf: s.utf8)
            noteLimit("string length", bodyCount - data, WireLimits.maximumString)
            storePair(at: elements + 8 * i, offset: data, count: bodyCount - data)
        }
        storePair(at: pair, offset: elements, count: strings.count)
        setSlot(table, field, pair)
    }

    /// A nested table: the slot holds the child table's offset.
    public mutating func field<E: WireTable>(_ table: TableBuilder, _ field: Int, table value: E) {
        let child = value.encodeTable(into: &self)
        setSlot(table, field, child)
    }

    /// A vector of tables: a pair (offset, count) to an array of u32 table offsets, then the tables.
    public mutating func field<E: WireTable>(_ table: TableBuilder, _ field: Int, tables: [E]) {
        noteLimit("vector count", tables.count, WireLimits.maximumVectorCount)
        let pair = allocatePair()
        let elements = allocate(4 * tables.count, alignment: 4)
        for (i, t) in tables.enumerated() {
            let child = t.encodeTable(into: &self)
            store(UInt32(truncatingIfNeeded: child), at: elements + 4 * i)
        }
        storePair(at: pair, offset: elements, count: tables.count)
        setSlot(table, field, pair)
    }
}

// The trusted side of the body codec: builds a frame (16-byte header room + body) into one reusable byte
// array. Tables are written top-down: a table's slot array first, then each field's data after it, so
// every reference points forward (the reader relies on that; see protocol/README.md).
//
// SAFETY: `allocate` and `appendBytes` grow the buffer before touching it, then write only inside
// count..<end; `store` checks its range against `count`. The buffer is an Array owned by the writer, so
// the pointers never outlive the withUnsafeMutableBytes call that produced them.

/// A table being written: where its slot array starts and how many slots it has.
public struct TableBuilder: Sendable {
    /// Body offset of the table.
    public let offset: Int
    public let fieldCount: Int
}

public struct MessageWriter: Sendable {
    /// Header room followed by the body, then spare zeroed capacity; only the first `count` bytes are the
    /// frame. Managed by hand (not with Array.append) so that reserving space is a bounds check and a
    /// memset, which keeps encoding at a few nanoseconds a field.
    private var buffer: [UInt8]
    /// Bytes of the frame written so far, header room included.
    public private(set) var count: Int
    /// The first limit a field broke, reported by `finish` (the writer itself never traps on size).
    public private(set) var limitError: WireError?

    public init(capacity: Int = 4096) {
        buffer = [UInt8](repeating: 0, count: max(capacity, 64))
        count = FrameHeader.size
    }

    /// Forgets the previous message, keeping the allocated buffer.
    public mutating func reset() {
        count = FrameHeader.size
        limitError = nil
    }

    /// Bytes the buffer holds before it must grow.
    public var capacity: Int { buffer.count }

    /// Bytes of body written so far; also the body offset of the next byte.
    public var bodyCount: Int { count - FrameHeader.size }

    /// The body bytes written so far (for tests and tools).
    public var body: ArraySlice<UInt8> { buffer[FrameHeader.size..<count] }

    /// A copy of the complete frame (valid after `finish`). Hot paths use `withFrame` instead.
    public var frame: [UInt8] { Array(buffer[0..<count]) }

    /// Calls `body` with the complete frame (valid after `finish`), in place.
    public func withFrame<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Fills in the header and checks the limits. After this `withFrame`/`frame` give the frame to send,
    /// with the descriptors (exactly `fdCount`) passed alongside.
    public mutating func finish(messageID: UInt16, requestID: UInt32, flags: FrameFlags = [],
                                fdCount: Int = 0) throws(WireError) -> FrameHeader {
        if let limitError { throw limitError }
        guard count <= FrameHeader.maximumLength else {
            throw .oversized(length: count, limit: FrameHeader.maximumLength)
        }
        guard fdCount >= 0, fdCount <= FrameHeader.maximumFDs else {
            throw .limitExceeded(what: "fd count", value: fdCount, limit: FrameHeader.maximumFDs)
        }
        let header = FrameHeader(length: UInt32(count), messageID: messageID, flags: flags,
                                 requestID: requestID, fdCount: UInt8(fdCount))
        buffer.withUnsafeMutableBytes { header.encode(into: $0) }
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

    /// Pads with zeros to `alignment`, then reserves `size` zeroed bytes; returns their body offset.
    public mutating func allocate(_ size: Int, alignment: Int) -> Int {
        // Alignments are powers of two and the header is 16 bytes, so frame and body alignment agree.
        let start = (count + alignment - 1) & ~(alignment - 1)
        let end = start + size
        if end > buffer.count { grow(to: end) }
        let from = count
        buffer.withUnsafeMutableBytes { raw in
            // SAFETY: from..<end lies inside the buffer (grown above).
            _ = raw.baseAddress!.advanced(by: from).initializeMemory(as: UInt8.self, repeating: 0, count: end - from)
        }
        count = end
        return start - FrameHeader.size
    }

    private mutating func grow(to needed: Int) {
        var newCount = buffer.count
        while newCount < needed { newCount *= 2 }
        buffer.append(contentsOf: repeatElement(0, count: newCount - buffer.count))
    }

    /// Appends raw bytes (no alignment).
    private mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        let end = count + bytes.count
        if end > buffer.count { grow(to: end) }
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let from = count
        buffer.withUnsafeMutableBytes { raw in
            raw.baseAddress!.advanced(by: from).copyMemory(from: source, byteCount: bytes.count)
        }
        count = end
    }

    private mutating func appendUTF8(_ string: String) {
        var s = string
        s.withUTF8 { appendBytes(UnsafeRawBufferPointer($0)) }
    }

    /// Stores a little-endian integer at a body offset already allocated.
    public mutating func store<T: FixedWidthInteger>(_ value: T, at bodyOffset: Int) {
        let at = bodyOffset + FrameHeader.size
        precondition(at >= 0 && at + MemoryLayout<T>.size <= count, "store outside the written message")
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self) }
    }

    @usableFromInline
    mutating func noteLimit(_ what: String, _ value: Int, _ limit: Int) {
        if value > limit, limitError == nil { limitError = .limitExceeded(what: what, value: value, limit: limit) }
    }

    @usableFromInline
    mutating func setSlot(_ table: TableBuilder, _ field: Int, _ offset: Int) {
        precondition(field < table.fieldCount, "field \(field) outside a table of \(table.fieldCount)")
        store(UInt32(truncatingIfNeeded: offset), at: table.offset + 4 + 4 * field)
    }

    /// Writes a (u32 offset, u32 count) pair and returns its body offset; the caller fills it.
    @usableFromInline
    mutating func allocatePair() -> Int { allocate(8, alignment: 4) }

    @usableFromInline
    mutating func storePair(at pair: Int, offset: Int, count: Int) {
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
        integerField(table, field, value)
    }

    /// One reservation, padding, value and slot in a single buffer access: this is the common case.
    @inline(__always)
    mutating func integerField<T: FixedWidthInteger>(_ table: TableBuilder, _ field: Int, _ value: T) {
        precondition(field < table.fieldCount, "field \(field) outside a table of \(table.fieldCount)")
        let size = MemoryLayout<T>.size
        let from = count
        let start = (from + size - 1) & ~(size - 1)
        let end = start + size
        if end > buffer.count { grow(to: end) }
        let slot = FrameHeader.size + table.offset + 4 + 4 * field
        buffer.withUnsafeMutableBytes { raw in
            for i in from..<start { raw[i] = 0 }
            raw.storeBytes(of: value.littleEndian, toByteOffset: start, as: T.self)
            raw.storeBytes(of: UInt32(truncatingIfNeeded: start - FrameHeader.size).littleEndian,
                           toByteOffset: slot, as: UInt32.self)
        }
        count = end
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: Bool) {
        integerField(table, field, UInt8(value ? 1 : 0))
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: FDIndex) {
        noteLimit("fd index", value.index, FrameHeader.maximumFDs - 1)
        integerField(table, field, value.rawValue)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: String) {
        let pair = allocatePair()
        let data = bodyCount
        appendUTF8(value)
        let length = bodyCount - data
        noteLimit("string length", length, WireLimits.maximumString)
        storePair(at: pair, offset: data, count: length)
        setSlot(table, field, pair)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, bytes: UnsafeRawBufferPointer) {
        let pair = allocatePair()
        let data = bodyCount
        appendBytes(bytes)
        noteLimit("bytes length", bytes.count, WireLimits.maximumBytes)
        storePair(at: pair, offset: data, count: bytes.count)
        setSlot(table, field, pair)
    }

    public mutating func field(_ table: TableBuilder, _ field: Int, bytes: [UInt8]) {
        let pair = allocatePair()
        let data = bodyCount
        bytes.withUnsafeBytes { appendBytes($0) }
        noteLimit("bytes length", bytes.count, WireLimits.maximumBytes)
        storePair(at: pair, offset: data, count: bytes.count)
        setSlot(table, field, pair)
    }

    /// A vector of integers: a pair (offset, count), the elements packed at their natural alignment.
    public mutating func field<T: FixedWidthInteger>(_ table: TableBuilder, _ field: Int, vector: [T]) {
        integerVector(table, field, vector)
    }

    @inline(__always)
    mutating func integerVector<T: FixedWidthInteger>(_ table: TableBuilder, _ field: Int, _ vector: [T]) {
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
            appendUTF8(s)
            noteLimit("string length", bodyCount - data, WireLimits.maximumString)
            storePair(at: elements + 8 * i, offset: data, count: bodyCount - data)
        }
        storePair(at: pair, offset: elements, count: strings.count)
        setSlot(table, field, pair)
    }

    /// A nested table: the slot holds the child table's offset.
    @inlinable
    public mutating func field<E: WireTable>(_ table: TableBuilder, _ field: Int, table value: E) {
        let child = value.encodeTable(into: &self)
        setSlot(table, field, child)
    }

    /// A vector of tables: a pair (offset, count) to an array of u32 table offsets, then the tables.
    @inlinable
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

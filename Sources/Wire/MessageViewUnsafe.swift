// The untrusted side of the body codec: a checked reader over a received body, read in place.
//
// SAFETY: every type here holds an UnsafeRawBufferPointer borrowed from the caller (the receive buffer);
// the caller keeps that memory alive and unchanged while a view, or a slice returned by one, is in use.
// Every load goes through `check`/`locate`, which validate offset, length and alignment against the body
// size with Int arithmetic on values that are at most 32 bits, so nothing can overflow or read outside.

/// A received body (the bytes after the 16-byte header) and the number of descriptors that came with it.
public struct MessageView {
    public let bytes: UnsafeRawBufferPointer
    public let fdCount: Int
    /// The frame header, when the view was made from a whole frame.
    public let header: FrameHeader?

    /// A view of a body alone.
    public init(body: UnsafeRawBufferPointer, fdCount: Int) throws(WireError) {
        guard body.count <= FrameHeader.maximumLength - FrameHeader.size else {
            throw .oversized(length: body.count + FrameHeader.size, limit: FrameHeader.maximumLength)
        }
        guard fdCount >= 0, fdCount <= FrameHeader.maximumFDs else {
            throw .fdCountMismatch(declared: fdCount, received: fdCount)
        }
        self.bytes = body
        self.fdCount = fdCount
        self.header = nil
    }

    /// Checks the header of a whole received frame (see `FrameHeader.decode`) and views its body.
    public init(frame: UnsafeRawBufferPointer, receivedFDs: Int) throws(WireError) {
        let header = try FrameHeader.decode(frame, receivedFDs: receivedFDs)
        self.bytes = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...])
        self.fdCount = receivedFDs
        self.header = header
    }

    /// The root table, at body offset 0.
    public func root() throws(WireError) -> TableView {
        try TableView.make(bytes, fdCount: fdCount, at: 0, depth: 0, notBefore: 0)
    }
}

/// One table inside a body, bounds-checked: `offset` is 4-aligned and the slot array lies in the body.
public struct TableView {
    public let bytes: UnsafeRawBufferPointer
    public let fdCount: Int
    public let offset: Int
    public let fieldCount: Int
    public let depth: Int

    /// End of the slot array: field data and child objects must lie at or after it.
    public var end: Int { offset + 4 + 4 * fieldCount }

    static func make(_ bytes: UnsafeRawBufferPointer, fdCount: Int, at offset: Int, depth: Int,
                     notBefore: Int) throws(WireError) -> TableView {
        guard depth <= WireLimits.maximumDepth else {
            throw .limitExceeded(what: "table depth", value: depth, limit: WireLimits.maximumDepth)
        }
        try check(bytes, offset, 4, alignment: 4, notBefore: notBefore)
        let count = Int(load(bytes, offset, UInt16.self))
        guard load(bytes, offset + 2, UInt16.self) == 0 else { throw .malformed("reserved table bits set") }
        guard count <= WireLimits.maximumFieldCount else {
            throw .limitExceeded(what: "field count", value: count, limit: WireLimits.maximumFieldCount)
        }
        try check(bytes, offset + 4, 4 * count, alignment: 4, notBefore: notBefore)
        return TableView(bytes: bytes, fdCount: fdCount, offset: offset, fieldCount: count, depth: depth)
    }

    // MARK: - Primitive checks

    /// Throws unless `length` bytes at `offset` lie in the body, at or after `notBefore`, aligned.
    @inline(__always)
    static func check(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ length: Int, alignment: Int,
                      notBefore: Int) throws(WireError) {
        guard offset >= notBefore, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw .badOffset(offset: offset, length: length, bound: bytes.count)
        }
        guard offset % alignment == 0 else { throw .malformed("offset \(offset) not aligned to \(alignment)") }
    }

    @inline(__always)
    static func loadArray<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ count: Int,
                                                _: T.Type) -> [T] {
        let size = MemoryLayout<T>.size
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = load(bytes, offset + i * size, T.self) }
            initialized = count
        }
    }

    @inline(__always)
    static func load<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The body offset in slot `field`, or nil when the slot is absent (beyond the count, or 0).
    @inline(__always)
    public func slot(_ field: Int) -> Int? {
        guard field < fieldCount else { return nil }
        let value = Int(Self.load(bytes, offset + 4 + 4 * field, UInt32.self))
        return value == 0 ? nil : value
    }

    /// Locates a field's inline data of `size` bytes, checked; nil when absent.
    @inline(__always)
    func locate(_ field: Int, size: Int, alignment: Int) throws(WireError) -> Int? {
        guard let at = slot(field) else { return nil }
        try Self.check(bytes, at, size, alignment: alignment, notBefore: end)
        return at
    }

    // MARK: - Scalars

    public func scalar<T: FixedWidthInteger>(_ field: Int, _: T.Type) throws(WireError) -> T? {
        try loadScalar(field, T.self)
    }

    @inline(__always)
    func loadScalar<T: FixedWidthInteger>(_ field: Int, _: T.Type) throws(WireError) -> T? {
        let size = MemoryLayout<T>.size
        guard let at = try locate(field, size: size, alignment: size) else { return nil }
        return Self.load(bytes, at, T.self)
    }

    public func bool(_ field: Int) throws(WireError) -> Bool? {
        guard let v = try loadScalar(field, UInt8.self) else { return nil }
        guard v <= 1 else { throw .malformed("bool field \(field) holds \(v)") }
        return v == 1
    }

    public func fd(_ field: Int) throws(WireError) -> FDIndex? {
        guard let v = try loadScalar(field, UInt32.self) else { return nil }
        guard Int(v) < fdCount else { throw .badFDIndex(index: Int(v), received: fdCount) }
        return FDIndex(rawValue: v)
    }

    // MARK: - Strings and bytes, in place

    /// Reads the (offset, count) pair in slot `field` and checks `count * elementSize` bytes at the offset,
    /// after the pair. Returns (data offset, count); nil when absent.
    func pair(_ field: Int, elementSize: Int, alignment: Int, limit: Int,
              what: String) throws(WireError) -> (offset: Int, count: Int)? {
        guard let at = try locate(field, size: 8, alignment: 4) else { return nil }
        let data = Int(Self.load(bytes, at, UInt32.self))
        let count = Int(Self.load(bytes, at + 4, UInt32.self))
        guard count <= limit else { throw .limitExceeded(what: what, value: count, limit: limit) }
        try Self.check(bytes, data, count * elementSize, alignment: alignment, notBefore: at + 8)
        return (data, count)
    }

    /// A string or byte string field's bytes, in place (no copy, no UTF-8 check).
    public func rawBytes(_ field: Int, limit: Int = WireLimits.maximumBytes) throws(WireError) -> UnsafeRawBufferPointer? {
        guard let (data, count) = try pair(field, elementSize: 1, alignment: 1, limit: limit, what: "length") else {
            return nil
        }
        return UnsafeRawBufferPointer(rebasing: bytes[data..<(data + count)])
    }

    /// A string field, copied out after UTF-8 validation.
    public func string(_ field: Int, budget: inout DecodeBudget) throws(WireError) -> String? {
        guard let raw = try rawBytes(field, limit: WireLimits.maximumString) else { return nil }
        try budget.charge(raw.count)
        guard let s = UTF8Validation.string(raw) else { throw .malformed("field \(field) is not UTF-8") }
        return s
    }

    /// A bytes field, copied out.
    public func bytes(_ field: Int, budget: inout DecodeBudget) throws(WireError) -> [UInt8]? {
        guard let raw = try rawBytes(field) else { return nil }
        try budget.charge(raw.count)
        return Array(raw)
    }

    // MARK: - Vectors

    /// A vector of integers, in place.
    public func scalarVector<T: FixedWidthInteger>(_ field: Int, _: T.Type) throws(WireError) -> ScalarVector<T>? {
        let size = MemoryLayout<T>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        return ScalarVector(bytes: bytes, offset: data, count: count)
    }

    public func scalars<T: FixedWidthInteger>(_ field: Int, _: T.Type,
                                              budget: inout DecodeBudget) throws(WireError) -> [T]? {
        try loadScalars(field, T.self, budget: &budget)
    }

    @inline(__always)
    func loadScalars<T: FixedWidthInteger>(_ field: Int, _: T.Type,
                                           budget: inout DecodeBudget) throws(WireError) -> [T]? {
        guard let v = try scalarVector(field, T.self) else { return nil }
        try budget.charge(v.count * MemoryLayout<T>.size)
        return Array(v)
    }

    /// A vector of strings, in place: each element checked when read.
    public func stringVector(_ field: Int) throws(WireError) -> StringVector? {
        guard let (data, count) = try pair(field, elementSize: 8, alignment: 4,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        return StringVector(bytes: bytes, offset: data, count: count)
    }

    public func strings(_ field: Int, budget: inout DecodeBudget) throws(WireError) -> [String]? {
        guard let v = try stringVector(field) else { return nil }
        try budget.charge(8 * v.count)
        var result: [String] = []
        result.reserveCapacity(v.count)
        for i in 0..<v.count {
            let raw = try v.element(i)
            try budget.charge(raw.count)
            guard let s = UTF8Validation.string(raw) else {
                throw .malformed("field \(field)[\(i)] is not UTF-8")
            }
            result.append(s)
        }
        return result
    }

    // MARK: - Tables

    /// A nested table: the slot holds its offset, which must lie after this table's slot array.
    public func table(_ field: Int) throws(WireError) -> TableView? {
        guard let at = slot(field) else { return nil }
        return try Self.make(bytes, fdCount: fdCount, at: at, depth: depth + 1, notBefore: end)
    }

    @inlinable
    public func decodeTable<E: WireTable>(_ field: Int, _: E.Type,
                                          budget: inout DecodeBudget) throws(WireError) -> E? {
        guard let t = try table(field) else { return nil }
        try budget.charge(4 + 4 * t.fieldCount)
        return try E.decode(table: t, budget: &budget)
    }

    /// A vector of tables, in place: each element located and checked when read.
    public func tableVector(_ field: Int) throws(WireError) -> TableVector? {
        guard let (data, count) = try pair(field, elementSize: 4, alignment: 4,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        return TableVector(bytes: bytes, fdCount: fdCount, offset: data, count: count, depth: depth + 1)
    }

    @inlinable
    public func decodeTables<E: WireTable>(_ field: Int, _: E.Type,
                                           budget: inout DecodeBudget) throws(WireError) -> [E]? {
        guard let v = try tableVector(field) else { return nil }
        try budget.charge(4 * v.count)
        var result: [E] = []
        result.reserveCapacity(v.count)
        for i in 0..<v.count {
            let t = try v.table(i)
            try budget.charge(4 + 4 * t.fieldCount)
            result.append(try E.decode(table: t, budget: &budget))
        }
        return result
    }
}

/// Integers packed in a body, read in place (the range was checked when the view was made).
public struct ScalarVector<T: FixedWidthInteger>: RandomAccessCollection {
    let bytes: UnsafeRawBufferPointer
    let offset: Int
    public let count: Int
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(i: Int) -> T {
        precondition(i >= 0 && i < count, "index out of range")
        return TableView.load(bytes, offset + i * MemoryLayout<T>.size, T.self)
    }
}

/// (offset, length) pairs in a body; each element's bytes are checked when read.
public struct StringVector {
    let bytes: UnsafeRawBufferPointer
    let offset: Int
    public let count: Int

    public func element(_ i: Int) throws(WireError) -> UnsafeRawBufferPointer {
        precondition(i >= 0 && i < count, "index out of range")
        let at = offset + 8 * i
        let data = Int(TableView.load(bytes, at, UInt32.self))
        let length = Int(TableView.load(bytes, at + 4, UInt32.self))
        guard length <= WireLimits.maximumString else {
            throw .limitExceeded(what: "string length", value: length, limit: WireLimits.maximumString)
        }
        try TableView.check(bytes, data, length, alignment: 1, notBefore: offset + 8 * count)
        return UnsafeRawBufferPointer(rebasing: bytes[data..<(data + length)])
    }
}

/// u32 table offsets in a body; each table is located and checked when read.
public struct TableVector {
    let bytes: UnsafeRawBufferPointer
    let fdCount: Int
    let offset: Int
    public let count: Int
    let depth: Int

    public func table(_ i: Int) throws(WireError) -> TableView {
        precondition(i >= 0 && i < count, "index out of range")
        let at = Int(TableView.load(bytes, offset + 4 * i, UInt32.self))
        return try TableView.make(bytes, fdCount: fdCount, at: at, depth: depth, notBefore: offset + 4 * count)
    }
}

extension Array where Element == UInt8 {
    /// Decodes a message from a body held in an array (tests, tools, non-hot paths).
    public func decodeBody<M: WireMessage>(as type: M.Type, fdCount: Int = 0) throws(WireError) -> M {
        let result: Result<M, WireError> = withUnsafeBytes { raw in
            do throws(WireError) {
                return .success(try M.decode(try MessageView(body: raw, fdCount: fdCount)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

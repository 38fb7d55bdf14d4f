// A fixed-length byte array stored inline (no allocation): char arrays inside kernel structs
// (utsname fields, sun_path, c_cc, sin6_addr) and the raw 112-byte union of siginfo.

public struct FixedBytes<let count: Int>: Hashable, Sendable, CustomStringConvertible {
    public var storage: InlineArray<count, UInt8>

    /// All zero.
    @inlinable public init() { storage = InlineArray(repeating: 0) }
    @inlinable public init(storage: InlineArray<count, UInt8>) { self.storage = storage }

    /// The first `count` bytes of `bytes`, zero-filled after (longer input is cut).
    @inlinable public init(_ bytes: some Sequence<UInt8>) {
        self.init()
        var i = 0
        for b in bytes where i < count { storage[i] = b; i += 1 }
    }

    /// A C string: the UTF-8 of `string` cut to count - 1 bytes so a NUL always follows.
    public init(cString string: String) {
        self.init(string.utf8.prefix(count - 1))
    }

    @inlinable public var count: Int { count }

    @inlinable public subscript(index: Int) -> UInt8 {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    /// The bytes up to the first NUL, decoded as UTF-8 (lossy); allocates.
    public var cString: String {
        var end = 0
        while end < count, storage[end] != 0 { end += 1 }
        return String(decoding: (0..<end).map { storage[$0] }, as: UTF8.self)
    }

    /// All bytes as an array; allocates.
    public var array: [UInt8] { (0..<count).map { storage[$0] } }

    /// Reads a little-endian integer at `offset` (used for union members such as siginfo's fields).
    @inlinable public func load<T: FixedWidthInteger>(_ offset: Int, as type: T.Type = T.self) -> T {
        var value: T = 0
        for i in 0..<(T.bitWidth / 8) { value |= T(truncatingIfNeeded: storage[offset + i]) << (8 * i) }
        return value
    }

    /// Writes a little-endian integer at `offset`.
    @inlinable public mutating func store<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
        for i in 0..<(T.bitWidth / 8) { storage[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        for i in 0..<count where lhs.storage[i] != rhs.storage[i] { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for i in 0..<count { hasher.combine(storage[i]) }
    }

    public var description: String { array.description }
}

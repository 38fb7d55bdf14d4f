// The uniform shape of every guest-visible kernel struct: a Swift value with a declared size, a checked
// decoder and a trusted encoder at fixed little-endian offsets (x86-64), and a field table that the
// layout test compares with the C compiler's view of the kernel headers.
//
// Decoding is checked (the bytes come from the sandboxed program): a short buffer is an `ABIError`,
// never a crash. Encoding is trusted (our own values): it writes exactly `size` bytes and zeroes every
// padding byte first, so no Sentry memory ever leaks into guest memory through a hole in a struct.

/// Why guest bytes could not be decoded.
public enum ABIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The buffer holds fewer bytes than the struct needs.
    case truncated(needed: Int, available: Int)
    /// A length field inside the bytes is impossible (e.g. a dirent's d_reclen).
    case invalidLength(Int)

    /// The errno a syscall handler would return for this: the guest passed a buffer that is too short
    /// or a record that makes no sense.
    public var errno: Errno { .EINVAL }

    public var description: String {
        switch self {
        case let .truncated(needed, available): "truncated: need \(needed) bytes, have \(available)"
        case let .invalidLength(length): "invalid length field \(length)"
        }
    }

    /// Throws `.truncated` unless `buffer` holds at least `size` bytes.
    @inlinable @inline(__always)
    public static func check(_ buffer: UnsafeRawBufferPointer, _ size: Int) throws(ABIError) {
        if buffer.count < size { throw .truncated(needed: size, available: buffer.count) }
    }
}

/// Byte order of a field in memory. Almost everything is little-endian (x86-64); network addresses and
/// ports inside sockaddrs are big-endian, and their Swift values are the host numbers (port 80 is 80).
public enum ABIByteOrder: Sendable { case little, big }

/// One field of a kernel struct: its C name (what `offsetof` accepts, e.g. "st_ino" or the kernel macro
/// "si_pid"), offset and size in bytes, and the Swift property holding it (nil for padding/reserved
/// bytes, which are zero on encode and ignored on decode).
public struct ABIField<Root>: Sendable {
    public let name: String
    public let offset: Int
    public let size: Int
    public let byteOrder: ABIByteOrder
    public let keyPath: (PartialKeyPath<Root> & Sendable)?

    public init<Value>(_ name: String, _ offset: Int, _ size: Int, _ keyPath: KeyPath<Root, Value> & Sendable,
                       byteOrder: ABIByteOrder = .little) {
        self.name = name; self.offset = offset; self.size = size; self.byteOrder = byteOrder
        self.keyPath = keyPath
    }

    /// Padding or reserved bytes the kernel names (e.g. stat's `__pad0`): not a property, encoded as zero.
    public static func padding(_ name: String, _ offset: Int, _ size: Int) -> ABIField {
        ABIField(name: name, offset: offset, size: size)
    }

    /// A trailing flexible array member (e.g. linux_dirent64's d_name): offset only, size 0.
    public static func flexibleArray(_ name: String, _ offset: Int) -> ABIField {
        ABIField(name: name, offset: offset, size: 0)
    }

    private init(name: String, offset: Int, size: Int) {
        self.name = name; self.offset = offset; self.size = size; self.byteOrder = .little; self.keyPath = nil
    }
}

/// The layout of one kernel struct as this module declares it: the C type it mirrors and its fields.
/// Used by the layout test (generated C program, sizeof/offsetof) and by documentation; encode/decode
/// use literal offsets for speed, and the test checks both against each other.
public struct ABILayout<Root>: Sendable {
    /// The C type expression, e.g. "struct stat" (which header defines it is the test's business).
    public let cType: String
    public let size: Int
    public let fields: [ABIField<Root>]

    public init(_ cType: String, size: Int, _ fields: [ABIField<Root>]) {
        self.cType = cType; self.size = size; self.fields = fields
    }
}

/// A fixed-size Linux x86-64 struct with explicit encode/decode.
public protocol ABIStruct: Equatable, Sendable {
    /// sizeof the C struct in bytes.
    static var size: Int { get }
    /// Field names, offsets and sizes (for the layout test).
    static var layout: ABILayout<Self> { get }
    /// The fewest bytes `init(decoding:)` accepts: `size`, except for variable-length addresses
    /// (sockaddr_un is read from however many bytes the guest's addrlen says).
    static var minimumSize: Int { get }
    /// Decodes from the first `size` bytes of `buffer` (guest-controlled bytes: checked).
    init(decoding buffer: UnsafeRawBufferPointer) throws(ABIError)
    /// Writes exactly `size` bytes at the start of `buffer`, padding zeroed. The buffer must hold at
    /// least `size` bytes (a caller bug otherwise: precondition).
    func encode(into buffer: UnsafeMutableRawBufferPointer)
}

extension ABIStruct {
    public static var minimumSize: Int { size }

    /// Decodes at `offset` inside a larger buffer (checked like `init(decoding:)`).
    @inlinable
    public init(decoding buffer: UnsafeRawBufferPointer, at offset: Int) throws(ABIError) {
        guard offset >= 0, offset <= buffer.count else {
            throw .truncated(needed: offset + Self.size, available: buffer.count)
        }
        try self.init(decoding: UnsafeRawBufferPointer(rebasing: buffer[offset...]))
    }

    /// Encodes at `offset` inside a larger buffer.
    @inlinable
    public func encode(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset <= buffer.count, "ABI encode offset out of range")
        encode(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
    }

    /// Decodes from an array (allocation-free; for tests and cold paths that already hold bytes).
    public init(bytes: [UInt8]) throws(ABIError) {
        let result: Result<Self, ABIError> = bytes.withUnsafeBytes { raw in
            do throws(ABIError) { return .success(try Self(decoding: raw)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    /// The encoded bytes as a new array (allocates; hot paths use `encode(into:)`).
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.size) { buffer, count in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            count = Self.size
        }
    }
}

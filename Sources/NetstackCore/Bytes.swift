// Big-endian field access and the Internet checksum (RFC 1071). Readers are only called after the
// caller has checked the bounds; writers go into buffers the stack sized itself.

@inline(__always) func load16(_ b: [UInt8], _ i: Int) -> UInt16 {
    UInt16(b[i]) << 8 | UInt16(b[i + 1])
}

@inline(__always) func load32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
}

@inline(__always) func store16(_ b: inout [UInt8], _ i: Int, _ v: UInt16) {
    b[i] = UInt8(truncatingIfNeeded: v >> 8)
    b[i + 1] = UInt8(truncatingIfNeeded: v)
}

@inline(__always) func store32(_ b: inout [UInt8], _ i: Int, _ v: UInt32) {
    b[i] = UInt8(truncatingIfNeeded: v >> 24)
    b[i + 1] = UInt8(truncatingIfNeeded: v >> 16)
    b[i + 2] = UInt8(truncatingIfNeeded: v >> 8)
    b[i + 3] = UInt8(truncatingIfNeeded: v)
}

/// One's-complement sum accumulator for the Internet checksum.
public struct InternetChecksum {
    var sum: UInt64 = 0

    public init() {}

    @inline(__always) mutating func add16(_ v: UInt16) { sum &+= UInt64(v) }
    @inline(__always) mutating func add32(_ v: UInt32) { sum &+= UInt64(v >> 16) &+ UInt64(v & 0xffff) }

    /// Adds bytes[range] as a sequence of 16-bit big-endian words (an odd tail is padded with zero).
    /// Word-at-a-time over the buffer (ChecksumUnsafe.swift): every payload byte in and out passes here.
    mutating func add(_ bytes: [UInt8], _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "checksum range outside the buffer")
        sum &+= bytes.withUnsafeBytes { InternetChecksum.partialSum($0, range) }
    }

    /// The folded, complemented 16-bit result.
    public var value: UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xffff) &+ (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// Convenience: the checksum of bytes[range].
    public static func of(_ bytes: [UInt8], _ range: Range<Int>) -> UInt16 {
        var c = InternetChecksum()
        c.add(bytes, range)
        return c.value
    }
}

/// Why a parser refused its input. Parsers never trap on hostile input; they return one of these.
public enum ParseError: Error, Equatable, Sendable {
    case truncated
    case badVersion
    case badHeaderLength
    case badLength
    case badChecksum
    case unsupported
}

// The Internet checksum's inner loop, eight bytes at a time. The one's-complement sum is
// byte-order independent (RFC 1071 section 2(B)): summing native little-endian 32-bit words and
// swapping the folded 16-bit result gives the same value as summing big-endian 16-bit words.

extension InternetChecksum {
    /// The sum of raw[range] as big-endian 16-bit words, folded to at most 17 bits.
    /// SAFETY: the caller (InternetChecksum.add) checked that `range` lies inside `raw`; every load
    /// below is at an offset in range.lowerBound ..< range.upperBound with its full width inside.
    @inline(__always)
    static func partialSum(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64 {
        guard let base = raw.baseAddress, !range.isEmpty else { return 0 }
        let p = base + range.lowerBound
        let n = range.count
        var native: UInt64 = 0
        var i = 0
        // Two 32-bit words per step into a 64-bit accumulator: no overflow before 2^32 steps.
        while i + 8 <= n {
            let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            native &+= (w & 0xffff_ffff) &+ (w >> 32)
            i += 8
        }
        if i + 4 <= n {
            native &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            i += 4
        }
        while native >> 16 != 0 { native = (native & 0xffff) &+ (native >> 16) }
        var big = UInt64(UInt16(truncatingIfNeeded: native).byteSwapped)
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        if i + 2 <= n {
            big &+= UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < n { big &+= UInt64(bytes[i]) << 8 }
        return big
    }
}

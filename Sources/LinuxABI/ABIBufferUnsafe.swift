// Little-endian loads and stores at byte offsets in raw buffers: the only place LinuxABI touches memory.
//
// SAFETY: callers check the buffer's length once against the struct's size before any load
// (`ABIError.check`) and encoders `abiPrepare` (precondition) before any store, so every offset used
// below is in bounds. Loads and stores are unaligned-safe (guest structs may sit at any address).

extension UnsafeRawBufferPointer {
    /// Loads a little-endian integer at `offset`; the caller has checked `offset + size <= count`.
    @inlinable @inline(__always)
    public func abiLoad<T: FixedWidthInteger>(_ offset: Int, as type: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Loads a big-endian (network order) integer at `offset`.
    @inlinable @inline(__always)
    public func abiLoadBigEndian<T: FixedWidthInteger>(_ offset: Int, as type: T.Type = T.self) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Checks the buffer holds `size` bytes and zeroes them (so padding never carries stale memory).
    @inlinable @inline(__always)
    public func abiPrepare(_ size: Int) {
        precondition(count >= size, "ABI encode buffer too small")
        if size > 0 { baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: size) }
    }

    /// Stores a little-endian integer at `offset`.
    @inlinable @inline(__always)
    public func abiStore<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// Stores a big-endian (network order) integer at `offset`.
    @inlinable @inline(__always)
    public func abiStoreBigEndian<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}

extension FixedBytes {
    /// Copies `count` bytes from `buffer` at `offset`; the caller has checked the bounds.
    @inlinable
    public init(loading buffer: UnsafeRawBufferPointer, at offset: Int) {
        var bytes = InlineArray<count, UInt8>(repeating: 0)
        var span = bytes.mutableSpan
        span.withUnsafeMutableBytes { destination in
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + count)]))
        }
        self.init(storage: bytes)
    }

    /// Copies the bytes into `buffer` at `offset`; the caller has checked the bounds.
    @inlinable
    public func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        storage.span.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + count)]).copyMemory(from: source)
        }
    }
}

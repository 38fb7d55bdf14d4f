// struct linux_dirent64 as getdents64(2) writes it (the kernel's include/linux/dirent.h; not in the
// uapi headers): a 19-byte header (d_ino, d_off, d_reclen, d_type) then the NUL-terminated name, the
// whole record padded to 8 bytes. Variable length, so not an ABIStruct: an encoder that appends one
// record and a checked decoder for one record.

public struct Dirent64: Equatable, Sendable {
    public var d_ino: UInt64
    public var d_off: Int64
    public var d_reclen: UInt16
    public var d_type: UInt8
    /// The name's bytes without the terminating NUL.
    public var d_name: [UInt8]
    public init(d_ino: UInt64, d_off: Int64, d_reclen: UInt16, d_type: UInt8, d_name: [UInt8]) {
        self.d_ino = d_ino; self.d_off = d_off; self.d_reclen = d_reclen; self.d_type = d_type; self.d_name = d_name
    }

    /// offsetof(struct linux_dirent64, d_name).
    public static let nameOffset = 19
    public static let layout = ABILayout<Dirent64>("struct linux_dirent64", size: 24, [
        .init("d_ino", 0, 8, \.d_ino), .init("d_off", 8, 8, \.d_off),
        .init("d_reclen", 16, 2, \.d_reclen), .init("d_type", 18, 1, \.d_type),
        .flexibleArray("d_name", 19),
    ])

    /// DT_* values for d_type.
    public enum FileType {
        public static let unknown: UInt8 = 0, fifo: UInt8 = 1, character: UInt8 = 2, directory: UInt8 = 4
        public static let block: UInt8 = 6, regular: UInt8 = 8, symlink: UInt8 = 10, socket: UInt8 = 12
    }

    /// The record length for a name of `nameLength` bytes: header + name + NUL, rounded up to 8.
    @inlinable public static func recordLength(nameLength: Int) -> Int { (nameOffset + nameLength + 1 + 7) & ~7 }

    /// Writes one record at `offset` in `buffer` (the getdents64 output area) and returns its length, or
    /// nil when it does not fit (the caller stops and returns what it has, or EINVAL if nothing fits).
    /// Padding and the NUL are zeroed. The name comes from our own file system: trusted, no NUL inside.
    @inlinable
    public static func encode(ino: UInt64, off: Int64, type: UInt8, name: some Collection<UInt8>,
                              into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int? {
        let reclen = recordLength(nameLength: name.count)
        guard offset >= 0, reclen <= UInt16.max, buffer.count - offset >= reclen else { return nil }
        let record = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + reclen)])
        record.abiPrepare(reclen)
        record.abiStore(ino, 0); record.abiStore(off, 8); record.abiStore(UInt16(reclen), 16); record.abiStore(type, 18)
        var i = nameOffset
        for byte in name { record[i] = byte; i += 1 }
        return reclen
    }

    /// Decodes the record at `offset` (checked: the header fits, d_reclen covers header and a NUL-terminated
    /// name and stays inside the buffer).
    public init(decoding buffer: UnsafeRawBufferPointer, at offset: Int = 0) throws(ABIError) {
        guard offset >= 0, buffer.count - offset >= Dirent64.nameOffset else {
            throw .truncated(needed: offset + Dirent64.nameOffset, available: buffer.count)
        }
        let b = UnsafeRawBufferPointer(rebasing: buffer[offset...])
        d_ino = b.abiLoad(0); d_off = b.abiLoad(8); d_reclen = b.abiLoad(16); d_type = b.abiLoad(18)
        let reclen = Int(d_reclen)
        guard reclen > Dirent64.nameOffset else { throw .invalidLength(reclen) }
        guard reclen <= b.count else { throw .truncated(needed: offset + reclen, available: buffer.count) }
        var end = Dirent64.nameOffset
        while end < reclen, b[end] != 0 { end += 1 }
        guard end < reclen else { throw .invalidLength(reclen) }
        d_name = Array(b[Dirent64.nameOffset..<end])
    }
}

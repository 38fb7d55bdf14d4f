// getdents64(2): raw directory entries from a directory descriptor, parsed into names.
import CBulwark

public struct DirectoryEntry: Sendable, Equatable {
    public var name: String
    public var ino: UInt64
    public var type: UInt8
    /// d_off: the position after this entry (lseek there to continue).
    public var offset: UInt64
}

public enum DirectoryEntries {
    /// Reads one buffer's worth of entries at the descriptor's current position; empty at the end.
    public static func read(_ fd: Int32, bufferSize: Int = 32 * 1024) throws(HostError) -> [DirectoryEntry] {
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        let count = try hostCall("getdents64", retryOnInterrupt: true) {
            buffer.withUnsafeMutableBytes { b in bw_g_getdents64(fd, b.baseAddress, UInt(b.count)) }
        }
        var entries: [DirectoryEntry] = []
        // SAFETY: the kernel wrote `count` bytes of linux_dirent64 records (u64 ino, s64 off, u16 reclen,
        // u8 type, NUL-terminated name); every read below is bounds-checked against `count`.
        buffer.withUnsafeBytes { b in
            var position = 0
            while position + 19 <= count {
                let ino = b.loadUnaligned(fromByteOffset: position, as: UInt64.self)
                let offset = b.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self)
                let length = Int(b.loadUnaligned(fromByteOffset: position + 16, as: UInt16.self))
                let type = b[position + 18]
                guard length >= 19, position + length <= count else { break }
                var end = position + 19
                while end < position + length && b[end] != 0 { end += 1 }
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: b[(position + 19)..<end]), as: UTF8.self)
                entries.append(DirectoryEntry(name: name, ino: ino, type: type, offset: offset))
                position += length
            }
        }
        return entries
    }
}

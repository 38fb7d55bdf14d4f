// MAP_SHARED file mappings: the mapping's pages are a copy of the file in the memory file (taken at
// mmap time), and their contents go back to the file on msync, on munmap (or a mapping replacing them)
// and when the address space goes away (exit, exec). Not coherent with read(2)/write(2) on the file in
// between, unlike Linux's page cache: a write through the mapping reaches the file at those points only.
import Glibc

public final class SharedFileWriteBack {
    /// Writes `count` bytes at `fileOffset` of the file (the caller clamps nothing).
    public typealias Writer = (UnsafeRawPointer, Int, Int) -> Void
    /// Reads up to `count` bytes at `fileOffset` into the pointer (mremap fills a grown part with it).
    public typealias Reader = (UnsafeMutableRawPointer, Int, Int) -> Void
    let backing: Backing
    /// File offset of the backing's first byte.
    public let fileOffset: Int
    let writer: Writer
    let reader: Reader?

    public init(backing: Backing, fileOffset: Int, writer: @escaping Writer, reader: Reader? = nil) {
        self.backing = backing
        self.fileOffset = fileOffset
        self.writer = writer
        self.reader = reader
    }

    /// The same file's write-back for the pages of another backing whose first byte stands for file
    /// offset `fileOffset` (the part mremap grows a mapping by), filled from the file first.
    public func continued(on other: Backing, fileOffset: Int) -> SharedFileWriteBack {
        if !other.pastEnd { reader?(other.file.pointer(other.offset), other.length, fileOffset) }
        return SharedFileWriteBack(backing: other, fileOffset: fileOffset, writer: writer, reader: reader)
    }

    /// Writes back `length` bytes from `backingOffset` of the mapping's pages.
    public func flush(backingOffset: Int, length: Int) {
        guard !backing.pastEnd, backingOffset >= 0, length > 0, backingOffset + length <= backing.length else { return }
        writer(backing.file.pointer(backing.offset + backingOffset), length, fileOffset + backingOffset)
    }

    /// A writer for a host file: pwrite through its own duplicate of `fd`, never past the file's end
    /// (Linux does not extend a file through a mapping either). nil if the fd cannot be duplicated.
    public static func hostFileWriter(fd: Int32) -> Writer? { hostFileAccess(fd: fd)?.writer }

    /// The writer above and a reader (pread, zeros past the end) on one duplicate of `fd`.
    public static func hostFileAccess(fd: Int32) -> (writer: Writer, reader: Reader)? {
        let own = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else { return nil }
        let holder = HostFD(own)
        let reader: Reader = { into, count, offset in readFile(holder.fd, into, count, at: offset) }
        let writer: Writer = { bytes, count, offset in writeWithinFile(holder.fd, bytes, count, at: offset) }
        return (writer, reader)
    }

    /// pread of up to `count` bytes at `offset`, stopping at the file's end or an error.
    public static func readFile(_ fd: Int32, _ into: UnsafeMutableRawPointer, _ count: Int, at offset: Int) {
        var done = 0
        while done < count {
            let n = pread(fd, into + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
    }

    /// pwrite of `count` bytes at `offset`, never past the file's end (a mapping does not extend its
    /// file). Returns the bytes written.
    @discardableResult
    public static func writeWithinFile(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, at offset: Int) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        let n = min(count, Int(st.st_size) - offset)
        var done = 0
        while done < n {
            let w = pwrite(fd, bytes + done, n - done, off_t(offset + done))
            if w < 0 && errno == EINTR { continue }
            if w <= 0 { break }
            done += w
        }
        return done
    }
}

private final class HostFD {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

extension AddressSpace {
    /// Writes back the shared file mappings in [start, end) (msync). False if part of it is unmapped.
    public func writeBack(_ start: UInt64, _ end: UInt64) -> Bool {
        var a = start
        while a < end {
            guard let i = find(a) else { return false }
            let v = vmas[i]
            let e = min(v.end, end)
            v.writeBack?.flush(backingOffset: v.backingOffset + Int(a - v.start), length: Int(e - a))
            a = e
        }
        return true
    }
}

// MAP_SHARED file mappings: the mapping's pages are a copy of the file in the memory file (taken at
// mmap time), and their contents go back to the file on msync, on munmap (or a mapping replacing them)
// and when the address space goes away (exit, exec). Not coherent with read(2)/write(2) on the file in
// between, unlike Linux's page cache: a write through the mapping reaches the file at those points only.
import Glibc

public final class SharedFileWriteBack {
    /// Writes `count` bytes at `fileOffset` of the file (the caller clamps nothing).
    public typealias Writer = (UnsafeRawPointer, Int, Int) -> Void
    let backing: Backing
    /// File offset of the backing's first byte.
    let fileOffset: Int
    let writer: Writer

    public init(backing: Backing, fileOffset: Int, writer: @escaping Writer) {
        self.backing = backing
        self.fileOffset = fileOffset
        self.writer = writer
    }

    /// Writes back `length` bytes from `backingOffset` of the mapping's pages.
    public func flush(backingOffset: Int, length: Int) {
        guard backingOffset >= 0, length > 0, backingOffset + length <= backing.length else { return }
        writer(backing.file.pointer(backing.offset + backingOffset), length, fileOffset + backingOffset)
    }

    /// A writer for a host file: pwrite through its own duplicate of `fd`, never past the file's end
    /// (Linux does not extend a file through a mapping either). nil if the fd cannot be duplicated.
    public static func hostFileWriter(fd: Int32) -> Writer? {
        let own = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else { return nil }
        let holder = HostFD(own)
        return { bytes, count, offset in
            var st = stat()
            guard fstat(holder.fd, &st) == 0 else { return }
            let n = min(count, Int(st.st_size) - offset)
            var done = 0
            while done < n {
                let w = pwrite(holder.fd, bytes + done, n - done, off_t(offset + done))
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { return }
                done += w
            }
        }
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

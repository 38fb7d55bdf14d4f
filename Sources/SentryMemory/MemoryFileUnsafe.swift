// The memory file: one memfd holding all application memory. The Sentry maps all of it once, so
// copy-in/copy-out is a bounds-checked memcpy; stubs map ranges of it MAP_SHARED|MAP_FIXED.
// SAFETY: `base` maps the whole file (`capacity` bytes) for the Sentry's lifetime and is never
// unmapped; `pointer(offset)` is only called with offsets of allocated Backing ranges (which lie inside
// the capacity); copySparse stays inside [src, src+length) and the fresh destination of equal length.
import CBulwark
import Glibc

public let pageSize = 4096

@inline(__always) public func pageRoundDown(_ v: UInt64) -> UInt64 { v & ~UInt64(pageSize - 1) }
@inline(__always) public func pageRoundUp(_ v: UInt64) -> UInt64 { (v &+ UInt64(pageSize - 1)) & ~UInt64(pageSize - 1) }

public final class MemoryFile: @unchecked Sendable {
    public let fd: Int32
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    private var bump = 0
    /// Free ranges (offset, length), page aligned; first fit.
    private var free: [(Int, Int)] = []
    private var lock = pthread_mutex_t()
    /// Read-only file images shared by the address spaces (FileImageCache.swift).
    public private(set) var images: FileImageCache! = nil

    /// 32 TiB of address space (sparse: only touched pages use memory), so a program can reserve huge
    /// ranges as on Linux (InnoDB maps 8 TiB PROT_NONE up front and uses a little of it).
    public init?(capacity: Int = 1 << 45) {
        let fd = bw_memfd_create("bulwark-memory", 0)
        if fd < 0 { return nil }
        if ftruncate(fd, off_t(capacity)) != 0 { Glibc.close(fd); return nil }
        guard let p = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0),
              p != MAP_FAILED else { Glibc.close(fd); return nil }
        self.fd = fd
        self.base = p
        self.capacity = capacity
        pthread_mutex_init(&lock, nil)
        images = FileImageCache(file: self)
    }

    /// Allocates `length` bytes (page multiple) of zeroed file space; returns the offset.
    public func allocate(_ length: Int) -> Int? {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        for i in free.indices where free[i].1 >= length {
            let off = free[i].0
            if free[i].1 == length { free.remove(at: i) } else { free[i] = (off + length, free[i].1 - length) }
            return off
        }
        guard bump + length <= capacity else { return nil }
        let off = bump
        bump += length
        return off
    }

    /// Returns a range to the allocator; its pages are released (and read back as zeros).
    public func release(_ offset: Int, _ length: Int) {
        guard length > 0 else { return }
        zeroRange(offset, length)
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        free.append((offset, length))
    }

    /// Punches a hole: the pages read back as zeros and stop using memory.
    public func zeroRange(_ offset: Int, _ length: Int) {
        // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
        if bw_fallocate(fd, 0x02 | 0x01, offset, length) != 0 {
            memset(base + offset, 0, length)
        }
    }

    /// Copies `length` bytes between two ranges of the file, skipping holes (never-touched pages stay
    /// unallocated in the destination, which is fresh and therefore all holes).
    public func copySparse(from src: Int, to dst: Int, length: Int) {
        var off = src
        let end = src + length
        while off < end {
            let data = Int(lseek(fd, off_t(off), 3 /* SEEK_DATA */))
            if data < 0 || data >= end { return }
            var hole = Int(lseek(fd, off_t(data), 4 /* SEEK_HOLE */))
            if hole < 0 || hole > end { hole = end }
            memcpy(base + dst + (data - src), base + data, hole - data)
            off = hole
        }
    }

    @inline(__always) public func pointer(_ offset: Int) -> UnsafeMutableRawPointer { base + offset }
}

/// A contiguous allocation in the memory file, shared by the VMAs that map it; freed when the last
/// VMA referring to it goes away.
public final class Backing {
    public let file: MemoryFile
    public let offset: Int
    public let length: Int
    /// Pages of a file mapping wholly past the file's end: they stand for offsets past the memory
    /// file's own end, so the stub's host mapping of them raises SIGBUS on access (as Linux does for
    /// such pages), and the Sentry never touches them (copy-in/out is EFAULT, see AddressSpaceCopyUnsafe).
    public let pastEnd: Bool
    /// Syscall patching: the original bytes of the sites rewritten in this (private, one-page) copy,
    /// by offset in the backing. /proc/<pid>/mem reads show them instead of the rewritten bytes, and
    /// the page gets them back when it becomes writable (AddressSpace.restorePatchedBytes, protect).
    public var patchOriginals: [(offset: Int, bytes: [UInt8])] = []
    /// A one-page copy the Sentry made inside a mapping for its own reasons (syscall patching, a
    /// forced /proc/<pid>/mem write): /proc/<pid>/maps shows it as part of its mapping's line.
    public var internalCopy = false
    public init?(file: MemoryFile, length: Int) {
        guard let off = file.allocate(length) else { return nil }
        self.file = file
        self.offset = off
        self.length = length
        self.pastEnd = false
    }
    /// `length` bytes of pages that fault with SIGBUS (nothing allocated).
    public init(pastEndOf file: MemoryFile, length: Int) {
        self.file = file
        self.offset = file.capacity
        self.length = length
        self.pastEnd = true
    }
    deinit { if !pastEnd { file.release(offset, length) } }
}

// An application address space: sorted VMAs, each a window on a Backing in the memory file. The host
// side (the stub's real mappings) is changed through a HostMapper, kept eagerly in sync with the VMAs.
import Glibc

public let PROT_R: Int32 = 1, PROT_W: Int32 = 2, PROT_X: Int32 = 4

/// Applies mapping changes to the host process that runs the application (the stub).
public protocol HostMapper: AnyObject {
    func hostMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ fileOffset: Int) -> Int
    func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int
    func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int
    /// Removes every application mapping from the host process.
    func hostUnmapAll()
}

/// A host mapping change, logged so other host processes running the same address space (one stub
/// per task) can replay it before they next run.
public enum HostOp {
    case map(UInt64, UInt64, Int32, Int)
    case unmap(UInt64, UInt64)
    case protect(UInt64, UInt64, Int32)
}

public struct VMA {
    public var start: UInt64
    public var end: UInt64
    public var prot: Int32
    public var shared: Bool
    public var backing: Backing
    /// Offset in `backing` of `start`.
    public var backingOffset: Int
    public var tag: String
    /// Private but its backing is shared with another address space since a fork (it was read-only
    /// then). Its pages must not be written or released in place: mprotect adding PROT_WRITE copies
    /// them first (copy on first write permission, not on fork), and munmap/MADV_DONTNEED leave them.
    public var cow = false
    /// A MAP_SHARED file mapping: written back to its file on msync, unmap and teardown.
    public var writeBack: SharedFileWriteBack? = nil
    /// A file mapping's identity for /proc/<pid>/maps: device, inode, and the file offset that
    /// backingOffset 0 stands for (so splits keep the right offset).
    public var fileDev: UInt64 = 0
    public var fileIno: UInt64 = 0
    public var fileOffset0: UInt64 = 0
    /// The mapped file (private and shared file mappings), so mremap can grow the mapping with the
    /// file's next bytes; it keeps the file open as long as the mapping, as Linux's vm_file does.
    public var source: MappedFileSource? = nil

    public init(start: UInt64, end: UInt64, prot: Int32, shared: Bool, backing: Backing, backingOffset: Int, tag: String) {
        self.start = start; self.end = end; self.prot = prot; self.shared = shared
        self.backing = backing; self.backingOffset = backingOffset; self.tag = tag
    }

    public var fileOffset: Int { backing.offset + backingOffset }
    public var length: UInt64 { end - start }
}

public final class AddressSpace {
    public let file: MemoryFile
    public private(set) var vmas: [VMA] = []
    public var brkStart: UInt64 = 0
    public var brkCurrent: UInt64 = 0
    /// Top-down mmap allocation below this address.
    public var mmapTop: UInt64 = 0x6fff_0000_0000
    public let reservedStart = UInt64(0x7000_0000_0000)
    public let reservedEnd = UInt64(0x7000_0010_0000)   // stub page + systrap mailbox/stack (BW_PLATFORM_RESERVED)
    public static let userTop = UInt64(0x7fff_ffff_f000)
    /// Syscall patching (SentryKernel/PlatformGlue.swift): the patcher's per-address-space state, and
    /// the pages a patch replaced (kept until the address space dies: another thread's stub may still
    /// execute them until it applies the new mapping).
    public var syscallPatchState: AnyObject? = nil
    /// The syscall-patch region once it exists: refused to the application like the reserved range.
    public var patchRegion: (start: UInt64, end: UInt64)? = nil

    /// True if [start, end) touches a range the application may not map, unmap or move.
    public func overlapsReserved(_ start: UInt64, _ end: UInt64) -> Bool {
        if start < reservedEnd && end > reservedStart { return true }
        if let p = patchRegion, start < p.end && end > p.start { return true }
        return false
    }
    private var retiredBackings: [Backing] = []

    public init(file: MemoryFile) { self.file = file }

    deinit {
        // exit or exec: what was written through shared file mappings goes to the files.
        for v in vmas { v.writeBack?.flush(backingOffset: v.backingOffset, length: Int(v.length)) }
    }

    public private(set) var opLog: [HostOp] = []
    public private(set) var logBase = 0
    /// Generation of the host mapping state: the number of HostOps ever recorded.
    public var generation: Int { logBase + opLog.count }

    private func record(_ op: HostOp) {
        if opLog.count >= 4096 {
            logBase += opLog.count
            opLog.removeAll(keepingCapacity: true)
        }
        opLog.append(op)
    }

    /// Brings a host process that has applied ops up to `generation` up to date; returns the new generation.
    public func sync(mapper: HostMapper, from gen: Int) -> Int {
        if gen == generation { return gen }
        if gen < logBase {
            mapper.hostUnmapAll()
            mapAll(mapper: mapper)
            return generation
        }
        for op in opLog[(gen - logBase)...] {
            switch op {
            case .map(let a, let l, let p, let o): _ = mapper.hostMmap(a, l, p, o)
            case .unmap(let a, let l): _ = mapper.hostMunmap(a, l)
            case .protect(let a, let l, let p): _ = mapper.hostMprotect(a, l, p)
            }
        }
        return generation
    }

    /// Index of the VMA containing `addr`, if any.
    public func find(_ addr: UInt64) -> Int? {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        if lo < vmas.count && vmas[lo].start <= addr { return lo }
        return nil
    }

    private func insertionIndex(_ addr: UInt64) -> Int {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].start < addr { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func isFree(_ start: UInt64, _ end: UInt64) -> Bool {
        if overlapsReserved(start, end) { return false }
        let i = insertionIndex(start)
        if i > 0 && vmas[i - 1].end > start { return false }
        if i < vmas.count && vmas[i].start < end { return false }
        return true
    }

    /// Finds a free range of `length` bytes, top-down from mmapTop.
    public func findFree(_ length: UInt64) -> UInt64? {
        var top = mmapTop
        var i = insertionIndex(top) - 1
        while top >= length + 0x10000 {
            let candidate = top - length
            // Skip VMAs overlapping [candidate, top).
            while i >= 0 && vmas[i].start >= top { i -= 1 }
            if i >= 0 && vmas[i].end > candidate { top = vmas[i].start; i -= 1; continue }
            return candidate
        }
        return nil
    }

    /// Splits the VMA containing `addr` so that a VMA boundary falls at `addr`.
    private func split(at addr: UInt64) {
        guard let i = find(addr), vmas[i].start < addr else { return }
        var right = vmas[i]
        let delta = Int(addr - right.start)
        right.start = addr
        right.backingOffset += delta
        vmas[i].end = addr
        vmas.insert(right, at: i + 1)
    }

    /// Removes VMAs in [start, end); host munmap is done by the caller when needed.
    private func removeRange(_ start: UInt64, _ end: UInt64) {
        split(at: start)
        split(at: end)
        let i = insertionIndex(start)
        while i < vmas.count && vmas[i].start < end {
            let v = vmas[i]
            v.writeBack?.flush(backingOffset: v.backingOffset, length: Int(v.length))
            if !v.shared && !v.cow && !v.backing.pastEnd {
                // Private pages belong to this VMA only: release their memory now.
                file.zeroRange(v.fileOffset, Int(v.length))
            }
            vmas.remove(at: i)   // the next VMA moves into slot i
        }
    }

    /// Maps a new anonymous (zero-filled) region; returns the VMA's backing or nil on ENOMEM.
    @discardableResult
    public func mapAnonymous(_ start: UInt64, _ length: UInt64, prot: Int32, shared: Bool, tag: String,
                             mapper: HostMapper) -> Int {
        guard let b = Backing(file: file, length: Int(length)) else { return -12 }
        return insert(VMA(start: start, end: start + length, prot: prot, shared: shared, backing: b,
                          backingOffset: 0, tag: tag), mapper: mapper)
    }

    /// Inserts `vma`, replacing whatever was mapped there, and maps it in the host.
    public func insert(_ vma: VMA, mapper: HostMapper) -> Int {
        removeRange(vma.start, vma.end)
        vmas.insert(vma, at: insertionIndex(vma.start))
        record(.map(vma.start, vma.length, vma.prot, vma.fileOffset))
        return mapper.hostMmap(vma.start, vma.length, vma.prot, vma.fileOffset)
    }

    public func unmap(_ start: UInt64, _ length: UInt64, mapper: HostMapper) -> Int {
        let end = start + length
        removeRange(start, end)
        record(.unmap(start, length))
        return mapper.hostMunmap(start, length)
    }

    /// The VMAs covering [start, end) exactly (clipped to it), or nil if part of it is unmapped.
    /// mremap treats such a run as one mapping: pieces of one Linux mapping are several VMAs here
    /// (splits, a grown tail).
    public func covering(_ start: UInt64, _ end: UInt64) -> [VMA]? {
        var out: [VMA] = []
        var a = start
        while a < end {
            guard let i = find(a) else { return nil }
            var v = vmas[i]
            if v.start < a { v.backingOffset += Int(a - v.start); v.start = a }
            if v.end > end { v.end = end }
            out.append(v)
            a = v.end
        }
        return out
    }

    /// mremap's move: the mapped run [start, start + length) goes to `dest` with its pages (the same
    /// backings, nothing copied), so pages shared with another address space stay shared and shared
    /// file mappings keep writing back to their file. Whatever was at dest is replaced; the caller
    /// makes sure the two ranges do not overlap and the run has no hole.
    public func move(_ start: UInt64, _ length: UInt64, to dest: UInt64, mapper: HostMapper) -> Int {
        let end = start + length
        split(at: start)
        split(at: end)
        var moved: [VMA] = []
        let i = insertionIndex(start)
        while i < vmas.count && vmas[i].start < end { moved.append(vmas.remove(at: i)) }
        record(.unmap(start, length))
        _ = mapper.hostMunmap(start, length)
        removeRange(dest, dest + length)
        var result = 0
        for var v in moved {
            v.start = v.start - start + dest
            v.end = v.end - start + dest
            vmas.insert(v, at: insertionIndex(v.start))
            record(.map(v.start, v.length, v.prot, v.fileOffset))
            let r = mapper.hostMmap(v.start, v.length, v.prot, v.fileOffset)
            if r < 0 { result = r }
        }
        return result
    }

    public func protect(_ start: UInt64, _ length: UInt64, prot: Int32, mapper: HostMapper) -> Int {
        let end = start + length
        // Linux: ENOMEM if any part of the range is unmapped.
        var a = start
        while a < end {
            guard let i = find(a) else { return -12 }
            a = vmas[i].end
        }
        split(at: start)
        split(at: end)
        var i = insertionIndex(start)
        while i < vmas.count && vmas[i].start < end {
            // A fork-shared page is copied before it can be written; so is a page with patched
            // syscall sites, whose copy gets the original bytes back (the application may now write
            // or read its own code as data; another thread's stub may still run the old copy).
            if prot & PROT_W != 0 && (vmas[i].cow || !vmas[i].backing.patchOriginals.isEmpty)
                && !unshare(i, mapper: mapper) { return -12 }
            vmas[i].prot = prot
            i += 1
        }
        record(.protect(start, length, prot))
        return mapper.hostMprotect(start, length, prot)
    }

    /// Remaps every VMA into a fresh host process (after exec or fork).
    public func mapAll(mapper: HostMapper) {
        for v in vmas { _ = mapper.hostMmap(v.start, v.length, v.prot, v.fileOffset) }
    }

    /// A copy for fork: shared memory is shared; private read-only memory (program text, relro) is
    /// shared too and marked `cow` in both spaces, copied only if it is later made writable; other
    /// private memory is copied, populated pages only.
    public func forkCopy() -> AddressSpace? {
        let n = AddressSpace(file: file)
        n.brkStart = brkStart
        n.brkCurrent = brkCurrent
        n.mmapTop = mmapTop
        n.patchRegion = patchRegion
        for i in vmas.indices {
            let v = vmas[i]
            if v.shared || v.backing.pastEnd { n.vmas.append(v); continue }
            if v.prot & PROT_W == 0 {
                vmas[i].cow = true
                n.vmas.append(vmas[i])
                continue
            }
            guard let b = Backing(file: file, length: Int(v.length)) else { return nil }
            file.copySparse(from: v.fileOffset, to: b.offset, length: Int(v.length))
            var c = v
            c.fileOffset0 &+= UInt64(v.backingOffset)   // the same file offset for /proc/<pid>/maps
            c.backing = b
            c.backingOffset = 0
            n.vmas.append(c)
        }
        return n
    }

    /// Gives the fork-shared VMA `i` its own copy of its pages (before it becomes writable).
    private func unshare(_ i: Int, mapper: HostMapper) -> Bool {
        let v = vmas[i]
        guard let b = Backing(file: file, length: Int(v.length)) else { return false }
        file.copySparse(from: v.fileOffset, to: b.offset, length: Int(v.length))
        restoreOriginals(of: v, into: b, length: Int(v.length))
        if !v.backing.patchOriginals.isEmpty { retiredBackings.append(v.backing) }
        vmas[i].fileOffset0 &+= UInt64(v.backingOffset)   // the same file offset for /proc/<pid>/maps
        vmas[i].backing = b
        vmas[i].backingOffset = 0
        vmas[i].cow = false
        record(.map(v.start, v.length, v.prot, b.offset))
        return mapper.hostMmap(v.start, v.length, v.prot, b.offset) >= 0
    }

    /// Syscall patching: gives the page at `page` (private, not writable) a copy of its bytes of its own
    /// (program text may be shared with other processes through FileImageCache or a fork), so the Sentry
    /// can rewrite it; the host mapping follows through the op log. Returns the page's Sentry pointer.
    public func privatizePage(_ page: UInt64, mapper: HostMapper) -> UnsafeMutableRawPointer? {
        guard let i0 = find(page), !vmas[i0].shared, !vmas[i0].backing.pastEnd, vmas[i0].prot & PROT_W == 0,
              vmas[i0].end >= page + 4096, vmas[i0].writeBack == nil else { return nil }
        guard let i = copyPage(page, restoringOriginals: false) else { return nil }
        let b = vmas[i].backing
        _ = mapper.hostMmap(page, 4096, vmas[i].prot, b.offset)
        return file.pointer(b.offset)
    }

    /// Gives the page at `page` (in a private VMA) a fresh copy of its own, split off as a VMA of its
    /// own, and records the new mapping in the op log; the old backing is retired (another thread's
    /// stub may still run the old page). `restoringOriginals`: the copy gets the original bytes of
    /// patched syscall sites back; otherwise their record comes along (the page stays patched).
    /// Returns the page's VMA index, nil without memory.
    private func copyPage(_ page: UInt64, restoringOriginals: Bool) -> Int? {
        split(at: page)
        split(at: page + 4096)
        guard let i = find(page), let b = Backing(file: file, length: 4096) else { return nil }
        b.internalCopy = true
        let v = vmas[i]
        memcpy(file.pointer(b.offset), file.pointer(v.fileOffset), 4096)
        if restoringOriginals {
            restoreOriginals(of: v, into: b, length: 4096)
        } else {
            for o in v.backing.patchOriginals {
                let at = o.offset - v.backingOffset
                if at >= 0 && at < 4096 { b.patchOriginals.append((at, o.bytes)) }
            }
        }
        retiredBackings.append(v.backing)
        vmas[i].fileOffset0 &+= UInt64(v.backingOffset)   // the same file offset for /proc/<pid>/maps
        vmas[i].backing = b
        vmas[i].backingOffset = 0
        vmas[i].cow = false
        record(.map(page, 4096, v.prot, b.offset))
        return i
    }

    /// Writes the original bytes of the patched syscall sites in `v`'s backing into `dest`, a copy of
    /// the first `length` bytes of `v`: the copy holds the program's own bytes again.
    private func restoreOriginals(of v: VMA, into dest: Backing, length: Int) {
        for o in v.backing.patchOriginals {
            let at = o.offset - v.backingOffset   // in the VMA (a patched page is one VMA of its own)
            if at >= 0 && at + o.bytes.count <= length {
                o.bytes.withUnsafeBytes { _ = memcpy(file.pointer(dest.offset + at), $0.baseAddress!, $0.count) }
            }
        }
    }

    /// A /proc/<pid>/mem write to [addr, addr + count) (one page at most): writable pages as they
    /// are; a private page without write permission first gets a copy of its own (with the original
    /// bytes of patched syscall sites), as Linux's FOLL_FORCE breaks copy-on-write, so memory shared
    /// with another process (fork, the file image cache) never changes behind its back. The stubs
    /// pick the new page up through the op log (the writer may be another process: no direct host
    /// change). False for shared read-only, past-end and unmapped pages (EIO, as Linux's EFAULT there).
    public func prepareForcedWrite(_ addr: UInt64, _ count: Int) -> Bool {
        let page = addr & ~UInt64(4095)
        guard count > 0, addr + UInt64(count) <= page + 4096, let i0 = find(page) else { return false }
        let v0 = vmas[i0]
        if v0.backing.pastEnd { return false }
        if v0.prot & PROT_W != 0 { return true }
        if v0.shared || v0.writeBack != nil { return false }
        return copyPage(page, restoringOriginals: true) != nil
    }

    /// Syscall patching: records the original bytes at `addr` (in a page `privatizePage` copied),
    /// before the patcher rewrites them.
    public func notePatchedBytes(_ addr: UInt64, _ original: [UInt8]) {
        guard let i = find(addr), vmas[i].end >= addr + UInt64(original.count) else { return }
        vmas[i].backing.patchOriginals.append((vmas[i].backingOffset + Int(addr - vmas[i].start), original))
    }

    /// Puts the original bytes of patched syscall sites over `buf`, which holds the bytes of
    /// [addr, addr + count) as mapped: what /proc/<pid>/mem shows, as Linux shows the program's own
    /// bytes (the rewrite is the Sentry's business, not the application's).
    public func restorePatchedBytes(_ addr: UInt64, _ buf: UnsafeMutableRawPointer, _ count: Int) {
        let end = addr + UInt64(count)
        var i = find(addr) ?? insertionIndex(addr)
        while i < vmas.count && vmas[i].start < end {
            let v = vmas[i]
            i += 1
            if v.backing.patchOriginals.isEmpty { continue }
            for o in v.backing.patchOriginals {
                let siteOffset = o.offset - v.backingOffset
                guard siteOffset >= 0 else { continue }
                let site = v.start + UInt64(siteOffset)
                for (j, byte) in o.bytes.enumerated() {
                    let a = site + UInt64(j)
                    if a >= addr && a < end && a < v.end { buf.storeBytes(of: byte, toByteOffset: Int(a - addr), as: UInt8.self) }
                }
            }
        }
    }

    /// Drops all VMAs (exec, exit).
    public func clear() {
        for v in vmas { v.writeBack?.flush(backingOffset: v.backingOffset, length: Int(v.length)) }
        vmas.removeAll()
    }

    /// The memory-file offset backing `addr` (futex keys), if mapped with at least `needProt`.
    public func translate(_ addr: UInt64, needProt: Int32 = PROT_R) -> Int? {
        guard let i = find(addr), vmas[i].prot & needProt == needProt, !vmas[i].backing.pastEnd else { return nil }
        return vmas[i].fileOffset + Int(addr - vmas[i].start)
    }
}

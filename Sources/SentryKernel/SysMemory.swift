// Memory system calls: mmap (anonymous, file-backed by copying the file's contents or sharing its
// read-only image; shared file mappings are written back), munmap, mprotect, brk, mremap, madvise,
// msync. Every change updates the VMAs and this task's stub at once; other stubs of the same address
// space replay it before they next run.
import Glibc
import SentryMemory

let MAP_SHARED_: Int32 = 1, MAP_PRIVATE_: Int32 = 2, MAP_FIXED_: Int32 = 0x10, MAP_ANON_: Int32 = 0x20
let MAP_FIXED_NOREPLACE_: Int32 = 0x100000
let MAP_SYNC_: Int32 = 0x80000
/// Flags Linux accepts with MAP_SHARED_VALIDATE (LEGACY_MAP_MASK plus MAP_SYNC and MAP_FIXED_NOREPLACE):
/// the type bits, FIXED, ANONYMOUS, 32BIT, GROWSDOWN, DENYWRITE, EXECUTABLE, LOCKED, NORESERVE,
/// POPULATE, NONBLOCK, STACK, HUGETLB, UNINITIALIZED and the huge page size bits.
let MAP_VALIDATE_KNOWN_: Int32 = 0x3 | 0x10 | 0x20 | 0x40 | 0x100 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000
    | 0x10000 | 0x20000 | 0x40000 | 0x4000000 | Int32(bitPattern: 0xfc00_0000) | MAP_SYNC_ | MAP_FIXED_NOREPLACE_

extension Task {
    func sysMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ flags: Int32, _ fd: Int32, _ off: UInt64) -> Int {
        guard length > 0, length < (1 << 46), prot & ~7 == 0 else { return errno(EINVAL) }
        let kind = flags & 3
        guard kind == MAP_SHARED_ || kind == MAP_PRIVATE_ || kind == 3 else { return errno(EINVAL) }
        // MAP_SHARED_VALIDATE: unknown flags, and MAP_SYNC (only for DAX files, which the Sentry has
        // none of), fail with EOPNOTSUPP as on Linux, so programs fall back to write().
        if kind == 3 && flags & (MAP_SYNC_ | ~MAP_VALIDATE_KNOWN_) != 0 { return errno(EOPNOTSUPP) }
        guard off & UInt64(pageSize - 1) == 0 else { return errno(EINVAL) }
        let len = pageRoundUp(length)
        let fixed = flags & (MAP_FIXED_ | MAP_FIXED_NOREPLACE_) != 0
        var start: UInt64
        if fixed {
            guard addr & UInt64(pageSize - 1) == 0 else { return errno(EINVAL) }
            guard addr + len <= AddressSpace.userTop, addr >= 0x10000 else { return errno(ENOMEM) }
            // MAP_FIXED_NOREPLACE over a reserved range (the stub's, the syscall-patch region, which
            // /proc/<pid>/maps shows) is EEXIST, Linux's answer for a range in use; MAP_FIXED is ENOMEM.
            if flags & MAP_FIXED_NOREPLACE_ != 0 && !mm.isFree(addr, addr + len) { return errno(EEXIST) }
            if mm.overlapsReserved(addr, addr + len) { return errno(ENOMEM) }
            start = addr
        } else if addr != 0 && addr >= 0x10000 && pageRoundDown(addr) + len <= AddressSpace.userTop
                    && mm.isFree(pageRoundDown(addr), pageRoundDown(addr) + len) {
            start = pageRoundDown(addr)
        } else {
            guard let s = mm.findFree(len) else { return errno(ENOMEM) }
            start = s
        }
        let shared = kind == MAP_SHARED_
        if flags & MAP_ANON_ != 0 {
            let r = mm.mapAnonymous(start, len, prot: prot, shared: shared, tag: "anon", mapper: self)
            return r < 0 ? r : Int(start)
        }
        guard let f = fds.get(Int(fd)) else { return errno(EBADF) }
        guard f.readable else { return errno(EACCES) }
        if shared && prot & PROT_W != 0 && !f.writable { return errno(EACCES) }
        mmapAccessed(f)   // atime, as a read (VFSAtime.swift)
        if let t = f as? TmpfsFile {
            // tmpfs files: a copy of the contents (written back when shared, SharedFileWriteBack).
            let inFile = Task.inFileLength(size: t.node.data.count, off, len)
            guard let b = Backing(file: kernel.memory, length: max(inFile, 1)) else { return errno(ENOMEM) }
            let n = t.pread(self, UnsafeMutableRawBufferPointer(start: kernel.memory.pointer(b.offset), count: inFile), Int(off))
            if n < 0 { return n }
            var vma = VMA(start: start, end: start + UInt64(inFile), prot: prot, shared: shared, backing: b, backingOffset: 0, tag: "tmpfs")
            mapsIdentity(&vma, f, off)
            vma.source = Task.mappedSource(t.node)
            if shared && f.writable {
                let node = t.node
                vma.writeBack = SharedFileWriteBack(backing: b, fileOffset: Int(off), writer: { bytes, count, at in
                    // Never past the file's end, as on Linux.
                    let n = min(count, node.data.count - at)
                    guard n > 0 else { return }
                    node.data.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + at, bytes, n) }
                    node.changed()
                }, reader: { into, count, at in
                    // mremap growing the mapping: the file's bytes there (zeros past its end).
                    let n = min(count, node.data.count - at)
                    guard n > 0 else { return }
                    node.data.withUnsafeBytes { _ = memcpy(into, $0.baseAddress! + at, n) }
                })
            }
            return insertFileMapping(vma, inFile: inFile, len: len, fileOffset: off)
        }
        guard let hfd = f.hostFileFD else { return f is DeviceFile ? anonFor(start, len, prot) : errno(ENODEV) }
        // A regular file's pages wholly past its end fault with SIGBUS (not other kinds of files).
        var hst = Glibc.stat()
        let regular = fstat(hfd, &hst) == 0 && hst.st_mode & S_IFMT == S_IFREG
        let inFile = regular ? Task.inFileLength(size: Int(hst.st_size), off, len) : Int(len)
        if !shared && prot & PROT_W == 0, inFile > 0,
           let image = kernel.memory.images.image(fd: hfd, offset: Int(off), length: inFile) {
            // Read-only private (shared libraries' code): the memory file's shared image of the file.
            var vma = VMA(start: start, end: start + UInt64(inFile), prot: prot, shared: false, backing: image, backingOffset: 0, tag: f.path ?? "file")
            vma.cow = true
            mapsIdentity(&vma, f, off)
            vma.source = Task.mappedSource(f)
            return insertFileMapping(vma, inFile: inFile, len: len, fileOffset: off)
        }
        // Private (and, for now, shared) file mappings get a copy of the file's contents.
        guard let b = Backing(file: kernel.memory, length: max(inFile, 1)) else { return errno(ENOMEM) }
        var done = 0
        while done < inFile {
            let n = Glibc.pread(hfd, kernel.memory.pointer(b.offset + done), inFile - done, off_t(Int(off) + done))
            if n < 0 { return errno(Glibc.errno == EISDIR ? ENODEV : Glibc.errno) }
            if n == 0 { break }
            done += n
        }
        var vma = VMA(start: start, end: start + UInt64(inFile), prot: prot, shared: shared, backing: b, backingOffset: 0, tag: f.path ?? "file")
        mapsIdentity(&vma, f, off)
        vma.source = Task.mappedSource(f)
        if shared && f.writable, let access = Task.writeBackAccess(f) ?? SharedFileWriteBack.hostFileAccess(fd: hfd) {
            vma.writeBack = SharedFileWriteBack(backing: b, fileOffset: Int(off), writer: access.writer, reader: access.reader)
        }
        return insertFileMapping(vma, inFile: inFile, len: len, fileOffset: off)
    }

    /// Bytes of a file mapping of [off, off + len) in pages that hold file data (the last one's
    /// tail reads as zeros); the pages after them are wholly past the file's end.
    static func inFileLength(size: Int, _ off: UInt64, _ len: UInt64) -> Int {
        let fileEnd = Int(pageRoundUp(UInt64(max(size, 0))))
        return max(0, min(Int(len), fileEnd - Int(off)))
    }

    /// Inserts a new file mapping: `vma` (its first `inFile` bytes, the pages holding file data;
    /// not inserted when there are none) and, for the rest of `len`, pages that fault with SIGBUS
    /// (BUS_ADRERR at the byte), as Linux's filemap fault past i_size, through the same past-end
    /// backing as mremap's growth (session 6). A fault there after the file grew fills them from the
    /// file instead (fillGrownFilePages).
    private func insertFileMapping(_ vma: VMA, inFile: Int, len: UInt64, fileOffset off: UInt64) -> Int {
        let start = vma.start
        if inFile > 0 {
            let r = mm.insert(vma, mapper: self)
            if r < 0 { return r }
        }
        if inFile < Int(len) {
            let rest = Int(len) - inFile
            let b = Backing(pastEndOf: kernel.memory, length: rest)
            var tail = continuation(vma, at: start + UInt64(inFile), rest, backing: b, fileOffset: Int(off) + inFile)
            // Kept so that a later mremap grow still writes back; nothing is flushed from these pages.
            tail.writeBack = vma.writeBack?.continued(on: b, fileOffset: vma.writeBack!.fileOffset + inFile)
            let r = mm.insert(tail, mapper: self)
            if r < 0 { return r }
        }
        return Int(start)
    }

    /// msync: writes shared file mappings back (SharedFileWriteBack); MS_ASYNC does it at once too.
    func sysMsync(_ addr: UInt64, _ length: UInt64, _ flags: Int32) -> Int {
        // MS_ASYNC 1, MS_INVALIDATE 2, MS_SYNC 4; ASYNC and SYNC together are invalid.
        guard addr & UInt64(pageSize - 1) == 0, flags & ~7 == 0, flags & 5 != 5 else { return errno(EINVAL) }
        let end = addr &+ pageRoundUp(length)
        guard end >= addr else { return errno(ENOMEM) }
        return mm.writeBack(addr, end) ? 0 : errno(ENOMEM)
    }

    private func anonFor(_ start: UInt64, _ len: UInt64, _ prot: Int32) -> Int {
        let r = mm.mapAnonymous(start, len, prot: prot, shared: false, tag: "dev", mapper: self)
        return r < 0 ? r : Int(start)
    }

    func sysMunmap(_ addr: UInt64, _ length: UInt64) -> Int {
        guard addr & UInt64(pageSize - 1) == 0, length > 0, addr + length <= AddressSpace.userTop else { return errno(EINVAL) }
        if mm.overlapsReserved(addr, addr + pageRoundUp(length)) { return errno(EINVAL) }
        _ = mm.unmap(addr, pageRoundUp(length), mapper: self)
        return 0
    }

    /// Memory protection keys: the Sentry offers none (pkeys(7)). pkey_alloc answers ENOSPC, the
    /// answer for "no key available", so programs fall back as on a CPU without PKU; pkey_mprotect
    /// with key -1 is mprotect.
    func sysPkeyAlloc(_ flags: UInt64, _ rights: UInt64) -> Int {
        guard flags == 0, rights & ~3 == 0 else { return errno(EINVAL) }
        return errno(ENOSPC)
    }

    func sysPkeyMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ pkey: Int32) -> Int {
        guard pkey == -1 else { return errno(EINVAL) }
        return sysMprotect(addr, length, prot)
    }

    func sysMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int {
        guard addr & UInt64(pageSize - 1) == 0, prot & ~Int32(7 | 0x0100_0000 | 0x0200_0000) == 0 else { return errno(EINVAL) }
        if length == 0 { return 0 }
        let r = mm.protect(addr, pageRoundUp(length), prot: prot & 7, mapper: self)
        return r < 0 ? r : 0
    }

    func sysBrk(_ addr: UInt64) -> Int {
        let cur = mm.brkCurrent
        if addr == 0 || addr < mm.brkStart { return Int(cur) }
        let oldTop = pageRoundUp(cur), newTop = pageRoundUp(addr)
        if newTop > oldTop {
            guard newTop - mm.brkStart <= (1 << 32), mm.isFree(oldTop, newTop) else { return Int(cur) }
            if mm.mapAnonymous(oldTop, newTop - oldTop, prot: PROT_R | PROT_W, shared: false, tag: "[heap]", mapper: self) < 0 {
                return Int(cur)
            }
        } else if newTop < oldTop {
            _ = mm.unmap(newTop, oldTop - newTop, mapper: self)
        }
        mm.brkCurrent = addr
        return Int(addr)
    }

    /// mremap: a mapping (a run of VMAs without holes, as splits and grown tails make several of one
    /// Linux mapping) shrinks, grows in place, or moves with its pages (`AddressSpace.move`: the same
    /// backings, so sharing with other address spaces and shared file write-back survive); a grown
    /// part continues the last piece (the file's next bytes, with their write-back for shared file
    /// mappings, SIGBUS past the file's end; zeros for anonymous memory).
    func sysMremap(_ old: UInt64, _ oldLen: UInt64, _ newLen: UInt64, _ flags: Int32, _ newAddr: UInt64) -> Int {
        guard old & UInt64(pageSize - 1) == 0, newLen > 0, flags & ~7 == 0 else { return errno(EINVAL) }
        let mayMove = flags & 1 != 0, fixed = flags & 2 != 0, dontUnmap = flags & 4 != 0
        // MREMAP_FIXED needs MAYMOVE; MREMAP_DONTUNMAP needs MAYMOVE and an unchanged size.
        if fixed && !mayMove { return errno(EINVAL) }
        if dontUnmap && (!mayMove || oldLen != newLen) { return errno(EINVAL) }
        guard oldLen < (1 << 46), newLen < (1 << 46) else { return errno(EINVAL) }
        let oLen = pageRoundUp(oldLen), nLen = pageRoundUp(newLen)
        // old_len 0 (a second mapping of shared pages) is not supported.
        guard oLen > 0 else { return errno(EINVAL) }
        guard old < AddressSpace.userTop, oLen <= AddressSpace.userTop - old,
              let pieces = mm.covering(old, old + oLen) else { return errno(EFAULT) }
        if fixed {
            guard newAddr & UInt64(pageSize - 1) == 0, newAddr >= 0x10000, newAddr < AddressSpace.userTop,
                  nLen <= AddressSpace.userTop - newAddr else { return errno(EINVAL) }
            if newAddr < old + oLen && old < newAddr + nLen { return errno(EINVAL) }
            if mm.overlapsReserved(newAddr, newAddr + nLen) { return errno(EINVAL) }
        }
        if !fixed && !dontUnmap {
            if nLen == oLen { return Int(old) }
            if nLen < oLen {
                _ = mm.unmap(old + nLen, oLen - nLen, mapper: self)
                return Int(old)
            }
            // Grow in place if the following range is free.
            if old + nLen <= AddressSpace.userTop && mm.isFree(old + oLen, old + nLen) {
                let r = growMapping(pieces.last!, at: old + oLen, nLen - oLen)
                return r < 0 ? r : Int(old)
            }
        }
        guard mayMove else { return errno(ENOMEM) }
        let dest: UInt64
        if fixed {
            dest = newAddr
        } else {
            guard let d = mm.findFree(nLen) else { return errno(ENOMEM) }
            dest = d
        }
        if fixed { _ = mm.unmap(dest, nLen, mapper: self) }
        let keep = min(oLen, nLen)
        if nLen < oLen { _ = mm.unmap(old + nLen, oLen - nLen, mapper: self) }
        let last = mm.covering(old + keep - UInt64(pageSize), old + keep)!.last!
        var r = mm.move(old, keep, to: dest, mapper: self)
        if r >= 0 && nLen > oLen { r = growMapping(last, at: dest + oLen, nLen - oLen) }
        if r >= 0 && dontUnmap {
            // The old range stays mapped: shared pages are still the same pages; private ones
            // read as zeros (as anonymous memory after MREMAP_DONTUNMAP).
            for v in pieces {
                r = v.shared ? mm.insert(v, mapper: self) : mm.mapAnonymous(v.start, v.length, prot: v.prot, shared: false, tag: v.tag, mapper: self)
                if r < 0 { break }
            }
        }
        return r < 0 ? r : Int(dest)
    }

    /// Maps [start, start + len) as the continuation of VMA `v` (which ended just before it, before
    /// a move): same protection and kind. For a file mapping, the file's next bytes (written back
    /// like the rest for a shared one; a private one's earlier writes stay in its own pages), and the
    /// pages wholly past the file's end fault with SIGBUS as on Linux; zeros for anonymous memory.
    private func growMapping(_ v: VMA, at start: UInt64, _ len: UInt64) -> Int {
        let fileOff = Int(v.fileOffset0) + v.backingOffset + Int(v.length)
        var inFile = Int(len)
        if let src = v.source {
            // Pages holding at least one byte of the file (the last one's tail reads as zeros).
            let fileEnd = Int(pageRoundUp(UInt64(max(src.size(), 0))))
            inFile = max(0, min(Int(len), fileEnd - fileOff))
        }
        if inFile > 0 {
            guard let b = Backing(file: kernel.memory, length: inFile) else { return errno(ENOMEM) }
            var nv = continuation(v, at: start, inFile, backing: b, fileOffset: fileOff)
            if let wb = v.writeBack {
                nv.writeBack = wb.continued(on: b, fileOffset: wb.fileOffset + v.backingOffset + Int(v.length))
            } else if let src = v.source {
                src.fill(kernel.memory.pointer(b.offset), inFile, at: fileOff)
            }
            let r = mm.insert(nv, mapper: self)
            if r < 0 { return r }
        }
        if inFile < Int(len) {
            let rest = Int(len) - inFile
            let b = Backing(pastEndOf: kernel.memory, length: rest)
            var nv = continuation(v, at: start + UInt64(inFile), rest, backing: b, fileOffset: fileOff + inFile)
            // Kept so a later grow still writes back; nothing is flushed from these pages.
            nv.writeBack = v.writeBack?.continued(on: b, fileOffset: v.writeBack!.fileOffset + v.backingOffset + Int(v.length) + inFile)
            return mm.insert(nv, mapper: self)
        }
        return 0
    }

    /// A SIGBUS at `addr` in pages past a file's end (mmap, mremap growth): Linux checks the size at
    /// fault time, so if the file has grown over the page since, the mapping's pages now holding file
    /// data get its bytes (a shared mapping writes them back as the rest) and the access is retried.
    /// Kernel lock held; true if the pages were filled (the caller resumes without a signal).
    func fillGrownFilePages(_ addr: UInt64) -> Bool {
        guard let i = mm.find(addr) else { return false }
        let v = mm.vmas[i]
        guard v.backing.pastEnd, let src = v.source else { return false }
        let startInFile = Int(v.fileOffset0) + v.backingOffset   // the file offset v.start stands for
        let count = Task.inFileLength(size: src.size(), UInt64(startInFile), v.length)
        guard count > Int(addr - v.start) else { return false }   // still past the end: SIGBUS
        guard let b = Backing(file: kernel.memory, length: count) else { return false }
        var nv = continuation(v, at: v.start, count, backing: b, fileOffset: startInFile)
        if let wb = v.writeBack {
            nv.writeBack = wb.continued(on: b, fileOffset: wb.fileOffset + v.backingOffset)
        } else {
            src.fill(kernel.memory.pointer(b.offset), count, at: startInFile)
        }
        return mm.insert(nv, mapper: self) >= 0
    }

    private func continuation(_ v: VMA, at start: UInt64, _ len: Int, backing b: Backing, fileOffset: Int) -> VMA {
        var nv = VMA(start: start, end: start + UInt64(len), prot: v.prot, shared: v.shared, backing: b, backingOffset: 0, tag: v.tag)
        nv.fileDev = v.fileDev
        nv.fileIno = v.fileIno
        nv.fileOffset0 = UInt64(fileOffset)
        nv.source = v.source
        return nv
    }

    func sysMadvise(_ addr: UInt64, _ length: UInt64, _ advice: Int32) -> Int {
        guard addr & UInt64(pageSize - 1) == 0 else { return errno(EINVAL) }
        if advice == 4 /* MADV_DONTNEED */ || advice == 8 /* MADV_FREE */ {
            let end = addr + pageRoundUp(length)
            var a = addr
            while a < end {
                guard let i = mm.find(a) else { return errno(ENOMEM) }
                let v = mm.vmas[i]
                let e = min(v.end, end)
                if !v.shared && !v.cow && !v.backing.pastEnd { kernel.memory.zeroRange(v.fileOffset + Int(a - v.start), Int(e - a)) }
                a = e
            }
        }
        return 0
    }
}

extension Task {
    /// The device, inode and offset /proc/<pid>/maps shows for a file mapping (what fstat reports).
    func mapsIdentity(_ vma: inout VMA, _ f: FileDescription, _ off: UInt64) {
        vma.fileOffset0 = off   // also where mremap's growth continues in the file
        var st = Glibc.stat()
        guard f.stat(&st) == 0 else { return }
        f.overlayDevice(&st)
        vma.fileDev = UInt64(st.st_dev)
        vma.fileIno = UInt64(st.st_ino)
    }

    /// The source of a host file mapping: reads through the description's shared host descriptor,
    /// which the source keeps open (not the description itself, so its close is not delayed).
    static func mappedSource(_ f: FileDescription) -> MappedFileSource? {
        guard let h = f as? HostFile else { return nil }
        let host = h.host
        return MappedFileSource(read: { into, count, at in
            while true {
                let n = Glibc.pread(host.fd, into, count, off_t(at))
                if n < 0 && Glibc.errno == EINTR { continue }
                return n
            }
        }, size: {
            var st = Glibc.stat()
            return fstat(host.fd, &st) == 0 ? Int(st.st_size) : 0
        })
    }

    /// Write-back for a shared mapping of a gofer file, through the description's own host descriptor
    /// (kept open by it, so its last close is still the one SharedHostFD reports): never past the
    /// file's end; the host's IN_MODIFY for it is the Sentry's own (Linux raises none for writes
    /// through a mapping), and the cached attributes go stale.
    static func writeBackAccess(_ f: FileDescription) -> (writer: SharedFileWriteBack.Writer, reader: SharedFileWriteBack.Reader)? {
        guard let h = f as? HostFile else { return nil }
        let host = h.host
        let inode = h.inode as? GoferInode
        let writer: SharedFileWriteBack.Writer = { [weak inode] bytes, count, offset in
            if SharedFileWriteBack.writeWithinFile(host.fd, bytes, count, at: offset) > 0, let g = inode {
                g.stale = true
                g.ownContentEvent(IN_MODIFY_)
            }
        }
        let reader: SharedFileWriteBack.Reader = { into, count, offset in
            SharedFileWriteBack.readFile(host.fd, into, count, at: offset)
        }
        return (writer, reader)
    }

    /// The source of a tmpfs file mapping: the node's bytes.
    static func mappedSource(_ node: TmpfsNode) -> MappedFileSource {
        MappedFileSource(read: { into, count, at in
            let n = min(count, node.data.count - at)
            guard n > 0 else { return 0 }
            node.data.withUnsafeBytes { _ = memcpy(into, $0.baseAddress! + at, n) }
            return n
        }, size: { node.data.count })
    }
}

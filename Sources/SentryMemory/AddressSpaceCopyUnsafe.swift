// Copy-in/copy-out between Sentry buffers and application memory, through the Sentry's own mapping
// of the memory file.
// SAFETY: every pointer handed out points into MemoryFile's mapping at `fileOffset + (addr - start)` of
// a VMA that contains the whole piece (checked against the sorted VMA list first, including overflow
// of addr+length), and Backing ranges never exceed the file's capacity (the only ones that do, past-end
// backings, are refused as EFAULT before any pointer is made), so no access leaves the mapping. A range is validated completely before anything is copied, so a fault never leaves a
// partial copy. Callers hold the kernel lock, so VMAs do not change during a copy.
import Glibc

extension AddressSpace {

    /// Calls `body` for each contiguous piece of [addr, addr+length) with its Sentry pointer; returns
    /// false (EFAULT) if any byte is unmapped or lacks `needProt`.
    @inline(__always)
    public func withPieces(_ addr: UInt64, _ length: Int, needProt: Int32,
                           _ body: (UnsafeMutableRawPointer, Int, Int) -> Void) -> Bool {
        if length == 0 { return true }
        let (end, overflow) = addr.addingReportingOverflow(UInt64(length))
        if overflow { return false }
        // Check first, then copy, so a fault never leaves a partial copy.
        var a = addr
        while a < end {
            guard let i = find(a), vmas[i].prot & needProt == needProt, !vmas[i].backing.pastEnd else { return false }
            a = vmas[i].end
        }
        a = addr
        var done = 0
        while a < end {
            let i = find(a)!
            let v = vmas[i]
            let n = Int(min(v.end, end) - a)
            body(file.pointer(v.fileOffset + Int(a - v.start)), n, done)
            done += n
            a += UInt64(n)
        }
        return true
    }

    /// Copies application memory into `dst`. False means EFAULT.
    public func copyIn(_ addr: UInt64, _ dst: UnsafeMutableRawPointer, _ length: Int) -> Bool {
        withPieces(addr, length, needProt: PROT_R) { p, n, off in memcpy(dst + off, p, n) }
    }

    /// Copies `src` into application memory. False means EFAULT.
    public func copyOut(_ addr: UInt64, _ src: UnsafeRawPointer, _ length: Int) -> Bool {
        withPieces(addr, length, needProt: PROT_W) { p, n, off in memcpy(p, src + off, n) }
    }

    /// Writes without checking PROT_W (the loader filling read-only segments).
    public func poke(_ addr: UInt64, _ src: UnsafeRawPointer, _ length: Int) -> Bool {
        withPieces(addr, length, needProt: 0) { p, n, off in memcpy(p, src + off, n) }
    }

    public func readBytes(_ addr: UInt64, _ length: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        let ok = out.withUnsafeMutableBytes { b in copyIn(addr, b.baseAddress!, length) }
        return ok ? out : nil
    }

    public func read<T>(_ addr: UInt64, as: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buf.deallocate() }
        guard copyIn(addr, buf, size) else { return nil }
        return buf.loadUnaligned(as: T.self)
    }

    public func write<T>(_ addr: UInt64, _ value: T) -> Bool {
        var v = value
        return withUnsafeBytes(of: &v) { b in copyOut(addr, b.baseAddress!, b.count) }
    }

    /// Reads a NUL-terminated string of at most `max` bytes; nil on EFAULT or if too long.
    public func readCString(_ addr: UInt64, max: Int = 4096) -> [UInt8]? {
        var out: [UInt8] = []
        var a = addr
        while out.count < max {
            guard let i = find(a), vmas[i].prot & PROT_R != 0, !vmas[i].backing.pastEnd else { return nil }
            let v = vmas[i]
            let p = file.pointer(v.fileOffset + Int(a - v.start)).assumingMemoryBound(to: UInt8.self)
            let avail = min(Int(v.end - a), max - out.count)
            for k in 0..<avail {
                if p[k] == 0 { return out }
                out.append(p[k])
            }
            a += UInt64(avail)
        }
        return nil
    }
}

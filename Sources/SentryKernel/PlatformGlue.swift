// Connects the platform seam (SentryPlatform) to the memory file: systrap stubs keep their mailbox
// and signal stack in it, so the Sentry reaches them through its own mapping.
import Glibc
import SentryMemory
import SentryPlatform

extension MemoryFile: StubMemory {
    public var stubFD: Int32 { fd }
    public func allocateStubRegion(_ length: Int) -> (offset: Int, pointer: UnsafeMutableRawPointer)? {
        guard let off = allocate(length) else { return nil }
        return (off, pointer(off))
    }
    public func releaseStubRegion(_ offset: Int, _ length: Int) { release(offset, length) }
}

// Syscall patching (SentryPlatform/SyscallPatch.swift): on a trapped system call, the task thread
// decides whether to rewrite the calling site so that later calls enter the stub directly.
final class SyscallPatchState {
    /// Traps seen per site (rip of the `syscall` + 2); 255 = never patch this site.
    var counts: [UInt64: UInt8] = [:]
    var disabled = false
}

private let regionTag = "[bulwark-syscall-patch]"

extension Task {
    /// Called for each trapped system call (stub stopped in its event, kernel lock held).
    func considerSyscallPatch() {
        // A patched call (most of them in a steady state) costs one protocol call here: no cast.
        guard !stub.eventFromPatchedSite, !SyscallPatch.fellBackToPtrace, stub is SystrapStub else { return }
        let r = regs
        let nr = r.orig_rax, rip = r.rip
        guard nr < 1024, rip >= 7, (rip - 7) >> 12 == (rip - 1) >> 12 else { return }
        let st: SyscallPatchState
        if let x = mm.syscallPatchState as? SyscallPatchState { st = x } else { st = SyscallPatchState(); mm.syscallPatchState = st }
        if st.disabled { return }
        let c = st.counts[rip, default: 0]
        if c == 255 { return }
        if Int(c) + 1 < SyscallPatch.threshold {
            if st.counts.count < 65536 { st.counts[rip] = c + 1 }
            return
        }
        st.counts[rip] = 255   // patched now, or never
        let site = rip - 7
        // Only code that cannot change under us: executable, not writable, private (no JIT pages).
        guard let i = mm.find(site), mm.vmas[i].prot & PROT_X != 0, mm.vmas[i].prot & PROT_W == 0,
              !mm.vmas[i].shared, !mm.vmas[i].backing.pastEnd else { return }
        let page = site & ~0xfff
        let pageStart = max(page, mm.vmas[i].start), pageEnd = min(page + 0x1000, mm.vmas[i].end)
        guard let pageOff = mm.translate(pageStart, needProt: 0) else { return }
        let code = UnsafePointer(mm.file.pointer(pageOff).assumingMemoryBound(to: UInt8.self))
        let at = Int(site - pageStart)
        // `mov $nr,%eax; syscall`, or (read) `xor %eax,%eax; syscall` with dead padding in jmp rel8 reach.
        var padding: Int? = nil
        if !SyscallPatch.isSite(code + at, nr: nr) {
            guard nr == 0, SyscallPatch.isXorSite(code + at + 3),
                  let pad = SyscallPatch.padding(code, count: Int(pageEnd - pageStart), site: at + 3) else { return }
            padding = pad
        }
        guard let base = SyscallPatch.base, ensurePatchRegion(st, base) else { return }
        // The region's word 0 counts its thunks. After a fork, parent and child share the region (it is
        // never copied: another thread's stub may be reading it until it syncs), so the count is shared
        // and so are thunks: one for the same call at the same address is reused.
        guard let j = mm.find(base) else { return }
        let region = mm.file.pointer(mm.vmas[j].fileOffset)
        let n = Int(region.load(as: UInt64.self))
        let thunk = SyscallPatch.thunk(nr: UInt32(nr), returnAddress: rip)
        var k = 0
        for t in stride(from: 1, through: min(n, SyscallPatch.maxSites), by: 1) {
            let at = region + Int(SyscallPatch.thunkAddress(t) - base)
            if thunk.withUnsafeBytes({ memcmp(at, $0.baseAddress!, $0.count) == 0 }) { k = t; break }
        }
        if k == 0 {
            guard n < SyscallPatch.maxSites else { st.disabled = true; return }
            k = n + 1
            thunk.withUnsafeBytes { t in (region + Int(SyscallPatch.thunkAddress(k) - base)).copyMemory(from: t.baseAddress!, byteCount: t.count) }
            region.storeBytes(of: SyscallPatch.thunkAddress(k), toByteOffset: Int(SyscallPatch.slotAddress(k) - base), as: UInt64.self)
            region.storeBytes(of: UInt64(k), as: UInt64.self)
        }
        // The site's page gets a private copy, rewritten before any stub maps it: stubs that still map
        // the old page keep trapping there until they apply the new mapping.
        guard let p = mm.privatizePage(page, mapper: self) else { return }
        let jump = SyscallPatch.jump(slot: SyscallPatch.slotAddress(k))
        let off = Int(pageStart - page)
        // The bytes about to change, kept with the page: /proc/<pid>/mem shows them, and the page gets
        // them back if it is made writable (AddressSpace.restorePatchedBytes, protect).
        func keep(_ at: Int, _ count: Int) {
            mm.notePatchedBytes(pageStart + UInt64(at), Array(UnsafeRawBufferPointer(start: p + off + at, count: count)))
        }
        if let pad = padding { keep(pad, 7); keep(at + 3, 2) } else { keep(at, 7) }
        if let pad = padding {
            // The jump goes into the padding; the site's first 2 bytes jump there, its `syscall` stays
            // (a restart at rip - 2 or an unsynced thread traps on it as before).
            jump.withUnsafeBytes { (p + off + pad).copyMemory(from: $0.baseAddress!, byteCount: 7) }
            let short = SyscallPatch.shortJump(from: at + 3 + 2, to: pad)
            short.withUnsafeBytes { (p + off + at + 3).copyMemory(from: $0.baseAddress!, byteCount: 2) }
        } else {
            jump.withUnsafeBytes { (p + off + at).copyMemory(from: $0.baseAddress!, byteCount: 7) }
        }
        if debugSentry { kernel.log("[\(tid)] syscall patch: site 0x\(String(site, radix: 16)) nr \(nr) slot \(k)\(padding != nil ? " (xor form)" : "")\n") }
    }

    /// Maps the region (read + exec) in this address space once; a child of a fork has its parent's.
    private func ensurePatchRegion(_ st: SyscallPatchState, _ base: UInt64) -> Bool {
        let end = base + SyscallPatch.regionSize
        if let j = mm.find(base) {
            let v = mm.vmas[j]
            guard v.tag == regionTag, v.start == base, v.end == end, !v.backing.pastEnd else { st.disabled = true; return false }
            return true
        }
        guard mm.isFree(base, end), mm.mapAnonymous(base, end - base, prot: PROT_R | PROT_X, shared: false,
                                                     tag: regionTag, mapper: self) >= 0 else {
            st.disabled = true
            return false
        }
        mm.patchRegion = (base, end)
        return true
    }
}

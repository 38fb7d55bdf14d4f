// Syscall patching on systrap (on by default; BULWARK_SYSTRAP_PATCH=0 turns it off): a hot `mov $nr,%eax; syscall` site in the
// application's code (b8 imm32 0f 05, 7 bytes) is rewritten into `jmp *slot` (ff 24 25 disp32, 7
// bytes, pushes nothing, so a leaf function's red zone survives). The slot, in a small region at a
// low fixed address that every stub of the address space maps, holds the address of a per-site thunk
// in the same region: `mov $nr,%eax; movabs $return,%rcx; movabs $entry,%r11; jmp *%r11`, all
// flag-preserving, with rcx and r11 free because `syscall` clobbers them anyway. The entry
// (bw_patch_entry in bulwark_systrap.c) saves the registers on the stub's stack, posts the event
// through the mailbox as the SIGSYS handler would, and returns straight to the application on a plain
// system-call return; anything else bounces through a trap so the signal frame applies it.
// This file holds the layout and the byte encodings; SentryKernel/PlatformGlue.swift decides and patches.
import CBulwark
@preconcurrency import Glibc

public enum SyscallPatch {
    /// The switch (on by default; BULWARK_SYSTRAP_PATCH=0 turns it off). Only the systrap platform
    /// patches (a ptrace stub has no patched-path entry), and not after a stub fell back to ptrace.
    public static let requested: Bool = getenv("BULWARK_SYSTRAP_PATCH").map { String(cString: $0) != "0" } ?? true
    nonisolated(unsafe) public static var fellBackToPtrace = false
    /// Traps from one site before it is patched (one-shot start-up calls never pay for a patch).
    public static let threshold: Int = getenv("BULWARK_SYSTRAP_PATCH_AFTER").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 2
    /// Thunks per region at most (the slot page holds 511; a fork family shares one region).
    public static let maxSites = 511
    /// The region: slot page (word 0 counts the sites, slot i at base + 8*i), then thunk pages (32 bytes
    /// each). Below 2 GiB (disp32 of `jmp *abs32` is sign-extended), and placed so that every slot's
    /// disp32 is 0x050fXXXX: bytes 5-6 of the patched jump are then `0f 05`, a `syscall`. A restarted
    /// call (ERESTART*: the Sentry sets rip -= 2, as Linux does) or a thread whose stub still maps the
    /// old page lands on that `syscall` with eax = the number and simply traps as before the patch.
    /// The Sentry refuses the range to the application once the region exists (AddressSpace.patchRegion).
    public static let regionSize: UInt64 = 0x10000
    public static let base: UInt64? = 0x050f_0000
    public static var enabled: Bool { requested && Platform.kind == .systrap && !fellBackToPtrace }

    public static var entry: UInt64 { UInt64(BW_STUB_ADDR) + UInt64(bw_systrap_patch_entry_offset()) }
    public static func slotAddress(_ i: Int) -> UInt64 { base! + UInt64(8 * i) }
    public static func thunkAddress(_ i: Int) -> UInt64 { base! + 0x1000 + UInt64(32 * (i - 1)) }

    /// The thunk of a site: mov $nr,%eax; movabs $ret,%rcx; movabs $entry,%r11; jmp *%r11 (28 bytes).
    public static func thunk(nr: UInt32, returnAddress: UInt64) -> [UInt8] {
        var b: [UInt8] = [0xb8]
        withUnsafeBytes(of: nr.littleEndian) { b += $0 }
        b += [0x48, 0xb9]
        withUnsafeBytes(of: returnAddress.littleEndian) { b += $0 }
        b += [0x49, 0xbb]
        withUnsafeBytes(of: entry.littleEndian) { b += $0 }
        b += [0x41, 0xff, 0xe3]
        return b
    }

    /// jmp *disp32 (ff 24 25 disp32): the 7 bytes that replace `mov $nr,%eax; syscall`.
    public static func jump(slot: UInt64) -> [UInt8] {
        var b: [UInt8] = [0xff, 0x24, 0x25]
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: slot).littleEndian) { b += $0 }
        return b
    }

    /// True if `b` (7 bytes) is `mov $nr,%eax; syscall`.
    public static func isSite(_ b: UnsafeRawPointer, nr: UInt64) -> Bool {
        let p = b.assumingMemoryBound(to: UInt8.self)
        guard p[0] == 0xb8, p[5] == 0x0f, p[6] == 0x05 else { return false }
        let imm = UInt64(p[1]) | UInt64(p[2]) << 8 | UInt64(p[3]) << 16 | UInt64(p[4]) << 24
        return imm == nr
    }

    /// `read`'s form in glibc: `xor %eax,%eax; syscall` (31 c0 0f 05, nr 0), too short for the jump.
    public static func isXorSite(_ b: UnsafeRawPointer) -> Bool {
        let p = b.assumingMemoryBound(to: UInt8.self)
        return p[0] == 0x31 && p[1] == 0xc0 && p[2] == 0x0f && p[3] == 0x05
    }

    /// For a `xor %eax,%eax; syscall` site at offset `site` of `code` (one page): the offset of 7 bytes of
    /// dead padding within a `jmp rel8` of the site, or nil. The padding must follow glibc's return idiom
    /// `syscall; cmp $-4096,%rax; ja rel8; ret` (found by its 11 bytes, so the `ret` really is one and
    /// nothing falls through into the padding) and be multi-byte NOPs up to the next 16-byte boundary
    /// (where the next label or function starts).
    public static func padding(_ code: UnsafePointer<UInt8>, count: Int, site: Int) -> Int? {
        let idiom: [UInt8?] = [0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0x77, nil, 0xc3]
        let lo = max(0, site + 2 - 128 - 11), hi = min(count - 11, site + 2 + 127)
        guard lo <= hi else { return nil }
        for q in lo...hi {
            var ok = true
            for (i, b) in idiom.enumerated() where b != nil && code[q + i] != b! { ok = false; break }
            if !ok { continue }
            let p = q + 11
            let end = (p + 15) & ~15
            guard end - p >= 7, end <= count, p - (site + 2) >= -128, p - (site + 2) <= 127 - 0 else { continue }
            if isNopRun(code, from: p, to: end) { return p }
        }
        return nil
    }

    /// True if [from, to) decodes as the assembler's NOP padding (90, cc, 66 90, [66..] [2e] 0f 1f modrm...).
    static func isNopRun(_ c: UnsafePointer<UInt8>, from: Int, to: Int) -> Bool {
        var i = from
        while i < to {
            if c[i] == 0x90 || c[i] == 0xcc { i += 1; continue }
            var j = i
            while j < to && (c[j] == 0x66 || c[j] == 0x2e) { j += 1 }
            if j < to && c[j] == 0x90 { i = j + 1; continue }   // 66 90: xchg %ax,%ax
            guard j + 2 < to, c[j] == 0x0f, c[j + 1] == 0x1f else { return false }
            let n: Int
            switch c[j + 2] {
            case 0x00: n = 3
            case 0x40: n = 4
            case 0x44: n = 5
            case 0x80: n = 7
            case 0x84: n = 8
            default: return false
            }
            guard j + n <= to else { return false }
            for k in (j + 3)..<(j + n) where c[k] != 0 { _ = k; return false }
            i = j + n
        }
        return i == to
    }

    /// jmp rel8 from `from` (the address after the 2-byte jump) to `to`.
    public static func shortJump(from: Int, to: Int) -> [UInt8] { [0xeb, UInt8(bitPattern: Int8(to - from))] }
}

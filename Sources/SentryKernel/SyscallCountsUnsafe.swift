// Per-system-call counters for `bulwark debug --syscalls` (Control message SyscallStats). The
// dispatch path pays one clamp and one increment (Task.handleSyscall, kernel lock held, so the
// counters need no atomics); reading them takes the kernel lock too.
enum SyscallCounts {
    /// x86-64 system call numbers are below 512; slot 512 counts every other number (x32, bad ones).
    static let size = 512

    // SAFETY: allocated once, never freed, `size + 1` elements, all initialised to 0; every access is
    // within 0...size (`record` clamps the number) and made with the kernel lock held.
    nonisolated(unsafe) static let table: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: size + 1)
        p.initialize(repeating: 0, count: size + 1)
        return p
    }()

    @inline(__always) static func record(_ nr: Int) {
        table[Int(min(UInt(bitPattern: nr), UInt(size)))] &+= 1
    }

    /// The non-zero counters, by number, and the total. Kernel lock held.
    static func snapshot() -> (counts: [(number: UInt32, count: UInt64)], total: UInt64) {
        var out: [(number: UInt32, count: UInt64)] = []
        var total: UInt64 = table[size]
        for nr in 0..<size where table[nr] != 0 {
            out.append((UInt32(nr), table[nr]))
            total &+= table[nr]
        }
        return (out, total)
    }
}

// What /proc shows that the rest of the Sentry does not keep: per-process exec facts (where argv and
// the environment live, the auxiliary vector, the interpreter), start times, oom_score_adj, /proc/sys
// tunables written by the sandbox, the load average, and the connection to bulwark-procfs.
import CBulwark
import Glibc
import SentryMemory

/// Facts fixed at exec (or inherited at fork) for one thread group.
struct ProcfsExecRecord {
    weak var tg: ThreadGroup?
    var argStart: UInt64 = 0, argEnd: UInt64 = 0
    var envStart: UInt64 = 0, envEnd: UInt64 = 0
    /// The initial stack pointer (stat's startstack).
    var startStack: UInt64 = 0
    /// The raw auxiliary vector, pairs of u64 up to and including AT_NULL.
    var auxv: [UInt8] = []
    /// PT_INTERP's path and load address (AT_BASE), to name the interpreter's mappings.
    var interpreter = ""
    var interpreterBase: UInt64 = 0
    /// Clock ticks (100 Hz) since the Sentry started, when the process was created.
    var startTicks: UInt64 = 0
    var oomScoreAdj: Int32 = 0
    /// The executable's canonical path (symlinks resolved, as Linux's d_path shows it).
    var exe = ""
    var peakVMKB: UInt64 = 0
}

final class ProcfsState {
    var connection: ProcfsConnection? = nil
    private var records: [ObjectIdentifier: ProcfsExecRecord] = [:]
    /// /proc/sys values written inside the sandbox, by name relative to /proc/sys.
    var tunables: [String: String] = [:]
    let bootID: String
    /// Exponentially decayed run-queue lengths (1, 5, 15 minutes) and when they were last updated.
    var load: [Double] = [0, 0, 0]
    var loadUpdated = monotonicNow()
    var processesCreated: UInt64 = 1

    init() {
        var b = [UInt8](repeating: 0, count: 16)
        _ = b.withUnsafeMutableBytes { bw_getrandom($0.baseAddress, 16, 0) }
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        let hex = b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        bootID = hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-" +
            hex[8..<10].joined() + "-" + hex[10..<16].joined()
    }

    /// VmPeak: the largest address-space size seen so far for a thread group (updated on reads).
    func peakSize(_ tg: ThreadGroup, _ size: UInt64) -> UInt64 {
        var r = record(tg)
        if size > r.peakVMKB { r.peakVMKB = size; records[ObjectIdentifier(tg)] = r }
        return r.peakVMKB
    }

    func record(_ tg: ThreadGroup) -> ProcfsExecRecord {
        if let r = records[ObjectIdentifier(tg)], r.tg === tg { return r }
        return ProcfsExecRecord(tg: tg)
    }

    func update(_ tg: ThreadGroup, _ body: (inout ProcfsExecRecord) -> Void) {
        var r = record(tg)
        body(&r)
        records[ObjectIdentifier(tg)] = r
    }

    /// Forgets records of thread groups that are gone (called as processes are created).
    func prune() {
        if records.count > 64 { records = records.filter { $0.value.tg != nil } }
    }
}

extension Kernel {
    /// Clock ticks (USER_HZ = 100) since the Sentry started.
    func procfsTicksSinceStart() -> UInt64 {
        let now = monotonicNow()
        let ns = (Int64(now.tv_sec) - Int64(startTime.tv_sec)) * 1_000_000_000 + Int64(now.tv_nsec) - Int64(startTime.tv_nsec)
        return UInt64(max(ns, 0) / 10_000_000)
    }

    /// Hook: `t` has just been set up to run a new image whose initial stack pointer is `sp` (execve or
    /// the first process). Reads argv/envp/auxv bounds from the new stack, as Linux records them.
    func procfsNoteExec(_ t: Task, sp: UInt64, name: String) {
        // comm: the basename of the executed name, at most 15 bytes (what PR_GET_NAME returns).
        let base = name.split(separator: "/").last.map(String.init) ?? name
        t.threadName = String(decoding: Array(base.utf8.prefix(15)), as: UTF8.self)
        let mm = t.mm
        let exe = procfsCanonicalPath(t.tg.name)
        procfs.update(t.tg) { r in
            r.startStack = sp
            r.exe = exe
            if r.startTicks == 0 && t.tg.pid != 1 { r.startTicks = procfsTicksSinceStart() }
            guard let argc = mm.read(sp, as: UInt64.self), argc < 1 << 20 else { return }
            var p = sp + 8
            var argv: [UInt64] = [], envp: [UInt64] = []
            for _ in 0..<argc { guard let a = mm.read(p, as: UInt64.self) else { return }; argv.append(a); p += 8 }
            p += 8
            while let e = mm.read(p, as: UInt64.self), e != 0, envp.count < 1 << 20 { envp.append(e); p += 8 }
            p += 8
            let auxStart = p
            var base: UInt64 = 0, phdr: UInt64 = 0, phnum: UInt64 = 0
            while let k = mm.read(p, as: UInt64.self), let v = mm.read(p + 8, as: UInt64.self) {
                p += 16
                if k == 7 { base = v } else if k == 3 { phdr = v } else if k == 5 { phnum = v }
                if k == 0 || p - auxStart > 4096 { break }
            }
            r.auxv = mm.readBytes(auxStart, Int(p - auxStart)) ?? []
            func end(_ s: UInt64) -> UInt64 { s + UInt64(mm.readCString(s, max: 131072)?.count ?? 0) + 1 }
            if let first = argv.first, let last = argv.last { r.argStart = first; r.argEnd = end(last) }
            if let first = envp.first, let last = envp.last { r.envStart = first; r.envEnd = end(last) }
            else { r.envStart = r.argEnd; r.envEnd = r.argEnd }
            r.interpreterBase = base
            let interp = base == 0 ? "" : procfsInterpreterPath(mm, phdr: phdr, phnum: phnum)
            r.interpreter = interp.isEmpty ? "" : procfsCanonicalPath(interp)
        }
    }

    /// PT_INTERP's string, read from the program headers in memory (bias from PT_PHDR).
    private func procfsInterpreterPath(_ mm: AddressSpace, phdr: UInt64, phnum: UInt64) -> String {
        guard phdr != 0, phnum > 0, phnum < 256 else { return "" }
        var bias: UInt64? = nil
        var interp: (UInt64, UInt64)? = nil
        for i in 0..<phnum {
            let h = phdr + i * 56
            guard let type = mm.read(h, as: UInt32.self), let vaddr = mm.read(h + 16, as: UInt64.self),
                  let size = mm.read(h + 32, as: UInt64.self) else { return "" }
            if type == 6 { bias = phdr &- vaddr }          // PT_PHDR
            if type == 3 { interp = (vaddr, size) }        // PT_INTERP
        }
        guard let b = bias, let (vaddr, size) = interp, size > 1, size < 4096,
              let bytes = mm.readBytes(vaddr &+ b, Int(size) - 1) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Hook: `child` was created by fork/clone from `parent` (a copy of its memory).
    func procfsNoteFork(parent: ThreadGroup, child: ThreadGroup) {
        var r = procfs.record(parent)
        r.tg = child
        r.startTicks = procfsTicksSinceStart()
        procfs.update(child) { $0 = r }
        procfs.processesCreated += 1
        procfs.prune()
    }
}

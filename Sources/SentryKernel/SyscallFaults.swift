// Syscall fault injection (issue 8): `bulwark-sentry run --fault 'syscall=openat,path=/etc/x,errno=EIO,every=3'`.
// The dispatch in SyscallTable.swift calls `faultDispatch` instead of `dispatch` only when a plan is
// installed (`kernel.faults != nil`), so without --fault the cost is one nil check per syscall.
// Decisions are made under the kernel lock (held by handleSyscall), which serialises the plan's counters.
//
// Paths: a rule's `path` is compared with the path argument resolved LEXICALLY to an absolute sandbox
// path (relative to the cwd or to the dirfd's path; ".", ".." and "//" folded; symlinks NOT followed).
// When a relative path's dirfd has no known path, the raw string is compared.
import FaultInjection
@preconcurrency import Glibc
import LinuxABI

final class SyscallFaults {
    let plan: SyscallFaultPlan
    /// Indexed by syscall number: does any rule name it / need its path / need its fd type.
    private var watched: [Bool]
    private var needsPath: [Bool]
    private var needsFDType: [Bool]
    /// Notes for the --strace line of the call just handled, by thread id (only kept with --strace).
    private var straceNotes: [Int32: String] = [:]
    /// Faults injected so far (for tests and the exit log).
    private(set) var injected = 0

    init(plan: SyscallFaultPlan) {
        self.plan = plan
        let count = SyscallNumber.count
        watched = [Bool](repeating: false, count: count)
        needsPath = watched
        needsFDType = watched
        for rule in plan.ruleList where rule.syscall.rawValue >= 0 && rule.syscall.rawValue < count {
            let nr = rule.syscall.rawValue
            watched[nr] = true
            if rule.path != nil { needsPath[nr] = true }
            if rule.fdType != nil { needsFDType[nr] = true }
        }
    }

    /// Builds the Sentry's plan from `--fault` values: nil when no spec is a syscall spec. IPC specs go
    /// to the services (ServiceFaultSpecs) and to the control server (ControlFaults). Errors name the spec.
    static func parse(_ specs: [String]) -> (faults: SyscallFaults?, error: String?) {
        var rules: [SyscallFaultRule] = []
        for text in specs {
            let spec: FaultSpec
            do throws(FaultSpecError) { spec = try FaultSpec.parse(text) } catch { return (nil, "--fault: \(error.description)") }
            switch spec {
            case .ipc(let rule):
                // Passed on to the services the Sentry spawns itself (gofer, netstack, procfs); the
                // control ones (and channel-less ones) the Sentry applies to its control replies.
                ServiceFaultSpecs.specs.append((text, rule.channel))
            case .syscall(let rule):
                let nr = rule.syscall.rawValue
                let name = rule.syscall.name ?? String(nr)
                if rule.path != nil && SyscallFaults.pathArgument[nr] == nil {
                    return (nil, "--fault '\(text)': 'path' does not apply to \(name) (it names no path)")
                }
                if rule.fdType != nil && !SyscallFaults.fdFirst.contains(nr) {
                    return (nil, "--fault '\(text)': 'fd-type' does not apply to \(name) (its first argument is not a descriptor)")
                }
                if case .short = rule.kind, !SyscallFaults.shortCapable.contains(nr) {
                    return (nil, "--fault '\(text)': action 'short' applies only to read, write, pread64, pwrite64, readv, writev, preadv, pwritev, sendto and recvfrom")
                }
                rules.append(rule)
            }
        }
        do throws(FaultSpecError) { try ControlFaults.install(ServiceFaultSpecs.specs) } catch {
            return (nil, "--fault: \(error.description)")
        }
        return rules.isEmpty ? (nil, nil) : (SyscallFaults(plan: SyscallFaultPlan(rules: rules)), nil)
    }

    @inline(__always) func watches(_ nr: Int) -> Bool { nr >= 0 && nr < watched.count && watched[nr] }
    @inline(__always) func wantsPath(_ nr: Int) -> Bool { needsPath[nr] }
    @inline(__always) func wantsFDType(_ nr: Int) -> Bool { needsFDType[nr] }

    func noteInjected(tid: Int32, strace: Bool, _ note: String) {
        injected += 1
        if strace { straceNotes[tid] = note }
    }

    /// The " (injected ...)" suffix for the --strace line of `tid`'s current call, if it had a fault.
    func takeStraceNote(tid: Int32) -> String? {
        straceNotes.removeValue(forKey: tid)
    }

    /// Path argument position per syscall: (index of the path, index of the dirfd or -1 for the cwd).
    static let pathArgument: [Int: (path: Int, dirfd: Int)] = {
        var t: [Int: (path: Int, dirfd: Int)] = [:]
        // open stat lstat access execve truncate chdir rename mkdir rmdir creat link unlink readlink
        // chmod chown lchown utime mknod statfs setxattr lsetxattr getxattr lgetxattr listxattr
        // llistxattr removexattr lremovexattr utimes
        for nr in [2, 4, 6, 21, 59, 76, 80, 82, 83, 84, 85, 86, 87, 89, 90, 92, 94, 132, 133, 137,
                   188, 189, 191, 192, 194, 195, 197, 198, 235] { t[nr] = (0, -1) }
        t[88] = (1, -1)   // symlink(target, linkpath): the link's path
        // openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat readlinkat
        // fchmodat faccessat utimensat renameat2 execveat statx openat2 faccessat2
        for nr in [257, 258, 259, 260, 261, 262, 263, 264, 265, 267, 268, 269, 280, 316, 322, 332, 437, 439] { t[nr] = (1, 0) }
        t[266] = (2, 1)   // symlinkat(target, newdirfd, linkpath)
        return t
    }()

    /// Syscalls whose first argument is a file descriptor (for `fd-type`).
    static let fdFirst: Set<Int> = [0, 1, 3, 5, 8, 16, 17, 18, 19, 20, 32, 33, 40, 42, 43, 44, 45, 46, 47, 48, 49,
                                    50, 51, 52, 54, 55, 72, 73, 74, 75, 77, 78, 81, 91, 93, 138, 190, 193, 196,
                                    199, 217, 221, 277, 285, 288, 292, 295, 296, 326]

    /// Syscalls a `short` fault can shorten.
    static let shortCapable: Set<Int> = [0, 1, 17, 18, 19, 20, 44, 45, 295, 296]

    /// Folds ".", ".." and repeated slashes of an absolute path.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// IPC fault specs given to the Sentry, for the services it spawns itself (`arguments(for:)` goes on
/// their command lines). Set once at start-up, before any thread exists.
enum ServiceFaultSpecs {
    nonisolated(unsafe) static var specs: [(spec: String, channel: FaultChannel?)] = []

    static func arguments(for channel: FaultChannel) -> [String] {
        specs.filter { $0.channel == nil || $0.channel == channel }.flatMap { ["--fault", $0.spec] }
    }
}

extension Task {
    /// `dispatch` with the fault plan consulted first (only called when `kernel.faults` is set).
    func faultDispatch(_ nr: Int, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64, _ a5: UInt64) -> Int {
        guard let faults = kernel.faults, faults.watches(nr) else { return dispatch(nr, a0, a1, a2, a3, a4, a5) }
        let args = [a0, a1, a2, a3, a4, a5]
        let path = faults.wantsPath(nr) ? faultPath(nr, args) : nil
        let fdType = faults.wantsFDType(nr) ? faultFDType(Int(Int64(bitPattern: a0))) : nil
        guard let action = faults.plan.decide(syscall: SyscallNumber(rawValue: nr), path: path, fdType: fdType) else {
            return dispatch(nr, a0, a1, a2, a3, a4, a5)
        }
        let name = SyscallTable.name(nr)
        var what = name
        if let path { what += " \"\(path)\"" }
        if SyscallFaults.fdFirst.contains(nr) { what += " fd \(Int32(truncatingIfNeeded: a0))" + (fdType.map { " (\($0.rawValue))" } ?? "") }
        let origin = "(rule \(faults.plan.lastRule + 1), call #\(faults.plan.lastOccurrence))"
        switch action {
        case .fail(let e):
            kernel.log("bulwark-sentry: fault: \(what) -> \(e.name) \(origin)\n")
            faults.noteInjected(tid: tid, strace: kernel.config.strace, " (injected \(e.name))")
            return -Int(e.rawValue)
        case .delay(let ms):
            kernel.log("bulwark-sentry: fault: \(what) delayed \(ms)ms \(origin)\n")
            faults.noteInjected(tid: tid, strace: kernel.config.strace, " (injected delay \(ms)ms)")
            faultSleep(milliseconds: ms)
            return dispatch(nr, a0, a1, a2, a3, a4, a5)
        case .short(let bytes):
            let ret = shortDispatch(nr, args, bytes)
            kernel.log("bulwark-sentry: fault: \(what) shortened to at most \(bytes) bytes -> \(ret) \(origin)\n")
            faults.noteInjected(tid: tid, strace: kernel.config.strace, " (injected short, at most \(bytes) bytes)")
            return ret
        }
    }

    /// Waits `milliseconds` with the kernel lock released (other tasks run); ends early when the
    /// thread group is exiting, so a kill is not held up by an injected delay.
    private func faultSleep(milliseconds: Int) {
        let deadline = addNanos(monotonicNow(), milliseconds * 1_000_000)
        while lessThan(monotonicNow(), deadline) && !tg.exiting {
            kernel.waitCond(deadline: deadline)
        }
    }

    /// Runs a read/write-family call with its byte count cut to `bytes`. Vector calls transfer into or
    /// from their first buffer only (a legal short transfer).
    private func shortDispatch(_ nr: Int, _ a: [UInt64], _ bytes: Int) -> Int {
        let cap = UInt64(bytes)
        switch nr {
        case 0, 1, 17, 18, 44, 45:   // read write pread64 pwrite64 sendto recvfrom: count is argument 2
            return dispatch(nr, a[0], a[1], min(a[2], cap), a[3], a[4], a[5])
        case 19, 20, 295, 296:       // readv writev preadv pwritev
            guard Int64(bitPattern: a[2]) > 0 else { return dispatch(nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
            guard let base = mm.read(a[1], as: UInt64.self), let length = mm.read(a[1] &+ 8, as: UInt64.self) else {
                return -Int(EFAULT)
            }
            let single = [19: 0, 20: 1, 295: 17, 296: 18][nr]!
            return dispatch(single, a[0], base, min(length, cap), a[3], 0, 0)
        default:
            return dispatch(nr, a[0], a[1], a[2], a[3], a[4], a[5])
        }
    }

    /// The call's path argument as an absolute sandbox path (see the header), or nil without one.
    private func faultPath(_ nr: Int, _ args: [UInt64]) -> String? {
        guard let (pathIndex, dirfdIndex) = SyscallFaults.pathArgument[nr], args[pathIndex] != 0,
              let bytes = mm.readCString(args[pathIndex], max: 4096) else { return nil }
        let raw = String(decoding: bytes, as: UTF8.self)
        if raw.hasPrefix("/") { return SyscallFaults.normalize(raw) }
        if raw.isEmpty { return raw }
        var base: String? = fsctx.cwd
        if dirfdIndex >= 0 {
            let dirfd = Int32(truncatingIfNeeded: args[dirfdIndex])
            if dirfd != AT_FDCWD_ { base = fds.get(Int(dirfd))?.path }
        }
        guard let base else { return raw }
        return SyscallFaults.normalize(base + "/" + raw)
    }

    /// The kind of descriptor `fd` is, from its stat mode; nil for other kinds or a bad fd.
    private func faultFDType(_ fd: Int) -> FDType? {
        guard let f = fds.get(fd) else { return nil }
        var st = stat()
        guard f.stat(&st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .dir
        case S_IFIFO: return .pipe
        case S_IFSOCK: return .socket
        default: return nil
        }
    }
}

// config.json's linux.seccomp, enforced by the Sentry on the application's own system calls (the
// host never sees them, so the profile is interpreted here instead of loaded into the kernel).
// The launcher translates the profile (names to x86-64 numbers, checked actions and operators) into
// the compact text of `--app-seccomp` (SeccompProfile.swift in OCIRuntime):
//   "default ACTION ERRNO;NR ACTION ERRNO [INDEX OP VALUE VALUE2]...;..."
// Semantics follow seccomp(2): of the rules that match a call, the most restrictive action wins
// (kill process > kill thread > trap > errno > trace > log > allow); no match takes the default.

/// A class, so the per-syscall `if let` takes one reference rather than copying its tables.
final class AppSeccomp {
    enum Action: UInt8, Comparable {
        case allow = 0, log, trace, errno, trap, killThread, killProcess
        static func < (a: Action, b: Action) -> Bool { a.rawValue < b.rawValue }
        init?(name: String) {
            switch name {
            case "ALLOW": self = .allow
            case "LOG": self = .log
            case "TRACE": self = .trace
            case "ERRNO": self = .errno
            case "TRAP": self = .trap
            case "KILL_THREAD": self = .killThread
            case "KILL_PROCESS": self = .killProcess
            default: return nil
            }
        }
    }
    enum Op: String { case ne = "NE", lt = "LT", le = "LE", eq = "EQ", ge = "GE", gt = "GT", maskedEq = "MASKED_EQ" }
    struct Condition { var index: Int; var op: Op; var value: UInt64; var value2: UInt64 }
    struct Rule { var action: Action; var errno: Int32; var conditions: [Condition] }

    static let tableSize = 512
    /// Per syscall number: the verdict when it does not depend on arguments (action << 16 | errno),
    /// or `needsRules` when `rules` must be evaluated. One load on the hot path.
    private(set) var fast: [UInt32]
    private(set) var rules: [Int: [Rule]] = [:]
    static let needsRules: UInt32 = .max

    /// Parses the launcher's text; nil with a message when it is malformed.
    static func parse(_ text: String) -> (AppSeccomp?, String?) {
        var defaultVerdict: UInt32? = nil
        var byNumber: [Int: [Rule]] = [:]
        for entry in text.split(separator: ";") {
            let f = entry.split(separator: " ").map(String.init)
            guard f.count >= 3, (f.count - 3) % 4 == 0, let action = Action(name: f[1]), let err = Int32(f[2]), err >= 0, err < 4096 else {
                return (nil, "--app-seccomp: malformed entry '\(entry)'")
            }
            if f[0] == "default" {
                guard f.count == 3 else { return (nil, "--app-seccomp: the default takes no conditions") }
                defaultVerdict = UInt32(action.rawValue) << 16 | UInt32(err)
                continue
            }
            guard let nr = Int(f[0]), nr >= 0, nr < tableSize else { return (nil, "--app-seccomp: bad syscall number '\(f[0])'") }
            var conditions: [Condition] = []
            var i = 3
            while i < f.count {
                guard let index = Int(f[i]), index >= 0, index < 6, let op = Op(rawValue: f[i + 1]),
                      let v = UInt64(f[i + 2]), let v2 = UInt64(f[i + 3]) else {
                    return (nil, "--app-seccomp: bad condition in '\(entry)'")
                }
                conditions.append(Condition(index: index, op: op, value: v, value2: v2))
                i += 4
            }
            byNumber[nr, default: []].append(Rule(action: action, errno: err, conditions: conditions))
        }
        guard let defaultVerdict else { return (nil, "--app-seccomp: no default action") }
        let s = AppSeccomp(fast: [UInt32](repeating: defaultVerdict, count: tableSize))
        for (nr, list) in byNumber {
            if list.count == 1 && list[0].conditions.isEmpty {
                s.fast[nr] = UInt32(list[0].action.rawValue) << 16 | UInt32(list[0].errno)
            } else {
                s.fast[nr] = needsRules
                s.rules[nr] = list
            }
        }
        s.defaultVerdict = defaultVerdict
        return (s, nil)
    }

    private var defaultVerdict: UInt32 = 0
    private init(fast: [UInt32]) { self.fast = fast }

    /// The verdict for one call: action and errno.
    func verdict(_ nr: Int, _ args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) -> (Action, Int32) {
        let v: UInt32
        if nr < 0 || nr >= Self.tableSize { v = defaultVerdict }
        else if fast[nr] != Self.needsRules { v = fast[nr] }
        else { v = evaluate(nr, [args.0, args.1, args.2, args.3, args.4, args.5]) }
        return (Action(rawValue: UInt8(v >> 16)) ?? .killProcess, Int32(v & 0xffff))
    }

    private func evaluate(_ nr: Int, _ a: [UInt64]) -> UInt32 {
        var best: (Action, Int32)? = nil
        for r in rules[nr] ?? [] where r.conditions.allSatisfy({ Self.holds($0, a[$0.index]) }) {
            if best == nil || best!.0 < r.action { best = (r.action, r.errno) }
        }
        guard let best else { return defaultVerdict }
        return UInt32(best.0.rawValue) << 16 | UInt32(best.1)
    }

    static func holds(_ c: Condition, _ x: UInt64) -> Bool {
        switch c.op {
        case .ne: return x != c.value
        case .lt: return x < c.value
        case .le: return x <= c.value
        case .eq: return x == c.value
        case .ge: return x >= c.value
        case .gt: return x > c.value
        case .maskedEq: return x & c.value == c.value2
        }
    }
}

extension Task {
    /// Applies the profile to this call: nil to run it, else the value to return (or noReturn).
    func appSeccompVerdict(_ filter: AppSeccomp, _ nr: Int, _ a: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) -> Int? {
        let (action, err) = filter.verdict(nr, a)
        switch action {
        case .allow: return nil
        case .log:
            kernel.log("seccomp profile: logged \(SyscallTable.name(nr)) by pid \(tg.pid)")
            return nil
        case .errno: return -Int(err)
        case .trace: return -Int(ENOSYS_)   // no tracer is ever attached (seccomp(2): ENOSYS)
        case .trap:
            forceSignal(SigInfo(signo: SIGSYS_, code: 1 /* SYS_SECCOMP */, pid: 0, uid: 0, addr: regs.rip))
            return -Int(ENOSYS_)
        case .killThread, .killProcess:
            // A multi-threaded process loses the whole group here too (documented limit).
            kernel.log("seccomp profile: killed pid \(tg.pid) for \(SyscallTable.name(nr))")
            kernel.killGroup(tg, status: SIGSYS_ | 0x80)   // killed by SIGSYS, core dumped
            return noReturn
        }
    }
}

private let ENOSYS_: Int32 = 38
private let SIGSYS_: Int32 = 31

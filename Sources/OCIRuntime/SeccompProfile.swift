// config.json's linux.seccomp turned into the Sentry's `--app-seccomp` rules (the Sentry enforces the
// profile on the application's system calls; see AppSeccomp.swift). Names are x86-64 syscall names; a
// name this kernel ABI does not know is skipped, as runc does. Errors name the field.
import LinuxABI

enum SeccompProfile {
    static let actions: [String: String] = [
        "SCMP_ACT_ALLOW": "ALLOW", "SCMP_ACT_LOG": "LOG", "SCMP_ACT_TRACE": "TRACE", "SCMP_ACT_ERRNO": "ERRNO",
        "SCMP_ACT_TRAP": "TRAP", "SCMP_ACT_KILL": "KILL_THREAD", "SCMP_ACT_KILL_THREAD": "KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS": "KILL_PROCESS",
    ]
    static let operators: [String: String] = [
        "SCMP_CMP_NE": "NE", "SCMP_CMP_LT": "LT", "SCMP_CMP_LE": "LE", "SCMP_CMP_EQ": "EQ", "SCMP_CMP_GE": "GE",
        "SCMP_CMP_GT": "GT", "SCMP_CMP_MASKED_EQ": "MASKED_EQ",
    ]
    static let EPERM: Int64 = 1

    /// The rules text for config.json's `linux.seccomp` field `s` (present).
    static func sentryRules(_ s: JSONField) throws(RuntimeError) -> String {
        _ = try s.object()
        let defaultErrno = try s["defaultErrnoRet"].optionalInteger(in: 0...4095) ?? EPERM
        let defaultAction = try action(s["defaultAction"])
        var entries = ["default \(defaultAction) \(defaultAction == "ERRNO" ? defaultErrno : 0)"]
        for arch in try s["architectures"].stringArray() {
            guard arch.hasPrefix("SCMP_ARCH_") else { throw s["architectures"].fail("unknown architecture \(arch)") }
        }
        for rule in try s["syscalls"].elements() {
            let act = try action(rule["action"])
            let errno = act == "ERRNO" ? try rule["errnoRet"].optionalInteger(in: 0...4095) ?? defaultErrno : 0
            var conditions = ""
            for arg in try rule["args"].elements() {
                let index = try arg["index"].integer(in: 0...5)
                let value = try arg["value"].unsigned()
                let value2 = try arg["valueTwo"].isPresent ? arg["valueTwo"].unsigned() : 0
                let opName = try arg["op"].string()
                guard let op = operators[opName] else { throw arg["op"].fail("unknown operator \(opName)") }
                conditions += " \(index) \(op) \(value) \(value2)"
            }
            for name in try rule["names"].stringArray() {
                guard let nr = SyscallNumber(name: name) else { continue }   // not an x86-64 call: skipped, as runc does
                entries.append("\(nr.rawValue) \(act) \(errno)\(conditions)")
            }
        }
        return entries.joined(separator: ";")
    }

    private static func action(_ f: JSONField) throws(RuntimeError) -> String {
        let name = try f.string()
        if name == "SCMP_ACT_NOTIFY" { throw f.fail("SCMP_ACT_NOTIFY is not supported (no seccomp agent)") }
        guard let a = actions[name] else { throw f.fail("unknown action \(name)") }
        return a
    }
}

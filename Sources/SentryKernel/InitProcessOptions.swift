// The init process's identity and limits from the Sentry's command line (config.json's process:
// user.additionalGids, capabilities, rlimits, noNewPrivileges, user.umask), applied in startInit.

public struct InitProcessOptions {
    public var groups: [UInt32] = []
    /// bounding, effective, inheritable, permitted, ambient; nil: root gets all, others none.
    public var capabilities: [UInt64]? = nil
    public var rlimits: [Int: (UInt64, UInt64)] = [:]
    public var noNewPrivileges = false
    public var umask: UInt32? = nil
    public init() {}

    /// RLIMIT_* names (getrlimit(2)) in resource-number order.
    static let rlimitNames = ["CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS",
                              "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"]

    /// Parses one option; nil when it is fine, else the error message.
    ///   --groups G[,G...]            supplementary groups
    ///   --caps B,E,I,P,A             the five capability sets as hexadecimal masks
    ///   --rlimit NAME:SOFT:HARD      NAME as in RLIMIT_NAME or its number; "unlimited" or a number
    ///   --umask OCTAL
    public mutating func parse(_ flag: String, _ value: String?) -> String? {
        guard let value else { return "\(flag) needs a value" }
        switch flag {
        case "--groups":
            var g: [UInt32] = []
            for part in value.split(separator: ",") {
                guard let n = UInt32(part) else { return "--groups: '\(part)' is not a group id" }
                g.append(n)
            }
            groups = g
        case "--caps":
            let parts = value.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 5 else { return "--caps needs five hexadecimal masks: bounding,effective,inheritable,permitted,ambient" }
            var sets: [UInt64] = []
            for p in parts {
                guard let n = UInt64(p, radix: 16) else { return "--caps: '\(p)' is not a hexadecimal mask" }
                sets.append(n)
            }
            capabilities = sets
        case "--rlimit":
            let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { return "--rlimit needs NAME:SOFT:HARD" }
            let name = parts[0].uppercased().replacingPrefix("RLIMIT_")
            guard let resource = Self.rlimitNames.firstIndex(of: name) ?? Int(parts[0]).flatMap({ $0 >= 0 && $0 < 16 ? $0 : nil }) else {
                return "--rlimit: unknown resource '\(parts[0])'"
            }
            func limit(_ s: String) -> UInt64? { s == "unlimited" || s == "-1" ? UInt64.max : UInt64(s) }
            guard let soft = limit(parts[1]), let hard = limit(parts[2]) else { return "--rlimit: bad limit in '\(value)'" }
            guard soft <= hard else { return "--rlimit: soft limit above hard limit in '\(value)'" }
            rlimits[resource] = (soft, hard)
        case "--umask":
            guard let n = UInt32(value, radix: 8), n <= 0o777 else { return "--umask needs an octal mask" }
            umask = n
        default:
            return "unknown option \(flag)"
        }
        return nil
    }

    /// Sets up `tg`'s credentials and limits as config.json asks.
    func apply(to tg: ThreadGroup) {
        tg.cred.groups = groups.sorted()
        if let c = capabilities { tg.cred.setCapabilities(c) }
        for (r, l) in rlimits { tg.rlimits[r] = l }
    }
}

extension String {
    fileprivate func replacingPrefix(_ p: String) -> String { hasPrefix(p) ? String(dropFirst(p.count)) : self }
}

// The parts of an OCI runtime-spec config.json the launcher understands, parsed with checked access so a
// wrong field gives "config.json: <field>: <problem>". Unknown fields are ignored, as the spec requires.
import Foundation

public struct OCIConfig: Sendable {
    public struct User: Sendable {
        public var uid: UInt32 = 0
        public var gid: UInt32 = 0
        public var additionalGids: [UInt32] = []
        public var umask: UInt32?
    }
    public struct Capabilities: Sendable {
        public var bounding: [String] = [], effective: [String] = [], inheritable: [String] = []
        public var permitted: [String] = [], ambient: [String] = []
        /// config.json has a capabilities object (absent: the runtime leaves the process's own).
        public var specified = false

        /// bounding, effective, inheritable, permitted, ambient as bit masks (the Sentry's --caps and
        /// the Control channel's ProcessSpec.capabilities); nil when none were specified.
        public var masks: [UInt64]? {
            guard specified else { return nil }
            func mask(_ names: [String]) -> UInt64 {
                names.reduce(0) { m, n in OCIConfig.capabilityList.firstIndex(of: n).map { m | (1 << UInt64($0)) } ?? m }
            }
            return [mask(bounding), mask(effective), mask(inheritable), mask(permitted), mask(ambient)]
        }
    }
    public struct Rlimit: Sendable {
        public var type: String
        public var hard: UInt64
        public var soft: UInt64
    }
    public struct Process: Sendable {
        public var terminal = false
        public var user = User()
        public var args: [String] = []
        public var env: [String] = []
        public var cwd = "/"
        public var capabilities = Capabilities()
        public var rlimits: [Rlimit] = []
        public var noNewPrivileges = false
        public var oomScoreAdj: Int?
    }
    public struct Root: Sendable {
        public var path: String
        public var readonly: Bool
    }
    public struct Mount: Sendable {
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: [String]
        /// A bind mount, by type or by option (runc accepts either); served by a gofer.
        public var isBind: Bool { type == "bind" || options.contains("bind") || options.contains("rbind") }
    }
    public struct Hook: Sendable {
        public var path: String
        public var args: [String]
        public var env: [String]?
        public var timeout: Int?
    }
    public struct Hooks: Sendable {
        public var prestart: [Hook] = [], createRuntime: [Hook] = [], createContainer: [Hook] = []
        public var startContainer: [Hook] = [], poststart: [Hook] = [], poststop: [Hook] = []
    }
    public struct Namespace: Sendable {
        public var type: String
        public var path: String?
    }
    public struct Linux: Sendable {
        public var namespaces: [Namespace] = []
        public var maskedPaths: [String] = []
        public var readonlyPaths: [String] = []
        public var sysctl: [String: String] = [:]
        public var resources: JSONValue?
        public var seccomp: JSONValue?
        /// linux.seccomp as the Sentry's --app-seccomp rules (SeccompProfile.swift).
        public var seccompRules: String?
        public var cgroupsPath: String?
    }

    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var mounts: [Mount] = []
    public var hostname: String?
    public var hooks = Hooks()
    public var annotations: [String: String] = [:]
    public var linux = Linux()

    /// Reads `<bundle>/config.json`. Errors are worded like runc's for a missing file.
    /// Fields that are parsed and validated but not enforced in the sandbox yet: `create` logs them as a
    /// warning instead of pretending (docs/ARCHITECTURE.md, "Launcher", gaps).
    public var unenforcedFields: [String] {
        var fields: [String] = []
        if !linux.sysctl.isEmpty {
            fields.append("linux.sysctl (\(linux.sysctl.keys.sorted().joined(separator: ", ")): shown in /proc/sys, no effect on the netstack")
        }
        if linux.readonlyPaths.contains(where: { !$0.hasPrefix("/proc/") }) { fields.append("linux.readonlyPaths outside /proc") }
        return fields
    }

    public static func load(bundle: String) throws(RuntimeError) -> OCIConfig {
        let path = (bundle as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: path) else {
            throw RuntimeError("JSON specification file config.json not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuntimeError("open \(path): permission denied")
        }
        return try parse(data)
    }

    public static func parse(_ data: Data) throws(RuntimeError) -> OCIConfig {
        let top = JSONField(document: "config.json", path: "", value: try JSONValue.parse(data, what: "config.json"))
        _ = try JSONField(document: "config.json", path: "(top level)", value: top.value).object()
        guard top["ociVersion"].isPresent else { throw top["ociVersion"].fail("is required") }
        var config = OCIConfig(ociVersion: try top["ociVersion"].string())
        if top["process"].isPresent { config.process = try parseProcess(top["process"]) }
        if top["root"].isPresent {
            let root = top["root"]
            _ = try root.object()
            let path = try root["path"].optionalString() ?? ""
            if path.isEmpty { throw root["path"].fail("must be a non-empty string") }
            config.root = Root(path: path, readonly: try root["readonly"].bool())
        }
        for m in try top["mounts"].elements() {
            _ = try m.object()
            let destination = try m["destination"].optionalString() ?? ""
            guard destination.hasPrefix("/") else { throw m["destination"].fail("must be an absolute path") }
            config.mounts.append(Mount(destination: destination, type: try m["type"].optionalString(),
                                       source: try m["source"].optionalString(),
                                       options: try m["options"].stringArray()))
        }
        config.hostname = try top["hostname"].optionalString()
        if top["hooks"].isPresent {
            let h = top["hooks"]
            _ = try h.object()
            config.hooks.prestart = try parseHooks(h["prestart"])
            config.hooks.createRuntime = try parseHooks(h["createRuntime"])
            config.hooks.createContainer = try parseHooks(h["createContainer"])
            config.hooks.startContainer = try parseHooks(h["startContainer"])
            config.hooks.poststart = try parseHooks(h["poststart"])
            config.hooks.poststop = try parseHooks(h["poststop"])
        }
        config.annotations = try top["annotations"].stringMap()
        if top["linux"].isPresent { config.linux = try parseLinux(top["linux"]) }
        return config
    }

    /// A standalone process object (`bulwark exec --process FILE`).
    public static func parseProcessDocument(_ data: Data, name: String) throws(RuntimeError) -> Process {
        try parseProcess(JSONField(document: name, path: "", value: try JSONValue.parse(data, what: name)))
    }

    private static func parseProcess(_ p: JSONField) throws(RuntimeError) -> Process {
        _ = try p.object()
        var process = Process()
        process.terminal = try p["terminal"].bool()
        let u = p["user"]
        if u.isPresent {
            _ = try u.object()
            process.user.uid = try id(u["uid"])
            process.user.gid = try id(u["gid"])
            process.user.additionalGids = try u["additionalGids"].elements().map { f throws(RuntimeError) in try id(f) }
            if u["umask"].isPresent { process.user.umask = UInt32(try u["umask"].integer(in: 0...0o777)) }
        }
        guard case .some(.array(let rawArgs)) = p["args"].value, !rawArgs.isEmpty,
              let args = try? p["args"].stringArray() else {
            throw p["args"].fail("must be a non-empty array of strings")
        }
        process.args = args
        process.env = try p["env"].stringArray()
        for (i, entry) in process.env.enumerated() where !entry.contains("=") || entry.hasPrefix("=") {
            throw JSONField(document: "config.json", path: "process.env[\(i)]", value: nil)
                .fail("must have the form KEY=VALUE, got \(JSONText.quote(entry))")
        }
        process.cwd = try p["cwd"].optionalString() ?? ""
        guard process.cwd.hasPrefix("/") else { throw p["cwd"].fail("must be an absolute path") }
        let c = p["capabilities"]
        if c.isPresent {
            _ = try c.object()
            process.capabilities.specified = true
            process.capabilities.bounding = try capabilities(c["bounding"])
            process.capabilities.effective = try capabilities(c["effective"])
            process.capabilities.inheritable = try capabilities(c["inheritable"])
            process.capabilities.permitted = try capabilities(c["permitted"])
            process.capabilities.ambient = try capabilities(c["ambient"])
        }
        var seen = Set<String>()
        for r in try p["rlimits"].elements() {
            _ = try r.object()
            let type = try r["type"].string()
            guard Self.rlimitNames.contains(type) else { throw r["type"].fail("unknown rlimit \(JSONText.quote(type))") }
            guard seen.insert(type).inserted else { throw r["type"].fail("duplicate rlimit \(type)") }
            process.rlimits.append(Rlimit(type: type, hard: try r["hard"].unsigned(), soft: try r["soft"].unsigned()))
        }
        process.noNewPrivileges = try p["noNewPrivileges"].bool()
        if let adj = try p["oomScoreAdj"].optionalInteger(in: -1000...1000) { process.oomScoreAdj = Int(adj) }
        return process
    }

    private static func id(_ f: JSONField) throws(RuntimeError) -> UInt32 {
        guard f.isPresent else { return 0 }
        return UInt32(try f.integer(in: 0...Int64(UInt32.max)))
    }

    private static func capabilities(_ f: JSONField) throws(RuntimeError) -> [String] {
        let names = try f.stringArray()
        for (i, name) in names.enumerated() where !capabilityNames.contains(name) {
            throw JSONField(document: "config.json", path: "\(f.path)[\(i)]", value: nil)
                .fail("unknown capability \(JSONText.quote(name))")
        }
        return names
    }

    private static func parseHooks(_ f: JSONField) throws(RuntimeError) -> [Hook] {
        var hooks: [Hook] = []
        for h in try f.elements() {
            _ = try h.object()
            let path = try h["path"].optionalString() ?? ""
            guard path.hasPrefix("/") else { throw h["path"].fail("must be an absolute path") }
            var timeout: Int?
            if h["timeout"].isPresent { timeout = Int(try h["timeout"].integer(in: 1...Int64(Int32.max))) }
            hooks.append(Hook(path: path, args: try h["args"].stringArray(),
                              env: h["env"].isPresent ? try h["env"].stringArray() : nil, timeout: timeout))
        }
        return hooks
    }

    private static func parseLinux(_ l: JSONField) throws(RuntimeError) -> Linux {
        _ = try l.object()
        var linux = Linux()
        var seen = Set<String>()
        for n in try l["namespaces"].elements() {
            _ = try n.object()
            let type = try n["type"].string()
            guard namespaceTypes.contains(type) else { throw n["type"].fail("unknown namespace type \(JSONText.quote(type))") }
            guard seen.insert(type).inserted else { throw n["type"].fail("duplicate namespace \(type)") }
            linux.namespaces.append(Namespace(type: type, path: try n["path"].optionalString()))
        }
        linux.maskedPaths = try l["maskedPaths"].stringArray()
        linux.readonlyPaths = try l["readonlyPaths"].stringArray()
        linux.sysctl = try l["sysctl"].stringMap()
        if l["resources"].isPresent { _ = try l["resources"].object(); linux.resources = l["resources"].value }
        if l["seccomp"].isPresent {
            let s = l["seccomp"]
            linux.seccompRules = try SeccompProfile.sentryRules(s)   // checked and translated for the Sentry
            linux.seccomp = s.value
        }
        linux.cgroupsPath = try l["cgroupsPath"].optionalString()
        return linux
    }

    static let namespaceTypes: Set<String> = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]

    /// RLIMIT_* numbers (asm-generic/resource.h) by OCI name.
    static let rlimitNumbers: [String: UInt32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
        "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
        "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]

    static let rlimitNames: Set<String> = [
        "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
        "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
        "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
    ]

    /// Capability names known to Linux 6.x (capability.h), in number order.
    static let capabilityList: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]
    static let capabilityNames = Set(capabilityList)
}

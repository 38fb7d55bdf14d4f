// The container's cgroup: linux.resources (memory, cpu, pids) applied to the sandbox's host processes.
// `create` writes the plan (cgroup.json); the supervisor creates the cgroup, writes the limits and
// moves itself into it before it reports ready, so the Sentry and every stub inherit it. `update`
// rewrites the limits, `events` reads usage from it, `delete` removes it. cgroup v2 (unified) and v1
// (one hierarchy per controller, as on this kind of machine and under Docker's cgroupfs driver).
//
// Best effort where nothing is asked: a host without writable cgroups still runs containers; a limit
// that was asked for and cannot be applied fails `create` (as runc does).
import Foundation
import Glibc
import HostOS

struct CgroupPlan: Codable, Sendable, Equatable {
    /// The cgroup's path below each hierarchy's root, e.g. "/docker/<id>" or "/bulwark/<id>".
    var path: String
    /// Limits in cgroup v2 terms: "memory.max", "cpu.max", "cpu.weight", "pids.max", and "memory.swap"
    /// with OCI's meaning (memory + swap).
    var limits: [String: String]

    static let root = "/sys/fs/cgroup"

    static var isUnified: Bool { FileSystem.exists("\(root)/cgroup.controllers") }

    /// linux.cgroupsPath (cgroupfs style; a systemd "slice:prefix:name" becomes /slice/prefix-name.scope),
    /// or /bulwark/<id>, plus the non-zero limits of linux.resources. nil when the config asks for
    /// neither a cgroup path nor a limit (then the container stays in its caller's cgroup).
    static func make(config: OCIConfig, id: String) throws(RuntimeError) -> CgroupPlan? {
        var path = "/bulwark/\(id)"
        if let p = config.linux.cgroupsPath, !p.isEmpty {
            let parts = p.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 3 && !p.hasPrefix("/") {
                path = "/\(parts[0])/\(parts[1])-\(parts[2]).scope"
            } else {
                path = p.hasPrefix("/") ? p : "/" + p
            }
        }
        guard !path.split(separator: "/").contains("..") else { throw RuntimeError("config.json: linux.cgroupsPath: contains ..") }
        var limits: [String: String] = [:]
        if let resources = config.linux.resources {
            limits = try UpdateCommand.parse(Data(resources.jsonText.utf8)).files
        }
        if (config.linux.cgroupsPath ?? "").isEmpty && limits.isEmpty { return nil }
        return CgroupPlan(path: path, limits: limits)
    }

    /// The directories of this cgroup: one (v2) or one per controller we use (v1).
    var directories: [String] {
        if Self.isUnified { return [Self.root + path] }
        return ["memory", "pids", "cpu,cpuacct"].compactMap { c in
            let base = Self.root + "/" + c
            if FileSystem.exists(base) { return base + path }
            // Some hosts mount cpu and cpuacct separately.
            if c == "cpu,cpuacct", FileSystem.exists(Self.root + "/cpu") { return Self.root + "/cpu" + path }
            return nil
        }
    }

    /// Creates the cgroup, writes the limits and moves the calling process into it (the supervisor).
    func apply() throws(RuntimeError) {
        if Self.isUnified { enableControllers() }
        var joined = 0
        for dir in directories {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try Self.write(String(getpid()), to: dir + "/cgroup.procs")
                joined += 1
            } catch {
                if !limits.isEmpty { throw RuntimeError("cgroup \(dir): \(error)") }
            }
        }
        if joined > 0 { try write(limits) }
    }

    /// cgroup v2: controllers must be enabled in every ancestor's subtree_control.
    private func enableControllers() {
        var dir = Self.root
        for component in path.split(separator: "/").dropLast() {
            try? Self.write("+memory +pids +cpu", to: dir + "/cgroup.subtree_control")
            dir += "/" + component
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try? Self.write("+memory +pids +cpu", to: dir + "/cgroup.subtree_control")
    }

    /// Writes limits given in v2 terms, translated for v1 hierarchies. v1 refuses a memory limit above
    /// the memory+swap limit, so when that happens the swap limit is written first.
    func write(_ limits: [String: String]) throws(RuntimeError) {
        var order = limits.keys.sorted()
        if let swap = limits["memory.swap"], swap != "max", let mem = limits["memory.max"],
           let s = UInt64(swap), mem == "max" || (UInt64(mem) ?? 0) > s / 2 {
            order.removeAll { $0 == "memory.swap" }
            order.insert("memory.swap", at: 0)
        }
        for file in order {
            for (target, text) in translate(file, limits[file]!, all: limits) {
                do { try Self.write(text, to: target) } catch {
                    // v1: raising memory above the old memory+swap limit needs the swap limit raised first.
                    if file == "memory.max", error.errno == .EINVAL, limits["memory.swap"] != nil,
                       let swapTarget = translate("memory.swap", limits["memory.swap"]!, all: limits).first {
                        try? Self.write(swapTarget.1, to: swapTarget.0)
                        if (try? Self.write(text, to: target)) != nil { continue }
                    }
                    throw RuntimeError("cgroup: write \(text) to \(target): \(describe(error.errno))")
                }
            }
        }
    }

    private func translate(_ file: String, _ value: String, all: [String: String]) -> [(String, String)] {
        if Self.isUnified {
            guard file == "memory.swap" else { return [(Self.root + path + "/" + file, value)] }
            // v2's memory.swap.max is swap alone: OCI's total minus the memory limit.
            guard value != "max" else { return [(Self.root + path + "/memory.swap.max", "max")] }
            guard let total = UInt64(value), let mem = all["memory.max"].flatMap(UInt64.init), total >= mem else { return [] }
            return [(Self.root + path + "/memory.swap.max", String(total - mem))]
        }
        let dirs = directories
        func dir(_ prefix: String) -> String? { dirs.first { $0.hasPrefix(Self.root + "/" + prefix) } }
        switch file {
        case "memory.max":
            return dir("memory").map { [($0 + "/memory.limit_in_bytes", value == "max" ? "-1" : value)] } ?? []
        case "memory.swap":
            // v1's memsw is OCI's meaning already; without swap accounting the file does not exist and
            // only "unlimited" (the default there) can be honoured.
            guard let d = dir("memory") else { return [] }
            if !FileSystem.exists(d + "/memory.memsw.limit_in_bytes") { return [] }
            return [(d + "/memory.memsw.limit_in_bytes", value == "max" ? "-1" : value)]
        case "pids.max":
            return dir("pids").map { [($0 + "/pids.max", value)] } ?? []
        case "cpu.max":
            let parts = value.split(separator: " ")
            guard let d = dir("cpu"), parts.count == 2 else { return [] }
            return [(d + "/cpu.cfs_period_us", String(parts[1])), (d + "/cpu.cfs_quota_us", parts[0] == "max" ? "-1" : String(parts[0]))]
        case "cpu.weight":
            // Back from weight (1...10000) to shares (2...262144).
            guard let d = dir("cpu"), let w = UInt64(value) else { return [] }
            return [(d + "/cpu.shares", String(2 + (w - 1) * 262_142 / 9999))]
        default:
            return []
        }
    }

    /// Memory in use by the cgroup, if readable.
    var memoryUsage: UInt64? {
        let file = Self.isUnified ? Self.root + path + "/memory.current"
            : (directories.first { $0.hasPrefix(Self.root + "/memory") }.map { $0 + "/memory.usage_in_bytes" } ?? "")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Removes the cgroup once its processes are gone (bounded retries: the kernel frees it a little
    /// after the last process exits).
    func remove() {
        for dir in directories where FileSystem.exists(dir) {
            for _ in 0..<50 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                usleep(10_000)
            }
        }
    }

    static func write(_ text: String, to file: String) throws(HostError) {
        let fd = try FileSystem.open(file, flags: O_WRONLY | O_CLOEXEC)
        let bytes = Array(text.utf8)
        let result: Result<Void, HostError> = bytes.withUnsafeBytes { raw in
            do throws(HostError) { try FileIO.writeAll(fd.rawValue, raw); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }
}

extension ContainerDirectory {
    var cgroupFile: String { "\(path)/cgroup.json" }

    func readCgroupPlan() -> CgroupPlan? {
        guard let data = FileManager.default.contents(atPath: cgroupFile) else { return nil }
        return try? JSONDecoder().decode(CgroupPlan.self, from: data)
    }
}

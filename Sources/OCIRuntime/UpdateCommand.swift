// `bulwark update --resources FILE|- ID`: checks an OCI linux.resources object and applies memory, CPU
// and pids limits to the container's cgroup (v2: memory.max, cpu.max, cpu.weight, pids.max). A
// container the launcher did not place in a cgroup of its own gets a clear error rather than a silent
// no-op: bulwark does not create cgroups yet.
import ArgumentParser
import Foundation
import Glibc
import HostOS

struct UpdateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Update a container's resource limits.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "JSON file with linux.resources, or - for stdin.")
    var resources: String?

    @Option(help: "Memory limit in bytes.")
    var memory: Int64?

    @Option(name: .customLong("pids-limit"), help: "Maximum number of processes.")
    var pidsLimit: Int64?

    @Option(name: .customLong("cpu-quota"), help: "CPU quota in microseconds per period.")
    var cpuQuota: Int64?

    @Option(name: .customLong("cpu-period"), help: "CPU period in microseconds.")
    var cpuPeriod: UInt64?

    @Option(name: .customLong("cpu-shares"), help: "CPU shares (relative weight).")
    var cpuShares: UInt64?

    @Argument(help: "The container id.")
    var id: String

    /// What is written to the cgroup: file name -> value.
    struct Limits: Equatable {
        var files: [String: String] = [:]
    }

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        var limits = Limits()
        if let resources {
            let data: Data?
            if resources == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else { data = FileManager.default.contents(atPath: resources) }
            guard let data else { throw RuntimeError("open \(resources): no such file or directory") }
            limits = try Self.parse(data)
        }
        if let memory { limits.files["memory.max"] = memory < 0 ? "max" : String(memory) }
        if let pidsLimit { limits.files["pids.max"] = pidsLimit <= 0 ? "max" : String(pidsLimit) }
        if cpuQuota != nil || cpuPeriod != nil {
            limits.files["cpu.max"] = "\(cpuQuota.map { $0 < 0 ? "max" : String($0) } ?? "max") \(cpuPeriod ?? 100_000)"
        }
        if let cpuShares { limits.files["cpu.weight"] = String(Self.weight(shares: cpuShares)) }
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        guard dir.status(of: record) != .stopped else { throw RuntimeError("container not running") }
        guard let cgroup = Self.ownCgroup(of: record.pid) else {
            throw RuntimeError("container \(id) has no cgroup of its own: bulwark does not apply resource limits yet")
        }
        for (file, value) in limits.files.sorted(by: { $0.key < $1.key }) {
            let path = "\(cgroup)/\(file)"
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            let bytes = Array(value.utf8)
            let n = fd < 0 ? -1 : bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let e = errno
            if fd >= 0 { close(fd) }
            if n != bytes.count { throw RuntimeError("write \(value) to \(path): \(String(cString: strerror(e)))") }
        }
        return 0
    }

    /// Checks linux.resources (field types and ranges) and turns memory, cpu and pids into cgroup v2 files.
    static func parse(_ data: Data) throws(RuntimeError) -> Limits {
        let top = JSONField(document: "resources", path: "", value: try JSONValue.parse(data, what: "resources"))
        _ = try top.object()
        var limits = Limits()
        let memory = top["memory"]
        if memory.isPresent {
            _ = try memory.object()
            if let limit = try memory["limit"].optionalInteger(in: -1...Int64.max) {
                limits.files["memory.max"] = limit < 0 ? "max" : String(limit)
            }
            if let swap = try memory["swap"].optionalInteger(in: -1...Int64.max) {
                limits.files["memory.swap.max"] = swap < 0 ? "max" : String(swap)
            }
            _ = try memory["reservation"].optionalInteger(in: -1...Int64.max)
        }
        let cpu = top["cpu"]
        if cpu.isPresent {
            _ = try cpu.object()
            let quota = try cpu["quota"].optionalInteger(in: -1...Int64.max)
            let period = try cpu["period"].optionalInteger(in: 0...Int64(UInt32.max))
            if quota != nil || period != nil {
                limits.files["cpu.max"] = "\(quota.map { $0 < 0 ? "max" : String($0) } ?? "max") \(period ?? 100_000)"
            }
            if let shares = try cpu["shares"].optionalInteger(in: 0...262_144), shares > 0 {
                limits.files["cpu.weight"] = String(weight(shares: UInt64(shares)))
            }
            _ = try cpu["cpus"].optionalString()
            _ = try cpu["mems"].optionalString()
        }
        let pids = top["pids"]
        if pids.isPresent {
            _ = try pids.object()
            if let limit = try pids["limit"].optionalInteger(in: Int64.min...Int64.max) {
                limits.files["pids.max"] = limit <= 0 ? "max" : String(limit)
            }
        }
        return limits
    }

    /// runc's conversion of cgroup v1 shares (2..262144) to a v2 weight (1..10000).
    static func weight(shares: UInt64) -> UInt64 {
        let s = min(max(shares, 2), 262_144)
        return 1 + ((s - 2) * 9999) / 262_142
    }

    /// The cgroup v2 directory of `pid` if it differs from ours (a container cgroup), else nil.
    static func ownCgroup(of pid: Int32) -> String? {
        func path(_ p: String) -> String? {
            guard let text = try? String(contentsOfFile: "/proc/\(p)/cgroup", encoding: .utf8) else { return nil }
            return text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        }
        guard let theirs = path(String(pid)), let ours = path("self"), theirs != ours else { return nil }
        let dir = "/sys/fs/cgroup" + theirs
        return FileSystem.exists(dir) ? dir : nil
    }
}

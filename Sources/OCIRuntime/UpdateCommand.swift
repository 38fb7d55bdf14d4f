// `bulwark update --resources FILE|- ID`: checks an OCI linux.resources object and applies memory, CPU
// and pids limits to the container's cgroup (Cgroups.swift; v2 names, translated for v1). A container
// created without a cgroup of its own (no linux.cgroupsPath, no limits) gets a clear error rather than
// a silent no-op.
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
        if let memory, memory != 0 { limits.files["memory.max"] = memory < 0 ? "max" : String(memory) }
        if let pidsLimit, pidsLimit != 0 { limits.files["pids.max"] = pidsLimit < 0 ? "max" : String(pidsLimit) }
        if cpuQuota != nil || cpuPeriod != nil {
            limits.files["cpu.max"] = "\(cpuQuota.map { $0 < 0 ? "max" : String($0) } ?? "max") \(cpuPeriod ?? 100_000)"
        }
        if let cpuShares { limits.files["cpu.weight"] = String(Self.weight(shares: cpuShares)) }
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        guard dir.status(of: record) != .stopped else { throw RuntimeError("container not running") }
        guard var plan = dir.readCgroupPlan() else {
            throw RuntimeError("container \(id) has no cgroup of its own (config.json had no linux.cgroupsPath and no limits)")
        }
        try plan.write(limits.files)
        plan.limits.merge(limits.files) { $1 }
        try dir.writeJSON(plan, to: dir.cgroupFile)
        return 0
    }

    /// Checks linux.resources (field types and ranges) and keeps the limits that are set, in cgroup v2
    /// names, except "memory.swap" which keeps OCI's meaning (memory + swap). Zero means "not set", as
    /// Docker always sends every field; -1 means unlimited.
    static func parse(_ data: Data) throws(RuntimeError) -> Limits {
        let top = JSONField(document: "resources", path: "", value: try JSONValue.parse(data, what: "resources"))
        _ = try top.object()
        var limits = Limits()
        func amount(_ v: Int64) -> String { v < 0 ? "max" : String(v) }
        let memory = top["memory"]
        if memory.isPresent {
            _ = try memory.object()
            if let limit = try memory["limit"].optionalInteger(in: -1...Int64.max), limit != 0 {
                limits.files["memory.max"] = amount(limit)
            }
            if let swap = try memory["swap"].optionalInteger(in: -1...Int64.max), swap != 0 {
                limits.files["memory.swap"] = amount(swap)
            }
            _ = try memory["reservation"].optionalInteger(in: -1...Int64.max)
        }
        let cpu = top["cpu"]
        if cpu.isPresent {
            _ = try cpu.object()
            let quota = try cpu["quota"].optionalInteger(in: -1...Int64.max) ?? 0
            let period = try cpu["period"].optionalInteger(in: 0...Int64(UInt32.max)) ?? 0
            if quota != 0 || period != 0 {
                limits.files["cpu.max"] = "\(quota == 0 ? "max" : amount(quota)) \(period == 0 ? 100_000 : period)"
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
            if let limit = try pids["limit"].optionalInteger(in: Int64.min...Int64.max), limit != 0 {
                limits.files["pids.max"] = limit < 0 ? "max" : String(limit)
            }
        }
        return limits
    }

    /// runc's conversion of cgroup v1 shares (2..262144) to a v2 weight (1..10000).
    static func weight(shares: UInt64) -> UInt64 {
        let s = min(max(shares, 2), 262_144)
        return 1 + ((s - 2) * 9999) / 262_142
    }
}

// /proc/sys tunables (read from the snapshot's overrides or Linux defaults, written after validation)
// and the small /sys tree (cpu topology, cgroup and mm basics).
import Protocol
import ServiceKit

/// How a tunable is validated on write.
enum TunableKind {
    case readOnly
    case text(maxLength: Int)
    case integer(min: Int64, max: Int64)
}

struct TunableSpec {
    let name: String
    let defaultValue: String
    let kind: TunableKind
}

extension ProcfsView {
    /// Every /proc/sys file served, relative to /proc/sys. Values the Sentry owns come from
    /// snapshot.tunables (hostname from snapshot.hostname); these are the defaults otherwise.
    static let tunableSpecs: [TunableSpec] = [
        TunableSpec(name: "kernel/hostname", defaultValue: "localhost", kind: .text(maxLength: 64)),
        TunableSpec(name: "kernel/domainname", defaultValue: "(none)", kind: .text(maxLength: 64)),
        TunableSpec(name: "kernel/osrelease", defaultValue: "", kind: .readOnly),
        TunableSpec(name: "kernel/ostype", defaultValue: "Linux", kind: .readOnly),
        TunableSpec(name: "kernel/version", defaultValue: "", kind: .readOnly),
        TunableSpec(name: "kernel/pid_max", defaultValue: "4194304", kind: .integer(min: 301, max: 4_194_304)),
        TunableSpec(name: "kernel/ngroups_max", defaultValue: "65536", kind: .readOnly),
        TunableSpec(name: "kernel/cap_last_cap", defaultValue: "40", kind: .readOnly),
        TunableSpec(name: "kernel/shmmax", defaultValue: "18446744073692774399", kind: .integer(min: 0, max: Int64.max)),
        TunableSpec(name: "kernel/shmall", defaultValue: "18446744073692774399", kind: .integer(min: 0, max: Int64.max)),
        TunableSpec(name: "kernel/shmmni", defaultValue: "4096", kind: .integer(min: 1, max: 32768)),
        TunableSpec(name: "kernel/random/boot_id", defaultValue: "", kind: .readOnly),
        TunableSpec(name: "kernel/random/uuid", defaultValue: "", kind: .readOnly),
        TunableSpec(name: "kernel/yama/ptrace_scope", defaultValue: "1", kind: .integer(min: 0, max: 3)),
        TunableSpec(name: "vm/overcommit_memory", defaultValue: "0", kind: .integer(min: 0, max: 2)),
        TunableSpec(name: "vm/max_map_count", defaultValue: "65530", kind: .integer(min: 0, max: Int64(Int32.max))),
        TunableSpec(name: "vm/mmap_min_addr", defaultValue: "65536", kind: .readOnly),
        TunableSpec(name: "fs/file-max", defaultValue: "9223372036854775807", kind: .integer(min: 0, max: Int64.max)),
        TunableSpec(name: "fs/nr_open", defaultValue: "1048576", kind: .integer(min: 64, max: 1_073_741_816)),
        TunableSpec(name: "fs/pipe-max-size", defaultValue: "1048576", kind: .integer(min: 4096, max: 1 << 31)),
        TunableSpec(name: "net/core/somaxconn", defaultValue: "4096", kind: .integer(min: 0, max: Int64(Int32.max))),
        TunableSpec(name: "net/ipv4/ip_forward", defaultValue: "0", kind: .integer(min: 0, max: 1)),
        TunableSpec(name: "net/ipv4/ip_local_port_range", defaultValue: "32768\t60999", kind: .readOnly),
        TunableSpec(name: "net/ipv4/tcp_syncookies", defaultValue: "1", kind: .integer(min: 0, max: 2)),
        TunableSpec(name: "net/ipv6/conf/all/disable_ipv6", defaultValue: "0", kind: .integer(min: 0, max: 1)),
    ]

    func tunableValue(_ spec: TunableSpec) -> String {
        switch spec.name {
        case "kernel/hostname" where !snapshot.hostname.isEmpty: return snapshot.hostname
        case "kernel/domainname" where !snapshot.domainname.isEmpty: return snapshot.domainname
        case "kernel/osrelease": return snapshot.kernelRelease
        case "kernel/version": return snapshot.kernelVersion
        case "kernel/random/boot_id": return snapshot.bootID
        case "kernel/random/uuid": return Self.randomUUID()
        default: break
        }
        return snapshot.tunables.first(where: { $0.name == spec.name })?.value ?? spec.defaultValue
    }

    /// A version 4 UUID, fresh on every read as Linux's random/uuid.
    static func randomUUID() -> String {
        var g = SystemRandomNumberGenerator()
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        let hex = b.map { Fmt.hex($0, 2) }
        return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-" +
            hex[8..<10].joined() + "-" + hex[10..<16].joined()
    }

    /// Lists or reads under /proc/sys: directories are the prefixes of the tunables' names.
    func resolveSysctl(_ parts: [Substring]) throws(ServiceFailure) -> Node {
        let name = parts.joined(separator: "/")
        if let spec = Self.tunableSpecs.first(where: { $0.name == name }) {
            return .file(Array((tunableValue(spec) + "\n").utf8))
        }
        return try directory(of: Self.tunableSpecs.map(\.name), prefix: name, base: "proc/sys")
    }

    /// The directory `prefix` of a tree given by its file paths (ENOENT when nothing lies under it).
    func directory(of files: [String], prefix: String, base: String) throws(ServiceFailure) -> Node {
        let lead = prefix.isEmpty ? "" : prefix + "/"
        var seen: [String] = []
        var out: [Procfs.ProcEntry] = []
        for f in files where f.hasPrefix(lead) {
            let rest = f.dropFirst(lead.count)
            let parts = rest.split(separator: "/", maxSplits: 1)
            guard let head = parts.first else { continue }
            let child = String(head)
            if seen.contains(child) { continue }
            seen.append(child)
            out.append(entry(child, parts.count > 1 ? EntryType.directory : EntryType.regular, base + "/" + lead + child))
        }
        if out.isEmpty {
            if files.contains(where: { prefix.hasPrefix($0 + "/") }) {
                throw ServiceFailure(.ENOTDIR, "\(base)/\(prefix) is not a directory")
            }
            throw notFound(base + "/" + prefix)
        }
        return .directory(out)
    }

    // MARK: /sys

    /// The /sys files served, with their contents.
    func sysFiles() -> [(String, String)] {
        let cpus = max(snapshot.cpuCount, 1)
        let list = Fmt.cpuList(cpus)
        var files: [(String, String)] = [
            ("devices/system/cpu/online", list), ("devices/system/cpu/possible", list),
            ("devices/system/cpu/present", list), ("devices/system/cpu/offline", ""),
            ("devices/system/cpu/kernel_max", "8191"),
            ("fs/cgroup/cgroup.controllers", "cpu memory pids"),
            ("fs/cgroup/cgroup.subtree_control", ""),
            ("fs/cgroup/cgroup.procs", snapshot.tasks.filter { $0.pid == $0.tgid }.map { String($0.pid) }.joined(separator: "\n")),
            ("fs/cgroup/memory.max", "max"), ("fs/cgroup/pids.max", "max"), ("fs/cgroup/cpu.max", "max 100000"),
            ("kernel/mm/transparent_hugepage/enabled", "always [madvise] never"),
            ("kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never"),
        ]
        files += sysNetFiles()   // NetFiles.swift
        for i in 0..<cpus {
            files.append(("devices/system/cpu/cpu\(i)/online", "1"))
            files.append(("devices/system/cpu/cpu\(i)/topology/core_id", String(i)))
            files.append(("devices/system/cpu/cpu\(i)/topology/physical_package_id", "0"))
        }
        return files
    }

    func resolveSys(_ parts: [Substring]) throws(ServiceFailure) -> Node {
        let name = parts.joined(separator: "/")
        let files = sysFiles()
        if let f = files.first(where: { $0.0 == name }) {
            return .file(Array((f.1.isEmpty ? "\n" : f.1 + "\n").utf8))
        }
        // class/net exists even before the interfaces are known (the Sentry sends them only for
        // paths under class/, so that listing /sys never starts the netstack).
        let paths = files.map(\.0) + ["class/net/.", "class/."]   // placeholders, filtered below
        if case .directory(let entries) = try directory(of: paths, prefix: name, base: "sys") {
            return .directory(entries.filter { !$0.name.hasPrefix(".") })
        }
        throw notFound("sys/" + name)
    }
}

// Path resolution for /proc and /sys: which node a path names (directory, file or symlink), given the
// caller and the snapshot. "self" and "thread-self" are links; inside a longer path they are followed
// here so that /proc/self/status costs the Sentry one request.
import LinuxABI
import Protocol
import ServiceKit

/// What a path names.
enum Node {
    case directory([Procfs.ProcEntry])
    case file([UInt8])
    case link(String)
}

enum EntryType {
    static let directory: UInt8 = 4   // DT_DIR
    static let regular: UInt8 = 8     // DT_REG
    static let link: UInt8 = 10       // DT_LNK
}

/// One rendering request: the caller and the state it may see.
struct ProcfsView {
    let snapshot: Procfs.Snapshot
    let callerPID: Int32
    let callerTID: Int32

    init(snapshot: Procfs.Snapshot, callerPID: Int32, callerTID: Int32) {
        self.snapshot = snapshot
        self.callerPID = callerPID
        self.callerTID = callerTID
    }

    /// Splits "proc/1/status" into components; refuses "." and ".." (the Sentry normalises paths).
    static func components(_ path: String) throws(ServiceFailure) -> [Substring] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for p in parts where p == "." || p == ".." || p.utf8.contains(0) {
            throw ServiceFailure(.ENOENT, "path component \"\(p)\" is not resolved by procfs")
        }
        return parts
    }

    /// Resolves a whole path (starting with "proc" or "sys").
    func resolve(_ path: String) throws(ServiceFailure) -> Node {
        let parts = try Self.components(path)
        guard let first = parts.first else {
            return .directory([entry("proc", EntryType.directory, "proc"), entry("sys", EntryType.directory, "sys")])
        }
        let rest = Array(parts.dropFirst())
        switch first {
        case "proc": return try resolveProc(rest)
        case "sys": return try resolveSys(rest)
        default: throw notFound(path)
        }
    }

    func notFound(_ what: String) -> ServiceFailure { ServiceFailure(.ENOENT, "\(what): no such file") }

    /// A directory entry with a stable inode derived from its full path.
    func entry(_ name: String, _ type: UInt8, _ fullPath: String) -> Procfs.ProcEntry {
        Procfs.ProcEntry(name: name, type: type, inode: Self.inode(fullPath))
    }

    /// FNV-1a of the path: stable across reads, so `ls -i` and find's cycle checks behave.
    static func inode(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (h & 0x7fff_ffff) | 0x1000
    }

    // MARK: /proc

    static let topFiles = ["cpuinfo", "meminfo", "stat", "uptime", "loadavg", "version", "cmdline", "filesystems"]

    func resolveProc(_ parts: [Substring]) throws(ServiceFailure) -> Node {
        guard let first = parts.first else { return .directory(procRootEntries()) }
        let rest = Array(parts.dropFirst())
        switch first {
        case "self":
            if rest.isEmpty { return .link(String(callerPID)) }
            return try resolveProc([Substring(String(callerPID))] + rest)
        case "thread-self":
            if rest.isEmpty { return .link("\(callerPID)/task/\(callerTID)") }
            return try resolveProc([Substring(String(callerPID)), "task", Substring(String(callerTID))] + rest)
        case "mounts":
            guard rest.isEmpty else { throw ServiceFailure(.ENOTDIR, "proc/mounts is not a directory") }
            return .link("self/mounts")
        case "sys":
            return try resolveSysctl(rest)
        case "net":
            return try resolveNet(rest)   // NetFiles.swift
        default:
            break
        }
        if let pid = Int32(first), pid > 0 {
            guard let task = snapshot.tasks.first(where: { $0.pid == pid }) else { throw notFound("proc/\(first)") }
            return try resolveTask(task, rest, base: "proc/\(pid)", isThread: false)
        }
        guard rest.isEmpty else {
            throw Self.topFiles.contains(String(first)) ? ServiceFailure(.ENOTDIR, "proc/\(first) is not a directory")
                                                        : notFound("proc/\(first)")
        }
        switch first {
        case "cpuinfo": return .file(cpuinfo())
        case "meminfo": return .file(meminfo())
        case "stat": return .file(stat())
        case "uptime": return .file(uptime())
        case "loadavg": return .file(loadavg())
        case "version": return .file(version())
        case "cmdline": return .file(Array("BOOT_IMAGE=bulwark\n".utf8))
        case "filesystems": return .file(filesystems())
        default: throw notFound("proc/\(first)")
        }
    }

    /// /proc itself: the fixed files and links, then one directory per visible thread group leader.
    func procRootEntries() -> [Procfs.ProcEntry] {
        var out: [Procfs.ProcEntry] = []
        for name in Self.topFiles { out.append(entry(name, EntryType.regular, "proc/" + name)) }
        out.append(entry("mounts", EntryType.link, "proc/mounts"))
        out.append(entry("self", EntryType.link, "proc/self"))
        out.append(entry("thread-self", EntryType.link, "proc/thread-self"))
        out.append(entry("sys", EntryType.directory, "proc/sys"))
        out.append(entry("net", EntryType.directory, "proc/net"))
        for t in snapshot.tasks where t.pid == t.tgid {
            out.append(entry(String(t.pid), EntryType.directory, "proc/\(t.pid)"))
        }
        return out
    }
}

/// The fixed shape of a process directory, for the Sentry: it answers stat and readlink of
/// /proc/<pid>/... without a round trip when a path walk asks for every component.
public enum ProcfsLayout {
    /// DT_DIR, DT_REG or DT_LNK of the entry `name` of /proc/<pid>/ (nil: no such entry).
    public static func taskEntryType(_ name: String) -> UInt8? {
        ProcfsView.taskFiles.first { $0.0 == name }?.1
    }
    /// Whether `name` is an entry of /proc/<pid>/ns/.
    public static func isNamespace(_ name: String) -> Bool {
        ProcfsView.namespaces.contains { $0.0 == name }
    }
    /// The inode the server gives the entry at `path` ("proc/42/status").
    public static func inode(_ path: String) -> UInt64 { ProcfsView.inode(path) }
}

// A container's record under --root/<id>/: state.json (written once by create, atomically, mode 0600),
// exec.fifo while it waits for `start`, sentry.pid and exit.json written by its supervisor.
import Foundation
import Glibc
import HostOS
import LinuxABI

/// What is stored in state.json.
public struct ContainerRecord: Codable, Sendable {
    public var id: String
    /// The supervisor's pid (what --pid-file receives and what `kill` signals).
    public var pid: Int32
    /// The supervisor's start time (field 22 of /proc/<pid>/stat), so a reused pid is not mistaken for it.
    public var pidStartTime: UInt64
    public var bundle: String
    public var rootfs: String
    /// RFC 3339 with nanoseconds, like runc.
    public var created: String
    public var owner: String
    public var annotations: [String: String]
    /// The hooks `start` and `delete` still have to run.
    public var poststart: [StoredHook]
    public var poststop: [StoredHook]
    /// startContainer hooks, run by the supervisor when `start` releases it (absent in older records).
    public var startContainer: [StoredHook]? = nil
}

public struct StoredHook: Codable, Sendable {
    public var path: String
    public var args: [String]
    public var env: [String]?
    public var timeout: Int?

    init(_ hook: OCIConfig.Hook) {
        path = hook.path; args = hook.args; env = hook.env; timeout = hook.timeout
    }
    var hook: OCIConfig.Hook { OCIConfig.Hook(path: path, args: args, env: env, timeout: timeout) }
}

/// How the supervisor ended, written by it to exit.json before it exits.
public struct ExitRecord: Codable, Sendable {
    /// Exit code, or 128 + signal.
    public var exitStatus: Int32
    public var signal: Int32?
}

public enum ContainerStatus: String, Sendable {
    case creating, created, running, paused, stopped
}

public enum ContainerID {
    /// runc's rule: non-empty, [A-Za-z0-9_+.-], not "." or "..", at most 1024 bytes.
    public static func validate(_ id: String) throws(RuntimeError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-".utf8)
        guard !id.isEmpty, id != ".", id != "..", id.utf8.count <= 1024, id.utf8.allSatisfy(allowed.contains) else {
            throw RuntimeError("invalid container ID format")
        }
    }
}

/// The directory of one container under the state root.
public struct ContainerDirectory: Sendable {
    public let root: String
    public let id: String
    public var path: String { "\(root)/\(id)" }
    public var stateFile: String { "\(path)/state.json" }
    public var fifo: String { "\(path)/exec.fifo" }
    public var sentryPidFile: String { "\(path)/sentry.pid" }
    public var exitFile: String { "\(path)/exit.json" }
    public var bindsFile: String { "\(path)/binds.json" }
    public var networkFile: String { "\(path)/network.json" }

    public init(root: String, id: String) {
        self.root = root
        self.id = id
    }

    /// Creates the state root (0700) if needed and this container's directory; "exists" if it does.
    public func create() throws(RuntimeError) {
        if !FileSystem.exists(root) {
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                if !FileSystem.exists(root) { throw RuntimeError("mkdir \(root): \(error.localizedDescription)") }
            }
        }
        do {
            try FileSystem.makeDirectory(path, mode: 0o700)
        } catch {
            // runc 1.1's wording (older runc said "container with id exists: ID").
            if error.errno == .EEXIST { throw RuntimeError("container with given ID already exists") }
            throw RuntimeError("mkdir \(path)", error)
        }
    }

    /// Serialises state changes of this container (start, delete) between bulwark processes; nil when
    /// the directory does not exist (the caller then reports "container does not exist").
    public func lock() -> FileLock? {
        try? FileLock.exclusive(path)
    }

    public func writeRecord(_ record: ContainerRecord) throws(RuntimeError) {
        try writeJSON(record, to: stateFile)
    }

    /// Reads state.json; "container does not exist" (runc's words) when there is none.
    public func readRecord() throws(RuntimeError) -> ContainerRecord {
        guard let data = FileManager.default.contents(atPath: stateFile) else {
            throw RuntimeError("container does not exist")
        }
        do {
            return try JSONDecoder().decode(ContainerRecord.self, from: data)
        } catch {
            throw RuntimeError("\(stateFile): corrupt state: \(error)")
        }
    }

    public func readExit() -> ExitRecord? {
        guard let data = FileManager.default.contents(atPath: exitFile) else { return nil }
        return try? JSONDecoder().decode(ExitRecord.self, from: data)
    }

    public func readSentryPid() -> Int32? {
        guard let data = FileManager.default.contents(atPath: sentryPidFile) else { return nil }
        return Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    public func writeJSON<T: Encodable>(_ value: T, to file: String) throws(RuntimeError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(value) } catch { throw RuntimeError("encode \(file): \(error)") }
        do {
            try FileSystem.writeAtomically(file, Array(data), mode: 0o600)
        } catch {
            throw RuntimeError("write \(file)", error)
        }
    }

    /// The status, derived like runc's: the supervisor gone (or a zombie, or a different process with its
    /// pid) means stopped; alive with exec.fifo still present means created; otherwise running.
    public func status(of record: ContainerRecord) -> ContainerStatus {
        guard ProcessTable.isAlive(pid: record.pid, startTime: record.pidStartTime) else { return .stopped }
        if FileSystem.isFifo(fifo) { return .created }
        return FileSystem.exists(pausedFile) ? .paused : .running
    }

    /// Removes the directory and everything in it.
    public func remove() throws(RuntimeError) {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            if FileSystem.exists(path) { throw RuntimeError("remove \(path): \(error.localizedDescription)") }
        }
    }
}

/// Facts read from /proc about host processes.
public enum ProcessTable {
    /// Fields of /proc/<pid>/stat after the command name: (state, start time).
    static func stat(_ pid: Int32) -> (state: Character, startTime: UInt64, ppid: Int32)? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // The command name may contain spaces and parentheses: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is state (field 3); start time is field 22 -> fields[19]; ppid field 4 -> fields[1].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]),
              let ppid = Int32(fields[1]) else { return nil }
        return (state, start, ppid)
    }

    public static func startTime(of pid: Int32) -> UInt64? { stat(pid)?.startTime }

    /// True when `pid` runs, is not a zombie, and started at `startTime`.
    public static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard pid > 0, let s = stat(pid) else { return false }
        return s.state != "Z" && s.state != "X" && s.startTime == startTime
    }

    /// `pid` and all its descendants (from /proc/<pid>/task/<tid>/children), parents first.
    public static func descendants(of pid: Int32) -> [Int32] {
        var result: [Int32] = []
        var queue = [pid]
        while let next = queue.first {
            queue.removeFirst()
            guard stat(next) != nil, !result.contains(next) else { continue }
            result.append(next)
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
            for tid in tasks {
                guard let data = FileManager.default.contents(atPath: "/proc/\(next)/task/\(tid)/children") else { continue }
                queue += String(decoding: data, as: UTF8.self).split(separator: " ").compactMap { Int32($0) }
            }
        }
        return result
    }

    public static func commandLine(of pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else {
            return (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .newlines) ?? "?"
        }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    public static func parent(of pid: Int32) -> Int32? { stat(pid)?.ppid }
}

/// RFC 3339 with nanoseconds in UTC, like Go's time.RFC3339Nano.
func timestampNow() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var seconds = ts.tv_sec
    var tm = tm()
    gmtime_r(&seconds, &tm)
    let nanos = String(format: "%09ld", ts.tv_nsec)
    return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec) + nanos + "Z"
}

/// Seconds precision, for log lines ("2026-11-29T18:59:07Z").
func timestampSeconds() -> String {
    let full = timestampNow()
    guard let dot = full.firstIndex(of: ".") else { return full }
    return String(full[..<dot]) + "Z"
}

// Writes Linux allows: /proc/<pid>/comm, oom_score_adj and /proc/sys tunables. The server validates
// and normalises; the Sentry stores the returned value (the server keeps no state).
import Protocol
import ServiceKit

extension ProcfsView {
    func write(_ path: String, _ data: [UInt8]) throws(ServiceFailure) -> Procfs.WriteResult {
        let parts = try Self.components(path)
        // Resolve first: a missing file is ENOENT, a directory EISDIR, whatever the data.
        switch try resolve(path) {
        case .directory: throw ServiceFailure(.EISDIR, "\(path) is a directory")
        case .link, .file: break
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        if parts.count >= 3, parts[0] == "proc", parts[1] == "sys" {
            let name = parts.dropFirst(2).joined(separator: "/")
            guard let spec = Self.tunableSpecs.first(where: { $0.name == name }) else { throw notFound(path) }
            switch spec.kind {
            case .readOnly:
                throw ServiceFailure(.EACCES, "\(path) is read-only")
            case .text(let maxLength):
                guard data.count <= maxLength + 1, text.utf8.count <= maxLength else {
                    throw ServiceFailure(.EINVAL, "\(path): at most \(maxLength) bytes")
                }
                return Procfs.WriteResult(key: name, targetPID: 0, value: text)
            case .integer(let lo, let hi):
                let trimmed = text.trimmingSpaces()
                guard let v = Int64(trimmed), v >= lo, v <= hi else {
                    throw ServiceFailure(.EINVAL, "\(path): \"\(trimmed)\" is not an integer in \(lo)...\(hi)")
                }
                return Procfs.WriteResult(key: name, targetPID: 0, value: String(v))
            }
        }
        // /proc/<pid>[/task/<tid>]/<file> (self and thread-self already checked by resolve).
        let task = try targetTask(parts)
        switch parts.last! {
        case "comm":
            // Linux keeps the first 15 bytes (TASK_COMM_LEN - 1) and stops at a NUL.
            var bytes = Array(data.prefix(while: { $0 != 0 }))
            if bytes.last == 10 { bytes.removeLast() }
            if bytes.count > 15 { bytes = Array(bytes.prefix(15)) }
            return Procfs.WriteResult(key: "comm", targetPID: task, value: String(decoding: bytes, as: UTF8.self))
        case "oom_score_adj":
            let trimmed = text.trimmingSpaces()
            guard let v = Int32(trimmed), v >= -1000, v <= 1000 else {
                throw ServiceFailure(.EINVAL, "\(path): \"\(trimmed)\" is not in -1000...1000")
            }
            return Procfs.WriteResult(key: "oom_score_adj", targetPID: task, value: String(v))
        default:
            throw ServiceFailure(.EACCES, "\(path) is read-only")
        }
    }

    /// The task a per-process path names (the thread for task/<tid>/...).
    func targetTask(_ parts: [Substring]) throws(ServiceFailure) -> Int32 {
        guard parts.count >= 3, parts[0] == "proc" else { throw ServiceFailure(.EACCES, "read-only") }
        var id: Int32
        switch parts[1] {
        case "self": id = callerPID
        case "thread-self": return callerTID
        default:
            guard let n = Int32(parts[1]) else { throw ServiceFailure(.EACCES, "read-only") }
            id = n
        }
        if parts.count >= 5, parts[2] == "task", let tid = Int32(parts[3]) { id = tid }
        return id
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}

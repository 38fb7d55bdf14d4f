// The handler table of bulwark-procfs: decode a request, render through ProcfsView, encode the reply.
// A request that does not decode is an ErrorReply (EINVAL), never a crash.
import HostOS
import IPC
import LinuxABI
import Protocol
import ServiceKit
import Wire

public enum ProcfsService {
    /// The service's host syscalls beyond ServiceKit's base policy: none. Rendering needs no host
    /// file or syscall (getrandom for random/uuid is already in the base policy).
    public static let policyRules: [SeccompRule] = []

    public static func handlers() -> HandlerTable {
        var table = HandlerTable()
        table.register(Procfs.ReadFile.messageID) { (request: inout Message, reply: inout Reply) throws(ServiceFailure) in
            let r = try decode(Procfs.ReadFile.self, request)
            let view = ProcfsView(snapshot: r.snapshot, callerPID: r.callerPID, callerTID: r.callerTID)
            switch try view.resolve(r.path) {
            case .file(let bytes): reply.encode(Procfs.FileContent(content: bytes, isLink: false))
            case .link(let target): reply.encode(Procfs.FileContent(content: Array(target.utf8), isLink: true))
            case .directory: throw ServiceFailure(.EISDIR, "\(r.path) is a directory")
            }
        }
        table.register(Procfs.ListDirectory.messageID) { (request: inout Message, reply: inout Reply) throws(ServiceFailure) in
            let r = try decode(Procfs.ListDirectory.self, request)
            let view = ProcfsView(snapshot: r.snapshot, callerPID: r.callerPID, callerTID: r.callerTID)
            var node = try view.resolve(r.path)
            // getdents on /proc/self lists the process directory: follow a final link once.
            if case .link(let target) = node, !target.hasPrefix("/") {
                let parent = r.path.split(separator: "/").dropLast().joined(separator: "/")
                node = try view.resolve(parent + "/" + target)
            }
            switch node {
            case .directory(let entries): reply.encode(Procfs.DirectoryListing(entries: entries))
            case .file, .link: throw ServiceFailure(.ENOTDIR, "\(r.path) is not a directory")
            }
        }
        table.register(Procfs.WriteFile.messageID) { (request: inout Message, reply: inout Reply) throws(ServiceFailure) in
            let r = try decode(Procfs.WriteFile.self, request)
            let view = ProcfsView(snapshot: r.snapshot, callerPID: r.callerPID, callerTID: r.callerTID)
            reply.encode(try view.write(r.path, r.data))
        }
        return table
    }

    static func decode<M: WireMessage>(_ type: M.Type, _ request: borrowing Message) throws(ServiceFailure) -> M {
        do throws(WireError) {
            return try M.decode(try MessageView(body: request.body, fdCount: request.fds.count))
        } catch {
            throw ServiceFailure(.EINVAL, "malformed \(M.name): \(error)")
        }
    }
}

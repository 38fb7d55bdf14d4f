// ProcfsClient: the Sentry's typed view of bulwark-procfs. One call per read, write or listing, each
// bounded by a short timeout; a dead or stalled server surfaces as IPCError (the Sentry answers EIO
// and asks the launcher to restart the service).
import HostOS
import IPC
import LinuxABI
import Protocol
import Wire

/// What a read returned: the file's bytes or a symlink's target.
public enum ProcfsReadResult: Equatable {
    case content([UInt8])
    case link(String)
}

/// Why a procfs request failed.
public enum ProcfsClientError: Error, Equatable {
    /// The server answered with this errno (ENOENT, EACCES, EINVAL, EISDIR, ENOTDIR ...).
    case errno(Errno, String)
    /// The transport failed (server died, timed out, broke the protocol): answer EIO.
    case transport(String)

    /// The errno the Sentry returns to the guest.
    public var guestErrno: Errno {
        switch self {
        case .errno(let e, _): return e
        case .transport: return .EIO
        }
    }
}

public final class ProcfsClient {
    public let channel: Channel
    /// Bounds each request; the Sentry lengthens it for the first request to a server just started.
    public var timeout: Duration
    private var writer = MessageWriter()

    /// Takes a connected channel to bulwark-procfs. `timeout` bounds every request (default 2 s).
    public init(channel: Channel, timeout: Duration = .seconds(2)) {
        self.channel = channel
        self.timeout = timeout
    }

    /// Renders `path` ("proc/self/status", "sys/devices/system/cpu/online") for the caller.
    public func read(_ path: String, pid: Int32, tid: Int32, snapshot: Procfs.Snapshot) throws(ProcfsClientError) -> ProcfsReadResult {
        let reply = try call(Procfs.ReadFile(path: path, callerPID: pid, callerTID: tid, snapshot: snapshot))
        return reply.isLink ? .link(String(decoding: reply.content, as: UTF8.self)) : .content(reply.content)
    }

    /// Lists the directory `path` ("proc", "proc/1/task").
    public func list(_ path: String, pid: Int32, tid: Int32, snapshot: Procfs.Snapshot) throws(ProcfsClientError) -> [Procfs.ProcEntry] {
        try call(Procfs.ListDirectory(path: path, callerPID: pid, callerTID: tid, snapshot: snapshot)).entries
    }

    /// Validates a write; the Sentry stores the returned value under its key.
    public func write(_ path: String, data: [UInt8], pid: Int32, tid: Int32, snapshot: Procfs.Snapshot) throws(ProcfsClientError) -> Procfs.WriteResult {
        try call(Procfs.WriteFile(path: path, callerPID: pid, callerTID: tid, data: data, snapshot: snapshot))
    }

    private func call<R: WireRequest>(_ request: R) throws(ProcfsClientError) -> R.Reply {
        var fds = ReceivedFDs()
        do throws(IPCError) {
            writer.reset()
            return try channel.call(request, writer: &writer, receivedFDs: &fds, timeout: timeout)
        } catch {
            if case .remote(let errno, let message) = error { throw .errno(errno, message) }
            throw .transport("\(error)")
        }
    }
}

// The launcher's end of the Control channel. The supervisor binds <state dir>/control.sock and hands
// the listening socket to the Sentry (`--control-fd`); `exec`, `ps`, `pause`, `resume`, `events` and
// `debug` connect to it, each on its own connection.
import Foundation
import Glibc
import HostOS
import IPC
import LinuxABI
import Protocol
import Wire

final class ControlClient {
    let channel: Channel
    private var writer = MessageWriter(capacity: 4096)

    private init(_ channel: Channel) { self.channel = channel }

    /// Connects to a running container's Sentry and says Hello.
    static func connect(_ dir: ContainerDirectory, timeout: Duration = .seconds(10)) throws(RuntimeError) -> ControlClient {
        let socket: OwnedFD
        do {
            socket = OwnedFD(adopting: try ControlSocketPath.with(dir) { (path: String) throws(HostError) -> Int32 in
                try UnixSocket.connect(path: path).release()
            })
        } catch {
            if error.errno == .ENOENT || error.errno == .ECONNREFUSED {
                throw RuntimeError("container \(dir.id): its sandbox has no control channel (not running?)")
            }
            throw RuntimeError("connect \(dir.controlSocket)", error)
        }
        let client = ControlClient(Channel(socket))
        let hello = try client.call(Control.Hello(version: 1, launcherPID: getpid()), timeout: timeout)
        guard hello.version == 1 else { throw RuntimeError("the Sentry speaks control protocol \(hello.version), not 1") }
        return client
    }

    /// One request and its reply. Descriptors in `fds` stay ours (the kernel copies them).
    func call<R: WireRequest>(_ request: R, fds: [Int32] = [], timeout: Duration = .seconds(10)) throws(RuntimeError) -> R.Reply {
        var received = ReceivedFDs()
        let result: Result<R.Reply, IPCError> = fds.withUnsafeBufferPointer { buffer in
            do throws(IPCError) {
                return .success(try channel.call(request, writer: &writer, fds: buffer, receivedFDs: &received, timeout: timeout))
            } catch {
                return .failure(error)
            }
        }
        received.closeAll()
        switch result {
        case .success(let reply): return reply
        case .failure(.remote(_, let message)): throw RuntimeError(message)
        case .failure(let error): throw RuntimeError("control channel: \(R.name): \(error)")
        }
    }

    /// Sends Wait without waiting for the reply (see `receiveExit`), so the caller can forward
    /// signals meanwhile.
    func sendWait(id: String, pid: Int32) throws(RuntimeError) {
        writer.reset()
        Control.Wait(containerID: id, pid: pid).encode(into: &writer)
        let body = Array(writer.body)
        let result: Result<Void, IPCError> = body.withUnsafeBytes { raw in
            do throws(IPCError) {
                try channel.send(messageID: Control.Wait.messageID, flags: [], requestID: 0x5741_4954, body: raw, timeout: .seconds(10))
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = result { throw RuntimeError("control channel: Wait: \(error)") }
    }

    /// The wait status once the reply to `sendWait` is there; nil if not within `milliseconds`. If the
    /// sandbox goes away first, the status is "killed by SIGKILL".
    func receiveExit(milliseconds: Int32) throws(RuntimeError) -> Int32? {
        guard (try? Poll.waitReadable(channel.descriptor, milliseconds: milliseconds)) == true else { return nil }
        do {
            let message = try channel.receive(timeout: .seconds(5))
            if message.header.flags.contains(.error) {
                let error = try? ErrorReply.decode(try MessageView(body: message.body, fdCount: message.fds.count))
                throw RuntimeError(error?.message ?? "Wait failed")
            }
            let status = try Control.ExitStatus.decode(try MessageView(body: message.body, fdCount: message.fds.count))
            return status.status
        } catch let error as RuntimeError {
            throw error
        } catch {
            // The Sentry ended (its init exited, or it was killed): like every process of a pid
            // namespace whose init is gone, this one was killed.
            return SIGKILL
        }
    }
}

/// The control socket's path, made short enough for sockaddr_un (108 bytes) when the state directory
/// is deep (Docker's ids are 64 characters): then it is reached through /proc/self/fd/N/.
enum ControlSocketPath {
    static func with<T>(_ dir: ContainerDirectory, _ body: (String) throws(HostError) -> T) throws(HostError) -> T {
        let full = dir.controlSocket
        if full.utf8.count < 100 { return try body(full) }
        let dirFD = try FileSystem.open(dir.path, flags: 0o10000000 /* O_PATH */ | O_DIRECTORY | O_CLOEXEC)
        return try body("/proc/self/fd/\(dirFD.rawValue)/control.sock")   // dirFD closes after body
    }
}

extension ContainerDirectory {
    public var controlSocket: String { "\(path)/control.sock" }
    /// Present while the container is paused.
    public var pausedFile: String { "\(path)/paused" }
}

/// Wait status (as from wait4) to a shell-style exit status: the code, or 128 + the signal.
func shellStatus(waitStatus st: Int32) -> Int32 {
    st & 0x7f == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
}

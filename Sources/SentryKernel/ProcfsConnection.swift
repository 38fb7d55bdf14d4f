// The Sentry's connection to bulwark-procfs. Either the launcher handed us a connected channel
// (--procfs-fd N), or the Sentry spawns the server itself (the executable next to its own) over a
// socketpair. Every call is bounded by a short timeout; a dead or stalled server makes the call fail
// (the guest sees EIO) and, when we spawned it, is killed and respawned on the next access.
import CBulwark
import Glibc
import HostOS
import IPC
import ProcfsServer
import Protocol

final class ProcfsConnection {
    /// Serialises calls on the one channel. Never held while taking the kernel lock.
    private var mutex = pthread_mutex_t()
    private var client: ProcfsClient?
    /// Our own server's pid (0: none running, or the launcher's channel).
    private var serverPID: pid_t = 0
    /// True when the channel came from the launcher: we cannot respawn it.
    private let external: Bool
    private let executable: String?
    let timeout: Duration
    /// The first request on a new channel also waits for the server's start-up (exec, dynamic linking,
    /// seccomp), which on a loaded host takes longer than `timeout`: that request gets this much (the
    /// CI's 2 loaded cores saw a first /proc read fail with EIO after 1.5 s). Later requests get `timeout`.
    static let startupTimeout: Duration = .seconds(10)
    /// Servers started so far (the first one included); tests and logs read it.
    private(set) var spawnCount = 0
    private let log: (String) -> Void

    init(channelFD: Int32?, timeout: Duration, log: @escaping (String) -> Void) {
        pthread_mutex_init(&mutex, nil)
        self.timeout = timeout
        self.log = log
        if let fd = channelFD {
            external = true
            executable = nil
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            client = newClient(fd)
        } else {
            external = false
            executable = HostSelf.siblingExecutable("bulwark-procfs")
        }
    }

    /// A client for a channel to a server that may still be starting: its first request is bounded by
    /// `startupTimeout` (`perform` shortens it to `timeout` once the server has answered).
    private func newClient(_ fd: Int32) -> ProcfsClient {
        ProcfsClient(channel: Channel(OwnedFD(adopting: fd)), timeout: max(timeout, ProcfsConnection.startupTimeout))
    }

    /// Starts our own server if none is running. Mutex held.
    private func ensureClient() -> ProcfsClient? {
        if let c = client { return c }
        guard !external, let exe = executable else { return nil }
        do throws(HostError) {
            let pair = try HostOS.UnixSocket.pair().releaseBoth()
            var opts = SpawnOptions(path: exe, arguments: [exe, "--channel-fd", String(pair.second)] + ServiceFaultSpecs.arguments(for: .procfs))
            opts.inheritedDescriptors = [pair.second]
            opts.stdin = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
            let pid: pid_t
            // BULWARK_UNPIN_HELPERS=1: not pinned to the calling task thread's CPU (NetstackConnection.start).
            let unpin = NetstackConnection.unpinHelpers && bw_spawn_affinity_begin() == 0
            defer { if unpin { bw_spawn_affinity_end() } }
            do throws(HostError) {
                pid = try ProcessSpawn.spawn(opts)
            } catch {
                if let fd = opts.stdin { _ = Glibc.close(fd) }
                _ = Glibc.close(pair.first); _ = Glibc.close(pair.second)
                throw error
            }
            if let fd = opts.stdin { _ = Glibc.close(fd) }
            _ = Glibc.close(pair.second)
            serverPID = pid
            spawnCount += 1
            let c = newClient(pair.first)
            client = c
            return c
        } catch {
            log("bulwark-sentry: cannot start \(exe): \(error)\n")
            return nil
        }
    }

    /// Drops a failed server: kills and reaps our own; a launcher channel is kept unless it closed
    /// (a late reply to a timed-out call is discarded by the channel itself).
    private func dropAfterFailure(_ why: String) {
        guard let c = client else { return }
        if external {
            if c.channel.isClosed { client = nil }
            log("bulwark-sentry: procfs channel failed: \(why)\n")
            return
        }
        c.channel.close()
        client = nil
        if serverPID > 0 {
            _ = kill(serverPID, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(serverPID, &status, 0)
            serverPID = 0
        }
        log("bulwark-sentry: procfs server failed (\(why)); it is restarted on the next access\n")
    }

    /// Runs one request. The kernel lock is held on entry and on return, and released meanwhile, so
    /// a stalled server never stops the rest of the sandbox.
    func perform<R>(_ kernel: Kernel, _ body: (ProcfsClient) throws(ProcfsClientError) -> R) -> KResult<R> {
        kernel.unlock()
        pthread_mutex_lock(&mutex)
        var result: KResult<R> = .failure(EIO)
        if let c = ensureClient() {
            do throws(ProcfsClientError) {
                result = .success(try body(c))
                c.timeout = timeout   // the server is up: from now on, the short bound
            } catch {
                if case .errno = error { c.timeout = timeout }
                if case .transport(let why) = error { dropAfterFailure(why) }
                result = .failure(error.guestErrno.rawValue)
            }
        }
        pthread_mutex_unlock(&mutex)
        kernel.lock()
        return result
    }

    /// The running server's pid (for tests through the log; 0 if none).
    var currentServerPID: pid_t {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return serverPID
    }

    /// Channels handed over by the launcher after it restarted its procfs server (ReplaceProcfs).
    private var replacements: UInt32 = 0

    /// A new channel from the launcher (it restarted the server it started, which died): replaces the
    /// old one; the next access uses it. Returns how many replacements there were so far.
    func replaceChannel(_ fd: Int32) -> UInt32 {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        pthread_mutex_lock(&mutex)
        client?.channel.close()
        client = newClient(fd)
        replacements += 1
        let n = replacements
        pthread_mutex_unlock(&mutex)
        log("bulwark-sentry: procfs channel replaced by the launcher (replacement \(n))\n")
        return n
    }

    /// Starts the server now (at Sentry start-up, from the main thread, so it inherits no CPU pinning).
    func start() {
        pthread_mutex_lock(&mutex)
        _ = ensureClient()
        pthread_mutex_unlock(&mutex)
    }
}

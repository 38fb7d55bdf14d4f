// Spawning child processes (fork + exec) through the C child code in CBulwark/spawn.c, and waiting for
// them. The Swift side only builds the C argument arrays; nothing Swift runs in the child.
import CBulwark
import Glibc
import LinuxABI

/// How to start a child process.
public struct SpawnOptions: Sendable {
    /// Absolute path of the program (no PATH search).
    public var path: String
    /// argv, including argv[0].
    public var arguments: [String]
    /// The environment; nil inherits the caller's.
    public var environment: [String]?
    public var workingDirectory: String?
    /// Descriptors that become the child's 0, 1 and 2 (nil: inherited as they are).
    public var stdin: Int32?
    public var stdout: Int32?
    public var stderr: Int32?
    /// CLOEXEC descriptors the child must inherit (same numbers).
    public var inheritedDescriptors: [Int32] = []
    /// Default signal dispositions and an empty mask in the child (when the caller blocks signals).
    public var resetSignals = true
    /// Signal the child gets when the spawning thread dies (PR_SET_PDEATHSIG), if any.
    public var parentDeathSignal: Int32?
    /// Start a new session (setsid).
    public var newSession = false
    /// Descriptors from this number up (other than `inheritedDescriptors`) are not inherited, even
    /// without CLOEXEC; nil inherits whatever the caller left open. Default: only 0, 1 and 2.
    public var closeDescriptorsFrom: Int32? = 3
    /// Open /proc/PID/ns/* descriptors the child joins (setns, in order) before anything else
    /// (bw_spawn_joining); empty: the caller's namespaces.
    public var joinNamespaces: [Int32] = []

    public init(path: String, arguments: [String]) {
        self.path = path
        self.arguments = arguments
    }
}

/// How a child process ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a waitpid(2) status word.
    public init(waitStatus: Int32) {
        if bw_wifsignaled(waitStatus) != 0 {
            self = .signaled(bw_wtermsig(waitStatus))
        } else {
            self = .exited(bw_wexitstatus(waitStatus))
        }
    }

    /// The shell convention: the exit code, or 128 + the signal number.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let sig): return 128 + sig
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .signaled(let sig): return "killed by signal \(sig)"
        }
    }
}

public enum ProcessSpawn {
    /// Forks and execs `options`; returns the child's pid once execve succeeded. A failure of any step in
    /// the child (dup2, chdir, execve...) is thrown as a HostError naming "spawn <path>".
    public static func spawn(_ options: SpawnOptions) throws(HostError) -> pid_t {
        var pid: pid_t = 0
        let result: Int32 = withCStringArray(options.arguments) { argv in
            withOptionalCStringArray(options.environment) { envp in
                options.inheritedDescriptors.withUnsafeBufferPointer { keep in
                    options.path.withCString { path in
                        withOptionalCString(options.workingDirectory) { cwd in
                            // SAFETY: every pointer in `attr` refers to storage that outlives bw_spawn,
                            // which only reads them (the child reads its copy-on-write image of them).
                            var attr = bw_spawn_attr(
                                path: path, argv: argv, envp: envp, cwd: cwd,
                                stdin_fd: options.stdin ?? -1, stdout_fd: options.stdout ?? -1,
                                stderr_fd: options.stderr ?? -1,
                                keep_fds: keep.baseAddress, keep_count: Int32(keep.count),
                                reset_signals: options.resetSignals ? 1 : 0,
                                parent_death_signal: options.parentDeathSignal ?? 0,
                                new_session: options.newSession ? 1 : 0,
                                cloexec_from: options.closeDescriptorsFrom ?? -1)
                            if options.joinNamespaces.isEmpty { return bw_spawn(&attr, &pid) }
                            return options.joinNamespaces.withUnsafeBufferPointer { fds in
                                bw_spawn_joining(&attr, fds.baseAddress, Int32(fds.count), &pid)
                            }
                        }
                    }
                }
            }
        }
        if result != 0 {
            throw HostError(call: "spawn \(options.path)", errno: Errno(rawValue: result))
        }
        return pid
    }

    /// waitpid(2) blocking until `pid` ends.
    public static func wait(_ pid: pid_t) throws(HostError) -> ExitStatus {
        var status: Int32 = 0
        _ = try hostCall("waitpid", retryOnInterrupt: true) { waitpid(pid, &status, 0) }
        return ExitStatus(waitStatus: status)
    }

    /// waitpid(2) with WNOHANG: nil while `pid` is still running.
    public static func poll(_ pid: pid_t) throws(HostError) -> ExitStatus? {
        var status: Int32 = 0
        let got = try hostCall("waitpid", retryOnInterrupt: true) { waitpid(pid, &status, WNOHANG) }
        return got == 0 ? nil : ExitStatus(waitStatus: status)
    }

    /// kill(2).
    public static func signal(_ pid: pid_t, _ signal: Int32) throws(HostError) {
        _ = try hostCall("kill") { kill(pid, signal) }
    }
}

// SAFETY: the arrays of C strings are built from strdup'd copies freed after `body` returns; `body` must
// not keep the pointers.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStringArray<R>(_ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R) -> R {
    guard let strings else { return body(nil) }
    return withCStringArray(strings) { body($0) }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

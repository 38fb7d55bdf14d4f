// Spawning a service straight into new namespaces: clone(2) with CLONE_NEW* flags, then (in spawn.c, C
// between fork and exec) a private mount tree, the channel descriptor kept, everything else closed,
// execve. This replaces the `bulwark service-sandbox` hop (one more exec of this Foundation-linked
// binary per service, then a fork, then its exit) on the start-up path.
import CBulwark
import Glibc
import HostOS
import LinuxABI

enum ServiceSpawn {
    /// Starts `arguments[0]` with `arguments` in `namespaces` (empty: a plain fork + exec), inheriting
    /// `keep` (and 0, 1, 2); returns its pid once execve succeeded.
    static func spawn(arguments: [String], keep: [Int32], environment: [String]?,
                      namespaces: Namespaces.Kinds) throws(HostError) -> pid_t {
        var pid: pid_t = 0
        // SAFETY: the C strings are strdup'd copies freed after bw_spawn_in_namespaces returns; every
        // pointer in `attr` outlives the call, which only reads them (the child reads its copy).
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        let result: Int32 = argv.withUnsafeBufferPointer { argvBuffer in
            keep.withUnsafeBufferPointer { keepBuffer in
                func call(_ env: UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
                    var attr = bw_spawn_attr(
                        path: argvBuffer[0], argv: argvBuffer.baseAddress, envp: env, cwd: nil,
                        stdin_fd: -1, stdout_fd: -1, stderr_fd: -1,
                        keep_fds: keepBuffer.baseAddress, keep_count: Int32(keepBuffer.count),
                        reset_signals: 1, parent_death_signal: 0, new_session: 0, cloexec_from: 3)
                    return bw_spawn_in_namespaces(&attr, namespaces.rawValue, &pid)
                }
                if let envp { return envp.withUnsafeBufferPointer { call($0.baseAddress) } }
                return call(nil)
            }
        }
        if result != 0 {
            throw HostError(call: "spawn \(arguments.first ?? "")", errno: Errno(rawValue: result))
        }
        return pid
    }
}

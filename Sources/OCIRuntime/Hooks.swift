// OCI hooks: each runs as a host process with the container's state JSON on stdin, in order; a timeout
// kills it. prestart, createRuntime and createContainer failures fail `create`, startContainer failures
// fail `start`; poststart and poststop failures are warnings.
// Where they run (runc's working directories; see docs/ARCHITECTURE.md "Launcher: service user
// namespaces, container hooks"): prestart, createRuntime, poststart and poststop in the caller's
// namespaces with the bundle as cwd; createContainer in the container's mount and network namespaces
// (the supervisor's: its bind mounts, the container's network) with the rootfs as cwd, run by `create`;
// startContainer by the supervisor itself (same namespaces, rootfs as cwd) just before the Sentry starts.
// The container's own mount namespace is the Sentry's VFS, which no host program can enter, so unlike
// runc's these two see the host's file system (with the container's binds), not the container's root.
import Foundation
import Glibc
import HostOS

enum HookRunner {
    /// The state document hooks receive (runtime-spec "state").
    static func stateJSON(id: String, status: ContainerStatus, pid: Int32, bundle: String,
                          annotations: [String: String]) -> String {
        let ann = annotations.keys.sorted().map { JSONText.quote($0) + ":" + JSONText.quote(annotations[$0]!) }
        return "{\"ociVersion\":\"\(ociVersion)\",\"id\":\(JSONText.quote(id)),\"status\":\"\(status.rawValue)\","
            + "\"pid\":\(pid),\"bundle\":\(JSONText.quote(bundle)),\"annotations\":{\(ann.joined(separator: ","))}}"
    }

    /// Runs `hooks` in order, in `workingDirectory` after joining the namespaces `joining` (open
    /// /proc/PID/ns/* descriptors); the first failure is thrown, naming the kind and index.
    static func run(_ hooks: [OCIConfig.Hook], kind: String, state: String, workingDirectory: String? = nil,
                    joining: [Int32] = []) throws(RuntimeError) {
        for (index, hook) in hooks.enumerated() {
            do {
                try runOne(hook, state: state, workingDirectory: workingDirectory, joining: joining)
            } catch {
                throw RuntimeError("error running \(kind) hook #\(index) (\(hook.path)): \(error.message)")
            }
        }
    }

    private static func runOne(_ hook: OCIConfig.Hook, state: String, workingDirectory: String?,
                               joining: [Int32]) throws(RuntimeError) {
        let input: PipeEnds
        do { input = try PipeEnds.make() } catch { throw RuntimeError("pipe", error) }
        let output: PipeEnds
        do { output = try PipeEnds.make() } catch { throw RuntimeError("pipe", error) }
        let inRead = input.read, inWrite = input.write
        let outRead = output.read, outWrite = output.write
        var options = SpawnOptions(path: hook.path, arguments: hook.args.isEmpty ? [hook.path] : hook.args)
        options.environment = hook.env ?? []
        options.stdin = inRead.rawValue
        options.stdout = outWrite.rawValue
        options.stderr = outWrite.rawValue
        options.workingDirectory = workingDirectory
        options.joinNamespaces = joining
        let pid: pid_t
        do {
            pid = try ProcessSpawn.spawn(options)
        } catch {
            throw RuntimeError("fork/exec \(hook.path)", error)
        }
        inRead.close()
        outWrite.close()
        // The state document is far smaller than a pipe's buffer, so this write cannot block; the hook
        // may exit without reading it (EPIPE; SIGPIPE is ignored by the launcher), which is not an error.
        let bytes = Array(state.utf8)
        let inFD = inWrite.rawValue
        _ = bytes.withUnsafeBytes { buffer in try? FileIO.writeAll(inFD, buffer) }
        inWrite.close()

        let deadline = hook.timeout.map { Date().addingTimeInterval(Double($0)) }
        var collected: [UInt8] = []
        var outputOpen = true
        var scratch = [UInt8](repeating: 0, count: 4096)
        let outFD = outRead.rawValue
        var status: ExitStatus?
        while status == nil {
            if let deadline, Date() > deadline {
                try? ProcessSpawn.signal(pid, SIGKILL)
                _ = try? ProcessSpawn.wait(pid)
                throw RuntimeError("hook ran past specified timeout of \(hook.timeout!) seconds")
            }
            if outputOpen, (try? Poll.waitReadable(outFD, milliseconds: 20)) == true {
                let n = scratch.withUnsafeMutableBytes { (try? FileIO.read(outFD, into: $0)) ?? 0 }
                if n == 0 { outputOpen = false } else if collected.count < 65536 { collected += scratch[0..<n] }
            } else if !outputOpen {
                usleep(5000)
            }
            do { status = try ProcessSpawn.poll(pid) } catch { throw RuntimeError("waitpid", error) }
        }
        // What the hook wrote just before exiting (bounded: only what is already there).
        while outputOpen, (try? Poll.waitReadable(outFD, milliseconds: 0)) == true, collected.count < 65536 {
            let n = scratch.withUnsafeMutableBytes { (try? FileIO.read(outFD, into: $0)) ?? 0 }
            if n == 0 { break }
            collected += scratch[0..<n]
        }
        outRead.close()
        guard status == .exited(0) else {
            let text = String(decoding: collected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RuntimeError("\(status!)" + (text.isEmpty ? "" : ", output: \(text)"))
        }
    }
}

/// createContainer and startContainer: the hooks that runc runs inside the container.
enum ContainerHooks {
    /// createContainer, run by `create` after prestart and createRuntime, once the supervisor has made
    /// the container's mount namespace (bind mounts under the rootfs) and network namespace: the hook
    /// joins those two namespaces of `supervisor` (only those that differ from ours) and starts in the
    /// rootfs.
    static func runCreateContainer(_ hooks: [OCIConfig.Hook], supervisor: pid_t, rootfs: String,
                                   state: String) throws(RuntimeError) {
        guard !hooks.isEmpty else { return }
        var joined: [Int32] = []   // ours to close
        defer { for fd in joined { _ = Glibc.close(fd) } }
        for name in ["mnt", "net"] where !sameNamespace(name, supervisor) {
            do { joined.append(try Namespaces.open(pid: supervisor, name: name).release()) } catch {
                throw RuntimeError("createContainer hooks: the container's \(name) namespace", error)
            }
        }
        try HookRunner.run(hooks, kind: "createContainer", state: state, workingDirectory: rootfs, joining: joined)
    }

    /// startContainer, run by the supervisor (already in the container's mount and network namespaces)
    /// when `start` released it, before the Sentry starts the application: status `created`, the
    /// rootfs as cwd. A failure fails `start` (runc's behaviour: the container then stops).
    static func runStartContainer(_ record: ContainerRecord) throws(RuntimeError) {
        guard let hooks = record.startContainer, !hooks.isEmpty else { return }
        let state = HookRunner.stateJSON(id: record.id, status: .created, pid: getpid(), bundle: record.bundle,
                                         annotations: record.annotations)
        try HookRunner.run(hooks.map(\.hook), kind: "startContainer", state: state, workingDirectory: record.rootfs)
    }

    /// Whether `pid`'s namespace `name` is ours (setns into it would change nothing, and needs privileges).
    private static func sameNamespace(_ name: String, _ pid: pid_t) -> Bool {
        var ours = stat(), theirs = stat()
        guard stat("/proc/self/ns/\(name)", &ours) == 0, stat("/proc/\(pid)/ns/\(name)", &theirs) == 0 else { return false }
        return ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev
    }
}

// Pods (CRI): a container whose config.json carries io.kubernetes.cri.container-type = container and
// io.kubernetes.cri.sandbox-id = <pause container id> joins the sandbox of that pause container
// instead of starting a Sentry of its own. `create` checks that the sandbox runs, writes pod.json and
// points the member's control.sock at the sandbox's (so exec, ps, kill --all, events and debug reach
// the pod's Sentry with the member's id), and spawns `bulwark pod-member` in place of the supervisor:
// its pid is the container's (--pid-file). At `start` it sends StartContainer (PodMemberCommand.swift).
//
// Partial: the member runs over the sandbox's root file system (not its own image's), in the pod's
// pid, UTS and IPC namespaces; see docs/ARCHITECTURE.md "Launcher: terminals, syscall counts, pods".
import Foundation
import Glibc
import HostOS
import Protocol

struct PodMembership: Codable {
    static let typeKey = "io.kubernetes.cri.container-type"
    static let sandboxKey = "io.kubernetes.cri.sandbox-id"

    var sandboxID: String

    /// nil for a container that has a sandbox of its own (no annotations, or the pause container).
    static func plan(config: OCIConfig, id: String, globals: GlobalOptions) throws(RuntimeError) -> PodMembership? {
        guard config.annotations[typeKey] == "container", let sandbox = config.annotations[sandboxKey],
              !sandbox.isEmpty, sandbox != id else { return nil }
        do { try ContainerID.validate(sandbox) } catch {
            throw RuntimeError("config.json: annotations.\(sandboxKey): invalid container ID format")
        }
        let sandboxDir = ContainerDirectory(root: globals.root, id: sandbox)
        guard let record = try? sandboxDir.readRecord() else {
            throw RuntimeError("pod sandbox \(sandbox) (\(sandboxKey)) does not exist")
        }
        switch sandboxDir.status(of: record) {
        case .running, .paused: break
        default: throw RuntimeError("pod sandbox \(sandbox) is not running")
        }
        return PodMembership(sandboxID: sandbox)
    }

    static func file(_ dir: ContainerDirectory) -> String { "\(dir.path)/pod.json" }

    static func read(_ dir: ContainerDirectory) -> PodMembership? {
        guard let data = FileManager.default.contents(atPath: file(dir)) else { return nil }
        return try? JSONDecoder().decode(PodMembership.self, from: data)
    }

    /// pod.json and control.sock -> the sandbox's control socket (connect follows the link).
    func prepare(_ dir: ContainerDirectory, globals: GlobalOptions) throws(RuntimeError) {
        try dir.writeJSON(self, to: Self.file(dir))
        let target = ContainerDirectory(root: globals.root, id: sandboxID).controlSocket
        guard symlink(target, dir.controlSocket) == 0 else {
            throw RuntimeError("symlink \(dir.controlSocket): \(String(cString: strerror(errno)))")
        }
    }
}

extension OCIConfig.Process {
    /// The Control channel's form of a process (ExecProcess, StartContainer).
    var controlSpec: Control.ProcessSpec {
        Control.ProcessSpec(
            args: args, env: env, cwd: cwd, uid: user.uid, gid: user.gid,
            additionalGIDs: user.additionalGids, terminal: terminal, umask: user.umask ?? 0o022,
            noNewPrivileges: noNewPrivileges,
            rlimits: rlimits.compactMap { r in
                OCIConfig.rlimitNumbers[r.type].map { Control.ResourceLimit(resource: $0, soft: r.soft, hard: r.hard) }
            },
            capabilities: capabilities.masks ?? [])
    }
}

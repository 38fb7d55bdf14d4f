// `bulwark pause`: freezes every task of the sandbox (the Sentry stops each at its next kernel entry,
// see SentryKernel/ControlPause.swift); `state` then says "paused" until `resume`.
import ArgumentParser
import HostOS
import Protocol

struct PauseCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Suspend all processes of a container.")

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let lock = dir.lock()
        defer { _ = lock }
        let record = try dir.readRecord()
        switch dir.status(of: record) {
        case .running: break
        case .paused: return 0
        default: throw RuntimeError("container not running")
        }
        _ = try ControlClient.connect(dir).call(Control.Pause(containerID: id))
        do {
            try FileSystem.writeAtomically(dir.pausedFile, [], mode: 0o600)
        } catch {
            _ = try? ControlClient.connect(dir).call(Control.Resume(containerID: id))
            throw RuntimeError("write \(dir.pausedFile)", error)
        }
        return 0
    }
}

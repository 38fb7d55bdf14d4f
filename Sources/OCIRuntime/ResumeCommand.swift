// `bulwark resume`: releases a paused sandbox's tasks.
import ArgumentParser
import HostOS
import Protocol

struct ResumeCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused container.")

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let lock = dir.lock()
        defer { _ = lock }
        let record = try dir.readRecord()
        guard dir.status(of: record) == .paused else { throw RuntimeError("container not paused") }
        _ = try ControlClient.connect(dir).call(Control.Resume(containerID: id))
        try? FileSystem.unlink(dir.pausedFile)
        return 0
    }
}

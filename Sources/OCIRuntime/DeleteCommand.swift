// `bulwark delete`: removes a stopped or created container (poststop hooks, then its state); --force kills
// a running one first, and succeeds for an id that does not exist (as runc does).
import ArgumentParser

struct DeleteCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a container.",
                                                    aliases: ["rm"])

    @OptionGroup var globals: GlobalOptions

    @Flag(name: [.short, .long], help: "Kill the container first if it is still running.")
    var force = false

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let logger = Logger(globals)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let lock = dir.lock()
        defer { _ = lock }
        let record: ContainerRecord
        do {
            record = try dir.readRecord()
        } catch {
            // An aborted create can leave a directory without state.json.
            if force {
                try dir.remove()
                return 0
            }
            throw error
        }
        let status = dir.status(of: record)
        // Like runc: a created container (its application never started) is killed and deleted without
        // --force; a running one needs --force.
        if status != .stopped {
            guard force || status == .created else {
                throw RuntimeError("cannot delete container \(id) that is not stopped: \(status.rawValue)")
            }
            try ContainerLauncher.killAll(dir, record: record)
        }
        SandboxServices.killRecorded(dir)   // services outlive a killed supervisor until their channel closes
        try ContainerLauncher.destroy(dir, record: record, logger: logger)
        return 0
    }
}

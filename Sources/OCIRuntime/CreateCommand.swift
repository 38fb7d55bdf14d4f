// `bulwark create`: sets up a container from a bundle and leaves it "created", its supervisor waiting for
// `start`. fds 0, 1 and 2 of this process become the container's stdio.
import ArgumentParser

struct CreateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a container.")

    @OptionGroup var globals: GlobalOptions
    @OptionGroup var container: ContainerCreateOptions

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        let request = CreateRequest(id: id, bundle: container.bundle, pidFile: container.pidFile, consoleSocket: container.consoleSocket,
                                    foreground: false, preserveFDs: max(0, container.preserveFDs), faults: container.faults)
        _ = try ContainerLauncher.create(request, globals: globals, sentryOverride: container.sentryBinary)
        return 0
    }
}

// `bulwark start`: starts the application of a created container, then runs the poststart hooks.
import ArgumentParser

struct StartCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a created container.")

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerLauncher.start(id: id, globals: globals, logger: Logger(globals))
        return 0
    }
}

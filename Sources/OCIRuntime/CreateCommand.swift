// `bulwark create`: sets up a container from a bundle and leaves it "created", its supervisor waiting for
// `start`. fds 0, 1 and 2 of this process become the container's stdio.
import ArgumentParser

struct CreateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a container.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "Path to the bundle directory (default: the current directory).")
    var bundle: String?

    @Option(name: .customLong("pid-file"), help: "File to write the container's pid to.")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "Unix socket to receive the terminal's master fd (not implemented yet).")
    var consoleSocket: String?

    @Option(name: .customLong("preserve-fds"), help: "Pass N additional descriptors (3...) to the container.")
    var preserveFDs: Int = 0

    @Flag(name: .customLong("no-pivot"), help: "Accepted for runc compatibility.")
    var noPivot = false

    @Flag(name: .customLong("no-new-keyring"), help: "Accepted for runc compatibility.")
    var noNewKeyring = false

    @Option(name: .customLong("sentry-binary"), help: .hidden)
    var sentryBinary: String?

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        let request = CreateRequest(id: id, bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket,
                                    foreground: false, preserveFDs: max(0, preserveFDs))
        _ = try ContainerLauncher.create(request, globals: globals, sentryOverride: sentryBinary)
        return 0
    }
}

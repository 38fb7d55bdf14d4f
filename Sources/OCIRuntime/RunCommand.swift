// `bulwark run`: create + start + wait; forwards signals to the container and exits with its status
// (128 + signal if it was killed by a signal), after the poststop hooks and removing its state.
import ArgumentParser
import Glibc
import HostOS

struct RunCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and run a container.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "Path to the bundle directory (default: the current directory).")
    var bundle: String?

    @Option(name: .customLong("pid-file"), help: "File to write the container's pid to.")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "Unix socket to receive the terminal's master fd (not implemented yet).")
    var consoleSocket: String?

    @Flag(name: [.short, .long], help: "Detach: return once the container is running.")
    var detach = false

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
        let logger = Logger(globals)
        let request = CreateRequest(id: id, bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket,
                                    foreground: !detach, preserveFDs: max(0, preserveFDs))
        let record = try ContainerLauncher.create(request, globals: globals, sentryOverride: sentryBinary)
        let dir = ContainerDirectory(root: globals.root, id: id)
        // Block the signals we forward before start, so none is lost between start and the wait loop.
        let forwarded = Signals.forwardableSet()
        if !detach { try? Signals.block(forwarded) }
        do {
            try ContainerLauncher.start(id: id, globals: globals, logger: logger)
        } catch {
            try? ContainerLauncher.killAll(dir, record: record)
            _ = try? ProcessSpawn.wait(record.pid)
            try? ContainerLauncher.destroy(dir, record: record, logger: logger)
            throw error
        }
        if detach { return 0 }
        var status: ExitStatus?
        while status == nil {
            let signal: Int32?
            do { signal = try Signals.wait(forwarded, milliseconds: 500) } catch { throw RuntimeError("sigtimedwait", error) }
            if let signal, signal != SIGCHLD { try? ProcessSpawn.signal(record.pid, signal) }
            do { status = try ProcessSpawn.poll(record.pid) } catch { throw RuntimeError("waitpid", error) }
        }
        try ContainerLauncher.destroy(dir, record: record, logger: logger)
        return status!.shellStatus
    }
}

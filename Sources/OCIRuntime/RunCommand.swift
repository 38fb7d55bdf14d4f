// `bulwark run`: create + start + wait; forwards signals to the container and exits with its status
// (128 + signal if it was killed by a signal), after the poststop hooks and removing its state.
import ArgumentParser
import Glibc
import HostOS

struct RunCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and run a container.")

    @OptionGroup var globals: GlobalOptions
    @OptionGroup var container: ContainerCreateOptions

    @Flag(name: [.short, .long], help: "Detach: return once the container is running.")
    var detach = false

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        let logger = Logger(globals)
        let request = CreateRequest(id: id, bundle: container.bundle, pidFile: container.pidFile, consoleSocket: container.consoleSocket,
                                    foreground: !detach, preserveFDs: max(0, container.preserveFDs), faults: container.faults)
        let record = try ContainerLauncher.create(request, globals: globals, sentryOverride: container.sentryBinary)
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

// `bulwark service-sandbox -- SERVICE ARGS` (internal, started by the supervisor): runs one of the
// Sentry's services (bulwark-gofer, bulwark-procfs, bulwark-netstack) in namespaces of its own: new
// mount (private propagation), pid (the service is pid 1 there), ipc, uts and an empty network
// namespace (`--keep-network`: the caller's, i.e. the container's, for the netstack), so a compromised
// service sees no other host process, no host IPC objects and no network. `--empty-root` is passed on
// to the service (it pivot_roots into an empty tmpfs after its setup) when the mount namespace is ours.
// With `--pid-fd N` it writes the service's host pid to N and exits at once: the supervisor is a child
// subreaper, so it adopts the service and reaps it itself (one waiter process fewer per service, and the
// service's own exit status, e.g. death by SIGSYS, reaches the supervisor). Without --pid-fd it waits
// and exits with the service's status, or dies by the same signal. Without the privilege to unshare
// (rootless) it says so and runs the service as is.
import ArgumentParser
@preconcurrency import Glibc
import HostOS

struct ServiceSandboxCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-sandbox", abstract: "Internal: run a Sentry service in its own namespaces.", shouldDisplay: false)

    @OptionGroup var globals: GlobalOptions

    @Option(name: .customLong("keep-fd"), help: "A descriptor the service inherits (its channel).")
    var keepFDs: [Int32] = []

    @Flag(name: .customLong("keep-network"), help: "Stay in the caller's network namespace (the netstack).")
    var keepNetwork = false

    @Flag(name: .customLong("empty-root"), help: "Have the service pivot_root into an empty root after setup.")
    var emptyRoot = false

    @Option(name: .customLong("pid-fd"), help: "Write the service's pid here and exit without waiting.")
    var pidFD: Int32?

    @Argument(parsing: .postTerminator) var service: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        guard let path = service.first, path.hasPrefix("/") else { throw RuntimeError("service-sandbox: no service given") }
        var arguments = service
        do {
            try Namespaces.unshare(keepNetwork ? [.mount, .pid, .ipc, .uts] : [.mount, .pid, .ipc, .uts, .network])
            try Mount.makePrivate("/")
            if emptyRoot { arguments.insert("--empty-root", at: 1) }
        } catch {
            Logger(globals).warning("service-sandbox: \(path) runs in the launcher's namespaces (\(error))")
        }
        var options = SpawnOptions(path: path, arguments: arguments)
        options.inheritedDescriptors = keepFDs
        // No PR_SET_PDEATHSIG: spawn.c checks getppid() against us, which reads 0 from inside the new pid
        // namespace. The service ends when its channel closes (the Sentry gone) or with its namespace.
        let child: pid_t
        do { child = try ProcessSpawn.spawn(options) } catch { throw RuntimeError("fork/exec \(path)", error) }
        for fd in keepFDs { close(fd) }
        if let pidFD {
            let text = Array("\(child)\n".utf8)
            _ = text.withUnsafeBytes { try? FileIO.writeAll(pidFD, $0) }
            close(pidFD)
            return 0
        }
        let status: ExitStatus
        do { status = try ProcessSpawn.wait(child) } catch { throw RuntimeError("waitpid", error) }
        if case .signaled(let signal) = status {
            Logger(globals).warning("service-sandbox: \(path) (pid \(child)) died by signal \(signal)")
            var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
            Signals.dieBySignal(signal)
        }
        return status.shellStatus
    }
}

// `bulwark service-sandbox -- SERVICE ARGS` (internal, started by the supervisor): runs one of the
// Sentry's services (bulwark-gofer today) in namespaces of its own: new mount (private propagation),
// pid (the service is pid 1 there), ipc, uts and an empty network namespace, so a compromised service
// sees no other host process, no host IPC objects and no network. It waits for the service and exits
// with its status. Without the privilege to unshare (rootless) it says so and runs the service as is.
import ArgumentParser
import Glibc
import HostOS

struct ServiceSandboxCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-sandbox", abstract: "Internal: run a Sentry service in its own namespaces.", shouldDisplay: false)

    @OptionGroup var globals: GlobalOptions

    @Option(name: .customLong("keep-fd"), help: "A descriptor the service inherits (its channel).")
    var keepFDs: [Int32] = []

    @Argument(parsing: .postTerminator) var service: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        guard let path = service.first, path.hasPrefix("/") else { throw RuntimeError("service-sandbox: no service given") }
        do {
            try Namespaces.unshare([.mount, .pid, .ipc, .uts, .network])
            try Mount.makePrivate("/")
        } catch {
            Logger(globals).warning("service-sandbox: \(path) runs in the launcher's namespaces (\(error))")
        }
        var options = SpawnOptions(path: path, arguments: service)
        options.inheritedDescriptors = keepFDs
        // No PR_SET_PDEATHSIG: spawn.c checks getppid() against us, which reads 0 from inside the new pid
        // namespace. The service ends when its channel closes (the Sentry gone) or with its namespace.
        let child: pid_t
        do { child = try ProcessSpawn.spawn(options) } catch { throw RuntimeError("fork/exec \(path)", error) }
        for fd in keepFDs { close(fd) }
        let status: ExitStatus
        do { status = try ProcessSpawn.wait(child) } catch { throw RuntimeError("waitpid", error) }
        return status.shellStatus
    }
}

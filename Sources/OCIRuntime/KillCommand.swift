// `bulwark kill ID [SIGNAL]`: sends a signal to the container's supervisor, which forwards it to the
// Sentry (and so to the application). --all with SIGKILL kills every process of the container at once;
// --all with another signal asks the Sentry to signal every process in the sandbox.
import ArgumentParser
import Glibc
import HostOS
import Protocol

struct KillCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Send a signal to a container.")

    @OptionGroup var globals: GlobalOptions

    @Flag(name: [.short, .long], help: "Send the signal to all processes of the container.")
    var all = false

    @Argument(help: "The container id.")
    var id: String

    @Argument(help: "Signal name (TERM, SIGKILL...) or number; default SIGTERM.")
    var signal: String = "SIGTERM"

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let number = try Self.parseSignal(signal)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        guard dir.status(of: record) != .stopped else { throw RuntimeError("container not running") }
        var targets = [record.pid]
        if all && number == SIGKILL { targets = ProcessTable.descendants(of: record.pid) }
        // --all with another signal: every process in the sandbox, through the Sentry.
        if all && number != SIGKILL, dir.status(of: record) == .running || dir.status(of: record) == .paused,
           let client = try? ControlClient.connect(dir) {
            _ = try client.call(Control.Signal(containerID: id, pid: 0, signal: number, all: true))
            return 0
        }
        for pid in targets {
            do throws(HostError) {
                try ProcessSpawn.signal(pid, number)
            } catch where error.errno == .ESRCH {
                continue
            } catch {
                throw RuntimeError("kill \(pid)", error)
            }
        }
        return 0
    }

    static let names: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "IOT": SIGABRT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV,
        "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT,
        "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU,
        "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF,
        "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    static func parseSignal(_ text: String) throws(RuntimeError) -> Int32 {
        if let n = Int32(text) {
            guard n > 0, n < 65 else { throw RuntimeError("invalid signal: \(text)") }
            return n
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard let n = names[name] else { throw RuntimeError("unknown signal \"\(text)\"") }
        return n
    }
}

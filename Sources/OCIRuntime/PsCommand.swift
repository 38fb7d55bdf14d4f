// `bulwark ps`: the container's processes as the Sentry sees them (pids inside the sandbox), through the
// Control channel. `--format json` prints the host pids behind them (each process's stub), as runc
// prints host pids; a created container lists its supervisor.
import ArgumentParser
import Protocol

struct PsCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List a container's processes.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "table or json.")
    var format: OutputFormat = .table

    @Argument(help: "The container id.")
    var id: String

    @Argument(parsing: .postTerminator, help: "ps(1) options (ignored).")
    var psOptions: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        var processes: [Control.ProcessInfo] = []
        switch dir.status(of: record) {
        case .stopped: break
        case .created, .creating:
            processes = [Control.ProcessInfo(pid: record.pid, ppid: 0, state: UInt8(ascii: "S"),
                                             cmdline: [ProcessTable.commandLine(of: record.pid)], hostPID: record.pid)]
        case .running, .paused:
            do {
                processes = try ControlClient.connect(dir).call(Control.ListProcesses(containerID: id)).processes
            } catch {
                // No control channel (a Sentry that does not serve one): the host processes under it.
                Logger(globals).debug("ps: \(error.message); listing host processes")
                let pids = dir.readSentryPid().map { ProcessTable.descendants(of: $0) } ?? []
                processes = pids.map {
                    Control.ProcessInfo(pid: $0, ppid: ProcessTable.parent(of: $0) ?? 0, state: UInt8(ascii: "S"),
                                        cmdline: [ProcessTable.commandLine(of: $0)], hostPID: $0)
                }
            }
        }
        switch format {
        case .json:
            // Host pids, as runc prints: Docker's `top` and containerd look them up in the host's ps.
            print("[" + processes.filter { $0.hostPID > 0 }.map { String($0.hostPID) }.joined(separator: ",") + "]")
        case .table:
            var rows = [["UID", "PID", "PPID", "STAT", "HOST PID", "CMD"]]
            for p in processes {
                rows.append([String(p.uid), String(p.pid), String(p.ppid), String(UnicodeScalar(p.state)),
                             p.hostPID > 0 ? String(p.hostPID) : "-", p.cmdline.joined(separator: " ")])
            }
            printTable(rows)
        }
        return 0
    }
}

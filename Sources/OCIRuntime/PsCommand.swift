// `bulwark ps`: the host processes of a container that the launcher knows: the Sentry and everything it
// started (the application's stub processes), or the supervisor while the container is only created.
import ArgumentParser

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
        var pids: [Int32] = []
        switch dir.status(of: record) {
        case .stopped: pids = []
        case .created, .creating: pids = [record.pid]
        case .running:
            if let sentry = dir.readSentryPid() { pids = ProcessTable.descendants(of: sentry) }
        }
        switch format {
        case .json:
            print("[" + pids.map(String.init).joined(separator: ",") + "]")
        case .table:
            var rows = [["PID", "PPID", "CMD"]]
            for pid in pids {
                rows.append([String(pid), String(ProcessTable.parent(of: pid) ?? 0), ProcessTable.commandLine(of: pid)])
            }
            printTable(rows)
        }
        return 0
    }
}

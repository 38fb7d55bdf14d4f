// `bulwark list`: every container under --root, as a table (like runc's) or JSON.
import ArgumentParser
import Foundation

struct ListCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List containers.",
                                                    aliases: ["ls"])

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "table or json.")
    var format: OutputFormat = .table

    @Flag(name: [.short, .long], help: "Print only the ids.")
    var quiet = false

    func execute() throws(RuntimeError) -> Int32 {
        let ids = ((try? FileManager.default.contentsOfDirectory(atPath: globals.root)) ?? []).sorted()
        var rows: [(ContainerRecord, ContainerStatus)] = []
        for id in ids {
            guard (try? ContainerID.validate(id)) != nil else { continue }
            let dir = ContainerDirectory(root: globals.root, id: id)
            // A directory without state.json is a create in progress or an aborted one: not listed.
            guard let record = try? dir.readRecord() else { continue }
            rows.append((record, dir.status(of: record)))
        }
        if quiet {
            for (record, _) in rows { print(record.id) }
            return 0
        }
        switch format {
        case .json:
            let items = rows.map { record, status in
                "{\"ociVersion\":\"\(ociVersion)\",\"id\":\(JSONText.quote(record.id)),"
                    + "\"pid\":\(status == .stopped ? 0 : record.pid),\"status\":\"\(status.rawValue)\","
                    + "\"bundle\":\(JSONText.quote(record.bundle)),\"rootfs\":\(JSONText.quote(record.rootfs)),"
                    + "\"created\":\"\(record.created)\",\"owner\":\(JSONText.quote(record.owner))}"
            }
            print("[" + items.joined(separator: ",") + "]")
        case .table:
            var table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
            for (record, status) in rows {
                table.append([record.id, String(status == .stopped ? 0 : record.pid), status.rawValue,
                              record.bundle, record.created, record.owner.isEmpty ? "root" : record.owner])
            }
            printTable(table)
        }
        return 0
    }
}

enum OutputFormat: String, ExpressibleByArgument {
    case table, json
}

/// Left-aligned columns separated by at least 3 spaces (runc's tabwriter look).
func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for row in rows {
        var line = ""
        for (i, cell) in row.enumerated() {
            line += i == columns - 1 ? cell : cell.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0)
        }
        print(line)
    }
}

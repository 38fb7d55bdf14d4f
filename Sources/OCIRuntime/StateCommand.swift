// `bulwark state`: the runtime-spec state of one container, as JSON (same fields and order as runc).
import ArgumentParser

struct StateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "Output the state of a container.")

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        print(Self.render(record, status: dir.status(of: record)))
        return 0
    }

    static func render(_ record: ContainerRecord, status: ContainerStatus) -> String {
        let pid = status == .stopped ? 0 : record.pid
        var lines = [
            "  \"ociVersion\": \"\(ociVersion)\"",
            "  \"id\": \(JSONText.quote(record.id))",
            "  \"pid\": \(pid)",
            "  \"status\": \"\(status.rawValue)\"",
            "  \"bundle\": \(JSONText.quote(record.bundle))",
            "  \"rootfs\": \(JSONText.quote(record.rootfs))",
            "  \"created\": \"\(record.created)\"",
            "  \"owner\": \(JSONText.quote(record.owner))",
        ]
        if !record.annotations.isEmpty {
            let entries = record.annotations.keys.sorted().map {
                "    \(JSONText.quote($0)): \(JSONText.quote(record.annotations[$0]!))"
            }
            lines.append("  \"annotations\": {\n" + entries.joined(separator: ",\n") + "\n  }")
        }
        return "{\n" + lines.joined(separator: ",\n") + "\n}"
    }
}

// What a gofer serves: mount 0 is --root, mounts 1... are the --mount sources in the order given.
// The Sentry attaches to each by number (Attach.mountID) and places it in its own mount tree; the
// gofer never joins them, so nothing outside a mount's source is reachable through it.
import Glibc
import HostOS
import ServiceKit

public struct GoferMount: Equatable, Sendable {
    /// Host directory served as this mount's root.
    public var source: String
    /// Where the container sees it (informational: the Sentry does the placing).
    public var destination: String
    public var readOnly: Bool
}

public struct GoferConfiguration: Equatable, Sendable {
    public var mounts: [GoferMount]
    /// Bound of the node table (each node holds one O_PATH descriptor).
    public var maxNodes = 65_536

    public static let options: [ServiceOption] = [
        ServiceOption("--root", value: "DIR", help: "the container's root directory (mount 0)"),
        ServiceOption("--mount", value: "LIST", help: "bind mounts SRC:DST[:ro], comma-separated (mounts 1...)"),
        ServiceOption("--read-only", help: "refuse every write to the root (EROFS)"),
        ServiceOption("--max-nodes", value: "N", help: "most nodes (open fids) at once (default 65536)"),
    ]

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads --root, --mount and --read-only.
    public static func parse(_ values: [String: String]) throws(Invalid) -> GoferConfiguration {
        // Without --root the gofer serves nothing (every Attach is ENOENT): ServiceKit's generic tests
        // start every service bare to check Ping and option handling.
        guard let root = values["--root"] else {
            guard values["--mount"] == nil, values["--read-only"] == nil else {
                throw Invalid(description: "--mount and --read-only need --root DIR")
            }
            return GoferConfiguration(mounts: [])
        }
        guard !root.isEmpty else { throw Invalid(description: "--root needs a directory") }
        var mounts = [GoferMount(source: root, destination: "/", readOnly: values["--read-only"] != nil)]
        if let list = values["--mount"] {
            for item in list.split(separator: ",", omittingEmptySubsequences: true) {
                let parts = item.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2 || (parts.count == 3 && (parts[2] == "ro" || parts[2] == "rw")),
                      !parts[0].isEmpty, parts[1].hasPrefix("/") else {
                    throw Invalid(description: "--mount: '\(item)' is not SRC:DST[:ro]")
                }
                mounts.append(GoferMount(source: parts[0], destination: parts[1], readOnly: parts.count == 3 && parts[2] == "ro"))
            }
        }
        var configuration = GoferConfiguration(mounts: mounts)
        if let text = values["--max-nodes"] {
            guard let n = Int(text), n > 0, n <= 1 << 20 else { throw Invalid(description: "--max-nodes: '\(text)' is not 1...1048576") }
            configuration.maxNodes = n
        }
        return configuration
    }
}

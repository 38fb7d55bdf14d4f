// Docker's daemon.json as `install` and `uninstall` edit it: only the "runtimes" entry named by
// --runtime changes; every other setting is kept. Written atomically (mode 0644), pretty-printed.
import Foundation
import HostOS

struct DaemonConfig {
    let path: String
    var top: [String: JSONValue]

    /// Reads `path`; a missing or empty file is an empty configuration.
    static func load(_ path: String) throws(RuntimeError) -> DaemonConfig {
        guard FileSystem.exists(path) else { return DaemonConfig(path: path, top: [:]) }
        guard let data = FileManager.default.contents(atPath: path) else { throw RuntimeError("open \(path): permission denied") }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d }) { return DaemonConfig(path: path, top: [:]) }
        guard case .object(let top) = try JSONValue.parse(data, what: path) else {
            throw RuntimeError("\(path): the top level must be a JSON object")
        }
        return DaemonConfig(path: path, top: top)
    }

    var runtimes: [String: JSONValue] {
        get { if case .object(let r)? = top["runtimes"] { return r } else { return [:] } }
        set { top["runtimes"] = .object(newValue) }
    }

    func save() throws(RuntimeError) {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileSystem.exists(dir) {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw RuntimeError("mkdir \(dir): \(error.localizedDescription)")
            }
        }
        let text = Self.pretty(.object(top), indent: "") + "\n"
        do { try FileSystem.writeAtomically(path, Array(text.utf8), mode: 0o644) } catch { throw RuntimeError("write \(path)", error) }
    }

    /// JSON with two-space indentation and sorted keys (Docker's own style).
    static func pretty(_ value: JSONValue, indent: String) -> String {
        let inner = indent + "  "
        switch value {
        case .object(let o) where !o.isEmpty:
            let items = o.keys.sorted().map { inner + JSONText.quote($0) + ": " + pretty(o[$0]!, indent: inner) }
            return "{\n" + items.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return value.jsonText
        }
    }
}

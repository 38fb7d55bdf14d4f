// The container's network namespace, made by the supervisor before `create` runs the prestart hooks:
// Docker's libnetwork-setkey prestart hook moves the container's veth into /proc/<state.pid>/ns/net, so
// that must be the container's own namespace, never the host's. config.json `network` without a path
// means a new, empty namespace; with a path, the supervisor joins it. `--network host` keeps the host's.
import Glibc
import HostOS

struct NetworkPlan: Codable, Sendable {
    enum Action: String, Codable, Sendable { case host, new, join }
    var action: Action
    var path: String?

    static func make(config: OCIConfig, mode: NetworkMode) -> NetworkPlan {
        guard mode != .host, let ns = config.linux.namespaces.first(where: { $0.type == "network" }) else {
            return NetworkPlan(action: .host, path: nil)
        }
        if let path = ns.path, !path.isEmpty { return NetworkPlan(action: .join, path: path) }
        return NetworkPlan(action: .new, path: nil)
    }

    /// Runs in the supervisor's main thread (namespaces are per thread; children inherit the caller's).
    func apply() throws(RuntimeError) {
        switch action {
        case .host:
            return
        case .new:
            do { try Namespaces.unshare(.network) } catch { throw RuntimeError("a new network namespace", error) }
        case .join:
            let path = self.path ?? ""
            do {
                let fd = try FileSystem.open(path, flags: O_RDONLY)
                try Namespaces.enter(fd, kind: .network)
            } catch {
                throw RuntimeError("join network namespace \(path)", error)
            }
        }
    }
}

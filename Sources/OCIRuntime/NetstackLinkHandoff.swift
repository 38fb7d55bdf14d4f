// The supervisor opens the sandbox-mode netstack's host link itself (session 6, netsec): it runs in the
// container's network namespace as root of the user namespace that owns it (Docker's or ours), so it
// can open AF_PACKET sockets on the container's interface, read its configuration over rtnetlink and
// take it over from the kernel (HostOS/LinkHandoff.swift). The netstack inherits the descriptors and
// gets the configuration as arguments, and runs in a user namespace of its own with no capability.
import HostOS

extension SandboxServices {
    /// For a netstack planned with `--network sandbox --interface IF`: the opened link and the arguments
    /// with `--link-fd`/`--transmit-fd`/`--link-config` (the descriptors keep their numbers in the child).
    /// Other services and modes: (nil, arguments unchanged). Called right before the spawn, so a deferred
    /// netstack's interface is taken over only when the netstack starts, as before.
    func netstackLink(_ kind: ServiceKind, _ arguments: [String]) throws(HostError) -> (LinkHandoff?, [String]) {
        guard kind == .netstack, let mode = arguments.firstIndex(of: "--network"), mode + 1 < arguments.count,
              arguments[mode + 1] == "sandbox",
              let flag = arguments.firstIndex(of: "--interface"), flag + 1 < arguments.count else { return (nil, arguments) }
        let link = try LinkHandoff(interface: arguments[flag + 1])
        var rest = arguments
        rest.removeSubrange(flag...(flag + 1))
        ingressDrop = link.ingressDrop
        if case .failed(let why) = link.ingressDrop {
            logger.warning("container \(id): netstack link \(arguments[flag + 1]): the host kernel keeps processing received frames (\(why))")
        }
        logger.debug("container \(id): netstack link \(arguments[flag + 1]) opened by the supervisor (fd \(link.receiveFD), transmit \(link.transmitFD ?? -1))")
        return (link, rest + link.arguments)
    }
}

// A Sentry that spawns its own netstack with `--network sandbox` (no --netstack-fd: tests and direct
// use without the launcher) opens the netstack's host link itself at set-up, while it still has its
// capabilities (HostOS/LinkHandoff.swift), and hands the descriptors to the netstack it spawns on the
// first inet socket. So neither the Sentry (after its capability drop) nor that netstack keeps
// CAP_NET_RAW/CAP_NET_ADMIN (session 6, netsec; before, the Sentry kept both for its child).
import HostOS

extension NetworkOptions {
    /// The opened link until the netstack is spawned (then closed here: the child has its own copies).
    nonisolated(unsafe) static var handoff: LinkHandoff? = nil
    /// openLink looked for an interface and found none: the netstack is loopback only.
    nonisolated(unsafe) static var linkSearched = false

    /// Called once before the capability drop. A failure is logged; the netstack is then started with
    /// --interface, cannot open the link without capabilities and exits, so sockets report ENETDOWN, as
    /// an unusable interface always did.
    static func openLink(log: (String) -> Void) {
        guard netstackFD == nil, explicitMode, mode == "sandbox" else { return }
        guard let name = interface ?? LinkHandoff.firstUsableInterface() else {
            linkSearched = true
            log("bulwark-sentry: --network sandbox: no interface is up with an IPv4 address; loopback only\n")
            return
        }
        do {
            let link = try LinkHandoff(interface: name)
            handoff = link
            if case .failed(let why) = link.ingressDrop {
                log("bulwark-sentry: --network sandbox: \(name): the host kernel keeps processing received frames (\(why))\n")
            }
        } catch {
            interface = name
            log("bulwark-sentry: --network sandbox: cannot open the link on \(name): \(error)\n")
        }
    }
}

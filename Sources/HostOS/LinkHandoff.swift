// The netstack's host link, opened by whoever spawns it (the supervisor, or a Sentry that spawns its own
// netstack) so that the netstack itself needs no capability: inside the container's network namespace,
// with CAP_NET_RAW/CAP_NET_ADMIN in the user namespace that owns it, the spawner reads the interface's
// configuration over rtnetlink, opens the AF_PACKET sockets (the receiving one bound to the interface,
// the transmit-only one with PACKET_VNET_HDR for segmentation offload), takes the interface over from the
// host kernel (deletes its addresses, disables IPv6 there) and hands the descriptors and the
// configuration to the netstack as inherited descriptors and arguments (`arguments`). The netstack then
// runs in a user namespace of its own with no capability and never creates a host socket.
import CBulwark
import Glibc

public final class LinkHandoff {
    /// AF_PACKET/SOCK_RAW/ETH_P_ALL bound to the interface (bw_packet_open's options); closed with self.
    public let receiveFD: Int32
    /// AF_PACKET with PACKET_VNET_HDR, bound for sending only; nil when the kernel lacks it (or
    /// BULWARK_NETSTACK_GSO=0): the netstack then sends through `receiveFD`. Closed with self.
    public let transmitFD: Int32?
    private let owned: [Int32]
    /// The configuration read before the take-over (the addresses are no longer the kernel's).
    public let interface: NetlinkInterface
    /// The take-over's ingress drop (`IngressDrop`): installed, not wanted, or why it failed. The
    /// spawner logs a failure; the link works without it (the host kernel then routes, and drops, every
    /// received frame itself as well).
    public private(set) var ingressDrop: IngressDrop.Outcome = .disabled

    /// Reads `name` (in the current network namespace), checks the netstack can use it (Ethernet, an
    /// MTU, an IPv4 address), opens the sockets and, when `takeOver`, removes the interface's addresses
    /// from the host kernel so that only the netstack answers for them (as runsc does).
    public init(interface name: String, takeOver: Bool = true) throws(HostError) {
        let info = try Netlink.readInterface(name)
        guard info.mac.count == 6, info.mtu >= 68 else {
            throw HostError(call: "\(name): not an Ethernet interface (mtu \(info.mtu))", errno: .EINVAL)
        }
        guard info.addresses.contains(where: { !$0.isIPv6 }) else {
            throw HostError(call: "\(name): no IPv4 address to take over", errno: .EADDRNOTAVAIL)
        }
        var index: Int32 = 0
        let rx = try hostCall("socket(AF_PACKET)") { bw_packet_open(name, &index) }
        let gso = getenv("BULWARK_NETSTACK_GSO").map { String(cString: $0) != "0" } ?? true
        let tx = gso ? bw_packet_open_gso_tx(name) : -1
        receiveFD = rx
        transmitFD = tx >= 0 ? tx : nil
        owned = tx >= 0 ? [rx, tx] : [rx]
        interface = info
        if takeOver {
            for a in info.addresses { try Netlink.deleteAddress(a, interfaceIndex: info.index) }
            // Without this the kernel would add a new link-local address and answer NDP for it.
            Self.disableKernelIPv6(name)
            ingressDrop = IngressDrop.install(interfaceIndex: info.index)
        }
    }

    deinit {
        for fd in owned { Glibc.close(fd) }
    }

    /// The descriptors the child must inherit (same numbers).
    public var descriptors: [Int32] { owned }

    /// The netstack's options naming the descriptors (inherited with the same numbers) and the configuration.
    public var arguments: [String] {
        ["--interface", interface.name, "--link-fd", String(receiveFD)]
            + (transmitFD.map { ["--transmit-fd", String($0)] } ?? [])
            + ["--link-config", LinkConfiguration.encode(interface)]
    }

    /// The first interface of this network namespace that is not loopback, is up, is Ethernet and has
    /// an IPv4 address (what `--network sandbox` takes without --interface).
    public static func firstUsableInterface() -> String? {
        guard let list = if_nameindex() else { return nil }
        defer { if_freenameindex(list) }
        var names: [String] = []
        var p = list
        while p.pointee.if_index != 0, let n = p.pointee.if_name {
            names.append(String(cString: n))
            p += 1
        }
        for name in names where name != "lo" {
            guard let info = try? Netlink.readInterface(name), info.isUp, info.mac.count == 6,
                  info.addresses.contains(where: { !$0.isIPv6 }) else { continue }
            return name
        }
        return nil
    }

    /// Keeps the kernel from adding a link-local address to (and answering NDP on) an interface we took over.
    public static func disableKernelIPv6(_ name: String) {
        guard !name.contains("/"), !name.hasPrefix(".") else { return }
        let fd = open("/proc/sys/net/ipv6/conf/\(name)/disable_ipv6", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = write(fd, "1\n", 2)
        close(fd)
    }

    /// Checks that an inherited descriptor is an AF_PACKET socket (a handed-over link), before the
    /// netstack builds on it.
    public static func checkPacketSocket(_ fd: Int32) throws(HostError) {
        var domain: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try hostCall("getsockopt(SO_DOMAIN)") { getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) }
        guard domain == AF_PACKET else {
            throw HostError(call: "descriptor \(fd) is not an AF_PACKET socket (domain \(domain))", errno: .ENOTSOCK)
        }
    }
}

/// Once the netstack owns an interface, every frame it receives also went up the host kernel's own
/// stack: ip_rcv, a route lookup that finds no local address (a dst allocated and RCU-freed per frame),
/// ARP input, then a drop. A tc ingress filter that drops every frame stops that work at the first
/// hook after the packet taps: AF_PACKET sockets bound to ETH_P_ALL (ours: bw_packet_open) get the
/// frame in __netif_receive_skb_core before tc ingress runs, so the netstack still sees everything
/// (session 10, link). Off with BULWARK_NETSTACK_INGRESS_DROP=0.
public enum IngressDrop {
    public enum Outcome: Equatable, Sendable {
        /// Installed; `createdQdisc`: the clsact qdisc is ours (else only the filter is).
        case installed(interfaceIndex: Int32, createdQdisc: Bool)
        case disabled
        case failed(String)
    }

    public static var wanted: Bool {
        getenv("BULWARK_NETSTACK_INGRESS_DROP").map { String(cString: $0) != "0" } ?? true
    }

    /// Installs the drop unless BULWARK_NETSTACK_INGRESS_DROP=0. Never throws: a failure (no
    /// CAP_NET_ADMIN, a kernel without cls_bpf or clsact) is returned for the caller to log.
    public static func install(interfaceIndex: Int32) -> Outcome {
        guard wanted else { return .disabled }
        var created: Int32 = 0
        do {
            _ = try hostCall("netlink(tc ingress drop)") { bw_netlink_drop_ingress(interfaceIndex, &created) }
        } catch {
            return .failed("\(error) (interface \(interfaceIndex))")
        }
        return .installed(interfaceIndex: interfaceIndex, createdQdisc: created != 0)
    }

    /// Removes an installed drop (the interface outlives the sandbox, e.g. a named namespace's veth).
    /// Returns the failure, if any (ENODEV: the interface went with its namespace).
    @discardableResult
    public static func remove(_ outcome: Outcome) -> HostError? {
        guard case .installed(let index, let created) = outcome else { return nil }
        do {
            _ = try hostCall("netlink(tc ingress drop removal)") { bw_netlink_remove_ingress_drop(index, created ? 1 : 0) }
            return nil
        } catch {
            return error
        }
    }
}

/// The interface configuration as one argument: `name=eth0,index=5,mtu=1500,up=1,mac=02:42:ac:11:00:02,
/// addr=172.17.0.2/16,addr=fd00::2/64,gw4=172.17.0.1,gw6=fe80::1`. Readable in `ps`, parsed strictly.
public enum LinkConfiguration {
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func encode(_ i: NetlinkInterface) -> String {
        var parts = ["name=\(i.name)", "index=\(i.index)", "mtu=\(i.mtu)", "up=\(i.isUp ? 1 : 0)",
                     "mac=" + i.mac.map { hex2($0) }.joined(separator: ":")]
        for a in i.addresses { parts.append("addr=\(text(a.bytes))/\(a.prefixLength)") }
        if let g = i.gateway4 { parts.append("gw4=\(text(g))") }
        if let g = i.gateway6 { parts.append("gw6=\(text(g))") }
        return parts.joined(separator: ",")
    }

    public static func decode(_ s: String) throws(ParseError) -> NetlinkInterface {
        var i = NetlinkInterface(name: "", index: 0, mtu: 0, isUp: false, mac: [], addresses: [], gateway4: nil, gateway6: nil)
        for field in s.split(separator: ",", omittingEmptySubsequences: false) {
            guard let eq = field.firstIndex(of: "=") else { throw ParseError(description: "--link-config: '\(field)' is not key=value") }
            let key = field[..<eq], value = String(field[field.index(after: eq)...])
            switch key {
            case "name":
                guard !value.isEmpty, value.utf8.count < 16, !value.contains("/") else { throw ParseError(description: "--link-config: bad name '\(value)'") }
                i.name = value
            case "index":
                guard let n = Int32(value), n > 0 else { throw ParseError(description: "--link-config: bad index '\(value)'") }
                i.index = n
            case "mtu":
                guard let n = Int(value), n >= 68, n <= 65535 else { throw ParseError(description: "--link-config: bad mtu '\(value)'") }
                i.mtu = n
            case "up": i.isUp = value == "1"
            case "mac":
                let bytes = value.split(separator: ":").compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
                guard bytes.count == 6, value.count == 17 else { throw ParseError(description: "--link-config: bad mac '\(value)'") }
                i.mac = bytes
            case "addr":
                let p = value.split(separator: "/")
                guard p.count == 2, let bytes = parse(String(p[0])), let prefix = Int(p[1]), prefix >= 0, prefix <= bytes.count * 8 else {
                    throw ParseError(description: "--link-config: bad address '\(value)'")
                }
                i.addresses.append(NetlinkAddress(family: bytes.count == 4 ? 2 : 10, prefixLength: prefix, bytes: bytes))
            case "gw4":
                guard let b = parse(value), b.count == 4 else { throw ParseError(description: "--link-config: bad gw4 '\(value)'") }
                i.gateway4 = b
            case "gw6":
                guard let b = parse(value), b.count == 16 else { throw ParseError(description: "--link-config: bad gw6 '\(value)'") }
                i.gateway6 = b
            default: throw ParseError(description: "--link-config: unknown key '\(key)'")
            }
        }
        guard !i.name.isEmpty, i.index > 0, i.mtu > 0, i.mac.count == 6 else {
            throw ParseError(description: "--link-config needs name, index, mtu and mac")
        }
        guard i.addresses.contains(where: { !$0.isIPv6 }) else { throw ParseError(description: "--link-config: no IPv4 address") }
        return i
    }

    static func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }

    /// inet_ntop of 4 or 16 bytes.
    static func text(_ bytes: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) } != nil
        return ok ? String(cString: out) : "?"
    }

    /// inet_pton, IPv4 first, then IPv6.
    static func parse(_ s: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if v4.withUnsafeMutableBytes({ inet_pton(AF_INET, s, $0.baseAddress) }) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if v6.withUnsafeMutableBytes({ inet_pton(AF_INET6, s, $0.baseAddress) }) == 1 { return v6 }
        return nil
    }
}

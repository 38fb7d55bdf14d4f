// The netstack's side of the link hand-off (HostOS/LinkHandoff.swift): the spawner opened the AF_PACKET
// sockets, read the interface's configuration and took the interface over; the netstack adopts the
// inherited descriptors (--link-fd, --transmit-fd) and the configuration (--link-config) and configures
// its stack from them, without a capability, a netlink socket or a new host socket of its own.
import Glibc
import HostOS
import NetstackCore

/// What bulwark-netstack was handed: descriptor numbers it inherited and the interface's configuration.
public struct HandedOverLink: Sendable {
    public var receiveFD: Int32
    public var transmitFD: Int32?
    public var interface: NetlinkInterface

    public init(receiveFD: Int32, transmitFD: Int32?, interface: NetlinkInterface) {
        self.receiveFD = receiveFD
        self.transmitFD = transmitFD
        self.interface = interface
    }

    /// From the options (`--link-fd N [--transmit-fd M] --link-config TEXT`); nil without --link-fd.
    /// Checks each descriptor is an AF_PACKET socket and marks it close-on-exec.
    public static func parse(linkFD: String?, transmitFD: String?, config: String?, interface: String?) throws -> HandedOverLink? {
        guard let linkFD else {
            guard transmitFD == nil, config == nil else { throw NetstackSetupError(description: "--transmit-fd and --link-config need --link-fd") }
            return nil
        }
        func descriptor(_ text: String, _ flag: String) throws -> Int32 {
            guard let fd = Int32(text), fd > 2 else { throw NetstackSetupError(description: "\(flag) needs a descriptor number above 2, not '\(text)'") }
            try LinkHandoff.checkPacketSocket(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return fd
        }
        guard let config else { throw NetstackSetupError(description: "--link-fd needs --link-config") }
        let info = try LinkConfiguration.decode(config)
        if let interface, interface != info.name {
            throw NetstackSetupError(description: "--interface \(interface) but --link-config names \(info.name)")
        }
        let receive = try descriptor(linkFD, "--link-fd")
        let transmit = try transmitFD.map { try descriptor($0, "--transmit-fd") }
        guard transmit != receive else { throw NetstackSetupError(description: "--transmit-fd is --link-fd") }
        return HandedOverLink(receiveFD: receive, transmitFD: transmit, interface: info)
    }
}

extension HostInterface {
    /// Adds the handed-over interface to `stack` (first IPv4 address, every IPv6 address that is not
    /// link-local, default routes, MTU) over the inherited sockets. The take-over from the host kernel
    /// was the spawner's.
    public static func attach(_ handed: HandedOverLink, to stack: NetworkStack) throws -> HostInterfaceSetup {
        let info = handed.interface
        // Room for the GSO super-frames (up to 64 KiB) a peer with TSO hands over a veth.
        let sock = PacketSocket(adopting: OwnedFD(adopting: handed.receiveFD), interfaceIndex: info.index,
                                maxFrame: max(info.mtu, 65535) + 18)
        // The receive ring (PACKET_MMAP) is set up here, before the netstack's seccomp filter goes on:
        // a setsockopt and an mmap on the adopted socket, no capability needed (HostLink.swift explains
        // the ring; BULWARK_NETSTACK_RING=0 keeps recvmsg).
        if getenv("BULWARK_NETSTACK_RING").map({ String(cString: $0) != "0" }) ?? true { sock.useReceiveRing() }
        let link = PacketLink(socket: sock, transmitter: handed.transmitFD.map { PacketTransmitter(adopting: OwnedFD(adopting: $0)) })
        link.framePool = stack.framePool
        let m = info.mac
        guard let v4 = info.addresses.first(where: { !$0.isIPv6 }) else {
            throw HostLinkError(description: "\(info.name): no IPv4 address to take over")
        }
        let b = v4.bytes
        let index = stack.addInterface(name: info.name, mac: MACAddress(m[0], m[1], m[2], m[3], m[4], m[5]),
                                       address: IPv4Address(b[0], b[1], b[2], b[3]),
                                       prefixLength: v4.prefixLength, mtu: info.mtu, link: link)
        for a in info.addresses where a.isIPv6 && !(a.bytes[0] == 0xfe && a.bytes[1] & 0xc0 == 0x80) {
            try stack.addIPv6Address(ipv6(a.bytes), prefixLength: a.prefixLength, interface: index)
        }
        if let g = info.gateway4 { try stack.setDefaultGateway(IPv4Address(g[0], g[1], g[2], g[3]), interface: index) }
        if let g = info.gateway6 { try stack.setIPv6DefaultGateway(ipv6(g), interface: index) }
        return HostInterfaceSetup(interfaceIndex: index, link: link, host: info)
    }
}

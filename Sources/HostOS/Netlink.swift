// rtnetlink (NETLINK_ROUTE) queries for the netstack's host link: the interface's MAC, MTU,
// addresses and default routes, and removing an address from the host kernel once the netstack
// owns it.
import CBulwark

public struct NetlinkAddress: Equatable, Sendable {
    public var family: Int32          // AF_INET (2) or AF_INET6 (10)
    public var prefixLength: Int
    public var bytes: [UInt8]         // 4 or 16, network order
    public var isIPv6: Bool { family == 10 }
}

public struct NetlinkInterface: Equatable, Sendable {
    public var name: String
    public var index: Int32
    public var mtu: Int
    public var isUp: Bool
    public var mac: [UInt8]
    public var addresses: [NetlinkAddress]
    public var gateway4: [UInt8]?
    public var gateway6: [UInt8]?
}

public enum Netlink {
    /// RTM_GETLINK/GETADDR/GETROUTE for `name` in the current network namespace.
    public static func readInterface(_ name: String) throws(HostError) -> NetlinkInterface {
        var info = bw_net_interface()
        _ = try hostCall("netlink(RTM_GET*)") { bw_netlink_read_interface(name, &info) }
        var addrs: [NetlinkAddress] = []
        withUnsafeBytes(of: info.addresses) { raw in
            let list = raw.bindMemory(to: bw_net_addr.self)
            for i in 0..<Int(info.address_count) {
                let a = list[i]
                let count = a.family == 2 ? 4 : 16
                let bytes = withUnsafeBytes(of: a.bytes) { Array($0.prefix(count)) }
                addrs.append(NetlinkAddress(family: a.family, prefixLength: Int(a.prefix), bytes: bytes))
            }
        }
        return NetlinkInterface(
            name: name, index: info.ifindex, mtu: Int(info.mtu), isUp: info.up != 0,
            mac: withUnsafeBytes(of: info.mac) { Array($0) }, addresses: addrs,
            gateway4: info.has_gateway4 != 0 ? withUnsafeBytes(of: info.gateway4) { Array($0) } : nil,
            gateway6: info.has_gateway6 != 0 ? withUnsafeBytes(of: info.gateway6) { Array($0) } : nil)
    }

    /// RTM_DELADDR: the host kernel stops owning (and answering for) `address` on `interfaceIndex`.
    public static func deleteAddress(_ address: NetlinkAddress, interfaceIndex: Int32) throws(HostError) {
        var a = bw_net_addr()
        a.family = address.family
        a.prefix = Int32(address.prefixLength)
        withUnsafeMutableBytes(of: &a.bytes) { dst in
            for (i, b) in address.bytes.prefix(16).enumerated() { dst[i] = b }
        }
        _ = try hostCall("netlink(RTM_DELADDR)") { bw_netlink_delete_address(interfaceIndex, &a) }
    }
}

// rtnetlink reads checked against iproute2's view of the same interface, in a namespace made here.
import Foundation
import HostOS
import Testing
import TestSupport

@Suite(.serialized, .enabled(if: InteropNet.unavailableReason == nil,
                             "skipped: \(InteropNet.unavailableReason ?? "")"))
struct NetlinkTests {
    @Test func readsLinkAddressesAndDefaultRouteLikeIproute2() throws {
        let net = try InteropNet(mtu: 1400)
        defer { net.close() }
        let setup = try ProcessRunner.shell("""
            ip -n \(net.stackNS) route add default via \(net.kernelIP) && \
            ip -n \(net.stackNS) -6 addr add fd00:77::2/64 dev \(net.stackIf) nodad && \
            ip netns exec \(net.stackNS) cat /sys/class/net/\(net.stackIf)/address
            """, timeout: 10)
        try #require(setup.exitCode == 0, "\(setup.stderr)")
        let mac = setup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let name = net.stackIf
        let path = "/run/netns/\(net.stackNS)"
        let info = try net.inNamespace(path) { try Netlink.readInterface(name) }
        #expect(info.mtu == 1400)
        #expect(info.isUp)
        #expect(info.mac.map { String(format: "%02x", $0) }.joined(separator: ":") == mac)
        let v4 = info.addresses.filter { !$0.isIPv6 }
        #expect(v4.map(\.bytes) == [net.stackIP.split(separator: ".").map { UInt8($0)! }])
        #expect(v4.first?.prefixLength == 24)
        #expect(info.addresses.contains { $0.isIPv6 && $0.prefixLength == 64 && $0.bytes.prefix(4) == [0xfd, 0x00, 0x00, 0x77] })
        #expect(info.gateway4 == net.kernelIP.split(separator: ".").map { UInt8($0)! })
        // A missing interface is ENODEV, not a crash.
        #expect(throws: HostError.self) { try net.inNamespace(path) { try Netlink.readInterface("bwnosuchif0") } }
    }
}

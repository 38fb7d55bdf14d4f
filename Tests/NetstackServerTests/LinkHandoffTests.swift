// The link hand-off's argument side (session 6, netsec): the interface configuration survives the trip
// through --link-config; malformed configurations and descriptors that are not AF_PACKET sockets are
// clear set-up errors, never a crash. Runs unprivileged except the last test (an AF_PACKET socket).
import Glibc
import HostOS
import NetstackServer
import Testing

@Suite struct LinkHandoffTests {
    static let text = "name=eth0,index=7,mtu=1500,up=1,mac=02:42:ac:11:00:02,addr=172.17.0.2/16,addr=fd00::2/64,addr=fe80::42:acff:fe11:2/64,gw4=172.17.0.1,gw6=fe80::1"

    @Test func configurationRoundTrips() throws {
        let i = try LinkConfiguration.decode(Self.text)
        #expect(i.name == "eth0" && i.index == 7 && i.mtu == 1500 && i.isUp)
        #expect(i.mac == [0x02, 0x42, 0xac, 0x11, 0x00, 0x02])
        #expect(i.addresses.map(\.family) == [2, 10, 10] && i.addresses.map(\.prefixLength) == [16, 64, 64])
        #expect(i.addresses[0].bytes == [172, 17, 0, 2])
        #expect(i.addresses[1].bytes == [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
        #expect(i.addresses[2].bytes == [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x42, 0xac, 0xff, 0xfe, 0x11, 0, 2])
        #expect(i.gateway4 == [172, 17, 0, 1])
        #expect(i.gateway6 == [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(LinkConfiguration.encode(i) == Self.text)
        var bare = i
        bare.addresses = [bare.addresses[0]]
        bare.gateway4 = nil
        bare.gateway6 = nil
        bare.isUp = false
        #expect(LinkConfiguration.encode(bare) == "name=eth0,index=7,mtu=1500,up=0,mac=02:42:ac:11:00:02,addr=172.17.0.2/16")
        #expect(try LinkConfiguration.decode(LinkConfiguration.encode(bare)) == bare)
    }

    @Test(arguments: [
        "",                                                            // nothing
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02",            // no IPv4 address
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=fd00::2/64",
        "name=eth0,index=0,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2/24",
        "name=eth0,index=7,mtu=20,mac=02:42:ac:11:00:02,addr=10.0.0.2/24",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00,addr=10.0.0.2/24",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:zz,addr=10.0.0.2/24",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2/33",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.256/24",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2/24,gw4=fe80::1",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2/24,colour=blue",
        "name=../x,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2/24",
        "name=eth0,index=7,mtu=1500,mac=02:42:ac:11:00:02,addr=10.0.0.2/24,",
        "garbage",
    ])
    func malformedConfigurationsAreRefused(_ text: String) {
        #expect(throws: LinkConfiguration.ParseError.self) { try LinkConfiguration.decode(text) }
    }

    /// Options that do not make a hand-off: each is a set-up error with a message, never a crash.
    @Test func handedOverOptionsAreChecked() throws {
        let config = Self.text
        #expect(try HandedOverLink.parse(linkFD: nil, transmitFD: nil, config: nil, interface: "eth0") == nil)
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: nil, transmitFD: "5", config: nil, interface: nil) }
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: "5", transmitFD: nil, config: nil, interface: nil) }
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: "x", transmitFD: nil, config: config, interface: nil) }
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: "1", transmitFD: nil, config: config, interface: nil) }
        // A descriptor that is not an AF_PACKET socket (a Unix socket, a pipe, a closed number).
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let error = #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: String(pair[0]), transmitFD: nil, config: config, interface: nil) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("AF_PACKET"), "\(String(describing: error))")
        var pipeFDs: [Int32] = [-1, -1]
        #expect(pipe(&pipeFDs) == 0)
        defer { close(pipeFDs[0]); close(pipeFDs[1]) }
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: String(pipeFDs[0]), transmitFD: nil, config: config, interface: nil) }
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: "999", transmitFD: nil, config: config, interface: nil) }
    }

    /// An AF_PACKET socket is accepted (root: CAP_NET_RAW); --interface must agree with the configuration.
    @Test(.enabled(if: geteuid() == 0, "AF_PACKET needs CAP_NET_RAW")) func packetSocketIsAccepted() throws {
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd > 2)
        defer { close(fd) }
        let config = Self.text
        let link = try #require(try HandedOverLink.parse(linkFD: String(fd), transmitFD: nil, config: config, interface: "eth0"))
        let expected = try LinkConfiguration.decode(Self.text)
        #expect(link.receiveFD == fd && link.transmitFD == nil && link.interface == expected)
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: String(fd), transmitFD: String(fd), config: config, interface: nil) }
        #expect(throws: (any Error).self) { try HandedOverLink.parse(linkFD: String(fd), transmitFD: nil, config: config, interface: "eth1") }
    }
}

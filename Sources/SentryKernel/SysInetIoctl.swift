// The interface ioctls on IP sockets (SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFNETMASK,
// SIOCGIFBRDADDR, SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFTXQLEN), answered from the
// netstack's interface list. struct ifreq is 40 bytes: a 16-byte name, then a 24-byte union.
import Glibc
import Protocol

extension Task {
    func netInterfaces() -> KResult<Netstack.InterfacesReply> {
        switch NetstackConnection.get(kernel) {
        case .failure(let e): return .failure(e)
        case .success(let c): return c.call(Netstack.Interfaces())
        }
    }

    private func sockaddrIn(_ a: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        out[0] = 2
        for (i, b) in a.prefix(4).enumerated() { out[4 + i] = b }
        return out
    }

    static func netmask(_ prefix: Int) -> [UInt8] {
        let m: UInt32 = prefix <= 0 ? 0 : prefix >= 32 ? UInt32.max : ~(UInt32.max >> UInt32(prefix))
        return [UInt8(m >> 24), UInt8(m >> 16 & 0xff), UInt8(m >> 8 & 0xff), UInt8(m & 0xff)]
    }

    func interfaceIoctl(_ cmd: UInt64, _ arg: UInt64) -> Int {
        let known: Set<UInt64> = [0x8912, 0x8913, 0x8915, 0x891b, 0x8919, 0x8933, 0x8910, 0x8921, 0x8927, 0x8942]
        guard known.contains(cmd) else { return -Int(ENOTTY) }
        let list: [Netstack.Interface]
        switch netInterfaces() { case .failure(let e): return errno(e); case .success(let r): list = r.interfaces }
        if cmd == 0x8912 {   // SIOCGIFCONF: struct ifconf { int len; char *buf; }, one ifreq per IPv4 address
            guard let len = mm.read(arg, as: Int32.self), let buf = mm.read(arg + 8, as: UInt64.self) else { return errno(EFAULT) }
            var out: [UInt8] = []
            for i in list {
                for a in i.addresses where a.family == 2 {
                    var name = Array(i.name.utf8.prefix(15))
                    name += [UInt8](repeating: 0, count: 16 - name.count)
                    out += name + sockaddrIn(a.address) + [UInt8](repeating: 0, count: 8)
                }
            }
            if buf == 0 { return mm.write(arg, Int32(out.count)) ? 0 : errno(EFAULT) }
            let fit = min(out.count, Int(max(0, len)) / 40 * 40)
            if fit > 0 && !out.withUnsafeBytes({ mm.copyOut(buf, $0.baseAddress!, fit) }) { return errno(EFAULT) }
            return mm.write(arg, Int32(fit)) ? 0 : errno(EFAULT)
        }
        guard let req = mm.readBytes(arg, 40) else { return errno(EFAULT) }
        if cmd == 0x8910 {   // SIOCGIFNAME: index -> name
            let index = req.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: Int32.self) }
            guard let i = list.first(where: { Int32(bitPattern: $0.index) == index }) else { return errno(ENODEV) }
            var name = Array(i.name.utf8.prefix(15))
            name += [UInt8](repeating: 0, count: 16 - name.count)
            return name.withUnsafeBytes { mm.copyOut(arg, $0.baseAddress!, 16) } ? 0 : errno(EFAULT)
        }
        let nameBytes = req[0..<16].prefix { $0 != 0 }
        guard let i = list.first(where: { Array($0.name.utf8) == Array(nameBytes) }) else { return errno(ENODEV) }
        var value: [UInt8]
        let v4 = i.addresses.first { $0.family == 2 }
        switch cmd {
        case 0x8913: value = withUnsafeBytes(of: UInt16(truncatingIfNeeded: i.flags)) { Array($0) }      // SIOCGIFFLAGS
        case 0x8915: guard let a = v4 else { return errno(EADDRNOTAVAIL) }; value = sockaddrIn(a.address) // SIOCGIFADDR
        case 0x891b: guard let a = v4 else { return errno(EADDRNOTAVAIL) }; value = sockaddrIn(Task.netmask(Int(a.prefixLength)))
        case 0x8919:                                                                                          // SIOCGIFBRDADDR
            guard let a = v4 else { return errno(EADDRNOTAVAIL) }
            let m = Task.netmask(Int(a.prefixLength))
            value = sockaddrIn((0..<4).map { a.address[$0] | ~m[$0] })
        case 0x8933: value = withUnsafeBytes(of: Int32(bitPattern: i.index)) { Array($0) }                 // SIOCGIFINDEX
        case 0x8921: value = withUnsafeBytes(of: Int32(bitPattern: i.mtu)) { Array($0) }                   // SIOCGIFMTU
        case 0x8942: value = withUnsafeBytes(of: Int32(1000)) { Array($0) }                                // SIOCGIFTXQLEN
        case 0x8927:                                                                                          // SIOCGIFHWADDR
            let family: UInt16 = i.flags & 8 != 0 ? 772 : 1    // ARPHRD_LOOPBACK, ARPHRD_ETHER
            value = withUnsafeBytes(of: family) { Array($0) } + i.hardwareAddress.prefix(6) + [UInt8](repeating: 0, count: 8)
        default: return errno(ENOTTY)
        }
        return value.withUnsafeBytes { mm.copyOut(arg + 16, $0.baseAddress!, min(24, value.count)) } ? 0 : errno(EFAULT)
    }
}

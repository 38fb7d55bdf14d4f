// AF_NETLINK NETLINK_ROUTE sockets: RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE dumps answered from the
// netstack's interface list (enough for getifaddrs, if_nameindex, `ip addr`, `ip route`). Requests
// that would change the network (RTM_NEW*, RTM_DEL*) are refused with EPERM in an NLMSG_ERROR, and
// other netlink protocols are refused at socket().
import Glibc
import Protocol

let AF_NETLINK_: Int32 = 16

final class NetlinkSocket: FileDescription {
    var portID: UInt32 = 0
    /// Reply datagrams not yet read.
    var queue: [[UInt8]] = []
    var rcvTimeoutNs = 0

    override init(flags: Int32) { super.init(flags: O_RDWR | flags) }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFSOCK | 0o777
        st.st_nlink = 1
        st.st_dev = 8
        st.st_blksize = 4096
        return 0
    }

    override func poll(_ events: Int16) -> Int16 { (queue.isEmpty ? POLLOUT_ : POLLIN_ | POLLOUT_) & events }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int { receive(t, buf, flags: 0).0 }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { t.netlinkRequest(self, Array(buf)) }

    /// (bytes copied or -errno, the datagram's full length).
    func receive(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, flags: Int32) -> (Int, Int) {
        let deadline = rcvTimeoutNs > 0 ? addNanos(monotonicNow(), rcvTimeoutNs) : nil
        while queue.isEmpty {
            if nonblocking || flags & MSG_DONTWAIT_ != 0 { return (-Int(EAGAIN), 0) }
            if let d = deadline, !lessThan(monotonicNow(), d) { return (-Int(EAGAIN), 0) }
            if !t.block(deadline: deadline) { return (-ERESTARTSYS, 0) }
        }
        let d = queue[0]
        let n = min(d.count, buf.count)
        if n > 0 { d.withUnsafeBytes { _ = memcpy(buf.baseAddress!, $0.baseAddress!, n) } }
        if flags & MSG_PEEK_ == 0 { queue.removeFirst() }
        return (n, d.count)
    }
}

/// Builds netlink messages: header, fixed part, then rtattrs, each padded to 4 bytes.
struct NetlinkWriter {
    var bytes: [UInt8] = []
    var start = 0

    mutating func begin(type: UInt16, flags: UInt16, seq: UInt32, pid: UInt32) {
        start = bytes.count
        put(UInt32(0)); put(type); put(flags); put(seq); put(pid)
    }
    mutating func put<T>(_ v: T) { withUnsafeBytes(of: v) { bytes += $0 } }
    mutating func attr(_ type: UInt16, _ data: [UInt8]) {
        put(UInt16(4 + data.count)); put(type)
        bytes += data
        pad()
    }
    mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }
    mutating func end() {
        let len = UInt32(bytes.count - start)
        withUnsafeBytes(of: len) { bytes.replaceSubrange(start..<(start + 4), with: $0) }
    }
}

extension Task {
    func netlinkSocket(_ type: Int32, _ proto: Int32) -> Int {
        guard type & ~(0xf | SOCK_NONBLOCK_ | SOCK_CLOEXEC_) == 0 else { return errno(EINVAL) }
        let base = type & 0xf
        guard base == 3 || base == SOCK_DGRAM_ else { return errno(ESOCKTNOSUPPORT) }   // SOCK_RAW or SOCK_DGRAM
        guard proto == 0 else {   // NETLINK_ROUTE only
            if reportedSocketFamilies.insert(AF_NETLINK_ << 8 | proto).inserted {
                kernel.log("bulwark-sentry: netlink protocol \(proto) not supported -> EPROTONOSUPPORT\n")
            }
            return errno(EPROTONOSUPPORT)
        }
        let s = NetlinkSocket(flags: type & SOCK_NONBLOCK_ != 0 ? O_NONBLOCK : 0)
        return fds.install(s, cloexec: type & SOCK_CLOEXEC_ != 0)
    }

    func netlinkBind(_ s: NetlinkSocket, _ addr: UInt64, _ len: Int) -> Int {
        guard len >= 12 else { return errno(EINVAL) }
        guard let raw = mm.readBytes(addr, 12) else { return errno(EFAULT) }
        guard raw[0] == 16 && raw[1] == 0 else { return errno(EINVAL) }
        let pid = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
        s.portID = pid != 0 ? pid : UInt32(bitPattern: tg.pid)
        return 0
    }

    func netlinkName(_ s: NetlinkSocket, _ addr: UInt64, _ lenAddr: UInt64, peer: Bool) -> Int {
        var out = [UInt8](repeating: 0, count: 12)
        out[0] = 16
        if !peer { withUnsafeBytes(of: s.portID) { out.replaceSubrange(4..<8, with: $0) } }
        guard let avail = mm.read(lenAddr, as: Int32.self) else { return errno(EFAULT) }
        let k = min(Int(max(0, avail)), 12)
        if k > 0 && !out.withUnsafeBytes({ mm.copyOut(addr, $0.baseAddress!, k) }) { return errno(EFAULT) }
        return mm.write(lenAddr, Int32(12)) ? 0 : errno(EFAULT)
    }

    func netlinkSend(_ s: NetlinkSocket, _ vecs: [(UInt64, Int)]) -> Int {
        guard let data = gather(vecs, limit: 1 << 20) else { return errno(EFAULT) }
        return netlinkRequest(s, data)
    }

    func netlinkReceive(_ s: NetlinkSocket, _ vecs: [(UInt64, Int)], _ flags: Int32) -> (Int, Int) {
        let total = min(vecs.reduce(0) { $0 + $1.1 }, maxIO)
        let tmp = scratch(total)
        let (n, full) = s.receive(self, tmp, flags: flags)
        if n < 0 { return (n, 0) }
        var done = 0
        for v in vecs where done < n {
            let k = min(v.1, n - done)
            if k > 0 && !mm.copyOut(v.0, tmp.baseAddress! + done, k) { return (errno(EFAULT), 0) }
            done += k
        }
        return (n, full)
    }

    func netlinkRecvmsg(_ s: NetlinkSocket, _ msg: UInt64, _ flags: Int32) -> Int {
        guard let hdr = mm.readBytes(msg, 56) else { return errno(EFAULT) }
        func u64(_ o: Int) -> UInt64 { hdr.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        let iovLen = Int(u64(24))
        guard iovLen >= 0 && iovLen <= 1024 else { return errno(EMSGSIZE) }
        guard let vecs = readIovecs(u64(16), iovLen) else { return errno(EFAULT) }
        let (n, full) = netlinkReceive(s, vecs, flags)
        if n < 0 { return n }
        let name = u64(0)
        if name != 0 {
            var sa = [UInt8](repeating: 0, count: 12)
            sa[0] = 16
            let k = min(Int(UInt32(truncatingIfNeeded: u64(8))), 12)
            if k > 0 { _ = sa.withUnsafeBytes { mm.copyOut(name, $0.baseAddress!, k) } }
            _ = mm.write(msg + 8, UInt32(12))
        }
        _ = mm.write(msg + 40, UInt64(0))
        _ = mm.write(msg + 48, full > n ? MSG_TRUNC_ : Int32(0))
        return flags & MSG_TRUNC_ != 0 ? full : n
    }

    /// Handles every nlmsghdr in `data`; replies are queued. Returns the bytes "sent".
    func netlinkRequest(_ s: NetlinkSocket, _ data: [UInt8]) -> Int {
        if s.portID == 0 { s.portID = UInt32(bitPattern: tg.pid) }
        var off = 0
        while off + 16 <= data.count {
            let (len, type, flags, seq) = data.withUnsafeBytes { b in
                (Int(b.loadUnaligned(fromByteOffset: off, as: UInt32.self)), b.loadUnaligned(fromByteOffset: off + 4, as: UInt16.self),
                 b.loadUnaligned(fromByteOffset: off + 6, as: UInt16.self), b.loadUnaligned(fromByteOffset: off + 8, as: UInt32.self))
            }
            guard len >= 16 && off + len <= data.count else { break }
            let family: UInt8 = len > 16 ? data[off + 16] : 0
            let header = Array(data[off..<(off + 16)])
            var replies: [[UInt8]] = []
            switch type {
            case 18, 22, 26 where flags & 0x300 != 0:   // RTM_GETLINK / GETADDR / GETROUTE dumps
                switch netInterfaces() {
                case .failure(let e): replies = [netlinkError(-e, header, seq, s.portID)]
                case .success(let r): replies = netlinkDump(type, family: family, r, seq: seq, pid: s.portID)
                }
            case 18, 22, 26:
                replies = [netlinkError(-EOPNOTSUPP, header, seq, s.portID)]
            default:
                replies = [netlinkError(type >= 16 && type < 100 ? -EPERM : -EOPNOTSUPP, header, seq, s.portID)]
            }
            s.queue += replies
            off += (len + 3) & ~3
        }
        kernel.broadcast()
        return data.count
    }

    private func netlinkError(_ err: Int32, _ header: [UInt8], _ seq: UInt32, _ pid: UInt32) -> [UInt8] {
        var w = NetlinkWriter()
        w.begin(type: 2, flags: 0, seq: seq, pid: pid)   // NLMSG_ERROR
        w.put(err)
        w.bytes += header
        w.end()
        return w.bytes
    }

    /// The dump as datagrams of at most 4 KiB (what libc reads at once), NLMSG_DONE last.
    private func netlinkDump(_ type: UInt16, family: UInt8, _ r: Netstack.InterfacesReply, seq: UInt32, pid: UInt32) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        let multi: UInt16 = 2
        switch type {
        case 18:
            for i in r.interfaces {
                var w = NetlinkWriter()
                w.begin(type: 16, flags: multi, seq: seq, pid: pid)   // RTM_NEWLINK, ifinfomsg
                let loop = i.flags & 8 != 0
                w.put(UInt8(0)); w.put(UInt8(0)); w.put(UInt16(loop ? 772 : 1)); w.put(Int32(bitPattern: i.index)); w.put(i.flags | 0x10000); w.put(UInt32(0))   // + IFF_LOWER_UP
                w.attr(3, Array(i.name.utf8) + [0])                                      // IFLA_IFNAME
                w.attr(4, withUnsafeBytes(of: i.mtu) { Array($0) })                     // IFLA_MTU
                w.attr(13, withUnsafeBytes(of: UInt32(loop ? 1000 : 1000)) { Array($0) }) // IFLA_TXQLEN
                w.attr(16, [loop ? 0 : 6])                                              // IFLA_OPERSTATE: unknown / up
                w.attr(1, Array(i.hardwareAddress.prefix(6)))                           // IFLA_ADDRESS
                w.attr(2, loop ? [0, 0, 0, 0, 0, 0] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])  // IFLA_BROADCAST
                w.end()
                messages.append(w.bytes)
            }
        case 22:
            for i in r.interfaces {
                for a in i.addresses where family == 0 || UInt16(family) == a.family {
                    var w = NetlinkWriter()
                    w.begin(type: 20, flags: multi, seq: seq, pid: pid)   // RTM_NEWADDR, ifaddrmsg
                    let loop = i.flags & 8 != 0
                    let linkLocal = a.family == 10 && a.address.count == 16 && a.address[0] == 0xfe && a.address[1] & 0xc0 == 0x80
                    let scope: UInt8 = loop ? 254 : linkLocal ? 253 : 0
                    w.put(UInt8(truncatingIfNeeded: a.family)); w.put(a.prefixLength); w.put(UInt8(0x80)); w.put(scope); w.put(i.index)
                    w.attr(1, a.address)                                                 // IFA_ADDRESS
                    if a.family == 2 {
                        w.attr(2, a.address)                                             // IFA_LOCAL
                        if !loop {
                            let m = Task.netmask(Int(a.prefixLength))
                            w.attr(4, (0..<4).map { a.address[$0] | ~m[$0] })          // IFA_BROADCAST
                        }
                        w.attr(3, Array(i.name.utf8) + [0])                              // IFA_LABEL
                    }
                    w.attr(8, withUnsafeBytes(of: UInt32(0x80)) { Array($0) })          // IFA_FLAGS: permanent
                    w.end()
                    messages.append(w.bytes)
                }
            }
        default:
            if family == 0 || family == 2 {
                for rt in r.routes {
                    var w = NetlinkWriter()
                    w.begin(type: 24, flags: multi, seq: seq, pid: pid)   // RTM_NEWROUTE, rtmsg
                    let direct = rt.gateway.isEmpty
                    w.put(UInt8(2)); w.put(rt.prefixLength); w.put(UInt8(0)); w.put(UInt8(0))
                    w.put(UInt8(254)); w.put(UInt8(direct ? 2 : 3)); w.put(UInt8(direct ? 253 : 0)); w.put(UInt8(1)); w.put(UInt32(0))
                    w.attr(15, withUnsafeBytes(of: UInt32(254)) { Array($0) })          // RTA_TABLE main
                    if rt.prefixLength > 0 { w.attr(1, rt.destination) }                 // RTA_DST
                    if !direct { w.attr(5, rt.gateway) }                                 // RTA_GATEWAY
                    w.attr(4, withUnsafeBytes(of: rt.interface) { Array($0) })           // RTA_OIF
                    w.end()
                    messages.append(w.bytes)
                }
            }
        }
        var done = NetlinkWriter()
        done.begin(type: 3, flags: multi, seq: seq, pid: pid)   // NLMSG_DONE
        done.put(Int32(0))
        done.end()
        messages.append(done.bytes)
        var datagrams: [[UInt8]] = [[]]
        for m in messages {
            if !datagrams[datagrams.count - 1].isEmpty && datagrams[datagrams.count - 1].count + m.count > 4096 { datagrams.append([]) }
            datagrams[datagrams.count - 1] += m
        }
        return datagrams
    }
}

extension Task {
    func netlinkSendto(_ s: NetlinkSocket, _ buf: UInt64, _ len: Int) -> Int {
        guard len >= 0 else { return errno(EINVAL) }
        return netlinkSend(s, [(buf, len)])
    }

    func netlinkSendmsg(_ s: NetlinkSocket, _ msg: UInt64) -> Int {
        guard let hdr = mm.readBytes(msg, 56) else { return errno(EFAULT) }
        let iov = hdr.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
        let iovLen = Int(hdr.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self) })
        guard iovLen >= 0 && iovLen <= 1024 else { return errno(EMSGSIZE) }
        guard let vecs = readIovecs(iov, iovLen) else { return errno(EFAULT) }
        return netlinkSend(s, vecs)
    }

    func netlinkRecvfrom(_ s: NetlinkSocket, _ buf: UInt64, _ len: Int, _ flags: Int32, _ addr: UInt64, _ lenAddr: UInt64) -> Int {
        guard len >= 0 else { return errno(EINVAL) }
        let (n, full) = netlinkReceive(s, [(buf, len)], flags)
        if n < 0 { return n }
        if addr != 0 && lenAddr != 0 { _ = netlinkName(s, addr, lenAddr, peer: true) }
        return flags & MSG_TRUNC_ != 0 ? full : n
    }

    /// Options: the timeouts and buffer sizes are accepted (buffers have no limit here); the
    /// SOL_NETLINK ones libraries set (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK...) too.
    func netlinkSetsockopt(_ s: NetlinkSocket, _ level: Int32, _ opt: Int32, _ val: UInt64, _ len: Int) -> Int {
        if level == SOL_SOCKET_ && opt == 20 {
            guard len >= 16 else { return errno(EINVAL) }
            guard let sec = mm.read(val, as: Int.self), let usec = mm.read(val + 8, as: Int.self) else { return errno(EFAULT) }
            s.rcvTimeoutNs = sec < 0 ? 0 : sec * 1_000_000_000 + usec * 1000
            return 0
        }
        if level == SOL_SOCKET_ && [7, 8, 21, 32, 33, 16].contains(opt) { return 0 }
        if level == 270 { return 0 }
        return errno(ENOPROTOOPT)
    }

    func netlinkGetsockopt(_ s: NetlinkSocket, _ level: Int32, _ opt: Int32, _ val: UInt64, _ lenAddr: UInt64) -> Int {
        guard let avail = mm.read(lenAddr, as: Int32.self), avail >= 0 else { return errno(EFAULT) }
        let v: Int32
        switch (level, opt) {
        case (1, 3): v = 3            // SO_TYPE: SOCK_RAW
        case (1, 39): v = AF_NETLINK_ // SO_DOMAIN
        case (1, 38): v = 0           // SO_PROTOCOL: NETLINK_ROUTE
        case (1, 4): v = 0            // SO_ERROR
        case (1, 7), (1, 8): v = 212_992
        default: return errno(ENOPROTOOPT)
        }
        let k = min(Int(avail), 4)
        if k > 0 && !withUnsafeBytes(of: v, { mm.copyOut(val, $0.baseAddress!, k) }) { return errno(EFAULT) }
        return mm.write(lenAddr, Int32(k)) ? 0 : errno(EFAULT)
    }
}

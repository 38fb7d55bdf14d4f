// The socket system calls for AF_INET/AF_INET6 (InetSocket): SysSocket.swift hands over to these
// when the descriptor is an InetSocket or the family is an IP one.
import Glibc
import HostOS
import Protocol

extension Task {
    func inetSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int {
        guard type & ~(0xf | SOCK_NONBLOCK_ | SOCK_CLOEXEC_) == 0 else { return errno(EINVAL) }
        let base = type & 0xf
        guard base == SOCK_STREAM_ || base == SOCK_DGRAM_ else { return errno(base == 3 ? EPERM : ESOCKTNOSUPPORT) }
        let want: Int32 = base == SOCK_STREAM_ ? 6 : 17
        guard proto == 0 || proto == want else { return errno(EPROTONOSUPPORT) }
        let conn: NetstackConnection
        switch NetstackConnection.get(kernel) { case .failure(let e): return errno(e); case .success(let c): conn = c }
        guard let slot = conn.allocateSlot() else { return errno(ENFILE) }
        switch conn.call(Netstack.Socket(family: UInt32(domain), type: UInt32(base), protocol: UInt32(want), slot: UInt32(slot))) {
        case .failure(let e):
            conn.returnSlot(slot)
            return errno(e)
        case .success(let r):
            let s = InetSocket(conn: conn, handle: r.handle, slot: slot, family: domain, type: base, proto: want,
                               flags: type & SOCK_NONBLOCK_ != 0 ? O_NONBLOCK : 0)
            return fds.install(s, cloexec: type & SOCK_CLOEXEC_ != 0)
        }
    }

    /// Reads a sockaddr_in / sockaddr_in6 from the application.
    func readInetAddress(_ addr: UInt64, _ len: Int) -> KResult<Netstack.SocketAddress> {
        guard len >= 2 && len <= 128 else { return .failure(EINVAL) }
        guard let raw = mm.readBytes(addr, len) else { return .failure(EFAULT) }
        let family = UInt16(raw[0]) | UInt16(raw[1]) << 8
        func be16(_ o: Int) -> UInt16 { UInt16(raw[o]) << 8 | UInt16(raw[o + 1]) }
        func le32(_ o: Int) -> UInt32 { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) } }
        switch Int32(family) {
        case AF_INET_:
            guard len >= 16 else { return .failure(EINVAL) }
            return .success(.init(family: 2, port: be16(2), address: Array(raw[4..<8])))
        case AF_INET6_:
            guard len >= 24 else { return .failure(EINVAL) }
            return .success(.init(family: 10, port: be16(2), address: Array(raw[8..<24]), flowInfo: le32(4),
                                  scopeID: len >= 28 ? le32(24) : 0))
        case 0: return .failure(EAFNOSUPPORT)
        default: return .failure(EAFNOSUPPORT)
        }
    }

    func sockaddrBytes(_ a: Netstack.SocketAddress) -> [UInt8] {
        var out: [UInt8]
        if a.family == 10 {
            out = [UInt8](repeating: 0, count: 28)
            out[0] = 10
            out.replaceSubrange(8..<24, with: a.address.prefix(16) + [UInt8](repeating: 0, count: max(0, 16 - a.address.count)))
            withUnsafeBytes(of: a.flowInfo) { out.replaceSubrange(4..<8, with: $0) }
            withUnsafeBytes(of: a.scopeID) { out.replaceSubrange(24..<28, with: $0) }
        } else {
            out = [UInt8](repeating: 0, count: 16)
            out[0] = 2
            for (i, b) in a.address.prefix(4).enumerated() { out[4 + i] = b }
        }
        out[2] = UInt8(a.port >> 8); out[3] = UInt8(a.port & 0xff)
        return out
    }

    /// Writes a socket address and its full length (the *addrlen protocol of accept/getsockname).
    func writeInetAddress(_ a: Netstack.SocketAddress, _ addr: UInt64, _ lenAddr: UInt64) -> Int {
        guard addr != 0, lenAddr != 0 else { return 0 }
        guard let avail = mm.read(lenAddr, as: Int32.self) else { return errno(EFAULT) }
        guard avail >= 0 else { return errno(EINVAL) }
        let bytes = sockaddrBytes(a)
        let k = min(Int(avail), bytes.count)
        if k > 0 && !bytes.withUnsafeBytes({ mm.copyOut(addr, $0.baseAddress!, k) }) { return errno(EFAULT) }
        return mm.write(lenAddr, Int32(bytes.count)) ? 0 : errno(EFAULT)
    }

    func inetBind(_ s: InetSocket, _ addr: UInt64, _ len: Int) -> Int {
        let a: Netstack.SocketAddress
        switch readInetAddress(addr, len) { case .failure(let e): return errno(e); case .success(let x): a = x }
        if Int32(a.family) != s.family && !(s.family == AF_INET6_) { return errno(EAFNOSUPPORT) }
        switch s.conn.call(Netstack.Bind(handle: s.handle, address: a)) {
        case .failure(let e): return errno(e)
        case .success: s.bound = true; return 0
        }
    }

    func inetListen(_ s: InetSocket, _ backlog: Int32) -> Int {
        guard s.isStream else { return errno(EOPNOTSUPP) }
        switch s.conn.call(Netstack.Listen(handle: s.handle, backlog: max(1, min(backlog, 4096)))) {
        case .failure(let e): return errno(e)
        case .success:
            s.listening = true
            s.conn.startAcceptSlots(s)   // SysInetAccept.swift: accept(2) without round trips
            return 0
        }
    }

    func inetConnect(_ s: InetSocket, _ addr: UInt64, _ len: Int) -> Int {
        let a: Netstack.SocketAddress
        switch readInetAddress(addr, len) { case .failure(let e): return errno(e); case .success(let x): a = x }
        if !s.isStream {
            switch s.conn.call(Netstack.Connect(handle: s.handle, address: a)) {
            case .failure(let e): return errno(e)
            case .success: s.datagramConnected = true; s.bound = true; return 0
            }
        }
        let st = s.slot.state
        if st.contains(.connected) || s.everConnected { return errno(EISCONN) }
        if s.connectStarted && st.contains(.connecting) {
            if s.nonblocking { return errno(EALREADY) }
        } else {
            switch s.conn.call(Netstack.Connect(handle: s.handle, address: a)) {
            case .failure(let e) where e == EINPROGRESS: break
            case .failure(let e): return errno(e)
            case .success: break
            }
            s.connectStarted = true
            if s.nonblocking {
                if s.slot.state.contains(.connected) { s.everConnected = true; return 0 }
                return errno(EINPROGRESS)
            }
        }
        let dl = s.deadline(s.sndTimeoutNs)
        while true {
            if s.conn.dead { return errno(ENETDOWN) }
            let st = s.slot.state
            if st.contains(.connected) { s.everConnected = true; return 0 }
            if st.contains(.error) || (!st.contains(.connecting) && st.contains(.hup)) {
                let e = s.takeError()
                if e != 0 { return errno(e) }
                if !st.contains(.connecting) { return errno(ECONNREFUSED) }
            }
            if let r = s.wait(self, dl, timeoutResult: errno(EINPROGRESS)) { return r == -ERESTARTSYS ? errno(EINTR) : r }
        }
    }

    func inetGetName(_ s: InetSocket, _ addr: UInt64, _ lenAddr: UInt64, peer: Bool) -> Int {
        // An accepted connection's peer, known from accept, while the slot says connected (the netstack
        // would answer the same; once closed it says ENOTCONN): servers ask right after accept.
        if peer, let p = s.acceptedPeer, !s.conn.dead, s.slot.state.contains(.connected) {
            return writeInetAddress(p, addr, lenAddr)
        }
        switch s.conn.call(Netstack.GetName(handle: s.handle, peer: peer)) {
        case .failure(let e): return errno(e)
        case .success(let r): return writeInetAddress(r.address, addr, lenAddr)
        }
    }

    func inetShutdown(_ s: InetSocket, _ how: Int32) -> Int {
        guard how >= 0 && how <= 2 else { return errno(EINVAL) }
        // Stopping a listener: accept stops popping records before the netstack takes the ring back
        // (the call releases the kernel lock; the ring has one consumer at a time).
        let stopping = s.listening && how != 1
        if stopping { s.listening = false }
        switch s.conn.call(Netstack.Shutdown(handle: s.handle, how: how)) {
        case .failure(let e):
            if stopping { s.listening = true }
            return errno(e)
        case .success:
            if stopping {
                // The netstack stopped the listener and released its accept slots (SysInetAccept.swift).
                if let spare = s.acceptSpare { s.conn.retireAcceptSlots(spare) }
                s.acceptSpare = nil
                kernel.broadcast()   // a blocked accept fails with EINVAL
                return 0
            }
            if how != 1 { s.shutRead = true }
            if how != 0 { s.shutWrite = true }
            kernel.broadcast()
            return 0
        }
    }

    // MARK: data

    func inetSendto(_ s: InetSocket, _ buf: UInt64, _ len: Int, _ flags: Int32, _ addr: UInt64, _ addrLen: Int) -> Int {
        guard len >= 0 else { return errno(EINVAL) }
        return inetSend(s, [(buf, len)], flags, addr, addrLen)
    }

    func inetSend(_ s: InetSocket, _ vecs: [(UInt64, Int)], _ flags: Int32, _ addr: UInt64, _ addrLen: Int) -> Int {
        var to: DatagramHeader? = nil
        if addr != 0 && addrLen != 0 && !s.isStream {
            switch readInetAddress(addr, addrLen) {
            case .failure(let e): return errno(e)
            case .success(let a): to = DatagramHeader(length: 0, family: a.family, port: a.port, address: a.address)
            }
        }
        let total = min(vecs.reduce(0) { $0 + $1.1 }, maxIO)
        let tmp = scratch(total)
        var off = 0
        for v in vecs where off < total {
            let n = min(v.1, total - off)
            if n > 0 && !mm.copyIn(v.0, tmp.baseAddress! + off, n) { return errno(EFAULT) }
            off += n
        }
        return s.send(self, UnsafeRawBufferPointer(rebasing: tmp[0..<total]), flags: flags, to: to)
    }

    func inetRecvfrom(_ s: InetSocket, _ buf: UInt64, _ len: Int, _ flags: Int32, _ addr: UInt64, _ lenAddr: UInt64) -> Int {
        guard len >= 0 else { return errno(EINVAL) }
        let r = inetReceive(s, [(buf, len)], flags)
        if r.0 < 0 { return r.0 }
        if addr != 0 && lenAddr != 0 {
            if let a = r.2 { let w = writeInetAddress(a, addr, lenAddr); if w < 0 { return w } }
            else { _ = mm.write(lenAddr, Int32(0)) }
        }
        return flags & MSG_TRUNC_ != 0 && !s.isStream ? r.1 : r.0
    }

    /// (bytes copied or -errno, full datagram length, sender address for datagrams).
    func inetReceive(_ s: InetSocket, _ vecs: [(UInt64, Int)], _ flags: Int32) -> (Int, Int, Netstack.SocketAddress?) {
        let total = min(vecs.reduce(0) { $0 + $1.1 }, maxIO)
        let tmp = scratch(total)
        var from = DatagramHeader(length: 0, family: 0, port: 0, address: [])
        let (n, full) = s.receive(self, UnsafeMutableRawBufferPointer(rebasing: tmp[0..<total]), flags: flags, from: &from)
        if n < 0 { return (n, 0, nil) }
        var done = 0
        for v in vecs where done < n {
            let k = min(v.1, n - done)
            if k > 0 && !mm.copyOut(v.0, tmp.baseAddress! + done, k) { return (errno(EFAULT), 0, nil) }
            done += k
        }
        var peer: Netstack.SocketAddress? = nil
        if !s.isStream && from.family != 0 {
            peer = Netstack.SocketAddress(family: from.family, port: from.port, address: from.addressBytes)
            if s.family == AF_INET6_ && from.family == 2 {   // IPv4 sender on a dual-stack socket: v4-mapped
                peer = Netstack.SocketAddress(family: 10, port: from.port, address: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + from.addressBytes)
            }
        }
        return (n, full, peer)
    }

    /// struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
    func inetSendmsg(_ s: InetSocket, _ msg: UInt64, _ flags: Int32) -> Int {
        guard let hdr = mm.readBytes(msg, 56) else { return errno(EFAULT) }
        func u64(_ o: Int) -> UInt64 { hdr.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        let name = u64(0), nameLen = Int(UInt32(truncatingIfNeeded: u64(8)))
        let iovLen = Int(u64(24))
        guard iovLen >= 0 && iovLen <= 1024 else { return errno(EMSGSIZE) }
        guard let vecs = readIovecs(u64(16), iovLen) else { return errno(EFAULT) }
        return inetSend(s, vecs, flags, name, nameLen)
    }

    func inetRecvmsg(_ s: InetSocket, _ msg: UInt64, _ flags: Int32) -> Int {
        guard let hdr = mm.readBytes(msg, 56) else { return errno(EFAULT) }
        func u64(_ o: Int) -> UInt64 { hdr.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        let name = u64(0)
        let iovLen = Int(u64(24))
        guard iovLen >= 0 && iovLen <= 1024 else { return errno(EMSGSIZE) }
        guard let vecs = readIovecs(u64(16), iovLen) else { return errno(EFAULT) }
        let r = inetReceive(s, vecs, flags)
        if r.0 < 0 { return r.0 }
        if name != 0 {
            if let a = r.2 {
                let bytes = sockaddrBytes(a)
                let k = min(Int(UInt32(truncatingIfNeeded: u64(8))), bytes.count)
                if k > 0 { _ = bytes.withUnsafeBytes { mm.copyOut(name, $0.baseAddress!, k) } }
                _ = mm.write(msg + 8, UInt32(bytes.count))
            } else {
                _ = mm.write(msg + 8, UInt32(0))
            }
        }
        _ = mm.write(msg + 40, UInt64(0))   // no control messages
        let truncated = !s.isStream && r.1 > r.0
        _ = mm.write(msg + 48, truncated ? MSG_TRUNC_ : Int32(0))
        return flags & MSG_TRUNC_ != 0 && !s.isStream ? r.1 : r.0
    }
}

// `--network host`: the raw host-socket calls of HostSocketService, with the sockaddr conversions they
// need. Every pointer here points into a local sockaddr_storage or a caller's buffer, bounded by the
// length passed beside it.
import Glibc
import Protocol

/// A value or the host errno.
enum HostResult<T> {
    case ok(T)
    case fail(Int32)
}

enum HostSocketCalls {

    /// Netstack.SocketAddress -> sockaddr (in a sockaddr_storage) and its length; nil: bad address.
    static func withSockaddr<T>(_ a: Netstack.SocketAddress, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
        var ss = sockaddr_storage()
        let len: socklen_t
        switch (a.family, a.address.count) {
        case (2, 4):
            len = socklen_t(MemoryLayout<sockaddr_in>.size)
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            withUnsafeMutableBytes(of: &ss) { raw in
                let p = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                p.pointee.sin_family = sa_family_t(AF_INET)
                p.pointee.sin_port = a.port.bigEndian
                withUnsafeMutableBytes(of: &p.pointee.sin_addr) { $0.copyBytes(from: a.address) }
            }
        case (10, 16):
            len = socklen_t(MemoryLayout<sockaddr_in6>.size)
            // SAFETY: as above, for sockaddr_in6.
            withUnsafeMutableBytes(of: &ss) { raw in
                let p = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                p.pointee.sin6_family = sa_family_t(AF_INET6)
                p.pointee.sin6_port = a.port.bigEndian
                p.pointee.sin6_flowinfo = a.flowInfo
                p.pointee.sin6_scope_id = a.scopeID
                withUnsafeMutableBytes(of: &p.pointee.sin6_addr) { $0.copyBytes(from: a.address) }
            }
        default:
            return nil
        }
        return withUnsafePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) }
        }
    }

    /// A sockaddr the kernel filled -> Netstack.SocketAddress (family 0 for anything else).
    static func address(_ ss: sockaddr_storage) -> Netstack.SocketAddress {
        var ss = ss
        return withUnsafeBytes(of: &ss) { raw in
            let family = raw.load(as: sa_family_t.self)
            if Int32(family) == AF_INET {
                let p = raw.load(as: sockaddr_in.self)
                var addr = p.sin_addr
                return .init(family: 2, port: UInt16(bigEndian: p.sin_port), address: withUnsafeBytes(of: &addr) { Array($0) })
            }
            if Int32(family) == AF_INET6 {
                let p = raw.load(as: sockaddr_in6.self)
                var addr = p.sin6_addr
                return .init(family: 10, port: UInt16(bigEndian: p.sin6_port), address: withUnsafeBytes(of: &addr) { Array($0) },
                             flowInfo: p.sin6_flowinfo, scopeID: p.sin6_scope_id)
            }
            return Netstack.SocketAddress()
        }
    }

    static func bind(_ fd: Int32, _ a: Netstack.SocketAddress) -> Int32 {
        withSockaddr(a) { p, l in Glibc.bind(fd, p, l) < 0 ? errno : 0 } ?? EAFNOSUPPORT
    }

    static func connect(_ fd: Int32, _ a: Netstack.SocketAddress) -> Int32 {
        withSockaddr(a) { p, l in Glibc.connect(fd, p, l) < 0 ? errno : 0 } ?? EAFNOSUPPORT
    }

    /// getsockname / getpeername.
    static func name(_ fd: Int32, peer: Bool) -> HostResult<Netstack.SocketAddress> {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len) }
        }
        return r < 0 ? .fail(errno) : .ok(address(ss))
    }

    /// accept: the new descriptor and the peer. It is blocking, but every send and recv on it passes
    /// MSG_DONTWAIT, and the netstack never execs (so no O_NONBLOCK/O_CLOEXEC, nor fcntl, is needed).
    static func accept(_ fd: Int32) -> HostResult<(Int32, Netstack.SocketAddress)> {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
        }
        return r < 0 ? .fail(errno) : .ok((r, address(ss)))
    }

    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ v: Int32) -> Int32 {
        var v = v
        return setsockopt(fd, level, name, &v, socklen_t(4)) < 0 ? errno : 0
    }

    static func getInt(_ fd: Int32, _ level: Int32, _ name: Int32) -> HostResult<Int32> {
        var v: Int32 = 0
        var len = socklen_t(4)
        return getsockopt(fd, level, name, &v, &len) < 0 ? .fail(errno) : .ok(v)
    }

    /// getsockopt into a buffer of `size` bytes (TCP_INFO): what the kernel wrote.
    static func getBytes(_ fd: Int32, _ level: Int32, _ name: Int32, size: Int) -> HostResult<[UInt8]> {
        var buf = [UInt8](repeating: 0, count: max(0, min(size, 4096)))
        var len = socklen_t(buf.count)
        let r = buf.withUnsafeMutableBytes { getsockopt(fd, level, name, $0.baseAddress, &len) }
        return r < 0 ? .fail(errno) : .ok(Array(buf.prefix(Int(len))))
    }

    /// send(MSG_DONTWAIT|MSG_NOSIGNAL) of a ring span: bytes sent or -errno.
    static func send(_ fd: Int32, _ b: UnsafeRawBufferPointer) -> Int {
        let n = Glibc.send(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
        return n < 0 ? -Int(errno) : n
    }

    /// recv(MSG_DONTWAIT) into a ring span: bytes, 0 at end of stream, or -errno.
    static func recv(_ fd: Int32, _ b: UnsafeMutableRawBufferPointer) -> Int {
        let n = Glibc.recv(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT))
        return n < 0 ? -Int(errno) : n
    }

    /// One datagram to `to` (nil: the connected peer): 0 or errno.
    static func sendDatagram(_ fd: Int32, _ payload: [UInt8], to: Netstack.SocketAddress?) -> Int32 {
        payload.withUnsafeBytes { b in
            guard let to else {
                return Glibc.send(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)) < 0 ? errno : 0
            }
            return withSockaddr(to) { p, l in
                sendto(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), p, l) < 0 ? errno : 0
            } ?? EAFNOSUPPORT
        }
    }

    /// The next datagram's size without taking it (nil: none queued, or an error in `error`).
    static func peekDatagramSize(_ fd: Int32, error: inout Int32) -> Int? {
        var byte: UInt8 = 0
        let n = Glibc.recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK) | Int32(MSG_TRUNC))
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK { error = errno }
            return nil
        }
        return n
    }

    /// Takes the next datagram (the caller checked its size): payload and sender.
    static func receiveDatagram(_ fd: Int32, size: Int) -> ([UInt8], Netstack.SocketAddress)? {
        var buf = [UInt8](repeating: 0, count: max(1, size))
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = buf.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &ss) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len) }
            }
        }
        guard n >= 0 else { return nil }
        return (Array(buf.prefix(n)), address(ss))
    }
}

// The Linux kernel's own sockets, for the peer side of interop tests. Every wait is bounded by a
// deadline. SAFETY: sockaddr_in is built and passed by pointer only for the duration of each call.
import Foundation
import Glibc

struct KernelSocketError: Error, CustomStringConvertible { var description: String }

final class KernelSocket: @unchecked Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { Glibc.close(fd) }

    static func address(_ ip: String, _ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        inet_pton(AF_INET, ip, &a.sin_addr)
        return a
    }

    static func make(_ type: Int32) throws -> KernelSocket {
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw KernelSocketError(description: "socket: errno \(errno)") }
        return KernelSocket(fd: fd)
    }

    /// A non-blocking TCP connect, waited for until `timeout`.
    static func connectTCP(_ ip: String, _ port: UInt16, timeout: Double = 5) throws -> KernelSocket {
        let s = try make(Int32(SOCK_STREAM.rawValue))
        var a = address(ip, port)
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(s.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 && errno != EINPROGRESS { throw KernelSocketError(description: "connect: errno \(errno)") }
        guard try s.wait(Int16(POLLOUT), until: Date().addingTimeInterval(timeout)) else {
            throw KernelSocketError(description: "connect to \(ip):\(port) timed out")
        }
        var err: Int32 = 0
        var len = socklen_t(4)
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len)
        if err != 0 { throw KernelSocketError(description: "connect to \(ip):\(port): errno \(err)") }
        return s
    }

    static func listenTCP(_ ip: String, _ port: UInt16) throws -> KernelSocket {
        let s = try make(Int32(SOCK_STREAM.rawValue))
        var one: Int32 = 1
        setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        try s.bind(ip, port)
        guard Glibc.listen(s.fd, 64) == 0 else { throw KernelSocketError(description: "listen: errno \(errno)") }
        return s
    }

    static func udp(_ ip: String, _ port: UInt16 = 0) throws -> KernelSocket {
        let s = try make(Int32(SOCK_DGRAM.rawValue))
        try s.bind(ip, port)
        return s
    }

    func bind(_ ip: String, _ port: UInt16) throws {
        var a = KernelSocket.address(ip, port)
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw KernelSocketError(description: "bind \(ip):\(port): errno \(errno)") }
    }

    /// True when `events` happened before `deadline`.
    func wait(_ events: Int16, until deadline: Date) throws -> Bool {
        while true {
            let ms = Int32(max(0, min(1000, deadline.timeIntervalSinceNow * 1000)))
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&p, 1, ms)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { throw KernelSocketError(description: "poll: errno \(errno)") }
            if Date() >= deadline { return false }
        }
    }

    func accept(timeout: Double = 5) throws -> KernelSocket {
        guard try wait(Int16(POLLIN), until: Date().addingTimeInterval(timeout)) else {
            throw KernelSocketError(description: "accept timed out")
        }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { throw KernelSocketError(description: "accept: errno \(errno)") }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
        return KernelSocket(fd: c)
    }

    /// Writes all of `bytes` before `deadline`.
    func sendAll(_ bytes: UnsafeRawBufferPointer, until deadline: Date) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n > 0 { off += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw KernelSocketError(description: "send: errno \(errno)") }
            guard try wait(Int16(POLLOUT), until: deadline) else { throw KernelSocketError(description: "send timed out at \(off)") }
        }
    }

    func sendAll(_ bytes: [UInt8], until deadline: Date) throws {
        try bytes.withUnsafeBytes { try sendAll($0, until: deadline) }
    }

    /// Reads until end of stream, handing each piece to `sink`.
    func readToEnd(until deadline: Date, _ sink: (UnsafeRawBufferPointer) -> Void) throws {
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return }
            if n > 0 { buf.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }; continue }
            if errno != EAGAIN && errno != EINTR { throw KernelSocketError(description: "recv: errno \(errno)") }
            guard try wait(Int16(POLLIN), until: deadline) else { throw KernelSocketError(description: "recv timed out") }
        }
    }

    func readAll(until deadline: Date) throws -> [UInt8] {
        var out: [UInt8] = []
        try readToEnd(until: deadline) { out.append(contentsOf: $0) }
        return out
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func sendTo(_ bytes: [UInt8], _ ip: String, _ port: UInt16) throws {
        var a = KernelSocket.address(ip, port)
        let n = bytes.withUnsafeBytes { b in withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } }
        guard n == bytes.count else { throw KernelSocketError(description: "sendto: errno \(errno)") }
    }

    /// One datagram, or nil on timeout.
    func receiveDatagram(timeout: Double) throws -> [UInt8]? {
        guard try wait(Int16(POLLIN), until: Date().addingTimeInterval(timeout)) else { return nil }
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw KernelSocketError(description: "recv: errno \(errno)") }
        return Array(buf[0..<n])
    }
}

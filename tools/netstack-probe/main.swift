// bulwark-netstack-probe: runs NetstackCore on a host interface (AF_PACKET + rtnetlink takeover) with
// small test services, for the interop tests against the Linux kernel's own TCP/IP:
//   UDP 7 echo; TCP 7 echo; TCP 9 sink (reads to EOF, answers count + checksum, 16 bytes big-endian);
//   TCP 19 source (reads an 8-byte big-endian length, sends that much TransferPattern, closes);
//   --connect IP:PORT --connect-bytes N: connects out, sends N pattern bytes, shuts down writing,
//   reads to EOF and prints "connect received=R checksum=C" (hex) on stdout.
// Usage: bulwark-netstack-probe --interface NAME [--ready-file PATH] [--seconds N] [--connect ...]
@preconcurrency import Glibc
import HostOS
import NetstackCore
import NetstackServer

func fail(_ message: String) -> Never {
    fputs("bulwark-netstack-probe: \(message)\n", stderr)
    exit(2)
}

var interfaceName: String?
var readyFile: String?
var seconds = 60.0
var connectTarget: SocketAddress?
var connectBytes = 0
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    func value() -> String { guard let v = args.popFirst() else { fail("\(a) needs a value") }; return v }
    switch a {
    case "--interface": interfaceName = value()
    case "--ready-file": readyFile = value()
    case "--seconds": guard let v = Double(value()) else { fail("bad --seconds") }; seconds = v
    case "--connect-bytes": guard let v = Int(value()) else { fail("bad --connect-bytes") }; connectBytes = v
    case "--connect":
        let v = value()
        let parts = v.split(separator: ":")
        guard parts.count == 2, let ip = IPv4Address(String(parts[0])), let port = UInt16(parts[1]) else {
            fail("bad --connect \(v) (want A.B.C.D:PORT)")
        }
        connectTarget = SocketAddress(ip, port)
    default: fail("unknown argument \(a)")
    }
}
guard let interfaceName else { fail("--interface NAME is required") }

let clock = MonotonicClock()
var config = StackConfig()
config.seed = UInt64(truncatingIfNeeded: clock.nanoseconds)
// Bulk transfers: a 4 MiB window keeps the kernel peer from stalling on our receive window.
config.tcp.receiveBufferSize = 4 << 20
config.tcp.sendBufferSize = 4 << 20
let stack = NetworkStack(clock: clock, config: config)
let setup: HostInterfaceSetup
do { setup = try HostInterface.attach(interfaceName, to: stack, takeOver: true) } catch { fail("\(error)") }
let loop = HostNetLoop(stack: stack, clock: clock)
loop.add(setup.link)

enum Role { case echo, sink, source, client }
final class Conn {
    let id: SocketID
    let role: Role
    var pending: [UInt8] = []     // echo: bytes still to send back
    var sum = StreamChecksum()
    var toSend = 0                // source / client: pattern bytes left
    var sent = 0
    var header: [UInt8] = []      // source: the length being read
    var readDone = false
    var writeDone = false
    init(_ id: SocketID, _ role: Role) { self.id = id; self.role = role }
}

let udp = stack.socket(.datagram)
let listeners: [(SocketID, Role)] = [(7, Role.echo), (9, .sink), (19, .source)].map { port, role in
    let s = stack.socket(.stream)
    do {
        try stack.setOption(s, .reuseAddress(true))
        try stack.bind(s, SocketAddress(IPv4Address.any, UInt16(port)))
        try stack.listen(s, backlog: 128)
    } catch { fail("listen \(port): \(error)") }
    return (s, role)
}
do { try stack.bind(udp, SocketAddress(IPv4Address.any, 7)) } catch { fail("udp bind: \(error)") }
var conns: [SocketID: Conn] = [:]
var client: Conn?
if let t = connectTarget {
    let s = stack.socket(.stream)
    do { try stack.connect(s, t) } catch let e where e == .EINPROGRESS {} catch { fail("connect: \(error)") }
    let c = Conn(s, .client)
    c.toSend = connectBytes
    conns[s] = c
    client = c
}
if let readyFile {
    let fd = open(readyFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd >= 0 { _ = write(fd, "ready\n", 6); close(fd) }
}

/// The probe's services; methods run on the main thread only.
final class Services {
    let stack: NetworkStack
    var chunk = [UInt8](repeating: 0, count: 256 * 1024)
    init(_ stack: NetworkStack) { self.stack = stack }

/// Sends pattern bytes from the current offset until the socket would block. Returns false on error.
    func pump(_ c: Conn) -> Bool {
        while c.toSend > 0 {
            let off = c.sent % StreamChecksum.blockSize
            let n = min(c.toSend, StreamChecksum.blockSize - off)
            let r: Int
            do {
                r = try TransferPattern.block.withUnsafeBytes { (whole) throws(NetErrno) -> Int in
                    try stack.send(c.id, bytes: UnsafeRawBufferPointer(rebasing: whole[off..<(off + n)]))
                }
            } catch { if (error as? NetErrno) == .EAGAIN { return true }; return false }
            c.sent += r
            c.toSend -= r
        }
        if !c.writeDone { c.writeDone = true; try? stack.shutdown(c.id, .write) }
        return true
}

/// Reads what is waiting; returns false when the connection should be dropped.
    func service(_ c: Conn) -> Bool {
        while !c.readDone {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { (b) throws(NetErrno) -> Int in try stack.recv(c.id, into: b).0 }
            } catch { if (error as? NetErrno) == .EAGAIN { break }; return false }
            if n == 0 { c.readDone = true; break }
            switch c.role {
            case .echo: c.pending += chunk[0..<n]
            case .sink, .client: chunk.withUnsafeBytes { c.sum.add(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            case .source:
                c.header += chunk[0..<n]
                if c.header.count >= 8 && c.toSend == 0 && c.sent == 0 {
                    c.toSend = c.header[0..<8].reduce(0) { $0 << 8 | Int($1) }
                }
            }
        }
        switch c.role {
        case .echo:
            while !c.pending.isEmpty {
                guard let r = try? stack.send(c.id, c.pending) else { break }
                c.pending.removeFirst(r)
            }
            if c.readDone && c.pending.isEmpty && !c.writeDone { c.writeDone = true; try? stack.shutdown(c.id, .write) }
        case .sink:
            if c.readDone && !c.writeDone {
                var reply: [UInt8] = []
                for v in [UInt64(c.sum.count), c.sum.finish()] { for k in (0..<8).reversed() { reply.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
                if (try? stack.send(c.id, reply)) == 16 { c.writeDone = true; try? stack.shutdown(c.id, .write) }
            }
        case .source:
            if c.header.count >= 8 && !pump(c) { return false }
        case .client:
            if !pump(c) { return false }
        }
        if stack.readiness(c.id).contains(.error) { return false }
        return !(c.readDone && c.writeDone && c.role != .client)
}

}
let services = Services(stack)

let deadline = clock.nanoseconds + Int64(seconds * 1e9)
var clientReported = false
while clock.nanoseconds < deadline {
    loop.runOnce(maxWaitMilliseconds: 20)
    // UDP echo.
    while let (d, from) = try? stack.recvFrom(udp, max: 65536) { _ = try? stack.sendTo(udp, d, to: from) }
    for (l, role) in listeners {
        while let (s, _) = try? stack.accept(l) { conns[s] = Conn(s, role) }
    }
    for c in Array(conns.values) where !services.service(c) || (c.role != .client && c.readDone && c.writeDone) {
        if c.role == .client { continue }
        try? stack.close(c.id)
        conns[c.id] = nil
    }
    if let c = client, !clientReported, c.readDone || stack.readiness(c.id).contains(.error) {
        clientReported = true
        let err = stack.socketError(c.id).map { " error=\($0)" } ?? ""
        print("connect sent=\(c.sent) received=\(c.sum.count) checksum=\(String(c.sum.finish(), radix: 16))\(err)")
        fflush(stdout)
        try? stack.close(c.id)
        conns[c.id] = nil
    }
}

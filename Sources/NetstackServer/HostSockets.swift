// `bulwark-netstack --network host`: no NetstackCore at all. Each of the application's TCP/UDP
// sockets is backed by a host socket this process opens in the host's network namespace, so the
// sandbox shares the host's addresses and ports (less isolation: see docs/ARCHITECTURE.md, "Netstack:
// --network host"). The Sentry side is unchanged: the same requests, the same socket arena; a pump
// thread moves bytes between each slot's rings and its host socket and mirrors the socket's state.
import CBulwark
import Glibc
import HostOS
import IPC
import LinuxABI
import Protocol
import ServiceKit
import Wire

final class HostBinding {
    let handle: UInt64
    let fd: Int32
    let slot: ArenaSlot?
    let slotIndex: Int
    let stream: Bool
    var listening = false
    var connecting = false
    var connected = false
    var endOfStream = false
    var shutWriteDone = false
    var shutWritePending = false
    var closing = false
    var error: Int32 = 0        // taken by SO_ERROR
    var fatal = false           // the connection is over (reset, or an error on send)
    init(handle: UInt64, fd: Int32, slot: ArenaSlot?, slotIndex: Int, stream: Bool) {
        self.handle = handle; self.fd = fd; self.slot = slot; self.slotIndex = slotIndex; self.stream = stream
    }
}

public final class HostSocketService: @unchecked Sendable {
    var lock = pthread_mutex_t()
    var arena: SocketArena?
    var toNetstackFD: Int32 = -1
    var toSentryFD: Int32 = -1
    /// Rung by request handlers so the pump rebuilds its poll set (new sockets, closes).
    let wakeFD: Int32
    var sockets: [UInt64: HostBinding] = [:]
    var slotsInUse = Set<Int>()
    var nextHandle: UInt64 = 1
    private var started: [Int32] = [-1, -1]

    public init() throws {
        pthread_mutex_init(&lock, nil)
        wakeFD = try HostOS.EventFD.create(nonBlocking: true).release()
        _ = bw_single_malloc_arena()
        // The pump starts now, before ServiceKit installs seccomp (a new thread's start-up syscalls).
        _ = pipe(&started)
        var thread = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()
        _ = pthread_create(&thread, nil, { arg in
            Unmanaged<HostSocketService>.fromOpaque(arg!).takeUnretainedValue().pumpLoop()
            return nil
        }, me)
        var byte: UInt8 = 0
        _ = read(started[0], &byte, 1)
        Glibc.close(started[0])
    }

    /// Runs `body` locked, then mirrors every socket's state and wakes the pump and the Sentry.
    func locked<T>(_ body: () throws(ServiceFailure) -> T) throws(ServiceFailure) -> T {
        pthread_mutex_lock(&lock)
        defer {
            let changed = pumpAll()
            pthread_mutex_unlock(&lock)
            notify(changed)
            try? EventFD.signal(wakeFD)
        }
        return try body()
    }

    private func notify(_ changed: Bool) {
        // The Sentry's readiness sleepers wait on the arena's generation word (futex), not an eventfd.
        if changed, let a = arena { a.toSentry.ringSleepers() }
    }

    // MARK: the pump

    private func pumpLoop() {
        var byte: UInt8 = 1
        _ = write(started[1], &byte, 1)
        Glibc.close(started[1])
        while true {
            let seen = arena?.toNetstack.current ?? 0
            pthread_mutex_lock(&lock)
            let changed = pumpAll()
            var fds: [pollfd] = []
            for b in sockets.values {
                var ev: Int32 = 0
                if b.listening { ev |= POLLIN }
                if b.connecting { ev |= POLLOUT }
                if let s = b.slot, b.connected || !b.stream {
                    // A full ring waits for the Sentry's read to ring (roomWanted), not for the host socket.
                    if s.receive.free > (b.stream ? 0 : DatagramHeader.size) && !b.endOfStream { ev |= POLLIN }
                    if s.send.used > 0 { ev |= POLLOUT }
                }
                if ev != 0 { fds.append(pollfd(fd: b.fd, events: Int16(ev), revents: 0)) }
            }
            let doorbell = arena?.toNetstack
            pthread_mutex_unlock(&lock)
            notify(changed)
            if changed { continue }
            if let doorbell, !doorbell.prepareToSleep(seen: seen) { continue }
            fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            if toNetstackFD >= 0 { fds.append(pollfd(fd: toNetstackFD, events: Int16(POLLIN), revents: 0)) }
            _ = Glibc.poll(&fds, nfds_t(fds.count), 1000)
            doorbell?.awake()
            var v: UInt64 = 0
            _ = Glibc.read(wakeFD, &v, 8)
            if toNetstackFD >= 0 { _ = Glibc.read(toNetstackFD, &v, 8) }
        }
    }

    /// One pass over every socket (locked); true if anything moved or changed.
    private func pumpAll() -> Bool {
        var changed = false
        for b in Array(sockets.values) where pump(b) { changed = true }
        return changed
    }

    private func ready(_ fd: Int32, _ events: Int32) -> Int32 {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        return Glibc.poll(&p, 1, 0) > 0 ? Int32(p.revents) : 0
    }

    private func pump(_ b: HostBinding) -> Bool {
        guard let slot = b.slot else { return false }
        var moved = false
        if b.connecting, ready(b.fd, POLLOUT) != 0 {
            b.connecting = false
            switch HostSocketCalls.getInt(b.fd, SOL_SOCKET, SO_ERROR) {
            case .ok(0): b.connected = true
            case .ok(let e), .fail(let e): b.error = e; b.fatal = true
            }
            moved = true
        }
        if b.stream { moved = pumpStream(b, slot) || moved } else { moved = pumpDatagrams(b, slot) || moved }
        if b.closing && (slot.send.used == 0 || b.fatal || !b.connected) {
            Glibc.close(b.fd)
            sockets[b.handle] = nil
            slotsInUse.remove(b.slotIndex)
            slot.state = [.released]
            return true
        }
        var st: SlotState = []
        if b.listening && ready(b.fd, POLLIN) != 0 { st.insert(.acceptable) }
        if b.connecting { st.insert(.connecting) }
        if b.connected && !b.fatal { st.insert(.connected) }
        if !b.stream { st.insert(.writable) }
        if b.endOfStream { st.insert(.endOfStream) }
        if b.fatal || (b.endOfStream && b.shutWriteDone) { st.insert(.hup) }
        if b.error != 0 { st.insert(.error) }
        if slot.error != b.error { slot.error = b.error; moved = true }
        if slot.state != st { slot.state = st; moved = true }
        return moved
    }

    private func pumpStream(_ b: HostBinding, _ slot: ArenaSlot) -> Bool {
        var moved = false
        guard b.connected else { return false }
        let send = slot.send
        while send.used > 0 && !b.fatal {
            let (x, _) = send.readSpans(max: send.used)
            let n = HostSocketCalls.send(b.fd, x)
            if n > 0 { send.commitRead(n); moved = true; continue }
            if n == -Int(EAGAIN) || n == -Int(EINTR) { break }
            b.error = Int32(-n); b.fatal = true
            send.commitRead(send.used)
            moved = true
        }
        if b.shutWritePending && (send.used == 0 || b.fatal) {
            _ = Glibc.shutdown(b.fd, Int32(SHUT_WR))
            b.shutWritePending = false
            b.shutWriteDone = true
            moved = true
        }
        if b.closing { return moved }
        let receive = slot.receive
        while receive.free > 0 && !b.endOfStream {
            let (x, _) = receive.writeSpans(max: receive.free)
            let n = HostSocketCalls.recv(b.fd, x)
            if n > 0 { receive.commitWrite(n); moved = true; continue }
            if n == -Int(EAGAIN) || n == -Int(EINTR) { break }
            if n < 0 { b.error = Int32(-n); b.fatal = true }
            b.endOfStream = true
            moved = true
        }
        // A full ring: the Sentry's next read rings (ArenaSlot.roomWanted's protocol, as RingPump).
        if receive.free == 0 && !b.endOfStream {
            slot.roomWanted = true
            ArenaSlot.fence()
            if receive.free > 0 { moved = true }
        } else if slot.roomWanted {
            slot.roomWanted = false
        }
        return moved
    }

    private func pumpDatagrams(_ b: HostBinding, _ slot: ArenaSlot) -> Bool {
        var moved = false
        let send = slot.send
        var header = [UInt8](repeating: 0, count: DatagramHeader.size)
        while send.used >= DatagramHeader.size {
            guard header.withUnsafeMutableBytes({ send.peek(offset: 0, into: $0) }) else { break }
            let h = header.withUnsafeBytes { DatagramHeader.parse($0) }
            let total = DatagramHeader.size + Int(h.length)
            guard total <= send.capacity else { send.commitRead(send.used); break }   // garbage: drop it all
            guard send.used >= total else { break }
            var payload = [UInt8](repeating: 0, count: Int(h.length))
            _ = payload.withUnsafeMutableBytes { send.peek(offset: DatagramHeader.size, into: $0) }
            send.commitRead(total)
            moved = true
            let to = h.family == 0 ? nil : Netstack.SocketAddress(family: h.family, port: h.port, address: h.addressBytes)
            let e = HostSocketCalls.sendDatagram(b.fd, payload, to: to)
            if e != 0 && e != EAGAIN && b.error == 0 { b.error = e }
        }
        let receive = slot.receive
        while true {
            var e: Int32 = 0
            guard let size = HostSocketCalls.peekDatagramSize(b.fd, error: &e) else {
                if e != 0 && b.error == 0 { b.error = e; moved = true }
                break
            }
            guard receive.free >= DatagramHeader.size + size, let (d, from) = HostSocketCalls.receiveDatagram(b.fd, size: size) else { break }
            var rec = DatagramHeader(length: UInt32(d.count), family: from.family, port: from.port, address: from.address).bytes()
            rec.append(contentsOf: d)
            rec.withUnsafeBytes { _ = receive.writeAll($0) }
            moved = true
        }
        return moved
    }

    // MARK: requests

    func binding(_ handle: UInt64) throws(ServiceFailure) -> HostBinding {
        guard let b = sockets[handle], !b.closing else { throw ServiceFailure(.EBADF, "no socket \(handle)") }
        return b
    }

    static func fail(_ e: Int32, _ what: String) -> ServiceFailure { ServiceFailure(Errno(rawValue: e), "host \(what)") }

    func claim(_ raw: UInt32) throws(ServiceFailure) -> (Int, ArenaSlot?) {
        guard let a = arena else { return (-1, nil) }
        let i = Int(raw)
        guard i < a.slotCount, !slotsInUse.contains(i) else { throw ServiceFailure(.EINVAL, "slot \(raw)") }
        slotsInUse.insert(i)
        return (i, a.slot(i))
    }

    public func handlers() -> HandlerTable {
        typealias N = Netstack
        var t = HandlerTable()
        t.register(N.Socket.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Socket.self)
            guard m.family == 2 || m.family == 10 else { throw ServiceFailure(.EAFNOSUPPORT, "family \(m.family)") }
            let type = Int32(m.type & 0xf)
            guard type == 1 || type == 2 else { throw ServiceFailure(.ESOCKTNOSUPPORT, "type \(m.type)") }
            let handle = try locked { () throws(ServiceFailure) in
                let fd = Glibc.socket(Int32(m.family), type | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
                guard fd >= 0 else { throw HostSocketService.fail(errno, "socket") }
                let (index, slot): (Int, ArenaSlot?)
                do throws(ServiceFailure) { (index, slot) = try claim(m.slot) } catch { Glibc.close(fd); throw error }
                let h = nextHandle
                nextHandle += 1
                sockets[h] = HostBinding(handle: h, fd: fd, slot: slot, slotIndex: index, stream: type == 1)
                return h
            }
            reply.encode(N.SocketReply(handle: handle))
        }
        t.register(N.Bind.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Bind.self)
            try locked { () throws(ServiceFailure) in
                let e = HostSocketCalls.bind(try binding(m.handle).fd, m.address)
                if e != 0 { throw HostSocketService.fail(e, "bind") }
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Listen.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Listen.self)
            try locked { () throws(ServiceFailure) in
                let b = try binding(m.handle)
                if Glibc.listen(b.fd, m.backlog) < 0 { throw HostSocketService.fail(errno, "listen") }
                b.listening = true
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Accept.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Accept.self)
            let (handle, peer) = try locked { () throws(ServiceFailure) in
                let listener = try binding(m.handle)
                if let a = arena, Int(m.slot) >= a.slotCount || slotsInUse.contains(Int(m.slot)) { throw ServiceFailure(.EINVAL, "slot") }
                switch HostSocketCalls.accept(listener.fd) {
                case .fail(let e): throw HostSocketService.fail(e, "accept")
                case .ok(let (fd, peer)):
                    let (index, slot) = try claim(m.slot)
                    let h = nextHandle
                    nextHandle += 1
                    let b = HostBinding(handle: h, fd: fd, slot: slot, slotIndex: index, stream: true)
                    b.connected = true
                    sockets[h] = b
                    return (h, peer)
                }
            }
            reply.encode(N.AcceptReply(handle: handle, peer: peer))
        }
        t.register(N.Connect.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Connect.self)
            try locked { () throws(ServiceFailure) in
                let b = try binding(m.handle)
                let e = HostSocketCalls.connect(b.fd, m.address)
                if !b.stream {
                    if e != 0 { throw HostSocketService.fail(e, "connect") }
                    return
                }
                switch e {
                case 0: b.connected = true
                case EINPROGRESS: b.connecting = true; throw ServiceFailure(.EINPROGRESS, "connecting")
                default: throw HostSocketService.fail(e, "connect")
                }
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Shutdown.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Shutdown.self)
            guard m.how >= 0 && m.how <= 2 else { throw ServiceFailure(.EINVAL, "shutdown how \(m.how)") }
            try locked { () throws(ServiceFailure) in
                let b = try binding(m.handle)
                if b.stream && !b.connected { throw ServiceFailure(.ENOTCONN, "shutdown") }
                if m.how != 1 { _ = Glibc.shutdown(b.fd, Int32(SHUT_RD)) }
                // Bytes still in the send ring go out before the FIN: the pump shuts down then.
                if m.how != 0 { b.shutWritePending = true }
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.SetOption.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.SetOption.self)
            guard m.value.count >= 4 else { throw ServiceFailure(.EINVAL, "option value shorter than an int") }
            let v = m.value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            switch (m.level, m.name) {
            case (1, 2), (1, 6), (1, 7), (1, 8), (1, 9), (1, 15), (6, 1), (6, 4), (6, 5), (6, 6), (0, 1), (41, 26), (41, 67): break
            default: throw ServiceFailure(.ENOPROTOOPT, "option \(m.level)/\(m.name) not passed to host sockets")
            }
            try locked { () throws(ServiceFailure) in
                let e = HostSocketCalls.setInt(try binding(m.handle).fd, m.level, m.name, v)
                if e != 0 { throw HostSocketService.fail(e, "setsockopt") }
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.GetOption.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.GetOption.self)
            if m.level == 6 && m.name == 11 {   // TCP_INFO: the host socket's own
                let info = try locked { () throws(ServiceFailure) in
                    switch HostSocketCalls.getBytes(try binding(m.handle).fd, 6, 11, size: Int(m.size)) {
                    case .ok(let b): return b
                    case .fail(let e): throw HostSocketService.fail(e, "getsockopt(TCP_INFO)")
                    }
                }
                reply.encode(N.GetOptionReply(value: info))
                return
            }
            guard m.level == 1 && m.name == 4 else { throw ServiceFailure(.ENOPROTOOPT, "option \(m.level)/\(m.name)") }
            let value = try locked { () throws(ServiceFailure) in
                let b = try binding(m.handle)
                var e = b.error
                if e == 0, case .ok(let x) = HostSocketCalls.getInt(b.fd, SOL_SOCKET, SO_ERROR) { e = x }
                b.error = 0
                return e
            }
            reply.encode(N.GetOptionReply(value: withUnsafeBytes(of: value) { Array($0) }))
        }
        t.register(N.GetName.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.GetName.self)
            let a = try locked { () throws(ServiceFailure) in
                switch HostSocketCalls.name(try binding(m.handle).fd, peer: m.peer) {
                case .ok(let a): return a
                case .fail(let e): throw HostSocketService.fail(e, m.peer ? "getpeername" : "getsockname")
                }
            }
            reply.encode(N.GetNameReply(address: a))
        }
        t.register(N.Close.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Close.self)
            try locked { () throws(ServiceFailure) in
                let b = try binding(m.handle)
                if b.slot == nil {
                    Glibc.close(b.fd)
                    sockets[m.handle] = nil
                } else {
                    b.closing = true   // the pump closes once the send ring is drained
                }
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Interfaces.messageID) { [self] req, reply throws(ServiceFailure) in
            _ = try decode(req, N.Interfaces.self)
            // Host mode reports loopback only: the host's interfaces are not the sandbox's to list.
            let lo = N.Interface(index: 1, name: "lo", flags: 0x49, mtu: 65536, hardwareAddress: [0, 0, 0, 0, 0, 0],
                                 addresses: [.init(family: 2, address: [127, 0, 0, 1], prefixLength: 8)])
            reply.encode(N.InterfacesReply(interfaces: [lo], routes: []))
        }
        t.register(N.ListSockets.messageID) { [self] req, reply throws(ServiceFailure) in
            _ = try decode(req, N.ListSockets.self)
            reply.encode(N.SocketList(sockets: []))   // /proc/net/tcp in host mode: not listed
        }
        t.register(N.Stats.messageID) { [self] req, reply throws(ServiceFailure) in
            _ = try decode(req, N.Stats.self)
            reply.encode(N.StatsReply(counters: []))   // the host's own /proc/net/snmp is not the sandbox's
        }
        t.register(N.Attach.messageID) { [self] req, reply throws(ServiceFailure) in
            let attachment = try ArenaAttachment(&req)   // ArenaAttachment.swift
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            guard arena == nil else { throw ServiceFailure(.EBUSY, "arena already attached") }
            (arena, toNetstackFD, toSentryFD) = try attachment.install()
            reply.encode(N.EmptyReply())
        }
        return t
    }
}

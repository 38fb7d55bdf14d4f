// bulwark-netstack's request handlers: the netstack.schema socket operations, each mapped onto
// NetstackCore's socket API. One NetworkStack per service, guarded by one lock: requests run on the
// ServiceKit thread, and with --interface a driver thread feeds frames and fires timers.
import CBulwark
import Glibc
import HostOS
import IPC
import LinuxABI
import NetstackCore
import Protocol
import ServiceKit
import Wire

public final class NetstackService: @unchecked Sendable {
    public let stack: NetworkStack
    let clock = MonotonicClock()
    private var lock = pthread_mutex_t()
    private var hostLoop: HostNetLoop?
    /// The socket arena and doorbells (after Attach) and the sockets bound to its slots.
    var arena: SocketArena?
    var toNetstackFD: Int32 = -1
    var toSentryFD: Int32 = -1
    var bindings = SocketIDMap<SlotBinding>()
    /// The binding of each slot below SendMarks.capacity, for the send marks (RingPump.swift).
    var bySlot: [SlotBinding?] = []
    var slotsInUse = Set<Int>()
    /// Counts pump passes; every 256th looks at every socket (RingPump.swift).
    var sweep = 0
    /// Bindings the next pump pass visits, and the array the pass swaps with it (RingPump.swift).
    var pending: [SlotBinding] = []
    var visitScratch: [SlotBinding] = []
    /// The Sentry's doorbell generation when the send rings were last looked at.
    var sendScanGeneration: UInt64 = 0
    /// A pump pass changed something a Sentry task may wait for (bytes or end of stream in a receive
    /// ring, a state word, room in a send ring someone waits on): only then is the Sentry's doorbell
    /// rung. Bytes taken from a send ring nobody waits on are work (the driver goes on) but no news.
    var sentryVisible = false
    /// When the sleeping driver will wake on its own (monotonic ns; 0 while it runs), and the eventfd
    /// that wakes it sooner. Guarded by `lock`. A request can arm a timer (a delayed ACK, a
    /// retransmission) or leave work the driver planned to sleep through: `locked` wakes it then,
    /// instead of letting that wait for the driver's timeout (up to 1 s without an interface).
    private var driverWakeAt: Int64 = 0
    private var driverBellFD: Int32 = -1

    /// `interface`: take over this host interface (AF_PACKET); nil for loopback only (--network none).
    /// `handedOver`: the link the spawner opened (HandedOverLink.swift); `interface` is then ignored.
    public init(interface: String?, handedOver: HandedOverLink? = nil) throws {
        var config = StackConfig()
        config.seed = UInt64(truncatingIfNeeded: clock.nanoseconds)
        stack = NetworkStack(clock: clock, config: config)
        pthread_mutex_init(&lock, nil)
        if let handedOver {
            let loop = HostNetLoop(stack: stack, clock: clock)
            loop.add(try HostInterface.attach(handedOver, to: stack).link)
            hostLoop = loop
        } else if let interface {
            let setup = try HostInterface.attach(interface, to: stack, takeOver: true)
            let loop = HostNetLoop(stack: stack, clock: clock)
            loop.add(setup.link)
            hostLoop = loop
        }
        // One malloc arena: glibc's per-thread arenas read /proc/sys/vm/overcommit_memory (openat, which
        // the seccomp policy forbids) when they shrink after the pump thread freed large buffers.
        _ = bw_single_malloc_arena()
        // Always: the driver fires TCP timers and moves bytes between the arena's rings and the stack.
        startDriver()
    }

    /// Runs `body` with the stack locked, then lets the stack process what the call queued (loopback
    /// packets, segments to send).
    func locked<T>(_ body: () throws(NetErrno) -> T) throws(ServiceFailure) -> T {
        pthread_mutex_lock(&lock)
        clock.freeze()
        defer {
            stack.poll()
            let busy = pumpAndNotify()
            clock.thaw()
            if driverWakeAt != 0 && (busy || (stack.nextDeadline.map { $0 < driverWakeAt } ?? false)) {
                driverWakeAt = 0
                try? EventFD.signal(driverBellFD)
            }
            pthread_mutex_unlock(&lock)
        }
        do {
            return try body()
        } catch { throw ServiceFailure(Errno(rawValue: error.rawValue), "\(error)") }
    }

    // MARK: Driver thread (only with a host interface)

    private var started: [Int32] = [-1, -1]
    /// The driver's eventfds to poll, reused every round (no array per sleep).
    private var pollFDs: [Int32] = []

    /// Starts the driver and waits until it runs: a new thread's own start-up syscalls (rseq,
    /// set_robust_list, its signal mask) must happen before ServiceKit installs the seccomp filter.
    private func startDriver() {
        driverBellFD = (try? HostOS.EventFD.create(nonBlocking: true).release()) ?? -1
        _ = pipe(&started)
        var thread = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()
        _ = pthread_create(&thread, nil, { arg in
            Unmanaged<NetstackService>.fromOpaque(arg!).takeUnretainedValue().drive()
            return nil
        }, me)
        var byte: UInt8 = 0
        _ = read(started[0], &byte, 1)
        Glibc.close(started[0])
    }

    /// The driver: process the stack and the rings until nothing moves, then sleep until a frame, a
    /// timer, or the Sentry's doorbell (announced through the arena so a busy Sentry never rings).
    private func drive() {
        var byte: UInt8 = 1
        _ = write(started[1], &byte, 1)
        Glibc.close(started[1])
        while true {
            let seen = arena?.toNetstack.current ?? 0
            pthread_mutex_lock(&lock)
            clock.freeze()   // one clock read for the whole pass
            stack.poll()
            let busy = pumpAndNotify()
            clock.thaw()
            var wait: Int32 = hostLoop == nil ? 1000 : 50
            let t = clock.read()
            if let d = stack.nextDeadline {
                wait = Int32(max(0, min(Int64(wait), (d - t + 999_999) / 1_000_000)))
            }
            let doorbell = arena?.toNetstack
            let bellFD = toNetstackFD
            driverWakeAt = wait == 0 || busy ? 0 : t + Int64(wait) * 1_000_000
            // Spin only after a pass that moved frames on a host link (a request/response peer is
            // likely to send again soon; loopback traffic inside the sandbox needs the CPU for the
            // application instead), and not while an accept queue is long (its accept loop does).
            let frames = stack.stats.framesIn &+ stack.stats.framesOut
            let spin = spinTicks > 0 && frames != framesAtLastPass && stack.acceptPressureUntil <= t
            framesAtLastPass = frames
            pthread_mutex_unlock(&lock)
            if wait == 0 || busy { continue }
            if spin && spinForWork(doorbell: doorbell, seen: seen) { continue }
            if let doorbell, !doorbell.prepareToSleep(seen: seen) { continue }
            // The eventfds to wait on besides the frames: the Sentry's doorbell (bellFD) and the
            // request thread's (driverBellFD). Each is read (drained) only when poll says it fired:
            // no read(2) of an empty eventfd after a wake-up by a frame or a timer.
            pollFDs.removeAll(keepingCapacity: true)
            if bellFD >= 0 { pollFDs.append(bellFD) }
            if driverBellFD >= 0 { pollFDs.append(driverBellFD) }
            if let loop = hostLoop {
                loop.waitForFrames(milliseconds: wait, extraFDs: &pollFDs)
            } else {
                HostNetLoop.wait(milliseconds: wait, fds: &pollFDs)
            }
            doorbell?.awake()
            for fd in pollFDs where fd >= 0 {
                var v: UInt64 = 0
                _ = Glibc.read(fd, &v, 8)   // non-blocking: drains the count
            }
        }
    }

    /// BULWARK_NETSTACK_SPIN_US (default 0: off; at most 1000): how long the driver looks for a
    /// frame in the receive ring or a Sentry doorbell (both plain memory) before it sleeps in poll(2).
    /// docs/ARCHITECTURE.md, "Netstack: listen backlog, driver spin (session 10, spin)".
    private let spinMicroseconds: UInt64 = getenv("BULWARK_NETSTACK_SPIN_US").flatMap { UInt64(String(cString: $0)) }.map { min($0, 1000) } ?? 0
    /// The spin's length and the gap that means the spinner was preempted, in TSC ticks.
    private lazy var spinTicks: UInt64 = spinMicroseconds == 0 ? 0 : spinMicroseconds * bw_systrap_tsc_per_us()
    private lazy var preemptedTicks: UInt64 = 5 * bw_systrap_tsc_per_us()
    /// Link frames in and out (the stack's counters) when the driver last decided whether to sleep.
    private var framesAtLastPass = 0

    /// True if work came within the spin time (the driver then goes on without sleeping). Cheap per
    /// iteration: a load of the doorbell's generation, the receive ring's next slot every 8th turn, a
    /// pause, and the TSC every 16th turn (no clock_gettime, no reference counting but the loop's
    /// one). Gives up early when it was preempted (a gap of 5 µs between two TSC reads): another
    /// thread wanted this CPU, and the spin would take it from the Sentry, its stubs or the client.
    private func spinForWork(doorbell: ArenaDoorbell?, seen: UInt64) -> Bool {
        let loop = hostLoop
        let ticks = spinTicks, preempted = preemptedTicks
        let start = TSC.read()
        var last = start
        var turn: UInt32 = 0
        while true {
            if let doorbell, doorbell.current != seen { return true }
            if turn & 7 == 0, let loop, loop.framesWaiting() { return true }
            TSC.relax()
            turn &+= 1
            if turn & 15 == 0 {
                let now = TSC.read()
                if now &- start >= ticks || now &- last >= preempted { return false }
                last = now
            }
        }
    }

    /// Moves ring bytes and mirrors socket state (stack locked), then rings the Sentry if it sleeps.
    /// Returns true if work remains after its rounds (the driver then goes on without sleeping).
    @discardableResult
    func pumpAndNotify() -> Bool {
        guard let a = arena else { return false }
        var busy = true
        sentryVisible = false
        for _ in 0..<8 {
            if !pumpAll() { busy = false; break }
            stack.poll()
        }
        stack.flushLinks()   // frames the pump's sends queued (PacketLink batches them)
        // The Sentry's tasks waiting for readiness sleep on the arena's generation word (a futex):
        // woken here directly, without an eventfd and a Sentry thread in between.
        if sentryVisible { a.toSentry.ringSleepers() }
        return busy
    }

    // MARK: Handlers

    public func handlers() -> HandlerTable {
        typealias N = Netstack
        var t = HandlerTable()
        t.register(N.Socket.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Socket.self)
            let family: NetstackCore.AddressFamily
            switch m.family {
            case 2: family = .inet
            case 10: family = .inet6
            default: throw ServiceFailure(.EAFNOSUPPORT, "family \(m.family)")
            }
            let type: SocketType
            switch m.type & 0xf {
            case 1: type = .stream
            case 2: type = .datagram
            default: throw ServiceFailure(.ESOCKTNOSUPPORT, "type \(m.type)")
            }
            let id = try locked { () throws(NetErrno) in
                let slot = try claimSlot(m.slot)
                let id = stack.socket(type, family: family)
                if let slot { bind(id, slot: slot, stream: type == .stream) }
                return id
            }
            reply.encode(N.SocketReply(handle: UInt64(UInt32(bitPattern: id.raw))))
        }
        t.register(N.Bind.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Bind.self)
            let a = try address(m.address)
            try locked { () throws(NetErrno) in try stack.bind(socket(m.handle), a) }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Listen.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Listen.self)
            try locked { () throws(NetErrno) in try stack.listen(socket(m.handle), backlog: Int(m.backlog)) }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Accept.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Accept.self)
            let (s, peer) = try locked { () throws(NetErrno) in
                let listener = try socket(m.handle)
                if let a = arena, Int(m.slot) >= a.slotCount || slotsInUse.contains(Int(m.slot)) { throw .EINVAL }
                let r = try stack.accept(listener)
                if let slot = try claimSlot(m.slot) { bind(r.0, slot: slot, stream: true) }
                return r
            }
            reply.encode(N.AcceptReply(handle: UInt64(UInt32(bitPattern: s.raw)), peer: wire(peer)))
        }
        t.register(N.Connect.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Connect.self)
            let a = try address(m.address)
            try locked { () throws(NetErrno) in try stack.connect(socket(m.handle), a) }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Shutdown.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Shutdown.self)
            let how: ShutdownHow
            switch m.how {
            case 0: how = .read
            case 1: how = .write
            case 2: how = .both
            default: throw ServiceFailure(.EINVAL, "shutdown how \(m.how)")
            }
            try locked { () throws(NetErrno) in
                let id = try socket(m.handle)
                // Writes still in the send ring go out before the FIN: the pump applies SHUT_WR then.
                if how != .read, let b = bindings[id], b.stream, stack.phase(id) == .connected {
                    b.shutWritePending = true
                    if how == .both { try stack.shutdown(id, .read) }
                    return
                }
                try stack.shutdown(id, how)
                // A listener that stopped: its parked connections are reset too (AcceptSlots.swift).
                if let b = bindings[id], b.acceptRecords, stack.phase(id) != .listening { releaseAcceptSlots(b) }
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.SetOption.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.SetOption.self)
            guard m.value.count >= 4 else { throw ServiceFailure(.EINVAL, "option value shorter than an int") }
            let v = Int(Int32(bitPattern: UInt32(m.value[0]) | UInt32(m.value[1]) << 8 | UInt32(m.value[2]) << 16 | UInt32(m.value[3]) << 24))
            let opt: SocketOption
            switch (m.level, m.name) {
            case (1, 2): opt = .reuseAddress(v != 0)
            case (1, 6): opt = .broadcast(v != 0)
            case (1, 7): opt = .sendBuffer(v)
            case (1, 8): opt = .receiveBuffer(v)
            case (1, 9): opt = .keepAlive(v != 0)
            case (6, 1): opt = .noDelay(v != 0)
            case (0, 1): opt = .typeOfService(v)
            case (41, 67): opt = .trafficClass(v)
            case (6, 4): opt = .keepIdle(v)
            case (6, 5): opt = .keepInterval(v)
            case (6, 6): opt = .keepCount(v)
            case (1, 13):   // struct linger { int l_onoff; int l_linger; }
                guard m.value.count >= 8 else { throw ServiceFailure(.EINVAL, "SO_LINGER needs struct linger") }
                let secs = m.value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) }
                opt = .linger(v != 0, Int(secs))
            case (41, 26): opt = .v6Only(v != 0)
            default: throw ServiceFailure(.ENOPROTOOPT, "option \(m.level)/\(m.name) not implemented")
            }
            try locked { () throws(NetErrno) in try stack.setOption(socket(m.handle), opt) }
            reply.encode(N.EmptyReply())
        }
        t.register(N.GetOption.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.GetOption.self)
            if m.level == 6 && m.name == 11 {   // TCP_INFO: struct tcp_info from the connection's state
                let info = try locked { () throws(NetErrno) in
                    guard let i = stack.tcpInfo(try socket(m.handle)) else { throw .ENOPROTOOPT }
                    return i.bytes()
                }
                reply.encode(N.GetOptionReply(value: Array(info.prefix(Int(min(m.size, 4096))))))
                return
            }
            let value: Int32
            switch (m.level, m.name) {
            case (1, 4):   // SO_ERROR, cleared by reading as on Linux
                value = try locked { () throws(NetErrno) in try takeError(socket(m.handle)) }
            default: throw ServiceFailure(.ENOPROTOOPT, "option \(m.level)/\(m.name) not implemented")
            }
            let u = UInt32(bitPattern: value)
            reply.encode(N.GetOptionReply(value: [UInt8(u & 0xff), UInt8(u >> 8 & 0xff), UInt8(u >> 16 & 0xff), UInt8(u >> 24)]))
        }
        t.register(N.GetName.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.GetName.self)
            let a = try locked { () throws(NetErrno) in
                m.peer ? try stack.peerAddress(socket(m.handle)) : try stack.localAddress(socket(m.handle))
            }
            reply.encode(N.GetNameReply(address: wire(a)))
        }
        t.register(N.Close.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, N.Close.self)
            try locked { () throws(NetErrno) in
                let id = try socket(m.handle)
                if let b = bindings[id] {
                    b.closing = true   // the pump closes once the send ring is drained
                    return
                }
                try stack.close(id)
            }
            reply.encode(N.EmptyReply())
        }
        t.register(N.Interfaces.messageID) { [self] req, reply throws(ServiceFailure) in
            _ = try decode(req, N.Interfaces.self)
            let r = try locked { () throws(NetErrno) in interfaceReport() }
            reply.encode(r)
        }
        t.register(N.Attach.messageID) { [self] req, reply throws(ServiceFailure) in
            let attachment = try ArenaAttachment(&req)   // ArenaAttachment.swift
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            guard arena == nil else { throw ServiceFailure(.EBUSY, "arena already attached") }
            (arena, toNetstackFD, toSentryFD) = try attachment.install()
            // The driver sleeps (up to 1 s without an interface) in a poll that does not watch the
            // Sentry's doorbell yet and with no sleep announced in the arena: the Sentry's kicks would
            // find it "awake" and write nothing, so a first write whose task then computes waited for
            // that timeout (session 9). Wake it so its next sleep watches the doorbell.
            try? EventFD.signal(driverBellFD)
            reply.encode(N.EmptyReply())
        }
        registerSocketListing(&t)   // SocketListingHandler.swift (/proc/net)
        registerAcceptSlots(&t)     // AcceptSlots.swift (reply-less accept)
        return t
    }

    /// What SIOCGIF* and NETLINK_ROUTE report: interface indices start at 1 (lo), as on Linux.
    func interfaceReport() -> Netstack.InterfacesReply {
        func v4(_ a: IPv4Address) -> [UInt8] {
            let r = a.raw
            return [UInt8(r >> 24), UInt8(r >> 16 & 0xff), UInt8(r >> 8 & 0xff), UInt8(r & 0xff)]
        }
        var list: [Netstack.Interface] = []
        for i in stack.interfaces {
            var addrs = [Netstack.InterfaceAddress(family: 2, address: v4(i.address), prefixLength: UInt8(i.prefixLength))]
            for a in i.ipv6 {
                addrs.append(.init(family: 10, address: wire(SocketAddress(a.address, 0)).address, prefixLength: UInt8(a.prefixLength)))
            }
            var mac: [UInt8] = []
            for k in (0..<6).reversed() { mac.append(UInt8(truncatingIfNeeded: i.mac.raw >> (8 * UInt64(k)))) }
            let flags: UInt32 = i.isLoopback ? 0x49 : 0x1043   // UP|LOOPBACK|RUNNING, UP|BROADCAST|RUNNING|MULTICAST
            list.append(.init(index: UInt32(i.index + 1), name: i.name, flags: flags, mtu: UInt32(i.isLoopback ? 65536 : i.mtu),
                              hardwareAddress: mac, addresses: addrs, rxBytes: UInt64(i.rxBytes), rxPackets: UInt64(i.rxPackets),
                              txBytes: UInt64(i.txBytes), txPackets: UInt64(i.txPackets)))
        }
        let routes = stack.routes.map { r in
            Netstack.RouteEntry(destination: v4(r.destination), prefixLength: UInt8(r.prefixLength),
                                gateway: r.gateway.map(v4) ?? [], interface: UInt32(r.interface + 1))
        }
        return .init(interfaces: list, routes: routes)
    }

    /// The socket a request names; its slot is pumped after the request (the request may change
    /// its state without the stack reporting it).
    func socket(_ handle: UInt64) throws(NetErrno) -> SocketID {
        guard handle <= UInt64(UInt32.max) else { throw .EBADF }
        let id = SocketID(raw: Int32(bitPattern: UInt32(handle)))
        if let b = bindings[id] {
            b.active = true
            enlist(b)
        }
        return id
    }

    func address(_ a: Netstack.SocketAddress) throws(ServiceFailure) -> SocketAddress {
        let b = a.address
        switch (a.family, b.count) {
        case (2, 4): return SocketAddress(IPv4Address(b[0], b[1], b[2], b[3]), a.port)
        case (10, 16): return SocketAddress(HostInterface.ipv6(b), a.port)
        default: throw ServiceFailure(.EAFNOSUPPORT, "address family \(a.family) with \(b.count) bytes")
        }
    }

    func wire(_ a: SocketAddress) -> Netstack.SocketAddress {
        switch a.ip {
        case .v4(let v):
            let r = v.raw
            return .init(family: 2, port: a.port, address: [UInt8(r >> 24), UInt8(r >> 16 & 0xff), UInt8(r >> 8 & 0xff), UInt8(r & 0xff)])
        case .v6(let v):
            var bytes: [UInt8] = []
            for k in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: v.high >> (8 * UInt64(k)))) }
            for k in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: v.low >> (8 * UInt64(k)))) }
            return .init(family: 10, port: a.port, address: bytes)
        }
    }
}

public struct NetstackSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

// The Sentry's connection to bulwark-netstack: the control channel (one call at a time, serialised by
// its own mutex and made with the kernel lock RELEASED, so a stalled netstack stalls only the tasks
// that wait for it, never the rest of the sandbox), the socket arena shared with it (whose doorbell
// generation word the readiness sleepers sleep on: the netstack wakes them itself, WaitQueue.swift),
// and a waker thread that sends the one-way requests (Closes of sockets released under the kernel
// lock, options) and notices the netstack's death. Started lazily by the first
// AF_INET/AF_INET6 socket, so programs without networking never spawn the service.
import CBulwark
import Glibc
import HostOS
import IPC
import Protocol
import Wire

/// `bulwark-sentry run --netstack-fd N --network sandbox|none|host [--interface IF]`. Without
/// --netstack-fd the Sentry spawns its own netstack: loopback only unless `--network sandbox` was
/// given explicitly (then it takes over --interface, or the netns' first interface that is up with
/// an IPv4 address: meant for a network namespace made for the sandbox, e.g. `ip netns exec`).
enum NetworkOptions {
    nonisolated(unsafe) static var netstackFD: Int32? = nil
    nonisolated(unsafe) static var mode = "sandbox"
    nonisolated(unsafe) static var explicitMode = false
    nonisolated(unsafe) static var interface: String? = nil

    /// The network arguments of a netstack the Sentry spawns itself.
    static var spawnArguments: [String] {
        guard explicitMode else { return ["--network", "none"] }
        switch mode {
        case "sandbox":
            if let link = handoff { return ["--network", "sandbox"] + link.arguments }
            if linkSearched { return ["--network", "none"] }   // openLink found no interface: loopback only
            return ["--network", "sandbox"] + (interface.map { ["--interface", $0] } ?? [])
        case "host": return ["--network", "host"]
        default: return ["--network", "none"]
        }
    }

    /// `--network host` with a netstack the Sentry spawns: start it now, before the Sentry's seccomp
    /// filter, which the child would inherit and which (rightly) forbids the host socket calls it makes
    /// on the application's behalf. Other modes start the netstack lazily on the first socket.
    static func startHostNetstack(_ kernel: Kernel) {
        guard explicitMode && mode == "host" && netstackFD == nil else { return }
        kernel.lock()
        _ = NetstackConnection.get(kernel)   // a failure is kept: every socket() reports it
        kernel.unlock()
    }

    /// Parses one `run` option; returns nil if it is not a network option, else an error text or "".
    static func parse(_ flag: String, _ value: String?) -> String? {
        switch flag {
        case "--netstack-fd":
            guard let v = value, let n = Int32(v), n >= 0 else { return "--netstack-fd needs a descriptor number" }
            netstackFD = n
            return ""
        case "--network":
            guard let v = value, ["sandbox", "none", "host"].contains(v) else { return "--network must be sandbox, none or host" }
            mode = v
            explicitMode = true
            return ""
        case "--interface":
            guard let v = value, !v.isEmpty, v.count < 16, !v.contains("/") else { return "--interface needs an interface name" }
            interface = v
            return ""
        default: return nil
        }
    }
}

final class NetstackConnection {
    nonisolated(unsafe) static var shared: NetstackConnection?
    /// Why the netstack could not be started (errno), so every socket() reports the same.
    nonisolated(unsafe) static var startFailure: Int32?
    /// A task is starting the netstack (kernel lock released during Attach): others wait for it.
    nonisolated(unsafe) static var starting = false

    static let slotCount = 1024
    static let ringSize = 256 * 1024
    static let callTimeout: Duration = .seconds(10)
    /// BULWARK_NETSTACK_ONEWAY=0 makes Close and the checked setsockopts wait for replies again (for
    /// comparisons only).
    static let oneWay = getenv("BULWARK_NETSTACK_ONEWAY").map { String(cString: $0) != "0" } ?? true

    let channel: Channel
    var writer = MessageWriter()
    let arena: SocketArena
    let toNetstackFD: Int32
    let toSentryFD: Int32
    /// Set once the netstack is gone: every socket fails with ENETDOWN / ECONNRESET.
    var dead = false
    var freeSlots: [Int]
    /// Slots of closed sockets, reusable once the netstack marks them released.
    var closingSlots: [Int] = []
    let kernel: Kernel
    /// Serialises calls on the channel (and `writer`). Never taken with the kernel lock held.
    private var callMutex = pthread_mutex_t()
    /// One-way requests not sent yet, in the application's order: Closes of sockets whose last
    /// descriptor went away (kernel lock held then, so no call is possible there) and checked
    /// setsockopts. Sent before the next call, or by the waker when rung (see `queue`).
    /// Guarded by the kernel lock.
    enum Pending { case close(UInt64, Int), option(Netstack.SetOption), acceptSlots(Netstack.AcceptSlots) }
    private(set) var pendingOneWay: [Pending] = []   // appended only through `queue`
    /// Rung to have the waker send the queued one-way requests.
    let closeBellFD: Int32

    init(channel: Channel, arena: SocketArena, toNetstack: Int32, toSentry: Int32, kernel: Kernel) {
        self.channel = channel
        self.arena = arena
        self.toNetstackFD = toNetstack
        self.toSentryFD = toSentry
        self.kernel = kernel
        freeSlots = Array((0..<NetstackConnection.slotCount).reversed())
        pthread_mutex_init(&callMutex, nil)
        closeBellFD = (try? HostOS.EventFD.create(nonBlocking: true).release()) ?? -1
    }

    /// The connection (kernel lock held), connecting on first use.
    static func get(_ kernel: Kernel) -> KResult<NetstackConnection> {
        while starting { kernel.waitCond(deadline: addNanos(monotonicNow(), 50_000_000)) }
        if let c = shared { return c.dead ? .failure(ENETDOWN) : .success(c) }
        if let e = startFailure { return .failure(e) }
        starting = true
        defer { starting = false; kernel.broadcast() }
        switch start(kernel) {
        case .success(let c): shared = c; return .success(c)
        case .failure(let e): startFailure = e; return .failure(e)
        }
    }

    private static func start(_ kernel: Kernel) -> KResult<NetstackConnection> {
        var socket: Int32
        if let fd = NetworkOptions.netstackFD {
            socket = fd
        } else {
            // Spawn our own netstack next to this executable (loopback only unless --network sandbox).
            guard let exe = HostSelf.siblingExecutable("bulwark-netstack") else { return .failure(ENETDOWN) }
            let mine: Int32, theirs: Int32
            do {
                let pair = try HostOS.UnixSocket.pair()
                mine = try pair.first.duplicate().release()
                theirs = try pair.second.duplicate().release()
            } catch { return .failure(ENETDOWN) }
            defer { close(theirs) }
            var opts = SpawnOptions(path: exe, arguments: [exe, "--channel-fd", String(theirs)] + NetworkOptions.spawnArguments + ServiceFaultSpecs.arguments(for: .netstack))
            opts.inheritedDescriptors = [theirs] + (NetworkOptions.handoff?.descriptors ?? [])
            // No PDEATHSIG: it follows the spawning thread (a task's tracer), not the Sentry. The
            // netstack exits when the channel closes, i.e. when the Sentry goes away.
            opts.stderr = kernel.config.logFD   // its diagnostics go where ours go
            // The calling task thread is pinned to its CPU and the netstack inherits that pin: it shares
            // that CPU with the task threads (it preempts them, never a split stub).
            // BULWARK_UNPIN_HELPERS=1 spawns it (and procfs) with the Sentry's whole CPU mask instead:
            // off by default, redis -c 20 at load 6-7 ran at about half the rate (docs, "Platform:
            // hand-off CPU per request (session 10)").
            let unpin = NetstackConnection.unpinHelpers && bw_spawn_affinity_begin() == 0
            defer { if unpin { bw_spawn_affinity_end() } }
            do {
                _ = try ProcessSpawn.spawn(opts)
                NetworkOptions.handoff = nil   // the link is the netstack's now: our copies close
            } catch {
                kernel.log("bulwark-sentry: cannot start \(exe): \(error)\n")
                return .failure(ENETDOWN)
            }
            socket = mine
        }
        let channel = Channel(OwnedFD(adopting: socket))
        var memory: Int32 = -1
        let arena: SocketArena
        let toNet: Int32, toSentry: Int32
        do {
            arena = try SocketArena.create(slotCount: slotCount, ringSize: ringSize, memory: &memory)
            toNet = try HostOS.EventFD.create(nonBlocking: true).release()
            toSentry = try HostOS.EventFD.create(nonBlocking: true).release()
        } catch {
            kernel.log("bulwark-sentry: socket arena: \(error)\n")
            return .failure(ENOMEM)
        }
        let c = NetstackConnection(channel: channel, arena: arena, toNetstack: toNet, toSentry: toSentry, kernel: kernel)
        let attach = Netstack.Attach(memory: FDIndex(0), memorySize: UInt64(arena.size), slotCount: UInt32(slotCount),
                                     ringSize: UInt32(ringSize), toNetstack: FDIndex(1), toSentry: FDIndex(2))
        let r = c.call(attach, fds: [memory, toNet, toSentry])
        close(memory)
        if case .failure(let e) = r {
            kernel.log("bulwark-sentry: netstack refused the socket arena (errno \(e))\n")
            return .failure(ENETDOWN)
        }
        kernel.netBell = arena.toSentry   // readiness sleepers sleep on its word from now on
        c.startWaker()
        return .success(c)
    }

    /// One request; errors become errno values. A broken channel marks the netstack dead. Called
    /// with the kernel lock held; releases it while the request is in flight (the caller must expect
    /// other tasks to have run when it returns) and holds it again on return.
    func call<R: WireRequest>(_ request: R, fds: [Int32] = []) -> KResult<R.Reply> {
        if dead { return .failure(ENETDOWN) }
        let closes = pendingOneWay
        tookQueue()
        kernel.unlock()
        pthread_mutex_lock(&callMutex)
        var failure: String? = nil
        let released = sendPending(closes, failure: &failure)
        var result: KResult<R.Reply> = .failure(ENETDOWN)
        if failure == nil {
            var received = ReceivedFDs()
            do {
                let reply = try fds.withUnsafeBufferPointer { p throws(IPCError) in
                    try channel.call(request, writer: &writer, fds: p, receivedFDs: &received, timeout: NetstackConnection.callTimeout)
                }
                result = .success(reply)
            } catch {
                if case .remote(let e, _) = error { result = .failure(e.rawValue) } else { failure = "\(error)" }
            }
        }
        pthread_mutex_unlock(&callMutex)
        kernel.lock()
        for i in released { retireSlot(i) }
        if let why = failure { markDead(why); return .failure(ENETDOWN) }
        return result
    }

    /// Sends queued Close requests (call mutex held, kernel lock not held); returns the slots the
    /// netstack takes back. One-way messages (no reply to wait for: the channel keeps them in order
    /// before any later request, and the slot is reused only once the netstack marks it released), so
    /// an accept loop pays no round trip per close. Stops at the first transport failure.
    private func sendPending(_ closes: [Pending], failure: inout String?) -> [Int] {
        var released: [Int] = []
        for p in closes {
            let handle: UInt64, slot: Int
            switch p {
            case .close(let h, let i): handle = h; slot = i
            case .option(let o):
                if let why = sendOneWay(o) { failure = why; return released }
                continue
            case .acceptSlots(let m):   // SysInetAccept.swift
                if let why = sendOneWay(m) { failure = why; return released }
                continue
            }
            if !NetstackConnection.oneWay {
                var received = ReceivedFDs()
                do {
                    _ = try channel.call(Netstack.Close(handle: handle), writer: &writer, fds: .empty, receivedFDs: &received,
                                         timeout: NetstackConnection.callTimeout)
                } catch {
                    if case .remote = error { continue }
                    failure = "\(error)"
                    break
                }
            } else if let why = sendOneWay(Netstack.Close(handle: handle)) { failure = why; break }
            released.append(slot)
        }
        return released
    }

    /// Sends `request` flagged one-way (call mutex held, kernel lock not held): the netstack handles
    /// it in channel order and sends no reply. Only for requests whose failure is impossible or
    /// harmless once the Sentry validated them. Returns the transport failure, if any.
    private func sendOneWay<R: WireRequest>(_ request: R) -> String? {
        do {
            try writer.encode(request, requestID: 0, flags: .oneWay)
        } catch { return "\(error)" }
        var failure: String? = nil
        writer.withFrame { bytes in
            do throws(IPCError) {
                try channel.send(messageID: R.messageID, flags: .oneWay, requestID: 0,
                                 body: UnsafeRawBufferPointer(rebasing: bytes[FrameHeader.size...]),
                                 timeout: NetstackConnection.callTimeout)
            } catch { failure = "\(error)" }
        }
        return failure
    }

    /// A setsockopt the Sentry does not wait for (kernel lock held): e.g. TCP_NODELAY or SO_KEEPALIVE
    /// on a connection, validated beforehand so the netstack cannot refuse it. Queued, not sent: the
    /// next call or the waker sends it, in order, with the others (an accept loop's options and
    /// closes reach the netstack as one burst before its next Accept, one wake-up of the netstack).
    func post(_ option: Netstack.SetOption) -> Int32 {
        if !NetstackConnection.oneWay {
            if case .failure(let e) = call(option) { return e }
            return 0
        }
        if dead { return ENETDOWN }
        queue(.option(option))
        return 0
    }

    /// Queues a one-way request (kernel lock held). Not rung per request: waking the waker for each
    /// burst cost an accept loop a thread wake-up and a kernel-lock hand-off per connection. The
    /// queue goes out with the next call, or the waker is rung when the task that queued it next
    /// sleeps (`ringIfQueued`, from every task sleep), when 32 are queued, when the queuing task
    /// has made `staleAfter` more system calls without sleeping (`noteSyscall`), or at once for
    /// `urgent` requests (accept slot top-ups, which an accept loop waits for).
    func queue(_ p: Pending, urgent: Bool = false) {
        if pendingOneWay.isEmpty { queueEpoch &+= 1 }
        pendingOneWay.append(p)
        kernel.oneWayQueued = true
        if urgent || pendingOneWay.count >= 32 {
            ring()
        } else if !wakerTicking && NetstackConnection.tickMs > 0 {
            // The first request after a quiet second: the waker starts ticking (below), so a request
            // whose task computes without a system call afterwards still goes out within ms.
            wakerTicking = true
            ring()
        }
    }

    /// Bumped when a request goes into an empty queue (kernel lock held): the waker's tick flushes a
    /// queue only if it was already there at the previous tick (`wake`).
    private var queueEpoch: UInt64 = 0
    /// The waker wakes every `tickMs` while one-way requests were queued within the last second, and
    /// sends a queue that waited a whole tick: the bound on how long a Close (the peer's FIN) or an
    /// option of a task that computes without system calls waits (session 9; before, up to the
    /// waker's 1 s timeout). Tasks that sleep or make calls still send their queue themselves.
    private var wakerTicking = false
    /// BULWARK_NETSTACK_TICK_MS (default 10; 0: no tick, the waker's 1 s timeout as before session 9).
    static let tickMs: Int32 = getenv("BULWARK_NETSTACK_TICK_MS").flatMap { Int32(String(cString: $0)) }.map { max(0, min($0, 1000)) } ?? 10

    /// Every task sleep (kernel lock held): send what is queued while this task sleeps.
    @inline(__always) func ringIfQueued() {
        if !pendingOneWay.isEmpty { ring() }
    }

    static let staleAfter = 16
    private var syscallsSinceQueued = 0
    /// After each system call while requests are queued (kernel lock held): a task that keeps
    /// running without sleeping still gets its closes and options out within a few calls.
    func noteSyscall() {
        if pendingOneWay.isEmpty {
            kernel.oneWayQueued = false
            syscallsSinceQueued = 0
            return
        }
        syscallsSinceQueued += 1
        if syscallsSinceQueued >= NetstackConnection.staleAfter { ring() }
    }

    private var bellRung = false
    private func ring() {
        if bellRung { return }
        bellRung = true
        syscallsSinceQueued = 0
        try? HostOS.EventFD.signal(closeBellFD)
    }

    /// The queue was taken for sending (kernel lock held).
    private func tookQueue() {
        pendingOneWay.removeAll()
        bellRung = false
        syscallsSinceQueued = 0
        kernel.oneWayQueued = false
    }

    /// The last descriptor of a socket went away (kernel lock held): its Close goes out with the
    /// next call, or from the waker thread.
    func queueClose(handle: UInt64, slot: Int) {
        if dead { return }
        queue(.close(handle, slot))
    }

    /// The sandbox is ending (no lock held): Closes and options still queued go out now, so the peers
    /// of sockets the last tasks left open get their FIN, as when a Linux process exits. Bounded: a
    /// call still in flight gets 1 s to finish before the Sentry exits without waiting further.
    static func flushAtExit() {
        guard let c = shared else { return }
        for _ in 0..<100 {
            if !c.flushPending() { return }
            usleep(10_000)
        }
    }

    /// The waker's share of closing (no lock held on entry): sends what is queued unless a call is in
    /// flight (that call sends them, or the next round does). Returns true if requests remain queued.
    private func flushPending() -> Bool {
        kernel.lock()
        if pendingOneWay.isEmpty || dead {
            kernel.unlock()
            return false
        }
        if pthread_mutex_trylock(&callMutex) != 0 {
            kernel.unlock()
            return true
        }
        let closes = pendingOneWay
        tookQueue()
        kernel.unlock()
        var failure: String? = nil
        let released = sendPending(closes, failure: &failure)
        pthread_mutex_unlock(&callMutex)
        kernel.lock()
        for i in released { retireSlot(i) }
        if let why = failure { markDead(why) }   // wakes every waiter itself
        // Nobody sleeps waiting for a flush (a retired slot is found by allocateSlot, not awaited).
        kernel.unlock()
        return false
    }

    func markDead(_ why: String) {
        if dead { return }
        dead = true
        kernel.log("bulwark-sentry: netstack connection lost (\(why)); sockets fail with ENETDOWN/ECONNRESET\n")
        kernel.broadcast()
    }

    /// A free slot, reset for a new socket (nil when all 1024 are in use).
    func allocateSlot() -> Int? {
        if freeSlots.isEmpty {
            closingSlots.removeAll { i in
                if arena.slot(i).state.contains(.released) { freeSlots.append(i); return true }
                return false
            }
        }
        guard let i = freeSlots.popLast() else { return nil }
        arena.slot(i).reset()
        return i
    }

    /// A slot the netstack never took (the request failed): free at once.
    func returnSlot(_ i: Int) { freeSlots.append(i) }
    /// A slot of a socket the netstack is closing: free once it says released.
    func retireSlot(_ i: Int) { closingSlots.append(i) }

    /// After a write into `slot`'s send ring, which now holds `queued` bytes: marks the slot (the pump
    /// then visits it without reading every slot's ring indices, SendMarks), then kicks. While the ring
    /// holds little (a request/response exchange), the doorbell may be held for a burst of calls
    /// (`WakeState.kickHoldable`); a bulk writer's is not. (A deferred kick held until the task slept or
    /// made another call, without a time bound, was tried in session 9 and removed in session 10.)
    @inline(__always) func kickSent(_ slot: Int, queued: Int) {
        arena.sendMarks.mark(slot)
        kick(holdable: queued <= NetstackConnection.holdableQueue)
    }
    /// Bytes in a send ring up to which its doorbell may be held (a few replies; a bulk writer has more).
    static let holdableQueue = 16 * 1024

    /// After the Sentry changed a ring: wake the pump if it announced sleep (kernel lock held). The
    /// eventfd write (5-15 us on the 2-vCPU VM: it wakes the netstack) waits for the unlock, and on a
    /// task's system call path until the task has handed its stub the next command
    /// (`PlatformStub.run(thenWrite:hold:)`), so the stub runs the application instead of spinning through
    /// it. BULWARK_NETSTACK_LATE_KICK=0 writes at once (before session 10).
    /// `holdable`: the platform may hold the write a little longer while the application goes on
    /// making system calls (a small send); a reader making room, or a bulk writer, is not held.
    func kick(holdable: Bool = false) {
        if arena.toNetstack.changed() {
            if NetstackConnection.lateKick {
                kernel.wakes.kickFD = toNetstackFD
            } else {
                try? HostOS.EventFD.signal(toNetstackFD)
            }
        }
        if !holdable { kernel.wakes.kickHoldable = false }
    }
    static let unpinHelpers = getenv("BULWARK_UNPIN_HELPERS").map { String(cString: $0) == "1" } ?? false
    static let lateKick = getenv("BULWARK_NETSTACK_LATE_KICK").map { String(cString: $0) != "0" } ?? true

    /// The waker: sleeps on the close bell (one-way requests queued) and the channel (HUP when the
    /// netstack dies). The netstack's doorbell does not pass through it: readiness sleepers sleep on
    /// the arena's generation word and the netstack FUTEX_WAKEs them (WaitQueue.swift).
    private func startWaker() {
        var th = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&th, nil, { arg in
            Unmanaged<NetstackConnection>.fromOpaque(arg!).takeUnretainedValue().wake()
            return nil
        }, me)
        pthread_detach(th)
    }

    private func wake() {
        let channelFD = channel.descriptor
        var rung = true
        var seenEpoch: UInt64 = 0, staleEpoch: UInt64? = nil
        var quietTicks = 0
        while true {
            // Rung (or the 1 s timeout): send what is queued. A tick: send only a queue that was
            // already there at the previous tick (its task neither slept nor made 16 calls since).
            var flush = rung
            var ticking = false
            kernel.lock()
            if rung { bellRung = false }   // the waker was rung: the next request rings again
            if !rung {
                let queued = !pendingOneWay.isEmpty
                if queued && staleEpoch == queueEpoch { flush = true }
                staleEpoch = queued ? queueEpoch : nil
                if queueEpoch != seenEpoch { quietTicks = 0 } else { quietTicks += 1 }
                if wakerTicking && quietTicks * Int(NetstackConnection.tickMs) >= 1000 { wakerTicking = false }
            }
            seenEpoch = queueEpoch
            ticking = wakerTicking
            kernel.unlock()
            let closesLeft = flush ? flushPending() : false
            var fds = [pollfd(fd: channelFD, events: 0, revents: 0),
                       pollfd(fd: closeBellFD, events: Int16(POLLIN), revents: 0)]
            _ = Glibc.poll(&fds, 2, closesLeft ? 5 : ticking ? NetstackConnection.tickMs : 1000)
            rung = closesLeft
            if fds[1].revents & Int16(POLLIN) != 0 {
                var v: UInt64 = 0
                _ = Glibc.read(closeBellFD, &v, 8)
                rung = true
            }
            if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 {
                kernel.lock()
                markDead("the netstack closed its channel")
                kernel.unlock()
                return
            }
        }
    }
}

// The netstack's host side: a real monotonic clock, an AF_PACKET link on a named interface, taking
// the interface's configuration over from the host kernel, and the poll loop that drives the stack.
import Glibc
import HostOS
import NetstackCore

/// CLOCK_MONOTONIC in nanoseconds. The service freezes it for one pass over the stack (a driver
/// round, a request): one clock read per pass instead of one per segment built or timer armed.
public final class MonotonicClock: NetClock {
    public init() {}
    /// Nonzero while frozen. Guarded by the service's lock, as every use of the clock.
    private var frozenAt: Int64 = 0

    public var nanoseconds: Int64 { frozenAt != 0 ? frozenAt : read() }

    /// The time now, never the frozen one.
    public func read() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public func freeze() { frozenAt = read() }
    public func thaw() { frozenAt = 0 }
}

/// A NetstackCore `Link` over an AF_PACKET socket. Frames the kernel cannot queue are dropped
/// (the Link contract allows it; TCP retransmits), after a short wait for room.
public final class PacketLink: Link {
    public let socket: PacketSocket
    /// Sends with segmentation offload when the kernel offers it (nil: frames go out `socket`).
    public let transmitter: PacketTransmitter?
    public private(set) var dropped = 0
    /// Where sent frames go for reuse (the stack's `framePool`, set when the link is attached).
    public var framePool: FramePool?

    public init(socket: PacketSocket, transmitter: PacketTransmitter? = nil) {
        self.socket = socket
        self.transmitter = transmitter
    }

    public var segmentationOffload: Int { transmitter == nil ? 0 : PacketTransmitter.largestPacket }
    /// The transmitter hands the kernel every TCP frame with its checksum to fill in.
    public var transmitChecksumOffload: Bool { transmitter != nil }
    public private(set) var receivedChecksumTrusted = false

    public func transmit(_ frame: [UInt8]) { transmit(frame, segmentSize: 0) }

    /// Frames queued for one sendmmsg (with the transmitter), sent by `flush` (the stack calls it at
    /// the end of every poll and pump) or when `batchLimit` are waiting. BULWARK_NETSTACK_BATCH=0
    /// sends each frame at once (for comparisons).
    private var pending: [[UInt8]] = []
    private var pendingSizes: [UInt32] = []
    private let batching = getenv("BULWARK_NETSTACK_BATCH").map { String(cString: $0) != "0" } ?? true

    public func transmit(_ frame: [UInt8], segmentSize: Int) {
        if batching, transmitter != nil {
            pending.append(frame)
            pendingSizes.append(UInt32(clamping: segmentSize))
            if pending.count >= PacketTransmitter.batchLimit { flush() }
            return
        }
        if send(frame, segmentSize) { return }
        // Queue full: wait up to 5 ms for room once, then drop.
        let fd = transmitter?.fd.rawValue ?? socket.fd.rawValue
        _ = try? Poll.wait(fd, for: Poll.writable, timeoutMilliseconds: 5)
        if !send(frame, segmentSize) { dropped += 1 }
    }

    /// Sends the queued frames, a batch per sendmmsg. Queue full: wait up to 5 ms for room once, then
    /// drop what still does not go, one frame at a time (as `transmit` without batching).
    public func flush() {
        guard !pending.isEmpty, let t = transmitter else { return }
        var i = 0
        var waited = false
        while i < pending.count {
            let n = t.send(batch: pending, segmentSizes: pendingSizes, from: i)
            if n > 0 { i += n; continue }
            if !waited {
                waited = true
                _ = try? Poll.wait(t.fd.rawValue, for: Poll.writable, timeoutMilliseconds: 5)
                continue
            }
            dropped += 1
            i += 1
        }
        // The kernel copied every frame (packet_snd): the arrays go back to the stack for its next
        // packets, moved out of `pending` so the pool holds the only reference.
        if let pool = framePool {
            while let f = pending.popLast() { pool.give(f) }
        } else {
            pending.removeAll(keepingCapacity: true)
        }
        pendingSizes.removeAll(keepingCapacity: true)
    }

    private func send(_ frame: [UInt8], _ segmentSize: Int) -> Bool {
        if let t = transmitter { return t.send(frame, segmentSize: segmentSize) }
        return socket.send(frame)
    }

    /// Frames whose checksum the sending kernel left to offload come from the kernel across a veth,
    /// never from a wire: TCP ones are passed on as trusted (the stack skips their checksum, two
    /// passes over every byte saved), others get the checksum completed here and verified as usual.
    public func receive() -> [UInt8]? {
        var partial: Int32 = 0
        receivedChecksumTrusted = false
        guard var frame = socket.receive(checksumPartial: &partial) else { return nil }
        if partial != 0 {
            if ChecksumOffload.isTCP(frame) { receivedChecksumTrusted = true } else { ChecksumOffload.complete(&frame) }
            completed += 1
        }
        return frame
    }
    public private(set) var completed = 0
}

public struct HostLinkError: Error, CustomStringConvertible {
    public var description: String
}

/// What the netstack took from the host interface.
public struct HostInterfaceSetup {
    public var interfaceIndex: Int      // in the NetworkStack
    public var link: PacketLink
    public var host: NetlinkInterface
}

public enum HostInterface {
    /// A netstack started by hand with `--interface` (and the capabilities for it) opens its link
    /// itself: the same opening, checks and take-over as a spawner's (LinkHandoff), then the same
    /// attachment as a handed-over link (HandedOverLink.swift), on its own copies of the descriptors.
    public static func attach(_ name: String, to stack: NetworkStack, takeOver: Bool) throws -> HostInterfaceSetup {
        let opened = try LinkHandoff(interface: name, takeOver: takeOver)   // closes its descriptors when done
        if case .failed(let why) = opened.ingressDrop {
            note("bulwark-netstack: \(name): the host kernel keeps processing received frames (\(why))")
        }
        func own(_ fd: Int32) throws -> Int32 {
            try hostCall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(fd, F_DUPFD_CLOEXEC, 3) }
        }
        let handed = HandedOverLink(receiveFD: try own(opened.receiveFD), transmitFD: try opened.transmitFD.map(own),
                                    interface: opened.interface)
        return try attach(handed, to: stack)
    }

    /// A line on stderr (set-up diagnostics, before the service loop runs).
    public static func note(_ text: String) {
        _ = (text + "\n").withCString { Glibc.write(2, $0, strlen($0)) }
    }

    static func ipv6(_ b: [UInt8]) -> IPv6Address {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(b[i]) }
        for i in 8..<16 { lo = lo << 8 | UInt64(b[i]) }
        return IPv6Address(high: hi, low: lo)
    }
}

/// Drives a stack from its packet links: waits (poll) for frames or the stack's next deadline,
/// then runs `stack.poll()`. `extraFDs` (e.g. the IPC channel) also end the wait.
public final class HostNetLoop {
    public let stack: NetworkStack
    public let clock: MonotonicClock
    private var links: [PacketLink] = []

    public init(stack: NetworkStack, clock: MonotonicClock) {
        self.stack = stack
        self.clock = clock
    }

    public func add(_ link: PacketLink) { links.append(link) }

    /// A frame waits in a link's receive ring (memory only; false for links without a ring).
    public func framesWaiting() -> Bool {
        for l in links where l.socket.receiveRing?.frameWaiting ?? false { return true }
        return false
    }

    /// Waits without touching the stack until a frame arrives or `milliseconds` pass (for a driver
    /// thread that locks the stack only around `poll()`).
    /// Returns the revents of `extraFDs`, in order (so the caller drains an eventfd only when it fired).
    @discardableResult
    public func waitForFrames(milliseconds: Int32, extraFDs: [Int32] = []) -> [Int16] {
        var fds = links.map { pollfd(fd: $0.socket.fd.rawValue, events: Int16(POLLIN), revents: 0) }
        fds += extraFDs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = Glibc.poll(&fds, nfds_t(fds.count), milliseconds)
        return fds[links.count...].map(\.revents)
    }

    /// The driver's form, without an array per call: waits for a frame or one of `extraFDs`, then
    /// replaces every entry of `extraFDs` that did not become readable with -1.
    public func waitForFrames(milliseconds: Int32, extraFDs: inout [Int32]) {
        scratch.removeAll(keepingCapacity: true)
        for l in links { scratch.append(pollfd(fd: l.socket.fd.rawValue, events: Int16(POLLIN), revents: 0)) }
        for fd in extraFDs { scratch.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        _ = Glibc.poll(&scratch, nfds_t(scratch.count), milliseconds)
        for i in extraFDs.indices where scratch[links.count + i].revents & Int16(POLLIN) == 0 { extraFDs[i] = -1 }
    }
    private var scratch: [pollfd] = []

    /// Waits for one of `fds` (no links: loopback only), then replaces every entry that did not
    /// become readable with -1.
    public static func wait(milliseconds: Int32, fds: inout [Int32]) {
        var p = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = Glibc.poll(&p, nfds_t(p.count), milliseconds)
        for i in fds.indices where p[i].revents & Int16(POLLIN) == 0 { fds[i] = -1 }
    }

    /// One round: wait at most `maxWaitMilliseconds` (less if a timer is due), then process.
    /// Returns the revents of `extraFDs`, in order.
    @discardableResult
    public func runOnce(maxWaitMilliseconds: Int32, extraFDs: [Int32] = []) -> [Int16] {
        stack.poll()
        var wait = maxWaitMilliseconds
        if let d = stack.nextDeadline {
            let ms = (d - clock.nanoseconds + 999_999) / 1_000_000
            wait = Int32(max(0, min(Int64(wait), ms)))
        }
        var fds = links.map { pollfd(fd: $0.socket.fd.rawValue, events: Int16(POLLIN), revents: 0) }
        fds += extraFDs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = Glibc.poll(&fds, nfds_t(fds.count), wait)
        stack.poll()
        return fds[links.count...].map(\.revents)
    }
}

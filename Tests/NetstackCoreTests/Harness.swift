import Testing
@testable import NetstackCore

final class FakeClock: NetClock {
    var nanoseconds: Int64 = 0
}

/// A point-to-point Ethernet wire with latency and, driven by a seeded PRNG, loss, reordering and
/// duplication. Frames sent by one side are delivered to the other after `latency`.
final class Wire {
    struct Pending {
        var at: Int64
        var order: Int
        var frame: [UInt8]
    }

    let clock: FakeClock
    var rng: SplitMix64
    var lossPercent = 0.0
    var reorderPercent = 0.0
    var duplicatePercent = 0.0
    /// Flips one byte past the Ethernet header: the receiver's checksums must catch it.
    var corruptPercent = 0.0
    var latency: Int64 = 1 * Time.millisecond
    /// Extra delay of a reordered frame (later frames overtake it).
    var reorderDelay: Int64 = 3 * Time.millisecond
    /// Return false to drop a frame sent by `side` (applied before random loss).
    var filter: ((Int, [UInt8]) -> Bool)?
    /// Every frame offered to the wire, with the time and the sending side.
    var log: [(time: Int64, side: Int, frame: [UInt8])] = []
    var keepLog = false
    var queues: [[Pending]] = [[], []]
    var order = 0
    var dropped = 0
    var duplicated = 0

    init(clock: FakeClock, seed: UInt64 = 7) {
        self.clock = clock
        rng = SplitMix64(seed: seed)
    }

    func end(_ side: Int) -> WireEnd { WireEnd(wire: self, side: side) }

    private func chance(_ percent: Double) -> Bool {
        percent > 0 && Double(rng.below(1_000_000)) < percent * 10_000
    }

    func send(_ f: [UInt8], from side: Int) {
        if keepLog { log.append((clock.nanoseconds, side, f)) }
        if let filter, !filter(side, f) { dropped += 1; return }
        if chance(lossPercent) { dropped += 1; return }
        var f = f
        if f.count > 14 && chance(corruptPercent) {
            let i = 14 + Int(rng.below(UInt64(f.count - 14)))
            f[i] ^= UInt8(1 + rng.below(255))
        }
        var at = clock.nanoseconds + latency
        if chance(reorderPercent) { at += reorderDelay }
        enqueue(f, to: 1 - side, at: at)
        if chance(duplicatePercent) {
            duplicated += 1
            enqueue(f, to: 1 - side, at: at + Time.millisecond / 2)
        }
    }

    /// Delivers a forged frame to `side` now.
    func inject(_ f: [UInt8], to side: Int) { enqueue(f, to: side, at: clock.nanoseconds) }

    private func enqueue(_ f: [UInt8], to side: Int, at: Int64) {
        order += 1
        let p = Pending(at: at, order: order, frame: f)
        var i = queues[side].count
        while i > 0 && queues[side][i - 1].at > at { i -= 1 }
        queues[side].insert(p, at: i)
    }

    func take(for side: Int) -> [UInt8]? {
        guard let first = queues[side].first, first.at <= clock.nanoseconds else { return nil }
        return queues[side].removeFirst().frame
    }

    var nextDelivery: Int64? {
        [queues[0].first?.at, queues[1].first?.at].compactMap { $0 }.min()
    }
}

final class WireEnd: Link {
    let wire: Wire
    let side: Int
    init(wire: Wire, side: Int) {
        self.wire = wire
        self.side = side
    }
    func transmit(_ frame: [UInt8]) { wire.send(frame, from: side) }
    func receive() -> [UInt8]? { wire.take(for: side) }
}

/// Two stacks on one wire: A = 10.0.0.1 (side 0), B = 10.0.0.2 (side 1).
final class Pair {
    let clock = FakeClock()
    let wire: Wire
    let a: NetworkStack
    let b: NetworkStack
    static let addrA = IPv4Address(10, 0, 0, 1)
    static let addrB = IPv4Address(10, 0, 0, 2)
    static let macA = MACAddress(2, 0, 0, 0, 0, 1)
    static let macB = MACAddress(2, 0, 0, 0, 0, 2)

    init(seed: UInt64 = 1, config: StackConfig = StackConfig(), mtu: Int = 1500) {
        wire = Wire(clock: clock, seed: seed &+ 100)
        var ca = config
        ca.seed = seed
        var cb = config
        cb.seed = seed &+ 1
        a = NetworkStack(clock: clock, config: ca)
        b = NetworkStack(clock: clock, config: cb)
        a.addInterface(name: "eth0", mac: Pair.macA, address: Pair.addrA, prefixLength: 24, mtu: mtu, link: wire.end(0))
        b.addInterface(name: "eth0", mac: Pair.macB, address: Pair.addrB, prefixLength: 24, mtu: mtu, link: wire.end(1))
    }

    var now: Int64 { clock.nanoseconds }

    /// Polls both stacks, advancing the fake clock to the next event, until `done` or `limit` of
    /// simulated time has passed. Returns whether `done` became true.
    @discardableResult
    func run(for limit: Int64 = 10 * Time.second, until done: () -> Bool = { false }) -> Bool {
        let end = clock.nanoseconds + limit
        var spins = 0
        while spins < 5_000_000 {
            spins += 1
            a.poll()
            b.poll()
            if done() { return true }
            let next = [a.nextDeadline, b.nextDeadline, wire.nextDelivery].compactMap { $0 }.min()
            guard let n = next else {
                clock.nanoseconds = end
                return done()
            }
            if n > end {
                clock.nanoseconds = end
                a.poll(); b.poll()
                return done()
            }
            if n > clock.nanoseconds { clock.nanoseconds = n }
        }
        Issue.record("simulation did not settle")
        return false
    }
}

/// Parses a frame captured on the wire as IPv4/TCP, if it is one.
func tcpOf(_ f: [UInt8]) -> (IPv4Header, TCPHeader, Int)? {
    guard let e = try? EthernetHeader.parse(f), e.etherType == EtherType.ipv4,
          let ip = try? IPv4Header.parse(f, at: 14), ip.proto == IPProtocol.tcp else { return nil }
    let r = (14 + ip.headerLength)..<(14 + ip.totalLength)
    guard let t = try? TCPHeader.parse(f, r, source: ip.source, destination: ip.destination) else { return nil }
    return (ip, t, r.count - t.headerLength)
}

/// Builds an Ethernet frame carrying a TCP segment, for forging segments in tests.
func forgeTCP(from src: SocketAddress, srcMAC: MACAddress, to dst: SocketAddress, dstMAC: MACAddress, seq: UInt32,
              ack: UInt32, flags: TCPFlags, window: UInt16 = 1000, payload: [UInt8] = [],
              options: TCPOptions = TCPOptions()) -> [UInt8] {
    var t = TCPHeader()
    t.options = options
    t.sourcePort = src.port
    t.destinationPort = dst.port
    t.sequence = seq
    t.acknowledgment = ack
    t.flags = flags
    t.window = window
    var seg = [UInt8](repeating: 0, count: t.encodedLength) + payload
    guard case .v4(let s) = src.ip, case .v4(let d) = dst.ip else { fatalError("forgeTCP is IPv4 only") }
    t.write(into: &seg, 0..<seg.count, source: s, destination: d)
    var f = [UInt8](repeating: 0, count: 14) + makeIPv4(src: s, dst: d, proto: IPProtocol.tcp, payload: seg)
    EthernetHeader(destination: dstMAC, source: srcMAC, etherType: EtherType.ipv4).write(into: &f)
    return f
}

// The socket arena: one shared memory file (memfd) mapped by both the Sentry and bulwark-netstack,
// holding per socket a slot with two single-producer single-consumer byte rings (Sentry -> netstack
// "send", netstack -> Sentry "receive") and a state word. Payload bytes move through these rings;
// the SEQPACKET channel carries only control requests. Doorbells are eventfds, rung only when the
// other side said it is going to sleep (see `ArenaDoorbell`), so a busy transfer touches memory only.
//
// Layout (all offsets in bytes, little-endian, indices free-running u64 counters):
//   arena header (4096): 0 magic, 64 sentryGeneration u64, 72 pumpAsleep u32,
//                        128 netstackGeneration u64, 136 sentryAsleep u32 (the Sentry's tasks sleep
//                        in FUTEX_WAIT on the generation's low 32 bits: `ArenaDoorbell.ringSleepers`),
//                        2048..4096 the send marks: one bit per slot (slots 0..16383), set by the Sentry
//                        after it wrote into that slot's send ring, taken by the netstack's pump
//                        (`SendMarks`)
//   slot i at 4096 + i * slotSize, slotSize = 4096 + 2 * ringSize:
//     0 send head (netstack), 64 send tail (Sentry), 128 receive head (Sentry), 192 receive tail
//     (netstack), 256 state u32 (netstack), 260 error i32 (netstack), 264 roomWanted u32 (netstack:
//     it left the receive ring full with bytes still to come), 268 sendRoomWanted u32 (Sentry: a
//     writer or poller found the send ring full); the send ring's bytes at 4096,
//     the receive ring's at 4096 + ringSize.
import CBulwark
import Glibc
import LinuxABI

public struct SocketArena: @unchecked Sendable {
    public static let magic: UInt64 = 0x4157_4b52_4e45_5441   // "ATENRKWA"
    public static let headerSize = 4096
    public let base: UnsafeMutableRawPointer
    public let size: Int
    public let slotCount: Int
    public let ringSize: Int
    public var slotSize: Int { SocketArena.headerSize + 2 * ringSize }

    public static func byteSize(slotCount: Int, ringSize: Int) -> Int {
        headerSize + slotCount * (headerSize + 2 * ringSize)
    }

    static func valid(slotCount: Int, ringSize: Int) -> Bool {
        slotCount >= 1 && slotCount <= 65536 && ringSize >= 4096 && ringSize <= 1 << 24 && ringSize & (ringSize - 1) == 0
    }

    /// Creates and maps a new arena (the Sentry's side) in a new memfd, which `memory` receives. The
    /// memfd is sparse: pages exist once touched.
    public static func create(slotCount: Int, ringSize: Int, memory: inout Int32) throws(HostError) -> SocketArena {
        precondition(valid(slotCount: slotCount, ringSize: ringSize))
        let fd = OwnedFD(adopting: try hostCall("memfd_create") { bw_arena_memfd("bulwark-socket-arena") })
        let size = byteSize(slotCount: slotCount, ringSize: ringSize)
        _ = try hostCall("ftruncate(arena)") { ftruncate(fd.rawValue, off_t(size)) }
        let arena = try map(fd.rawValue, size: size, slotCount: slotCount, ringSize: ringSize, checkMagic: false)
        arena.base.storeBytes(of: magic, as: UInt64.self)
        memory = fd.release()
        return arena
    }

    /// Maps an arena received from the Sentry (the netstack's side), after checking its geometry
    /// against the file's real size so a lying peer cannot make us touch memory past the mapping.
    public static func map(_ fd: Int32, size: Int, slotCount: Int, ringSize: Int, checkMagic: Bool = true) throws(HostError) -> SocketArena {
        guard valid(slotCount: slotCount, ringSize: ringSize), size == byteSize(slotCount: slotCount, ringSize: ringSize) else {
            throw HostError(call: "arena geometry", errno: .EINVAL)
        }
        var st = stat()
        _ = try hostCall("fstat(arena)") { fstat(fd, &st) }
        guard Int(st.st_size) >= size else { throw HostError(call: "arena size", errno: .EINVAL) }
        // SAFETY: a fresh shared mapping of `size` bytes; it is never unmapped while a SocketArena
        // value refers to it (the arena lives as long as the process's netstack connection).
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw HostError(call: "mmap(arena)", errno: LinuxABI.Errno(rawValue: errno))
        }
        let arena = SocketArena(base: p, size: size, slotCount: slotCount, ringSize: ringSize)
        if checkMagic && p.load(as: UInt64.self) != magic {
            munmap(p, size)
            throw HostError(call: "arena magic", errno: .EINVAL)
        }
        return arena
    }

    public func slot(_ i: Int) -> ArenaSlot {
        precondition(i >= 0 && i < slotCount)
        return ArenaSlot(base: base + SocketArena.headerSize + i * slotSize, ringSize: ringSize)
    }

    /// The Sentry's doorbell towards the netstack's pump thread.
    public var toNetstack: ArenaDoorbell { ArenaDoorbell(generation: base + 64, asleep: base + 72) }
    /// The netstack's doorbell towards the Sentry's waker thread.
    public var toSentry: ArenaDoorbell { ArenaDoorbell(generation: base + 128, asleep: base + 136) }
    /// Which slots' send rings the Sentry wrote into since the pump last looked.
    public var sendMarks: SendMarks { SendMarks(words: base + 2048) }
}

/// One bit per slot, in the arena header: the Sentry sets a slot's bit after every write into its
/// send ring (and before bumping the netstack's doorbell generation); the pump, when the generation
/// moved, takes the words (exchange with 0) and visits only the marked slots instead of reading every
/// bound slot's ring indices. A write after the take sets the bit again and moves the generation
/// again, so nothing is missed. Slots from `capacity` on are never marked: a netstack with more slots
/// than that scans the rings as before.
public struct SendMarks: @unchecked Sendable {
    public static let capacity = 16384
    public static let wordCount = capacity / 64
    let words: UnsafeMutableRawPointer

    /// The Sentry: `slot`'s send ring has new bytes (call after committing them).
    @inline(__always) public func mark(_ slot: Int) {
        guard slot >= 0 && slot < SendMarks.capacity else { return }
        bw_arena_or64(words + (slot >> 6) * 8, 1 << UInt64(slot & 63))
    }

    /// The netstack: calls `body` with every marked slot below `limit` words' worth, clearing the marks.
    @inline(__always) public func take(words count: Int, _ body: (Int) -> Void) {
        for w in 0..<Swift.min(count, SendMarks.wordCount) {
            let p = words + w * 8
            guard bw_arena_load64(p) != 0 else { continue }
            var bits = bw_arena_exchange64(p, 0)
            while bits != 0 {
                let b = bits.trailingZeroBitCount
                bits &= bits &- 1
                body(w * 64 + b)
            }
        }
    }
}

/// A generation counter plus an "I am going to sleep" flag: the producer bumps the generation after a
/// change and writes the eventfd only if the consumer had announced sleep. The consumer announces
/// sleep, then re-reads the generation before blocking, so no change is missed (both sides use
/// sequentially consistent operations: a store-then-load on each side).
public struct ArenaDoorbell: @unchecked Sendable {
    let generation: UnsafeMutableRawPointer
    let asleep: UnsafeMutableRawPointer

    /// Producer: record a change; returns true if the eventfd must be written.
    public func changed() -> Bool {
        _ = bw_arena_add64(generation, 1)
        return bw_arena_exchange32(asleep, 0) != 0
    }

    public var current: UInt64 { bw_arena_load64(generation) }

    /// Consumer: announce sleep; returns false (and cancels) if a change came after `seen`.
    public func prepareToSleep(seen: UInt64) -> Bool {
        bw_arena_store32(asleep, 1)
        if bw_arena_load64(generation) != seen {
            bw_arena_store32(asleep, 0)
            return false
        }
        return true
    }

    public func awake() { bw_arena_store32(asleep, 0) }

    /// The generation's low 32 bits (little-endian), the futex word of the Sentry's sleepers.
    public var futexWord: UnsafeMutableRawPointer { generation }
    public var current32: UInt32 { UInt32(truncatingIfNeeded: bw_arena_load64(generation)) }

    /// Producer (the netstack towards the Sentry): records a change and, if a sleeper announced
    /// sleep, FUTEX_WAKEs every thread sleeping on the generation word. No eventfd and no Sentry
    /// thread in between: the task that waits for the socket is woken by the netstack itself.
    public func ringSleepers() {
        if changed() { bw_netwake_all(generation) }
    }

    /// Consumer (a Sentry task): sleeps until the generation differs from `seen`, a wake-up, or the
    /// absolute CLOCK_MONOTONIC `deadline`. Call after `prepareToSleep(seen:)` returned true. Returns
    /// false on timeout.
    public func sleep(seen: UInt32, deadline: timespec?) -> Bool {
        if var d = deadline { return bw_netwake_wait(generation, seen, &d) != -1 }
        return bw_netwake_wait(generation, seen, nil) != -1
    }

    /// Bumps the generation without looking at the sleep flag (the Sentry waking its own sleepers:
    /// under its lock, so a sleeper that has not reached FUTEX_WAIT yet will not sleep; the
    /// `wakeSleepers()` follows once the lock is released).
    public func bump() { _ = bw_arena_add64(generation, 1) }

    /// Wakes every sleeper on the generation word.
    public func wakeSleepers() { bw_netwake_all(generation) }

    /// Announces sleep against a 32-bit `seen` (the futex word's value); false if it changed. Several
    /// threads may sleep on the word, so the flag is never cleared here (another sleeper may count on
    /// it): at worst the producer makes one FUTEX_WAKE nobody needed. The producer clears it.
    public func prepareToSleep(seen32 seen: UInt32) -> Bool {
        bw_arena_store32(asleep, 1)
        return current32 == seen
    }
}

/// One socket's slot.
public struct ArenaSlot: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    let ringSize: Int

    /// Sentry -> netstack bytes.
    public var send: SharedRing { SharedRing(head: base, tail: base + 64, data: base + SocketArena.headerSize, capacity: ringSize) }
    /// Netstack -> Sentry bytes.
    public var receive: SharedRing {
        SharedRing(head: base + 128, tail: base + 192, data: base + SocketArena.headerSize + ringSize, capacity: ringSize)
    }

    /// SlotState bits, written by the netstack.
    public var state: SlotState {
        get { SlotState(rawValue: bw_arena_load32(base + 256)) }
        nonmutating set { bw_arena_store32(base + 256, newValue.rawValue) }
    }
    /// The pending socket error (positive errno) when `state` has `.error`.
    public var error: Int32 {
        get { Int32(bitPattern: bw_arena_load32(base + 260)) }
        nonmutating set { bw_arena_store32(base + 260, UInt32(bitPattern: newValue)) }
    }

    /// Set by the netstack when it left the receive ring full with bytes still waiting for room, cleared
    /// when it fills the ring again: a reader that frees room then rings the doorbell, other reads do not.
    /// Protocol: the netstack stores 1, fences and re-reads `receive.free`; the reader commits its read,
    /// fences (`ArenaSlot.fence()`) and reads this flag. One of them always sees the other's store.
    public var roomWanted: Bool {
        get { bw_arena_load32(base + 264) != 0 }
        nonmutating set { bw_arena_store32(base + 264, newValue ? 1 : 0) }
    }
    /// Set by the Sentry when a writer or poller found the send ring full, cleared by the netstack when
    /// it took bytes out and rang: draining the send ring wakes the Sentry only when someone waits for
    /// room (the Sentry stores 1, fences and re-reads `send.free`; the netstack commits, fences, reads).
    public var sendRoomWanted: Bool {
        get { bw_arena_load32(base + 268) != 0 }
        nonmutating set { bw_arena_store32(base + 268, newValue ? 1 : 0) }
    }
    /// A full barrier between a ring index store and a flag load (see `roomWanted`).
    public static func fence() { bw_arena_fence() }

    /// Zeroes the slot's indices and state (the Sentry, before handing the slot to the netstack).
    public func reset() { memset(base, 0, 512) }
}

public struct SlotState: OptionSet, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let connected = SlotState(rawValue: 1)     // data may be sent (established, close-wait)
    public static let endOfStream = SlotState(rawValue: 2)   // peer's FIN: all its data is in the ring
    public static let error = SlotState(rawValue: 4)         // `error` holds a pending errno
    public static let hup = SlotState(rawValue: 8)           // the connection is over (POLLHUP)
    public static let acceptable = SlotState(rawValue: 16)   // a listener has a connection to accept
    public static let connecting = SlotState(rawValue: 32)   // SYN sent, no answer yet
    public static let released = SlotState(rawValue: 64)     // the netstack is done with this slot
    public static let writable = SlotState(rawValue: 128)    // the stack would take more (datagrams)
}

/// A single-producer single-consumer byte ring over shared memory. Indices are free-running; the
/// consumer owns `head`, the producer `tail`. Every index read from the peer is clamped, so a corrupt
/// peer can garble bytes but never make us copy outside the ring.
public struct SharedRing: @unchecked Sendable {
    let head: UnsafeMutableRawPointer
    let tail: UnsafeMutableRawPointer
    let data: UnsafeMutableRawPointer
    public let capacity: Int

    /// Bytes readable now (clamped to the capacity).
    public var used: Int {
        let t = bw_arena_load64(tail), h = bw_arena_load64(head)
        let u = t &- h
        return u > UInt64(capacity) ? capacity : Int(u)
    }
    public var free: Int { capacity - used }

    /// Bytes ever produced / consumed (the free-running indices): "new data arrived" and "room was
    /// made" counters for edge-triggered epoll.
    public var produced: UInt64 { bw_arena_load64(tail) }
    public var consumed: UInt64 { bw_arena_load64(head) }

    /// Producer: the writable space as at most two spans (up to `max` bytes).
    public func writeSpans(max: Int) -> (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer) {
        let t = bw_arena_load64(tail)
        let n = Swift.min(max, free)
        let p = Int(t & UInt64(capacity - 1))
        let first = Swift.min(n, capacity - p)
        return (UnsafeMutableRawBufferPointer(start: data + p, count: first),
                UnsafeMutableRawBufferPointer(start: data, count: n - first))
    }

    /// Producer: publishes `n` bytes written into the spans.
    public func commitWrite(_ n: Int) { bw_arena_store64(tail, bw_arena_load64(tail) &+ UInt64(n)) }

    /// Consumer: the readable bytes from `offset` on, as at most two spans (up to `max` bytes).
    public func readSpans(offset: Int = 0, max: Int) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let u = used
        guard offset < u else { return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0)) }
        let n = Swift.min(max, u - offset)
        let p = Int((bw_arena_load64(head) &+ UInt64(offset)) & UInt64(capacity - 1))
        let first = Swift.min(n, capacity - p)
        return (UnsafeRawBufferPointer(start: data + p, count: first), UnsafeRawBufferPointer(start: data, count: n - first))
    }

    /// Consumer: releases `n` bytes.
    public func commitRead(_ n: Int) { bw_arena_store64(head, bw_arena_load64(head) &+ UInt64(Swift.min(n, used))) }

    /// Producer: copies `bytes` in if all of them fit; returns false otherwise.
    @discardableResult
    public func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= free else { return false }
        let (a, b) = writeSpans(max: bytes.count)
        if a.count > 0 { memcpy(a.baseAddress!, bytes.baseAddress!, a.count) }
        if b.count > 0 { memcpy(b.baseAddress!, bytes.baseAddress! + a.count, b.count) }
        commitWrite(bytes.count)
        return true
    }

    /// Consumer: copies `count` bytes from `offset` into `out` without consuming; false if fewer are there.
    public func peek(offset: Int, into out: UnsafeMutableRawBufferPointer) -> Bool {
        let (a, b) = readSpans(offset: offset, max: out.count)
        guard a.count + b.count == out.count else { return false }
        if a.count > 0 { memcpy(out.baseAddress!, a.baseAddress!, a.count) }
        if b.count > 0 { memcpy(out.baseAddress! + a.count, b.baseAddress!, b.count) }
        return true
    }
}

/// Datagram framing inside a ring: a 24-byte header (payload length u32, family u16, port u16 in host
/// order, 16 address bytes; family 0 means "no address") followed by the payload.
public struct DatagramHeader: Sendable {
    public static let size = 24
    public var length: UInt32
    public var family: UInt16
    public var port: UInt16
    public var address: (UInt64, UInt64)
    public init(length: UInt32, family: UInt16, port: UInt16, address: [UInt8]) {
        self.length = length; self.family = family; self.port = port
        var a: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &a) { dst in for (i, b) in address.prefix(16).enumerated() { dst[i] = b } }
        self.address = a
    }
    public var addressBytes: [UInt8] {
        var a = address
        let n = family == 2 ? 4 : 16
        return withUnsafeBytes(of: &a) { Array($0.prefix(n)) }
    }
    public func bytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: DatagramHeader.size)
        out.withUnsafeMutableBytes { b in
            b.storeBytes(of: length, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: family, toByteOffset: 4, as: UInt16.self)
            b.storeBytes(of: port, toByteOffset: 6, as: UInt16.self)
            b.storeBytes(of: address.0, toByteOffset: 8, as: UInt64.self)
            b.storeBytes(of: address.1, toByteOffset: 16, as: UInt64.self)
        }
        return out
    }
    public static func parse(_ b: UnsafeRawBufferPointer) -> DatagramHeader {
        var h = DatagramHeader(length: b.loadUnaligned(fromByteOffset: 0, as: UInt32.self),
                               family: b.loadUnaligned(fromByteOffset: 4, as: UInt16.self),
                               port: b.loadUnaligned(fromByteOffset: 6, as: UInt16.self), address: [])
        h.address = (b.loadUnaligned(fromByteOffset: 8, as: UInt64.self), b.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        return h
    }
}

// The TCP connections with an armed timer, ordered by deadline: a binary min-heap with lazy
// invalidation, so a poll round touches only the connections that are due and the stack's next
// deadline is the heap's top, instead of walking every connection (hundreds wait in an accept queue
// or closing under a connect storm).
//
// Invariant: a connection in the demultiplexing table whose `nextDeadline` is set has a live entry
// (its `timerGeneration`) at or before that deadline. Setting any deadline property pushes an entry
// when the new time is earlier than the live one (TCPSocket's didSet); clearing or postponing leaves
// the early entry, which is checked when it comes up and pushed again at the real deadline.

struct TCPTimerEntry {
    var deadline: Int64
    /// Push order: equal deadlines fire in the order they were armed (deterministic).
    var order: UInt64
    var generation: UInt32
    let socket: TCPSocket
}

/// What the heap holds: the entry with its connection as an owned unmanaged reference (one retain at
/// the push, one release when it leaves the heap), so moving entries up and down the heap is plain
/// copies, not a retain and a release per move (session 9: swift_retain/release under siftDown).
private struct HeapEntry {
    var deadline: Int64
    var order: UInt64
    var generation: UInt32
    let socket: Unmanaged<TCPSocket>

    @inline(__always) func before(_ o: HeapEntry) -> Bool {
        deadline < o.deadline || (deadline == o.deadline && order < o.order)
    }
}

/// The heap's storage: a class only so the references still queued are released with the stack.
private final class HeapStorage {
    var entries: [HeapEntry] = []
    deinit { for e in entries { e.socket.release() } }
}

struct TCPTimerQueue {
    private let storage = HeapStorage()
    private var pushes: UInt64 = 0

    var count: Int { storage.entries.count }
    var top: TCPTimerEntry? {
        guard let h = storage.entries.first else { return nil }
        return TCPTimerEntry(deadline: h.deadline, order: h.order, generation: h.generation, socket: h.socket.takeUnretainedValue())
    }

    /// Makes `c`'s live entry `deadline` (an earlier one than before; the old entry goes stale).
    mutating func arm(_ c: TCPSocket, at deadline: Int64) {
        c.timerGeneration &+= 1
        c.timerArmedAt = deadline
        pushes &+= 1
        storage.entries.append(HeapEntry(deadline: deadline, order: pushes, generation: c.timerGeneration, socket: .passRetained(c)))
        siftUp(storage.entries.count - 1)
    }

    /// The order number the next push gets (entries pushed from now on have at least this).
    var nextOrder: UInt64 { pushes &+ 1 }

    /// Removes and returns the earliest entry if it is due at `t`.
    mutating func popDue(_ t: Int64) -> TCPTimerEntry? {
        guard let f = storage.entries.first, f.deadline <= t else { return nil }
        return pop()
    }

    mutating func pop() -> TCPTimerEntry? {
        let h = storage
        guard !h.entries.isEmpty else { return nil }
        let last = h.entries.removeLast()
        let first: HeapEntry
        if h.entries.isEmpty {
            first = last
        } else {
            first = h.entries[0]
            h.entries[0] = last
            siftDown(0)
        }
        // The heap's reference passes to the returned entry.
        return TCPTimerEntry(deadline: first.deadline, order: first.order, generation: first.generation, socket: first.socket.takeRetainedValue())
    }

    /// Whether `e` is its socket's live entry (not superseded by an earlier push, not dropped).
    static func isLive(_ e: TCPTimerEntry) -> Bool {
        e.socket.timerArmedAt != nil && e.socket.timerGeneration == e.generation
    }

    private func siftUp(_ i: Int) {
        storage.entries.withUnsafeMutableBufferPointer { heap in
            var i = i
            let e = heap[i]
            while i > 0 {
                let p = (i - 1) / 2
                guard e.before(heap[p]) else { break }
                heap[i] = heap[p]
                i = p
            }
            heap[i] = e
        }
    }

    private func siftDown(_ i: Int) {
        storage.entries.withUnsafeMutableBufferPointer { heap in
            var i = i
            let e = heap[i]
            let n = heap.count
            while true {
                let l = 2 * i + 1
                guard l < n else { break }
                var m = l
                if l + 1 < n && heap[l + 1].before(heap[l]) { m = l + 1 }
                guard heap[m].before(e) else { break }
                heap[i] = heap[m]
                i = m
            }
            heap[i] = e
        }
    }
}

extension NetworkStack {
    /// A deadline of `c` was set to `t` (TCPSocket's didSet): keep an entry at or before it.
    func armTimer(_ c: TCPSocket, at t: Int64) {
        if let a = c.timerArmedAt, a <= t { return }
        timers.arm(c, at: t)
    }

    /// After `c`'s timers were looked at: its live entry (if any) matches its real next deadline.
    func rearmTimer(_ c: TCPSocket) {
        if let d = c.nextDeadline { armTimer(c, at: d) }
    }

    /// Whether `c` is the connection its 4-tuple demultiplexes to (only those have running timers,
    /// as before the queue, when the timers walked `tcpConnections`).
    func isDemultiplexed(_ c: TCPSocket) -> Bool { c.demultiplexed }

    /// Takes stale entries off the top until it is exact: a live entry of a demultiplexed connection
    /// whose next deadline is the entry's time. Returns that time.
    func earliestTCPDeadline() -> Int64? {
        while let e = timers.top {
            let c = e.socket
            guard TCPTimerQueue.isLive(e) else { _ = timers.pop(); continue }
            guard isDemultiplexed(c), let d = c.nextDeadline else {
                _ = timers.pop()
                c.timerArmedAt = nil
                continue
            }
            if d == e.deadline { return d }
            _ = timers.pop()   // postponed: push it again at the real time
            c.timerArmedAt = nil
            timers.arm(c, at: d)
        }
        return nil
    }

    /// Takes the next due connection off the queue: a live entry whose connection's next deadline is
    /// at or before `t`. Entries pushed at or after `limit` (armed while these timers ran) are left
    /// for the next round, so a timer that re-arms at `t` cannot loop.
    func nextDueConnection(at t: Int64, pushedBefore limit: UInt64) -> TCPSocket? {
        var later: [TCPTimerEntry] = []
        defer {
            for e in later where TCPTimerQueue.isLive(e) {
                e.socket.timerArmedAt = nil
                timers.arm(e.socket, at: e.deadline)
            }
        }
        while let e = timers.popDue(t) {
            let c = e.socket
            guard TCPTimerQueue.isLive(e) else { continue }
            if e.order >= limit { later.append(e); continue }
            c.timerArmedAt = nil
            guard isDemultiplexed(c), let d = c.nextDeadline else { continue }
            if d <= t { return c }
            timers.arm(c, at: d)
        }
        return nil
    }
}

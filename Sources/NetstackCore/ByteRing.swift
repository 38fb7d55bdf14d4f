// A fixed-capacity byte ring: the TCP send and receive buffers. Out-of-order data is written past
// `count` (at its offset from the in-order edge) and committed once the gap before it fills, so
// reassembly needs no per-segment allocation.

struct ByteRing {
    private var storage: [UInt8]
    private var head = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)  // never zero: offsets are taken modulo the capacity
        storage = []
    }

    var free: Int { capacity - count }
    var isEmpty: Bool { count == 0 }

    private mutating func ensureStorage() {
        if storage.isEmpty && capacity > 0 { storage = [UInt8](repeating: 0, count: capacity) }
    }

    /// Appends as much of `d` as fits; returns how much.
    mutating func append<C: Collection>(_ d: C) -> Int where C.Element == UInt8 {
        let n = min(d.count, free)
        guard n > 0 else { return 0 }
        ensureStorage()
        // Contiguous sources (arrays, the socket arena's rings) are copied run by run.
        let start = (head + count) % capacity
        let copied: Bool? = d.withContiguousStorageIfAvailable { src -> Bool in
            storage.withUnsafeMutableBytes { dst in
                var p = start, i = 0, left = n
                while left > 0 {
                    let k = min(left, capacity - p)
                    UnsafeMutableRawBufferPointer(rebasing: dst[p..<(p + k)]).copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: src[i..<(i + k)])))
                    i += k; left -= k; p = (p + k) % capacity
                }
            }
            return true
        }
        if copied == true {
            count += n
            return n
        }
        var p = start
        var i = d.startIndex
        var left = n
        while left > 0 {
            let k = min(left, capacity - p)
            let j = d.index(i, offsetBy: k)
            storage.replaceSubrange(p..<(p + k), with: d[i..<j])
            i = j
            left -= k
            p = (p + k) % capacity
        }
        count += n
        return n
    }

    /// Where bytes [offset, offset+n) of the ring lie in the storage: at most two runs.
    func runs(offset: Int, count n: Int) -> (Range<Int>, Range<Int>) {
        let p = (head + offset) % capacity
        let first = min(n, capacity - p)
        return (p..<(p + first), 0..<(n - first))
    }

    /// The storage, for the unsafe copy-out in ByteRingUnsafe.swift.
    var bytes: [UInt8] { storage }

    /// Copies `src[range]` to `offset` bytes past the read position without changing `count`.
    /// The caller guarantees `offset + range.count <= capacity`.
    mutating func write(_ src: [UInt8], _ range: Range<Int>, atOffset offset: Int) {
        ensureStorage()
        var p = (head + offset) % capacity
        var i = range.lowerBound
        while i < range.upperBound {
            let n = min(range.upperBound - i, capacity - p)
            storage.replaceSubrange(p..<(p + n), with: src[i..<(i + n)])
            i += n
            p = (p + n) % capacity
        }
    }

    /// Makes `n` more bytes (already written past `count`) readable.
    mutating func commit(_ n: Int) { count = min(capacity, count + n) }

    /// Appends bytes [offset, offset+n) of the ring to `out`.
    func copy(offset: Int, count n: Int, into out: inout [UInt8]) {
        guard n > 0 else { return }
        var p = (head + offset) % capacity
        var left = n
        while left > 0 {
            let k = min(left, capacity - p)
            out.append(contentsOf: storage[p..<(p + k)])
            left -= k
            p = (p + k) % capacity
        }
    }

    /// Copies bytes [offset, offset+n) of the ring into `out[at...]` (already sized).
    func copy(offset: Int, count n: Int, into out: inout [UInt8], at: Int) {
        guard n > 0 else { return }
        var p = (head + offset) % capacity
        var o = at
        var left = n
        while left > 0 {
            let k = min(left, capacity - p)
            out.replaceSubrange(o..<(o + k), with: storage[p..<(p + k)])
            left -= k
            o += k
            p = (p + k) % capacity
        }
    }

    mutating func read(max: Int) -> [UInt8] {
        let n = min(max, count)
        var out = [UInt8]()
        out.reserveCapacity(n)
        copy(offset: 0, count: n, into: &out)
        drop(n)
        return out
    }

    mutating func drop(_ n: Int) {
        let k = min(n, count)
        guard k > 0 else { return }
        head = (head + k) % capacity
        count -= k
    }
}

@inline(__always) func seqLT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func seqLE(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) <= 0 }
@inline(__always) func seqGT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) > 0 }
@inline(__always) func seqGE(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) >= 0 }

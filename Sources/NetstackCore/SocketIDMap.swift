// A map keyed by SocketID for the per-packet and per-pump lookups: open addressing with linear
// probing on a Fibonacci hash of the id (one multiply), instead of Dictionary's seeded SipHash
// (Hasher._seed + combine + _finalize on every lookup was ~5% of the netstack's driver thread under
// redis). Ids are handed out in sequence, which a Fibonacci hash spreads evenly. The table is at
// most half full; deletion shifts the following entries back (no tombstones), so a lookup stops
// at the first empty slot. Keys are never trusted: any Int32 the Sentry sends just misses.

public struct SocketIDMap<Value>: Sequence {
    // Two parallel arrays (no Optional tuples: those went through the runtime's generic tuple
    // metadata on every probe). `keys` holds the id's raw value widened to Int64, `empty` for none.
    // @inlinable throughout: the service's map (another module) is specialized too.
    @usableFromInline static var empty: Int64 { Int64.min }
    @usableFromInline var keys: [Int64]
    @usableFromInline var stored: [Value?]
    @usableFromInline var shift: Int
    public private(set) var count = 0

    public init() {
        keys = [Int64](repeating: SocketIDMap.empty, count: 16)
        stored = [Value?](repeating: nil, count: 16)
        shift = 64 - 4
    }

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable @inline(__always) var mask: Int { keys.count - 1 }

    @inlinable @inline(__always) func home(_ raw: Int64) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: raw)) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    @inlinable func find(_ id: SocketID) -> Int? {
        let k = Int64(id.raw)
        let m = mask
        var i = home(k)
        while true {
            let x = keys[i]
            if x == k { return i }
            if x == SocketIDMap.empty { return nil }
            i = (i + 1) & m
        }
    }

    @inlinable public subscript(id: SocketID) -> Value? {
        get {
            guard let i = find(id) else { return nil }
            return stored[i]
        }
        set {
            if let v = newValue { insert(id, v) } else { _ = removeValue(forKey: id) }
        }
    }

    @usableFromInline mutating func insert(_ id: SocketID, _ v: Value) {
        if let i = find(id) { stored[i] = v; return }
        if 2 * (count + 1) > keys.count { grow() }
        let m = mask
        let k = Int64(id.raw)
        var i = home(k)
        while keys[i] != SocketIDMap.empty { i = (i + 1) & m }
        keys[i] = k
        stored[i] = v
        count += 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = stored
        keys = [Int64](repeating: SocketIDMap.empty, count: oldKeys.count * 2)
        stored = [Value?](repeating: nil, count: oldKeys.count * 2)
        shift -= 1
        let m = mask
        for j in oldKeys.indices where oldKeys[j] != SocketIDMap.empty {
            var i = home(oldKeys[j])
            while keys[i] != SocketIDMap.empty { i = (i + 1) & m }
            keys[i] = oldKeys[j]
            stored[i] = oldValues[j]
        }
    }

    @discardableResult
    public mutating func removeValue(forKey id: SocketID) -> Value? {
        guard var hole = find(id) else { return nil }
        let v = stored[hole]
        keys[hole] = SocketIDMap.empty
        stored[hole] = nil
        count -= 1
        // Backward shift: an entry after the hole moves into it when the hole lies on its probe path
        // (between its home slot and where it sits), so every entry stays reachable from its home.
        let m = mask
        var j = (hole + 1) & m
        while keys[j] != SocketIDMap.empty {
            if (j - home(keys[j])) & m >= (j - hole) & m {
                keys[hole] = keys[j]
                stored[hole] = stored[j]
                keys[j] = SocketIDMap.empty
                stored[j] = nil
                hole = j
            }
            j = (j + 1) & m
        }
        return v
    }

    /// Calls `body` with every value, in slot order: the pump's scans, specialized (the Sequence
    /// forms below go through generic metadata from another module).
    @inlinable public func forEachValue(_ body: (Value) throws -> Void) rethrows {
        for v in stored { if let v { try body(v) } }
    }

    /// The values in slot order (no particular order, as a Dictionary's).
    public var values: LazyMapSequence<SocketIDMap<Value>, Value> { lazy.map { $0.value } }

    public struct Iterator: IteratorProtocol {
        let keys: [Int64]
        let stored: [Value?]
        var i = 0
        public mutating func next() -> (key: SocketID, value: Value)? {
            while i < keys.count {
                defer { i += 1 }
                if keys[i] != SocketIDMap.empty, let v = stored[i] { return (SocketID(raw: Int32(truncatingIfNeeded: keys[i])), v) }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(keys: keys, stored: stored) }
}

// The socket-id map (SocketIDMap.swift) against a Dictionary doing the same operations: sequential
// ids with churn (as a server's connections come and go), arbitrary ids (any Int32 the Sentry
// sends, negative ones included) and removals that shift entries back across the table's wrap.
import Testing
@testable import NetstackCore

@Suite struct SocketIDMapTests {
    func same(_ m: SocketIDMap<Int>, _ d: [Int32: Int], probes: [Int32]) {
        #expect(m.count == d.count)
        for k in probes { #expect(m[SocketID(raw: k)] == d[k], "id \(k)") }
        var seen: [Int32: Int] = [:]
        for (k, v) in m { seen[k.raw] = v }
        #expect(seen == d)
        var sum = 0
        m.forEachValue { sum += $0 }
        #expect(sum == d.values.reduce(0, +))
    }

    @Test func sequentialIdsWithChurn() {
        var m = SocketIDMap<Int>()
        var d: [Int32: Int] = [:]
        var rng = SplitMix64(seed: 7)
        var next: Int32 = 3
        var live: [Int32] = []
        for step in 0..<20_000 {
            if live.isEmpty || rng.below(100) < 55 {
                m[SocketID(raw: next)] = step
                d[next] = step
                live.append(next)
                next += 1
            } else {
                let i = Int(rng.below(UInt64(live.count)))
                let k = live.remove(at: i)
                #expect(m.removeValue(forKey: SocketID(raw: k)) == d.removeValue(forKey: k))
            }
            if step % 997 == 0 { same(m, d, probes: Array(live.prefix(50)) + [next, 0, -1, Int32.max, Int32.min]) }
        }
        same(m, d, probes: live + [next, 0, -1])
    }

    @Test func arbitraryIdsAndOverwrites() {
        var m = SocketIDMap<Int>()
        var d: [Int32: Int] = [:]
        var rng = SplitMix64(seed: 11)
        var keys: [Int32] = []
        for step in 0..<5000 {
            let k: Int32 = keys.isEmpty || rng.below(3) != 0
                ? Int32(truncatingIfNeeded: rng.next()) : keys[Int(rng.below(UInt64(keys.count)))]
            if rng.below(4) == 0 {
                #expect(m.removeValue(forKey: SocketID(raw: k)) == d.removeValue(forKey: k))
                m[SocketID(raw: k)] = nil   // removing a missing id is a no-op
            } else {
                m[SocketID(raw: k)] = step
                d[k] = step
                keys.append(k)
            }
        }
        same(m, d, probes: keys + [0, 1, -1, Int32.min, Int32.max])
        for k in keys { m[SocketID(raw: k)] = nil; d[k] = nil }
        same(m, d, probes: keys)
        #expect(m.isEmpty)
    }
}

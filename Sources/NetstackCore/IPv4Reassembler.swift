// Fragment reassembly (IPv4, and IPv6 through the generic `add(key:...)`) under a memory limit
// with a timeout. Overlapping fragments are treated as
// an attack (as RFC 5722 does for IPv6): the whole datagram is discarded. An exact duplicate of a
// fragment already held (same offset and length) is ignored, so a duplicating link does no harm.

struct ReassemblyKey: Hashable {
    var source: IPAddress
    var destination: IPAddress
    /// IPv4: the protocol; IPv6: zero (RFC 8200 keys on addresses and identification only).
    var proto: UInt8
    var identification: UInt32
}

final class IPv4Reassembler {
    private struct Fragment {
        var offset: Int
        var data: [UInt8]
        var end: Int { offset + data.count }
    }

    private struct Pending {
        var fragments: [Fragment] = []  // sorted by offset, never overlapping
        var totalLength: Int?           // known once the last fragment (MF clear) arrived
        var bytes = 0
        var deadline: Int64
    }

    static let maxFragments = 64
    let memoryLimit: Int
    let timeout: Int64
    private var pending: [ReassemblyKey: Pending] = [:]
    private(set) var memoryUsed = 0
    /// Datagrams discarded (overlap, inconsistency, memory pressure, timeout); for tests and stats.
    private(set) var discarded = 0

    init(memoryLimit: Int, timeout: Int64) {
        self.memoryLimit = memoryLimit
        self.timeout = timeout
    }

    var pendingCount: Int { pending.count }

    /// Adds the fragment whose header is `h` and whose payload is `b[payload]`. Returns the header of
    /// the first fragment and the whole payload when the datagram is complete.
    func add(_ h: IPv4Header, _ b: [UInt8], payload: Range<Int>, now: Int64) -> (IPv4Header, [UInt8])? {
        let key = ReassemblyKey(source: .v4(h.source), destination: .v4(h.destination), proto: h.proto,
                                identification: UInt32(h.identification))
        guard let data = add(key: key, offset: h.fragmentOffset, more: h.moreFragments, b, payload: payload, now: now,
                             maxLength: 65535 - 20) else { return nil }
        var whole = h
        whole.moreFragments = false
        whole.fragmentOffset = 0
        whole.totalLength = h.headerLength + data.count
        return (whole, data)
    }

    /// Adds the fragment `b[payload]` at byte `offset` of datagram `key`; returns the whole payload
    /// once complete.
    func add(key: ReassemblyKey, offset start: Int, more: Bool, _ b: [UInt8], payload: Range<Int>, now: Int64,
             maxLength: Int) -> [UInt8]? {
        let len = payload.count
        let end = start + len
        // Every fragment but the last carries a multiple of 8 bytes; an empty fragment says nothing.
        if len == 0 || (more && len % 8 != 0) || end > maxLength {
            drop(key)
            return nil
        }
        var p = pending.removeValue(forKey: key) ?? Pending(deadline: now + timeout)
        memoryUsed -= p.bytes

        if !more {
            if let t = p.totalLength, t != end { discarded += 1; return nil }
            if let last = p.fragments.last, last.end > end { discarded += 1; return nil }
            p.totalLength = end
        } else if let t = p.totalLength, end > t {
            discarded += 1
            return nil
        }
        // Find the insertion point and check both neighbours for overlap.
        var idx = 0
        while idx < p.fragments.count && p.fragments[idx].offset < start { idx += 1 }
        if idx < p.fragments.count, p.fragments[idx].offset == start, p.fragments[idx].data.count == len {
            pending[key] = p  // exact duplicate
            memoryUsed += p.bytes
            return nil
        }
        if p.fragments.count >= IPv4Reassembler.maxFragments {
            discarded += 1  // too many pieces: refuse the O(n^2) work a tiny-fragment flood would cause
            return nil
        }
        let overlapsPrev = idx > 0 && p.fragments[idx - 1].end > start
        let overlapsNext = idx < p.fragments.count && p.fragments[idx].offset < end
        if overlapsPrev || overlapsNext {
            discarded += 1
            return nil
        }
        // Make room within the memory limit by evicting the oldest datagrams.
        while memoryUsed + p.bytes + len > memoryLimit {
            guard let oldest = pending.min(by: { $0.value.deadline < $1.value.deadline }) else { break }
            drop(oldest.key)
        }
        if memoryUsed + p.bytes + len > memoryLimit {
            discarded += 1
            return nil
        }
        p.fragments.insert(Fragment(offset: start, data: Array(b[payload])), at: idx)
        p.bytes += len

        if let total = p.totalLength, p.bytes == total {
            // Non-overlapping fragments whose sizes add up to the total cover it exactly.
            var out = [UInt8]()
            out.reserveCapacity(total)
            for f in p.fragments { out.append(contentsOf: f.data) }
            return out
        }
        pending[key] = p
        memoryUsed += p.bytes
        return nil
    }

    /// Discards datagrams whose time is up.
    func expire(now: Int64) {
        for (k, p) in pending where p.deadline <= now { drop(k) }
    }

    var nextDeadline: Int64? { pending.values.map(\.deadline).min() }

    private func drop(_ key: ReassemblyKey) {
        if let p = pending.removeValue(forKey: key) {
            memoryUsed -= p.bytes
            discarded += 1
        }
    }
}

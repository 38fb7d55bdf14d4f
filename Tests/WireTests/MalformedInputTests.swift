// Hostile inputs: each must end in a clean WireError, never a crash, a hang or an over-allocation.
import Protocol
import Testing
import TestSupport
@testable import Wire

/// Runs `body` on a body-only view of `bytes`.
func withView<R>(_ bytes: [UInt8], fdCount: Int = 0, _ body: (MessageView) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try MessageView(body: raw, fdCount: fdCount)) }
}

func store32(_ bytes: inout [UInt8], _ value: UInt32, at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { for i in 0..<4 { bytes[offset + i] = $0[i] } }
}

func load32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}

/// Tables nesting themselves, to exercise the depth limit (no schema nests this deep).
struct Chain: WireTable {
    static let fieldCount = 1
    var children: [Chain] = []
    func encodeTable(into w: inout MessageWriter) -> Int {
        let t = w.beginTable(fieldCount: 1)
        w.field(t, 0, tables: children)
        return t.offset
    }
    static func decode(table: TableView, budget: inout DecodeBudget) throws(WireError) -> Chain {
        Chain(children: try table.decodeTables(0, Chain.self, budget: &budget) ?? [])
    }
}

struct ChainMessage: WireMessage {
    static let messageID: UInt16 = 1
    static let name = "ChainMessage"
    static let fieldCount = 1
    var chain = Chain()
    func encodeTable(into w: inout MessageWriter) -> Int {
        let t = w.beginTable(fieldCount: 1)
        w.field(t, 0, table: chain)
        return t.offset
    }
    static func decode(table: TableView, budget: inout DecodeBudget) throws(WireError) -> ChainMessage {
        ChainMessage(chain: try table.decodeTable(0, Chain.self, budget: &budget) ?? Chain())
    }
}

@Suite struct MalformedInputTests {
    let walk = Gofer.Walk(dir: 5, names: ["etc", "passwd"])

    @Test func everyTruncatedGoldenFrameIsRefused() throws {
        for c in goldenCases {
            let frame = try c.frame()
            for cut in 0..<frame.count {
                var prefix = Array(frame[..<cut])
                if cut >= FrameHeader.size { store32(&prefix, UInt32(cut), at: 0) }  // header agrees: the body is short
                #expect(throws: WireError.self, "\(c.testDescription) cut at \(cut)") {
                    _ = try c.decodeAndReencode(prefix, c.fdCount)
                }
            }
        }
    }

    @Test func truncatedFrameWithOriginalLengthIsALengthMismatch() throws {
        var w = MessageWriter()
        try w.encode(walk, requestID: 3)
        let short = Array(w.frame.dropLast(2))
        #expect(throws: WireError.lengthMismatch(declared: w.frame.count, received: short.count)) {
            try short.withUnsafeBytes { _ = try MessageView(frame: $0, receivedFDs: 0) }
        }
    }

    @Test func oversizedInputsAreRefusedBeforeDecoding() throws {
        let huge = [UInt8](repeating: 0, count: FrameHeader.maximumLength)
        #expect(throws: WireError.oversized(length: FrameHeader.maximumLength + FrameHeader.size,
                                            limit: FrameHeader.maximumLength)) {
            try huge.withUnsafeBytes { _ = try MessageView(body: $0, fdCount: 0) }
        }
        // A string whose declared length is over the string limit (and over the message).
        var bytes = body(Gofer.Readlink.Reply(target: "x"))
        let pair = Int(load32(bytes, at: 4))
        store32(&bytes, UInt32(WireLimits.maximumString + 1), at: pair + 4)
        #expect(throws: WireError.limitExceeded(what: "length", value: WireLimits.maximumString + 1,
                                                limit: WireLimits.maximumString)) {
            try bytes.decodeBody(as: Gofer.ReadlinkReply.self)
        }
        // A vector count over the vector limit.
        var names = body(walk)
        let vec = Int(load32(names, at: 8))
        store32(&names, UInt32(WireLimits.maximumVectorCount + 1), at: vec + 4)
        #expect(throws: WireError.limitExceeded(what: "vector count", value: WireLimits.maximumVectorCount + 1,
                                                limit: WireLimits.maximumVectorCount)) {
            try names.decodeBody(as: Gofer.Walk.self)
        }
        // A field count over the table limit.
        var table: [UInt8] = [0xFF, 0xFF, 0, 0]
        table += [UInt8](repeating: 0, count: 4 * 0xFFFF)
        #expect(throws: WireError.limitExceeded(what: "field count", value: 0xFFFF, limit: WireLimits.maximumFieldCount)) {
            try table.decodeBody(as: Gofer.Walk.self)
        }
    }

    @Test func badOffsetsAreRefused() throws {
        let good = body(walk)
        // Slot 0 (dir) pointing past the end.
        var past = good
        store32(&past, UInt32(good.count), at: 4)
        #expect(throws: WireError.badOffset(offset: good.count, length: 8, bound: good.count)) {
            try past.decodeBody(as: Gofer.Walk.self)
        }
        // Slot 0 pointing backwards, into the table's own slot array.
        var back = good
        store32(&back, 4, at: 4)
        #expect(throws: WireError.badOffset(offset: 4, length: 8, bound: good.count)) {
            try back.decodeBody(as: Gofer.Walk.self)
        }
        // Slot 0 misaligned for a u64.
        var misaligned = good
        store32(&misaligned, load32(good, at: 4) + 4, at: 4)
        #expect(throws: WireError.self) { try misaligned.decodeBody(as: Gofer.Walk.self) }
        // The root table's slot array running off the end.
        #expect(throws: WireError.badOffset(offset: 4, length: 8, bound: 4)) {
            try ([2, 0, 0, 0] as [UInt8]).decodeBody(as: Gofer.Walk.self)
        }
        #expect(throws: WireError.badOffset(offset: 0, length: 4, bound: 2)) {
            try ([0, 0] as [UInt8]).decodeBody(as: Gofer.Walk.self)
        }
    }

    @Test func stringsOverlappingTheirReferenceOrOutOfRangeAreRefused() throws {
        let good = body(Gofer.ReadlinkReply(target: "/etc/hosts"))
        let pair = Int(load32(good, at: 4))
        // String bytes overlapping the table and the pair itself.
        var overlap = good
        store32(&overlap, 0, at: pair)
        #expect(throws: WireError.badOffset(offset: 0, length: 10, bound: good.count)) {
            try overlap.decodeBody(as: Gofer.ReadlinkReply.self)
        }
        // String running one byte past the end.
        var long = good
        store32(&long, 11, at: pair + 4)
        #expect(throws: WireError.badOffset(offset: pair + 8, length: 11, bound: good.count)) {
            try long.decodeBody(as: Gofer.ReadlinkReply.self)
        }
        // Offset near 2^32: no wrap-around.
        var wrap = good
        store32(&wrap, 0xFFFF_FFFF, at: pair)
        #expect(throws: WireError.badOffset(offset: 0xFFFF_FFFF, length: 10, bound: good.count)) {
            try wrap.decodeBody(as: Gofer.ReadlinkReply.self)
        }
        // An element of a string vector pointing back into the element array.
        var names = body(walk)
        let vec = Int(load32(names, at: 8))
        let elements = Int(load32(names, at: vec))
        store32(&names, UInt32(elements), at: elements)
        #expect(throws: WireError.badOffset(offset: elements, length: 3, bound: names.count)) {
            try names.decodeBody(as: Gofer.Walk.self)
        }
        // Invalid UTF-8 in a string.
        var bad = good
        bad[pair + 8] = 0xC3
        bad[pair + 9] = 0x28
        #expect(throws: WireError.malformed("field 0 is not UTF-8")) { try bad.decodeBody(as: Gofer.ReadlinkReply.self) }
    }

    @Test func fdIndicesMustMatchReceivedDescriptors() throws {
        let reply = Gofer.OpenReply(hostFD: FDIndex(0))
        let bytes = body(reply)
        #expect(try bytes.decodeBody(as: Gofer.OpenReply.self, fdCount: 1) == reply)
        #expect(throws: WireError.badFDIndex(index: 0, received: 0)) { try bytes.decodeBody(as: Gofer.OpenReply.self) }
        let third = body(Gofer.OpenReply(hostFD: FDIndex(2)))
        #expect(throws: WireError.badFDIndex(index: 2, received: 2)) {
            try third.decodeBody(as: Gofer.OpenReply.self, fdCount: 2)
        }
        // A required fd field left out.
        #expect(throws: WireError.malformed("OpenReply.hostFD is missing")) {
            try ([0, 0, 0, 0] as [UInt8]).decodeBody(as: Gofer.OpenReply.self, fdCount: 1)
        }
        // The frame says one fd, none arrived.
        var w = MessageWriter()
        try w.encode(reply, requestID: 9, flags: [.reply], fdCount: 1)
        #expect(throws: WireError.fdCountMismatch(declared: 1, received: 0)) {
            try w.withFrame { _ = try MessageView(frame: $0, receivedFDs: 0) }
        }
    }

    @Test func bogusBoolAndReservedBitsAreRefused() throws {
        var bytes = body(Gofer.Fsync(fid: 1, dataOnly: true))
        let at = Int(load32(bytes, at: 8))
        bytes[at] = 2
        #expect(throws: WireError.malformed("bool field 1 holds 2")) { try bytes.decodeBody(as: Gofer.Fsync.self) }
        var reserved = body(Gofer.Fsync(fid: 1))
        reserved[2] = 1
        #expect(throws: WireError.malformed("reserved table bits set")) { try reserved.decodeBody(as: Gofer.Fsync.self) }
    }

    @Test func nestingDepthIsBounded() throws {
        var chain = Chain()
        for _ in 0..<WireLimits.maximumDepth - 1 { chain = Chain(children: [chain]) }
        let ok = ChainMessage(chain: chain)
        #expect(try body(ok).decodeBody(as: ChainMessage.self) == ok)
        let deep = ChainMessage(chain: Chain(children: [chain]))
        #expect(throws: WireError.limitExceeded(what: "table depth", value: WireLimits.maximumDepth + 1,
                                                limit: WireLimits.maximumDepth)) {
            try body(deep).decodeBody(as: ChainMessage.self)
        }
    }

    @Test func aliasedStringsCannotAmplifyAllocation() throws {
        // 2000 vector elements all pointing at one 10 KB string: 20 MB if decoded naively.
        var w = MessageWriter()
        let t = w.beginTable(fieldCount: 2)
        w.field(t, 0, UInt64(1))
        let pair = w.allocate(8, alignment: 4)
        let elements = w.allocate(8 * 2000, alignment: 4)
        let data = w.allocate(10_000, alignment: 1)
        for i in 0..<2000 {
            w.store(UInt32(data), at: elements + 8 * i)
            w.store(UInt32(10_000), at: elements + 8 * i + 4)
        }
        w.store(UInt32(elements), at: pair)
        w.store(UInt32(2000), at: pair + 4)
        w.store(UInt32(pair), at: t.offset + 8)
        let bytes = Array(w.body)
        do {
            _ = try bytes.decodeBody(as: Gofer.Walk.self)
            Issue.record("amplifying message decoded")
        } catch {
            guard case .limitExceeded(what: "decoded size", _, _) = error else { Issue.record("\(error)"); return }
        }
        // In place, the same vector is readable without copying.
        try withView(bytes) { view in
            let v = try #require(try view.root().stringVector(1))
            #expect(v.count == 2000)
            #expect(try v.element(1999).count == 10_000)
        }
    }

    @Test func pureGarbageIsRefusedCleanly() throws {
        let channels: [any WireChannelMessage.Type] = [Control.Message.self, Gofer.Message.self,
                                                      Netstack.Message.self, Procfs.Message.self]
        let patterns: [[UInt8]] = [
            [UInt8](repeating: 0xFF, count: 64),
            [UInt8](repeating: 0xAB, count: 1000),
            [0x01, 0x00, 0x00],
        ]
        for ch in channels {
            for id in UInt16(0)...40 where ch.messageName(id) != nil {
                for p in patterns {
                    #expect(throws: WireError.self, "\(ch.channelName) \(id)") {
                        try withView(p, fdCount: 8) { v in _ = try ch.decode(messageID: id, view: v) }
                    }
                }
            }
        }
        // Seeded random bytes: every outcome is a WireError or a value that re-encodes consistently.
        var rng = SeededRandom(seed: 0x5EED)
        var accepted = 0
        for _ in 0..<3000 {
            let count = Int(rng.next() % 300)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if count >= 4, rng.next() % 2 == 0 { bytes[2] = 0; bytes[3] = 0; bytes[1] = 0 }  // plausible table header
            let ch = channels[Int(rng.next() % UInt64(channels.count))]
            let id = UInt16(rng.next() % 40)
            if try checkConsistent(ch, id, bytes) { accepted += 1 }
        }
        #expect(accepted < 3000)
    }

    /// Decodes `bytes`; when that succeeds, re-encoding and decoding again must give the same value.
    func checkConsistent<C: WireChannelMessage>(_: C.Type, _ id: UInt16, _ bytes: [UInt8]) throws -> Bool {
        let first: C
        do {
            first = try withView(bytes, fdCount: 8) { v in try C.decode(messageID: id, view: v) }
        } catch is WireError {
            return false
        }
        var w = MessageWriter()
        first.encode(into: &w)
        let again = try withView(Array(w.body), fdCount: 8) { v in try C.decode(messageID: id, view: v) }
        #expect(again == first)
        return true
    }
}

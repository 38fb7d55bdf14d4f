import Testing
@testable import Wire

/// A hand-written table using every field kind, so the codec is tested independently of the generator.
struct Inner: WireTable {
    static let fieldCount = 2
    var a: UInt64 = 0
    var name: String = ""
    func encodeTable(into w: inout MessageWriter) -> Int {
        let t = w.beginTable(fieldCount: Self.fieldCount)
        w.field(t, 0, a)
        w.field(t, 1, name)
        return t.offset
    }
    static func decode(table: TableView, budget: inout DecodeBudget) throws(WireError) -> Inner {
        Inner(a: try table.scalar(0, UInt64.self) ?? 0, name: try table.string(1, budget: &budget) ?? "")
    }
}

struct Sample: WireMessage {
    static let messageID: UInt16 = 42
    static let name = "Sample"
    static let fieldCount = 10
    var u8: UInt8 = 0
    var i64: Int64 = 0
    var flag: Bool = false
    var fd: FDIndex? = nil
    var text: String = ""
    var data: [UInt8] = []
    var numbers: [UInt32] = []
    var words: [String] = []
    var inner: Inner = Inner()
    var inners: [Inner] = []
    func encodeTable(into w: inout MessageWriter) -> Int {
        let t = w.beginTable(fieldCount: Self.fieldCount)
        w.field(t, 0, u8)
        w.field(t, 1, i64)
        w.field(t, 2, flag)
        if let fd { w.field(t, 3, fd) }
        w.field(t, 4, text)
        w.field(t, 5, bytes: data)
        w.field(t, 6, vector: numbers)
        w.field(t, 7, strings: words)
        w.field(t, 8, table: inner)
        w.field(t, 9, tables: inners)
        return t.offset
    }
    static func decode(table t: TableView, budget: inout DecodeBudget) throws(WireError) -> Sample {
        Sample(u8: try t.scalar(0, UInt8.self) ?? 0, i64: try t.scalar(1, Int64.self) ?? 0,
               flag: try t.bool(2) ?? false, fd: try t.fd(3), text: try t.string(4, budget: &budget) ?? "",
               data: try t.bytes(5, budget: &budget) ?? [], numbers: try t.scalars(6, UInt32.self, budget: &budget) ?? [],
               words: try t.strings(7, budget: &budget) ?? [],
               inner: try t.decodeTable(8, Inner.self, budget: &budget) ?? Inner(),
               inners: try t.decodeTables(9, Inner.self, budget: &budget) ?? [])
    }
}

func body<M: WireMessage>(_ m: M) -> [UInt8] {
    var w = MessageWriter()
    m.encode(into: &w)
    return Array(w.body)
}

let sample = Sample(u8: 7, i64: -5, flag: true, fd: FDIndex(1), text: "héllo", data: [0, 1, 2, 255],
                    numbers: [1, 2, 0xFFFF_FFFF], words: ["a", "", "ccc"], inner: Inner(a: 1 << 40, name: "in"),
                    inners: [Inner(a: 1, name: "x"), Inner(a: 2, name: "y")])

@Suite struct BodyCodecTests {
    @Test func roundTripsEveryFieldKind() throws {
        let bytes = body(sample)
        #expect(try bytes.decodeBody(as: Sample.self, fdCount: 2) == sample)
    }

    @Test func readsStringsInPlace() throws {
        let bytes = body(sample)
        try bytes.withUnsafeBytes { raw in
            let t = try MessageView(body: raw, fdCount: 2).root()
            let text = try #require(try t.rawBytes(4))
            // The slice points into the received buffer itself: no copy was made.
            #expect(text.baseAddress! >= raw.baseAddress! && text.baseAddress! < raw.baseAddress! + raw.count)
            #expect(Array(text) == Array("héllo".utf8))
            let numbers = try #require(try t.scalarVector(6, UInt32.self))
            #expect(Array(numbers) == [1, 2, 0xFFFF_FFFF])
        }
    }

    @Test func absentFieldsReadAsDefaults() throws {
        // A table with zero slots: an older peer that knows none of these fields.
        let empty: [UInt8] = [0, 0, 0, 0]
        #expect(try empty.decodeBody(as: Sample.self) == Sample())
    }

    @Test func unknownTrailingFieldsAreIgnored() throws {
        // Encode the full Sample, decode as Inner-shaped message with fewer fields: slots 0,1 reused.
        var w = MessageWriter()
        let t = w.beginTable(fieldCount: 5)
        w.field(t, 0, UInt64(9))
        w.field(t, 1, "name")
        w.field(t, 2, "a future field")
        w.field(t, 4, UInt32(3))
        let bytes = Array(w.body)
        let r: Inner = try bytes.withUnsafeBytes { raw in
            var budget = DecodeBudget(raw.count)
            return try Inner.decode(table: try MessageView(body: raw, fdCount: 0).root(), budget: &budget)
        }
        #expect(r == Inner(a: 9, name: "name"))
    }

    @Test func writerReusesItsBuffer() throws {
        var w = MessageWriter(capacity: 1 << 16)
        try w.encode(sample, requestID: 1, fdCount: 2)
        let first = w.frame
        let capacity = w.capacity
        try w.encode(sample, requestID: 1, fdCount: 2)
        #expect(w.frame == first)
        #expect(w.capacity == capacity)
    }

    @Test func frameRoundTrip() throws {
        var w = MessageWriter()
        let header = try w.encode(sample, requestID: 77, flags: [.reply], fdCount: 2)
        #expect(header.length == UInt32(w.frame.count))
        let decoded: Sample = try w.withFrame { raw in
            let view = try MessageView(frame: raw, receivedFDs: 2)
            #expect(view.header == header)
            return try Sample.decode(view)
        }
        #expect(decoded == sample)
    }

    @Test func writerReportsLimits() {
        var w = MessageWriter()
        let big = Sample(data: [UInt8](repeating: 1, count: WireLimits.maximumBytes - 10))
        do {
            try w.encode(big, requestID: 1)
            Issue.record("an oversized message was encoded")
        } catch {
            guard case .oversized(let length, FrameHeader.maximumLength) = error else {
                Issue.record("unexpected \(error)"); return
            }
            #expect(length > FrameHeader.maximumLength)
        }
        let tooLong = Sample(data: [UInt8](repeating: 1, count: WireLimits.maximumBytes + 1))
        #expect(throws: WireError.limitExceeded(what: "bytes length", value: WireLimits.maximumBytes + 1,
                                                limit: WireLimits.maximumBytes)) {
            try w.encode(tooLong, requestID: 1)
        }
        let long = Inner(name: String(repeating: "x", count: WireLimits.maximumString + 1))
        let m = Sample(inner: long)
        #expect(throws: WireError.limitExceeded(what: "string length", value: WireLimits.maximumString + 1,
                                                limit: WireLimits.maximumString)) {
            try w.encode(m, requestID: 1)
        }
        #expect(throws: WireError.limitExceeded(what: "fd count", value: 9, limit: 8)) {
            try w.encode(Sample(), requestID: 1, fdCount: 9)
        }
    }

    @Test func errorReplyRoundTrips() throws {
        let e = ErrorReply(errno: 2, message: "no such file")
        #expect(try body(e).decodeBody(as: ErrorReply.self) == e)
    }
}

@Suite struct ErrorReplyMappingTests {
    @Test func refusedBodiesMapToLinuxErrnos() throws {
        #expect(WireError.unknownMessage(77).errorReply == ErrorReply(errno: 38, message: "unknown message id 77"))
        let refused = WireError.badOffset(offset: 4, length: 8, bound: 4)
        #expect(refused.errorReply.errno == 22)
        #expect(refused.errorReply.message == "bad offset: 8 bytes at 4 are outside 4")
        // And it travels like any reply.
        var w = MessageWriter()
        try w.encode(refused.errorReply, requestID: 5, flags: [.reply, .error])
        let back = try w.withFrame { raw in try ErrorReply.decode(try MessageView(frame: raw, receivedFDs: 0)) }
        #expect(back == refused.errorReply)
    }
}

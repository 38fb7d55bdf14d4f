// Every message of every schema against its golden fixture in protocol/golden/<channel>/<Message>.bin:
// the fixture decodes (through the channel's dispatch) to the generated example value, and encoding that
// value gives the fixture's bytes again. Set BULWARK_WRITE_GOLDEN=1 to (re)write the fixtures after a
// deliberate format change; review the diff.
import Foundation
import Protocol
import Testing
import TestSupport
import Wire

struct GoldenCase: Sendable, CustomTestStringConvertible {
    let channel: String
    let name: String
    let fdCount: Int
    /// The example value encoded as a whole frame (request id 1).
    let frame: @Sendable () throws -> [UInt8]
    /// Decodes a frame through the channel's dispatch; returns whether it equals the example and the
    /// frame re-encoded from the decoded value.
    let decodeAndReencode: @Sendable ([UInt8], Int) throws -> (equal: Bool, reencoded: [UInt8])

    var testDescription: String { "\(channel)/\(name)" }
    var path: URL {
        TestPaths.repositoryRoot.appendingPathComponent("protocol/golden/\(channel)/\(name).bin")
    }

    init<C: WireChannelMessage>(_ value: C, fdCount: Int, flags: FrameFlags) {
        channel = C.channelName
        name = C.messageName(value.messageID) ?? "?"
        self.fdCount = fdCount
        @Sendable func encode(_ v: C) throws -> [UInt8] {
            var w = MessageWriter()
            v.encode(into: &w)
            _ = try w.finish(messageID: v.messageID, requestID: 1, flags: flags, fdCount: fdCount)
            return w.frame
        }
        frame = { try encode(value) }
        decodeAndReencode = { bytes, fds in
            let decoded = try bytes.withUnsafeBytes { raw in try C.decode(try MessageView(frame: raw, receivedFDs: fds)) }
            return (decoded == value, try encode(decoded))
        }
    }
}

@Suite struct GoldenTests {
    @Test(arguments: goldenCases)
    func fixtureRoundTrips(_ c: GoldenCase) throws {
        let expected = try c.frame()
        if ProcessInfo.processInfo.environment["BULWARK_WRITE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: c.path.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try Data(expected).write(to: c.path)
        }
        let golden = [UInt8](try Data(contentsOf: c.path))
        let (equal, reencoded) = try c.decodeAndReencode(golden, c.fdCount)
        #expect(equal, "\(c.testDescription): golden file decodes to a different value")
        #expect(reencoded == golden, "\(c.testDescription): re-encoding changes the bytes")
        #expect(expected == golden, "\(c.testDescription): the encoder no longer produces the golden bytes")
    }

    @Test func everySchemaMessageHasACase() {
        let channels: [any WireChannelMessage.Type] = [Control.Message.self, Gofer.Message.self,
                                                      Netstack.Message.self, Procfs.Message.self]
        var names: Set<String> = []
        for ch in channels {
            for id in 0...UInt16(200) { if let n = ch.messageName(id) { names.insert("\(ch.channelName)/\(n)") } }
        }
        #expect(Set(goldenCases.map(\.testDescription)) == names)
        #expect(goldenCases.count == names.count)
    }

    @Test func fixturesOnDiskAreExactlyTheCases() throws {
        let root = TestPaths.repositoryRoot.appendingPathComponent("protocol/golden")
        var onDisk: Set<String> = []
        for channel in try FileManager.default.contentsOfDirectory(atPath: root.path) {
            for file in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(channel).path) {
                onDisk.insert("\(channel)/\((file as NSString).deletingPathExtension)")
            }
        }
        #expect(onDisk == Set(goldenCases.map(\.testDescription)))
    }

    @Test func unknownMessageIDIsRefused() throws {
        let body: [UInt8] = [0, 0, 0, 0]
        try body.withUnsafeBytes { raw in
            let view = try MessageView(body: raw, fdCount: 0)
            #expect(throws: WireError.unknownMessage(999)) { try Gofer.Message.decode(messageID: 999, view: view) }
            #expect(throws: WireError.unknownMessage(500)) { try Control.Message.decode(messageID: 500, view: view) }
        }
    }
}

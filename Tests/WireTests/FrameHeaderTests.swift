import Testing
@testable import Wire

@Suite struct FrameHeaderTests {
    func encoded(_ h: FrameHeader) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: FrameHeader.size)
        bytes.withUnsafeMutableBytes { h.encode(into: $0) }
        return bytes
    }

    func decode(_ bytes: [UInt8], fds: Int) throws(WireError) -> FrameHeader {
        let r: Result<FrameHeader, WireError> = bytes.withUnsafeBytes { raw in
            do throws(WireError) { return .success(try FrameHeader.decode(raw, receivedFDs: fds)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    @Test func layoutIsLittleEndianSixteenBytes() throws {
        let h = FrameHeader(length: 16, messageID: 0x0102, flags: [.reply, .error], requestID: 0x0A0B0C0D, fdCount: 0)
        #expect(encoded(h) == [16, 0, 0, 0, 0x02, 0x01, 3, 0, 0x0D, 0x0C, 0x0B, 0x0A, 0, 1, 0, 0])
        #expect(try decode(encoded(h), fds: 0) == h)
    }

    @Test func roundTripsWithBody() throws {
        let h = FrameHeader(length: 40, messageID: 7, requestID: 99, fdCount: 2)
        let frame = encoded(h) + [UInt8](repeating: 0xAA, count: 24)
        #expect(try decode(frame, fds: 2) == h)
    }

    @Test func refusesShortInput() {
        #expect(throws: WireError.truncated(needed: 16, available: 5)) { try decode([1, 2, 3, 4, 5], fds: 0) }
    }

    @Test func refusesLengthDisagreeingWithReceived() {
        let h = FrameHeader(length: 32, messageID: 1, requestID: 1)
        #expect(throws: WireError.lengthMismatch(declared: 32, received: 16)) { try decode(encoded(h), fds: 0) }
    }

    @Test func refusesOversizedBeforeAnythingElse() {
        let h = FrameHeader(length: UInt32(FrameHeader.maximumLength + 1), messageID: 1, requestID: 1)
        #expect(throws: WireError.oversized(length: FrameHeader.maximumLength + 1, limit: FrameHeader.maximumLength)) {
            try decode(encoded(h), fds: 0)
        }
    }

    @Test func refusesWrongFDCount() {
        let h = FrameHeader(length: 16, messageID: 1, requestID: 1, fdCount: 1)
        #expect(throws: WireError.fdCountMismatch(declared: 1, received: 0)) { try decode(encoded(h), fds: 0) }
        let many = FrameHeader(length: 16, messageID: 1, requestID: 1, fdCount: 9)
        #expect(throws: WireError.fdCountMismatch(declared: 9, received: 9)) { try decode(encoded(many), fds: 9) }
    }

    @Test func refusesBadVersionAndReservedBits() {
        var bytes = encoded(FrameHeader(length: 16, messageID: 1, requestID: 1))
        bytes[13] = 2
        #expect(throws: WireError.unsupportedVersion(2)) { try decode(bytes, fds: 0) }
        bytes[13] = 1
        bytes[15] = 1
        #expect(throws: WireError.malformed("reserved header bits set")) { try decode(bytes, fds: 0) }
    }

    @Test func refusesLengthShorterThanHeader() {
        let h = FrameHeader(length: 8, messageID: 1, requestID: 1)
        #expect(throws: WireError.malformed("length 8 shorter than the header")) { try decode(encoded(h), fds: 0) }
    }
}

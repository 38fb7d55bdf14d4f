// ICMPv4 (RFC 792): echo request/reply and the error messages the stack sends and understands.

public enum ICMPType {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
    public static let parameterProblem: UInt8 = 12
}

public enum ICMPUnreachableCode {
    public static let net: UInt8 = 0
    public static let host: UInt8 = 1
    public static let proto: UInt8 = 2
    public static let port: UInt8 = 3
    public static let fragmentationNeeded: UInt8 = 4
}

public struct ICMPv4Header: Equatable, Sendable {
    public static let length = 8

    public var type: UInt8
    public var code: UInt8
    /// The second 32-bit word: identifier/sequence for echo, unused or next-hop MTU for errors.
    public var restOfHeader: UInt32

    public init(type: UInt8, code: UInt8, restOfHeader: UInt32) {
        self.type = type
        self.code = code
        self.restOfHeader = restOfHeader
    }

    public var identifier: UInt16 { UInt16(truncatingIfNeeded: restOfHeader >> 16) }
    public var sequence: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }
    public var isError: Bool {
        type == ICMPType.destinationUnreachable || type == ICMPType.timeExceeded || type == ICMPType.parameterProblem
    }

    /// Parses and checksums the ICMP message `b[range]`; the body is `b[range.lowerBound + 8 ..< range.upperBound]`.
    public static func parse(_ b: [UInt8], _ range: Range<Int>) throws(ParseError) -> ICMPv4Header {
        guard range.lowerBound >= 0, range.upperBound <= b.count else { throw .truncated }
        guard range.count >= length else { throw .truncated }
        guard InternetChecksum.of(b, range) == 0 else { throw .badChecksum }
        let o = range.lowerBound
        return ICMPv4Header(type: b[o], code: b[o + 1], restOfHeader: load32(b, o + 4))
    }

    /// Writes the header at `b[range.lowerBound...]` and the checksum over all of `b[range]`.
    public func write(into b: inout [UInt8], _ range: Range<Int>) {
        let o = range.lowerBound
        b[o] = type
        b[o + 1] = code
        store16(&b, o + 2, 0)
        store32(&b, o + 4, restOfHeader)
        store16(&b, o + 2, InternetChecksum.of(b, range))
    }
}

// The fixed header in front of every IPC message (see protocol/README.md). Little-endian, 16 bytes:
//   0  u32 length      whole message in bytes, header included
//   4  u16 messageID   which message of the channel's schema
//   6  u16 flags       FrameFlags
//   8  u32 requestID   pairs a reply with its request; 0 for one-way events
//  12  u8  fdCount     descriptors passed alongside with SCM_RIGHTS
//  13  u8  version     wire format version (currently 1)
//  14  u16 reserved    must be zero
public struct FrameHeader: Equatable, Sendable {
    public static let size = 16
    public static let currentVersion: UInt8 = 1
    /// Upper bound on any message, header included. Larger frames are refused before allocation.
    public static let maximumLength = 1 << 20
    /// Upper bound on descriptors passed with one message.
    public static let maximumFDs = 8

    public var length: UInt32
    public var messageID: UInt16
    public var flags: FrameFlags
    public var requestID: UInt32
    public var fdCount: UInt8
    public var version: UInt8

    public init(length: UInt32, messageID: UInt16, flags: FrameFlags = [], requestID: UInt32,
                fdCount: UInt8 = 0, version: UInt8 = FrameHeader.currentVersion) {
        self.length = length
        self.messageID = messageID
        self.flags = flags
        self.requestID = requestID
        self.fdCount = fdCount
        self.version = version
    }

    /// Writes the header into the first 16 bytes of `buffer` (trusted side: the caller sized it).
    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= FrameHeader.size)
        buffer.storeBytes(of: length.littleEndian, toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: messageID.littleEndian, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: requestID.littleEndian, toByteOffset: 8, as: UInt32.self)
        buffer.storeBytes(of: fdCount, toByteOffset: 12, as: UInt8.self)
        buffer.storeBytes(of: version, toByteOffset: 13, as: UInt8.self)
        buffer.storeBytes(of: UInt16(0), toByteOffset: 14, as: UInt16.self)
    }

    /// Reads and checks a header from untrusted bytes. `received` is the byte count actually received
    /// and `receivedFDs` the descriptors that came with it; both must agree with the header.
    public static func decode(_ bytes: UnsafeRawBufferPointer, receivedFDs: Int) throws(WireError) -> FrameHeader {
        guard bytes.count >= size else { throw .truncated(needed: size, available: bytes.count) }
        let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let header = FrameHeader(
            length: length,
            messageID: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)),
            flags: FrameFlags(rawValue: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self))),
            requestID: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
            fdCount: bytes.load(fromByteOffset: 12, as: UInt8.self),
            version: bytes.load(fromByteOffset: 13, as: UInt8.self))
        let reserved = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
        guard header.version == currentVersion else { throw .unsupportedVersion(header.version) }
        guard reserved == 0 else { throw .malformed("reserved header bits set") }
        guard Int(length) <= maximumLength else { throw .oversized(length: Int(length), limit: maximumLength) }
        guard Int(length) >= size else { throw .malformed("length \(length) shorter than the header") }
        guard Int(length) == bytes.count else {
            throw .lengthMismatch(declared: Int(length), received: bytes.count)
        }
        guard Int(header.fdCount) == receivedFDs, receivedFDs <= maximumFDs else {
            throw .fdCountMismatch(declared: Int(header.fdCount), received: receivedFDs)
        }
        return header
    }
}

/// Per-message flag bits.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The message is a reply to the request with the same requestID.
    public static let reply = FrameFlags(rawValue: 1 << 0)
    /// The reply carries an error (body is an ErrorReply: errno and message) instead of the result.
    public static let error = FrameFlags(rawValue: 1 << 1)
    /// One-way message: no reply is expected.
    public static let oneWay = FrameFlags(rawValue: 1 << 2)
}

/// Why an untrusted message was refused. Every decoder in Bulwark reports one of these.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case oversized(length: Int, limit: Int)
    case lengthMismatch(declared: Int, received: Int)
    case fdCountMismatch(declared: Int, received: Int)
    case unsupportedVersion(UInt8)
    case unknownMessage(UInt16)
    case malformed(String)
    /// A body offset or length points outside the message, or backwards into what refers to it.
    case badOffset(offset: Int, length: Int, bound: Int)
    /// A string, vector, field count, nesting depth or decode budget is over its limit.
    case limitExceeded(what: String, value: Int, limit: Int)
    /// A body's fd field names a descriptor index that was not received with the message.
    case badFDIndex(index: Int, received: Int)

    public var description: String {
        switch self {
        case let .truncated(needed, available): return "truncated message: needed \(needed) bytes, have \(available)"
        case let .oversized(length, limit): return "oversized message: \(length) bytes, limit \(limit)"
        case let .lengthMismatch(declared, received): return "length mismatch: header says \(declared), received \(received)"
        case let .fdCountMismatch(declared, received): return "fd count mismatch: header says \(declared), received \(received)"
        case let .unsupportedVersion(v): return "unsupported wire version \(v)"
        case let .unknownMessage(id): return "unknown message id \(id)"
        case let .malformed(why): return "malformed message: \(why)"
        case let .badOffset(offset, length, bound):
            return "bad offset: \(length) bytes at \(offset) are outside \(bound)"
        case let .limitExceeded(what, value, limit): return "\(what) \(value) exceeds the limit \(limit)"
        case let .badFDIndex(index, received): return "fd index \(index) but only \(received) fds received"
        }
    }
}

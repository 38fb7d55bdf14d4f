// The body codec's vocabulary: limits, the protocols generated messages conform to, fd indices and the
// decode budget. The layout itself is described in protocol/README.md.

/// Limits every checked reader enforces (and the writer refuses to exceed).
public enum WireLimits {
    /// Whole frame, header included.
    public static let maximumMessage = FrameHeader.maximumLength
    /// Descriptors passed with one message.
    public static let maximumFDs = FrameHeader.maximumFDs
    /// Bytes of one string (paths are at most 4096, names 255; this leaves room for messages).
    public static let maximumString = 64 * 1024
    /// Bytes of one `bytes` field (bounded anyway by the message size).
    public static let maximumBytes = FrameHeader.maximumLength - FrameHeader.size
    /// Elements of one vector.
    public static let maximumVectorCount = 65_536
    /// Field slots of one table (more than any schema declares; unknown trailing fields are skipped).
    public static let maximumFieldCount = 255
    /// Tables nested inside tables, the root being depth 0.
    public static let maximumDepth = 16
}

/// A descriptor field in a body: an index into the descriptors received with the message (SCM_RIGHTS), in
/// the order they were passed. The decoder checks it against the received count; the transport owns the fds.
public struct FDIndex: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ index: Int) { self.rawValue = UInt32(index) }
    public var index: Int { Int(rawValue) }
    public var description: String { "fd#\(rawValue)" }
}

/// Caps what decoding may materialise: each string, byte string, vector and table charges its wire size,
/// and the total may not exceed the body size. Without it, many fields pointing at the same large string
/// would make a small message decode into a huge one.
public struct DecodeBudget: Sendable {
    public private(set) var remaining: Int
    public init(_ bytes: Int) { remaining = bytes }

    public mutating func charge(_ bytes: Int) throws(WireError) {
        guard bytes <= remaining else {
            throw .limitExceeded(what: "decoded size", value: bytes, limit: remaining)
        }
        remaining -= bytes
    }
}

/// A table: a struct that writes itself as a body table and decodes itself from one.
public protocol WireTable: Equatable, Sendable {
    /// Number of field slots this version of the schema writes.
    static var fieldCount: Int { get }
    /// Appends this value as a table at the writer's (aligned) end; returns the table's body offset.
    func encodeTable(into writer: inout MessageWriter) -> Int
    /// Checked decode of a table already located and bounds-checked by `TableView`.
    static func decode(table: TableView, budget: inout DecodeBudget) throws(WireError) -> Self
}

/// A message: a table that is the root of a body and has an id on its channel.
public protocol WireMessage: WireTable {
    static var messageID: UInt16 { get }
    static var name: String { get }
}

extension WireMessage {
    /// Writes the body (the root table at body offset 0) into `writer`, which must be freshly reset.
    public func encode(into writer: inout MessageWriter) {
        _ = encodeTable(into: &writer)
    }

    /// Checked decode of a whole body.
    public static func decode(_ view: MessageView) throws(WireError) -> Self {
        var budget = DecodeBudget(view.bytes.count)
        return try decode(table: try view.root(), budget: &budget)
    }
}

/// A request whose successful reply is a known message type (errors come back as `ErrorReply`).
public protocol WireRequest: WireMessage {
    associatedtype Reply: WireMessage
}

/// The error reply every channel shares: message id 0, sent with flags `.reply` and `.error`.
/// Field 0 is the Linux errno (positive), field 1 a human-readable message.
public struct ErrorReply: WireMessage, CustomStringConvertible {
    public static let messageID: UInt16 = 0
    public static let name = "ErrorReply"
    public static let fieldCount = 2

    public var errno: Int32
    public var message: String

    public init(errno: Int32 = 0, message: String = "") {
        self.errno = errno
        self.message = message
    }

    public var description: String { "ErrorReply(errno: \(errno), message: \(message.debugDescription))" }

    public func encodeTable(into writer: inout MessageWriter) -> Int {
        let t = writer.beginTable(fieldCount: Self.fieldCount)
        writer.field(t, 0, errno)
        writer.field(t, 1, message)
        return t.offset
    }

    public static func decode(table: TableView, budget: inout DecodeBudget) throws(WireError) -> ErrorReply {
        ErrorReply(errno: try table.scalar(0, Int32.self) ?? 0,
                   message: try table.string(1, budget: &budget) ?? "")
    }
}

extension WireError {
    /// The errno to put in the `ErrorReply` answering a request whose body was refused (see
    /// protocol/README.md): ENOSYS for a message id the channel does not define, EINVAL otherwise.
    /// (Numbers are Linux's; Wire does not depend on LinuxABI.)
    public var replyErrno: Int32 {
        switch self {
        case .unknownMessage: return 38  // ENOSYS
        default: return 22               // EINVAL
        }
    }

    /// The ErrorReply for a refused request body.
    public var errorReply: ErrorReply { ErrorReply(errno: replyErrno, message: description) }
}

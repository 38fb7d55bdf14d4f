// What every generated per-channel message enum offers, so transports, tools and the fuzzer can handle
// any channel the same way.

public protocol WireChannelMessage: Equatable, Sendable {
    /// The schema's channel name, e.g. "gofer".
    static var channelName: String { get }
    /// Names of the channel's messages by id (id 0 is always ErrorReply).
    static func messageName(_ id: UInt16) -> String?
    /// Checked decode of a body whose message id is `messageID`; `.unknownMessage` for an id the
    /// channel does not define.
    static func decode(messageID: UInt16, view: MessageView) throws(WireError) -> Self
    var messageID: UInt16 { get }
    /// The message itself, for printing and generic handling.
    var message: any WireMessage { get }
    /// Writes the body (as `WireMessage.encode(into:)`).
    func encode(into writer: inout MessageWriter)
}

extension WireChannelMessage {
    /// Decodes a view made from a whole frame, using its header's message id.
    public static func decode(_ view: MessageView) throws(WireError) -> Self {
        guard let header = view.header else { throw .malformed("view has no frame header") }
        return try decode(messageID: header.messageID, view: view)
    }
}

// The one error type of the IPC layer. A call never hangs or crashes: it ends in a reply or one of these.
import HostOS
import LinuxABI
import Wire

public enum IPCError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No reply (or the send could not complete) before the call's deadline.
    case timeout
    /// The peer closed the connection (end of stream, or EPIPE on send).
    case peerClosed
    /// The connection was reset: the peer went away abruptly (ECONNRESET).
    case peerDied
    /// The peer sent a message that failed the checks; the connection is now closed.
    case malformed(WireError)
    /// A message larger than the channel's limit: refused before sending, or truncated on receipt
    /// (then the connection is closed).
    case tooLarge(length: Int, limit: Int)
    /// More descriptors than one message may carry (8).
    case tooManyFDs(Int)
    /// The channel was closed earlier (explicitly, or after garbage from the peer).
    case closed
    /// The peer answered with an error reply.
    case remote(errno: Errno, message: String)
    /// An unexpected host failure (a bug or resource exhaustion), naming the call.
    case host(HostError)

    public var description: String {
        switch self {
        case .timeout: return "timed out"
        case .peerClosed: return "peer closed the connection"
        case .peerDied: return "peer died (connection reset)"
        case .malformed(let why): return "malformed message from peer: \(why) (connection closed)"
        case let .tooLarge(length, limit): return "message of \(length) bytes exceeds the limit of \(limit)"
        case .tooManyFDs(let n): return "\(n) descriptors exceed the limit of \(ReceivedFDs.capacity)"
        case .closed: return "channel is closed"
        case let .remote(errno, message): return "peer replied \(errno.name): \(message)"
        case .host(let error): return "\(error)"
        }
    }
}

// The Linux errno values the socket API returns (x86-64 numbering). Kept local so NetstackCore depends
// on nothing; the Sentry passes rawValue through unchanged.

public enum NetErrno: Int32, Error, Sendable {
    case EPERM = 1
    case EBADF = 9
    case EAGAIN = 11
    case ENOMEM = 12
    case EACCES = 13
    case EINVAL = 22
    case EPIPE = 32
    case ENOTSOCK = 88
    case EDESTADDRREQ = 89
    case EMSGSIZE = 90
    case EPROTOTYPE = 91
    case ENOPROTOOPT = 92
    case EPROTONOSUPPORT = 93
    case EOPNOTSUPP = 95
    case EAFNOSUPPORT = 97
    case EADDRINUSE = 98
    case EADDRNOTAVAIL = 99
    case ENETDOWN = 100
    case ENETUNREACH = 101
    case ECONNABORTED = 103
    case ECONNRESET = 104
    case ENOBUFS = 105
    case EISCONN = 106
    case ENOTCONN = 107
    case ETIMEDOUT = 110
    case ECONNREFUSED = 111
    case EHOSTUNREACH = 113
    case EALREADY = 114
    case EINPROGRESS = 115
}

/// What poll/epoll would report for a socket.
public struct Readiness: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = Readiness(rawValue: 1)
    public static let writable = Readiness(rawValue: 2)
    /// Both directions are closed (POLLHUP).
    public static let hup = Readiness(rawValue: 4)
    /// A pending error (POLLERR).
    public static let error = Readiness(rawValue: 8)
    /// The peer closed its sending side (POLLRDHUP).
    public static let readHup = Readiness(rawValue: 16)
}

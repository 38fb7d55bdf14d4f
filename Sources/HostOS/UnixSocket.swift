// AF_UNIX SOCK_SEQPACKET sockets: pairs, named listeners, connections, timeouts. Message transfer with
// descriptors is in UnixSocketMessagesUnsafe.swift.
import CBulwark
import Glibc

public enum UnixSocket {
    /// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC).
    public static func pair() throws(HostError) -> FDPair {
        var fds: [Int32] = [-1, -1]
        _ = try hostCall("socketpair") { bw_socketpair_seqpacket(&fds) }
        return FDPair(OwnedFD(adopting: fds[0]), OwnedFD(adopting: fds[1]))
    }

    /// A SEQPACKET socket bound to `path` and listening (the path must not exist yet).
    public static func listen(path: String, backlog: Int32 = 16) throws(HostError) -> OwnedFD {
        let fd = try hostCall("bind/listen") { bw_listen_unix(path, backlog) }
        return OwnedFD(adopting: fd)
    }

    /// accept4(2) with SOCK_CLOEXEC.
    public static func accept(_ listener: Int32) throws(HostError) -> OwnedFD {
        let fd = try hostCall("accept4", retryOnInterrupt: true) { bw_accept_cloexec(listener) }
        return OwnedFD(adopting: fd)
    }

    /// A SEQPACKET socket connected to the listener at `path`.
    public static func connect(path: String) throws(HostError) -> OwnedFD {
        let fd = try hostCall("connect") { bw_connect_unix(path) }
        return OwnedFD(adopting: fd)
    }

    /// SO_RCVTIMEO: a blocking receive fails with EAGAIN after `microseconds` (0 = never).
    public static func setReceiveTimeout(_ fd: Int32, microseconds: Int64) throws(HostError) {
        _ = try hostCall("setsockopt(SO_RCVTIMEO)") { bw_set_socket_timeout(fd, 1, microseconds) }
    }

    /// SO_SNDTIMEO: a blocking send fails with EAGAIN after `microseconds` (0 = never).
    public static func setSendTimeout(_ fd: Int32, microseconds: Int64) throws(HostError) {
        _ = try hostCall("setsockopt(SO_SNDTIMEO)") { bw_set_socket_timeout(fd, 0, microseconds) }
    }

    /// shutdown(2) both directions: the peer sees end of stream; the descriptor stays open.
    public static func shutdown(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}

extension FDPair {
    /// Gives up ownership of both ends, returning their raw numbers (each to be adopted by a new
    /// owner): a ~Copyable pair cannot be split field by field outside this module.
    public consuming func releaseBoth() -> (first: Int32, second: Int32) {
        let a = first.release()
        let b = second.release()
        return (a, b)
    }
}

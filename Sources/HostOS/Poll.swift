// poll(2) on one descriptor with a timeout, so no caller blocks without a bound on a peer that may
// have died; plus O_NONBLOCK and a pipe whose ends have separate owners.
import Glibc

public enum Poll {
    public static let readable: Int16 = 0x001   // POLLIN
    public static let writable: Int16 = 0x004   // POLLOUT
    public static let error: Int16 = 0x008      // POLLERR
    public static let hangUp: Int16 = 0x010     // POLLHUP

    /// Waits until `fd` has one of `events` or `timeoutMilliseconds` pass (-1 = forever). Returns the
    /// events that happened (0 on timeout). EINTR is returned to the caller, who owns the deadline.
    public static func wait(_ fd: Int32, for events: Int16, timeoutMilliseconds: Int32) throws(HostError) -> Int16 {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        let n = try hostCall("poll") { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        return n == 0 ? 0 : entry.revents
    }
    /// True when `fd` is readable (data, end of file or hang-up) within `milliseconds`; false on timeout.
    public static func waitReadable(_ fd: Int32, milliseconds: Int32) throws(HostError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = try hostCall("poll", retryOnInterrupt: true) { Glibc.poll(&entry, 1, milliseconds) }
        return n > 0
    }

    /// Sets O_NONBLOCK on `fd`.
    public static func setNonBlocking(_ fd: Int32) throws(HostError) {
        let flags = try hostCall("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
        _ = try hostCall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }
}

/// A pipe whose two ends can be taken apart by their new owners (FDPair cannot be partially consumed
/// outside HostOS).
@frozen
public struct PipeEnds: ~Copyable {
    public var read: OwnedFD
    public var write: OwnedFD

    /// pipe2(2) with O_CLOEXEC.
    public static func make() throws(HostError) -> PipeEnds {
        let pair = try FileIO.pipe()
        return PipeEnds(read: pair.first, write: pair.second)
    }
}

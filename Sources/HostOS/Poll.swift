// poll(2) on one descriptor, with a timeout.
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
}

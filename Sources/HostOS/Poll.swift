// Waiting for a descriptor to become readable with a deadline (poll(2)), so the launcher never blocks
// without a bound on a pipe or FIFO whose writer may have died.
import Glibc

public enum Poll {
    /// True when `fd` is readable (data, end of file or hang-up) within `milliseconds`; false on timeout.
    public static func waitReadable(_ fd: Int32, milliseconds: Int32) throws(HostError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = try hostCall("poll", retryOnInterrupt: true) { poll(&entry, 1, milliseconds) }
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

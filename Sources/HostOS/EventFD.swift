// eventfd(2): a counter used as a doorbell between threads or processes.
import CBulwark
import Glibc

public enum EventFD {
    /// eventfd with EFD_CLOEXEC; `nonBlocking` adds EFD_NONBLOCK, `semaphore` EFD_SEMAPHORE.
    public static func create(initial: UInt32 = 0, nonBlocking: Bool = false, semaphore: Bool = false) throws(HostError) -> OwnedFD {
        var flags: Int32 = 0
        if nonBlocking { flags |= 0o4000 }   // EFD_NONBLOCK
        if semaphore { flags |= 1 }          // EFD_SEMAPHORE
        return OwnedFD(adopting: try hostCall("eventfd") { bw_eventfd(initial, flags) })
    }

    /// Adds `value` to the counter (wakes a reader).
    public static func signal(_ fd: Int32, _ value: UInt64 = 1) throws(HostError) {
        var v = value
        _ = try hostCall("write(eventfd)", retryOnInterrupt: true) { Glibc.write(fd, &v, 8) }
    }

    /// Reads and resets the counter (or decrements by one in semaphore mode); blocks while it is 0
    /// unless the descriptor is non-blocking (then EAGAIN).
    public static func wait(_ fd: Int32) throws(HostError) -> UInt64 {
        var v: UInt64 = 0
        _ = try hostCall("read(eventfd)", retryOnInterrupt: true) { Glibc.read(fd, &v, 8) }
        return v
    }
}

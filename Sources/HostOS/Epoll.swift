// epoll(7): an interest list with a 64-bit cookie per descriptor.
import CBulwark

public enum Epoll {
    public static let readable: UInt32 = 0x001      // EPOLLIN
    public static let writable: UInt32 = 0x004      // EPOLLOUT
    public static let error: UInt32 = 0x008         // EPOLLERR
    public static let hangUp: UInt32 = 0x010        // EPOLLHUP
    public static let peerHangUp: UInt32 = 0x2000   // EPOLLRDHUP

    /// epoll_create1(EPOLL_CLOEXEC).
    public static func create() throws(HostError) -> OwnedFD {
        OwnedFD(adopting: try hostCall("epoll_create1") { bw_epoll_create() })
    }

    public static func add(_ epfd: Int32, _ fd: Int32, events: UInt32, cookie: UInt64) throws(HostError) {
        _ = try hostCall("epoll_ctl(ADD)") { bw_epoll_ctl(epfd, 1, fd, events, cookie) }
    }

    public static func modify(_ epfd: Int32, _ fd: Int32, events: UInt32, cookie: UInt64) throws(HostError) {
        _ = try hostCall("epoll_ctl(MOD)") { bw_epoll_ctl(epfd, 3, fd, events, cookie) }
    }

    public static func remove(_ epfd: Int32, _ fd: Int32) throws(HostError) {
        _ = try hostCall("epoll_ctl(DEL)") { bw_epoll_ctl(epfd, 2, fd, 0, 0) }
    }

    /// Waits for ready descriptors; fills `events` and `cookies` (same count, at most 64) and returns
    /// how many. EINTR is retried.
    public static func wait(_ epfd: Int32, events: UnsafeMutableBufferPointer<UInt32>,
                            cookies: UnsafeMutableBufferPointer<UInt64>, timeoutMilliseconds: Int32) throws(HostError) -> Int {
        let max = Int32(min(events.count, cookies.count, 64))
        return Int(try hostCall("epoll_wait", retryOnInterrupt: true) {
            bw_epoll_wait(epfd, events.baseAddress, cookies.baseAddress, max, timeoutMilliseconds)
        })
    }
}

// Readiness structs: struct pollfd (<asm-generic/poll.h>) and struct epoll_event (<linux/eventpoll.h>),
// which is PACKED on x86-64 (12 bytes, data at offset 4), unlike every other architecture.

/// struct pollfd: poll(2)/ppoll(2) (8 bytes).
public struct PollFD: ABIStruct {
    public var fd: Int32
    public var events: Int16
    public var revents: Int16
    public init(fd: Int32 = 0, events: Int16 = 0, revents: Int16 = 0) {
        self.fd = fd; self.events = events; self.revents = revents
    }

    public static let size = 8
    public static let layout = ABILayout<PollFD>("struct pollfd", size: 8, [
        .init("fd", 0, 4, \.fd), .init("events", 4, 2, \.events), .init("revents", 6, 2, \.revents),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 8)
        fd = b.abiLoad(0); events = b.abiLoad(4); revents = b.abiLoad(6)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(8); b.abiStore(fd, 0); b.abiStore(events, 4); b.abiStore(revents, 6)
    }
}

/// struct epoll_event: epoll_ctl/epoll_wait (12 bytes, packed on x86-64).
public struct EpollEvent: ABIStruct {
    public var events: UInt32
    public var data: UInt64
    public init(events: UInt32 = 0, data: UInt64 = 0) { self.events = events; self.data = data }

    public static let size = 12
    public static let layout = ABILayout<EpollEvent>("struct epoll_event", size: 12, [
        .init("events", 0, 4, \.events), .init("data", 4, 8, \.data),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 12)
        events = b.abiLoad(0); data = b.abiLoad(4)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(12); b.abiStore(events, 0); b.abiStore(data, 4)
    }
}

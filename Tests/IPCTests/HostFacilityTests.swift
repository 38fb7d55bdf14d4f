// The HostOS facilities the IPC layer is built on: poll, epoll, eventfd, named sockets.
import Foundation
import Glibc
import HostOS
import LinuxABI
import Testing
import TestSupport

@Suite struct HostFacilityTests {
    @Test func eventfdCountsSignals() throws {
        let fd = try EventFD.create(nonBlocking: true)
        #expect(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        #expect(throws: HostError(call: "read(eventfd)", errno: .EAGAIN)) { _ = try EventFD.wait(fd.rawValue) }
        try EventFD.signal(fd.rawValue, 2)
        try EventFD.signal(fd.rawValue, 3)
        #expect(try EventFD.wait(fd.rawValue) == 5)
    }

    @Test func pollTimesOutThenSeesData() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        defer { _ = Glibc.close(pair.first); _ = Glibc.close(pair.second) }
        let (events, seconds) = try timed { try Poll.wait(pair.first, for: Poll.readable, timeoutMilliseconds: 50) }
        #expect(events == 0)
        #expect(seconds >= 0.045 && seconds < 1)
        try sendRaw(pair.second, [1])
        #expect(try Poll.wait(pair.first, for: Poll.readable, timeoutMilliseconds: 1000) & Poll.readable != 0)
    }

    @Test func epollReportsTheReadyDescriptorsCookie() throws {
        let epoll = try Epoll.create()
        let a = try EventFD.create(nonBlocking: true), b = try EventFD.create(nonBlocking: true)
        try Epoll.add(epoll.rawValue, a.rawValue, events: Epoll.readable, cookie: 11)
        try Epoll.add(epoll.rawValue, b.rawValue, events: Epoll.readable, cookie: 22)
        var events = [UInt32](repeating: 0, count: 4), cookies = [UInt64](repeating: 0, count: 4)
        func wait(_ ms: Int32) throws -> Int {
            try events.withUnsafeMutableBufferPointer { e in
                try cookies.withUnsafeMutableBufferPointer { c in
                    try Epoll.wait(epoll.rawValue, events: e, cookies: c, timeoutMilliseconds: ms)
                }
            }
        }
        #expect(try wait(0) == 0)
        try EventFD.signal(b.rawValue)
        #expect(try wait(1000) == 1)
        #expect(cookies[0] == 22 && events[0] & Epoll.readable != 0)
        try Epoll.remove(epoll.rawValue, b.rawValue)
        #expect(try wait(0) == 0)
    }

    @Test func namedSocketAcceptsAndRefusesLongPaths() throws {
        try TestPaths.withScratchDirectory("sock") { dir in
            let path = dir.appendingPathComponent("named").path
            let listener = try UnixSocket.listen(path: path)
            let client = try UnixSocket.connect(path: path)
            let server = try acceptWithin(listener.rawValue)
            try sendRaw(client.rawValue, [42])
            #expect(try receiveRaw(server.rawValue) == [42])
            #expect(throws: HostError(call: "bind/listen", errno: .EADDRINUSE)) { _ = try UnixSocket.listen(path: path) }
            let long = String(repeating: "x", count: 200)
            #expect(throws: HostError(call: "connect", errno: .ENAMETOOLONG)) { _ = try UnixSocket.connect(path: long) }
        }
    }
}

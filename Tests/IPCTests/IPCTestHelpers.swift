// Helpers for the IPC tests: a peer thread, raw frame writing, a process started in the background.
import Foundation
import Glibc
import HostOS
import IPC
import TestSupport
import Wire

/// Runs `body` on its own thread; `join` waits a bounded time.
final class PeerThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread { body(); done.signal() }
        thread.start()
    }
    @discardableResult
    func join(seconds: Double = 5) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}

/// Encodes a frame header (trusted test side).
func frame(length: Int, messageID: UInt16 = 7, flags: FrameFlags = .reply, requestID: UInt32 = 1,
           fdCount: UInt8 = 0, body: [UInt8] = []) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: FrameHeader.size)
    bytes.withUnsafeMutableBytes { b in
        FrameHeader(length: UInt32(length), messageID: messageID, flags: flags, requestID: requestID,
                    fdCount: fdCount).encode(into: b)
    }
    return bytes + body
}

/// Sends raw bytes (and fds) as one SEQPACKET message, bypassing every check.
func sendRaw(_ fd: Int32, _ bytes: [UInt8], fds: [Int32] = []) throws {
    _ = try bytes.withUnsafeBytes { b in
        try fds.withUnsafeBufferPointer { f in
            try UnixSocket.send(fd, header: b, body: UnsafeRawBufferPointer(start: nil, count: 0), fds: f)
        }
    }
}

/// Receives one raw message on `fd` with a bounded wait; nil on end of stream.
func receiveRaw(_ fd: Int32, seconds: Int32 = 5) throws -> [UInt8]? {
    let ready = try Poll.wait(fd, for: Poll.readable, timeoutMilliseconds: seconds * 1000)
    guard ready != 0 else { throw TestFailure("no message within \(seconds) s") }
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var fds = ReceivedFDs()
    let info = try buffer.withUnsafeMutableBytes { b in try UnixSocket.receive(fd, into: b, fds: &fds) }
    return info.byteCount == 0 ? nil : Array(buffer[..<info.byteCount])
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Seconds spent running `body`.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// A child process started in the background, killed and reaped when done.
final class BackgroundProcess {
    let process = Process()
    let stderrPipe = Pipe()
    init(_ path: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        try process.runForTest()
    }
    var pid: Int32 { process.processIdentifier }
    func kill(_ signal: Int32 = SIGKILL) { Glibc.kill(pid, signal) }
    /// Waits at most `seconds` for exit; kills it if still running.
    func finish(seconds: Double = 5) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(2000) }
        if process.isRunning { kill(); process.waitUntilExit() }
    }
    deinit { if process.isRunning { kill(); process.waitUntilExit() } }
}

/// Accepts one connection on `listener`, waiting at most `seconds`.
func acceptWithin(_ listener: Int32, seconds: Int32 = 5) throws -> OwnedFD {
    let ready = try Poll.wait(listener, for: Poll.readable, timeoutMilliseconds: seconds * 1000)
    guard ready != 0 else { throw TestFailure("no connection within \(seconds) s") }
    return try UnixSocket.accept(listener)
}

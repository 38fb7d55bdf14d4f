// Plain reads and writes on host descriptors, through the funnel.
import CBulwark
import Glibc

public enum FileIO {
    /// read(2) into `buffer`; returns the byte count (0 at end of file).
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(HostError) -> Int {
        try hostCall("read", retryOnInterrupt: true) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// write(2) from `buffer`; returns the byte count written (may be short).
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(HostError) -> Int {
        try hostCall("write", retryOnInterrupt: true) { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `buffer`, looping over short writes.
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(HostError) {
        var offset = 0
        while offset < buffer.count {
            offset += try write(fd, from: UnsafeRawBufferPointer(rebasing: buffer[offset...]))
        }
    }

    /// pipe2(2) with O_CLOEXEC: (read end, write end).
    public static func pipe() throws(HostError) -> FDPair {
        var fds: [Int32] = [-1, -1]
        _ = try hostCall("pipe2") { bw_pipe2(&fds, O_CLOEXEC) }
        return FDPair(OwnedFD(adopting: fds[0]), OwnedFD(adopting: fds[1]))
    }
}

/// Two owned descriptors made together: a pipe's (read, write) ends or a socket pair's two ends.
public struct FDPair: ~Copyable {
    public var first: OwnedFD
    public var second: OwnedFD
    public init(_ first: consuming OwnedFD, _ second: consuming OwnedFD) {
        self.first = first
        self.second = second
    }
    /// For a pipe: the read end.
    public var read: OwnedFD { _read { yield first } }
    /// For a pipe: the write end.
    public var write: OwnedFD { _read { yield second } }
}

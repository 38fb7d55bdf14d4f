// Pointer-level parts of Channel: buffer allocation, the header scratch, array bridging.
// SAFETY: the receive buffer is allocated once with the channel and freed in deinit; the header is
// encoded into a 16-byte stack value that lives across the sendmsg call; array bridging never lets a
// pointer escape its closure.
import CBulwark
import Glibc
import HostOS
import LinuxABI
import Wire

extension Channel {
    static func allocateBuffer(_ size: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    }

    func closeDescriptor(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// One sendmsg of header + body + fds; nil on success, else the errno.
    func sendFrame(_ header: FrameHeader, body: UnsafeRawBufferPointer, fds: UnsafeBufferPointer<Int32>) -> Errno? {
        var scratch: (UInt64, UInt64) = (0, 0)
        let expected = FrameHeader.size + body.count
        let (sent, code) = withUnsafeMutableBytes(of: &scratch) { raw -> (Int, Int32) in
            header.encode(into: raw)
            let n = bw_send_frame(descriptor, raw.baseAddress, FrameHeader.size, body.baseAddress, body.count,
                                  fds.baseAddress, Int32(fds.count))
            return (n, n < 0 ? bw_errno() : 0)
        }
        if sent < 0 { return Errno(rawValue: code) }
        // SEQPACKET sends are atomic; a short count would be a kernel surprise, reported as EIO.
        return sent == expected ? nil : .EIO
    }

    /// Runs `body` with pointers to the array contents.
    func withBuffers(_ bytes: [UInt8], _ fds: [Int32],
                     _ body: (UnsafeRawBufferPointer, UnsafeBufferPointer<Int32>) throws(IPCError) -> Void) throws(IPCError) {
        var failure: IPCError?
        bytes.withUnsafeBytes { b in
            fds.withUnsafeBufferPointer { f in
                do throws(IPCError) { try body(b, f) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }
}

/// CLOCK_MONOTONIC in nanoseconds (a vDSO call, no syscall).
func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

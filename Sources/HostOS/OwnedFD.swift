// A host file descriptor with exactly one owner. It closes exactly once: explicitly through `close()`,
// or when the owner goes away. Bulwark creates every descriptor with CLOEXEC.
import Glibc

public struct OwnedFD: ~Copyable, @unchecked Sendable {
    /// The raw descriptor number; valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`.
    public init(adopting rawValue: Int32) {
        precondition(rawValue >= 0, "OwnedFD adopting a negative descriptor")
        self.rawValue = rawValue
    }

    /// Closes the descriptor now. EINTR from close(2) on Linux still releases the descriptor, so it is
    /// never retried.
    public consuming func close() {
        _ = Glibc.close(rawValue)
        discard self
    }

    /// Gives up ownership without closing (e.g. after handing the descriptor to a child process).
    public consuming func release() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    /// A second descriptor for the same open file description, with CLOEXEC.
    public func duplicate() throws(HostError) -> OwnedFD {
        let fd = try hostCall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) }
        return OwnedFD(adopting: fd)
    }

    deinit {
        _ = Glibc.close(rawValue)
    }
}

// The one funnel for host system calls made by Bulwark's own processes. Every wrapper in HostOS goes
// through `hostCall`, which reads errno immediately, retries EINTR only when asked, and turns a -1
// into a `HostError` that names the call.
import CBulwark
import LinuxABI

/// A failed host system call: which call, and the errno it returned.
public struct HostError: Error, Equatable, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Errno

    public init(call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(errno.name)" }
}

/// Runs `body`, a libc call that returns -1 and sets errno on failure.
/// - Parameters:
///   - name: the call's name, carried in the error.
///   - retryOnInterrupt: retry when the call fails with EINTR (only for calls that are safe to repeat).
@inlinable
public func hostCall<T: FixedWidthInteger>(
    _ name: StaticString, retryOnInterrupt: Bool = false, _ body: () -> T
) throws(HostError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Errno(rawValue: bw_errno())
        if code == .EINTR && retryOnInterrupt { continue }
        throw HostError(call: "\(name)", errno: code)
    }
}

/// A raw six-argument host syscall through the funnel (for calls glibc does not wrap).
@inlinable
public func hostSyscall(
    _ name: StaticString, _ number: SyscallNumber,
    _ a1: Int = 0, _ a2: Int = 0, _ a3: Int = 0, _ a4: Int = 0, _ a5: Int = 0, _ a6: Int = 0,
    retryOnInterrupt: Bool = false
) throws(HostError) -> Int {
    try hostCall(name, retryOnInterrupt: retryOnInterrupt) {
        bw_syscall6(number.rawValue, a1, a2, a3, a4, a5, a6)
    }
}

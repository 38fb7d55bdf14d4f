// The one error type every subcommand reports: a message written like runc's, exit status 1.
import Glibc
import HostOS
import LinuxABI

public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Wraps a host call failure with what the launcher was doing, worded like Go's errors
    /// ("open /x/config.json: no such file or directory").
    public init(_ doing: String, _ error: HostError) {
        self.message = "\(doing): \(describe(error.errno))"
    }
}

/// strerror(3) text in lower case, as Go (and so runc) prints errno values.
func describe(_ errno: Errno) -> String {
    let text = String(cString: strerror(errno.rawValue))
    guard let first = text.first else { return errno.name }
    return first.lowercased() + text.dropFirst()
}

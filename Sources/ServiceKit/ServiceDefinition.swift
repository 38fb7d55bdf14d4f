// What a service executable tells ServiceKit about itself: its name, extra options, its seccomp
// additions (data, one reason per syscall) and how to build its handler table from the options.
import HostOS
import IPC
import LinuxABI

/// A failed request: the errno and message sent back in an ErrorReply.
public struct ServiceFailure: Error, Equatable {
    public var errno: Errno
    public var message: String
    public init(_ errno: Errno, _ message: String) {
        self.errno = errno
        self.message = message
    }
}

/// The reply a handler fills: body bytes and descriptors to pass. Reused across requests (cleared,
/// capacity kept), so a handler that appends to `body` allocates nothing once warmed up.
public struct Reply: ~Copyable {
    public var body: [UInt8] = []
    /// Descriptors owned by the reply; closed after they are sent (or when the request fails).
    var fds: [Int32] = []

    init() {}

    /// Passes `fd` with the reply; the reply owns it from here on.
    public mutating func attach(_ fd: consuming OwnedFD) throws(ServiceFailure) {
        guard fds.count < ReceivedFDs.capacity else {
            throw ServiceFailure(.EINVAL, "more than \(ReceivedFDs.capacity) descriptors in one reply")
        }
        fds.append(fd.release())
    }

    mutating func reset() {
        body.removeAll(keepingCapacity: true)
        closeFDs()
    }

    mutating func closeFDs() {
        for fd in fds { OwnedFD(adopting: fd).close() }
        fds.removeAll(keepingCapacity: true)
    }

    deinit { for fd in fds { OwnedFD(adopting: fd).close() } }
}

/// Handles one request: reads `request` (its body is valid only during the call), fills `reply`, or
/// throws a ServiceFailure that becomes an error reply.
public typealias Handler = (_ request: inout Message, _ reply: inout Reply) throws(ServiceFailure) -> Void

/// Handlers indexed by message id (an array, not a dictionary: dispatch is one bounds check).
public struct HandlerTable {
    var handlers: [Handler?] = []

    public init() {}

    /// Registers `handler` for `messageID`. Ids reserved by ServiceKit (`ServiceMessage`) are refused.
    public mutating func register(_ messageID: UInt16, _ handler: @escaping Handler) {
        precondition(!ServiceMessage.reserved.contains(messageID), "message id \(messageID) is reserved by ServiceKit")
        let index = Int(messageID)
        if handlers.count <= index { handlers += [Handler?](repeating: nil, count: index + 1 - handlers.count) }
        handlers[index] = handler
    }

    func handler(for messageID: UInt16) -> Handler? {
        let index = Int(messageID)
        return index < handlers.count ? handlers[index] : nil
    }
}

/// Message ids every service answers, whatever its protocol.
public enum ServiceMessage {
    /// Ping: the reply echoes the request body. Lets a launcher or a person check a service is alive.
    public static let ping: UInt16 = 0
    static let reserved: Set<UInt16> = [ping]
}

/// An option a service accepts besides ServiceKit's own.
public struct ServiceOption: Sendable {
    public var name: String          // e.g. "--root"
    public var valueName: String?    // e.g. "DIR"; nil for a flag
    public var help: String
    public init(_ name: String, value: String? = nil, help: String) {
        self.name = name
        self.valueName = value
        self.help = help
    }
}

public struct ServiceDefinition {
    /// The executable's name, e.g. "bulwark-procfs".
    public var name: String
    /// One line saying what the service does (printed by --help).
    public var summary: String
    public var options: [ServiceOption]
    /// Host syscalls this service needs beyond ServiceKit's base policy.
    public var policy: SeccompPolicy
    /// Capabilities the service keeps (numbers, e.g. 21 = CAP_SYS_ADMIN); everything else is dropped.
    public var keptCapabilities: [Int32]
    /// Builds the handler table once options are parsed (before seccomp is installed, so it may open
    /// files or sockets it needs).
    public var makeHandlers: (ServiceOptions) throws -> HandlerTable

    public init(name: String, summary: String, options: [ServiceOption] = [],
                policy: SeccompPolicy, keptCapabilities: [Int32] = [],
                makeHandlers: @escaping (ServiceOptions) throws -> HandlerTable = { _ in HandlerTable() }) {
        self.name = name
        self.summary = summary
        self.options = options
        self.policy = policy
        self.keptCapabilities = keptCapabilities
        self.makeHandlers = makeHandlers
    }
}

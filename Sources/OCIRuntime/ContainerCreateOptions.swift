// The options `create` and `run` share (runc's names), parsed once as an option group.
import ArgumentParser

struct ContainerCreateOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Path to the bundle directory (default: the current directory).")
    var bundle: String?

    @Option(name: .customLong("pid-file"), help: "File to write the container's pid to.")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "Unix socket to receive the terminal's master fd (with process.terminal).")
    var consoleSocket: String?

    @Option(name: .customLong("preserve-fds"), help: "Pass N additional descriptors (3...) to the container.")
    var preserveFDs: Int = 0

    @Flag(name: .customLong("no-pivot"), help: "Accepted for runc compatibility.")
    var noPivot = false

    @Flag(name: .customLong("no-new-keyring"), help: "Accepted for runc compatibility.")
    var noNewKeyring = false

    @Option(name: .customLong("fault"), help: "Inject a fault (repeatable; see docs/FAULT-INJECTION.md), e.g. syscall=openat,path=/etc/hostname,errno=EIO,every=3.")
    var faults: [String] = []

    /// Tests put a stand-in script in place of bulwark-sentry.
    @Option(name: .customLong("sentry-binary"), help: .hidden)
    var sentryBinary: String?
}

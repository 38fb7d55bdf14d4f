// Global flags, accepted like runc's and runsc's. Every subcommand includes this group, so the flags may
// come before the subcommand name (as containerd passes them) or after it.
import ArgumentParser

public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(help: "Directory for container state.")
    public var root: String = "/run/bulwark"

    @Option(help: "Log file (errors are also written to stderr).")
    public var log: String?

    @Option(name: .customLong("log-format"), help: "Log format: text or json.")
    public var logFormat: LogFormat = .text

    @Flag(help: "Enable debug logging.")
    public var debug = false

    @Option(name: .customLong("debug-log"), help: "Directory for the Sentry's debug logs.")
    public var debugLog: String?

    @Flag(help: "Trace the sandboxed application's system calls (passed to the Sentry).")
    public var strace = false

    @Option(help: "How application code runs: ptrace (only ptrace is implemented).")
    public var platform: String = "ptrace"

    @Option(help: "Networking: sandbox, host or none.")
    public var network: NetworkMode = .sandbox

    @Flag(help: "Accepted for runsc compatibility (an overlay over the root is the default).")
    public var overlay2 = false

    @Flag(help: "Accepted for runsc compatibility.")
    public var rootless = false

    @Flag(name: .customLong("ignore-cgroups"), help: "Accepted for runsc compatibility.")
    public var ignoreCgroups = false

    @Flag(name: .customLong("systemd-cgroup"), help: "Accepted for runc compatibility.")
    public var systemdCgroup = false

    public init() {}

    public func validate() throws {
        if platform != "ptrace" {
            throw ValidationError("--platform \(platform): only ptrace is implemented")
        }
    }

    /// The flags to hand to a child `bulwark` (the supervisor), so it logs the same way.
    var forwarded: [String] {
        var args = ["--root", root, "--log-format", logFormat.rawValue, "--network", network.rawValue]
        if let log { args += ["--log", log] }
        if let debugLog { args += ["--debug-log", debugLog] }
        if debug { args.append("--debug") }
        if strace { args.append("--strace") }
        return args
    }
}

public enum LogFormat: String, ExpressibleByArgument, Sendable {
    case text, json
}

public enum NetworkMode: String, ExpressibleByArgument, Sendable {
    case sandbox, host, none
}

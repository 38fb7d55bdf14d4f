// The `bulwark` command: a runc/runsc-compatible OCI runtime. Each subcommand lives in its own file;
// `BulwarkMain.main()` parses, runs, and turns any error into runc-style output and exit status 1.
import ArgumentParser
@preconcurrency import Glibc

/// The OCI runtime-spec version this launcher writes and reports.
let ociVersion = "1.0.2"

public struct Bulwark: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bulwark",
        abstract: "Run OCI containers in a Bulwark sandbox (a user-space Linux kernel).",
        version: "bulwark 0.1 (OCI runtime-spec \(ociVersion))",
        subcommands: [
            RunCommand.self, CreateCommand.self, StartCommand.self, StateCommand.self, ListCommand.self,
            KillCommand.self, DeleteCommand.self, SpecCommand.self, FeaturesCommand.self, WaitCommand.self,
            PsCommand.self, ExecCommand.self, EventsCommand.self, PauseCommand.self, ResumeCommand.self,
            UpdateCommand.self, DoCommand.self, InstallCommand.self, UninstallCommand.self,
            DebugCommand.self, SuperviseCommand.self, ExecWaitCommand.self,
            PodMemberCommand.self,
        ])

    @OptionGroup public var globals: GlobalOptions

    public init() {}
}

/// A subcommand: `execute` returns the process exit status or throws a RuntimeError (exit status 1).
protocol RuntimeCommand: ParsableCommand {
    var globals: GlobalOptions { get }
    func execute() throws(RuntimeError) -> Int32
}

extension RuntimeCommand {
    func run() throws {
        // BulwarkMain calls execute() directly; this exists to satisfy ParsableCommand.
        throw ExitCode(try execute())
    }
}

public enum BulwarkMain {
    public static func main(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        // Hooks and the Sentry may exit without reading what we write to them.
        signal(SIGPIPE, SIG_IGN)
        let command: ParsableCommand
        do {
            command = try Bulwark.parseAsRoot(normalizeGoFlags(arguments))
        } catch {
            let code = Bulwark.exitCode(for: error)
            let text = Bulwark.fullMessage(for: error)
            if code == .success {
                print(text)
                exit(0)
            }
            fallbackLogger(arguments).error(text)
            exit(1)
        }
        guard let runtime = command as? any RuntimeCommand else {
            // `bulwark` alone: print help.
            print(Bulwark.helpMessage())
            exit(0)
        }
        do {
            let status = try runtime.execute()
            fflush(stdout)
            exit(status)
        } catch {
            fflush(stdout)
            Logger(runtime.globals).error(error.message)
            exit(1)
        }
    }

    /// Boolean flags written the Go way (`--debug=true`, `--overlay2=root:memory` as runsc takes it) become
    /// plain flags or are dropped, so configurations written for runc/runsc parse here too.
    static func normalizeGoFlags(_ arguments: [String]) -> [String] {
        let booleans: Set<String> = ["debug", "strace", "overlay2", "rootless", "ignore-cgroups", "systemd-cgroup",
                                     "detach", "force", "all", "quiet", "no-pivot", "no-new-keyring"]
        var result: [String] = []
        var terminated = false
        for arg in arguments {
            if terminated || arg == "--" {
                terminated = true
                result.append(arg)
                continue
            }
            guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else { result.append(arg); continue }
            let name = String(arg[arg.index(arg.startIndex, offsetBy: 2)..<eq])
            let value = String(arg[arg.index(after: eq)...])
            guard booleans.contains(name) else { result.append(arg); continue }
            if value == "false" || value == "none" { continue }
            result.append("--\(name)")
        }
        return result
    }

    /// Best-effort --log/--log-format from raw arguments, for reporting a command-line error (a
    /// GlobalOptions that was not parsed cannot be read).
    static func fallbackLogger(_ arguments: [String]) -> Logger {
        var globals = Logger(file: nil, format: .text)
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            let value = i + 1 < arguments.count ? arguments[i + 1] : nil
            if arg == "--log", let value { globals.file = value; i += 1 }
            else if arg.hasPrefix("--log=") { globals.file = String(arg.dropFirst(6)) }
            else if arg == "--log-format", let value { globals.format = LogFormat(rawValue: value) ?? .text; i += 1 }
            else if arg.hasPrefix("--log-format=") { globals.format = LogFormat(rawValue: String(arg.dropFirst(13))) ?? .text }
            i += 1
        }
        return globals
    }
}

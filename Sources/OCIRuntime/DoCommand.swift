// `bulwark do CMD [ARG...]`: runs a host command in a fresh sandbox over the host's root, like
// `runsc do`. The host's root is read-only for the sandbox: the Sentry (and the gofer it starts) run in
// a private mount namespace where every host mount is remounted read-only (so this needs
// CAP_SYS_ADMIN, i.e. root); the Sentry's overlay over the root keeps the command's writes in the
// sandbox's memory. The
// command's stdio are ours; the exit status is the command's (128 + N when killed by signal N).
import ArgumentParser
import Foundation
import Glibc
import HostOS

struct DoCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "do", abstract: "Run a host command in a fresh read-only sandbox.")

    @OptionGroup var globals: GlobalOptions

    @Option(help: "Working directory in the sandbox (default: the current directory).")
    var cwd: String?

    @Option(name: .customLong("sentry-binary"), help: .hidden)
    var sentryBinary: String?

    @Argument(parsing: .captureForPassthrough, help: "CMD [ARG...]")
    var command: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        let args = command.first == "--" ? Array(command.dropFirst()) : command
        guard !args.isEmpty else { throw RuntimeError("do: no command given") }
        let sentry = try ContainerLauncher.sentryPath(override: sentryBinary)
        guard FileSystem.isExecutable(sentry) else { throw RuntimeError("the Sentry executable \(sentry) is missing") }
        let dir = cwd ?? FileManager.default.currentDirectoryPath
        try Self.readOnlyHostView()
        var sentryArgs = [sentry, "run", "--rootfs", "/", "--cwd", dir, "--hostname", "bulwark-do",
                          "--uid", String(getuid()), "--gid", String(getgid())]
        for (key, value) in ProcessInfo.processInfo.environment.sorted(by: { $0.key < $1.key }) {
            sentryArgs += ["--env", "\(key)=\(value)"]
        }
        if globals.strace { sentryArgs.append("--strace") }
        sentryArgs.append("--")
        sentryArgs += args
        let forwarded = Signals.forwardableSet()
        try? Signals.block(forwarded)
        var options = SpawnOptions(path: sentry, arguments: sentryArgs)
        options.parentDeathSignal = SIGKILL
        let child: pid_t
        do { child = try ProcessSpawn.spawn(options) } catch { throw RuntimeError("fork/exec \(sentry)", error) }
        while true {
            if let signal = try? Signals.wait(forwarded, milliseconds: 200), signal != SIGCHLD {
                try? ProcessSpawn.signal(child, signal)
            }
            if let status = try? ProcessSpawn.poll(child) { return status.shellStatus }
        }
    }

    /// A private mount namespace in which every mount is read-only (the Sentry inherits it).
    static func readOnlyHostView() throws(RuntimeError) {
        do {
            try Namespaces.unshare(.mount)
            try Mount.makePrivate("/")
        } catch {
            throw RuntimeError("a private mount namespace for the read-only root (bulwark do needs root)", error)
        }
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 5 else { continue }
            let target = unescapeMountPath(String(fields[4]))
            // Remount each mount point read-only; keep nosuid/nodev/noexec as they were.
            var flags: Mount.Flags = [.bind, .remount, .readOnly]
            let options = fields[5].split(separator: ",")
            if options.contains("nosuid") { flags.insert(.noSuid) }
            if options.contains("nodev") { flags.insert(.noDev) }
            if options.contains("noexec") { flags.insert(.noExec) }
            do {
                try Mount.mount(source: nil, target: target, type: nil, flags: flags)
            } catch {
                // Mounts that are hidden under others or vanished meanwhile cannot be reached: only "/" must succeed.
                if target == "/" { throw RuntimeError("remount / read-only", error) }
            }
        }
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescapeMountPath(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5c, i + 3 < bytes.count,
               let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

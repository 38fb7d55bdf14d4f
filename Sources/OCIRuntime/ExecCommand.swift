// `bulwark exec`: runs a new process in a running container through the Control channel (the Sentry
// loads it like init and gives it this command's stdio). In the foreground this process lives as long
// as the new one, forwards signals to it and exits with its status; with --detach a small waiter
// (`bulwark exec-wait`) does that instead and its pid goes to --pid-file, because containerd's shim
// waits on the pid it finds there.
import ArgumentParser
import Foundation
import Glibc
import HostOS
import Protocol

struct ExecCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a new process inside a running container.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "JSON file with an OCI process object (instead of COMMAND).")
    var process: String?

    @Option(help: "Working directory in the container.")
    var cwd: String?

    @Option(name: [.short, .long], help: "Environment variable KEY=VALUE (repeatable).")
    var env: [String] = []

    @Option(name: [.short, .long], help: "UID[:GID] to run as.")
    var user: String?

    @Option(name: [.customShort("g"), .customLong("additional-gids")], help: "Additional group id (repeatable).")
    var additionalGIDs: [UInt32] = []

    @Flag(name: [.short, .long], help: "Allocate a terminal (the caller's stdio must be one, or use --console-socket).")
    var tty = false

    @Flag(name: [.short, .long], help: "Detach: return once the process runs.")
    var detach = false

    @Option(name: .customLong("pid-file"), help: "File to write the pid of the process that waits for the new one.")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "Unix socket to receive the terminal's master fd.")
    var consoleSocket: String?

    @Flag(name: .customLong("no-new-privs"), help: "Set no_new_privs for the process.")
    var noNewPrivs = false

    @Option(name: [.customShort("c"), .customLong("cap")], help: "Accepted for runc compatibility.")
    var caps: [String] = []

    @Option(name: .customLong("process-label"), help: "Accepted for runc compatibility.")
    var processLabel: String?

    @Option(help: "Accepted for runc compatibility.")
    var apparmor: String?

    @Option(name: .customLong("preserve-fds"), help: "Accepted; only 0 is supported.")
    var preserveFDs: Int = 0

    @Flag(name: .customLong("ignore-paused"), help: "Accepted for runc compatibility.")
    var ignorePaused = false

    @Argument(help: "The container id.")
    var id: String

    @Argument(parsing: .captureForPassthrough, help: "COMMAND [ARG...] (without --process).")
    var command: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        switch dir.status(of: record) {
        case .running: break
        case .paused: if !ignorePaused { throw RuntimeError("cannot exec in a paused container (use --ignore-paused)") }
        default: throw RuntimeError("cannot exec in a container that is not running")
        }
        if preserveFDs != 0 { throw RuntimeError("--preserve-fds: not supported by exec yet") }
        let spec = try processSpec(bundle: record.bundle)
        if spec.terminal && consoleSocket == nil && detach {
            throw RuntimeError("cannot allocate tty if bulwark will detach without setting console socket")
        }
        // The terminal: with --console-socket the process gets the slave of a new pty whose master is
        // sent to that socket; otherwise our own stdio (a terminal if the caller has one).
        var stdio: [Int32] = [0, 1, 2]
        var console: ConsolePair?
        if let consoleSocket, spec.terminal {
            console = try ConsolePair.open()
            try console!.sendMaster(to: consoleSocket)
            stdio = [console!.slave, console!.slave, console!.slave]
        }
        let client = try ControlClient.connect(dir)
        let reply = try client.call(Control.ExecProcess(containerID: id, process: spec,
                                                        stdin: .init(0), stdout: .init(1), stderr: .init(2)),
                                    fds: stdio)
        console?.closeAll()
        let pid = reply.pid
        if detach {
            let waiter = try spawnWaiter(pid: pid)
            try writePidFile(waiter)
            return 0
        }
        try writePidFile(getpid())
        return try ExecSupervision.wait(client: client, dir: dir, id: id, pid: pid)
    }

    private func writePidFile(_ pid: pid_t) throws(RuntimeError) {
        guard let pidFile else { return }
        let cwd = FileManager.default.currentDirectoryPath
        let path = pidFile.hasPrefix("/") ? pidFile : (cwd as NSString).appendingPathComponent(pidFile)
        do {
            try FileSystem.writeAtomically(path, Array(String(pid).utf8), mode: 0o644)
        } catch {
            throw RuntimeError("write pid file \(path)", error)
        }
    }

    /// `bulwark exec-wait` with /dev/null as stdio, so it keeps none of the new process's pipes open.
    private func spawnWaiter(pid: Int32) throws(RuntimeError) -> pid_t {
        let me: String
        do { me = try FileSystem.currentExecutable() } catch { throw RuntimeError("readlink /proc/self/exe", error) }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        var options = SpawnOptions(path: me, arguments: [me] + globals.forwarded + ["exec-wait", "--pid", String(pid), id])
        options.stdin = null
        options.stdout = null
        options.stderr = null
        do { return try ProcessSpawn.spawn(options) } catch { throw RuntimeError("fork/exec \(me)", error) }
    }

    /// The process to run: --process FILE, or COMMAND with the flags, defaults from config.json's process.
    private func processSpec(bundle: String) throws(RuntimeError) -> Control.ProcessSpec {
        var p: OCIConfig.Process
        if let process {
            guard let data = FileManager.default.contents(atPath: process) else {
                throw RuntimeError("open \(process): no such file or directory")
            }
            p = try OCIConfig.parseProcessDocument(data, name: (process as NSString).lastPathComponent)
        } else {
            let args = command.first == "--" ? Array(command.dropFirst()) : command
            guard !args.isEmpty else { throw RuntimeError("exec: no COMMAND given (and no --process)") }
            p = (try? OCIConfig.load(bundle: bundle))?.process ?? OCIConfig.Process()
            p.args = args
            p.terminal = tty
        }
        if let cwd { p.cwd = cwd }
        if let user {
            let parts = user.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
                throw RuntimeError("--user \(user): must be UID[:GID] (numbers)")
            }
            p.user.uid = uid
            if parts.count == 2 { p.user.gid = UInt32(parts[1])! }
        }
        p.user.additionalGids += additionalGIDs
        for entry in env {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                throw RuntimeError("--env \(entry): must be KEY=VALUE")
            }
            let key = entry[..<eq]
            p.env.removeAll { $0.hasPrefix(key + "=") }
            p.env.append(entry)
        }
        if noNewPrivs { p.noNewPrivileges = true }
        if tty { p.terminal = true }
        return p.controlSpec   // PodMembership.swift
    }
}

/// `bulwark exec-wait` (internal, started by `exec --detach`): waits for one exec'd process, forwards
/// signals to it, and exits with its status (or dies by the same signal).
struct ExecWaitCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-wait", abstract: "Internal: wait for a process started by exec --detach.", shouldDisplay: false)

    @OptionGroup var globals: GlobalOptions

    @Option(help: "The process's pid in the sandbox.")
    var pid: Int32

    @Argument var id: String

    func execute() throws(RuntimeError) -> Int32 {
        let dir = ContainerDirectory(root: globals.root, id: id)
        let client = try ControlClient.connect(dir)
        let status = try ExecSupervision.wait(client: client, dir: dir, id: id, pid: pid, rawStatus: true)
        if status & 0x7f != 0 {
            var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
            Signals.dieBySignal(status & 0x7f)
        }
        return (status >> 8) & 0xff
    }
}

enum ExecSupervision {
    /// Waits for `pid` on `client` while forwarding the signals we receive to it (over a second
    /// connection). Returns the shell status, or the raw wait status with `rawStatus`.
    static func wait(client: ControlClient, dir: ContainerDirectory, id: String, pid: Int32,
                     rawStatus: Bool = false) throws(RuntimeError) -> Int32 {
        let forwarded = Signals.forwardableSet()
        try? Signals.block(forwarded)
        try client.sendWait(id: id, pid: pid)
        var signaller: ControlClient?
        while true {
            if let status = try client.receiveExit(milliseconds: 100) {
                return rawStatus ? status : shellStatus(waitStatus: status)
            }
            guard let signal = try? Signals.wait(forwarded, milliseconds: 1), signal != SIGCHLD else { continue }
            if signaller == nil { signaller = try? ControlClient.connect(dir) }
            _ = try? signaller?.call(Control.Signal(containerID: id, pid: pid, signal: signal, all: false))
        }
    }
}

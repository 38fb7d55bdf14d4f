// The Sentry's services as the supervisor runs them: bulwark-gofer, bulwark-procfs and bulwark-netstack,
// each started through `bulwark service-sandbox` (own mount/pid/ipc/uts namespaces; an empty network
// namespace except for the netstack, which runs in the container's) over a socketpair whose other end
// goes to the Sentry (--gofer-fd, --procfs-fd, --netstack-fd). The supervisor is a child subreaper:
// service-sandbox exits once the service runs, the service is reparented to us, and we reap it.
//
// When a service dies while the Sentry runs: procfs is restarted (in a new sandbox) and its new channel
// handed to the Sentry over the Control channel (ReplaceProcfs, SCM_RIGHTS); the gofer or the netstack
// ends the sandbox (the Sentry is killed; without its files or network the container cannot go on
// correctly). Every death is logged with the service's name and its signal.
import FaultInjection
import Foundation
@preconcurrency import Glibc
import HostOS
import Protocol
import Wire

enum ServiceKind: String, CaseIterable, Sendable {
    case gofer, procfs, netstack

    var executable: String { "bulwark-\(rawValue)" }
    /// The Sentry's option that takes this service's channel.
    var sentryFlag: String { "--\(rawValue)-fd" }
    /// Services that open no file after setup leave the host's file system (ServiceKit --empty-root).
    var emptyRoot: Bool { self != .gofer }
}

/// A service started through service-sandbox, until we learn its pid.
struct PendingService {
    var kind: ServiceKind
    var sandboxPID: pid_t
    var pidPipe: Int32
    var sentryEnd: Int32
}

struct RunningService: Codable, Sendable {
    var name: String
    var pid: Int32
    var startTime: UInt64
}

final class SandboxServices {
    let globals: GlobalOptions
    let logger: Logger
    let dir: ContainerDirectory
    let id: String
    /// The directory of the Sentry executable; services are looked for next to it.
    let binDirectory: String
    let rootfs: String?
    /// `--mount SRC:DST[:ro],...` for the gofer: the container's bind mounts (see goferMountArguments).
    let goferMounts: [String]
    /// Extra service arguments (--fault specs for that service).
    let faultArguments: (FaultChannel) -> [String]
    private(set) var running: [ServiceKind: RunningService] = [:]
    /// Set when a service's death ended the sandbox: the container's exit status (128 + its signal).
    private(set) var fatalStatus: Int32?
    var restarts = 0
    static let maximumRestarts = 5

    init(globals: GlobalOptions, logger: Logger, dir: ContainerDirectory, id: String, sentryArguments: [String]) {
        self.globals = globals
        self.logger = logger
        self.dir = dir
        self.id = id
        self.binDirectory = ((sentryArguments.first ?? "") as NSString).deletingLastPathComponent
        self.goferMounts = Self.goferMountArguments(sentryArguments)
        rootfs = ContainerLauncher.sentryOptionValues("--rootfs", in: sentryArguments).first
        faultArguments = { channel in FaultOptions.serviceArguments(channel, sentryArguments: sentryArguments) }
    }

    /// The Sentry's `--mount SRC:DST[:ro]` binds, which the gofer serves as mounts 1, 2... in that order.
    static func goferMountArguments(_ sentryArguments: [String]) -> [String] {
        let specs = ContainerLauncher.sentryOptionValues("--mount", in: sentryArguments)
        return specs.isEmpty ? [] : ["--mount", specs.joined(separator: ",")]
    }

    /// Starts every service whose executable is next to the Sentry (the gofer only with a --rootfs).
    func launchAll() -> [PendingService] {
        do { try Subreaper.become() } catch { logger.warning("container \(id): \(error); services are reaped by init") }
        var pending: [PendingService] = []
        if let rootfs, available(.gofer), let p = launch(.gofer, arguments: ["--root", rootfs] + goferMounts + faultArguments(.gofer)) {
            pending.append(p)
        }
        if available(.procfs), let p = launch(.procfs, arguments: faultArguments(.procfs)) { pending.append(p) }
        if available(.netstack), let plan = netstackPlan(),
           let p = launch(.netstack, arguments: plan.arguments + faultArguments(.netstack), keepNetwork: plan.keepNetwork) {
            pending.append(p)
        }
        return pending
    }

    /// Reaps every child that ended (waitpid(-1): as a subreaper we also adopt orphans, e.g. stubs of a
    /// dead Sentry); returns the Sentry's status once it ended. A service that died while the Sentry
    /// runs is logged and restarted (procfs) or ends the sandbox (gofer, netstack). A service that exits
    /// 0 closed down because its channel was closed, i.e. the Sentry is ending: not a failure.
    func reap(sentry: pid_t) -> ExitStatus? {
        var result: ExitStatus?
        while true {
            var word: Int32 = 0
            let pid = waitpid(-1, &word, WNOHANG)
            if pid <= 0 { break }
            let status = ExitStatus(waitStatus: word)
            if pid == sentry {
                result = status
                continue
            }
            guard let kind = take(pid: pid), result == nil, status != .exited(0) else { continue }
            let how: String
            switch status {
            case .signaled(let signal): how = "died by \(signalName(signal))"
            case .exited(let code): how = "exited with status \(code)"
            }
            logger.warning("container \(id): service \(kind.executable) (pid \(pid)) \(how)")
            switch kind {
            case .procfs:
                if !restartProcfs() { logger.warning("container \(id): /proc stays unavailable (EIO)") }
            case .gofer, .netstack:
                if fatalStatus == nil {
                    logger.warning("container \(id): the sandbox cannot go on without \(kind.executable); stopping it")
                    fatalStatus = status.shellStatus
                    try? ProcessSpawn.signal(sentry, SIGKILL)
                }
            }
        }
        return result
    }

    /// Waits (bounded) until the Sentry has created init: its Control server answers only from then
    /// on, so a Hello that gets its reply means `start` can return with the container's process running
    /// (runc's semantics: an immediate `ps` lists it, an immediate `exec` is not pid 1). A Sentry that
    /// ends first (a short-lived container) closes the socket, which ends the wait as well.
    static func waitForInit(_ dir: ContainerDirectory, timeout: Duration = .seconds(10)) {
        _ = try? ControlClient.connect(dir, timeout: timeout)
    }

    /// Whether the executable for `kind` is next to the Sentry (the tests' stand-in Sentry has none).
    func available(_ kind: ServiceKind) -> Bool { FileSystem.isExecutable("\(binDirectory)/\(kind.executable)") }

    /// The netstack's arguments and namespace (nil: the launcher starts no netstack). --network host:
    /// the netstack stays in the host's namespace (the supervisor made none) and opens host sockets.
    func netstackPlan() -> (arguments: [String], keepNetwork: Bool)? {
        switch globals.network {
        case .host: return (["--network", "host"], true)
        case .none: return (["--network", "none"], false)
        case .sandbox: break
        }
        // No network namespace in config.json: runc would share the host's; we give loopback only.
        guard FileSystem.exists(dir.networkFile) else { return (["--network", "none"], false) }
        if let interface = SandboxServices.firstUpInterface() {
            return (["--network", "sandbox", "--interface", interface], true)
        }
        return (["--network", "none"], true)
    }

    /// The first interface of our (the container's) network namespace that is up and not loopback.
    static func firstUpInterface() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var cursor = list
        while let entry = cursor {
            let flags = entry.pointee.ifa_flags
            if flags & UInt32(IFF_UP) != 0, flags & UInt32(IFF_LOOPBACK) == 0, let name = entry.pointee.ifa_name {
                return String(cString: name)
            }
            cursor = entry.pointee.ifa_next
        }
        return nil
    }

    /// Spawns `bulwark service-sandbox ... -- SERVICE --channel-fd N ARGS`; returns at once (see collect).
    func launch(_ kind: ServiceKind, arguments: [String], keepNetwork: Bool = false,
                environment: [String]? = nil) -> PendingService? {
        let service = "\(binDirectory)/\(kind.executable)"
        let me: String
        do { me = try FileSystem.currentExecutable() } catch { return nil }
        let sentryEnd: Int32, serviceEnd: Int32, pidRead: Int32, pidWrite: Int32
        do {
            (sentryEnd, serviceEnd) = try UnixSocket.pair().releaseBoth()
        } catch {
            logger.warning("socketpair for \(kind.executable): \(error)")
            return nil
        }
        do {
            (pidRead, pidWrite) = try FileIO.pipe().releaseBoth()
        } catch {
            close(sentryEnd); close(serviceEnd)
            logger.warning("pipe for \(kind.executable): \(error)")
            return nil
        }
        defer { close(serviceEnd); close(pidWrite) }
        var sandboxArgs = [me] + globals.forwarded + ["service-sandbox", "--keep-fd", String(serviceEnd), "--pid-fd", String(pidWrite)]
        if keepNetwork { sandboxArgs.append("--keep-network") }
        if kind.emptyRoot { sandboxArgs.append("--empty-root") }
        var options = SpawnOptions(path: me, arguments: sandboxArgs + ["--", service, "--channel-fd", String(serviceEnd)] + arguments)
        options.inheritedDescriptors = [serviceEnd, pidWrite]
        options.environment = environment
        let pid: pid_t
        do { pid = try ProcessSpawn.spawn(options) } catch {
            logger.warning("starting \(kind.executable): \(error)")
            close(sentryEnd); close(pidRead)
            return nil
        }
        return PendingService(kind: kind, sandboxPID: pid, pidPipe: pidRead, sentryEnd: sentryEnd)
    }

    /// Reads the service's pid from its service-sandbox (bounded) and reaps the sandbox process.
    @discardableResult
    func collect(_ pending: PendingService) -> Bool {
        defer { close(pending.pidPipe) }
        var text: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 32)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !text.contains(UInt8(ascii: "\n")) {
            guard (try? Poll.waitReadable(pending.pidPipe, milliseconds: 100)) == true else { continue }
            let n = (try? readSome(pending.pidPipe, into: &scratch)) ?? 0
            if n == 0 { break }
            text += scratch[0..<n]
        }
        _ = try? ProcessSpawn.wait(pending.sandboxPID)
        guard let pid = Int32(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            logger.warning("container \(id): \(pending.kind.executable) did not start")
            return false
        }
        running[pending.kind] = RunningService(name: pending.kind.executable, pid: pid,
                                               startTime: ProcessTable.startTime(of: pid) ?? 0)
        record()
        return true
    }

    /// services.json: the services' pids and start times, so `delete` can kill them even when the
    /// supervisor itself is gone.
    func record() {
        try? dir.writeJSON(Array(running.values), to: dir.servicesFile)
    }

    /// Which service `pid` was, if any (and forgets it).
    func take(pid: pid_t) -> ServiceKind? {
        guard let kind = running.first(where: { $0.value.pid == pid })?.key else { return nil }
        running[kind] = nil
        record()
        return kind
    }

    /// Restarts procfs in a new sandbox and hands its channel to the Sentry. The test hook variable is
    /// not passed on (it would make every restart die the same way).
    func restartProcfs() -> Bool {
        guard restarts < Self.maximumRestarts else {
            logger.warning("container \(id): bulwark-procfs died \(restarts + 1) times; not restarting it again")
            return false
        }
        restarts += 1
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != SeccompProbe.variable }.map { "\($0.key)=\($0.value)" }
        guard let pending = launch(.procfs, arguments: faultArguments(.procfs), environment: environment) else { return false }
        guard collect(pending) else {
            close(pending.sentryEnd)
            return false
        }
        defer { close(pending.sentryEnd) }
        do throws(RuntimeError) {
            let client = try ControlClient.connect(dir)
            _ = try client.call(Control.ReplaceProcfs(channel: FDIndex(0)), fds: [pending.sentryEnd])
            logger.warning("container \(id): bulwark-procfs restarted (pid \(running[.procfs]?.pid ?? 0)); the Sentry has its new channel")
            return true
        } catch {
            logger.warning("container \(id): handing the restarted bulwark-procfs to the Sentry: \(error.message)")
            return false
        }
    }

    /// SIGKILL to every service still running, then reaps them (bounded).
    func killAll() {
        for service in running.values where ProcessTable.isAlive(pid: service.pid, startTime: service.startTime) {
            try? ProcessSpawn.signal(service.pid, SIGKILL)
        }
        let deadline = Date().addingTimeInterval(2)
        for service in running.values {
            while Date() < deadline {
                if (try? ProcessSpawn.poll(service.pid)) != nil { break }
                if !ProcessTable.isAlive(pid: service.pid, startTime: service.startTime) { break }
                usleep(2000)
            }
        }
        running = [:]
        try? FileSystem.unlink(dir.servicesFile)
    }

    /// What `delete` does when the supervisor may be gone: kill the recorded services (by pid and start
    /// time, so a reused pid is never hit).
    static func killRecorded(_ dir: ContainerDirectory) {
        guard let data = FileManager.default.contents(atPath: dir.servicesFile),
              let list = try? JSONDecoder().decode([RunningService].self, from: data) else { return }
        for service in list where ProcessTable.isAlive(pid: service.pid, startTime: service.startTime) {
            try? ProcessSpawn.signal(service.pid, SIGKILL)
        }
    }
}

extension ContainerDirectory {
    /// The supervisor's services (RunningService list).
    var servicesFile: String { "\(path)/services.json" }
}

func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGSYS: return "SIGSYS"
    case SIGKILL: return "SIGKILL"
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGTERM: return "SIGTERM"
    case SIGBUS: return "SIGBUS"
    default: return "signal \(signal)"
    }
}

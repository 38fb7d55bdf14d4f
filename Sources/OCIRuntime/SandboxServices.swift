// The Sentry's services as the supervisor runs them: bulwark-gofer, bulwark-procfs and bulwark-netstack,
// each spawned by the supervisor straight into namespaces of its own (mount/pid/ipc/uts; an empty network
// namespace except for the netstack, which runs in the container's) over a socketpair whose other end
// goes to the Sentry (--gofer-fd, --procfs-fd, --netstack-fd). The services are our children and we reap
// them; the supervisor is also a child subreaper, so orphans (stubs of a dead Sentry) come to us too.
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

/// A service just started, until the Sentry has its channel's other end.
struct PendingService {
    var kind: ServiceKind
    var pid: pid_t
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
    /// The taken-over interface's tc ingress drop (NetstackLinkHandoff.swift), removed by killAll.
    var ingressDrop: IngressDrop.Outcome = .disabled

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
    /// procfs and the netstack are started on first use (see DeferredService) unless
    /// BULWARK_EAGER_SERVICES is set.
    func launchAll() -> [PendingService] {
        do { try Subreaper.become() } catch { logger.warning("container \(id): \(error); services are reaped by init") }
        let eager = getenv("BULWARK_EAGER_SERVICES") != nil
        var pending: [PendingService] = []
        if let rootfs, available(.gofer), let p = launch(.gofer, arguments: ["--root", rootfs] + goferMounts + faultArguments(.gofer)) {
            pending.append(p)
        }
        if available(.procfs),
           let p = eager ? launch(.procfs, arguments: faultArguments(.procfs))
                         : deferLaunch(.procfs, arguments: faultArguments(.procfs), keepNetwork: false) {
            pending.append(p)
        }
        if available(.netstack), let plan = netstackPlan() {
            let arguments = plan.arguments + faultArguments(.netstack)
            if let p = eager ? launch(.netstack, arguments: arguments, keepNetwork: plan.keepNetwork)
                             : deferLaunch(.netstack, arguments: arguments, keepNetwork: plan.keepNetwork) {
                pending.append(p)
            }
        }
        return pending
    }

    /// A service whose channel the Sentry gets now but which starts only when the Sentry first writes on
    /// it. The Sentry talks to procfs on the first /proc access and to the netstack on the first inet
    /// socket (both lazily already), and many containers do neither: an idle or short-lived container
    /// then costs two processes less (memory, and CPU at start-up). The Sentry's first message waits in
    /// the socket for the service, which reads it as if it had been running all along.
    struct DeferredService {
        var kind: ServiceKind
        var serviceEnd: Int32
        var arguments: [String]
        var keepNetwork: Bool
    }
    private(set) var deferred: [DeferredService] = []

    /// The channel for a deferred service; the service is started by `startDeferred`.
    func deferLaunch(_ kind: ServiceKind, arguments: [String], keepNetwork: Bool) -> PendingService? {
        let sentryEnd: Int32, serviceEnd: Int32
        do {
            (sentryEnd, serviceEnd) = try UnixSocket.pair().releaseBoth()
        } catch {
            logger.warning("socketpair for \(kind.executable): \(error)")
            return nil
        }
        deferred.append(DeferredService(kind: kind, serviceEnd: serviceEnd, arguments: arguments, keepNetwork: keepNetwork))
        return PendingService(kind: kind, pid: 0, sentryEnd: sentryEnd)
    }

    /// Starts the deferred services whose channel has `events` (poll revents): readable means the Sentry
    /// wrote its first request; a hang-up means the Sentry is gone, and the service is never needed.
    func startDeferred(_ events: [(fd: Int32, events: Int16)]) {
        for (fd, revents) in events where revents != 0 {
            guard let index = deferred.firstIndex(where: { $0.serviceEnd == fd }) else { continue }
            let service = deferred.remove(at: index)
            defer { close(service.serviceEnd) }
            guard revents & Poll.hangUp == 0, revents & Poll.error == 0 else { continue }
            guard let pid = spawnService(service.kind, serviceEnd: service.serviceEnd, arguments: service.arguments,
                                         keepNetwork: service.keepNetwork, environment: nil) else { continue }
            logger.debug("container \(id): \(service.kind.executable) started on first use (pid \(pid))")
            collect(PendingService(kind: service.kind, pid: pid, sentryEnd: -1))
        }
    }

    /// Starts every deferred service now (when the supervisor cannot wait on their channels).
    func startAllDeferred() {
        startDeferred(deferred.map { ($0.serviceEnd, Poll.readable) })
    }

    /// Closes the channels of deferred services that never started.
    func dropDeferred() {
        for service in deferred { close(service.serviceEnd) }
        deferred = []
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

    /// The namespaces every service gets: mount (private), pid (the service is pid 1 there), ipc, uts,
    /// and an empty network namespace unless it keeps ours (the netstack, in the container's); plus a
    /// user namespace of its own (identity-mapped by spawn.c, so the gofer's kept file capabilities
    /// still reach files of every uid, but its capabilities count only inside that namespace), the
    /// netstack included: the supervisor opens its AF_PACKET link (docs/ARCHITECTURE.md "Netstack: no
    /// capabilities, link from the supervisor").
    static func namespaces(keepNetwork: Bool, user: Bool = true) -> Namespaces.Kinds {
        let base: Namespaces.Kinds = keepNetwork ? [.mount, .pid, .ipc, .uts] : [.mount, .pid, .ipc, .uts, .network]
        return user ? base.union(.user) : base
    }

    /// Starts `SERVICE --channel-fd N ARGS` directly in namespaces of its own (clone(2) with CLONE_NEW*
    /// flags, the mount tree made private, all in spawn.c between fork and exec): no intermediate
    /// `bulwark service-sandbox` process, so no second load of this Foundation-linked binary per service.
    /// The service is our child; it ends when its channel closes (the Sentry gone) or with its pid
    /// namespace (SIGKILL from us or from delete). Without the privilege to create namespaces (rootless)
    /// it says so and runs the service in ours, without --empty-root.
    func launch(_ kind: ServiceKind, arguments: [String], keepNetwork: Bool = false,
                environment: [String]? = nil) -> PendingService? {
        let sentryEnd: Int32, serviceEnd: Int32
        do {
            (sentryEnd, serviceEnd) = try UnixSocket.pair().releaseBoth()
        } catch {
            logger.warning("socketpair for \(kind.executable): \(error)")
            return nil
        }
        defer { close(serviceEnd) }
        guard let pid = spawnService(kind, serviceEnd: serviceEnd, arguments: arguments, keepNetwork: keepNetwork,
                                     environment: environment) else {
            close(sentryEnd)
            return nil
        }
        return PendingService(kind: kind, pid: pid, sentryEnd: sentryEnd)
    }

    /// Spawns the service on `serviceEnd` (which stays ours to close); nil (logged) if it cannot start.
    func spawnService(_ kind: ServiceKind, serviceEnd: Int32, arguments: [String], keepNetwork: Bool,
                      environment: [String]?) -> pid_t? {
        let service = "\(binDirectory)/\(kind.executable)"
        // A sandbox-mode netstack gets its link opened here (NetstackLinkHandoff.swift); ours closes after the spawn.
        let link: LinkHandoff?
        let spawnArguments: [String]
        do { (link, spawnArguments) = try netstackLink(kind, arguments) } catch {
            logger.warning("starting \(kind.executable): \(error)")
            return nil
        }
        let linkFDs = link?.descriptors ?? []
        func start(sandboxed: Bool, user: Bool = true) throws(HostError) -> pid_t {
            let extra = sandboxed && kind.emptyRoot ? ["--empty-root"] : []
            return try ServiceSpawn.spawn(arguments: [service] + extra + ["--channel-fd", String(serviceEnd)] + spawnArguments,
                                          keep: [serviceEnd] + linkFDs, environment: environment,
                                          namespaces: sandboxed ? Self.namespaces(keepNetwork: keepNetwork, user: user) : [])
        }
        do {
            do {
                return try start(sandboxed: true)
            } catch where error.errno == .EPERM || error.errno == .EINVAL || error.errno == .ENOSPC {
                // User namespaces may be refused alone (user.max_user_namespaces=0, a chrooted caller):
                // then the other namespaces still make a sandbox.
                if Self.namespaces(keepNetwork: keepNetwork).contains(.user) {
                    do {
                        let pid = try start(sandboxed: true, user: false)
                        logger.warning("\(kind.executable) runs in the launcher's user namespace (\(error))")
                        return pid
                    } catch where error.errno == .EPERM || error.errno == .EINVAL || error.errno == .ENOSPC {}
                }
                logger.warning("\(kind.executable) runs in the launcher's namespaces (\(error))")
                return try start(sandboxed: false)
            }
        } catch {
            logger.warning("starting \(kind.executable): \(error)")
            return nil
        }
    }

    /// Records a started service (services.json), so reap, killAll and delete know it.
    @discardableResult
    func collect(_ pending: PendingService) -> Bool {
        guard pending.pid > 0 else { return false }   // deferred: recorded when it starts
        running[pending.kind] = RunningService(name: pending.kind.executable, pid: pending.pid,
                                               startTime: ProcessTable.startTime(of: pending.pid) ?? 0)
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
        dropDeferred()
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
        // Tidy: a veth that outlives the sandbox (a named namespace) loses our filter; Docker's goes
        // with its namespace anyway. Its addresses are not given back (they never were).
        if let error = IngressDrop.remove(ingressDrop), error.errno != .ENODEV {
            logger.warning("container \(id): removing the netstack link's ingress drop: \(error)")
        } else if case .installed = ingressDrop {
            logger.debug("container \(id): the netstack link's ingress drop is removed")
        }
        ingressDrop = .disabled
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

// `bulwark supervise` (internal, started by create): the process whose pid is the container's pid. It
// waits on exec.fifo for `start`, spawns the Sentry, forwards signals to it, records its exit in
// exit.json and exits with the same status (or dies by the same signal), because containerd's shim waits
// on this pid.
import ArgumentParser
import CBulwark
import Foundation
@preconcurrency import Glibc
import HostOS

struct SuperviseCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervise", abstract: "Internal: supervise one container (started by create).",
        shouldDisplay: false)

    @OptionGroup var globals: GlobalOptions

    @Option(name: .customLong("ready-fd"), help: "Descriptor on which to report readiness to create.")
    var readyFD: Int32

    @Option(name: .customLong("preserve-fds"), help: "Descriptors 3 ..< 3+N to pass on to the Sentry.")
    var preserveFDs: Int32 = 0

    @Argument var id: String

    @Argument(parsing: .postTerminator) var sentry: [String]

    func execute() throws(RuntimeError) -> Int32 {
        let dir = ContainerDirectory(root: globals.root, id: id)
        let logger = Logger(globals)
        guard let sentryPath = sentry.first else { throw RuntimeError("supervise: no Sentry command line") }
        let ready = OwnedFD(adopting: readyFD)
        let ok = Array("ok".utf8)
        // Namespaces and bind mounts are made now, so a failure is reported by `create`, and the prestart
        // hooks (run by create after this reports ready) see the container's network namespace.
        do throws(RuntimeError) {
            if let data = FileManager.default.contents(atPath: dir.networkFile) {
                guard let plan = try? JSONDecoder().decode(NetworkPlan.self, from: data) else {
                    throw RuntimeError("\(dir.networkFile): corrupt")
                }
                try plan.apply()
            }
            // The cgroup first: everything the supervisor starts (the Sentry, its stubs) inherits it.
            if FileSystem.exists(dir.cgroupFile) {
                guard let plan = dir.readCgroupPlan() else { throw RuntimeError("\(dir.cgroupFile): corrupt") }
                try plan.apply()
            }
            if let data = FileManager.default.contents(atPath: dir.bindsFile) {
                guard let plan = try? JSONDecoder().decode(BindPlan.self, from: data) else {
                    throw RuntimeError("\(dir.bindsFile): corrupt")
                }
                try plan.apply()
            }
        } catch {
            let text = Array(error.message.utf8)
            _ = text.withUnsafeBytes { try? FileIO.writeAll(readyFD, $0) }
            ready.close()
            return 1
        }
        _ = ok.withUnsafeBytes { try? FileIO.writeAll(readyFD, $0) }
        ready.close()

        // Blocks until `start` opens the FIFO for reading. Signals keep their default action meanwhile, so
        // `kill` of a created container ends this process.
        let fifo: OwnedFD
        do { fifo = try FileSystem.open(dir.fifo, flags: O_WRONLY) } catch { throw RuntimeError("open \(dir.fifo)", error) }
        let fifoFD = fifo.rawValue
        // startContainer hooks: after `start`, before the application starts (Hooks.swift).
        do throws(RuntimeError) { try ContainerHooks.runStartContainer(try dir.readRecord()) } catch {
            let text = Array(error.message.utf8)
            _ = text.withUnsafeBytes { try? FileIO.writeAll(fifoFD, $0) }
            fifo.close()
            try? dir.writeJSON(ExitRecord(exitStatus: 1, signal: nil), to: dir.exitFile)
            return 1
        }

        let forwarded = Signals.forwardableSet()
        do { try Signals.block(forwarded) } catch { throw RuntimeError("sigprocmask", error) }
        // The Control channel: a listening socket in the state directory, served by the Sentry, which
        // `exec`, `ps`, `pause`... connect to.
        var sentryArgs = sentry
        var control: Int32 = -1
        do {
            try? FileSystem.unlink(dir.controlSocket)
            control = try ControlSocketPath.with(dir) { (path: String) throws(HostError) -> Int32 in
                try UnixSocket.listen(path: path).release()
            }
            if let dashes = sentryArgs.firstIndex(of: "--") {
                sentryArgs.insert(contentsOf: ["--control-fd", String(control)], at: dashes)
            }
        } catch {
            logger.warning("control socket \(dir.controlSocket): \(error); exec, ps and pause will not work")
        }
        // The services (gofer, procfs, netstack): started here, each in a sandbox of its own
        // (SandboxServices.swift), their channels handed to the Sentry.
        let services = SandboxServices(globals: globals, logger: logger, dir: dir, id: id, sentryArguments: sentryArgs)
        let pending = services.launchAll()
        if let dashes = sentryArgs.firstIndex(of: "--") {
            sentryArgs.insert(contentsOf: pending.flatMap { [$0.kind.sentryFlag, String($0.sentryEnd)] }, at: dashes)
        }
        var options = SpawnOptions(path: sentryPath, arguments: sentryArgs)
        options.inheritedDescriptors = [control].filter { $0 >= 0 } + pending.map(\.sentryEnd)
        options.closeDescriptorsFrom = 3 + preserveFDs
        options.parentDeathSignal = SIGKILL  // the Sentry must not outlive its supervisor
        let child: pid_t
        do {
            child = try ProcessSpawn.spawn(options)
        } catch {
            let text = Array("starting the Sentry: fork/exec \(sentryPath): \(describe(error.errno))".utf8)
            _ = text.withUnsafeBytes { try? FileIO.writeAll(fifoFD, $0) }
            fifo.close()
            try? dir.writeJSON(ExitRecord(exitStatus: 127, signal: nil), to: dir.exitFile)
            for service in pending { _ = Glibc.close(service.sentryEnd); services.collect(service) }
            services.killAll()   // closes the deferred services' channels too
            return 127
        }
        do {
            try FileSystem.writeAtomically(dir.sentryPidFile, Array(String(child).utf8), mode: 0o600)
        } catch {
            logger.warning("write \(dir.sentryPidFile): \(error)")
        }
        if control >= 0 { _ = Glibc.close(control) }
        for service in pending { _ = Glibc.close(service.sentryEnd) }
        // `start` returns once init exists (not with a real Sentry absent: the tests' stand-in has no
        // Control server and no services next to it).
        if control >= 0 && !pending.isEmpty { SandboxServices.waitForInit(dir) }
        _ = ok.withUnsafeBytes { try? FileIO.writeAll(fifoFD, $0) }
        fifo.close()
        try? FileSystem.unlink(dir.fifo)
        for service in pending { services.collect(service) }

        var status: ExitStatus?
        // Signals through a signalfd, so one poll also wakes on the first message of a deferred
        // service's channel (SandboxServices.DeferredService); without one, those start now.
        var mask = forwarded
        let signals = bw_signalfd(&mask)
        if signals < 0 { services.startAllDeferred() }
        defer { if signals >= 0 { _ = Glibc.close(signals) } }
        var pagedOut = false
        while status == nil {
            if signals >= 0 {
                var fds = [pollfd(fd: signals, events: Poll.readable, revents: 0)]
                    + services.deferred.map { pollfd(fd: $0.serviceEnd, events: Poll.readable, revents: 0) }
                let ready = poll(&fds, nfds_t(fds.count), 500)
                if ready == 0 && !pagedOut {
                    // Idle for the first time (`start` is gone, so our image's pages are ours alone): from
                    // here on we only wait, so give back the start-up pages (ImagePageOutUnsafe.swift).
                    ImagePageOut.pageOutReadOnlyFileMappings()
                    pagedOut = true
                }
                while true {
                    let signal = bw_signalfd_read(signals)
                    if signal <= 0 { break }
                    if signal != SIGCHLD { try? ProcessSpawn.signal(child, signal) }
                }
                services.startDeferred(fds.dropFirst().map { ($0.fd, $0.revents) })
            } else {
                let signal: Int32?
                do { signal = try Signals.wait(forwarded, milliseconds: 500) } catch { throw RuntimeError("sigtimedwait", error) }
                if let signal, signal != SIGCHLD {
                    try? ProcessSpawn.signal(child, signal)
                }
            }
            status = services.reap(sentry: child)   // the Sentry's status once it ended; services handled
        }
        services.killAll()
        if let failed = services.fatalStatus {
            // A service's death ended the sandbox: report that, not the SIGKILL we sent the Sentry.
            status = .exited(failed)
        }
        let signal: Int32? = if case .signaled(let s) = status! { s } else { nil }
        try? FileSystem.unlink(dir.controlSocket)
        try? FileSystem.unlink(dir.pausedFile)
        try? dir.writeJSON(ExitRecord(exitStatus: status!.shellStatus, signal: signal), to: dir.exitFile)
        logger.debug("container \(id): the Sentry ended with \(status!)")
        if let signal { logger.warning("container \(id): the Sentry (bulwark-sentry, pid \(child)) died by signal \(signal)") }   // the Sentry itself ended (a crash or a KILL); its guest's deaths come back as exit codes
        if let signal {
            var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)  // dying "by the same signal" must not dump our core
            Signals.dieBySignal(signal)
        }
        return status!.shellStatus
    }
}

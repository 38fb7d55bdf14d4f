// `bulwark pod-member` (internal, started by create for a container that joins a pod's sandbox; see
// PodMembership.swift): the container's pid-file process. It reports ready, waits on exec.fifo for
// `start`, starts the container's own bulwark-gofer over its bundle's rootfs and bind mounts (in a
// service sandbox, as the supervisor does; recorded in services.json so `delete` kills it too), asks
// the pod's Sentry to start the container's process on that root (StartContainer, with this
// process's stdio and the gofer's channel), answers `start` through the FIFO, then waits for the process while forwarding
// signals to it, writes exit.json and exits with its status (or dies by the same signal), as the
// supervisor does for a sandbox's own container. The connection that sent StartContainer stays open
// for as long as this process lives: when it closes, the Sentry kills what is left of the container.
import ArgumentParser
import Foundation
import Glibc
import HostOS
import Protocol

struct PodMemberCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(
        commandName: "pod-member", abstract: "Internal: a container in a pod's sandbox (started by create).",
        shouldDisplay: false)

    @OptionGroup var globals: GlobalOptions

    @Option(name: .customLong("ready-fd"), help: "Descriptor on which to report readiness to create.")
    var readyFD: Int32

    @Option(name: .customLong("preserve-fds"), help: "Accepted; only stdio reaches the container.")
    var preserveFDs: Int32 = 0

    @Argument var id: String

    /// The Sentry command line create builds for every container: its --rootfs and --mount binds are
    /// what the container's own gofer serves.
    @Argument(parsing: .postTerminator) var sentryArguments: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        let dir = ContainerDirectory(root: globals.root, id: id)
        let ok = Array("ok".utf8)
        _ = ok.withUnsafeBytes { try? FileIO.writeAll(readyFD, $0) }
        _ = Glibc.close(readyFD)

        // Blocks until `start` opens the FIFO for reading (signals keep their default action meanwhile).
        let fifo: OwnedFD
        do { fifo = try FileSystem.open(dir.fifo, flags: O_WRONLY) } catch { throw RuntimeError("open \(dir.fifo)", error) }
        let fifoFD = fifo.rawValue
        do { try Signals.block(Signals.forwardableSet()) } catch { throw RuntimeError("sigprocmask", error) }

        let lifeline: ControlClient
        let pid: Int32
        let services = SandboxServices(globals: globals, logger: Logger(globals), dir: dir, id: id, sentryArguments: sentryArguments)
        do throws(RuntimeError) {
            guard PodMembership.read(dir) != nil else { throw RuntimeError("\(PodMembership.file(dir)): missing or corrupt") }
            let record = try dir.readRecord()
            let config = try OCIConfig.load(bundle: record.bundle)
            guard let process = config.process else { throw RuntimeError("config.json: process: is required") }
            try ContainerHooks.runStartContainer(record)   // before the member's application starts
            let root = try startGofer(services)
            defer { if let root { _ = Glibc.close(root.channel) } }
            lifeline = try ControlClient.connect(dir)
            pid = try lifeline.call(Control.StartContainer(
                containerID: id, process: process.controlSpec, rootfsMountID: 0, hostname: config.hostname ?? "",
                stdin: .init(0), stdout: .init(1), stderr: .init(2), rootGofer: root == nil ? nil : .init(3),
                goferMounts: root?.mounts ?? []), fds: [0, 1, 2] + (root.map { [$0.channel] } ?? [])).pid
        } catch {
            let text = Array("starting the container in its pod's sandbox: \(error.message)".utf8)
            _ = text.withUnsafeBytes { try? FileIO.writeAll(fifoFD, $0) }
            fifo.close()
            services.killAll()
            try? dir.writeJSON(ExitRecord(exitStatus: 127, signal: nil), to: dir.exitFile)
            return 127
        }
        _ = ok.withUnsafeBytes { try? FileIO.writeAll(fifoFD, $0) }
        fifo.close()
        try? FileSystem.unlink(dir.fifo)

        let status = try ExecSupervision.wait(client: try ControlClient.connect(dir), dir: dir, id: id, pid: pid, rawStatus: true)
        let signal: Int32? = status & 0x7f != 0 ? status & 0x7f : nil
        services.killAll()   // its gofer: the Sentry has killed what was left of the container
        try? dir.writeJSON(ExitRecord(exitStatus: shellStatus(waitStatus: status), signal: signal), to: dir.exitFile)
        withExtendedLifetime(lifeline) {}
        if let signal {
            var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
            Signals.dieBySignal(signal)
        }
        return shellStatus(waitStatus: status)
    }

    /// The container's own gofer (its rootfs as attachment 0, its binds as 1, 2...): the Sentry's end of
    /// its channel and where the binds go. nil when there is no gofer next to the Sentry (the tests'
    /// stand-in Sentry): the container then runs over the sandbox's root.
    private func startGofer(_ services: SandboxServices) throws(RuntimeError) -> (channel: Int32, mounts: [String])? {
        guard let rootfs = services.rootfs, services.available(.gofer) else { return nil }
        do { try Subreaper.become() } catch {}   // the gofer is reparented to us, and reaped by us
        guard let pending = services.launch(.gofer, arguments: ["--root", rootfs] + services.goferMounts + services.faultArguments(.gofer)) else {
            throw RuntimeError("cannot start bulwark-gofer for \(rootfs)")
        }
        guard services.collect(pending) else {
            _ = Glibc.close(pending.sentryEnd)
            throw RuntimeError("bulwark-gofer for \(rootfs) did not start")
        }
        // The Sentry's `--mount SRC:DST[:ro]` binds, in the order the gofer serves them.
        let mounts = ContainerLauncher.sentryOptionValues("--mount", in: sentryArguments).map { spec -> String in
            let readOnly = spec.hasSuffix(":ro")
            let body = readOnly ? String(spec.dropLast(3)) : spec
            let destination = body.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? body
            return readOnly ? destination + ":ro" : destination
        }
        return (pending.sentryEnd, mounts)
    }
}

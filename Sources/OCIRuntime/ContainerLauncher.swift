// What create, start and run share: checking the bundle, building the Sentry's command line, spawning the
// supervisor, running hooks, and releasing the supervisor through exec.fifo.
//
// Topology: `bulwark create` spawns `bulwark supervise` (its pid goes to --pid-file and state.json) and
// exits. The supervisor blocks opening exec.fifo for writing until `bulwark start` opens it for reading,
// then spawns bulwark-sentry, reports "ok" (or the spawn error) through the FIFO, forwards signals to the
// Sentry, and exits with its status (or dies by the same signal).
import Foundation
import Glibc
import HostOS

struct CreateRequest {
    var id: String
    var bundle: String?
    var pidFile: String?
    var consoleSocket: String?
    /// `run` in the foreground: a terminal can be the caller's own stdio.
    var foreground: Bool
    /// Descriptors 3 ..< 3 + preserveFDs are passed on to the container (--preserve-fds).
    var preserveFDs: Int = 0
    /// --fault specs (FaultOptions.swift).
    var faults: [String] = []
}

enum ContainerLauncher {
    /// The Sentry executable: next to this `bulwark`, unless the hidden --sentry-binary says otherwise.
    static func sentryPath(override: String?) throws(RuntimeError) -> String {
        if let override { return override }
        let me: String
        do { me = try FileSystem.currentExecutable() } catch { throw RuntimeError("readlink /proc/self/exe", error) }
        return (me as NSString).deletingLastPathComponent + "/bulwark-sentry"
    }

    /// Every value of `flag` in a Sentry command line, in order, before its `--` (the program's own
    /// arguments are never read as options).
    static func sentryOptionValues(_ flag: String, in args: [String]) -> [String] {
        let end = args.firstIndex(of: "--") ?? args.count
        var values: [String] = []
        var i = 0
        while i + 1 < end {
            if args[i] == flag { values.append(args[i + 1]); i += 2 } else { i += 1 }
        }
        return values
    }

    /// The Sentry's command line (its contract: `bulwark-sentry run --rootfs DIR ... -- PROGRAM [ARG...]`).
    static func sentryArguments(sentry: String, config: OCIConfig, process: OCIConfig.Process, rootfs: String,
                                id: String, globals: GlobalOptions) -> [String] {
        var args = [sentry, "run", "--rootfs", rootfs, "--cwd", process.cwd]
        for entry in process.env { args += ["--env", entry] }
        if let hostname = config.hostname, !hostname.isEmpty { args += ["--hostname", hostname] }
        args += ["--uid", String(process.user.uid), "--gid", String(process.user.gid)]
        args += processIdentityArguments(process)
        if let rules = config.linux.seccompRules { args += ["--app-seccomp", rules] }   // enforced by the Sentry
        for (key, value) in config.linux.sysctl.sorted(by: { $0.key < $1.key }) { args += ["--sysctl", "\(key)=\(value)"] }
        for path in config.linux.readonlyPaths { args += ["--readonly-path", path] }
        // tmpfs mounts are the Sentry's own (its /dev is devfs; /tmp and /dev/shm get new instances on top).
        for m in config.mounts where m.type == "tmpfs" && m.destination != "/dev" && !m.isBind {
            args += ["--tmpfs", m.options.isEmpty ? m.destination : m.destination + ":" + m.options.joined(separator: ",")]
        }
        if globals.strace { args.append("--strace") }
        if process.terminal { args.append("--terminal") }   // an in-sandbox pty bridged to stdio (ConsoleBridge)
        if let dir = globals.debugLog { args += ["--log", "\(dir)/\(id).sentry.log"] }
        if let t = config.annotations["org.bulwark.gofer-timeout"] { args += ["--gofer-timeout", t] }   // seconds; the Sentry checks it
        args.append("--")
        return args + process.args
    }

    /// config.json's process identity and limits as Sentry options (the Sentry's InitProcessOptions).
    static func processIdentityArguments(_ p: OCIConfig.Process) -> [String] {
        var args: [String] = []
        if !p.user.additionalGids.isEmpty { args += ["--groups", p.user.additionalGids.map(String.init).joined(separator: ",")] }
        // No capabilities object means none at all, as runc does (the Sentry's own default is root = all).
        let masks = p.capabilities.masks ?? [0, 0, 0, 0, 0]
        args += ["--caps", masks.map { String($0, radix: 16) }.joined(separator: ",")]
        for r in p.rlimits { args += ["--rlimit", "\(r.type):\(r.soft):\(r.hard)"] }
        if p.noNewPrivileges { args.append("--no-new-privileges") }
        if let u = p.user.umask { args += ["--umask", String(u, radix: 8)] }
        return args
    }

    /// `create`: returns the record written to state.json.
    static func create(_ request: CreateRequest, globals: GlobalOptions, sentryOverride: String?) throws(RuntimeError) -> ContainerRecord {
        try ContainerID.validate(request.id)
        let cwd = FileManager.default.currentDirectoryPath
        var bundle = request.bundle ?? cwd
        if !bundle.hasPrefix("/") { bundle = (cwd as NSString).appendingPathComponent(bundle) }
        bundle = (bundle as NSString).standardizingPath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: bundle, isDirectory: &isDirectory) else {
            throw RuntimeError("chdir \(bundle): no such file or directory")
        }
        guard isDirectory.boolValue else { throw RuntimeError("chdir \(bundle): not a directory") }
        let config = try OCIConfig.load(bundle: bundle)
        guard let process = config.process else {
            throw RuntimeError("config.json: process: is required to create a container")
        }
        guard let root = config.root else { throw RuntimeError("config.json: root: is required") }
        let pod = try PodMembership.plan(config: config, id: request.id, globals: globals)   // CRI pods: PodMembership.swift
        if !config.unenforcedFields.isEmpty {
            Logger(globals).warning("container \(request.id): not enforced yet: \(config.unenforcedFields.joined(separator: "; "))")
        }
        if process.terminal && !request.foreground && request.consoleSocket == nil {
            throw RuntimeError("cannot allocate tty if bulwark will detach without setting console socket")
        }
        let rootfs = root.path.hasPrefix("/") ? root.path : (bundle as NSString).appendingPathComponent(root.path)
        guard FileManager.default.fileExists(atPath: rootfs, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RuntimeError("rootfs (\(rootfs)) does not exist")
        }
        let sentry = try sentryPath(override: sentryOverride)
        guard FileSystem.isExecutable(sentry) else {
            throw RuntimeError("the Sentry executable \(sentry) is missing or not executable")
        }

        if let debugLog = globals.debugLog {
            do {
                try FileManager.default.createDirectory(atPath: debugLog, withIntermediateDirectories: true)
            } catch {
                throw RuntimeError("--debug-log \(debugLog): \(error.localizedDescription)")
            }
        }
        let binds = try BindPlan.make(config: config, bundle: bundle, rootfs: rootfs)
        let faults = try FaultOptions(request.faults)
        let dir = ContainerDirectory(root: globals.root, id: request.id)
        try dir.create()
        var supervisor: pid_t = 0
        do throws(RuntimeError) {
            do { try FileSystem.makeFifo(dir.fifo, mode: 0o600) } catch { throw RuntimeError("mkfifo \(dir.fifo)", error) }
            try pod?.prepare(dir, globals: globals)
            if !binds.mounts.isEmpty { try dir.writeJSON(binds, to: dir.bindsFile) }
            let network = NetworkPlan.make(config: config, mode: globals.network)
            if network.action != .host { try dir.writeJSON(network, to: dir.networkFile) }
            if let cgroup = try CgroupPlan.make(config: config, id: request.id) { try dir.writeJSON(cgroup, to: dir.cgroupFile) }
            var sentryArgs = sentryArguments(sentry: sentry, config: config, process: process, rootfs: rootfs,
                                             id: request.id, globals: globals)
            // Bind mounts are served by the gofer as mounts of their own, outside the root's overlay, so
            // writes to a read-write bind reach the host (SandboxServices passes them to the gofer).
            sentryArgs.insert(contentsOf: binds.mounts.flatMap { ["--mount", "\($0.source):\($0.destination)\($0.readonly ? ":ro" : "")"] },
                              at: sentryArgs.firstIndex(of: "--") ?? sentryArgs.endIndex)
            // A terminal: the master goes to --console-socket, the slave becomes the container's stdio.
            var console: ConsolePair?
            if let socket = request.consoleSocket, process.terminal {
                console = try ConsolePair.open()
                do throws(RuntimeError) { try console!.sendMaster(to: socket) } catch {
                    console!.closeAll()
                    throw error
                }
            }
            defer { console?.closeAll() }
            supervisor = try spawnSupervisor(id: request.id, globals: globals, preserveFDs: request.preserveFDs,
                                             sentryArgs: faults.addingSentryArguments(to: sentryArgs), stdio: console?.slave,
                                             subcommand: pod == nil ? "supervise" : "pod-member")
            guard let start = ProcessTable.startTime(of: supervisor) else {
                throw RuntimeError("the supervisor (pid \(supervisor)) exited during create")
            }
            let record = ContainerRecord(
                id: request.id, pid: supervisor, pidStartTime: start, bundle: bundle, rootfs: rootfs,
                created: timestampNow(), owner: "", annotations: config.annotations,
                poststart: config.hooks.poststart.map(StoredHook.init),
                poststop: config.hooks.poststop.map(StoredHook.init),
                startContainer: config.hooks.startContainer.isEmpty ? nil : config.hooks.startContainer.map(StoredHook.init))
            try dir.writeRecord(record)
            let state = HookRunner.stateJSON(id: request.id, status: .creating, pid: supervisor, bundle: bundle,
                                             annotations: config.annotations)
            try HookRunner.run(config.hooks.prestart, kind: "prestart", state: state, workingDirectory: bundle)
            try HookRunner.run(config.hooks.createRuntime, kind: "createRuntime", state: state, workingDirectory: bundle)
            try ContainerHooks.runCreateContainer(config.hooks.createContainer, supervisor: supervisor, rootfs: rootfs, state: state)   // Hooks.swift
            if let pidFile = request.pidFile {
                let path = pidFile.hasPrefix("/") ? pidFile : (cwd as NSString).appendingPathComponent(pidFile)
                do {
                    try FileSystem.writeAtomically(path, Array(String(supervisor).utf8), mode: 0o644)
                } catch {
                    throw RuntimeError("write pid file \(path)", error)
                }
            }
            return record
        } catch {
            if supervisor > 0 {
                try? ProcessSpawn.signal(supervisor, SIGKILL)
                _ = try? ProcessSpawn.wait(supervisor)
            }
            try? dir.remove()
            throw error
        }
    }

    /// Spawns `bulwark supervise` and waits (bounded) until it reports that it is ready.
    static func spawnSupervisor(id: String, globals: GlobalOptions, preserveFDs: Int, sentryArgs: [String],
                                stdio: Int32? = nil, subcommand: String = "supervise") throws(RuntimeError) -> pid_t {
        let ready: PipeEnds
        do { ready = try PipeEnds.make() } catch { throw RuntimeError("pipe", error) }
        let readEnd = ready.read, writeEnd = ready.write
        let me: String
        do { me = try FileSystem.currentExecutable() } catch { throw RuntimeError("readlink /proc/self/exe", error) }
        var options = SpawnOptions(
            path: me,
            arguments: [me] + globals.forwarded + [subcommand, "--ready-fd", String(writeEnd.rawValue), "--preserve-fds", String(preserveFDs), id, "--"]
                + sentryArgs)
        options.inheritedDescriptors = [writeEnd.rawValue]
        if let stdio {
            options.stdin = stdio
            options.stdout = stdio
            options.stderr = stdio
        }
        options.closeDescriptorsFrom = 3 + Int32(preserveFDs)
        let pid: pid_t
        do { pid = try ProcessSpawn.spawn(options) } catch { throw RuntimeError("fork/exec \(me)", error) }
        writeEnd.close()
        var message: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 512)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard (try? Poll.waitReadable(readEnd.rawValue, milliseconds: 100)) == true else { continue }
            let n = scratch.withUnsafeMutableBytes { (try? FileIO.read(readEnd.rawValue, into: $0)) ?? 0 }
            if n == 0 { break }
            message += scratch[0..<n]
        }
        readEnd.close()
        let text = String(decoding: message, as: UTF8.self)
        guard text == "ok" else {
            try? ProcessSpawn.signal(pid, SIGKILL)
            _ = try? ProcessSpawn.wait(pid)
            throw RuntimeError(text.isEmpty ? "the supervisor did not start" : "supervisor: \(text)")
        }
        return pid
    }

    /// `start`: releases the supervisor, which spawns the Sentry; then the poststart hooks.
    static func start(id: String, globals: GlobalOptions, logger: Logger) throws(RuntimeError) {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let lock = dir.lock()
        defer { _ = lock }
        let record = try dir.readRecord()
        switch dir.status(of: record) {
        case .created: break
        case .running, .paused: throw RuntimeError("cannot start an already running container")
        case .stopped: throw RuntimeError("cannot start a container that has stopped")
        case .creating: throw RuntimeError("cannot start a container that is still being created")
        }
        // O_NONBLOCK so a supervisor that died cannot leave us blocked in open(); poll below is bounded.
        let fifo: OwnedFD
        do {
            fifo = try FileSystem.open(dir.fifo, flags: O_RDONLY | O_NONBLOCK)
        } catch {
            throw RuntimeError("open \(dir.fifo)", error)
        }
        var message: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(30)
        var finished = false
        while !finished {
            guard Date() < deadline else { throw RuntimeError("timed out waiting for the supervisor to start the Sentry") }
            if (try? Poll.waitReadable(fifo.rawValue, milliseconds: 100)) != true {
                if !ProcessTable.isAlive(pid: record.pid, startTime: record.pidStartTime) { break }
                continue
            }
            do throws(HostError) {
                let raw = fifo.rawValue
                let n = try readSome(raw, into: &scratch)
                if n == 0 { finished = true } else { message += scratch[0..<n] }
            } catch where error.errno == .EAGAIN {
                continue
            } catch {
                throw RuntimeError("read \(dir.fifo)", error)
            }
        }
        fifo.close()
        try? FileSystem.unlink(dir.fifo)
        let text = String(decoding: message, as: UTF8.self)
        guard text == "ok" else {
            throw RuntimeError(text.isEmpty ? "the supervisor exited before starting the container" : text)
        }
        let state = HookRunner.stateJSON(id: id, status: .running, pid: record.pid, bundle: record.bundle,
                                         annotations: record.annotations)
        do {
            try HookRunner.run(record.poststart.map(\.hook), kind: "poststart", state: state, workingDirectory: record.bundle)
        } catch {
            logger.warning(error.message)
        }
    }

    /// Runs the poststop hooks (failures are warnings) and removes the container's directory.
    static func destroy(_ dir: ContainerDirectory, record: ContainerRecord, logger: Logger) throws(RuntimeError) {
        let state = HookRunner.stateJSON(id: record.id, status: .stopped, pid: 0, bundle: record.bundle,
                                         annotations: record.annotations)
        do {
            try HookRunner.run(record.poststop.map(\.hook), kind: "poststop", state: state, workingDirectory: record.bundle)
        } catch {
            logger.warning(error.message)
        }
        dir.readCgroupPlan()?.remove()
        try dir.remove()
    }

    /// Kills the supervisor and everything under it with SIGKILL and waits (bounded) until it is gone.
    static func killAll(_ dir: ContainerDirectory, record: ContainerRecord) throws(RuntimeError) {
        guard ProcessTable.isAlive(pid: record.pid, startTime: record.pidStartTime) else { return }
        let tree = ProcessTable.descendants(of: record.pid)
        for pid in tree { try? ProcessSpawn.signal(pid, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while ProcessTable.isAlive(pid: record.pid, startTime: record.pidStartTime) {
            guard Date() < deadline else { throw RuntimeError("container \(record.id) did not die after SIGKILL") }
            usleep(5000)
        }
    }
}

/// One read(2) into `buffer` (untyped closure inside, see the compiler pitfall in docs/ARCHITECTURE.md).
func readSome(_ fd: Int32, into buffer: inout [UInt8]) throws(HostError) -> Int {
    let result: Result<Int, HostError> = buffer.withUnsafeMutableBytes { raw in
        do throws(HostError) { return .success(try FileIO.read(fd, into: raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

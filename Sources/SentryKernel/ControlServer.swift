// The Control channel (protocol/control.schema), served by the Sentry for the launcher: exec a new
// process in the running sandbox, wait for it, signal, list processes, ping, pause/resume, shut down.
//
// `--control-fd N` is either a listening SEQPACKET socket (the launcher's supervisor binds it at
// <state dir>/control.sock; every `bulwark exec`, `ps`, `pause`... connects) or one connected socket.
// Each connection is served on its own host thread, one request at a time, so a long Wait blocks only
// its own connection. Kernel state is touched under the kernel lock (or, while paused, by the thread
// that holds it: see ControlPause.swift).
import CBulwark
import Glibc
import HostOS
import IPC
import LinuxABI
import Protocol
import SentryLoader
import SentryMemory
import SentryPlatform
import Wire

final class ControlServer {
    nonisolated(unsafe) static var shared: ControlServer?
    static let protocolVersion: UInt32 = 1

    let kernel: Kernel
    let pauser: Pauser
    /// Processes started by ExecProcess (they have no parent in the sandbox), kept until waited for so
    /// their exit status survives. Kernel lock held.
    var execs: [Int32: ThreadGroup] = [:]
    /// Pod members started by StartContainer: container id -> the sessions (their leaders' pids)
    /// that belong to it (ControlPods.swift). Kernel lock held.
    var members: [String: [Int32]] = [:]
    /// The connection that started each member: its closing (the launcher's waiter is gone) kills it.
    var lifelines: [ObjectIdentifier: String] = [:]
    /// Members' own roots (their bundles' rootfs through their own gofers). Kernel lock held.
    var memberRoots: [String: VLocation] = [:]

    init(kernel: Kernel) {
        self.kernel = kernel
        self.pauser = Pauser(kernel: kernel)
    }

    /// Starts serving `fd` (listening or connected) on background threads.
    static func start(fd: Int32, kernel: Kernel) {
        let server = ControlServer(kernel: kernel)
        shared = server
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var listening: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        let isListener = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening != 0
        if isListener {
            spawnThread { server.acceptLoop(fd) }
        } else {
            spawnThread { server.serve(fd) }
        }
    }

    private func acceptLoop(_ listener: Int32) {
        while true {
            let c: Int32
            do {
                c = try HostOS.UnixSocket.accept(listener).release()
            } catch {
                if error.errno == .EINTR || error.errno == .ECONNABORTED { continue }
                kernel.log("bulwark-sentry: control: accept failed (\(error)); no more control connections\n")
                return
            }
            spawnThread { self.serve(c) }
        }
    }

    // MARK: one connection

    private func serve(_ fd: Int32) {
        let channel = Channel(OwnedFD(adopting: fd))
        defer { connectionEnded(channel) }   // a pod member's lifeline (ControlPods.swift)
        var writer = MessageWriter(capacity: 4096)
        while true {
            var message: Message
            do {
                message = try channel.receive(timeout: nil)
            } catch {
                if error != .peerClosed && error != .closed {
                    kernel.log("bulwark-sentry: control: connection dropped: \(error)\n")
                }
                return
            }
            let header = message.header
            if header.flags.contains(.reply) { return }
            // FAULT HOOK (issue 8, ControlFaults.swift): nil unless --fault named the control channel.
            let fault = ControlFaults.faults.map { ControlFaults.before($0, channel, header) } ?? .proceed
            if fault == .close { message.fds.closeAll(); channel.close(); return }
            defer { if fault == .killAfterReply { ControlFaults.killSelf() } }
            do throws(ControlFailure) {
                try handle(&message, channel: channel, writer: &writer)
            } catch {
                message.fds.closeAll()
                do {
                    try channel.replyError(to: header, errno: error.errno, message: error.message, writer: &writer)
                } catch {
                    return
                }
            }
            if channel.isClosed { return }
        }
    }

    private func reply<M: WireMessage>(_ channel: Channel, _ header: FrameHeader, _ m: M,
                                       _ writer: inout MessageWriter) throws(ControlFailure) {
        writer.reset()
        m.encode(into: &writer)
        do {
            try channel.reply(to: header, messageID: M.messageID, writer: &writer)
        } catch {
            channel.close()
        }
    }

    private func decode<M: WireMessage>(_ type: M.Type, _ message: borrowing Message) throws(ControlFailure) -> M {
        do {
            return try M.decode(try message.view())
        } catch {
            throw ControlFailure(EINVAL, "control: malformed \(M.name): \(error)")
        }
    }

    private func handle(_ message: inout Message, channel: Channel, writer: inout MessageWriter) throws(ControlFailure) {
        let header = message.header
        SentrySeccomp.countControlRequest()   // TEST HOOK, inert unless BULWARK_TEST_SECCOMP_PROBE=sentry
        switch header.messageID {
        case Control.Hello.messageID:
            _ = try decode(Control.Hello.self, message)
            try reply(channel, header, Control.HelloReply(version: Self.protocolVersion, sentryPID: getpid()), &writer)
        case Control.ExecProcess.messageID:
            let request = try decode(Control.ExecProcess.self, message)
            let stdio = takeStdio(&message, [request.stdin, request.stdout, request.stderr])
            let pid = try exec(request.process, stdio: stdio, root: memberRoot(request.containerID))
            noteExec(container: request.containerID, pid: pid)   // ControlPods.swift
            try reply(channel, header, Control.ExecProcessReply(pid: pid), &writer)
        case Control.Wait.messageID:
            let request = try decode(Control.Wait.self, message)
            let status = try wait(pid: request.pid)
            try reply(channel, header, Control.ExitStatus(pid: request.pid, status: status), &writer)
        case Control.Signal.messageID:
            let request = try decode(Control.Signal.self, message)
            let n = isMember(request.containerID)
                ? try signalMember(request.containerID, pid: request.pid, signo: request.signal, all: request.all)
                : try signal(pid: request.pid, signo: request.signal, all: request.all)
            try reply(channel, header, Control.SignalReply(delivered: n), &writer)
        case Control.ListProcesses.messageID:
            let request = try decode(Control.ListProcesses.self, message)
            let list = isMember(request.containerID) ? listMember(request.containerID) : listProcesses()
            try reply(channel, header, Control.ProcessList(processes: list), &writer)
        case Control.Ping.messageID:
            let request = try decode(Control.Ping.self, message)
            try reply(channel, header, pong(nonce: request.nonce), &writer)
        case Control.Pause.messageID:
            _ = try decode(Control.Pause.self, message)
            let frozen = pauser.pause()
            try reply(channel, header, Control.PauseReply(tasks: frozen), &writer)
        case Control.Resume.messageID:
            _ = try decode(Control.Resume.self, message)
            pauser.resume()
            try reply(channel, header, Control.ResumeReply(), &writer)
        case Control.Shutdown.messageID:
            let request = try decode(Control.Shutdown.self, message)
            shutdown(timeoutMillis: request.timeoutMillis)
            try reply(channel, header, Control.ShutdownReply(), &writer)
        case Control.ReplaceProcfs.messageID:
            // The launcher restarted bulwark-procfs (ProcfsConnection.replaceChannel).
            let request = try decode(Control.ReplaceProcfs.self, message)
            guard let owned = message.fds.take(request.channel.index) else {
                throw ControlFailure(EBADF, "control: ReplaceProcfs carries no descriptor")
            }
            message.fds.closeAll()
            guard let connection = kernel.procfs.connection else {
                owned.close()
                throw ControlFailure(ENOSYS, "control: ReplaceProcfs: this Sentry serves no /proc")
            }
            let n = connection.replaceChannel(owned.release())
            try reply(channel, header, Control.ReplaceProcfsReply(replacements: n), &writer)
        case Control.StartContainer.messageID:
            // Another container of the pod (ControlPods.swift); init itself comes from the command line.
            let request = try decode(Control.StartContainer.self, message)
            var rootGofer: Int32? = nil   // the member's own gofer (ControlPods.swift)
            if let i = request.rootGofer, let owned = message.fds.take(i.index) { rootGofer = owned.release() }
            let stdio = takeStdio(&message, [request.stdin, request.stdout, request.stderr])
            let pid = try startMember(request, stdio: stdio, rootGofer: rootGofer, lifeline: channel)
            try reply(channel, header, Control.StartContainerReply(pid: pid), &writer)
        case Control.SyscallStats.messageID:
            _ = try decode(Control.SyscallStats.self, message)
            try reply(channel, header, syscallStats(), &writer)
        default:
            throw ControlFailure(ENOSYS, "control: unknown message id \(header.messageID)")
        }
    }

    /// The stdio descriptors that travel with ExecProcess/StartContainer; absent ones read as /dev/null.
    private func takeStdio(_ message: inout Message, _ indices: [FDIndex?]) -> [Int32] {
        var stdio: [Int32] = []
        for index in indices {
            if let index, index.index < message.fds.count, let owned = message.fds.take(index.index) {
                stdio.append(owned.release())
            } else {
                stdio.append(open("/dev/null", O_RDWR | O_CLOEXEC))
            }
        }
        message.fds.closeAll()
        return stdio
    }

    // MARK: requests

    /// Loads the program through the kernel's VFS (as execve does) and starts it as a new thread
    /// group with no parent; returns its pid. Takes ownership of `stdio`.
    /// `root`: a pod member's own root (ControlPods.swift); nil: the sandbox's.
    func exec(_ spec: Control.ProcessSpec, stdio: [Int32], root: VLocation? = nil) throws(ControlFailure) -> Int32 {
        var failure: ControlFailure?
        var pid: Int32 = 0
        pauser.withKernel {
            let vfs = self.kernel.vfs
            let saved = vfs.requestRoot
            if let root { vfs.requestRoot = root }   // the program, its cwd and PATH are looked up there
            defer { vfs.requestRoot = saved }
            do throws(ControlFailure) { pid = try self.execLocked(spec, stdio: stdio, root: root) } catch { failure = error }
        }
        if let failure {
            for fd in stdio where fd >= 0 { close(fd) }
            throw failure
        }
        return pid
    }

    private func execLocked(_ spec: Control.ProcessSpec, stdio: [Int32], root: VLocation?) throws(ControlFailure) -> Int32 {
        guard kernel.finalStatus == nil, kernel.threadGroups[1] != nil else {
            throw ControlFailure(ESRCH, "the container's init has exited")
        }
        guard let name = spec.args.first, !name.isEmpty else { throw ControlFailure(EINVAL, "exec: no program given") }
        let requestedCwd = spec.cwd.isEmpty ? "/" : spec.cwd
        guard requestedCwd.hasPrefix("/") else { throw ControlFailure(EINVAL, "exec: cwd must be absolute") }
        let cwd = kernel.vfs.canonicalCwd(requestedCwd)
        let path = try resolveProgram(name, env: spec.env, cwd: cwd)
        var req = LoadRequest(path: path, argv: spec.args, envp: spec.env)
        req.uid = spec.uid
        req.gid = spec.gid
        let vfs = kernel.vfs
        let image: LoadedImage
        switch ELFLoader.load(req, file: kernel.memory, open: { p in
            vfs.openForExec(nil, at: vfs.root, p.hasPrefix("/") ? p : cwd + "/" + p)
        }) {
        case .success(let im): image = im
        case .failure(.errno(let e)):
            if e == ENOEXEC { throw ControlFailure(e, "\(name): Exec format error") }
            if e == ENOENT { throw ControlFailure(e, "\(name): No such file or directory (or its interpreter)") }
            throw ControlFailure(e, "\(name): cannot load (errno \(e))")
        }
        let pid = kernel.allocateID()
        let tg = ThreadGroup(pid: pid, handlers: SignalHandlers(), pgid: pid, sid: pid, uid: spec.uid, gid: spec.gid)
        tg.name = image.executable
        for limit in spec.rlimits { tg.rlimits[Int(limit.resource)] = (limit.soft, limit.hard) }
        tg.cred.groups = spec.additionalGIDs.sorted()
        if spec.capabilities.count == 5 { tg.cred.setCapabilities(spec.capabilities) }
        tg.cred.applyExec()   // Credentials.swift
        let fds = FDTable()
        let modes = [O_RDONLY, O_WRONLY, O_WRONLY]
        if spec.terminal && stdio.count == 3 {
            // exec -t: an in-sandbox pty (its controlling terminal) bridged to the host descriptors.
            ConsoleBridge.attach(kernel, tg: tg, fds: fds, inFD: stdio[0], outFD: stdio[1], owned: stdio.filter { $0 >= 0 })
        } else {
            for (i, fd) in stdio.enumerated() where fd >= 0 {
                fds.installAt(i, OwnedStreamFile(fd: fd, flags: modes[i]), cloexec: false)
            }
        }
        let fsctx = FSContext(cwd: cwd)
        fsctx.root = root
        if spec.umask != 0 { fsctx.umask = spec.umask & 0o777 }
        let task = Task(kernel: kernel, tid: pid, tg: tg, mm: image.space, fds: fds, fsctx: fsctx)
        task.noNewPrivs = spec.noNewPrivileges
        var r = Registers()
        r.rip = image.entry
        r.rsp = image.stackPointer
        r.eflags = 0x202
        task.initialRegs = r
        task.cpu = kernel.pickCPU()
        tg.threads.append(task)
        kernel.threadGroups[pid] = tg
        kernel.tasks[pid] = task
        execs[pid] = tg
        task.start()
        return pid
    }

    /// PROGRAM resolved like a shell would: a path as is (relative to cwd), a bare name through PATH.
    private func resolveProgram(_ name: String, env: [String], cwd: String) throws(ControlFailure) -> String {
        var candidates: [String] = []
        if name.contains("/") {
            candidates = [name.hasPrefix("/") ? name : cwd + "/" + name]
        } else {
            let pathVar = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
                ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            candidates = pathVar.split(separator: ":").map { String($0) + "/" + name }
        }
        var lastError: Int32 = ENOENT
        for path in candidates {
            var st = stat()
            let sr = kernel.vfs.stat(path, followLinks: true, &st)
            if sr < 0 { lastError = -sr; continue }
            if st.st_mode & S_IFMT != S_IFREG || st.st_mode & 0o111 == 0 { lastError = EACCES; continue }
            return path
        }
        if lastError == EACCES { throw ControlFailure(EACCES, "\(name): Permission denied") }
        throw ControlFailure(lastError, "\(name): executable file not found in $PATH or No such file or directory")
    }

    /// Blocks until `pid` exits; returns its wait status. Not through the pauser: nothing exits while
    /// paused, so this simply waits for the kernel lock.
    func wait(pid: Int32) throws(ControlFailure) -> Int32 {
        kernel.lock()
        defer { kernel.unlock() }
        if pid == 1 {
            while kernel.finalStatus == nil { kernel.waitCond(deadline: addNanos(monotonicNow(), 100_000_000)) }
            return kernel.finalStatus!
        }
        guard let tg = execs[pid] ?? kernel.threadGroups[pid] else {
            throw ControlFailure(ESRCH, "no process \(pid) in the container")
        }
        while !tg.zombie {
            // The sandbox ending kills every process; their groups are marked exiting first.
            kernel.waitCond(deadline: addNanos(monotonicNow(), 100_000_000))
        }
        ConsoleBridge.flushOutput(of: pid, kernel)   // exec -t: its last output before its exit status
        execs[pid] = nil
        return tg.waitStatus
    }

    func signal(pid: Int32, signo: Int32, all: Bool) throws(ControlFailure) -> UInt32 {
        guard signo > 0 && signo <= 64 else { throw ControlFailure(EINVAL, "invalid signal \(signo)") }
        var delivered: UInt32 = 0
        var missing = false
        pauser.withKernel {
            let targets: [ThreadGroup]
            if all {
                targets = self.kernel.threadGroups.values.filter { !$0.zombie }
            } else if let tg = self.kernel.threadGroups[pid == 0 ? 1 : pid] ?? self.execs[pid], !tg.zombie {
                targets = [tg]
            } else {
                missing = true
                targets = []
            }
            for tg in targets.sorted(by: { $0.pid > $1.pid }) {
                self.kernel.sendSignal(to: tg, SigInfo(signo: signo, code: 0 /* SI_USER */))
                delivered += 1
            }
        }
        if missing { throw ControlFailure(ESRCH, "no process \(pid) in the container") }
        return delivered
    }

    func listProcesses() -> [Control.ProcessInfo] {
        var list: [Control.ProcessInfo] = []
        let paused = pauser.isPaused
        pauser.withKernel {
            for tg in self.kernel.threadGroups.values where !tg.zombie {
                let running = tg.threads.contains { $0.inUser }
                list.append(Control.ProcessInfo(
                    pid: tg.pid, ppid: tg.parent?.pid ?? 0, uid: tg.uid, gid: tg.gid,
                    state: paused ? UInt8(ascii: "T") : (running ? UInt8(ascii: "R") : UInt8(ascii: "S")),
                    startTimeNanos: 0, cpuTimeNanos: 0, cmdline: [tg.name], tty: "",
                    hostPID: tg.threads.first(where: { !$0.exited })?.stub?.pid ?? 0))
            }
        }
        return list.sorted { $0.pid < $1.pid }
    }

    func pong(nonce: UInt64) -> Control.Pong {
        var count: UInt32 = 0
        pauser.withKernel { count = UInt32(self.kernel.threadGroups.values.filter { !$0.zombie }.count) }
        let now = monotonicNow()
        let start = kernel.startTime
        let uptime = UInt64(max(0, (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec)))
        return Control.Pong(nonce: nonce, uptimeNanos: uptime, processCount: count, memoryBytes: Self.residentBytes())
    }

    /// The Sentry's resident memory from /proc/self/statm (pages * page size).
    static func residentBytes() -> UInt64 {
        guard let statm = HostSelf.readSmallFile("/proc/self/statm") else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// SIGTERM to every process, SIGKILL to init after `timeoutMillis` (init's death ends the rest).
    func shutdown(timeoutMillis: UInt32) {
        pauser.resume()
        _ = try? signal(pid: 0, signo: SIGTERM, all: true)
        kernel.lock()
        let deadline = addNanos(monotonicNow(), Int(timeoutMillis) * 1_000_000)
        while kernel.finalStatus == nil && lessThan(monotonicNow(), deadline) {
            kernel.waitCond(deadline: deadline)
        }
        if kernel.finalStatus == nil, let initTG = kernel.threadGroups[1] {
            kernel.sendSignal(to: initTG, SigInfo(signo: SIGKILL))
        }
        kernel.unlock()
    }
}

/// A request the Sentry refuses: an errno and a message for the launcher to show.
struct ControlFailure: Error {
    let errno: Errno
    let message: String
    init(_ errno: Int32, _ message: String) {
        self.errno = Errno(rawValue: errno)
        self.message = message
    }
}

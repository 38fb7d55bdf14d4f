// Process and thread life cycle: clone/fork/vfork, execve, exit/exit_group, wait4/waitid, ids.
import CBulwark
import Glibc
import SentryLoader
import SentryMemory
import SentryPlatform

let CLONE_VM: UInt64 = 0x100, CLONE_FS: UInt64 = 0x200, CLONE_FILES: UInt64 = 0x400, CLONE_SIGHAND: UInt64 = 0x800
let CLONE_VFORK: UInt64 = 0x4000, CLONE_PARENT: UInt64 = 0x8000, CLONE_THREAD: UInt64 = 0x10000
let CLONE_SETTLS: UInt64 = 0x80000, CLONE_PARENT_SETTID: UInt64 = 0x100000, CLONE_CHILD_CLEARTID: UInt64 = 0x200000
let CLONE_CHILD_SETTID: UInt64 = 0x1000000
let CLONE_NAMESPACES: UInt64 = 0x20000 | 0x2000000 | 0x4000000 | 0x8000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80

/// Return value meaning "registers already set; do not store a result in rax".
let noReturn = Int.min

extension Kernel {
    /// Creates init (pid 1) from the loaded image and starts it.
    func startInit(image: LoadedImage) {
        lock()
        defer { unlock() }
        let pid = allocateID()
        let tg = ThreadGroup(pid: pid, handlers: SignalHandlers(), pgid: pid, sid: pid, uid: config.uid, gid: config.gid)
        tg.name = image.executable
        config.initProcess.apply(to: tg)
        tg.cred.applyExec()   // as after the runtime's final execve of the container's program
        let fds = FDTable()
        // --terminal: an in-sandbox pty bridged to the host terminal (ConsoleBridge.swift).
        if !ConsoleBridge.installInitTerminal(self, tg: tg, fds: fds) {
            fds.installAt(0, HostStreamFile(fd: 0, flags: O_RDONLY), cloexec: false)
            fds.installAt(1, HostStreamFile(fd: 1, flags: O_WRONLY), cloexec: false)
            fds.installAt(2, HostStreamFile(fd: 2, flags: O_WRONLY), cloexec: false)
        }
        let fsctx = FSContext(cwd: vfs.canonicalCwd(config.cwd))
        if let m = config.initProcess.umask { fsctx.umask = m }
        let task = Task(kernel: self, tid: pid, tg: tg, mm: image.space, fds: fds, fsctx: fsctx)
        task.noNewPrivs = config.initProcess.noNewPrivileges
        var r = Registers()
        r.rip = image.entry
        r.rsp = image.stackPointer
        r.eflags = 0x202
        task.initialRegs = r
        task.cpu = pickCPU()
        tg.threads.append(task)
        threadGroups[pid] = tg
        tasks[pid] = task
        procfsNoteExec(task, sp: image.stackPointer, name: image.executable)
        task.start()
    }

    /// Blocks the main thread until init exits; returns the Sentry's exit status.
    func waitForInit() -> Int32 {
        lock()
        while finalStatus == nil { waitCond(deadline: nil) }
        let st = finalStatus!
        if debugSentry { log("bulwark-sentry: live objects at init's exit: \(LiveObjects.summary)\n") }
        unlock()
        PhaseTiming.report()
        if st & 0x7f == 0 { return (st >> 8) & 0xff }
        return 128 + (st & 0x7f)
    }
}

extension Task {
    func sysClone(_ flags: UInt64, _ newsp: UInt64, _ ptid: UInt64, _ ctid: UInt64, _ tls: UInt64) -> Int {
        if flags & CLONE_NAMESPACES != 0 { return errno(EPERM) }
        if flags & CLONE_THREAD != 0 && flags & (CLONE_SIGHAND | CLONE_VM) != (CLONE_SIGHAND | CLONE_VM) { return errno(EINVAL) }
        if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 { return errno(EINVAL) }
        let tid = kernel.allocateID()
        let childMM: AddressSpace
        if flags & CLONE_VM != 0 {
            childMM = mm
        } else {
            let t0 = PhaseTiming.now()
            guard let m = mm.forkCopy() else { return errno(ENOMEM) }
            PhaseTiming.add("fork: copy the address space", since: t0)
            childMM = m
        }
        let ctg: ThreadGroup
        if flags & CLONE_THREAD != 0 {
            ctg = tg
        } else {
            ctg = ThreadGroup(pid: tid, handlers: flags & CLONE_SIGHAND != 0 ? tg.handlers : tg.handlers.copy(),
                              pgid: tg.pgid, sid: tg.sid, uid: tg.uid, gid: tg.gid)
            ctg.exitSignal = Int32(flags & 0xff)
            ctg.cred = tg.cred
            ctg.personality = tg.personality
            ctg.rlimits = tg.rlimits
            ctg.name = tg.name
            let parent = flags & CLONE_PARENT != 0 ? (tg.parent ?? tg) : tg
            ctg.parent = parent
            parent.children.append(ctg)
            kernel.threadGroups[tid] = ctg
            kernel.procfsNoteFork(parent: tg, child: ctg)
        }
        let child = Task(kernel: kernel, tid: tid, tg: ctg, mm: childMM,
                         fds: flags & CLONE_FILES != 0 ? fds : fds.copy(),
                         fsctx: flags & CLONE_FS != 0 ? fsctx : fsctx.copy())
        child.sigmask = sigmask
        child.noNewPrivs = noNewPrivs   // inherited across fork and clone (prctl(2))
        child.altStack = flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0 ? (0, 2, 0) : altStack
        var r = regs
        r.rax = 0
        if newsp != 0 { r.rsp = newsp }
        if flags & CLONE_SETTLS != 0 { r.fs_base = tls }
        child.initialRegs = r
        if flags & CLONE_CHILD_SETTID != 0 { _ = childMM.write(ctid, Int32(tid)) }
        if flags & CLONE_PARENT_SETTID != 0 { _ = mm.write(ptid, Int32(tid)) }
        if flags & CLONE_CHILD_CLEARTID != 0 { child.clearChildTID = ctid }
        child.cpu = cpu   // same CPU as the parent: fork+exec+wait chains stay local
        ctg.threads.append(child)
        kernel.tasks[tid] = child
        if flags & CLONE_VFORK != 0 { child.vforkParent = self; vforkDone = false }
        let t1 = PhaseTiming.now()
        child.start()
        PhaseTiming.add("clone: start the child's thread", since: t1)
        if flags & CLONE_VFORK != 0 {
            while !vforkDone && !tg.exiting { kernel.waitCond(deadline: nil) }
            vforkDone = false
        }
        return Int(tid)
    }

    func readStringArray(_ addr: UInt64) -> [String]? {
        var out: [String] = []
        if addr == 0 { return out }
        var total = 0
        for i in 0..<65536 {
            guard let p = mm.read(addr + UInt64(i * 8), as: UInt64.self) else { return nil }
            if p == 0 { return out }
            guard let s = mm.readCString(p, max: 131072) else { return nil }
            total += s.count + 1
            if total > 2 << 20 { return nil }
            out.append(String(decoding: s, as: UTF8.self))
        }
        return nil
    }

    func sysExecveat(_ dirfd: Int32, _ pathAddr: UInt64, _ argvAddr: UInt64, _ envpAddr: UInt64, _ flags: Int32) -> Int {
        guard flags & ~(AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_) == 0 else { return errno(EINVAL) }
        let start: VLocation
        var path: String
        switch pathArgs(dirfd, pathAddr, allowEmpty: flags & AT_EMPTY_PATH_ != 0) {
        case .failure(let e): return errno(e)
        case .success(let r): (start, path) = r
        }
        if path.isEmpty {
            // execveat(fd, "", AT_EMPTY_PATH): the file the descriptor names.
            guard let f = fds.get(Int(dirfd)), let l = f.location else { return errno(EBADF) }
            path = kernel.vfs.pathOf(l)
        }
        let execName = path   // comm is the basename of the name given, even "exe" for /proc/self/exe
        // /proc/self/exe is the magic link to the running executable (re-exec idiom): load that file.
        if path == "/proc/self/exe" || path == "/proc/thread-self/exe" { path = tg.name }
        guard let argv = readStringArray(argvAddr), let envp = readStringArray(envpAddr) else { return errno(EFAULT) }
        var st = Glibc.stat()
        switch kernel.vfs.resolve(self, at: start, path, follow: flags & AT_SYMLINK_NOFOLLOW_ == 0) {
        case .failure(let e): return errno(e)
        case .success(let target):
            let sr = kernel.vfs.stat(self, target, &st)
            if sr < 0 { return Int(sr) }
            if case .loc(let l) = target, !path.hasPrefix("/") { path = kernel.vfs.pathOf(l, root: fsctx.root) }
        }
        if st.st_mode & S_IFMT == S_IFLNK { return errno(ELOOP) }
        if st.st_mode & S_IFMT == S_IFDIR { return errno(EACCES) }
        guard st.st_mode & S_IFMT == S_IFREG, permitted(self, st, 1) else { return errno(EACCES) }
        let tLoad = PhaseTiming.now()
        // Set-id bits take effect unless no_new_privs is set (credentials after exec: Credentials.swift).
        var newCred = tg.cred
        let setuid = !noNewPrivs && st.st_mode & S_ISUID != 0 ? st.st_uid : nil
        let setgid = !noNewPrivs && st.st_mode & (S_ISGID | S_IXGRP) == (S_ISGID | S_IXGRP) ? st.st_gid : nil
        newCred.applyExec(setuid: setuid, setgid: setgid)
        var req = LoadRequest(path: path, argv: argv, envp: envp)
        req.uid = newCred.ruid; req.euid = newCred.euid
        req.gid = newCred.rgid; req.egid = newCred.egid
        req.secure = newCred.euid != newCred.ruid || newCred.egid != newCred.rgid
        let vfs = kernel.vfs
        let cwd = cwdLocation()
        let image: LoadedImage
        switch ELFLoader.load(req, file: kernel.memory, open: { p in
            vfs.openForExec(self, at: cwd, p)
        }) {
        case .success(let i): image = i
        case .failure(.errno(let e)): return errno(e)
        }
        PhaseTiming.add("exec: load the program", since: tLoad)
        // Point of no return. Other threads of the group are killed (de_thread).
        if tg.threads.count > 1 {
            let others = tg.threads.filter { $0 !== self }
            for t in others { t.execKill = true; t.kick() }
            while tg.threads.count > 1 && !tg.exiting { kernel.waitCond(deadline: addNanos(monotonicNow(), 10_000_000)) }
        }
        if clearChildTID != 0 { clearChildTID = 0 }
        let tMap = PhaseTiming.now()
        mm = image.space
        hostUnmapAll()
        mm.mapAll(mapper: self)
        mmGeneration = mm.generation
        PhaseTiming.add("exec: replace the host mappings", since: tMap)
        releaseRecordLocksOnExec()   // SysFileLock.swift
        fds.closeOnExec()
        kernel.stopProcessTimers(tg, posixOnly: true)   // POSIX timers do not survive execve (SysEvents.swift)
        let h = tg.handlers.copy()
        for i in 1..<65 where h.actions[i].handler != 1 { h.actions[i] = SigAction() }
        tg.handlers = h
        altStack = (0, 2, 0)
        tg.name = image.executable
        tg.cred = newCred   // Credentials.swift: ids and capabilities after execve
        var r = regs
        let cs = r.cs, ss = r.ss, ds = r.ds, es = r.es
        r = Registers()
        r.cs = cs; r.ss = ss; r.ds = ds; r.es = es
        r.rip = image.entry
        r.rsp = image.stackPointer
        r.eflags = 0x202
        r.orig_rax = UInt64.max
        regs = r
        kernel.procfsNoteExec(self, sp: image.stackPointer, name: execName)
        var fp = [UInt8](repeating: 0, count: 512)
        fp[0] = 0x7f; fp[1] = 0x03      // FCW default
        fp[24] = 0x80; fp[25] = 0x1f    // MXCSR default
        _ = fp.withUnsafeBytes { stub.setFPRegs($0.baseAddress!) }
        finishVfork()
        return noReturn
    }

    func sysExit(_ code: Int, group: Bool) -> Int {
        let status = Int32((code & 0xff) << 8)
        if group || tg.threads.count == 1 {
            kernel.killGroup(tg, status: status)
        }
        exitTask(status: status, fromSignal: 0)
        return noReturn
    }

    private func matches(_ c: ThreadGroup, _ pid: Int) -> Bool {
        if pid > 0 { return c.pid == pid }
        if pid == 0 { return c.pgid == tg.pgid }
        if pid == -1 { return true }
        return c.pgid == -pid
    }

    func sysWait4(_ pid: Int, _ statusAddr: UInt64, _ options: Int32, _ rusage: UInt64) -> Int {
        guard options & ~(WNOHANG | WUNTRACED | WCONTINUED | Int32(bitPattern: 0xe000_0000)) == 0 else { return errno(EINVAL) }
        while true {
            let cands = tg.children.filter { matches($0, pid) }
            if cands.isEmpty { return errno(ECHILD) }
            if let (c, code, sig) = takeJobReport(cands, stopped: options & WUNTRACED != 0, continued: options & WCONTINUED != 0, keep: false) {
                let st: Int32 = code == 5 ? (sig << 8) | 0x7f : 0xffff   // WIFSTOPPED / WIFCONTINUED
                if statusAddr != 0 && !mm.write(statusAddr, st) { return errno(EFAULT) }
                return Int(c.pid)
            }
            if let z = cands.first(where: { $0.zombie }) {
                if statusAddr != 0 && !mm.write(statusAddr, z.waitStatus) { return errno(EFAULT) }
                if rusage != 0 {
                    var u = z.deadThreadsUsage
                    u.add(z.childrenUsage)
                    _ = writeRUsage(u, rusage)   // ProcfsCounters.swift
                }
                z.foldIntoParent(tg)
                tg.children.removeAll { $0 === z }
                kernel.threadGroups[z.pid] = nil
                return Int(z.pid)
            }
            if options & WNOHANG != 0 { return 0 }
            if !blockUntilBroadcast(deadline: nil) { return -ERESTARTSYS }
        }
    }

    func sysWaitid(_ idtype: Int, _ id: Int, _ infop: UInt64, _ options: Int32) -> Int {
        // WEXITED 4, WSTOPPED 2, WCONTINUED 8: at least one.
        guard options & (4 | 2 | 8) != 0 else { return errno(EINVAL) }
        let pidSel: Int
        switch idtype {
        case 0: pidSel = -1
        case 1: pidSel = id
        case 2: pidSel = id == 0 ? 0 : -id
        default: return errno(EINVAL)
        }
        while true {
            let cands = tg.children.filter { matches($0, pidSel) }
            if cands.isEmpty { return errno(ECHILD) }
            let report = takeJobReport(cands, stopped: options & 2 != 0, continued: options & 8 != 0, keep: options & 0x0100_0000 != 0)
            if let z = report?.0 ?? (options & 4 != 0 ? cands.first(where: { $0.zombie }) : nil) {
                var info = [UInt8](repeating: 0, count: 128)
                let st = z.waitStatus
                var code: Int32 = st & 0x7f == 0 ? 1 : (st & 0x80 != 0 ? 3 : 2)
                var value: Int32 = st & 0x7f == 0 ? (st >> 8) & 0xff : st & 0x7f
                if let r = report { code = r.1; value = r.2 }
                info.withUnsafeMutableBytes { b in
                    b.storeBytes(of: SIGCHLD, toByteOffset: 0, as: Int32.self)
                    b.storeBytes(of: code, toByteOffset: 8, as: Int32.self)
                    b.storeBytes(of: z.pid, toByteOffset: 16, as: Int32.self)
                    b.storeBytes(of: z.uid, toByteOffset: 20, as: UInt32.self)
                    b.storeBytes(of: value, toByteOffset: 24, as: Int32.self)
                }
                if infop != 0 && !info.withUnsafeBytes({ mm.copyOut(infop, $0.baseAddress!, 128) }) { return errno(EFAULT) }
                if options & 0x0100_0000 == 0 && report == nil {   // !WNOWAIT
                    z.foldIntoParent(tg)
                    tg.children.removeAll { $0 === z }
                    kernel.threadGroups[z.pid] = nil
                }
                return 0
            }
            if options & WNOHANG != 0 {
                if infop != 0 {
                    let zero = [UInt8](repeating: 0, count: 128)
                    _ = zero.withUnsafeBytes { mm.copyOut(infop, $0.baseAddress!, 128) }
                }
                return 0
            }
            if !blockUntilBroadcast(deadline: nil) { return -ERESTARTSYS }
        }
    }

    func sysSetpgid(_ pid: Int, _ pgid: Int) -> Int {
        guard pgid >= 0 else { return errno(EINVAL) }
        let target: ThreadGroup
        if pid == 0 || pid == Int(tg.pid) { target = tg }
        else if let c = tg.children.first(where: { $0.pid == pid }) { target = c }
        else { return errno(ESRCH) }
        target.pgid = pgid == 0 ? target.pid : Int32(pgid)
        return 0
    }

    /// kill(2)'s permission rule: CAP_KILL, or the sender's real or effective uid is the target's
    /// real or saved uid; SIGCONT within one session is always allowed.
    func maySignal(_ target: ThreadGroup, _ sig: Int) -> Bool {
        let c = tg.cred, tc = target.cred
        if c.has(Cap.kill) || target === tg { return true }
        if sig == Int(SIGCONT) && target.sid == tg.sid { return true }
        return c.ruid == tc.ruid || c.ruid == tc.suid || c.euid == tc.ruid || c.euid == tc.suid
    }

    func sysKill(_ pid: Int, _ sig: Int) -> Int {
        guard sig >= 0 && sig <= 64 else { return errno(EINVAL) }
        let info = SigInfo(signo: Int32(sig), code: 0, pid: tg.pid, uid: tg.cred.ruid)
        var targets: [ThreadGroup] = []
        if pid > 0 {
            guard let t = kernel.threadGroups[Int32(pid)], !t.zombie else {
                return kernel.threadGroups[Int32(pid)] != nil ? 0 : errno(ESRCH)
            }
            targets = [t]
        } else if pid == -1 {
            targets = kernel.threadGroups.values.filter { $0.pid != 1 && $0 !== tg && !$0.zombie }
            if sig != 0 && targets.isEmpty { return errno(ESRCH) }
        } else {
            let pg = pid == 0 ? tg.pgid : Int32(-pid)
            targets = kernel.threadGroups.values.filter { $0.pgid == pg && !$0.zombie }
            if targets.isEmpty { return errno(ESRCH) }
        }
        let allowed = targets.filter { maySignal($0, sig) }
        if allowed.isEmpty && !targets.isEmpty { return errno(EPERM) }
        if sig == 0 { return 0 }
        for t in allowed {
            // Init ignores signals it has no handler for (as Linux does for a namespace's init).
            if t.pid == 1 && t.handlers.actions[sig].handler == 0 && t !== tg { continue }
            kernel.sendSignal(to: t, info)
        }
        return 0
    }

    func sysTgkill(_ tgid: Int, _ tid: Int, _ sig: Int) -> Int {
        guard sig >= 0 && sig <= 64 else { return errno(EINVAL) }
        guard let t = kernel.tasks[Int32(tid)], tgid < 0 || t.tg.pid == tgid else { return errno(ESRCH) }
        guard maySignal(t.tg, sig) else { return errno(EPERM) }
        if sig == 0 { return 0 }
        kernel.sendSignal(to: t, SigInfo(signo: Int32(sig), code: -6 /* SI_TKILL */, pid: tg.pid, uid: tg.cred.ruid))
        return 0
    }
}

// Tasks (threads) and thread groups (processes). Each task runs on its own host pthread, which forks
// and traces the task's stub process. Threads of one address space each get their own stub; they
// share memory through the memory file, and mapping changes are replayed lazily from the address
// space's op log (a stale stub that faults re-syncs first and retries).
import CBulwark
import Glibc
import SentryMemory
import SentryPlatform

final class SignalHandlers {
    var actions = [SigAction](repeating: SigAction(), count: 65)
    func copy() -> SignalHandlers { let n = SignalHandlers(); n.actions = actions; return n }
}

struct SigAction {
    var handler: UInt64 = 0   // 0 = SIG_DFL, 1 = SIG_IGN
    var flags: UInt64 = 0
    var restorer: UInt64 = 0
    var mask: UInt64 = 0
}

final class FSContext {
    var cwd: String
    var umask: UInt32 = 0o022
    /// chroot(2): the root absolute paths start from (nil: the VFS root). SysDirectory.swift.
    var root: VLocation? = nil
    /// Where cwd is, kept so relative lookups need not resolve the cwd string again.
    var cwdLoc: VLocation? = nil
    init(cwd: String) { self.cwd = cwd }
    func copy() -> FSContext { let n = FSContext(cwd: cwd); n.umask = umask; n.root = root; n.cwdLoc = cwdLoc; return n }
}

final class ThreadGroup {
    let pid: Int32
    weak var parent: ThreadGroup?
    var children: [ThreadGroup] = []
    var threads: [Task] = []
    var handlers: SignalHandlers
    var pending: UInt64 = 0
    var pendingInfo = [SigInfo?](repeating: nil, count: 65)
    var pgid: Int32
    var sid: Int32
    var exitSignal: Int32 = SIGCHLD
    /// Set once the group is exiting (exit_group, fatal signal, or last thread exit).
    var exiting = false
    /// Linux wait status of the exited group.
    var waitStatus: Int32 = 0
    var zombie = false
    var cred: Credentials   // Credentials.swift
    var personality: UInt32 = 0   // personality(2), kept across fork and exec
    /// The effective ids: who the process acts as for ownership and signals.
    var uid: UInt32 { cred.euid }
    var gid: UInt32 { cred.egid }
    var rlimits: [Int: (UInt64, UInt64)] = [:]
    var itimerRealDeadline: timespec? = nil
    var itimerRealInterval: Int = 0
    var childUserNs = 0
    var name = ""
    var realTimer: KTimer? = nil
    var posixTimers: [PosixTimer] = []
    var job = JobState()   // JobControl.swift
    var deadThreadsUsage = Usage()   // ProcfsCounters.swift: threads that exited
    var childrenUsage = Usage()      // reaped children (RUSAGE_CHILDREN, times' cutime)

    init(pid: Int32, handlers: SignalHandlers, pgid: Int32, sid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.handlers = handlers
        self.pgid = pgid
        self.sid = sid
        self.cred = Credentials(uid: uid, gid: gid)
    }
}

struct SigInfo {
    var signo: Int32
    var code: Int32 = 0
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var addr: UInt64 = 0
    var status: Int32 = 0
}

nonisolated(unsafe) let debugSentry = getenv("BULWARK_SENTRY_DEBUG") != nil
nonisolated(unsafe) let patchSyscalls = SyscallPatch.requested && Platform.kind == .systrap

final class Task: HostMapper {
    let kernel: Kernel
    let tid: Int32
    var tg: ThreadGroup
    var mm: AddressSpace
    var mmGeneration = 0
    var fds: FDTable
    var fsctx: FSContext
    var stub: (any PlatformStub)!
    var sigmask: UInt64 = 0
    var pending: UInt64 = 0
    var pendingInfo = [SigInfo?](repeating: nil, count: 65)
    /// Mask to restore after a signal handler is set up (rt_sigsuspend, ppoll, pselect).
    var savedMask: UInt64? = nil
    var clearChildTID: UInt64 = 0
    var altStack: (sp: UInt64, flags: Int32, size: UInt64) = (0, 2, 0)   // SS_DISABLE
    var exited = false
    /// True while the application code runs (the tracer is in ptrace/waitpid without the lock).
    var inUser = false
    var cpu: Int32 = 0
    var initialRegs: Registers? = nil
    var vforkParent: Task? = nil
    var vforkDone = false
    var robustList: UInt64 = 0
    var fsBase: UInt64 = 0
    /// The current stop is a system call return, so ERESTART* results may be restarted.
    var syscallRestartable = false
    /// Another thread of the group called execve: this thread must exit.
    var execKill = false
    var threadName = ""
    var pdeathSignal: Int32 = 0
    var noNewPrivs = false
    var counters = TaskCounters()   // ProcfsCounters.swift
    var scratchBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    /// This task's futex word and whether it sleeps on it (WaitQueue.swift).
    var sleep = TaskSleep()
    /// The netstack doorbell's generation as read before the last readiness check (WaitQueue.swift).
    var netSeen: UInt32 = 0
    deinit { scratchBuf.deallocate(); WakeWords.give(sleep.word) }
    /// Registers of the current stop (valid while the kernel handles it).
    var regs: Registers {
        get { stub.regs }
        set { stub.regs = newValue }
    }

    init(kernel: Kernel, tid: Int32, tg: ThreadGroup, mm: AddressSpace, fds: FDTable, fsctx: FSContext) {
        self.kernel = kernel
        self.tid = tid
        self.tg = tg
        self.mm = mm
        self.fds = fds
        self.fsctx = fsctx
    }

    // MARK: HostMapper (injects into this task's stub; called on the task's own thread)

    func hostMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ fileOffset: Int) -> Int {
        if debugSentry { kernel.log("[\(tid)] host mmap 0x\(String(addr, radix: 16)) len 0x\(String(length, radix: 16)) prot \(prot) off 0x\(String(fileOffset, radix: 16))\n") }
        return stub.hostMmap(addr, length, prot, fileOffset)
    }
    func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int { stub.hostMunmap(addr, length) }
    func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int { stub.hostMprotect(addr, length, prot) }
    func hostUnmapAll() { stub.unmapApplication() }

    /// Applies mapping changes made by other tasks of this address space.
    @inline(__always) func syncMappings() {
        if mmGeneration != mm.generation { mmGeneration = mm.sync(mapper: self, from: mmGeneration) }
    }

    // MARK: the task's thread

    /// Starts the task's host thread. The kernel lock is held by the caller.
    func start() {
        let unmanaged = Unmanaged.passRetained(self)
        // A pre-made thread + stub (StubPool) when one is ready for this CPU.
        if let w = StubPool.take(memory: kernel.memory, cpu: cpu) {
            w.run { stub in unmanaged.takeRetainedValue().threadMain(stub) }
            return
        }
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 1 << 20)
        var th = pthread_t()
        let rc = pthread_create(&th, &attr, { arg in
            let task = Unmanaged<Task>.fromOpaque(arg!).takeRetainedValue()
            let cpu = task.cpu
            // The stub survived the task: this thread and it join the stub pool.
            if let s = task.threadMain() { StubPool.recycle(s, cpu: cpu) }
            return nil
        }, unmanaged.toOpaque())
        if rc != 0 {
            unmanaged.release()
            kernel.log("bulwark-sentry: pthread_create failed\n")
            exitTask(status: 0, fromSignal: SIGKILL)
            return
        }
        pthread_detach(th)
    }

    /// Runs the task on this thread; returns its stub if it may serve another task (StubPool.recycle).
    private func threadMain(_ premade: (any PlatformStub)? = nil) -> (any PlatformStub)? {
        _ = bw_pin_self(cpu)
        kernel.lock()
        let t0 = PhaseTiming.now()
        guard let s = premade ?? Platform.makeStub(memory: kernel.memory) else {
            kernel.log("bulwark-sentry: cannot create a stub process\n")
            exitTask(status: 0, fromSignal: SIGKILL)
            kernel.unlock()
            return nil
        }
        if premade == nil { PhaseTiming.add("task: create a stub (pool empty)", since: t0) }
        stub = s
        s.place(cpu: cpu)
        var r = initialRegs!
        initialRegs = nil
        // Keep the host's segment selectors from the fresh stub.
        r.cs = s.regs.cs; r.ss = s.regs.ss; r.ds = s.regs.ds; r.es = s.regs.es
        r.fs = 0; r.gs = 0
        s.regs = r
        mm.mapAll(mapper: self)
        mmGeneration = mm.generation
        countersStart()
        runLoop()
        stub = nil
        kernel.unlock()
        return s
    }

    /// The task's main loop; the kernel lock is held on entry and exit.
    private func runLoop() {
        while true {
            deliverSignals()
            if exited { return }
            if execKill { exitTask(status: 0, fromSignal: 0); return }
            if tg.exiting { exitTask(status: tg.waitStatus, fromSignal: 0); return }
            if parkWhileStopped() { continue }   // group stop (JobControl.swift)
            syncMappings()
            inUser = true
            // A netstack doorbell write due from the last call goes out after the stub has its command,
            // or (systrap) is held while the application's next call comes quickly: then it is still
            // due, and the next unlock or run writes it (PlatformStub.kickDeferred).
            let hold = kernel.wakes.kickHoldable
            let kick = kernel.wakes.takeKick()
            kernel.unlock()
            let reason = kick < 0 ? stub.run() : stub.run(thenWrite: kick, hold: hold)
            kernel.lock()
            if kick >= 0 && stub.kickDeferred { kernel.wakes.kickFD = kick }
            inUser = false
            switch reason {
            case .syscall:
                if patchSyscalls { considerSyscallPatch() }   // PlatformGlue.swift
                handleSyscall()
                if kernel.asyncIO.active { kernel.asyncIO.check(kernel) }   // O_ASYNC (SysAsyncIO.swift)
                if kernel.oneWayQueued { NetstackConnection.shared?.noteSyscall() }
            case .signal(let sig):
                if sig == SIGSTOP { continue }   // our own kick: re-check signals
                if debugSentry { kernel.log("[\(tid)] host signal \(sig) at rip=0x\(String(regs.rip, radix: 16))\n") }
                handleFault(sig)
            case .gone:
                if debugSentry { kernel.log("[\(tid)] stub gone\n") }
                if !tg.exiting { tg.exiting = true; tg.waitStatus = SIGKILL }
                exitTask(status: tg.waitStatus, fromSignal: 0)
                return
            }
            if exited { return }
        }
    }

    private func handleFault(_ sig: Int32) {
        var info = SigInfo(signo: sig)
        (info.code, info.addr) = stub.lastFault()
        if sig == SIGSEGV || sig == SIGBUS {
            // A stale mapping in this stub (another task changed the address space): sync and retry.
            if mmGeneration != mm.generation {
                syncMappings()
                return
            }
            // Past a file's end when mapped, inside it now (SysMemory.swift).
            if sig == SIGBUS && fillGrownFilePages(info.addr) { return }
        }
        forceSignal(info)
    }

    /// Delivers a synchronous fault signal: it cannot be blocked or ignored.
    func forceSignal(_ info: SigInfo) {
        let sig = Int(info.signo)
        let bit = UInt64(1) << UInt64(sig - 1)
        if sigmask & bit != 0 || tg.handlers.actions[sig].handler == 1 {
            sigmask &= ~bit
            tg.handlers.actions[sig].handler = 0
        }
        pending |= bit
        pendingInfo[sig] = info
    }

    /// Wakes this task if it is running application code, so it notices a new signal.
    func kick() {
        if inUser, let s = stub { s.interrupt(); counters.involuntary &+= 1 }
        kernel.broadcast()
    }

    /// True if an unblocked signal is pending (or the group is exiting): blocking calls return.
    var interrupted: Bool {
        if tg.exiting || exited || execKill { return true }
        return (pending | tg.pending) & ~sigmask != 0
    }

    /// Blocks (kernel lock held) until woken, the deadline passes, or a signal arrives.
    /// Returns false if interrupted by a signal.
    /// `net`: waiting for an inet socket (a readiness sleeper: the netstack's doorbell wakes it too,
    /// WaitQueue.swift).
    /// Without `net` the task is woken by every state change (`block(deadline:on:)` waits for one object).
    func block(deadline: timespec?, net: Bool = false) -> Bool {
        if interrupted { return false }
        counters.voluntary &+= 1
        sleepOnce(deadline: deadline, kind: net ? .readiness : .any)
        return !interrupted
    }

    // MARK: exit

    /// Ends this task. The kernel lock is held.
    func exitTask(status: Int32, fromSignal: Int32) {
        if exited { return }
        countersFinish()
        exited = true
        if clearChildTID != 0 {
            var zero: Int32 = 0
            _ = mm.write(clearChildTID, zero)
            _ = futexWake(task: self, addr: clearChildTID, count: 1, bitset: UInt32.max)
            zero = 0
        }
        finishVfork()
        kernel.tasks[tid] = nil
        tg.threads.removeAll { $0 === self }
        if tg.threads.isEmpty {
            if !tg.exiting {
                tg.exiting = true
                tg.waitStatus = fromSignal != 0 ? fromSignal : status
            }
            kernel.processExited(tg)
        }
        fds = FDTable.empty
        kernel.broadcast()
    }

    func finishVfork() {
        if let p = vforkParent {
            p.vforkDone = true
            vforkParent = nil
            kernel.broadcast()
        }
    }
}

extension Kernel {
    /// A thread group's last task exited: close its files, reparent children, notify the parent.
    func processExited(_ tg: ThreadGroup) {
        tg.zombie = true
        stopProcessTimers(tg, posixOnly: false)   // SysEvents.swift
        let initTG = threadGroups[1]
        let formerChildren = tg.children
        defer { jobControlOnExit(tg, formerChildren: formerChildren) }   // JobControl.swift
        for c in tg.children {
            if let i = initTG, i !== tg {
                c.parent = i
                i.children.append(c)
                if c.zombie { reapIfAutoReap(c) }
            }
        }
        tg.children.removeAll()
        if tg.pid == 1 {
            // Init exited: the container is over.
            finalStatus = tg.waitStatus
            for (_, t) in tasks { t.tg.exiting = true; t.tg.waitStatus = SIGKILL; t.kick() }
            broadcast()
            return
        }
        if let p = tg.parent {
            if tg.exitSignal != 0 {
                let code: Int32 = (tg.waitStatus & 0x7f) == 0 ? 1 : ((tg.waitStatus & 0x80) != 0 ? 3 : 2)
                let st = (tg.waitStatus & 0x7f) == 0 ? (tg.waitStatus >> 8) & 0xff : tg.waitStatus & 0x7f
                sendSignal(to: p, SigInfo(signo: tg.exitSignal, code: code, pid: tg.pid, uid: tg.uid, status: st))
            }
            reapIfAutoReap(tg)
        } else {
            threadGroups[tg.pid] = nil
        }
        broadcast()
    }

    /// SIGCHLD ignored or SA_NOCLDWAIT: children are reaped at once.
    func reapIfAutoReap(_ child: ThreadGroup) {
        guard let p = child.parent else { return }
        let act = p.handlers.actions[Int(SIGCHLD)]
        if act.handler == 1 || act.flags & 2 /* SA_NOCLDWAIT */ != 0 {
            p.children.removeAll { $0 === child }
            threadGroups[child.pid] = nil
        }
    }
}

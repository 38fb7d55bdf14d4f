// The systrap platform (see bulwark_systrap.c for the stub side). A stub is created like a ptrace
// stub, then set up through its mailbox and detached: from then on no ptrace stop happens. Each
// application system call is a SIGSYS in the stub, whose handler posts the registers to the mailbox
// and waits on a futex for commands; the task thread (pinned to the stub's CPU) answers. Host memory
// map changes are queued in the mailbox and run by the stub itself, in the same round trip as the
// next resume (or in one batch when the queue is full or a result is needed).
// SAFETY: `mb` points at the first page of this stub's mailbox region, an allocation of the memory
// file that the Sentry maps for its whole life; it is released only in destroy(), after the stub
// process is dead. Only the task thread that owns the stub touches it, except the futex word, which
// both sides access atomically (C helpers).
import CBulwark
import HostOS
@preconcurrency import Glibc

public final class SystrapStub: PlatformStub {
    public let pid: Int32
    public var regs = Registers()
    private let mb: UnsafeMutablePointer<bw_systrap_mailbox>
    private let memory: StubMemory
    private let regionOffset: Int
    private let memfd: Int32
    private var alive = true
    private var reaped = false
    /// Where the stub runs relative to its task thread, and how they hand off (SystrapHandoff.swift).
    private var policy = HandoffPolicy(splitPossible: false)
    private var taskCPU: Int32 = -1
    private var spinTicks: UInt64 = 0
    private var parkedSpinTicks: UInt64 = 0
    public private(set) var blockSpinTicks: UInt64 = 0
    nonisolated(unsafe) static var reportedFailure = false

    public init?(memory: StubMemory) {
        let size = Int(BW_SYSTRAP_REGION_SIZE)
        guard let region = memory.allocateStubRegion(size) else { return nil }
        guard let p = PtraceStub(memfd: memory.stubFD) else {
            memory.releaseStubRegion(region.offset, size)
            return nil
        }
        self.memory = memory
        self.regionOffset = region.offset
        self.memfd = memory.stubFD
        self.pid = p.pid
        mb = region.pointer.bindMemory(to: bw_systrap_mailbox.self, capacity: 1)
        bw_systrap_prepare(mb)
        if HandoffStats.enabled { mb.pointee.stub_stats_tpu = UInt32(clamping: HandoffPolicy.ticksPerMicro) }
        // Point the stopped ptrace stub at the systrap entry and let it go.
        var r = p.regs
        r.rip = UInt64(BW_STUB_ADDR) + UInt64(bw_systrap_init_offset())
        r.rdi = UInt64(memfd)
        r.rsi = UInt64(region.offset)
        r.orig_rax = UInt64.max
        p.relinquish()
        if bw_setregs(Int(pid), &r) != 0 || bw_ptrace(17 /* PTRACE_DETACH */, Int(pid), 0, 0) != 0 {
            fail("cannot detach the stub (errno \(bw_errno()))")
            return nil
        }
        // The boot trap: the stub's first SIGSYS, after its filter and handlers are in place.
        if bw_systrap_wait_event(mb, Int(pid), 5000) != 0 {
            fail("the stub did not start")
            return nil
        }
        let boot = UInt64(BW_STUB_ADDR) + UInt64(BW_SYSTRAP_BOOT_OFFSET) + 7
        if mb.pointee.kind != UInt32(BW_EV_SYSCALL) || mb.pointee.regs.rip != boot || mb.pointee.failed_op != 0 {
            fail("stub set-up failed (event \(mb.pointee.kind), signal \(mb.pointee.signo), error \(mb.pointee.failed_op))")
            return nil
        }
        regs = mb.pointee.regs
    }

    private func fail(_ why: String) {
        fputs("bulwark-sentry: systrap: \(why)\n", stderr)
        destroy()
    }

    /// Pins the stub for a task thread on `cpu`: on another CPU (both sides spin) when the policy says
    /// split, else on `cpu`.
    public func place(cpu: Int32) {
        taskCPU = cpu
        policy = HandoffPolicy(splitPossible: HandoffPolicy.peer(of: cpu) != nil, now: HandoffPolicy.monotonicNs())
        apply(policy.mode)
    }

    private func apply(_ mode: HandoffPolicy.Mode) {
        if mode == .split, let other = HandoffPolicy.peer(of: taskCPU), bw_pin_pid(Int(pid), other) == 0 {
            spinTicks = HandoffPolicy.spinTicks
            parkedSpinTicks = HandoffPolicy.parkedSpinTicks
            blockSpinTicks = HandoffPolicy.blockSpinTicks
        } else {
            _ = bw_pin_pid(Int(pid), taskCPU)
            spinTicks = 0
            parkedSpinTicks = 0
            blockSpinTicks = 0
        }
        mb.pointee.stub_spin = spinTicks == 0 ? 0 : HandoffPolicy.stubSpinTicks
        mb.pointee.stub_preempt = UInt32(truncatingIfNeeded: min(HandoffPolicy.preemptTicks, UInt64(UInt32.max)))
    }

    /// One command/event round trip; false if the stub is gone.
    @inline(__always) private func call(_ cmd: Int, thenWrite fd: Int32 = -1, hold: Bool = false) -> Bool {
        let t0 = statsOn ? HandoffPolicy.monotonicNs() : 0
        var deadline: UInt64 = 0
        if fd >= 0 && hold && HandoffPolicy.kickHoldTicks != 0 {
            if kickDueSince == 0 { kickDueSince = bw_systrap_rdtsc() }
            deadline = kickDueSince &+ HandoffPolicy.kickHoldTicks
        } else if cmd == Int(BW_CMD_RESUME) {
            kickDueSince = 0   // none due now (another path wrote it), or not to be held
            kickDeferred = false
        }
        let r = bw_systrap_call(mb, UInt32(cmd), Int(pid), spinTicks, parkedSpinTicks, fd, deadline)
        if r < 0 { alive = false; kickDeferred = false; return false }
        if fd >= 0 {
            kickDeferred = r & Int32(BW_HANDOFF_KICK_DUE) != 0
            if !kickDeferred { kickDueSince = 0 }
        }
        if statsOn {
            let t1 = HandoffPolicy.monotonicNs()
            stats.count(r, split: spinTicks != 0)
            stats.time(r, gapNs: t1 - t0, workNs: lastReturn == 0 ? nil : t0 - lastReturn)
            lastReturn = t1
            if stats.calls % 100_000 == 0 { reportStats() }
        }
        if taskCPU >= 0, let m = policy.record(r, now: HandoffPolicy.monotonicNs) {
            if debugHandoff {
                fputs("bulwark-sentry: systrap stub \(pid): hand-off \(m == .split ? "split (spinning)" : "same CPU") at \(HandoffPolicy.monotonicNs() / 1_000_000) ms after \(stats.calls) calls\n", stderr)
            }
            apply(m)
        }
        return true
    }
    /// Prints the hand-off counts, with the stub's own and the readiness spins' counters read now.
    private func reportStats() {
        stats.stubPreempted = mb.pointee.stub_preempted
        stats.readinessPreempted = bw_spin_preempted_count()
        let w = mb.pointee.stub_waits
        stats.stubWaits = [w.0, w.1, w.2, w.3, w.4, w.5, w.6]
        fputs("bulwark-sentry: systrap stub \(pid): \(stats)\n", stderr)
    }
    private let debugHandoff = getenv("BULWARK_SENTRY_DEBUG") != nil
    /// HandoffStats.enabled, read once per stub (a plain field test per round trip).
    private let statsOn = HandoffStats.enabled
    private var stats = HandoffStats()
    private var lastReturn: Int64 = 0
    /// The doorbell passed to the last run(thenWrite:hold:) is still due (the application's next system call
    /// came before its deadline), and since when (TSC): a burst of calls holds it no longer than the
    /// deadline counted from then.
    public private(set) var kickDeferred = false
    private var kickDueSince: UInt64 = 0

    public func run() -> StopReason { run(thenWrite: -1, hold: false) }

    /// Resumes the application; a doorbell write (`fd` >= 0) is issued right after the command is
    /// posted, while the stub already runs (bw_systrap_call), or held while the application's next
    /// system call comes within HandoffPolicy.kickHoldMicros of the first time it was due: then
    /// `kickDeferred` is true and the caller keeps it due.
    public func run(thenWrite fd: Int32, hold: Bool) -> StopReason {
        guard alive else {
            kickDeferred = false
            if fd >= 0 { try? EventFD.signal(fd) }
            return .gone
        }
        withUnsafePointer(to: &regs) { bw_systrap_store_regs(mb, $0) }
        if !call(BW_CMD_RESUME, thenWrite: fd, hold: hold) { return .gone }
        checkOps()
        regs = mb.pointee.regs
        switch Int(mb.pointee.kind) {
        case Int(BW_EV_SYSCALL): return .syscall
        case Int(BW_EV_KICK): return .signal(SIGSTOP)
        case Int(BW_EV_FAULT): return .signal(mb.pointee.signo)
        default: return .gone
        }
    }

    // MARK: host memory operations (queued; run by the stub)

    @inline(__always) private func enqueue(_ nr: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64 = 0,
                                           _ d: UInt64 = 0, _ e: UInt64 = 0, _ f: UInt64 = 0) {
        guard alive else { return }
        if mb.operationQueueIsFull { flush() }
        mb.appendOperation(nr, a, b, c, d, e, f)
    }

    /// Runs the queued operations now.
    private func flush() {
        guard alive, mb.pointee.nops > 0 else { return }
        if !call(BW_CMD_OPS) { return }
        checkOps()
    }

    private func checkOps() {
        let failed = mb.pointee.failed_op
        if failed != 0 {
            mb.pointee.failed_op = 0
            if !SystrapStub.reportedFailure || getenv("BULWARK_SENTRY_DEBUG") != nil {
                SystrapStub.reportedFailure = true
                fputs("bulwark-sentry: systrap: a host memory operation failed (errno \(-failed))\n", stderr)
            }
        }
    }

    public func hostMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ fileOffset: Int) -> Int {
        enqueue(9, addr, length, UInt64(prot), 0x11 /* MAP_SHARED|MAP_FIXED */, UInt64(memfd), UInt64(fileOffset))
        return 0
    }
    public func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int { enqueue(11, addr, length); return 0 }
    public func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int {
        enqueue(10, addr, length, UInt64(prot)); return 0
    }
    public func unmapApplication() {
        let s = UInt64(BW_STUB_ADDR), e = s + UInt64(BW_PLATFORM_RESERVED)
        enqueue(11, 0, s)
        enqueue(11, e, UInt64(BW_TASK_SIZE) - e)
    }

    // MARK: FP state, faults, interruption

    public func getFPRegs(_ buf: UnsafeMutableRawPointer) -> Bool {
        guard alive else { return false }
        // A SETFP not yet loaded is the current state; else the stub copied the frame's area when it
        // posted the event (fp_saved), so only a stub without that copy needs a GETFP round trip.
        if mb.pointee.fp_pending == 0 && mb.pointee.fp_saved == 0 && !call(BW_CMD_GETFP) { return false }
        withUnsafeBytes(of: &mb.pointee.fp) { buf.copyMemory(from: $0.baseAddress!, byteCount: 512) }
        return true
    }
    public func setFPRegs(_ buf: UnsafeRawPointer) -> Bool {
        guard alive else { return false }
        // Loaded by the stub on its way back to the application (no round trip of its own).
        withUnsafeMutableBytes(of: &mb.pointee.fp) { $0.baseAddress!.copyMemory(from: buf, byteCount: 512) }
        mb.pointee.fp_pending = 1
        return true
    }
    /// Parks a spinning stub at once (it sleeps in FUTEX_WAIT; the next command wakes it).
    public func willBlock() { if spinTicks != 0 { bw_systrap_park(mb) } }
    /// Wakes a parked stub as soon as its task is woken (only with BULWARK_SYSTRAP_EARLY_WAKE=1; else at
    /// the answer).
    public func didWake() {
        if HandoffPolicy.earlyWake && spinTicks != 0 && bw_systrap_unpark(mb) != 0 && debugHandoff { stats.earlyWakes += 1 }
    }
    /// The current event came from a patched site (the stub waits in its patched path, no signal frame).
    public var eventFromPatchedSite: Bool { mb.pointee.patch_path != 0 }
    public func lastFault() -> (code: Int32, addr: UInt64) { (mb.pointee.code, mb.pointee.fault_addr) }
    public func interrupt() { _ = bw_kill_pid(Int(pid), BW_SYSTRAP_KICK_SIGNAL) }

    public func prepareForReuse() -> Bool {
        guard alive else { return false }
        unmapApplication()
        flush()
        _ = defaultFXSave.withUnsafeBytes { setFPRegs($0.baseAddress!) }
        return alive
    }

    public func destroy() {
        guard !reaped else { return }
        if statsOn && stats.calls > 0 { reportStats() }
        reaped = true
        alive = false
        _ = bw_kill_pid(Int(pid), SIGKILL)
        var status: Int32 = 0
        _ = bw_waitpid(Int(pid), &status)
        memory.releaseStubRegion(regionOffset, Int(BW_SYSTRAP_REGION_SIZE))
    }

    deinit { destroy() }
}

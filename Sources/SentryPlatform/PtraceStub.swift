// The ptrace platform: one stub process per application address space. Application code runs in the
// stub under PTRACE_SYSEMU, so every system call it makes stops here and never reaches the host kernel.
// The Sentry changes the stub's memory map by injecting mmap/munmap/mprotect at the stub page's
// `syscall; int3`. All calls on a Stub must come from the thread that created it (ptrace's rule).
import CBulwark
@preconcurrency import Glibc

public final class PtraceStub: PlatformStub {
    /// Spawn stubs by vfork+exec of the stub ELF; falls back to forking the Sentry if that fails.
    nonisolated(unsafe) static var useSpawn = getenv("BULWARK_STUB_FORK") == nil
    public let pid: Int32
    public let memfd: Int32
    public var regs = Registers()
    private var alive = true

    /// Forks a fresh stub (empty address space except the stub page) traced by the calling thread.
    public init?(memfd: Int32) {
        var p = PtraceStub.useSpawn ? bw_stub_spawn(memfd) : -38
        let spawned = p > 0
        if !spawned { p = bw_stub_fork(memfd) }
        if p <= 0 { return nil }
        pid = Int32(p)
        self.memfd = memfd
        var status: Int32 = 0
        let readyRip = UInt64(bw_stub_addr()) + 0x3f
        // Wait for the init routine's int3 (a spawned stub first stops after its exec).
        var stops = 0
        while true {
            let w = bw_waitpid(Int(pid), &status)
            guard w == pid, bw_wifstopped(status) != 0 else {
                alive = false
                if spawned { PtraceStub.useSpawn = false; fputs("bulwark-sentry: stub exec failed; forking stubs instead\n", stderr) }
                return nil
            }
            _ = bw_getregs(Int(pid), &regs)
            stops += 1
            if regs.rip == readyRip || stops > 4 { break }
            _ = bw_cont(Int(pid), 0)
        }
        _ = bw_setoptions(Int(pid), bw_ptrace_opts())
        _ = bw_getregs(Int(pid), &regs)
        if getenv("BULWARK_SENTRY_DEBUG") != nil { fputs("stub \(pid) ready at rip=0x\(String(regs.rip, radix: 16))\n", stderr) }
        if bw_wstopsig(status) != SIGTRAP {
            fputs("bulwark-sentry: stub start failed: signal \(bw_wstopsig(status)) at rip=0x\(String(regs.rip, radix: 16))\n", stderr)
            destroy()
            return nil
        }
    }

    // MARK: batched memory operations (mailbox region mapped in the stub; see bulwark_systrap.c)

    nonisolated(unsafe) static var batching = getenv("BULWARK_PTRACE_NO_BATCH") == nil
    private var batch: UnsafeMutablePointer<bw_systrap_mailbox>? = nil
    private var batchMemory: StubMemory? = nil
    private var batchOffset = 0

    /// A stub whose mmap/munmap/mprotect calls are queued in a mailbox page and run in one stop
    /// before the application next runs (the Sentry itself only touches memory through the file).
    public convenience init?(memory: StubMemory) {
        self.init(memfd: memory.stubFD)
        let size = Int(BW_SYSTRAP_REGION_SIZE)
        if PtraceStub.batching, let region = memory.allocateStubRegion(size) {
            let r = inject(9, UInt64(BW_SYSTRAP_MAILBOX), UInt64(size), 3, 0x11, UInt64(memfd), UInt64(region.offset))
            if r == Int(BW_SYSTRAP_MAILBOX) {
                batch = region.pointer.bindMemory(to: bw_systrap_mailbox.self, capacity: 1)
                batchMemory = memory
                batchOffset = region.offset
            } else {
                memory.releaseStubRegion(region.offset, size)
            }
        }
    }

    private func enqueue(_ nr: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64 = 0,
                         _ d: UInt64 = 0, _ e: UInt64 = 0, _ f: UInt64 = 0) -> Int {
        guard let mb = batch else { return inject(Int(nr), a, b, c, d, e, f) }
        if mb.operationQueueIsFull { flushBatch() }
        mb.appendOperation(nr, a, b, c, d, e, f)
        return 0
    }

    /// Runs the queued operations in one stop (the batch routine ends on int3).
    private func flushBatch() {
        guard alive, let mb = batch, mb.pointee.nops > 0 else { return }
        var r = regs
        r.rip = UInt64(BW_STUB_ADDR) + UInt64(bw_systrap_batch_offset())
        r.rsp = UInt64(BW_SYSTRAP_MAILBOX) + UInt64(BW_SYSTRAP_REGION_SIZE)
        r.orig_rax = UInt64.max
        if bw_setregs(Int(pid), &r) != 0 { alive = false; return }
        _ = resumeUntilTrap(nr: -1)
        mb.pointee.nops = 0
        let failed = mb.pointee.failed_op
        if failed != 0 {
            mb.pointee.failed_op = 0
            fputs("bulwark-sentry: a batched host memory operation failed (errno \(-failed))\n", stderr)
        }
    }

    /// Runs a system call inside the stub and returns its raw result (negative errno on failure).
    /// The application's registers in `regs` are preserved.
    public func inject(_ nr: Int, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0,
                       _ a4: UInt64 = 0, _ a5: UInt64 = 0, _ a6: UInt64 = 0) -> Int {
        guard alive else { return -3 }
        var r = Registers()
        if bw_getregs(Int(pid), &r) != 0 { return -Int(bw_errno()) }
        r.rip = UInt64(bw_stub_addr())
        r.rax = UInt64(nr)
        r.orig_rax = UInt64.max
        r.rdi = a1; r.rsi = a2; r.rdx = a3; r.r10 = a4; r.r8 = a5; r.r9 = a6
        if bw_setregs(Int(pid), &r) != 0 { return -Int(bw_errno()) }
        if !resumeUntilTrap(nr: nr) { return alive ? -14 : -3 }
        var out = Registers()
        _ = bw_getregs(Int(pid), &out)
        // Put the application's registers back (the next run() also sets them).
        _ = bw_setregs(Int(pid), &regs)
        return Int(Int64(bitPattern: out.rax))
    }

    /// Continues the stub until it stops on an int3 (after an injected call or the batch routine).
    private func resumeUntilTrap(nr: Int) -> Bool {
        while true {
            if bw_cont(Int(pid), 0) != 0 { alive = false; return false }
            var status: Int32 = 0
            if bw_waitpid(Int(pid), &status) < 0 { alive = false; return false }
            if bw_wifstopped(status) == 0 { alive = false; return false }
            let sig = bw_wstopsig(status)
            if sig == SIGTRAP { break }
            // Another host signal (e.g. SIGCHLD-like noise) arrived mid-injection: drop it, continue.
            if sig == SIGSEGV || sig == SIGBUS || sig == SIGILL {
                var bad = Registers()
                _ = bw_getregs(Int(pid), &bad)
                var si = [UInt64](repeating: 0, count: 16)
                _ = si.withUnsafeMutableBytes { bw_ptrace(0x4202, Int(pid), 0, UInt(bitPattern: $0.baseAddress)) }
                fputs("bulwark-sentry: fault \(sig) in \(nr < 0 ? "batched host operations" : "injected syscall \(nr)") at rip=0x\(String(bad.rip, radix: 16)) code=\(si[1] & 0xffffffff) addr=0x\(String(si[2], radix: 16)) rsp=\(String(bad.rsp, radix: 16)) cs=\(bad.cs)\n", stderr)
                alive = false
                _ = bw_kill_pid(Int(pid), SIGKILL)
                return false
            }
        }
        return true
    }

    /// Writes back `regs` and resumes the application until its next system call or signal.
    public func run() -> StopReason {
        guard alive else { return .gone }
        flushBatch()
        if bw_setregs(Int(pid), &regs) != 0 { alive = false; return .gone }
        return resumeLoop()
    }

    private func resumeLoop() -> StopReason {
        if bw_sysemu(Int(pid), 0) != 0 { alive = false; return .gone }
        var status: Int32 = 0
        while true {
            if bw_waitpid(Int(pid), &status) < 0 { alive = false; return .gone }
            if bw_wifstopped(status) == 0 { alive = false; return .gone }
            let sig = bw_wstopsig(status)
            _ = bw_getregs(Int(pid), &regs)
            if sig == (SIGTRAP | 0x80) { return .syscall }
            // SIGSTOP is the Sentry's kick (interrupt()): report it so the task re-checks its signals.
            if sig == SIGSTOP { return .signal(SIGSTOP) }
            if sig == SIGCHLD || sig == SIGWINCH || sig == SIGURG {
                // Host-level noise not caused by the application: ignore and keep going.
                if bw_sysemu(Int(pid), 0) != 0 { alive = false; return .gone }
                continue
            }
            return .signal(sig)
        }
    }

    public func hostMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ fileOffset: Int) -> Int {
        enqueue(9, addr, length, UInt64(prot), 0x11 /* MAP_SHARED|MAP_FIXED */, UInt64(memfd), UInt64(fileOffset))
    }
    public func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int { enqueue(11, addr, length) }
    public func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int { enqueue(10, addr, length, UInt64(prot)) }
    public func unmapApplication() {
        let s = UInt64(bw_stub_addr()), e = s + UInt64(BW_PLATFORM_RESERVED)
        _ = enqueue(11, 0, s)
        _ = enqueue(11, e, UInt64(bw_task_size()) - e)
    }
    public func getFPRegs(_ buf: UnsafeMutableRawPointer) -> Bool { bw_getfpregs(Int(pid), buf) == 0 }
    public func setFPRegs(_ buf: UnsafeRawPointer) -> Bool { bw_setfpregs(Int(pid), buf) == 0 }
    public func lastFault() -> (code: Int32, addr: UInt64) {
        var si = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                  UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let ok = withUnsafeMutableBytes(of: &si) { bw_ptrace(0x4202 /* PTRACE_GETSIGINFO */, Int(pid), 0, UInt(bitPattern: $0.baseAddress)) } == 0
        return ok ? (Int32(truncatingIfNeeded: si.1), si.2) : (0, 0)
    }
    public func interrupt() { _ = bw_kill_pid(Int(pid), SIGSTOP) }

    public func prepareForReuse() -> Bool {
        guard alive else { return false }
        unmapApplication()
        flushBatch()
        _ = defaultFXSave.withUnsafeBytes { setFPRegs($0.baseAddress!) }
        return alive
    }

    /// Hands the stopped stub over to another platform: it is neither killed nor reaped here any more.
    func relinquish() { alive = false }

    /// Kills the stub process and reaps it.
    public func destroy() {
        if !alive, let m = batchMemory {
            // Dead already (and never touched again): its mailbox region can go.
            m.releaseStubRegion(batchOffset, Int(BW_SYSTRAP_REGION_SIZE)); batchMemory = nil
        }
        guard alive else { return }
        alive = false
        _ = bw_kill_pid(Int(pid), SIGKILL)
        var status: Int32 = 0
        _ = bw_waitpid(Int(pid), &status)
        if let m = batchMemory { m.releaseStubRegion(batchOffset, Int(BW_SYSTRAP_REGION_SIZE)); batchMemory = nil }
    }

    deinit { destroy() }
}

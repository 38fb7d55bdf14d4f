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
        while true {
            if bw_cont(Int(pid), 0) != 0 { alive = false; return -3 }
            var status: Int32 = 0
            if bw_waitpid(Int(pid), &status) < 0 { alive = false; return -3 }
            if bw_wifstopped(status) == 0 { alive = false; return -3 }
            let sig = bw_wstopsig(status)
            if sig == SIGTRAP { break }
            // Another host signal (e.g. SIGCHLD-like noise) arrived mid-injection: drop it, continue.
            if sig == SIGSEGV || sig == SIGBUS || sig == SIGILL {
                var bad = Registers()
                _ = bw_getregs(Int(pid), &bad)
                var si = [UInt64](repeating: 0, count: 16)
                _ = si.withUnsafeMutableBytes { bw_ptrace(0x4202, Int(pid), 0, UInt(bitPattern: $0.baseAddress)) }
                fputs("bulwark-sentry: fault \(sig) in injected syscall \(nr) at rip=0x\(String(bad.rip, radix: 16)) code=\(si[1] & 0xffffffff) addr=0x\(String(si[2], radix: 16)) rsp=\(String(bad.rsp, radix: 16)) cs=\(bad.cs)\n", stderr)
                alive = false
                _ = bw_kill_pid(Int(pid), SIGKILL)
                return -14
            }
        }
        var out = Registers()
        _ = bw_getregs(Int(pid), &out)
        // Put the application's registers back (the next run() also sets them).
        _ = bw_setregs(Int(pid), &regs)
        return Int(Int64(bitPattern: out.rax))
    }

    /// Writes back `regs` and resumes the application until its next system call or signal.
    public func run() -> StopReason {
        guard alive else { return .gone }
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
        inject(9, addr, length, UInt64(prot), 0x11 /* MAP_SHARED|MAP_FIXED */, UInt64(memfd), UInt64(fileOffset))
    }
    public func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int { inject(11, addr, length) }
    public func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int { inject(10, addr, length, UInt64(prot)) }
    public func unmapApplication() {
        let s = UInt64(bw_stub_addr()), e = s + UInt64(BW_PLATFORM_RESERVED)
        _ = inject(11, 0, s)
        _ = inject(11, e, UInt64(bw_task_size()) - e)
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

    /// Hands the stopped stub over to another platform: it is neither killed nor reaped here any more.
    func relinquish() { alive = false }

    /// Kills the stub process and reaps it.
    public func destroy() {
        guard alive else { return }
        alive = false
        _ = bw_kill_pid(Int(pid), SIGKILL)
        var status: Int32 = 0
        _ = bw_waitpid(Int(pid), &status)
    }

    deinit { destroy() }
}

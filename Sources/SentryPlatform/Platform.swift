// The platform seam: how the Sentry runs application code and learns about its system calls and
// faults. Two implementations: PtraceStub (PTRACE_SYSEMU; every call is a ptrace stop) and SystrapStub
// (seccomp RET_TRAP + a SIGSYS handler in the stub that exchanges registers with the Sentry through a
// shared mailbox page and a futex). The kernel sees only `PlatformStub`; `Platform.kind` picks one.
import CBulwark
import HostOS
@preconcurrency import Glibc

public typealias Registers = user_regs_struct

/// Why a stub stopped after being resumed.
public enum StopReason: Equatable {
    /// The application made a system call (registers hold its number and arguments).
    case syscall
    /// A host signal arrived for the stub (a fault: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP...).
    /// SIGSTOP means the Sentry interrupted the stub (`interrupt()`).
    case signal(Int32)
    /// The stub process is gone (killed from outside).
    case gone
}

/// One host process running one task's application code. All calls must come from the thread that
/// created it (ptrace's rule; systrap keeps it too).
public protocol PlatformStub: AnyObject {
    var pid: Int32 { get }
    /// Registers of the current stop; written back when the stub next runs.
    var regs: Registers { get set }
    /// Resumes the application until its next system call or signal.
    func run() -> StopReason
    /// run(), with a write of 1 to the eventfd `fd` (a doorbell) as soon as the application may run:
    /// systrap issues it after posting the command, so the stub does not wait for it, and with `hold`
    /// may hold it while the application's next call comes quickly (`kickDeferred`).
    func run(thenWrite fd: Int32, hold: Bool) -> StopReason
    /// The doorbell of the last run(thenWrite:hold:) was not written yet (systrap may hold it while the
    /// application's next system call comes quickly): the caller keeps it due.
    var kickDeferred: Bool { get }
    /// Host memory map changes of the stub (ranges of the memory file). The platform may defer them
    /// until the stub next runs (the Sentry itself reads and writes memory through the memory file).
    func hostMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ fileOffset: Int) -> Int
    func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int
    func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int
    /// Unmaps everything but the platform's own pages (exec, log overflow).
    func unmapApplication()
    /// The 512-byte FXSAVE area of the current stop.
    func getFPRegs(_ buf: UnsafeMutableRawPointer) -> Bool
    func setFPRegs(_ buf: UnsafeRawPointer) -> Bool
    /// si_code and si_addr of the fault that ended the last run() with .signal.
    func lastFault() -> (code: Int32, addr: UInt64)
    /// Makes a running stub stop soon with .signal(SIGSTOP) (callable from any thread).
    func interrupt()
    /// Kills and reaps the stub process.
    func destroy()
    /// Pins the stub for a task thread pinned to `cpu` (systrap may put it on another CPU and spin).
    func place(cpu: Int32)
    /// Makes a stub whose task ended ready for a new task: drops the application's mappings and loads
    /// the default FPU state. False if the stub cannot be reused (dead); the caller destroys it then.
    func prepareForReuse() -> Bool
    /// The task is about to block inside the Sentry (its answer will be late): a platform whose stub
    /// spins for the answer stops spinning (the CPU is better spent on whoever will wake the task).
    func willBlock()
    /// The blocked task was woken (it will most likely answer soon): a platform that parked its stub
    /// in willBlock may start waking it now.
    func didWake()
    /// TSC ticks a task about to block on the netstack (a readiness sleep on the socket arena's
    /// generation) should spin on the word first: a change within the spin needs no futex wake-up
    /// (split mode only: the stub runs on another CPU); 0: sleep at once.
    var blockSpinTicks: UInt64 { get }
    /// The current system call came from a patched site (systrap's syscall patching): no trap to count.
    var eventFromPatchedSite: Bool { get }
}

/// The FXSAVE image of a fresh process: FCW 0x37f, MXCSR 0x1f80, everything else zero.
let defaultFXSave: [UInt8] = {
    var fp = [UInt8](repeating: 0, count: 512)
    fp[0] = 0x7f; fp[1] = 0x03
    fp[24] = 0x80; fp[25] = 0x1f
    return fp
}()

extension PlatformStub {
    public func place(cpu: Int32) { _ = bw_pin_pid(Int(pid), cpu) }
    public func willBlock() {}
    public func didWake() {}
    public var blockSpinTicks: UInt64 { 0 }
    public var eventFromPatchedSite: Bool { false }
    public var kickDeferred: Bool { false }
    public func run(thenWrite fd: Int32, hold: Bool) -> StopReason {
        try? EventFD.signal(fd)
        return run()
    }
}

/// What a platform needs from the Sentry's memory file (implemented by SentryMemory.MemoryFile).
public protocol StubMemory: AnyObject {
    var stubFD: Int32 { get }
    /// Allocates `length` zeroed bytes of the memory file: (offset, the Sentry's pointer to them).
    func allocateStubRegion(_ length: Int) -> (offset: Int, pointer: UnsafeMutableRawPointer)?
    func releaseStubRegion(_ offset: Int, _ length: Int)
}

public enum PlatformKind: String, Sendable {
    case ptrace
    case systrap
}

public enum Platform {
    /// The platform new stubs use (`--platform`, else BULWARK_PLATFORM, else systrap).
    nonisolated(unsafe) public static var kind: PlatformKind =
        getenv("BULWARK_PLATFORM").flatMap { PlatformKind(rawValue: String(cString: $0)) } ?? .systrap
    nonisolated(unsafe) static var reportedFallback = false

    /// Installs the stub page into the Sentry; call once before creating stubs.
    public static func setUp() -> Int32 {
        let r = bw_stub_install()
        bw_record_process_cpus()   // before any task thread pins itself (helper spawns use it)
        HandoffPolicy.setUp()
        if r == 0 && kind == .systrap && bw_systrap_available() == 0 {
            fputs("bulwark-sentry: systrap code does not fit the stub page; using ptrace\n", stderr)
            kind = .ptrace
        }
        return r
    }

    /// Creates a stub for a new task on the calling thread (which must stay its only user).
    public static func makeStub(memory: StubMemory) -> (any PlatformStub)? {
        switch kind {
        case .ptrace: return PtraceStub(memory: memory)
        case .systrap:
            if let s = SystrapStub(memory: memory) { return s }
            // No seccomp (or a broken set-up): this task runs on ptrace instead, and no more sites get
            // patched (a ptrace stub cannot run a patched site).
            SyscallPatch.fellBackToPtrace = true
            if !reportedFallback {
                reportedFallback = true
                fputs("bulwark-sentry: systrap stub failed; falling back to ptrace\n", stderr)
            }
            return PtraceStub(memory: memory)
        }
    }
}

/// The former name of the (ptrace-only) stub class; code that only reads `pid` keeps compiling.
public typealias Stub = any PlatformStub

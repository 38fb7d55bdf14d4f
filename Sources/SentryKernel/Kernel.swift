// The Sentry kernel's global state. Concurrency model: every task has its own host pthread (its
// tracer); all kernel state is guarded by one kernel mutex, held while a system call is handled and
// released while the application runs or a task blocks. Blocked tasks sleep on their own futex words
// and are woken through wait queues or by broadcast() on any state change (WaitQueue.swift); threads
// that are not tasks wait on the kernel condition, which broadcast() wakes too. Waiters re-check
// their condition.
import CBulwark
import Glibc
import HostOS
import SentryMemory
import SentryPlatform

public struct SentryConfig {
    public var rootfs: String
    public var cwd: String = "/"
    public var env: [String] = []
    public var hostname: String = "bulwark"
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    /// Supplementary groups, capabilities, rlimits, no_new_privs, umask (InitProcessOptions.swift).
    public var initProcess = InitProcessOptions()
    public var strace = false
    public var logFD: Int32 = 2
    /// Files (vfs): the gofer channel (nil: spawn bulwark-gofer on `rootfs`), the gofer mounts 1...
    /// it serves, bind mounts for a spawned gofer, and the root overlay (--overlay2 root:self).
    public var goferFD: Int32? = nil
    public var goferMounts: [(destination: String, readOnly: Bool)] = []
    public var bindMounts: [BindMount] = []
    public var overlay = true
    /// How long the Sentry waits for a gofer reply before the gofer counts as dead (EIO from then on).
    public var goferTimeoutMilliseconds = 10_000
    /// config.json tmpfs mounts: destination and mount options (--tmpfs DEST[:OPTIONS]).
    public var tmpfsMounts: [(destination: String, options: [String])] = []
    /// config.json linux.sysctl (KEY=VALUE, dotted names) and linux.readonlyPaths.
    public var sysctls: [(key: String, value: String)] = []
    public var readonlyPaths: [String] = []
    /// A connected channel to bulwark-procfs from the launcher (nil: the Sentry starts its own).
    public var procfsFD: Int32? = nil
    public init(rootfs: String) { self.rootfs = rootfs }
}

public final class Kernel {
    nonisolated(unsafe) public static var shared: Kernel!

    var mutex = pthread_mutex_t()
    var cond = pthread_cond_t()
    /// The socket arena's doorbell from the netstack, once the netstack is up: tasks waiting for
    /// readiness sleep on its generation word and the netstack wakes them itself (WaitQueue.swift).
    var netBell: ArenaDoorbell? = nil
    /// One-way netstack requests are queued (NetstackConnection.queue): the run loop tells the
    /// connection after each system call, so a task that never sleeps still sends them.
    var oneWayQueued = false
    /// Tasks asleep on their own futex words and the wake-ups deferred to the unlock (WaitQueue.swift).
    let wakes = WakeState()
    let memory: MemoryFile
    let config: SentryConfig
    let vfs: VFS
    /// Synthetic trees (/proc, /sys, /dev/pts) and /dev character devices the VFS consults.
    let mounts = MountRegistry()
    /// /proc state the rest of the kernel does not keep, and the bulwark-procfs connection.
    let procfs = ProcfsState()
    var appSeccomp: AppSeccomp?   // config.json's linux.seccomp (AppSeccomp.swift); nil = no hook cost
    var faults: SyscallFaults?   // --fault syscall=... (SyscallFaults.swift); nil = no hook cost
    let asyncIO = AsyncIOTable()   // O_ASYNC owners (SysAsyncIO.swift)
    var threadGroups: [Int32: ThreadGroup] = [:]
    var tasks: [Int32: Task] = [:]
    var nextID: Int32 = 1
    var hostname: String
    var domainname = "(none)"
    /// Set when init exits: the Sentry's exit status.
    var finalStatus: Int32? = nil
    var reportedUnimplemented = Set<Int>()
    var cpuCount: Int32 = 1
    var nextCPU: Int32 = 0
    let startTime: timespec

    init(config: SentryConfig, memory: MemoryFile, vfs: VFS) {
        self.config = config
        self.memory = memory
        self.vfs = vfs
        self.hostname = config.hostname
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&cond, &attr)
        pthread_mutex_init(&mutex, nil)
        cpuCount = Int32(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        startTime = t
    }

    @inline(__always) func lock() { pthread_mutex_lock(&mutex) }
    /// Releases the kernel lock; wake-ups recorded while it was held are issued after it (WaitQueue.swift).
    @inline(__always) func unlock() {
        if wakes.due { unlockAndWake() } else { pthread_mutex_unlock(&mutex) }
    }
    /// Wakes every waiter: the kernel condition's and every sleeping task (any kind).
    func broadcast() { pthread_cond_broadcast(&cond); wakeAllSleepers() }

    func allocateID() -> Int32 {
        while threadGroups[nextID] != nil || tasks[nextID] != nil {
            nextID = nextID >= 4_000_000 ? 2 : nextID + 1
        }
        let id = nextID
        nextID = nextID >= 4_000_000 ? 2 : nextID + 1
        return id
    }

    /// Picks the CPU for a new task's tracer thread and stub (round robin); both are pinned to it
    /// because a ptrace stop/resume across CPUs costs ~20x more than on one CPU.
    func pickCPU() -> Int32 {
        let c = nextCPU % cpuCount
        nextCPU += 1
        return c
    }

    /// Waits on the kernel condition (kernel lock held) until woken or `deadline` (CLOCK_MONOTONIC)
    /// passes. Returns false on timeout.
    @discardableResult
    func waitCond(deadline: timespec?) -> Bool {
        if wakes.due { flushWakes() }   // the condition wait releases the lock itself
        if var d = deadline { return pthread_cond_timedwait(&cond, &mutex, &d) == 0 }
        pthread_cond_wait(&cond, &mutex)
        return true
    }

    /// One line per sandbox per unimplemented system call.
    func reportUnimplemented(_ nr: Int, task: Task) {
        if reportedUnimplemented.insert(nr).inserted {
            let name = SyscallTable.name(nr)
            log("bulwark-sentry: unimplemented system call \(name) (\(nr)) -> ENOSYS\n")
        }
    }

    func log(_ s: String) {
        var s = s
        s.withUTF8 { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(config.logFD, b.baseAddress! + off, b.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }
}

@inline(__always) func monotonicNow() -> timespec {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t
}

func addNanos(_ t: timespec, _ ns: Int) -> timespec {
    var r = t
    let total = r.tv_nsec + ns % 1_000_000_000
    r.tv_sec += ns / 1_000_000_000 + total / 1_000_000_000
    r.tv_nsec = total % 1_000_000_000
    return r
}

func lessThan(_ a: timespec, _ b: timespec) -> Bool {
    a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec)
}

/// A value or an errno (Int32 is not an Error, so Swift's Result does not fit).
enum KResult<T> {
    case success(T)
    case failure(Int32)
}

// Linux flag values Swift's Glibc module leaves out (they need _GNU_SOURCE).
let O_PATH: Int32 = 0o10000000
let O_DIRECT: Int32 = 0o40000
let O_NOATIME: Int32 = 0o1000000

// The Sentry's own seccomp allowlist (issue 6): installed by `bulwark-sentry run` after set-up (VFS
// booted, gofer and procfs connected, platform ready) and before the application's first instruction,
// for every Sentry thread (TSYNC). Each host syscall the Sentry makes is listed with its reason; the
// list was found by running the Sentry test suites with the filter in log mode
// (BULWARK_SENTRY_SECCOMP=log: unlisted calls run and are logged as audit type=1326 in dmesg).
//
// Default action TRAP, not KILL_PROCESS: stubs are vfork+exec'd by the Sentry, so they inherit this
// filter, and under systrap every application syscall must reach the stub's own TRAP filter; the kernel
// runs all stacked filters and KILL outranks TRAP, so a KILL default would kill the stub for every
// application syscall the Sentry itself does not need. With TRAP the application's calls still trap
// into the stub (TRAP + TRAP), while in the Sentry, which installs no SIGSYS handler, an unlisted call
// does not run and SIGSYS kills the process (force_sig_seccomp resets a blocked or ignored SIGSYS).
//
// `--no-seccomp` (or BULWARK_SENTRY_SECCOMP=off) skips it, for debugging with strace or gdb.
import Glibc
import HostOS

enum SentrySeccomp {
    enum Mode { case enforce, log, off }

    /// BULWARK_SENTRY_SECCOMP=off|log|enforce (default enforce); `--no-seccomp` sets .off.
    nonisolated(unsafe) static var mode: Mode = {
        guard let raw = getenv("BULWARK_SENTRY_SECCOMP") else { return .enforce }
        switch String(cString: raw) {
        case "off", "0", "none": return .off
        case "log": return .log
        default: return .enforce
        }
    }()

    /// TEST HOOK (HostOS/SeccompProbe.swift): the Control request at which the Sentry probes.
    nonisolated(unsafe) static let probeAt: Int? = SeccompProbe.armed(for: "sentry")
    nonisolated(unsafe) static var controlRequests = 0

    /// Called by ControlServer for every request: with the test hook armed, the Nth one makes a host
    /// syscall outside the policy (the Sentry then dies by SIGSYS).
    static func countControlRequest() {
        guard let at = probeAt else { return }
        controlRequests += 1
        if controlRequests == at {
            fputs("bulwark-sentry: \(SeccompProbe.variable): calling a host syscall outside the allowlist\n", stderr)
            SeccompProbe.callForbiddenSyscall()
        }
    }

    /// Installs the policy (or not, per `mode`); a failure to install is fatal: running unfiltered
    /// silently would be worse.
    /// `spawnsServices`: the Sentry may still start procfs or the netstack itself (no launcher channel
    /// for them), so their start-up calls are allowed too.
    static func install(spawnsServices: Bool, log: (String) -> Void) -> Bool {
        switch mode {
        case .off:
            return true
        case .log, .enforce:
            do {
                let rules = spawnsServices ? policy.adding(SeccompPolicy(name: "spawn", rules: spawn)) : policy
                try Seccomp.install(rules, otherwise: mode == .log ? .log : .trap)
                return true
            } catch {
                log("bulwark-sentry: installing the seccomp policy: \(error)\n")
                return false
            }
        }
    }

    static let policy = SeccompPolicy(name: "sentry", rules: memory + threads + platform + ipc + files + time + misc)

    static let memory: [SeccompRule] = [
        SeccompRule("mmap", "the memory file mapped into the Sentry; the allocator; stubs' map ops (stub code)"),
        SeccompRule("munmap", "unmapping memory-file windows; the allocator; stubs' unmap ops"),
        SeccompRule("mprotect", "the allocator (thread stacks' guard pages); stubs' mprotect ops"),
        SeccompRule("mremap", "the allocator grows large blocks"),
        SeccompRule("madvise", "the allocator returns pages; MADV_DONTNEED on freed memory-file ranges"),
        SeccompRule("brk", "the allocator's main heap"),
        SeccompRule("memfd_create", "the memory file and the socket arena"),
        SeccompRule("ftruncate", "growing the memory file"),
        SeccompRule("fallocate", "punching holes in the memory file when memory is freed"),
        SeccompRule("process_vm_readv", "reading a stub's memory (ptrace platform paths)"),
        SeccompRule("process_vm_writev", "writing a stub's memory (ptrace platform paths)"),
    ]

    static let threads: [SeccompRule] = [
        SeccompRule("clone", "one host thread per task; pthread_create"),
        SeccompRule("clone3", "pthread_create on glibc 2.34+"),
        SeccompRule("futex", "the kernel lock and conditions; stub mailboxes (systrap)"),
        SeccompRule("set_robust_list", "new threads (glibc)"),
        SeccompRule("rseq", "new threads register rseq (glibc 2.35+)"),
        SeccompRule("exit", "a task thread ends"),
        SeccompRule("exit_group", "the Sentry ends"),
        SeccompRule("sched_yield", "spin-then-yield waits"),
        SeccompRule("sched_getaffinity", "CPU count for the guest (sched_getaffinity, sysconf)"),
        SeccompRule("sched_setaffinity", "pinning task threads"),
        SeccompRule("gettid", "thread ids (Synchronization.Mutex, stubs' tgkill)"),
        SeccompRule("getpid", "own pid for logs and tgkill"),
        SeccompRule("tgkill", "interrupting a task thread; pthread_kill; raise"),
        SeccompRule("tkill", "interrupting a task thread"),
        SeccompRule("kill", "SIGKILL/SIGSTOP to stubs; killing self-spawned services"),
        SeccompRule("rt_sigprocmask", "blocking forwarded signals; pthread signal masks"),
        SeccompRule("rt_sigaction", "the stub's SIGSYS handler (stub code); signal dispositions"),
        SeccompRule("rt_sigreturn", "return from the stub's signal handler (systrap)"),
        SeccompRule("rt_sigtimedwait", "the signal forwarder's sigwait"),
        SeccompRule("sigaltstack", "the stub's signal stack (stub code); thread set-up"),
    ]

    static let platform: [SeccompRule] = [
        SeccompRule("ptrace", "the ptrace platform, and systrap's stub boot and injected calls"),
        SeccompRule("wait4", "waiting for ptrace stops and reaping stubs"),
        SeccompRule("waitid", "reaping stubs and self-spawned services"),
        SeccompRule("seccomp", "the systrap stub installs its own filter (stub code)"),
        SeccompRule("prctl", "PR_SET_PDEATHSIG in new stubs; PR_SET_NAME on threads"),
        SeccompRule("arch_prctl", "the guest's FS base in stubs"),
        SeccompRule("vfork", "new stubs (vfork + execveat of the stub image)"),
        SeccompRule("execveat", "new stubs: exec the stub image from its memfd"),
        SeccompRule("close_range", "new stubs and services close inherited descriptors"),
    ]

    static let ipc: [SeccompRule] = [
        SeccompRule("sendmsg", "requests to the gofer, procfs, netstack; control replies"),
        SeccompRule("recvmsg", "replies from services; control requests"),
        SeccompRule("sendto", "guest Unix sockets backed by host sockets"),
        SeccompRule("recvfrom", "guest Unix sockets backed by host sockets"),
        SeccompRule("setsockopt", "SO_RCVTIMEO/SO_SNDTIMEO per IPC call"),
        SeccompRule("getsockopt", "SO_TYPE/SO_ACCEPTCONN checks of inherited channels"),
        SeccompRule("accept4", "control connections"),
        SeccompRule("socketpair", "channels to self-spawned services"),
        SeccompRule("shutdown", "closing channels"),
        SeccompRule("eventfd2", "the netstack's doorbells"),
        SeccompRule("poll", "the netstack waker; bounded waits"),
        SeccompRule("ppoll", "poll as glibc issues it"),
        SeccompRule("epoll_create1", "guest epoll over host descriptors"),
        SeccompRule("epoll_ctl", "guest epoll over host descriptors"),
        SeccompRule("epoll_wait", "guest epoll over host descriptors"),
        SeccompRule("epoll_pwait", "guest epoll over host descriptors"),
    ]

    static let files: [SeccompRule] = [
        SeccompRule("read", "host stdio, pipes, eventfds, /proc/self/statm"),
        SeccompRule("write", "host stdio and logs; eventfd doorbells"),
        SeccompRule("readv", "guest I/O on host descriptors"),
        SeccompRule("writev", "guest I/O on host descriptors"),
        SeccompRule("pread64", "the memory file and host files"),
        SeccompRule("pwrite64", "the memory file and host files"),
        SeccompRule("preadv", "host files"),
        SeccompRule("pwritev", "host files"),
        SeccompRule("lseek", "host files"),
        SeccompRule("close", "descriptors"),
        SeccompRule("dup", "stdio"),
        SeccompRule("dup3", "stdio"),
        SeccompRule("fcntl", "CLOEXEC, flags"),
        SeccompRule("ioctl", "terminals (TCGETS, TIOCGWINSZ) on host stdio; FIONREAD"),
        SeccompRule("fstat", "host descriptors"),
        SeccompRule("newfstatat", "host files (glibc's fstat)"),
        SeccompRule("statx", "host files"),
        SeccompRule("openat", "/dev/null for exec stdio, /proc/self/statm, host files without a gofer"),
        SeccompRule("pipe2", "guest pipes' host side"),
        SeccompRule("fsync", "fsync of a file opened on a host descriptor the gofer donated (seen: python fsync on a --mount bind)"),
        SeccompRule("fdatasync", "fdatasync of a donated host descriptor"),
    ]

    static let time: [SeccompRule] = [
        SeccompRule("clock_gettime", "time (vDSO fallback)"),
        SeccompRule("gettimeofday", "time (vDSO fallback)"),
        SeccompRule("nanosleep", "bounded sleeps"),
        SeccompRule("clock_nanosleep", "bounded sleeps (glibc's nanosleep)"),
        SeccompRule("getrandom", "AT_RANDOM bytes and getrandom for the guest; Swift's hash seed"),
    ]

    static let misc: [SeccompRule] = [
        SeccompRule("uname", "the guest's uname is derived from the host's release"),
        SeccompRule("getuid", "glibc"),
        SeccompRule("getrusage", "guest getrusage/times"),
        SeccompRule("prlimit64", "rlimits"),
        SeccompRule("sysinfo", "guest sysinfo"),
        SeccompRule("readlink", "/proc/self/exe to find the services"),
        SeccompRule("readlinkat", "readlink"),
    ]

    /// Self-spawned services (tests run the Sentry without the launcher: it starts procfs and the
    /// netstack itself, after this filter is in, and they inherit it until their own is stacked on).
    static let spawn: [SeccompRule] = [
        SeccompRule("execve", "exec of bulwark-procfs / bulwark-netstack"),
        SeccompRule("dup2", "spawn.c: the child's stdio"),
        SeccompRule("set_tid_address", "the new process's libc start-up"),
        SeccompRule("access", "the new process's dynamic loader"),
        SeccompRule("capget", "ServiceKit's capability drop (libcap)"),
        SeccompRule("capset", "ServiceKit's capability drop (libcap)"),
        SeccompRule("socket", "a self-spawned netstack with --network sandbox: its AF_PACKET and netlink sockets"),
        SeccompRule("bind", "a self-spawned netstack with --network sandbox: binds them to the interface"),
        SeccompRule("getsockname", "a self-spawned netstack with --network sandbox: its netlink port id (finding the interface)"),
        SeccompRule("sendmmsg", "a self-spawned netstack with --network sandbox: the frames of one poll in one call"),
    ]
}

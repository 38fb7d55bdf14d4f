// The system call table. Support status is DATA (`SyscallTable.entries`: one entry per x86-64
// number); dispatch is one switch over the number (no allocation on the hot path). Anything not
// listed returns ENOSYS and is reported once per sandbox.
import CBulwark
import Glibc
import LinuxABI
import SentryMemory
import SentryPlatform

public enum SyscallSupport: Equatable {
    case supported
    case partial(String)
    case unimplemented
}

public enum SyscallTable {
    static let partialNotes: [Int: String] = [
        9: "file mappings are copies; MAP_SHARED host-file mappings are written back on msync/munmap/exit (not coherent with read/write in between)",
        16: "TCGETS/TCSETS/TIOCGWINSZ/TIOCGPGRP forwarded for host stdio; FIONREAD, FIONBIO, FIOCLEX, FIOASYNC (SysAsyncIO.swift); full tty set on Sentry ptys",
        25: "moves by copying",
        28: "DONTNEED/FREE zero private pages; other advice accepted",
        56: "no namespaces (CLONE_NEW* -> EPERM)",
        72: "record and OFD locks in the Sentry (SysFileLock.swift); O_ASYNC owners and F_SETSIG (SysAsyncIO.swift)",
        157: "PR_SET/GET_NAME, PDEATHSIG (stored), DUMPABLE, NO_NEW_PRIVS, capability and securebits ops (SysCredentials.swift)",
        116: "stored and used for permission checks",
        329: "key -1 only (no protection keys exist)", 330: "always ENOSPC: no protection keys", 331: "always EINVAL: no key is ever allocated",
        202: "WAIT, WAKE, WAIT/WAKE_BITSET, REQUEUE, CMP_REQUEUE",
        41: "AF_UNIX (in-Sentry), AF_INET/AF_INET6 (bulwark-netstack), AF_NETLINK NETLINK_ROUTE dumps; others EAFNOSUPPORT (logged)", 53: "AF_UNIX only; other families EAFNOSUPPORT",
        49: "AF_UNIX path names live in the Sentry's name table only (no file is created)",
        54: "AF_UNIX: SO_PASSCRED, SO_SNDBUF, SO_RCVBUF, SO_RCVTIMEO, SO_SNDTIMEO; IP sockets: see docs (some stored only); others ENOPROTOOPT",
        299: "a loop over recvmsg", 307: "a loop over sendmsg",
        232: "EPOLLET edges from readiness changes plus new-data counters (pipes, eventfd, ptys, unix sockets)", 281: "as epoll_wait", 441: "as epoll_wait",
        222: "SIGEV_SIGNAL/NONE/THREAD_ID; no SIGEV_THREAD (libc builds it on THREAD_ID)", 225: "overruns not counted",
        38: "ITIMER_REAL only", 36: "ITIMER_REAL only",
        228: "CPU-time clocks approximated by monotonic time since start",
        435: "deliberately ENOSYS: libc falls back to clone(2); not reported",
        334: "deliberately ENOSYS (glibc and others fall back); not reported",
        165: "tmpfs, bind (without submounts) and read-only remounts; other types ENODEV",
    ]
    static let supportedNumbers: [Int] = [
        73, 282, 289,   // flock, signalfd, signalfd4 (SysFileLock.swift, SignalFD.swift)
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 28,
        32, 33, 34, 35, 39, 56, 57, 58, 59, 60, 61, 62, 63, 72, 79, 80, 81, 83, 84, 86, 87, 88, 89, 90, 91, 92, 93, 94,
        95, 96, 97, 98, 99, 100, 102, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118,
        119, 120, 121, 124, 127, 128, 130, 131, 132, 133, 157, 158, 160, 170, 171, 186, 200, 201, 202, 204,
        217, 218, 228, 229, 230, 231, 234, 247, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
        41, 53, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55, 288, 284, 290, 283, 286, 287, 36, 37, 38, 213, 291, 233, 232, 281, 441, 222, 223, 224, 225, 226, 40, 85, 326, 295, 296, 436, 74, 75, 76, 77, 137, 138, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 221, 270, 271, 273, 274, 280, 292, 293, 302, 309, 316, 318, 322, 332, 439,
        235, 161, 162, 306, 277, 285, 437, 165, 166,
        253, 254, 255, 294, 155, 275, 276, 187,   // inotify (SysInotify.swift), pivot_root, splice, tee, readahead (SysSplice.swift)
        26,   // msync (SysMemory.swift)
        122, 123, 125, 126, 135,   // setfsuid, setfsgid, capget, capset (SysCredentials.swift), personality (SysMisc.swift)
    ]
    public static let entries: [SyscallSupport] = {
        var t = [SyscallSupport](repeating: .unimplemented, count: SyscallNumber.count)
        for n in supportedNumbers { t[n] = .supported }
        for (n, note) in partialNotes { t[n] = .partial(note) }
        return t
    }()

    public static func name(_ nr: Int) -> String { SyscallNumber(rawValue: nr).name ?? "syscall_\(nr)" }
    public static func support(_ nr: Int) -> SyscallSupport { nr >= 0 && nr < entries.count ? entries[nr] : .unimplemented }
}

extension Task {
    func handleSyscall() {
        let r = regs
        let nr = Int(Int64(bitPattern: r.orig_rax))
        let a0 = r.rdi, a1 = r.rsi, a2 = r.rdx, a3 = r.r10, a4 = r.r8, a5 = r.r9
        SyscallCounts.record(nr)   // bulwark debug --syscalls (SyscallCountsUnsafe.swift)
        let ret: Int
        if let filter = kernel.appSeccomp, let v = appSeccompVerdict(filter, nr, (a0, a1, a2, a3, a4, a5)) {
            ret = v   // config.json's linux.seccomp refused it (AppSeccomp.swift)
        } else {
            ret = kernel.faults == nil ? dispatch(nr, a0, a1, a2, a3, a4, a5) : faultDispatch(nr, a0, a1, a2, a3, a4, a5)
        }
        countIO(nr, ret)   // /proc/<pid>/io (ProcfsCounters.swift)
        if ret != noReturn {
            // In place (the stub's modify accessor): not a get and a set of the whole register set.
            stub.regs.rax = UInt64(bitPattern: Int64(ret))
            syscallRestartable = true
        }
        if kernel.config.strace { strace(nr, [a0, a1, a2, a3, a4, a5], ret) }
    }

    @inline(__always) private func i(_ v: UInt64) -> Int { Int(Int64(bitPattern: v)) }
    @inline(__always) private func i32(_ v: UInt64) -> Int32 { Int32(truncatingIfNeeded: v) }
    @inline(__always) private func u32(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }

    func dispatch(_ nr: Int, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64, _ a5: UInt64) -> Int {
        switch nr {
        case 0: return sysRead(i(a0), a1, i(a2))
        case 1: return sysWrite(i(a0), a1, i(a2))
        case 2: return sysOpenat(AT_FDCWD_, a0, i32(a1), UInt32(truncatingIfNeeded: a2))
        case 3: return sysCloseFD(i(a0))   // releases record locks (SysFileLock.swift)
        case 4: return sysNewfstatat(AT_FDCWD_, a0, a1, 0)
        case 5: return sysFstat(i(a0), a1)
        case 6: return sysNewfstatat(AT_FDCWD_, a0, a1, AT_SYMLINK_NOFOLLOW_)
        case 7: return sysPoll(a0, i(a1), i32(a2))
        case 8:
            guard let f = fds.get(i(a0)) else { return errno(EBADF) }
            return f.seek(i(a1), i32(a2))
        case 9: return sysMmap(a0, a1, i32(a2), i32(a3), i32(a4), a5)
        case 10: return sysMprotect(a0, a1, i32(a2))
        case 329: return sysPkeyMprotect(a0, a1, i32(a2), i32(a3))   // SysMemory.swift: no keys exist
        case 330: return sysPkeyAlloc(a0, a1)
        case 331: return errno(EINVAL)                                // pkey_free: no key was allocated
        case 11: return sysMunmap(a0, a1)
        case 12: return sysBrk(a0)
        case 13: return sysRtSigaction(i(a0), a1, a2, i(a3))
        case 14: return sysRtSigprocmask(i(a0), a1, a2, i(a3))
        case 15: return sigreturn() == 0 ? noReturn : noReturn
        case 16: return sysIoctl(i(a0), a1, a2)
        case 17: return sysPread(i(a0), a1, i(a2), i(a3))
        case 18: return sysPwrite(i(a0), a1, i(a2), i(a3))
        case 19: return sysReadv(i(a0), a1, i(a2), offset: nil)
        case 20: return sysWritev(i(a0), a1, i(a2), offset: nil)
        case 21: return sysFaccessat(AT_FDCWD_, a0, i32(a1), 0)
        case 22: return sysPipe2(a0, 0)
        case 23: return sysSelect(i(a0), a1, a2, a3, a4)
        case 24: return 0   // sched_yield
        case 25: return sysMremap(a0, a1, a2, i32(a3), a4)
        case 28: return sysMadvise(a0, a1, i32(a2))
        case 26: return sysMsync(a0, a1, i32(a2))
        case 32:
            guard let f = fds.get(i(a0)) else { return errno(EBADF) }
            return fds.install(f, cloexec: false)
        case 33: return sysDup3(i(a0), i(a1), 0, allowSame: true)
        case 34: return sysPause()
        case 35: return sysNanosleep(a0, a1)
        case 39: return Int(tg.pid)
        case 56: return sysClone(a0, a1, a2, a3, a4)
        case 57: return sysClone(UInt64(SIGCHLD), 0, 0, 0, 0)                         // fork
        case 58: return sysClone(CLONE_VM | CLONE_VFORK | UInt64(SIGCHLD), 0, 0, 0, 0) // vfork
        case 59: return sysExecveat(AT_FDCWD_, a0, a1, a2, 0)
        case 60: return sysExit(i(a0), group: false)
        case 61: return sysWait4(Int(Int32(truncatingIfNeeded: a0)), a1, i32(a2), a3)
        case 62: return sysKill(Int(Int32(truncatingIfNeeded: a0)), i(a1))
        case 63: return sysUname(a0)
        case 72: return sysFcntl(i(a0), i32(a1), a2)
        case 73: return sysFlock(i(a0), i32(a1))
        case 282: return sysSignalfd4(Int(Int32(truncatingIfNeeded: a0)), a1, i(a2), 0)
        case 289: return sysSignalfd4(Int(Int32(truncatingIfNeeded: a0)), a1, i(a2), i32(a3))
        case 79: return sysGetcwd(a0, i(a1))
        case 80: return sysChdir(a0)
        case 81: return sysFchdir(i(a0))
        case 83: return sysMkdirat(AT_FDCWD_, a0, UInt32(truncatingIfNeeded: a1))
        case 84: return sysUnlinkat(AT_FDCWD_, a0, 0x200)                              // rmdir
        case 87: return sysUnlinkat(AT_FDCWD_, a0, 0)                                  // unlink
        case 90: return sysFchmodat(AT_FDCWD_, a0, UInt32(truncatingIfNeeded: a1), 0)   // chmod
        case 88: return sysSymlinkat(a0, AT_FDCWD_, a1)
        case 76: return sysTruncate(a0, i(a1))
        case 77: return sysFtruncate(i(a0), i(a1))
        case 74, 75: return sysFsync(i(a0), dataOnly: nr == 75)
        case 86: return sysLinkat(AT_FDCWD_, a0, AT_FDCWD_, a1, 0)                       // link
        case 92: return sysFchownat(AT_FDCWD_, a0, UInt32(truncatingIfNeeded: a1), UInt32(truncatingIfNeeded: a2), 0)   // chown
        case 94: return sysFchownat(AT_FDCWD_, a0, UInt32(truncatingIfNeeded: a1), UInt32(truncatingIfNeeded: a2), AT_SYMLINK_NOFOLLOW_)   // lchown
        case 133: return sysMknodat(AT_FDCWD_, a0, UInt32(truncatingIfNeeded: a1), a2)  // mknod
        case 82: return sysRenameat2(AT_FDCWD_, a0, AT_FDCWD_, a1, 0)
        case 89: return sysReadlinkat(AT_FDCWD_, a0, a1, i(a2))
        case 91: return sysFchmod(i(a0), UInt32(truncatingIfNeeded: a1))
        case 93: return sysFchown(i(a0), UInt32(truncatingIfNeeded: a1), UInt32(truncatingIfNeeded: a2))
        case 95: let o = fsctx.umask; fsctx.umask = UInt32(a0 & 0o777); return Int(o)
        case 96: return sysGettimeofday(a0, a1)
        case 97: return sysPrlimit(0, i(a0), 0, a1)
        case 98: return sysGetrusage(i32(a0), a1)   // ProcfsCounters.swift
        case 99: return sysSysinfo(a0)
        case 100: return sysTimes(a0)               // ProcfsCounters.swift
        // Credentials: SysCredentials.swift.
        case 102: return Int(tg.cred.ruid)
        case 107: return Int(tg.cred.euid)
        case 104: return Int(tg.cred.rgid)
        case 108: return Int(tg.cred.egid)
        case 105: return sysSetid(u32(a0), gid: false)
        case 106: return sysSetid(u32(a0), gid: true)
        case 113: return sysSetreid(u32(a0), u32(a1), gid: false)
        case 114: return sysSetreid(u32(a0), u32(a1), gid: true)
        case 117: return sysSetresid(u32(a0), u32(a1), u32(a2), gid: false)
        case 119: return sysSetresid(u32(a0), u32(a1), u32(a2), gid: true)
        case 118: return sysGetresid(a0, a1, a2, gid: false)
        case 120: return sysGetresid(a0, a1, a2, gid: true)
        case 122: return sysSetfsid(u32(a0), gid: false)
        case 123: return sysSetfsid(u32(a0), gid: true)
        case 135: return sysPersonality(a0)   // SysMisc.swift
        case 125: return sysCapget(a0, a1)
        case 126: return sysCapset(a0, a1)
        case 109: return sysSetpgid(i(a0), i(a1))
        case 110: return Int(tg.parent?.pid ?? 0)
        case 111: return Int(tg.pgid)
        case 112:
            if tg.pgid == tg.pid { return errno(EPERM) }
            tg.sid = tg.pid; tg.pgid = tg.pid; return Int(tg.pid)
        case 115: return sysGetgroups(i(a0), a1)
        case 116: return sysSetgroups(i(a0), a1)
        case 121:
            if a0 == 0 { return Int(tg.pgid) }
            guard let t = kernel.threadGroups[Int32(truncatingIfNeeded: a0)] else { return errno(ESRCH) }
            return Int(t.pgid)
        case 124:
            if a0 == 0 { return Int(tg.sid) }
            guard let t = kernel.threadGroups[Int32(truncatingIfNeeded: a0)] else { return errno(ESRCH) }
            return Int(t.sid)
        case 127: return sysRtSigpending(a0, i(a1))
        case 128: return sysRtSigtimedwait(a0, a1, a2, i(a3))
        case 130: return sysRtSigsuspend(a0, i(a1))
        case 131: return sysSigaltstack(a0, a1)
        case 132: return sysUtime(a0, a1)
        case 235: return sysFutimesat(AT_FDCWD_, a0, a1)                                 // utimes
        case 161: return sysChroot(a0)
        case 162: return 0                                                            // sync: data goes to the host at write time
        case 306: return fds.get(i(a0)) == nil ? errno(EBADF) : 0                      // syncfs
        case 277: return fds.get(i(a0)) == nil ? errno(EBADF) : 0                      // sync_file_range: writes are already on the host
        case 285: return sysFallocate(i(a0), i32(a1), i(a2), i(a3))
        case 437: return sysOpenat2(i32(a0), a1, a2, i(a3))
        case 165: return sysMount(a0, a1, a2, a3, a4)
        case 166: return sysUmount2(a0, i32(a1))
        case 157: return sysPrctl(i(a0), a1, a2)
        case 158: return sysArchPrctl(i(a0), a1)
        case 160: return sysPrlimit(0, i(a0), a1, 0)
        case 170: return sysSethostname(a0, i(a1), domain: false)
        case 171: return sysSethostname(a0, i(a1), domain: true)
        case 186: return Int(tid)
        case 200: return sysTgkill(-1, i(a0), i(a1))
        case 201: return sysTime(a0)
        case 202: return sysFutex(a0, i32(a1), UInt32(truncatingIfNeeded: a2), a3, a4, UInt32(truncatingIfNeeded: a5))
        case 204: return sysSchedGetaffinity(i(a0), i(a1), a2)
        case 217: return sysGetdents64(i(a0), a1, i(a2))
        case 218: clearChildTID = a0; return Int(tid)
        case 228: return sysClockGettime(i32(a0), a1)
        case 229: return sysClockGetres(i32(a0), a1)
        case 230: return sysClockNanosleep(i32(a0), i32(a1), a2, a3)
        case 231: return sysExit(i(a0), group: true)
        case 234: return sysTgkill(i(a0), i(a1), i(a2))
        case 247: return sysWaitid(i(a0), i(a1), a2, i32(a3))
        case 257: return sysOpenat(i32(a0), a1, i32(a2), UInt32(truncatingIfNeeded: a3))
        case 258: return sysMkdirat(i32(a0), a1, UInt32(truncatingIfNeeded: a2))
        case 263: return sysUnlinkat(i32(a0), a1, i32(a2))
        case 268: return sysFchmodat(i32(a0), a1, UInt32(truncatingIfNeeded: a2), 0)
        case 452: return sysFchmodat(i32(a0), a1, UInt32(truncatingIfNeeded: a2), i32(a3))   // fchmodat2
        case 266: return sysSymlinkat(a0, i32(a1), a2)
        case 259: return sysMknodat(i32(a0), a1, UInt32(truncatingIfNeeded: a2), a3)
        case 260: return sysFchownat(i32(a0), a1, UInt32(truncatingIfNeeded: a2), UInt32(truncatingIfNeeded: a3), i32(a4))
        case 265: return sysLinkat(i32(a0), a1, i32(a2), a3, i32(a4))
        case 264: return sysRenameat2(i32(a0), a1, i32(a2), a3, 0)
        case 316: return sysRenameat2(i32(a0), a1, i32(a2), a3, UInt32(truncatingIfNeeded: a4))
        case 261: return sysFutimesat(i32(a0), a1, a2)
        case 262: return sysNewfstatat(i32(a0), a1, a2, i32(a3))
        case 267: return sysReadlinkat(i32(a0), a1, a2, i(a3))
        case 269: return sysFaccessat(i32(a0), a1, i32(a2), 0)
        case 439: return sysFaccessat(i32(a0), a1, i32(a2), i32(a3))
        case 270: return sysPselect6(i(a0), a1, a2, a3, a4, a5)
        case 271: return sysPpoll(a0, i(a1), a2, a3, i(a4))
        case 273: robustList = a0; return 0
        case 274: return errno(EPERM)
        case 280: return sysUtimensat(i32(a0), a1, a2, i32(a3))
        case 292: return sysDup3(i(a0), i(a1), i32(a2), allowSame: false)
        case 293: return sysPipe2(a0, i32(a1))
        case 302: return sysPrlimit(i(a0), i(a1), a2, a3)
        case 309: // getcpu
            if a0 != 0 && !mm.write(a0, UInt32(cpu)) { return errno(EFAULT) }
            if a1 != 0 && !mm.write(a1, UInt32(0)) { return errno(EFAULT) }
            return 0
        case 318: return sysGetrandom(a0, i(a1), UInt32(truncatingIfNeeded: a2))
        case 322: return sysExecveat(i32(a0), a1, a2, a3, i32(a4))
        case 41: return sysSocket(i32(a0), i32(a1), i32(a2))
        case 53: return sysSocketpair(i32(a0), i32(a1), i32(a2), a3)
        case 42: return sysConnect(i(a0), a1, i(a2))
        case 43: return sysAccept(i(a0), a1, a2, 0)
        case 288: return sysAccept(i(a0), a1, a2, i32(a3))
        case 44: return sysSendto(i(a0), a1, i(a2), i32(a3), a4, i(a5))
        case 45: return sysRecvfrom(i(a0), a1, i(a2), i32(a3), a4, a5)
        case 46: return sysSendmsg(i(a0), a1, i32(a2))
        case 47: return sysRecvmsg(i(a0), a1, i32(a2))
        case 48: return sysShutdown(i(a0), i32(a1))
        case 49: return sysBind(i(a0), a1, i(a2))
        case 50: return sysListen(i(a0), i32(a1))
        case 51: return sysGetsockname(i(a0), a1, a2, peer: false)
        case 52: return sysGetsockname(i(a0), a1, a2, peer: true)
        case 54: return sysSetsockopt(i(a0), i32(a1), i32(a2), a3, i(a4))
        case 55: return sysGetsockopt(i(a0), i32(a1), i32(a2), a3, a4)
        case 299: return sysRecvmmsg(i(a0), a1, i(a2), i32(a3), a4)                      // SysMmsg.swift
        case 307: return sysSendmmsg(i(a0), a1, i(a2), i32(a3))
        case 188, 189: return sysSetxattr(.path(a0, follow: nr == 188), a1, a2, i(a3), i32(a4))
        case 190: return sysSetxattr(.fd(i(a0)), a1, a2, i(a3), i32(a4))
        case 191, 192: return sysGetxattr(.path(a0, follow: nr == 191), a1, a2, i(a3))
        case 193: return sysGetxattr(.fd(i(a0)), a1, a2, i(a3))
        case 194, 195: return sysListxattr(.path(a0, follow: nr == 194), a1, i(a2))
        case 196: return sysListxattr(.fd(i(a0)), a1, i(a2))
        case 197, 198: return sysRemovexattr(.path(a0, follow: nr == 197), a1)
        case 199: return sysRemovexattr(.fd(i(a0)), a1)
        case 137: return sysStatfs(a0, a1)
        case 138: return sysFstatfs(i(a0), a1)
        case 284: return sysEventfd2(UInt32(truncatingIfNeeded: a0), 0)
        case 290: return sysEventfd2(UInt32(truncatingIfNeeded: a0), i32(a1))
        case 283: return sysTimerfdCreate(i32(a0), i32(a1))
        case 286: return sysTimerfdSettime(i(a0), i32(a1), a2, a3)
        case 287: return sysTimerfdGettime(i(a0), a1)
        case 36: return sysGetitimer(i(a0), a1)
        case 38: return sysSetitimer(i(a0), a1, a2)
        case 37: return sysAlarm(UInt32(truncatingIfNeeded: a0))
        case 213: return i(a0) <= 0 ? errno(EINVAL) : sysEpollCreate1(0)
        case 291: return sysEpollCreate1(i32(a0))
        case 233: return sysEpollCtl(i(a0), i(a1), i(a2), a3)
        case 232: return sysEpollWait(i(a0), a1, i(a2), deadline: msDeadline(i32(a3)), maskAddr: 0)
        case 281: return sysEpollWait(i(a0), a1, i(a2), deadline: msDeadline(i32(a3)), maskAddr: a4)
        case 441:
            switch readTimeout(a3) {
            case .success(let d): return sysEpollWait(i(a0), a1, i(a2), deadline: d, maskAddr: a4)
            case .failure(let e): return errno(e)
            }
        case 295: return sysReadv(i(a0), a1, i(a2), offset: i(a3) < 0 ? nil : i(a3))    // preadv
        case 296: return sysWritev(i(a0), a1, i(a2), offset: i(a3) < 0 ? nil : i(a3))   // pwritev
        case 85: return sysOpenat(AT_FDCWD_, a0, O_CREAT | O_WRONLY | O_TRUNC, UInt32(truncatingIfNeeded: a1))   // creat
        case 326: return sysCopyFileRange(i(a0), a1, i(a2), a3, i(a4), UInt32(truncatingIfNeeded: a5))
        case 222: return sysTimerCreate(i32(a0), a1, a2)
        case 223: return sysTimerSettime(i(a0), i32(a1), a2, a3)
        case 224: return sysTimerGettime(i(a0), a1)
        case 225: return posixTimer(i(a0)) == nil ? errno(EINVAL) : 0   // timer_getoverrun: overruns not counted
        case 226: return sysTimerDelete(i(a0))
        case 40: return sysSendfile(i(a0), i(a1), a2, i(a3))
        case 436: // close_range
            guard a0 <= a1, a2 & ~UInt64(6) == 0 else { return errno(EINVAL) }
            if a2 & 2 != 0 { fds = fds.copy() }   // CLOSE_RANGE_UNSHARE
            let last = Int(min(a1, UInt64(fds.entries.count - 1 < 0 ? 0 : fds.entries.count - 1)))
            if Int(min(a0, UInt64(Int.max))) <= last && !fds.entries.isEmpty {
                for fd in Int(a0)...last where fds.entries[fd] != nil {
                    if a2 & 4 != 0 { fds.entries[fd]!.cloexec = true } else { releaseRecordLocks(closing: fd); fds.entries[fd] = nil }
                }
            }
            return 0
        case 221: return fds.get(i(a0)) == nil ? errno(EBADF) : 0   // fadvise64: advice may be ignored
        case 435: return errno(ENOSYS)   // clone3: deliberately ENOSYS so libc falls back to clone; not reported
        case 334: return errno(ENOSYS)   // rseq: deliberately not offered (glibc falls back); not reported
        case 332: return sysStatx(i32(a0), a1, i32(a2), UInt32(truncatingIfNeeded: a3), a4)
        case 253: return sysInotifyInit1(0)
        case 294: return sysInotifyInit1(i32(a0))
        case 254: return sysInotifyAddWatch(i(a0), a1, UInt32(truncatingIfNeeded: a2))
        case 255: return sysInotifyRmWatch(i(a0), i32(a1))
        case 155: return sysPivotRoot(a0, a1)
        case 275: return sysSplice(i(a0), a1, i(a2), a3, i(a4), UInt32(truncatingIfNeeded: a5))
        case 276: return sysTee(i(a0), i(a1), i(a2), UInt32(truncatingIfNeeded: a3))
        case 187: return sysReadahead(i(a0), i(a1), i(a2))
        default:
            kernel.reportUnimplemented(nr, task: self)
            return errno(ENOSYS)
        }
    }
}

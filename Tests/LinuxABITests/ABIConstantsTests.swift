// The generated constants (values computed from the kernel's uapi headers) checked against an independent
// source: glibc's own headers, for the names glibc defines with the kernel's value. Also the lookups.
import Foundation
import Testing
import TestSupport
import LinuxABI

/// A C constant's name and our value for it.
struct N: Sendable {
    let name: String
    let value: Int64
    init(_ name: String, _ value: some BinaryInteger) { self.name = name; self.value = Int64(truncatingIfNeeded: value) }
}

@Suite struct ABIConstantsTests {
    /// (C name, our value). glibc defines each of these names itself (not by including the kernel's
    /// uapi header), except where noted.
    static let checked: [N] = [
        N("SIGHUP", Signal.SIGHUP.rawValue), N("SIGKILL", Signal.SIGKILL.rawValue),
        N("SIGSEGV", Signal.SIGSEGV.rawValue), N("SIGCHLD", Signal.SIGCHLD.rawValue),
        N("SIGSTOP", Signal.SIGSTOP.rawValue), N("SIGSYS", Signal.SIGSYS.rawValue),
        N("SIGWINCH", Signal.SIGWINCH.rawValue), N("SIGPWR", Signal.SIGPWR.rawValue),
        N("SA_SIGINFO", SigActionFlags.SA_SIGINFO.rawValue), N("SA_RESTART", SigActionFlags.SA_RESTART.rawValue),
        N("SA_ONSTACK", SigActionFlags.SA_ONSTACK.rawValue), N("SA_NODEFER", SigActionFlags.SA_NODEFER.rawValue),
        N("SA_RESETHAND", SigActionFlags.SA_RESETHAND.rawValue),
        N("SA_NOCLDSTOP", SigActionFlags.SA_NOCLDSTOP.rawValue),
        N("SIG_BLOCK", SignalConstants.SIG_BLOCK), N("SIG_SETMASK", SignalConstants.SIG_SETMASK),
        N("SS_DISABLE", SignalConstants.SS_DISABLE),
        N("SI_USER", SigInfoCode.SI_USER), N("SI_TKILL", SigInfoCode.SI_TKILL),
        N("SI_TIMER", SigInfoCode.SI_TIMER), N("SEGV_MAPERR", SigInfoCode.SEGV_MAPERR),
        N("CLD_EXITED", SigInfoCode.CLD_EXITED), N("TRAP_BRKPT", SigInfoCode.TRAP_BRKPT),
        N("O_CLOEXEC", OpenFlags.O_CLOEXEC.rawValue), N("O_DIRECTORY", OpenFlags.O_DIRECTORY.rawValue),
        N("O_NOFOLLOW", OpenFlags.O_NOFOLLOW.rawValue), N("O_TMPFILE", OpenFlags.O_TMPFILE.rawValue),
        N("O_PATH", OpenFlags.O_PATH.rawValue), N("O_SYNC", OpenFlags.O_SYNC.rawValue),
        N("O_NONBLOCK", OpenFlags.O_NONBLOCK.rawValue), N("O_APPEND", OpenFlags.O_APPEND.rawValue),
        N("O_CREAT", OpenFlags.O_CREAT.rawValue), N("O_EXCL", OpenFlags.O_EXCL.rawValue),
        N("O_TRUNC", OpenFlags.O_TRUNC.rawValue), N("O_ACCMODE", OpenFlags.O_ACCMODE.rawValue),
        N("F_DUPFD_CLOEXEC", FcntlCommand.F_DUPFD_CLOEXEC.rawValue), N("F_GETFL", FcntlCommand.F_GETFL.rawValue),
        N("F_SETLK", FcntlCommand.F_SETLK.rawValue), N("F_OFD_SETLK", FcntlCommand.F_OFD_SETLK.rawValue),
        N("F_ADD_SEALS", FcntlCommand.F_ADD_SEALS.rawValue), N("F_SETPIPE_SZ", FcntlCommand.F_SETPIPE_SZ.rawValue),
        N("FD_CLOEXEC", FcntlConstants.FD_CLOEXEC), N("F_SEAL_WRITE", FcntlConstants.F_SEAL_WRITE),
        N("F_WRLCK", FcntlConstants.F_WRLCK),
        N("AT_FDCWD", FcntlConstants.AT_FDCWD), N("AT_SYMLINK_NOFOLLOW", AtFlags.AT_SYMLINK_NOFOLLOW.rawValue),
        N("AT_EMPTY_PATH", AtFlags.AT_EMPTY_PATH.rawValue), N("AT_REMOVEDIR", AtFlags.AT_REMOVEDIR.rawValue),
        N("PROT_EXEC", MmapProt.PROT_EXEC.rawValue), N("MAP_ANONYMOUS", MmapFlags.MAP_ANONYMOUS.rawValue),
        N("MAP_FIXED_NOREPLACE", MmapFlags.MAP_FIXED_NOREPLACE.rawValue),
        N("MAP_STACK", MmapFlags.MAP_STACK.rawValue), N("MAP_32BIT", MmapFlags.MAP_32BIT.rawValue),
        N("MADV_DONTNEED", MmapConstants.MADV_DONTNEED), N("MREMAP_MAYMOVE", MmapConstants.MREMAP_MAYMOVE),
        N("MS_SYNC", MmapConstants.MS_SYNC),
        N("CLONE_VM", CloneFlags.CLONE_VM.rawValue), N("CLONE_THREAD", CloneFlags.CLONE_THREAD.rawValue),
        N("CLONE_SETTLS", CloneFlags.CLONE_SETTLS.rawValue),
        N("CLONE_CHILD_CLEARTID", CloneFlags.CLONE_CHILD_CLEARTID.rawValue),
        N("CLONE_NEWUSER", CloneFlags.CLONE_NEWUSER.rawValue), N("CLONE_PIDFD", CloneFlags.CLONE_PIDFD.rawValue),
        N("WNOHANG", WaitOptions.WNOHANG.rawValue), N("WEXITED", WaitOptions.WEXITED.rawValue),
        N("__WALL", WaitOptions.__WALL.rawValue), N("P_PIDFD", WaitIDType.P_PIDFD.rawValue),
        N("AT_RANDOM", AuxvType.AT_RANDOM.rawValue), N("AT_SYSINFO_EHDR", AuxvType.AT_SYSINFO_EHDR.rawValue),
        N("AT_PHDR", AuxvType.AT_PHDR.rawValue), N("AT_EXECFN", AuxvType.AT_EXECFN.rawValue),
        N("AT_HWCAP2", AuxvType.AT_HWCAP2.rawValue), N("AT_MINSIGSTKSZ", AuxvType.AT_MINSIGSTKSZ.rawValue),
        N("TCGETS", IoctlRequest.TCGETS), N("TIOCGWINSZ", IoctlRequest.TIOCGWINSZ),
        N("FIONREAD", IoctlRequest.FIONREAD), N("TIOCSPGRP", IoctlRequest.TIOCSPGRP),
        N("POLLIN", PollEvents.POLLIN.rawValue), N("POLLRDHUP", PollEvents.POLLRDHUP.rawValue),
        N("EPOLLIN", EpollConstants.EPOLLIN), N("EPOLLET", EpollConstants.EPOLLET), N("EPOLL_CTL_MOD", EpollConstants.EPOLL_CTL_MOD),
        N("EPOLLEXCLUSIVE", EpollConstants.EPOLLEXCLUSIVE),
        N("RLIMIT_NOFILE", RLimitResource.RLIMIT_NOFILE.rawValue),
        N("RLIMIT_STACK", RLimitResource.RLIMIT_STACK.rawValue), N("RUSAGE_THREAD", ResourceConstants.RUSAGE_THREAD),
        N("CLOCK_MONOTONIC", ClockID.CLOCK_MONOTONIC.rawValue), N("CLOCK_BOOTTIME", ClockID.CLOCK_BOOTTIME.rawValue),
        N("TIMER_ABSTIME", TimerConstants.TIMER_ABSTIME),
        N("PR_SET_NAME", Prctl.PR_SET_NAME), N("PR_SET_NO_NEW_PRIVS", Prctl.PR_SET_NO_NEW_PRIVS),
        N("PR_SET_SECCOMP", Prctl.PR_SET_SECCOMP),
        N("SEEK_DATA", SeekWhence.SEEK_DATA.rawValue), N("SEEK_HOLE", SeekWhence.SEEK_HOLE.rawValue),
        N("RENAME_NOREPLACE", RenameFlags.RENAME_NOREPLACE.rawValue), N("RENAME_EXCHANGE", RenameFlags.RENAME_EXCHANGE.rawValue),
        N("MFD_CLOEXEC", MemfdFlags.MFD_CLOEXEC.rawValue), N("MFD_ALLOW_SEALING", MemfdFlags.MFD_ALLOW_SEALING.rawValue),
        N("GRND_NONBLOCK", GetrandomFlags.GRND_NONBLOCK.rawValue), N("GRND_RANDOM", GetrandomFlags.GRND_RANDOM.rawValue),
        N("SOL_SOCKET", SocketConstants.SOL_SOCKET), N("SO_PEERCRED", SocketConstants.SO_PEERCRED),
        N("SO_REUSEADDR", SocketConstants.SO_REUSEADDR), N("SO_RCVBUF", SocketConstants.SO_RCVBUF),
        N("SO_RCVTIMEO", SocketConstants.SO_RCVTIMEO_OLD),      // glibc's 64-bit time_t picks the _OLD number
        N("ICANON", TermiosConstants.ICANON), N("ECHO", TermiosConstants.ECHO), N("ISIG", TermiosConstants.ISIG),
        N("VMIN", TermiosConstants.VMIN), N("VEOF", TermiosConstants.VEOF), N("B38400", TermiosConstants.B38400),
        N("CSIZE", TermiosConstants.CSIZE), N("OPOST", TermiosConstants.OPOST), N("ICRNL", TermiosConstants.ICRNL),
        N("IN_CLOSE_WRITE", Inotify.IN_CLOSE_WRITE), N("IN_NONBLOCK", Inotify.IN_NONBLOCK),
        N("S_IFMT", FileMode.S_IFMT), N("S_IFDIR", FileMode.S_IFDIR), N("S_ISUID", FileMode.S_ISUID),
    ]

    @Test func valuesAgreeWithGlibcHeaders() throws {
        // Converted to unsigned 32 bits where glibc's constant is an unsigned int with the top bit set
        // (EPOLLET, __WCLONE): compare as the C expression (long long)(NAME) evaluates.
        var src = """
            #define _GNU_SOURCE
            #include <stdio.h>
            #include <fcntl.h>
            #include <signal.h>
            #include <sys/mman.h>
            #include <sched.h>
            #include <sys/wait.h>
            #include <elf.h>
            #include <sys/ioctl.h>
            #include <poll.h>
            #include <sys/epoll.h>
            #include <sys/resource.h>
            #include <time.h>
            #include <sys/prctl.h>
            #include <sys/stat.h>
            #include <sys/random.h>
            #include <sys/socket.h>
            #include <termios.h>
            #include <sys/inotify.h>
            #include <unistd.h>
            int main(void) {

            """
        for n in Self.checked { let name = n.name
            src += "  printf(\"%s %lld\\n\", \"\(name)\", (long long)(\(name)));\n"
        }
        src += "  return 0;\n}\n"
        let output = try TestPaths.withScratchDirectory("abi-consts") { dir -> String in
            let c = dir.appendingPathComponent("consts.c").path, exe = dir.appendingPathComponent("consts").path
            try src.write(toFile: c, atomically: true, encoding: .utf8)
            let cc = try ProcessRunner.run("/usr/bin/cc", ["-w", "-o", exe, c], timeout: 60)
            try #require(cc.exitCode == 0, "cc: \(cc.stderr)")
            let run = try ProcessRunner.run(exe, timeout: 20)
            try #require(run.exitCode == 0, "\(run)")
            return run.stdout
        }
        var glibc: [String: Int64] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { glibc[String(parts[0])] = Int64(parts[1]) }
        }
        for n in Self.checked {
            let (name, ours) = (n.name, n.value)
            let theirs = try #require(glibc[name], "glibc printed no \(name)")
            // glibc spells some bit-31 flags as unsigned int and others as int: compare the low 32 bits
            // when either side is a 32-bit pattern.
            #expect(ours == theirs || UInt32(truncatingIfNeeded: ours) == UInt32(truncatingIfNeeded: theirs),
                    "\(name): ours \(ours), glibc \(theirs)")
        }
    }

    @Test func namesLookUpBothWays() {
        #expect(Signal.SIGKILL.name == "SIGKILL")
        #expect(Signal(name: "SIGTERM") == Signal.SIGTERM)
        #expect(Signal(rawValue: 6).name == "SIGABRT")        // first name in header order wins over SIGIOT
        #expect(Signal(rawValue: 40).name == "Signal(40)")   // a real-time signal without its own name
        #expect(Signal(name: "SIGNOPE") == nil)
        #expect(FcntlCommand(rawValue: 1030).name == "F_DUPFD_CLOEXEC")
        #expect(AuxvType(name: "AT_RANDOM")?.rawValue == 25)
        #expect(ClockID.CLOCK_MONOTONIC.description == "CLOCK_MONOTONIC")
    }

    @Test func sigSetAndSigInfoUseTheConstants() throws {
        var set = SigSet(signals: [Signal.SIGINT.rawValue, Signal.SIGRTMAX.rawValue])
        #expect(set.bits == (UInt64(1) << 1) | (UInt64(1) << 63))
        #expect(set.contains(Signal.SIGINT.rawValue) && !set.contains(Signal.SIGKILL.rawValue))
        set.remove(Signal.SIGINT.rawValue)
        set.insert(0); set.insert(65)          // out of range: ignored, never a trap
        #expect(set.bits == UInt64(1) << 63)
        let info = SigInfo.child(code: SigInfoCode.CLD_EXITED, pid: 42, uid: 1000, status: 3, utime: 5, stime: 6)
        let back = try SigInfo(bytes: info.bytes)
        #expect(back.si_signo == Signal.SIGCHLD.rawValue && back.si_pid == 42 && back.si_status == 3 && back.si_stime == 6)
    }
}

// Decoding bytes the real kernel wrote: a C program (written at test time) makes raw system calls, prints
// the raw output buffers in hex and, next to them, the values glibc (or the program itself) knows; the
// Swift decoders must find the same values in the same bytes.
import Foundation
import Testing
import TestSupport
import LinuxABI

enum KernelProgram {
    static let source = #"""
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <signal.h>
        #include <unistd.h>
        #include <fcntl.h>
        #include <sys/syscall.h>
        #include <sys/stat.h>
        #include <sys/wait.h>
        #include <sys/epoll.h>
        #include <sys/utsname.h>
        #include <sys/resource.h>

        static void hex(const char *name, const void *p, size_t n) {
            const unsigned char *b = p;
            printf("%s ", name);
            for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
            printf("\n");
        }

        #include <setjmp.h>
        static sigjmp_buf fault_jump;
        static unsigned char fault_info[128], fault_uc[304], fault_fp[512], fault_frame[440];
        static void on_segv(int sig, siginfo_t *si, void *uc) {
            (void)sig;
            memcpy(fault_info, si, 128);
            memcpy(fault_uc, uc, 304);
            memcpy(fault_frame, (char *)uc - 8, 440);   /* the rt_sigframe starts 8 bytes below uc */
            unsigned long fp; memcpy(&fp, (char *)uc + 40 + 184, 8);   /* uc_mcontext.fpstate */
            if (fp) memcpy(fault_fp, (void *)fp, 512);
            siglongjmp(fault_jump, 1);
        }
        static unsigned char handled[128];
        static void on_usr1(int sig, siginfo_t *si, void *uc) { (void)sig; (void)uc; memcpy(handled, si, 128); }

        int main(int argc, char **argv) {
            const char *dir = argv[1];
            unsigned char buf[4096];

            /* stat(2): the kernel's 144-byte struct, compared with glibc's stat() of the same path */
            memset(buf, 0, sizeof buf);
            if (syscall(SYS_stat, dir, buf) != 0) return 10;
            hex("stat", buf, 144);
            struct stat st; stat(dir, &st);
            printf("stat.ino %llu\nstat.mode %u\nstat.nlink %llu\nstat.mtime_nsec %ld\nstat.blksize %ld\n",
                   (unsigned long long)st.st_ino, st.st_mode, (unsigned long long)st.st_nlink,
                   st.st_mtim.tv_nsec, (long)st.st_blksize);

            /* statx(2) */
            memset(buf, 0, sizeof buf);
            if (syscall(SYS_statx, AT_FDCWD, dir, 0, 0x7ff, buf) != 0) return 11;
            hex("statx", buf, 256);

            /* getdents64(2) into a zeroed buffer */
            memset(buf, 0, sizeof buf);
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
            if (n <= 0) return 12;
            hex("dents", buf, (size_t)n);
            close(dfd);

            /* siginfo from waitid(2): a child exits with status 3 */
            pid_t child = fork();
            if (child == 0) _exit(3);
            siginfo_t wsi; memset(&wsi, 0, sizeof wsi);
            if (waitid(P_PID, child, &wsi, WEXITED) != 0) return 13;
            hex("waitid", &wsi, 128);
            printf("child.pid %d\n", (int)child);

            /* siginfo delivered to an SA_SIGINFO handler by sigqueue */
            struct sigaction sa; memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = on_usr1; sa.sa_flags = SA_SIGINFO | SA_RESTART;
            sigemptyset(&sa.sa_mask); sigaddset(&sa.sa_mask, SIGINT);
            sigaction(SIGUSR1, &sa, NULL);
            /* the runner may have spawned us with signals blocked: unblock SIGUSR1 so delivery is synchronous */
            sigset_t un; sigemptyset(&un); sigaddset(&un, SIGUSR1); sigprocmask(SIG_UNBLOCK, &un, NULL);
            union sigval v; v.sival_int = 1234;
            sigqueue(getpid(), SIGUSR1, v);
            hex("handled", handled, 128);
            printf("self.pid %d\nself.uid %u\n", (int)getpid(), (unsigned)getuid());

            /* a real page fault: the kernel's siginfo, ucontext and FPU state as the handler sees them */
            struct sigaction sv; memset(&sv, 0, sizeof sv);
            sv.sa_sigaction = on_segv; sv.sa_flags = SA_SIGINFO; sigemptyset(&sv.sa_mask);
            sigaction(SIGSEGV, &sv, NULL);
            sigset_t segv; sigemptyset(&segv); sigaddset(&segv, SIGSEGV); sigprocmask(SIG_UNBLOCK, &segv, NULL);
            if (sigsetjmp(fault_jump, 1) == 0) { *(volatile int *)0x1234 = 1; return 20; }
            hex("faultinfo", fault_info, 128);
            hex("faultuc", fault_uc, 304);
            hex("faultfp", fault_fp, 512);
            hex("faultframe", fault_frame, 440);

            /* rt_sigaction(2) reads back the kernel's struct sigaction (8-byte mask) */
            unsigned char old[32]; memset(old, 0, sizeof old);
            if (syscall(SYS_rt_sigaction, SIGUSR1, NULL, old, 8) != 0) return 14;
            hex("sigaction", old, 32);
            printf("sigaction.handler %llu\n", (unsigned long long)(unsigned long)on_usr1);

            /* epoll_wait(2): one readable pipe with a 64-bit cookie */
            int p[2]; if (pipe(p) != 0) return 15;
            int ep = epoll_create1(EPOLL_CLOEXEC);
            struct epoll_event ev; ev.events = EPOLLIN; ev.data.u64 = 0x1122334455667788ULL;
            epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
            if (write(p[1], "x", 1) != 1) return 16;
            memset(buf, 0, sizeof buf);
            if (syscall(SYS_epoll_wait, ep, buf, 4, 1000) != 1) return 17;
            hex("epoll", buf, 24);

            /* uname(2) */
            memset(buf, 0, sizeof buf);
            if (syscall(SYS_uname, buf) != 0) return 18;
            hex("uname", buf, 390);
            struct utsname u; uname(&u);
            printf("uname.release %s\nuname.machine %s\n", u.release, u.machine);

            /* prlimit64(2) */
            memset(buf, 0, sizeof buf);
            if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, buf) != 0) return 19;
            hex("rlimit", buf, 16);
            struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl);
            printf("rlimit.cur %llu\nrlimit.max %llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
            return 0;
        }
        """#

    struct Output: Sendable {
        var bytes: [String: [UInt8]] = [:]
        var values: [String: String] = [:]
        var entries: [String] = []
    }

    struct Failure: Error, Sendable, CustomStringConvertible { var description: String }

    /// Compiles and runs the program once per test process, against a scratch directory with known files.
    static let output: Result<Output, Failure> = {
        do {
            return .success(try TestPaths.withScratchDirectory("abi-kernel") { dir in
                let tree = dir.appendingPathComponent("tree")
                try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
                let names = ["a", "bb", "ccccccc", "a-name-of-twenty-two"]
                for n in names { try Data("x".utf8).write(to: tree.appendingPathComponent(n)) }
                try FileManager.default.createDirectory(at: tree.appendingPathComponent("sub"), withIntermediateDirectories: false)
                let src = dir.appendingPathComponent("kernel.c").path, exe = dir.appendingPathComponent("kernel").path
                try source.write(toFile: src, atomically: true, encoding: .utf8)
                let cc = try ProcessRunner.run("/usr/bin/cc", ["-O1", "-Wall", "-o", exe, src], timeout: 60)
                guard cc.exitCode == 0 else { throw Failure(description: "cc: \(cc.stderr)") }
                let run = try ProcessRunner.run(exe, [tree.path], timeout: 20)
                guard run.exitCode == 0 else { throw Failure(description: "program: \(run)") }
                var out = Output(entries: names + ["sub", ".", ".."])
                for line in run.stdout.split(separator: "\n") {
                    guard let space = line.firstIndex(of: " ") else { continue }
                    let key = String(line[..<space]), rest = String(line[line.index(after: space)...])
                    if key.contains(".") { out.values[key] = rest } else { out.bytes[key] = fromHex(rest) }
                }
                return out
            })
        } catch let f as Failure {
            return .failure(f)
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()

    static func fromHex(_ s: String) -> [UInt8] {
        var out: [UInt8] = [], chars = Array(s.utf8), i = 0
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
        while i + 1 < chars.count { out.append(nibble(chars[i]) << 4 | nibble(chars[i + 1])); i += 2 }
        return out
    }
}

@Suite struct ABIKernelTests {
    func run() throws -> KernelProgram.Output { try KernelProgram.output.get() }

    @Test func statMatchesGlibc() throws {
        let o = try run()
        let s = try Stat(bytes: try #require(o.bytes["stat"]))
        #expect("\(s.st_ino)" == o.values["stat.ino"])
        #expect("\(s.st_mode)" == o.values["stat.mode"])
        #expect("\(s.st_nlink)" == o.values["stat.nlink"])
        #expect("\(s.st_mtime_nsec)" == o.values["stat.mtime_nsec"])
        #expect("\(s.st_blksize)" == o.values["stat.blksize"])
        #expect(s.st_mode & FileMode.S_IFMT == FileMode.S_IFDIR)
    }

    @Test func statxAgreesWithStat() throws {
        let o = try run()
        let s = try Stat(bytes: try #require(o.bytes["stat"]))
        let x = try Statx(bytes: try #require(o.bytes["statx"]))
        #expect(StatxMask(rawValue: x.stx_mask).contains([.STATX_INO, .STATX_MODE, .STATX_MTIME]))
        #expect(x.stx_ino == s.st_ino)
        #expect(UInt32(x.stx_mode) == s.st_mode)
        #expect(UInt64(x.stx_nlink) == s.st_nlink)
        #expect(x.stx_mtime.tv_sec == Int64(s.st_mtime) && UInt64(x.stx_mtime.tv_nsec) == s.st_mtime_nsec)
        #expect(x.stx_blksize == UInt32(s.st_blksize))
    }

    @Test func getdents64RecordsDecodeAndReencodeByteForByte() throws {
        let o = try run()
        let kernel = try #require(o.bytes["dents"])
        var names: [String] = [], offset = 0
        var ours = [UInt8](repeating: 0, count: kernel.count)
        try kernel.withUnsafeBytes { raw in
            try ours.withUnsafeMutableBytes { out in
                while offset < raw.count {
                    let d = try Dirent64(decoding: raw, at: offset)
                    names.append(String(decoding: d.d_name, as: UTF8.self))
                    #expect(Int(d.d_reclen) == Dirent64.recordLength(nameLength: d.d_name.count))
                    let written = Dirent64.encode(ino: d.d_ino, off: d.d_off, type: d.d_type, name: d.d_name,
                                                  into: out, at: offset)
                    #expect(written == Int(d.d_reclen))
                    if d.d_name == Array("sub".utf8) { #expect(d.d_type == Dirent64.FileType.directory) }
                    if d.d_name == Array("bb".utf8) { #expect(d.d_type == Dirent64.FileType.regular) }
                    offset += Int(d.d_reclen)
                }
            }
        }
        #expect(Set(names) == Set(o.entries))
        #expect(ours == kernel, "our encoder's bytes differ from the kernel's")
    }

    @Test func direntEncoderStopsWhenFullAndDecoderRejectsBadLengths() throws {
        var buf = [UInt8](repeating: 0xEE, count: 40)
        let first = buf.withUnsafeMutableBytes {
            Dirent64.encode(ino: 1, off: 1, type: 8, name: "abcdef".utf8, into: $0, at: 0)
        }
        #expect(first == 32)
        let second = buf.withUnsafeMutableBytes {
            Dirent64.encode(ino: 2, off: 2, type: 8, name: "x".utf8, into: $0, at: 32)
        }
        #expect(second == nil)                          // 24 bytes needed, 8 left: nothing written
        #expect(buf[32...].allSatisfy { $0 == 0xEE })
        #expect(buf[25..<32].allSatisfy { $0 == 0 })    // NUL and padding are zeroed
        var bad = buf
        bad[16] = 5; bad[17] = 0                        // d_reclen shorter than the header
        #expect(throws: ABIError.invalidLength(5)) { try bad.withUnsafeBytes { _ = try Dirent64(decoding: $0) } }
        bad[16] = 200                                   // past the end of the buffer
        #expect(throws: ABIError.truncated(needed: 200, available: 40)) {
            try bad.withUnsafeBytes { _ = try Dirent64(decoding: $0) }
        }
        bad[16] = 24; for i in 19..<24 { bad[i] = 0x41 }  // no NUL inside the record
        #expect(throws: ABIError.invalidLength(24)) { try bad.withUnsafeBytes { _ = try Dirent64(decoding: $0) } }
        #expect(throws: ABIError.truncated(needed: 19, available: 10)) {
            try Array(buf[0..<10]).withUnsafeBytes { _ = try Dirent64(decoding: $0) }
        }
    }

    @Test func sigchldSiginfoFromWaitid() throws {
        let o = try run()
        let si = try SigInfo(bytes: try #require(o.bytes["waitid"]))
        #expect(si.si_signo == Signal.SIGCHLD.rawValue)
        #expect(si.si_code == SigInfoCode.CLD_EXITED)
        #expect("\(si.si_pid)" == o.values["child.pid"])
        #expect(si.si_status == 3)
    }

    @Test func queuedSiginfoInAHandler() throws {
        let o = try run()
        let si = try SigInfo(bytes: try #require(o.bytes["handled"]))
        #expect(si.si_signo == Signal.SIGUSR1.rawValue)
        #expect(si.si_code == SigInfoCode.SI_QUEUE)
        #expect("\(si.si_pid)" == o.values["self.pid"])
        #expect("\(si.si_uid)" == o.values["self.uid"])
        #expect(si.si_int == 1234)
    }

    @Test func pageFaultSignalFrame() throws {
        let o = try run()
        let si = try SigInfo(bytes: try #require(o.bytes["faultinfo"]))
        #expect(si.si_signo == Signal.SIGSEGV.rawValue)
        #expect(si.si_code == SigInfoCode.SEGV_MAPERR)
        #expect(si.si_addr == 0x1234)
        let uc = try UContext(bytes: try #require(o.bytes["faultuc"]))
        #expect(uc.uc_mcontext.cr2 == 0x1234)
        #expect(uc.uc_mcontext.trapno == 14)                 // #PF
        #expect(uc.uc_mcontext.err & 2 != 0)                 // a write
        #expect(uc.uc_mcontext.rip != 0 && uc.uc_mcontext.rsp != 0 && uc.uc_mcontext.fpstate != 0)
        #expect(uc.uc_mcontext.cs == 0x33)                   // the 64-bit user code segment
        #expect(uc.uc_flags & 2 != 0)                        // UC_SIGCONTEXT_SS
        #expect(!uc.uc_sigmask.contains(Signal.SIGSEGV.rawValue))
        let frame = try RTSigFrame(bytes: try #require(o.bytes["faultframe"]))
        #expect(frame.uc == uc)                              // the kernel put info right after uc, as declared
        #expect(frame.info.si_addr == 0x1234 && frame.info.si_signo == Signal.SIGSEGV.rawValue)
        #expect(frame.pretcode != 0)                         // glibc's __restore_rt
        let fp = try FPState(bytes: try #require(o.bytes["faultfp"]))
        #expect(fp.mxcsr & 0xffc0 == 0x1f80)                 // all SSE exceptions masked, as at process start
        if uc.uc_flags & 1 != 0 {                            // UC_FP_XSTATE: an XSAVE area follows
            #expect(fp.sw_reserved.load(0, as: UInt32.self) == FPState.xstateMagic1)
        }
    }

    @Test func rtSigactionReadsTheKernelStruct() throws {
        let o = try run()
        let sa = try SigAction(bytes: try #require(o.bytes["sigaction"]))
        #expect("\(sa.sa_handler)" == o.values["sigaction.handler"])
        let flags = SigActionFlags(rawValue: sa.sa_flags)
        #expect(flags.contains([.SA_SIGINFO, .SA_RESTART, .SA_RESTORER]))   // glibc adds its restorer
        #expect(sa.sa_restorer != 0)
        #expect(sa.sa_mask.contains(Signal.SIGINT.rawValue) && !sa.sa_mask.contains(Signal.SIGTERM.rawValue))
    }

    @Test func epollEventIsPacked() throws {
        let o = try run()
        let bytes = try #require(o.bytes["epoll"])
        let ev = try EpollEvent(bytes: bytes)
        #expect(ev.events == EpollConstants.EPOLLIN)
        #expect(ev.data == 0x1122_3344_5566_7788)
        #expect(bytes[12...].allSatisfy { $0 == 0 })   // one event occupies exactly 12 bytes
    }

    @Test func unameAndPrlimit() throws {
        let o = try run()
        let u = try UTSName(bytes: try #require(o.bytes["uname"]))
        #expect(u.sysname.cString == "Linux")
        #expect(u.release.cString == o.values["uname.release"])
        #expect(u.machine.cString == o.values["uname.machine"])
        let r = try RLimit(bytes: try #require(o.bytes["rlimit"]))
        #expect("\(r.rlim_cur)" == o.values["rlimit.cur"])
        #expect("\(r.rlim_max)" == o.values["rlimit.max"])
    }
}

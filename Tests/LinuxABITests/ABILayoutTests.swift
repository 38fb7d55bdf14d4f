// THE LAYOUT TEST: for every guest struct, a C program written at test time includes the real kernel
// (or libc) headers and prints sizeof and offsetof/sizeof of every declared field; it is compiled with
// /usr/bin/cc, run, and its numbers must equal the Swift declarations.
import Foundation
import Testing
import TestSupport
import LinuxABI

/// Headers per translation unit. Kernel definitions are used wherever glibc's differ:
/// - struct stat: <asm/stat.h> (x86-64 kernel struct; glibc's is identical on x86-64).
/// - struct sigaction, sigset_t, stack_t: <asm/signal.h>, which on x86-64 (non-__i386__) declares the
///   kernel's rt_sigaction struct (handler, flags, restorer, mask) and the 8-byte sigset_t.
/// - siginfo_t: <asm/siginfo.h> -> <asm-generic/siginfo.h> (si_* are the kernel's member macros).
/// - timespec/timeval/itimerspec/itimerval: <linux/time_types.h> (__kernel_* 64-bit forms).
/// - struct termios: <asm/termbits.h> (the 36-byte struct TCGETS copies, not glibc's 60-byte one);
///   struct winsize: <asm/termios.h>.
/// - struct new_utsname: <linux/utsname.h>; struct sysinfo: <linux/sysinfo.h>; struct tms: <linux/times.h>;
///   struct rlimit, rusage: <linux/resource.h>; struct iovec: <linux/uio.h>; struct pollfd: <linux/poll.h>;
///   struct epoll_event: <linux/eventpoll.h> (packed on x86-64); sockaddrs: <linux/in.h>, <linux/in6.h>,
///   <linux/un.h>, <linux/netlink.h>; struct statx: <linux/stat.h>.
/// - struct linux_dirent64 is not in the uapi headers: it is declared below exactly as the kernel's
///   include/linux/dirent.h declares it (u64 d_ino; s64 d_off; unsigned short d_reclen;
///   unsigned char d_type; char d_name[];), using the uapi types from <linux/types.h>.
/// - struct sigcontext, struct _fpstate_64: <asm/sigcontext.h>; struct ucontext: <asm/ucontext.h>;
///   struct clone_args: <linux/sched.h>; struct flock: <asm/fcntl.h>; struct statfs: <asm/statfs.h>.
/// - struct rt_sigframe is not in the uapi headers: declared below as the kernel's
///   arch/x86/include/asm/sigframe.h declares it for x86-64 (pretcode, struct ucontext uc, struct siginfo info).
/// - msghdr, cmsghdr, ucred: glibc <sys/socket.h> (_GNU_SOURCE); the kernel's user_msghdr
///   (include/linux/socket.h, not uapi) has the same layout on x86-64.
enum LayoutProgram {
    static let prologue: [CGroup: String] = [
        .kernel: """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/types.h>
            #include <asm/stat.h>
            #include <linux/stat.h>
            #include <linux/time_types.h>
            #include <linux/uio.h>
            #include <asm/signal.h>
            #include <asm/siginfo.h>
            #include <linux/resource.h>
            #include <linux/utsname.h>
            #include <linux/sysinfo.h>
            #include <linux/times.h>
            #include <linux/eventpoll.h>
            #include <linux/poll.h>
            #include <linux/in.h>
            #include <linux/in6.h>
            #include <linux/un.h>
            #include <linux/netlink.h>
            #include <asm/termbits.h>
            #include <asm/termios.h>
            #include <asm/sigcontext.h>
            #include <asm/ucontext.h>
            #include <linux/sched.h>
            #include <asm/fcntl.h>
            #include <asm/statfs.h>
            struct rt_sigframe { char *pretcode; struct ucontext uc; struct siginfo info; };
            struct linux_dirent64 { __u64 d_ino; __s64 d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };
            """,
        .libc: """
            #define _GNU_SOURCE
            #include <stdio.h>
            #include <stddef.h>
            #include <sys/socket.h>
            """,
    ]

    /// The C source printing "S name sizeof" and "F name field offset size" lines for `cases`.
    static func source(_ group: CGroup, _ cases: [ABICase]) -> String {
        var lines = [prologue[group]!, "int main(void) {"]
        for c in cases {
            lines.append("  printf(\"S %s %zu\\n\", \"\(c.name)\", sizeof(\(c.cType)));")
            for f in c.fields {
                if f.name.isEmpty {          // the whole value is the field (sigset_t is a plain integer)
                    lines.append("  printf(\"F %s %s %zu %zu\\n\", \"\(c.name)\", \"\", (size_t)0, sizeof(\(c.cType)));")
                } else if f.size == 0 {      // flexible array member: offset only
                    lines.append("  printf(\"F %s %s %zu %zu\\n\", \"\(c.name)\", \"\(f.name)\", offsetof(\(c.cType), \(f.name)), (size_t)0);")
                } else {
                    lines.append("  printf(\"F %s %s %zu %zu\\n\", \"\(c.name)\", \"\(f.name)\", offsetof(\(c.cType), \(f.name)), sizeof(((\(c.cType) *)0)->\(f.name)));")
                }
            }
        }
        lines += ["  return 0;", "}", ""]
        return lines.joined(separator: "\n")
    }

    struct Measured: Sendable {
        var sizes: [String: Int] = [:]
        var fields: [String: [FieldInfo]] = [:]
    }

    struct Failure: Error, Sendable, CustomStringConvertible { var description: String }

    /// Writes, compiles and runs one program per translation unit; done once per test process.
    static let measured: Result<Measured, Failure> = {
        do {
            return .success(try TestPaths.withScratchDirectory("abi-layout") { dir in
                var m = Measured()
                for group in CGroup.allCases {
                    let cases = allCases.filter { $0.group == group }
                    let src = dir.appendingPathComponent("layout-\(group.rawValue).c").path
                    let exe = dir.appendingPathComponent("layout-\(group.rawValue)").path
                    try source(group, cases).write(toFile: src, atomically: true, encoding: .utf8)
                    let cc = try ProcessRunner.run("/usr/bin/cc", ["-std=gnu11", "-Wall", "-o", exe, src], timeout: 60)
                    guard cc.exitCode == 0 else { throw Failure(description: "cc failed for \(group):\n\(cc.stderr)") }
                    let run = try ProcessRunner.run(exe, [], timeout: 20)
                    guard run.exitCode == 0 else { throw Failure(description: "layout program failed: \(run)") }
                    for line in run.stdout.split(separator: "\n") {
                        let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                        if parts.count == 3, parts[0] == "S" {
                            m.sizes[parts[1]] = Int(parts[2])
                        } else if parts.count == 5, parts[0] == "F" {
                            m.fields[parts[1], default: []].append(
                                FieldInfo(name: parts[2], offset: Int(parts[3]) ?? -1, size: Int(parts[4]) ?? -1))
                        }
                    }
                }
                return m
            })
        } catch let f as Failure {
            return .failure(f)
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()
}

@Suite struct ABILayoutTests {
    @Test(arguments: allCases)
    func sizeAndOffsetsMatchTheCCompiler(_ c: ABICase) throws {
        let m = try LayoutProgram.measured.get()
        let cSize = try #require(m.sizes[c.name], "no C size for \(c.name)")
        #expect(cSize == c.size, "sizeof(\(c.cType)) = \(cSize), Swift declares \(c.size)")
        #expect(m.fields[c.name, default: []] == c.fields, "\(c.name): C fields differ from the Swift table")
    }

    @Test func kernelStructsDifferFromGlibcWhereExpected() throws {
        // The points where the kernel and glibc differ, so a wrong header choice cannot go unnoticed.
        #expect(SigSet.size == 8)                 // glibc sigset_t is 128 bytes
        #expect(Termios.size == 36)               // glibc struct termios is 60 bytes
        #expect(EpollEvent.size == 12)            // packed on x86-64 only
        #expect(SigAction.layout.fields.map(\.name) == ["sa_handler", "sa_flags", "sa_restorer", "sa_mask"])
        #expect(SigInfo.size == 128)
        #expect(Dirent64.nameOffset == 19)
    }
}

// The Sentry VFS against native Linux, for what issue #4's done-when list names beyond vfs_paths.c:
// the remaining syscall families with their error cases (EACCES as a non-root user, EROFS on
// read-only mounts, chroot, pivot_root, O_TMPFILE, FIFO O_RDWR, splice/tee), inotify, `find /usr`
// counting, sha256sum of 100 MB, python tree operations under the root, single-file bind mounts,
// bind mounts that do not reach beyond their source, and a directory/symlink rename race.
import Foundation
import Testing
import TestSupport

@Suite("Sentry VFS families")
struct VFSFamilyTests {
    static func scratch(_ tag: String) -> String { "/tmp/bulwark-vfsf-\(tag)-\(UUID().uuidString.prefix(8))" }

    /// Runs Tests/Programs/<name>.c natively and in the sandbox on fresh directories and compares
    /// the outputs line by line (the directories replaced by "D").
    func compare(_ name: String, args: [String] = [], extra: [String] = []) throws {
        let prog = try Sentry.compile(name)
        let s = Self.scratch("s"), n = Self.scratch("n")
        defer { try? FileManager.default.removeItem(atPath: s); try? FileManager.default.removeItem(atPath: n) }
        let native = try Sentry.native([prog, n] + args, timeout: 30)
        let sandbox = try Sentry.run([prog, s] + args, extra: extra, timeout: 60)
        #expect(!sandbox.timedOut)
        #expect(native.stdout.hasSuffix("done\n"), "\(native)")
        let sl = sandbox.stdout.replacingOccurrences(of: s, with: "D").split(separator: "\n")
        let nl = native.stdout.replacingOccurrences(of: n, with: "D").split(separator: "\n")
        for (a, b) in zip(sl, nl) where a != b { Issue.record("sandbox: \(a)\nnative:  \(b)") }
        #expect(sl.count == nl.count, "\(sandbox.stderr)")
    }

    @Test func syscallFamiliesAndErrorCasesMatchNative() throws { try compare("vfs_families") }

    /// st_dev per mount (stat, statx, fstat, mountinfo and maps agree; one device per file system
    /// instance): the overlay's upper and lower objects share the overlay's device, /dev/shm has its own.
    @Test func deviceNumbersPerMountFollowLinuxRules() throws {
        try compare("stdev", args: getuid() == 0 ? ["mount"] : [])
    }

    /// relatime on tmpfs and the overlay's upper layer (kept by the Sentry), noatime and strictatime
    /// tmpfs mounts, O_NOATIME.
    @Test func accessTimesFollowRelatime() throws {
        try compare("atime", args: getuid() == 0 ? ["mount"] : [])
    }

    /// The same through the gofer: the host keeps gofer files' atime; the Sentry's cache follows.
    @Test func accessTimesFollowRelatimeThroughTheGofer() throws {
        try compare("atime", args: getuid() == 0 ? ["mount"] : [], extra: ["--overlay2", "none"])
    }

    @Test func deviceNumbersPerMountThroughTheGofer() throws {
        try compare("stdev", args: getuid() == 0 ? ["mount"] : [], extra: ["--overlay2", "none"])
    }

    @Test func inotifyMatchesNativeOnTheOverlay() throws { try compare("inotify") }

    @Test func inotifyMatchesNativeThroughTheGofer() throws { try compare("inotify", extra: ["--overlay2", "none"]) }

    @Test func findUsrPyCountMatchesNative() throws {
        let script = "/usr/bin/find /usr -name '*.py' | /usr/bin/wc -l"
        let n = try Sentry.native(["/bin/sh", "-c", script], timeout: 60)
        let s = try Sentry.run(["/bin/sh", "-c", script], timeout: 120)
        #expect(!s.timedOut)
        #expect(Int(n.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0)
        #expect(s.stdout == n.stdout, "\(s.stderr)")
    }

    @Test func sha256sumOf100MBMatchesNative() throws {
        try TestPaths.withScratchDirectory("bulwark-vfsf-sha") { dir in
            let file = dir.path + "/big"
            // Deterministic, not all zeros: a 1 MiB pattern block written 100 times.
            var block = [UInt8](repeating: 0, count: 1 << 20)
            for i in 0..<block.count { block[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
            FileManager.default.createFile(atPath: file, contents: nil)
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            for _ in 0..<100 { h.write(Data(block)) }
            try h.close()
            let n = try Sentry.native(["/usr/bin/sha256sum", file], timeout: 60)
            let s = try Sentry.run(["/usr/bin/sha256sum", file], timeout: 120)
            #expect(n.stdout.count > 64)
            #expect(s.stdout == n.stdout, "\(s.stderr)")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func pythonTreeUnderTheRootMatchesNative() throws {
        // Under "/" (the overlay's root directory, not /tmp): write, rename, list and read back.
        let tag = UUID().uuidString.prefix(8)
        let code = """
        import os, shutil, sys
        d = sys.argv[1]
        os.makedirs(d + "/a/b")
        for i in range(20):
            with open(f"{d}/a/b/f{i}", "w") as f: f.write(str(i) * i)
        os.rename(d + "/a/b", d + "/a/c")
        os.symlink("c/f3", d + "/a/l")
        os.link(d + "/a/c/f4", d + "/a/h")
        shutil.copytree(d + "/a", d + "/copy", symlinks=True)
        for root, dirs, files in sorted(os.walk(d)):
            print(root[len(d):], sorted(dirs), sorted(files))
        print(open(d + "/copy/l").read(), os.stat(d + "/a/h").st_nlink, os.readlink(d + "/copy/l"))
        shutil.rmtree(d)
        print("gone", os.path.exists(d))
        """
        let s = try Sentry.run(["/usr/bin/python3", "-c", code, "/bulwark-py-s-\(tag)"], timeout: 60)
        let n = try Sentry.native(["/usr/bin/python3", "-c", code, "/bulwark-py-n-\(tag)"], timeout: 60)
        #expect(n.stdout.hasSuffix("gone False\n"), "\(n)")
        #expect(s.stdout == n.stdout, "\(s.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/bulwark-py-s-\(tag)"))
    }

    @Test func singleFileBindMounts() throws {
        try TestPaths.withScratchDirectory("bulwark-vfsf-file") { dir in
            let rw = dir.path + "/rw.txt", ro = dir.path + "/ro.txt"
            try "host rw\n".write(toFile: rw, atomically: true, encoding: .utf8)
            try "host ro\n".write(toFile: ro, atomically: true, encoding: .utf8)
            let script = "cat /etc/bulwark-rw /opt/bulwark/ro; echo changed > /etc/bulwark-rw; echo x > /opt/bulwark/ro 2>/dev/null || echo refused; ls /opt/bulwark; rm /etc/bulwark-rw 2>/dev/null || echo busy"
            let r = try Sentry.run(["/bin/sh", "-c", script], extra: ["--mount", "\(rw):/etc/bulwark-rw", "--mount", "\(ro):/opt/bulwark/ro:ro"])
            #expect(r.stdout == "host rw\nhost ro\nrefused\nro\nbusy\n", "\(r)")
            #expect(try String(contentsOfFile: rw, encoding: .utf8) == "changed\n")
            #expect(try String(contentsOfFile: ro, encoding: .utf8) == "host ro\n")
            #expect(!FileManager.default.fileExists(atPath: "/opt/bulwark/ro"))
        }
    }

    @Test func bindMountsReachNothingBeyondTheirSource() throws {
        try TestPaths.withScratchDirectory("bulwark-vfsf-bind") { dir in
            let src = dir.path + "/src"
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            try "outside\n".write(toFile: dir.path + "/secret", atomically: true, encoding: .utf8)
            try "inside\n".write(toFile: src + "/f", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: src + "/up", withDestinationPath: "../secret")
            try FileManager.default.createSymbolicLink(atPath: src + "/abs", withDestinationPath: dir.path + "/secret")
            let script = "cat /mnt/b/f; cat /mnt/b/../secret 2>/dev/null || echo no1; cat /mnt/b/up 2>/dev/null || echo no2; cat /mnt/b/abs 2>/dev/null || echo no3; cat \(dir.path)/secret 2>/dev/null | grep -c outside"
            for extra in [[], ["--overlay2", "none"]] {
                // The rootfs is a directory of its own so the host's files are not in the sandbox.
                let root = dir.path + "/root\(extra.count)"
                try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
                if !FileManager.default.fileExists(atPath: root + "/bin/busybox") {
                    try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
                }
                let r = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", root] + extra + ["--mount", "\(src):/mnt/b", "--", "/bin/busybox", "sh", "-c", script], timeout: 20)
                #expect(r.stdout == "inside\nno1\nno2\nno3\n0\n", "\(extra): \(r)")
            }
        }
    }

    @Test func renameRaceBetweenDirectoryAndSymlinkStaysInside() throws {
        // The host swaps root/d between a real directory and a symlink to the directory above the
        // rootfs while the sandbox keeps reading /d/secret: only the inside file is ever seen.
        try TestPaths.withScratchDirectory("bulwark-vfsf-race") { dir in
            let root = dir.path + "/root"
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/realdir", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
            try "inside\n".write(toFile: root + "/realdir/secret", atomically: true, encoding: .utf8)
            try "outside\n".write(toFile: dir.path + "/secret", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root + "/linkdir", withDestinationPath: "../..")
            rename(root + "/realdir", root + "/d")
            // d <-> linkdir: the directory and the escaping symlink trade names in a host loop.
            let swapper = Process()
            swapper.executableURL = URL(fileURLWithPath: "/bin/sh")
            swapper.arguments = ["-c", "cd \(root) && while :; do mv d swap; mv linkdir d; mv swap linkdir; done 2>/dev/null"]
            try swapper.runForTest()
            defer { swapper.stopForTest() }
            let script = "i=0; while [ $i -lt 300 ]; do cat /d/secret /d/../secret 2>/dev/null; i=$((i+1)); done; echo end"
            let r = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", root, "--", "/bin/busybox", "sh", "-c", script], timeout: 60)
            #expect(r.stdout.hasSuffix("end\n"), "\(r)")
            // (Which of the two the sandbox sees depends on the moment of its first lookup: the
            // Sentry's dentry cache then keeps that node.)
            #expect(!r.stdout.contains("outside"))
        }
    }

    @Test func chrootedShellSeesOnlyItsJail() throws {
        // busybox chroot as the sandbox's root; a non-root user is refused.
        let jail = Self.scratch("jail")
        let script = "mkdir -p \(jail)/bin && cp /bin/busybox \(jail)/bin/ && echo jailed > \(jail)/marker && chroot \(jail) /bin/busybox sh -c 'cat /marker; /bin/busybox ls /; cd /..; /bin/busybox pwd' && (chroot \(jail) /bin/true 2>/dev/null; echo rc=$?)"
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script])
        #expect(r.stdout == "jailed\nbin\nmarker\n/\nrc=127\n", "\(r)")
        let u = try Sentry.run(["/bin/busybox", "sh", "-c", "chroot / /bin/true 2>/dev/null || echo refused"], extra: ["--uid", "1000"])
        #expect(u.stdout == "refused\n", "\(u)")
    }
}

// The Sentry VFS end to end: a C program exercising path resolution and file-system semantics
// (Tests/Programs/vfs_paths.c) gives the same output in the sandbox as natively, on the default
// overlay root and with --overlay2 none; the overlay keeps writes away from the host, `none` lets
// them through; escapes through symlinks and ".." stay inside a custom rootfs.
import Foundation
import Testing
import TestSupport

@Suite("Sentry VFS")
struct VFSIntegrationTests {
    static func scratchPath(_ tag: String) -> String { "/tmp/bulwark-vfs-\(tag)-\(UUID().uuidString.prefix(8))" }

    func compare(extra: [String], leaksToHost: Bool) throws {
        let prog = try Sentry.compile("vfs_paths")
        let inSandbox = Self.scratchPath("s"), natively = Self.scratchPath("n")
        defer { try? FileManager.default.removeItem(atPath: inSandbox); try? FileManager.default.removeItem(atPath: natively) }
        let s = try Sentry.run([prog, inSandbox], extra: extra, timeout: 30)
        let n = try Sentry.native([prog, natively], timeout: 30)
        #expect(!s.timedOut)
        #expect(n.stdout.hasSuffix("done\n"))
        let sl = s.stdout.replacingOccurrences(of: inSandbox, with: "D").split(separator: "\n")
        let nl = n.stdout.replacingOccurrences(of: natively, with: "D").split(separator: "\n")
        for (a, b) in zip(sl, nl) where a != b { Issue.record("sandbox: \(a)\nnative:  \(b)") }
        #expect(sl.count == nl.count, "\(s.stderr)")
        #expect(FileManager.default.fileExists(atPath: inSandbox) == leaksToHost)
    }

    @Test func pathSemanticsMatchNativeOnTheOverlay() throws {
        try compare(extra: [], leaksToHost: false)
    }

    @Test func pathSemanticsMatchNativeThroughTheGofer() throws {
        try compare(extra: ["--overlay2", "none"], leaksToHost: true)
    }

    @Test func overlayNoneWritesReachTheHostRootfs() throws {
        try TestPaths.withScratchDirectory("bulwark-vfs-rootfs") { dir in
            let root = dir.path
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
            try "lower\n".write(toFile: root + "/file", atomically: true, encoding: .utf8)
            let script = "echo changed > /file; mkdir /newdir; echo new > /newdir/x; rm /bin/busybox-missing 2>/dev/null; cat /file"
            let overlay = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", root, "--", "/bin/busybox", "sh", "-c", script], timeout: 20)
            #expect(overlay.stdout == "changed\n", "\(overlay)")
            #expect(try String(contentsOfFile: root + "/file", encoding: .utf8) == "lower\n")
            #expect(!FileManager.default.fileExists(atPath: root + "/newdir"))
            let direct = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", root, "--overlay2", "none", "--", "/bin/busybox", "sh", "-c", script], timeout: 20)
            #expect(direct.stdout == "changed\n", "\(direct)")
            #expect(try String(contentsOfFile: root + "/file", encoding: .utf8) == "changed\n")
            #expect(try String(contentsOfFile: root + "/newdir/x", encoding: .utf8) == "new\n")
        }
    }

    @Test func symlinksAndDotDotCannotLeaveTheRootfs() throws {
        try TestPaths.withScratchDirectory("bulwark-vfs-escape") { dir in
            let root = dir.path + "/root"
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
            try "inside\n".write(toFile: root + "/etc/shadow", atomically: true, encoding: .utf8)
            try "outside secret\n".write(toFile: dir.path + "/secret", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root + "/up", withDestinationPath: "../../../../..")
            try FileManager.default.createSymbolicLink(atPath: root + "/shadow", withDestinationPath: "/etc/shadow")
            try FileManager.default.createSymbolicLink(atPath: root + "/sec", withDestinationPath: "../secret")
            let script = "cat /shadow; cat /up/etc/shadow; cat /up/secret || echo no-secret; cat /sec || echo no-sec; cat /../../secret || echo no-dotdot; ls /up/ | tr '\\n' ' '; echo; ls /proc | wc -l"
            for extra in [[], ["--overlay2", "none"]] {
                let r = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", root] + extra + ["--", "/bin/busybox", "sh", "-c", script], timeout: 20)
                // /dev and /tmp are the Sentry's mount points (made in the rootfs when missing).
                #expect(r.stdout == "inside\ninside\nno-secret\nno-sec\nno-dotdot\nbin dev etc sec shadow tmp up \n0\n", "\(extra): \(r)")
                #expect(!r.stdout.contains("outside"))
            }
        }
    }

    @Test func busyboxToolsAndPythonOnTheOverlay() throws {
        let dir = Self.scratchPath("tools")
        let script = """
        set -e
        mkdir -p \(dir)/src/a/b && echo one > \(dir)/src/a/f && echo two > \(dir)/src/a/b/g && ln -s f \(dir)/src/a/l
        cp -r \(dir)/src \(dir)/copy
        find \(dir)/copy | sort | sed 's|\(dir)||'
        cat \(dir)/copy/a/l
        cd \(dir) && tar cf t.tar src && mkdir x && cd x && tar xf ../t.tar && find . -type f | sort && cat src/a/b/g
        sh -c 'echo x > /tmp/bulwark-vfs-f; cat /tmp/bulwark-vfs-f; rm /tmp/bulwark-vfs-f'
        python3 -c '
        import os, shutil, tempfile
        d = tempfile.mkdtemp(dir="\(dir)")
        with open(os.path.join(d, "p.txt"), "w") as f: f.write("py")
        shutil.copytree(d, d + ".copy")
        os.rename(d + ".copy/p.txt", d + ".copy/q.txt")
        print(sorted(os.listdir(d + ".copy")), open(d + ".copy/q.txt").read())
        shutil.rmtree(d); shutil.rmtree(d + ".copy")
        '
        rm -r \(dir); echo done
        """.replacingOccurrences(of: "\n        ", with: "\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["PATH=/usr/bin:/bin"]
        let s = try Sentry.run(["/bin/busybox", "sh", "-c", script], env: env, timeout: 40)
        #expect(!FileManager.default.fileExists(atPath: dir))
        let n = try Sentry.native(["/bin/busybox", "sh", "-c", script], env: env, timeout: 40)
        #expect(n.stdout.hasSuffix("done\n"), "\(n)")
        #expect(s.stdout == n.stdout, "\(s)")
    }

    @Test func permissionsApplyToANonRootUser() throws {
        // As uid 1000: a root-only file cannot be read, the root directory cannot be written, a
        // file the user creates in /tmp (1777) can.
        let script = "cat /etc/shadow >/dev/null 2>&1 || echo no-read; touch /bulwark-x 2>/dev/null || echo no-write; echo ok > /tmp/bulwark-u-$$ && cat /tmp/bulwark-u-$$ && rm /tmp/bulwark-u-$$"
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script], extra: ["--uid", "1000", "--gid", "1000"])
        #expect(r.stdout == "no-read\nno-write\nok\n", "\(r)")
    }

    @Test func mountAndUmountInsideTheSandbox() throws {
        // tmpfs and bind mounts stack on /mnt/x and come off in order; none of it reaches the host.
        let x = Self.scratchPath("mnt")
        let script = "mkdir -p \(x) && mount -t tmpfs none \(x) && echo hi > \(x)/f && cat \(x)/f; mount --bind /etc \(x) && ls \(x)/hostname; umount \(x); ls \(x); umount \(x); ls \(x) | wc -l; umount \(x) || echo not-mounted"
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script])
        #expect(r.stdout == "hi\n\(x)/hostname\nf\n0\nnot-mounted\n", "\(r)")
        #expect(!FileManager.default.fileExists(atPath: x))
        let user = try Sentry.run(["/bin/busybox", "sh", "-c", "mount -t tmpfs none /tmp 2>/dev/null || echo refused"], extra: ["--uid", "1000"])
        #expect(user.stdout == "refused\n")
    }

    @Test func deadGoferGivesEIONotAHang() throws {
        // The Sentry runs on a gofer this test starts (--gofer-fd); once the application has
        // printed "before", the test kills the gofer: the next lookup fails at once, nothing hangs.
        let script = "ls /usr >/dev/null && echo before; read x; cat /etc/hostname >/dev/null 2>&1 && echo after || echo failed"
        let r = try OwnGofer.run(script: script)
        #expect(r.finished, "the sandbox hung after the gofer died")
        #expect(r.output == "before\nfailed\n", "\(r.output)")
    }
}

/// Starts bulwark-gofer and bulwark-sentry --gofer-fd by hand so the test controls the gofer.
enum OwnGofer {
    struct Result { var output: String; var finished: Bool }

    static func spawn(_ path: String, _ args: [String], dups: [(Int32, Int32)]) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // stdin is /dev/null unless a dup gives it: never the test runner's.
        if !dups.contains(where: { $0.1 == 0 }) { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        for (from, to) in dups { posix_spawn_file_actions_adddup2(&actions, from, to) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 ? pid : -1
    }

    static func run(script: String) throws -> Result {
        var sp: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sp) == 0 else { return Result(output: "socketpair", finished: false) }
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { return Result(output: "pipe", finished: false) }
        for fd in input + output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let gofer = spawn(TestPaths.executable("bulwark-gofer"), ["--channel-fd", "3", "--root", "/"], dups: [(sp[1], 3)])
        let sentry = spawn(Sentry.binary, ["run", "--gofer-fd", "3", "--", "/bin/busybox", "sh", "-c", script],
                           dups: [(sp[0], 3), (input[0], 0), (output[1], 1)])
        close(sp[0]); close(sp[1]); close(input[0]); close(output[1])
        defer { close(input[1]); close(output[0]) }
        var text = ""
        var buf = [UInt8](repeating: 0, count: 256)
        var killed = false
        let deadline = Date().addingTimeInterval(15)
        var finished = false
        while Date() < deadline {
            var p = pollfd(fd: output[0], events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 {
                let n = read(output[0], &buf, buf.count)
                if n <= 0 { finished = true; break }
                text += String(decoding: buf[0..<n], as: UTF8.self)
            }
            if !killed && text.contains("before\n") {
                kill(gofer, SIGKILL)
                var st: Int32 = 0
                waitpid(gofer, &st, 0)
                killed = true
                _ = write(input[1], "go\n", 3)
            }
        }
        if !finished { kill(sentry, SIGKILL) }
        if !killed { kill(gofer, SIGKILL); var st: Int32 = 0; waitpid(gofer, &st, 0) }
        var st: Int32 = 0
        waitpid(sentry, &st, 0)
        return Result(output: text, finished: finished)
    }
}

// inotify for changes made on the host behind the gofer: Tests/Programs/inotify_host.c watches a
// directory while a host-side shell script (natively: just another process) creates, renames, chmods
// and removes files in it; the events and what lookups see afterwards must equal the native run's.
import Foundation
import Testing
import TestSupport

@Suite("Sentry VFS: inotify for host-side changes")
struct VFSHostInotifyTests {
    /// Waits for DIR/ready, then changes DIR from the host; bounded, stdin /dev/null.
    static let script = """
    D=$1
    i=0; while [ ! -e $D/ready ] && [ $i -lt 1500 ]; do sleep 0.01; i=$((i+1)); done
    sleep 0.3   # the gofer drops what arrives while its own request (making ready) runs
    touch $D/h1; mkdir $D/hd; mv $D/h1 $D/h2; chmod 600 $D/h2; echo k > $D/kept; chmod 640 $D/kept
    chmod 600 $D/watched; rm $D/h2; rmdir $D/hd; rm $D/watched; mkdir $D/done
    """

    /// Content changes: appends to DIR/f, writes a new DIR/g, then makes DIR/done (inotify_host_content.c).
    static let contentScript = """
    D=$1
    i=0; while [ ! -e $D/ready ] && [ $i -lt 1500 ]; do sleep 0.01; i=$((i+1)); done
    sleep 0.3   # the gofer drops what arrives while its own request (making ready) runs
    echo data >> $D/f; sleep 0.1; printf x > $D/g; sleep 0.1; mkdir $D/done
    """

    func hostChanges(_ dir: String, script: String = Self.script) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["-k", "2", "25", "/bin/sh", "-c", script, "sh", dir]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func compare(_ program: String = "inotify_host", script: String = Self.script, extra: [String],
                 inside: (String) -> String) throws {
        let prog = try Sentry.compile(program)
        try TestPaths.withScratchDirectory("bulwark-f5-inh") { d in
            let n = d.path + "/native", s = d.path + "/sandbox"
            for dir in [n, s] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            let nh = try hostChanges(n + "/d", script: script)
            let native = try Sentry.native([prog, n + "/d"], timeout: 30)
            nh.waitUntilExit()
            let sh = try hostChanges(s + "/d", script: script)
            let args = extra.map { $0.replacingOccurrences(of: "@DIR", with: s) }
            let sandbox = try Sentry.run([prog, inside(s) + "/d"], extra: args, timeout: 40)
            sh.waitUntilExit()
            #expect(native.stdout.contains("dir CREATE ISDIR done\n"), "\(native)")
            #expect(native.stdout.hasSuffix("done\n"))
            #expect(!sandbox.timedOut)
            let sl = sandbox.stdout.split(separator: "\n"), nl = native.stdout.split(separator: "\n")
            for (a, b) in zip(sl, nl) where a != b { Issue.record("sandbox: \(a)\nnative:  \(b)") }
            #expect(sl.count == nl.count, "\(sandbox.stderr)")
        }
    }

    @Test func hostSideChangesReachInotifyThroughTheGofer() throws {
        try compare(extra: ["--overlay2", "none"], inside: { $0 })
    }

    @Test func hostSideChangesReachInotifyOnABindMount() throws {
        try compare(extra: ["--mount", "@DIR:/mnt/bulwark-inh"], inside: { _ in "/mnt/bulwark-inh" })
    }

    // IN_MODIFY and IN_CLOSE_WRITE of host-side writes; the sandbox's own writes, closes and mapped
    // writes each give their events once (not again from the host).
    @Test func hostSideContentChangesReachInotifyThroughTheGofer() throws {
        try compare("inotify_host_content", script: Self.contentScript, extra: ["--overlay2", "none"], inside: { $0 })
    }

    @Test func hostSideContentChangesReachInotifyOnABindMount() throws {
        try compare("inotify_host_content", script: Self.contentScript, extra: ["--mount", "@DIR:/mnt/bulwark-inh"],
                    inside: { _ in "/mnt/bulwark-inh" })
    }
}

// O_TMPFILE + linkat and mremap of MAP_SHARED file mappings, each run natively and in the sandbox (on the
// default overlay, on directories the Gofer serves directly with --overlay2 none, and on a bind mount),
// comparing the outputs line by line; where the Gofer serves the directory, the files left behind are
// also compared from the host side with the native run's.
import Foundation
import Testing
import TestSupport

@Suite("Sentry VFS: O_TMPFILE and mremap write-back")
struct VFSTmpfileMremapTests {
    /// Runs Tests/Programs/<name>.c natively on `native` and in the sandbox on `inside` (the sandbox's
    /// path of the directory), compares the outputs (directories replaced by "D").
    func compare(_ name: String, native n: String, inside s: String, extra: [String] = []) throws {
        let prog = try Sentry.compile(name)
        let native = try Sentry.native([prog, n], timeout: 30)
        let sandbox = try Sentry.run([prog, s], extra: extra, timeout: 60)
        #expect(!sandbox.timedOut)
        #expect(native.stdout.hasSuffix("done\n"), "\(native)")
        #expect(sandbox.stdout.hasSuffix("done\n"), "\(sandbox.stderr)")
        let sl = sandbox.stdout.replacingOccurrences(of: s, with: "D").split(separator: "\n")
        let nl = native.stdout.replacingOccurrences(of: n, with: "D").split(separator: "\n")
        for (a, b) in zip(sl, nl) where a != b { Issue.record("sandbox: \(a)\nnative:  \(b)") }
        #expect(sl.count == nl.count, "\(sandbox.stderr)")
    }

    /// Names and contents of the regular files in `dir`.
    func files(_ dir: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            out[name] = FileManager.default.contents(atPath: dir + "/" + name)
        }
        return out
    }

    func withDirs(_ tag: String, _ body: (String, String) throws -> Void) throws {
        try TestPaths.withScratchDirectory("bulwark-f5-\(tag)") { d in
            try body(d.path + "/native", d.path + "/sandbox")
        }
    }

    /// `compare` on a directory the Gofer serves directly (--overlay2 none); then each of `sameFiles`
    /// left behind must read the same from the host as the native run's.
    func compareThroughTheGofer(_ name: String, tag: String, sameFiles: [String]) throws {
        try withDirs(tag) { n, s in
            try compare(name, native: n, inside: s, extra: ["--overlay2", "none"])
            for f in sameFiles {
                #expect(FileManager.default.contents(atPath: s + "/" + f) == FileManager.default.contents(atPath: n + "/" + f), "\(f)")
            }
        }
    }

    /// `compare` on /dev/shm: the Sentry's tmpfs in the sandbox, a tmpfs natively.
    func compareOnTmpfs(_ name: String, tag: String) throws {
        let unique = UUID().uuidString.prefix(8)
        let n = "/dev/shm/bulwark-\(tag)n-\(unique)", s = "/dev/shm/bulwark-\(tag)s-\(unique)"
        defer { try? FileManager.default.removeItem(atPath: n) }
        try compare(name, native: n, inside: s)
    }

    @Test func tmpfileOnTheOverlayMatchesNative() throws {
        try withDirs("tmpo") { n, s in
            try compare("tmpfile_link", native: n, inside: s)
            // The overlay writes nothing to the host.
            #expect(!FileManager.default.fileExists(atPath: s))
        }
    }

    @Test func tmpfileThroughTheGoferMatchesNative() throws {
        try withDirs("tmpg") { n, s in
            try compare("tmpfile_link", native: n, inside: s, extra: ["--overlay2", "none"])
            let hostSide = files(s), nativeSide = files(n)
            #expect(hostSide.keys.sorted() == ["named", "named2", "user2", "viaproc"])
            #expect(hostSide == nativeSide)
            #expect(hostSide["named"].map { String(decoding: $0, as: UTF8.self) } == "unnamed data and more")
        }
    }

    @Test func tmpfileOnABindMountMatchesNative() throws {
        try withDirs("tmpb") { n, s in
            try FileManager.default.createDirectory(atPath: s, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: n, withIntermediateDirectories: true)
            try compare("tmpfile_link", native: n + "/d", inside: "/mnt/bulwark-tmpfile/d",
                        extra: ["--mount", "\(s):/mnt/bulwark-tmpfile"])
            #expect(files(s + "/d") == files(n + "/d"))
            #expect(files(s + "/d").count == 4)
        }
    }

    @Test func mremapSharedWritesReachTheFileOnTheOverlay() throws {
        try withDirs("mro") { n, s in
            try compare("mremap_shared", native: n, inside: s)
            #expect(!FileManager.default.fileExists(atPath: s))
        }
    }

    @Test func mremapSharedWritesReachTheFileThroughTheGofer() throws {
        try withDirs("mrg") { n, s in
            try compare("mremap_shared", native: n, inside: s, extra: ["--overlay2", "none"])
            let hostSide = FileManager.default.contents(atPath: s + "/data")
            #expect(hostSide?.count == 8 * 4096)
            #expect(hostSide == FileManager.default.contents(atPath: n + "/data"))
        }
    }

    @Test func mremapSharedWritesReachTheFileOnTmpfs() throws {
        try compareOnTmpfs("mremap_shared", tag: "f5-mr")
    }

    // MAP_PRIVATE (and a shared one past the file's end) grown by mremap: the file's bytes, SIGBUS
    // past the end, private writes stay private.
    @Test func mremapPrivateGrowShowsTheFileOnTheOverlay() throws {
        try withDirs("mpo") { n, s in try compare("mremap_private", native: n, inside: s) }
    }

    @Test func mremapPrivateGrowShowsTheFileThroughTheGofer() throws {
        try compareThroughTheGofer("mremap_private", tag: "mpg", sameFiles: ["data", "short", "later"])
    }

    @Test func mremapPrivateGrowShowsTheFileOnTmpfs() throws {
        try compareOnTmpfs("mremap_private", tag: "f6-mp")
    }

    // mmap of a file past its end (session 9): zeros in the tail of the last file page, SIGBUS
    // (BUS_ADRERR at the byte) in the pages wholly past the end, reads and writes, private and
    // shared, empty files and offsets past the end; after the file grows, the pages show its bytes.
    @Test func mmapPastTheEndFaultsOnTheOverlay() throws {
        try withDirs("meo") { n, s in try compare("mmap_eof", native: n, inside: s) }
    }

    @Test func mmapPastTheEndFaultsThroughTheGofer() throws {
        try compareThroughTheGofer("mmap_eof", tag: "meg", sameFiles: ["short", "later", "empty"])
    }

    @Test func mmapPastTheEndFaultsOnTmpfs() throws {
        try compareOnTmpfs("mmap_eof", tag: "f9-me")
    }
}

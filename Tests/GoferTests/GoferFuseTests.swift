// tools/gofer-fuse: a read-only FUSE view of a --listen gofer, checked with ordinary file calls.
// Skipped where FUSE is unavailable (no /dev/fuse access or no fusermount3).
import Foundation
import Glibc
import TestSupport
import Testing

@Suite struct GoferFuseTests {
    static var fuseAvailable: Bool {
        access("/dev/fuse", R_OK | W_OK) == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/fusermount3")
    }

    @Test(.enabled(if: fuseAvailable)) func fuseMountShowsTheGoferRoot() throws {
        var template = Array("/tmp/gofer-fuse-XXXXXX".utf8CString)
        let base = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: base) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/root/sub", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: base + "/mnt", withIntermediateDirectories: true)
        try "through fuse\n".write(toFile: base + "/root/sub/file", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: base + "/root/link", withDestinationPath: "sub/file")

        let gofer = Process()
        gofer.executableURL = URL(fileURLWithPath: TestPaths.executable("bulwark-gofer"))
        gofer.arguments = ["--listen", base + "/sock", "--root", base + "/root"]
        try gofer.runForTest()
        defer { gofer.stopForTest() }
        for _ in 0..<500 where !fm.fileExists(atPath: base + "/sock") { usleep(10_000) }
        usleep(50_000)

        let fuse = Process()
        fuse.executableURL = URL(fileURLWithPath: TestPaths.executable("bulwark-gofer-fuse"))
        fuse.arguments = [base + "/sock", base + "/mnt"]
        try fuse.runForTest()
        defer {
            _ = try? ProcessRunner.run("/usr/bin/fusermount3", ["-u", base + "/mnt"], timeout: 10)
            for _ in 0..<500 where fuse.isRunning { usleep(10_000) }
            fuse.stopForTest()
        }
        // Mounted once the root shows the served entries.
        var names: [String] = []
        for _ in 0..<300 {
            names = (try? fm.contentsOfDirectory(atPath: base + "/mnt").sorted()) ?? []
            if names == ["link", "sub"] { break }
            usleep(10_000)
        }
        #expect(names == ["link", "sub"])
        #expect(try String(contentsOfFile: base + "/mnt/sub/file", encoding: .utf8) == "through fuse\n")
        #expect(try fm.destinationOfSymbolicLink(atPath: base + "/mnt/link") == "sub/file")
        var st = stat()
        #expect(stat(base + "/mnt/sub/file", &st) == 0 && st.st_size == 13)
        #expect(!fm.createFile(atPath: base + "/mnt/new", contents: nil))   // read-only mount
    }
}

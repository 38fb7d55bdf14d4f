// --strace prints each call with decoded arguments and its result; --log sends it to a file.
import Foundation
import Testing
import TestSupport

@Suite("Sentry --strace")
struct StraceTests {
    @Test func decodesCallsAndResults() throws {
        let r = try Sentry.run(["/bin/busybox", "cat", "/no/such/file"], extra: ["--strace"])
        #expect(r.stderr.contains("openat(-100, \"/no/such/file\""))
        #expect(r.stderr.contains("= -1 ENOENT"))
        #expect(r.stderr.contains("exit_group(1)"))
        #expect(r.exitCode == 1)
    }

    @Test func logFileReceivesTrace() throws {
        try TestPaths.withScratchDirectory { dir in
            let log = dir.appendingPathComponent("trace.log").path
            let r = try Sentry.run(["/bin/busybox", "echo", "hi"], extra: ["--strace", "--log", log])
            #expect(r.stdout == "hi\n")
            let text = try String(contentsOfFile: log, encoding: .utf8)
            #expect(text.contains("write(1, \"hi\\n\", 3) = 3"))
        }
    }
}

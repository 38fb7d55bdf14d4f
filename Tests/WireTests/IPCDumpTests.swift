// bulwark-ipc-dump on real frames: the golden fixtures, concatenated as a capture would hold them.
import Foundation
import Testing
import TestSupport

@Suite struct IPCDumpTests {
    let dump = TestPaths.executable("bulwark-ipc-dump")
    let golden = TestPaths.repositoryRoot.appendingPathComponent("protocol/golden").path

    @Test func printsHeaderAndNamedFields() throws {
        let r = try ProcessRunner.run(dump, ["--channel", "gofer", "\(golden)/gofer/Walk.bin",
                                             "\(golden)/gofer/OpenReply.bin"], timeout: 20)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("#0 at byte 0: length=79 id=3 flags=[] request=1 fds=0 version=1"), "\(r)")
        #expect(r.stdout.contains("gofer.Walk {"), "\(r)")
        #expect(r.stdout.contains("dir: 72623859790382856"), "\(r)")   // 0x0102030405060708
        #expect(r.stdout.contains("\"names0\""), "\(r)")
        #expect(r.stdout.contains("hostFD: fd#0"), "\(r)")
    }

    @Test func readsAStreamOfFramesFromStdin() throws {
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(golden)/control/Ping.bin"))
        let b = try Data(contentsOf: URL(fileURLWithPath: "\(golden)/control/ErrorReply.bin"))
        try TestPaths.withScratchDirectory { dir in
            let capture = dir.appendingPathComponent("capture.bin")
            try (a + b).write(to: capture)
            let r = try ProcessRunner.run("/bin/sh", ["-c", "\(dump) --channel control < \(capture.path)"], timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("control.Ping {"), "\(r)")
            #expect(r.stdout.contains("#1 at byte \(a.count): length=\(b.count) id=0 flags=[reply,error]"), "\(r)")
            #expect(r.stdout.contains("message: \"no such file\""), "\(r)")
        }
    }

    @Test func reportsBrokenInputAndFails() throws {
        try TestPaths.withScratchDirectory { dir in
            let bad = dir.appendingPathComponent("bad.bin")
            var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(golden)/gofer/Walk.bin"))
            bytes.removeLast(3)
            try bytes.write(to: bad)
            let r = try ProcessRunner.run(dump, ["--channel", "gofer", bad.path], timeout: 20)
            #expect(r.exitCode == 1, "\(r)")
            #expect(r.stdout.contains("bad frame: length mismatch: header says 79, received 76"), "\(r)")
        }
    }
}

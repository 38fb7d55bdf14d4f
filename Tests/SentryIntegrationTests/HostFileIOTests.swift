// Reads and writes of host files straight into the application's pages (HostFileDirectUnsafe.swift),
// against native Linux: buffers spanning two mappings, EOF, O_APPEND, EFAULT, offsets.
import Foundation
import Testing
import TestSupport

@Suite("Sentry host file I/O")
struct HostFileIOTests {
    func compare(extra: [String]) throws {
        let prog = try Sentry.compile("hostfile_direct")
        let s = "/tmp/bulwark-hfio-s-\(UUID().uuidString.prefix(8))"
        let n = "/tmp/bulwark-hfio-n-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: s); try? FileManager.default.removeItem(atPath: n) }
        let native = try Sentry.native([prog, n], timeout: 30)
        let sandbox = try Sentry.run([prog, s], extra: extra, timeout: 60)
        #expect(!sandbox.timedOut)
        #expect(native.stdout.hasSuffix("done\n"), "\(native)")
        #expect(sandbox.stdout == native.stdout, "sandbox stderr: \(sandbox.stderr)")
    }

    /// The file is created through the Gofer (no overlay), so every read and write is a HostFile's.
    @Test func directIOThroughTheGoferMatchesNative() throws { try compare(extra: ["--overlay2", "none"]) }

    /// Default overlay: the scratch file lives in the upper tmpfs; /etc/passwd is read through the Gofer.
    @Test func directIOUnderTheOverlayMatchesNative() throws { try compare(extra: []) }
}

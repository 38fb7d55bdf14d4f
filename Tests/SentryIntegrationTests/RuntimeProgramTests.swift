// Language runtimes from Debian packages inside the sandbox: each runs a program that uses threads,
// a TCP socket over loopback, a child process and a file; output compared with a native run.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs language runtimes")
struct RuntimeProgramTests {
    static func program(_ name: String) -> String {
        TestPaths.repositoryRoot.appendingPathComponent("Tests/Programs/\(name)").path
    }

    func compare(_ argv: [String], timeout: Double) throws {
        let native = try Sentry.native(argv, timeout: timeout)
        #expect(native.exitCode == 0, "\(native)")
        let sandboxed = try Sentry.run(argv, timeout: timeout)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.exitCode == 0, "\(sandboxed)")
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
    }

    /// Node.js: an http server and client in one process, a worker thread, child_process, fs.
    @Test func nodeHttpWorkerChildProcess() throws {
        try compare(["/usr/bin/node", Self.program("runtime_node.js")], timeout: 90)
    }

    /// Java (the JDK's single-file source launcher compiles in the sandbox first): a thread pool, a
    /// ServerSocket on loopback, ProcessBuilder, NIO files.
    @Test func javaThreadsSocketsProcess() throws {
        try compare(["/usr/bin/java", "-Xshare:auto", Self.program("RuntimeJava.java")], timeout: 180)
    }
}

// Shared helpers: run a command natively and under the real bulwark-sentry executable (rootfs "/"),
// with deadlines, and compare.
import Foundation
import TestSupport

enum Sentry {
    static var binary: String { TestPaths.executable("bulwark-sentry") }

    /// Runs `argv` inside the sandbox with rootfs "/" and the given environment.
    static func run(_ argv: [String], env: [String] = ["PATH=/usr/bin:/bin"], stdin: String = "",
                    extra: [String] = [], timeout: Double = 20) throws -> ProcessResult {
        var args = ["run", "--rootfs", "/"] + extra
        for e in env { args += ["--env", e] }
        args += ["--"] + argv
        return try ProcessRunner.run(binary, args, stdin: stdin, timeout: timeout)
    }

    /// Runs `argv` natively with the same environment.
    static func native(_ argv: [String], env: [String] = ["PATH=/usr/bin:/bin"], stdin: String = "",
                       timeout: Double = 20) throws -> ProcessResult {
        var dict: [String: String] = [:]
        for e in env { let p = e.split(separator: "=", maxSplits: 1); dict[String(p[0])] = p.count > 1 ? String(p[1]) : "" }
        // Through cleansig: the test runner may block or ignore signals, which children inherit.
        return try ProcessRunner.run(try cleansig(), argv, environment: dict, stdin: stdin, timeout: timeout)
    }

    /// Scratch directory for compiled guest programs (one per test process).
    static let programs: URL = {
        try! TestPaths.makeScratchDirectory("bulwark-sentry-guests")
    }()

    static func cleansig() throws -> String {
        try compile("cleansig")
    }

    nonisolated(unsafe) static var compiled: [String: String] = [:]
    static let compileLock = NSLock()

    /// Compiles Tests/Programs/<name>.c once per test process (tests run in parallel).
    static func compile(_ name: String) throws -> String {
        compileLock.lock()
        defer { compileLock.unlock() }
        if let p = compiled[name] { return p }
        let p = try GuestPrograms.compile(name, into: programs)
        compiled[name] = p
        return p
    }
}

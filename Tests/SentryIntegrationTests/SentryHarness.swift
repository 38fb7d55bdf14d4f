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

/// A sandboxed program left running while a test acts on the sandbox (e.g. kills the netstack the
/// Sentry spawned), its output read as it comes. Every wait is bounded.
final class BackgroundSandbox {
    let process = Process()
    private let out = Pipe(), err = Pipe()
    private(set) var seen = Data()
    var text: String { String(decoding: seen, as: UTF8.self) }

    init(_ argv: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Sentry.binary)
        process.arguments = ["run", "--rootfs", "/", "--"] + argv
        process.standardOutput = out
        process.standardError = err
        try process.runForTest()
    }

    deinit { process.stopForTest() }

    /// Reads output until it contains `marker` or `seconds` pass; true if it appeared.
    func waitForOutput(_ marker: String, within seconds: Double) -> Bool {
        let start = Date()
        while !text.contains(marker) && Date().timeIntervalSince(start) < seconds {
            var pfd = pollfd(fd: out.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 200) <= 0 { continue }   // bounded: never block on a silent sandbox
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        return text.contains(marker)
    }

    /// SIGKILLs the netstack this sandbox's Sentry spawned; true if one was found.
    func killNetstack() -> Bool {
        var killed = false
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8) else { continue }
            let fields = stat.split(separator: " ")
            if stat.contains("(bulwark-netstac"), fields.count > 3, Int32(fields[3]) == process.processIdentifier {
                kill(Int32(entry)!, SIGKILL)
                killed = true
            }
        }
        return killed
    }

    /// Waits up to `seconds` for the sandbox to exit; then the rest of its output is in `text`.
    func waitForExit(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { return false }
        seen.append(out.fileHandleForReading.readDataToEndOfFile())
        return true
    }

    /// The Sentry's log (stderr), once it has exited.
    var log: String {
        process.isRunning ? "" : String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}

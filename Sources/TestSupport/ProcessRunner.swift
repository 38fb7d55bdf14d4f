// Helpers for tests that run real programs: find the package's built executables, run a command with a
// deadline and capture its output, compile guest C programs. Tests only; Foundation is fine here.
import Foundation

/// The result of running a program to completion.
public struct ProcessResult: Equatable, Sendable, CustomStringConvertible {
    /// Exit code if it exited, nil if killed by a signal.
    public var exitCode: Int32?
    /// The signal that killed it, if any.
    public var signal: Int32?
    public var stdout: String
    public var stderr: String
    /// True when the deadline passed and the process was killed.
    public var timedOut: Bool

    public var description: String {
        "exit=\(exitCode.map(String.init) ?? "-") signal=\(signal.map(String.init) ?? "-") timedOut=\(timedOut)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

public enum TestPaths {
    /// The directory holding this build's products (.build/<triple>/<config>), found from the running
    /// test bundle's own path.
    public static var productsDirectory: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // Inside `swift test` the bundle is <products>/<Name>PackageTests.xctest (a file on Linux).
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir
    }

    /// Path of a built executable of this package, e.g. `executable("bulwark-sentry")`.
    public static func executable(_ name: String) -> String {
        productsDirectory.appendingPathComponent(name).path
    }

    /// The repository root (the folder holding Package.swift), from this source file's location.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// A fresh scratch directory under /tmp; the caller removes it (or uses `withScratchDirectory`).
    public static func makeScratchDirectory(_ prefix: String = "bulwark-test") throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `body` with a scratch directory that is removed afterwards.
    public static func withScratchDirectory<T>(_ prefix: String = "bulwark-test", _ body: (URL) throws -> T) throws -> T {
        let dir = try makeScratchDirectory(prefix)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }
}

public enum ProcessRunner {
    /// Runs `path` with `arguments`, feeding `stdin`, and waits at most `timeout` seconds; on timeout the
    /// process gets SIGKILL and `timedOut` is set.
    public static func run(_ path: String, _ arguments: [String] = [], environment: [String: String]? = nil,
                           stdin: String = "", currentDirectory: String? = nil,
                           timeout: Double = 60) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        // Output goes to files, not pipes: a pipe reader can race the child's exit and lose the tail, and
        // a grandchild that inherits a pipe would keep it open past the child's exit.
        let capture = try TestPaths.makeScratchDirectory("bulwark-capture")
        defer { try? FileManager.default.removeItem(at: capture) }
        let outURL = capture.appendingPathComponent("stdout"), errURL = capture.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let outFile = try FileHandle(forWritingTo: outURL), errFile = try FileHandle(forWritingTo: errURL)
        defer { try? outFile.close(); try? errFile.close() }
        let inPipe = Pipe()
        process.standardOutput = outFile
        process.standardError = errFile
        process.standardInput = inPipe
        // Test workers may run with signals blocked (dispatch threads do), and Foundation's Process
        // hands its spawning thread's mask to the child. A program run for comparison must start like one
        // run from a shell: spawn with an empty mask, then restore this thread's mask.
        var everything = sigset_t(), saved = sigset_t()
        sigemptyset(&everything)
        pthread_sigmask(SIG_SETMASK, &everything, &saved)
        do {
            defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
            try process.run()
        }
        inPipe.fileHandleForWriting.write(Data(stdin.utf8))
        try? inPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(2000)
        }
        process.waitUntilExit()
        let stdoutText = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
        let stderrText = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
        let signaled = process.terminationReason == .uncaughtSignal
        return ProcessResult(
            exitCode: signaled ? nil : process.terminationStatus,
            signal: signaled ? process.terminationStatus : nil,
            stdout: stdoutText, stderr: stderrText, timedOut: timedOut)
    }

    /// Runs a shell command line with /bin/sh -c.
    public static func shell(_ command: String, timeout: Double = 120) throws -> ProcessResult {
        try run("/bin/sh", ["-c", command], timeout: timeout)
    }
}

/// Compiles guest C programs from Tests/Programs with the system C compiler, once per test run.
public enum GuestPrograms {
    /// Compiles `Tests/Programs/<name>.c` into `outputDirectory` and returns the binary's path.
    /// `static` builds a statically linked binary.
    public static func compile(_ name: String, into outputDirectory: URL, static: Bool = false,
                               extraFlags: [String] = []) throws -> String {
        let source = TestPaths.repositoryRoot.appendingPathComponent("Tests/Programs/\(name).c").path
        let output = outputDirectory.appendingPathComponent(name).path
        var args = ["-O1", "-g", "-Wall", "-o", output, source, "-lpthread"]
        if `static` { args.insert("-static", at: 0) }
        args += extraFlags
        let result = try ProcessRunner.run("/usr/bin/cc", args, timeout: 120)
        guard result.exitCode == 0 else {
            throw CompileError(message: "cc \(name).c failed:\n\(result.stderr)")
        }
        return output
    }

    public struct CompileError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// Starting and ending helper processes that a test keeps running beside it (servers, sandboxes):
/// nothing a test starts may read the test runner's stdin (a terminal in a background job stops the
/// reader by SIGTTIN, and CI gives /dev/null anyway), and nothing may be waited for without a deadline.
extension Process {
    /// `run()` with stdin /dev/null unless the test gave the process its own stdin.
    public func runForTest() throws {
        if standardInput == nil || (standardInput as? FileHandle) === FileHandle.standardInput {
            standardInput = FileHandle.nullDevice
        }
        try run()
    }

    /// Ends the process and reaps it, bounded: SIGTERM, up to `grace` seconds to exit, then SIGKILL.
    public func stopForTest(grace: Double = 5) {
        guard isRunning else { waitUntilExit(); return }
        kill(processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(10_000) }
        if isRunning { kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }
}

extension Pipe {
    /// What the read end has within `seconds`: empty when nothing came in time (or at end of file), so a
    /// silent or hung writer cannot block the test.
    public func availableData(within seconds: Double) -> Data {
        var p = pollfd(fd: fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(seconds * 1000)) > 0 else { return Data() }
        return fileHandleForReading.availableData
    }
}

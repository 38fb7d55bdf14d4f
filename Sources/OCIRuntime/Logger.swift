// Log lines in the two formats containerd's shim and people read: JSON lines
// {"level":"error","msg":"...","time":"..."} in --log with --log-format json, logrus-style text otherwise.
// Errors also go to stderr.
@preconcurrency import Glibc
import HostOS

public struct Logger: Sendable {
    public var file: String?
    public var format: LogFormat
    public var debugEnabled: Bool

    public init(_ globals: GlobalOptions) {
        self.init(file: globals.log, format: globals.logFormat, debug: globals.debug)
    }

    public init(file: String?, format: LogFormat, debug: Bool = false) {
        self.file = file
        self.format = format
        self.debugEnabled = debug
    }

    /// Formats one line for the log file.
    public func line(level: String, _ message: String) -> String {
        let time = timestampSeconds()
        switch format {
        case .json:
            return "{\"level\":\"\(level)\",\"msg\":\(JSONText.quote(message)),\"time\":\"\(time)\"}\n"
        case .text:
            return "time=\"\(time)\" level=\(level) msg=\(JSONText.quote(message))\n"
        }
    }

    private func append(_ text: String) {
        guard let file else { return }
        guard let fd = try? FileSystem.open(file, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644) else { return }
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { buffer in
            try? FileIO.writeAll(fd.rawValue, UnsafeRawBufferPointer(buffer))
        }
    }

    /// An error: to the log file (if any) and to stderr.
    public func error(_ message: String) {
        append(line(level: "error", message))
        let toStderr = format == .json && file != nil ? message + "\n" : line(level: "error", message)
        fputs(toStderr, stderr)
    }

    public func warning(_ message: String) {
        append(line(level: "warning", message))
        if file == nil { fputs(line(level: "warning", message), stderr) }
    }

    public func debug(_ message: String) {
        guard debugEnabled else { return }
        append(line(level: "debug", message))
    }
}

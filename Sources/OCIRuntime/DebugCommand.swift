// `bulwark debug ID`: what the launcher can see of a running sandbox: its host processes (supervisor,
// Sentry and its stubs), the Sentry's health through a Control Ping (uptime, process count, resident
// memory, round-trip time) and its tasks (ListProcesses). Per-syscall counts are not collected by the
// Sentry yet; --strace on the global flags traces calls instead.
import ArgumentParser
import Foundation
import Glibc
import Protocol

struct DebugCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "debug", abstract: "Show a sandbox's tasks and health.")

    @OptionGroup var globals: GlobalOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        let status = dir.status(of: record)
        let sentry = dir.readSentryPid()
        let hostPids = status == .stopped ? [] : ProcessTable.descendants(of: record.pid)
        var pong: Control.Pong?
        var rtt: Double = 0
        var tasks: [Control.ProcessInfo] = []
        var healthError: String?
        if status == .running || status == .paused {
            do {
                let client = try ControlClient.connect(dir)
                var t0 = timespec(), t1 = timespec()
                clock_gettime(CLOCK_MONOTONIC, &t0)
                let reply = try client.call(Control.Ping(nonce: UInt64(getpid())))
                clock_gettime(CLOCK_MONOTONIC, &t1)
                rtt = Double(t1.tv_sec - t0.tv_sec) * 1e6 + Double(t1.tv_nsec - t0.tv_nsec) / 1e3
                if reply.nonce != UInt64(getpid()) { healthError = "Ping answered with the wrong nonce" }
                pong = reply
                tasks = try client.call(Control.ListProcesses(containerID: id)).processes
            } catch {
                healthError = error.message
            }
        }
        if json {
            var fields = ["\"id\":\(JSONText.quote(id))", "\"status\":\(JSONText.quote(status.rawValue))",
                          "\"supervisorPid\":\(record.pid)", "\"sentryPid\":\(sentry ?? 0)",
                          "\"hostPids\":[\(hostPids.map(String.init).joined(separator: ","))]"]
            if let pong {
                fields.append("\"sentry\":{\"healthy\":\(healthError == nil),\"uptimeNanos\":\(pong.uptimeNanos),\"processCount\":\(pong.processCount),\"memoryBytes\":\(pong.memoryBytes),\"pingMicros\":\(Int(rtt))}")
            }
            if let healthError { fields.append("\"error\":\(JSONText.quote(healthError))") }
            let list = tasks.map { "{\"pid\":\($0.pid),\"ppid\":\($0.ppid),\"state\":\"\(Character(UnicodeScalar($0.state)))\",\"cmdline\":[\($0.cmdline.map(JSONText.quote).joined(separator: ","))]}" }
            fields.append("\"tasks\":[\(list.joined(separator: ","))]")
            print("{" + fields.joined(separator: ",") + "}")
            return 0
        }
        print("container \(id): \(status.rawValue), supervisor pid \(record.pid), Sentry pid \(sentry.map(String.init) ?? "-")")
        print("host processes: \(hostPids.map(String.init).joined(separator: " "))")
        if let pong {
            print(String(format: "Sentry: healthy, up %.1f s, %u processes, %.1f MiB resident, ping %.0f us",
                         Double(pong.uptimeNanos) / 1e9, pong.processCount, Double(pong.memoryBytes) / 1048576, rtt))
        }
        if let healthError { print("Sentry: not answering: \(healthError)") }
        if !tasks.isEmpty {
            var rows = [["PID", "PPID", "STAT", "CMD"]]
            for t in tasks { rows.append([String(t.pid), String(t.ppid), String(UnicodeScalar(t.state)), t.cmdline.joined(separator: " ")]) }
            printTable(rows)
        }
        print("syscall counts: not collected by the Sentry yet (use --strace)")
        return healthError == nil ? 0 : 1
    }
}

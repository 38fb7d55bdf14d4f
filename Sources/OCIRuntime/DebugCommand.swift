// `bulwark debug ID`: what the launcher can see of a running sandbox: its host processes (supervisor,
// Sentry and its stubs), the Sentry's health through a Control Ping (uptime, process count, resident
// memory, round-trip time), its tasks (ListProcesses) and how many system calls of each kind the
// application made (SyscallStats: the Sentry counts every call it dispatches). Text output shows the
// ten most frequent; --syscalls shows them all.
import ArgumentParser
import Foundation
import Glibc
import LinuxABI
import Protocol

struct DebugCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "debug", abstract: "Show a sandbox's tasks and health.")

    @OptionGroup var globals: GlobalOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "List every system call the sandbox has made, with counts (text output).")
    var syscalls = false

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
        var stats: Control.SyscallStatsReply?
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
                stats = try client.call(Control.SyscallStats(containerID: id))
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
            if let stats {
                let counts = Self.sorted(stats).map { "\(JSONText.quote(Self.name($0.number))):\($0.count)" }
                fields.append("\"syscalls\":{\"total\":\(stats.total),\"counts\":{\(counts.joined(separator: ","))}}")
            }
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
        if let stats {
            let sorted = Self.sorted(stats)
            let shown = syscalls ? sorted : Array(sorted.prefix(10))
            print("system calls: \(stats.total) in all, \(sorted.count) kinds" + (shown.count < sorted.count ? " (top \(shown.count); --syscalls for all)" : ""))
            var rows = [["SYSCALL", "NR", "COUNT"]]
            for c in shown { rows.append([Self.name(c.number), String(c.number), String(c.count)]) }
            printTable(rows)
        }
        return healthError == nil ? 0 : 1
    }

    /// Most frequent first, then by number.
    static func sorted(_ stats: Control.SyscallStatsReply) -> [Control.SyscallCount] {
        stats.counts.sorted { $0.count != $1.count ? $0.count > $1.count : $0.number < $1.number }
    }

    static func name(_ number: UInt32) -> String { SyscallNumber(rawValue: Int(number)).name ?? "syscall_\(number)" }
}

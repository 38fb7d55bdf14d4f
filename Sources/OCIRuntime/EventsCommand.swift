// `bulwark events ID`: runc-style JSON lines. `--stats` prints one stats event and exits; otherwise a
// stats event every --interval until the container stops. The figures come from the host (CPU time
// and resident memory of the supervisor, the Sentry and its stub processes) and from the Sentry (the
// sandbox's process count, through a Control Ping).
import ArgumentParser
import Foundation
@preconcurrency import Glibc
import Protocol

struct EventsCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Display container events and statistics.")

    @OptionGroup var globals: GlobalOptions

    @Flag(help: "Print the container's statistics once and exit.")
    var stats = false

    @Option(help: "Time between stats events (Go duration: 5s, 500ms, 1m).")
    var interval: String = "5s"

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        guard let seconds = Self.parseDuration(interval), seconds > 0 else {
            throw RuntimeError("--interval \(interval): not a positive duration")
        }
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        guard dir.status(of: record) != .stopped else { throw RuntimeError("container with id \(id) is not running") }
        while true {
            guard dir.status(of: record) != .stopped else { return 0 }
            print(statsEvent(dir: dir, record: record))
            fflush(nil)
            if stats { return 0 }
            usleep(UInt32(min(seconds, 3600) * 1_000_000))
        }
    }

    private func statsEvent(dir: ContainerDirectory, record: ContainerRecord) -> String {
        let pids = ProcessTable.descendants(of: record.pid)
        var cpuTicks: UInt64 = 0
        var rssPages: UInt64 = 0
        for pid in pids {
            cpuTicks += Self.cpuTicks(pid)
            rssPages += Self.residentPages(pid)
        }
        let hz = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let cpuNanos = cpuTicks * (1_000_000_000 / hz)
        // The container's cgroup counts what it charges (page cache included); else the processes' RSS.
        let memory = dir.readCgroupPlan()?.memoryUsage ?? rssPages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let count = (try? ControlClient.connect(dir).call(Control.Ping(nonce: 1)).processCount).map(Int.init)
        let data = "{\"cpu\":{\"usage\":{\"total\":\(cpuNanos)}},\"memory\":{\"usage\":{\"usage\":\(memory)}},"
            + "\"pids\":{\"current\":\(count ?? pids.count)}}"
        return "{\"type\":\"stats\",\"id\":\(JSONText.quote(id)),\"data\":\(data)}"
    }

    /// utime + stime (fields 14 and 15 of /proc/<pid>/stat), in clock ticks.
    static func cpuTicks(_ pid: Int32) -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12 else { return 0 }
        return (UInt64(fields[11]) ?? 0) + (UInt64(fields[12]) ?? 0)
    }

    static func residentPages(_ pid: Int32) -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? UInt64(fields[1]) ?? 0 : 0
    }

    /// A Go-style duration ("1.5s", "500ms", "2m", "1h"); a bare number means seconds.
    static func parseDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000001), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(text)
    }
}

// bulwark-bench-ipc: round-trip cost of IPC.Channel beside a plain C socketpair ping-pong, measured in
// the same run. Two threads, one SOCK_SEQPACKET socketpair; the peer echoes each message back.
// Cases: a small request, a 4 KiB payload, a request passing one descriptor; each with both threads
// pinned to CPU 0 and unpinned. The C side sends exactly as many bytes as the Swift frame (header +
// body). Build with -c release. Not a test: it prints figures.
@preconcurrency import Glibc
import CBulwark
import FaultInjection
import HostOS
import IPC
import Wire

struct Options {
    var iterations = 20_000
    var repeats = 5
    /// Fault injection on the client channel (issue 8): none, empty (an empty plan: no hook
    /// installed) or idle (a plan whose one rule never matches: the hook runs on every call).
    var faults = "none"
}

func parseOptions() -> Options {
    var options = Options()
    let args = Array(CommandLine.arguments.dropFirst())
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--iterations" where i + 1 < args.count:
            options.iterations = max(100, Int(args[i + 1]) ?? options.iterations)
            i += 1
        case "--repeat" where i + 1 < args.count:
            options.repeats = max(1, Int(args[i + 1]) ?? options.repeats)
            i += 1
        case "--faults" where i + 1 < args.count && ["none", "empty", "idle"].contains(args[i + 1]):
            options.faults = args[i + 1]
            i += 1
        case "--help", "-h":
            print("usage: bulwark-bench-ipc [--iterations N] [--repeat R] [--faults none|empty|idle]")
            exit(0)
        default:
            fputs("bulwark-bench-ipc: unknown option \(args[i])\n", stderr)
            exit(2)
        }
        i += 1
    }
    return options
}

/// The echo peer's thread arguments.
final class EchoContext: @unchecked Sendable {
    let fd: Int32
    let cpu: Int32
    /// The echo thread's CPU time, written before the thread ends (read after pthread_join).
    var cpuNanoseconds = 0.0
    init(fd: Int32, cpu: Int32) {
        self.fd = fd
        self.cpu = cpu
    }
}

/// Peer thread: receive -> reply with the same body until the connection closes.
func echoThread(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let context = Unmanaged<EchoContext>.fromOpaque(raw!).takeUnretainedValue()
    if context.cpu >= 0 { _ = bw_pin_to_cpu(context.cpu) }
    let start = bw_thread_cpu_ns()
    let channel = Channel(OwnedFD(adopting: context.fd))
    while true {
        do {
            let request = try channel.receive(timeout: nil)
            try channel.reply(to: request.header, messageID: request.messageID, body: request.body)
        } catch {
            break
        }
    }
    context.cpuNanoseconds = bw_thread_cpu_ns() - start
    return nil
}

/// Nanoseconds per Channel.call round trip: (wall clock, CPU time of both threads).
func benchSwift(iterations: Int, bodySize: Int, passFD: Bool, cpu: Int32, faults: String) -> (wall: Double, cpu: Double) {
    let pair = try! UnixSocket.pair().releaseBoth()
    let pipe = try! FileIO.pipe()
    let echo = EchoContext(fd: pair.second, cpu: cpu)
    var thread = pthread_t()
    guard pthread_create(&thread, nil, echoThread, Unmanaged.passUnretained(echo).toOpaque()) == 0 else { fatalError("pthread_create") }
    if cpu >= 0 { _ = bw_pin_to_cpu(cpu) }
    let channel = Channel(OwnedFD(adopting: pair.first))
    switch faults {
    case "empty": channel.injectFaults(try! FaultPlan(specs: []), channel: .gofer, logName: "bench")
    case "idle": channel.injectFaults(try! FaultPlan(specs: ["message=60000,action=close"]), channel: .gofer, logName: "bench")
    default: break
    }
    let body = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bodySize, 1), alignment: 16)
    body.initializeMemory(as: UInt8.self, repeating: 7)
    defer { body.deallocate() }
    let payload = UnsafeRawBufferPointer(rebasing: body[..<bodySize])
    var fdStorage = pipe.write.rawValue
    var elapsed = 0.0
    var clientCPU = 0.0
    withUnsafeMutablePointer(to: &fdStorage) { fdPointer in
        let fds = UnsafeBufferPointer(start: fdPointer, count: passFD ? 1 : 0)
        // Warm up (first call sets the socket timeout), then measure.
        for _ in 0..<100 { _ = try! channel.call(1, body: payload, fds: fds, timeout: .seconds(10)) }
        let start = nowNanoseconds()
        let cpuStart = bw_thread_cpu_ns()
        for _ in 0..<iterations {
            do {
                let reply = try channel.call(1, body: payload, fds: fds, timeout: .seconds(10))
                precondition(reply.body.count == bodySize)
            } catch {
                fatalError("call failed: \(error)")
            }
        }
        elapsed = Double(nowNanoseconds() - start)
        clientCPU = bw_thread_cpu_ns() - cpuStart
    }
    channel.close()
    pthread_join(thread, nil)
    if cpu >= 0 { _ = bw_unpin() }
    // The echo thread's CPU time includes its 100 warm-up round trips: scale them out.
    let echoCPU = echo.cpuNanoseconds * Double(iterations) / Double(iterations + 100)
    return (elapsed / Double(iterations), (clientCPU + echoCPU) / Double(iterations))
}

func nowNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func format(_ ns: Double) -> String {
    let hundredths = Int((ns / 10).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) us"
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

let options = parseOptions()
let cases: [(name: String, body: Int, fd: Bool)] = [
    ("small request (8 B body)", 8, false),
    ("4 KiB payload", 4096, false),
    ("small + 1 fd", 8, true),
]
print("bulwark-bench-ipc: \(options.iterations) round trips x \(options.repeats) runs, medians per round trip, faults: \(options.faults)")
print("wall = elapsed time; cpu = CPU time of both threads (robust when other work shares the CPUs)")
print(pad("case", 26) + pad("cpus", 10) + pad("C wall", 10) + pad("IPC wall", 10) + pad("ratio", 7)
      + pad("C cpu", 10) + pad("IPC cpu", 10) + "ratio")
for (name, bodySize, passFD) in cases {
    for cpu: Int32 in [0, -1] {
        var cWall: [Double] = [], cCPU: [Double] = [], sWall: [Double] = [], sCPU: [Double] = []
        for _ in 0..<options.repeats {
            var cpuTime = 0.0
            let c = bw_bench_c_pingpong(options.iterations, FrameHeader.size + bodySize, passFD ? 1 : 0, cpu, &cpuTime)
            guard c > 0 else { fatalError("C baseline failed") }
            cWall.append(c)
            cCPU.append(cpuTime)
            let s = benchSwift(iterations: options.iterations, bodySize: bodySize, passFD: passFD, cpu: cpu, faults: options.faults)
            sWall.append(s.wall)
            sCPU.append(s.cpu)
        }
        let cw = median(cWall), sw = median(sWall), cc = median(cCPU), sc = median(sCPU)
        print(pad(name, 26) + pad(cpu >= 0 ? "pinned 0" : "unpinned", 10) + pad(format(cw), 10) + pad(format(sw), 10)
              + pad(ratio(sw, cw), 7) + pad(format(cc), 10) + pad(format(sc), 10) + ratio(sc, cc))
    }
}

func ratio(_ a: Double, _ b: Double) -> String {
    let hundredths = Int((a / b * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)x"
}

// A pair of network namespaces joined by a veth pair, made for one test: the kernel keeps its own
// TCP/IP on end "a" (10.N.M.1/24, in namespace K); bulwark-netstack-probe takes over end "b"
// (10.N.M.2/24, namespace S) and the kernel on that side loses the address. Names are unique per
// run; everything is deleted on close, also after a failed expectation.
import Foundation
import Glibc
import HostOS
import TestSupport

struct SetupError: Error, CustomStringConvertible { var description: String }

final class InteropNet {
    static let counter = Counter()
    let kernelNS: String, stackNS: String, kernelIf: String, stackIf: String
    let kernelIP: String, stackIP: String
    let scratch: URL
    var probe: Process?

    /// Whether this machine can make network namespaces (root with iproute2); nil when it can.
    static let unavailableReason: String? = {
        if geteuid() != 0 { return "network namespaces need root" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            return "iproute2 (ip) is not installed"
        }
        let name = "bwprobe\(getpid())"
        guard let r = try? ProcessRunner.shell("ip netns add \(name) && ip netns del \(name)", timeout: 10), r.exitCode == 0 else {
            return "cannot create network namespaces here"
        }
        return nil
    }()

    init(mtu: Int = 1500) throws {
        let n = InteropNet.counter.next()
        let tag = "\(getpid() % 100_000)x\(n)"
        kernelNS = "bwk\(tag)"; stackNS = "bws\(tag)"
        kernelIf = "bwa\(tag)"; stackIf = "bwb\(tag)"
        let subnet = "10.\(100 + (getpid() % 100)).\(n % 250)"
        kernelIP = "\(subnet).1"; stackIP = "\(subnet).2"
        scratch = try TestPaths.makeScratchDirectory("bulwark-netstack")
        let script = """
            set -e
            ip netns add \(kernelNS)
            ip netns add \(stackNS)
            ip link add \(kernelIf) netns \(kernelNS) mtu \(mtu) type veth peer name \(stackIf) netns \(stackNS) mtu \(mtu)
            ip -n \(kernelNS) addr add \(kernelIP)/24 dev \(kernelIf)
            ip -n \(stackNS) addr add \(stackIP)/24 dev \(stackIf)
            ip -n \(kernelNS) link set \(kernelIf) up
            ip -n \(stackNS) link set \(stackIf) up
            ip -n \(kernelNS) link set lo up
            # The kernel side must hand over complete frames: no checksum offload, no TSO/GSO super-frames.
            ip netns exec \(kernelNS) ethtool -K \(kernelIf) tx off tso off gso off >/dev/null 2>&1 || true
            """
        let r = try ProcessRunner.shell(script, timeout: 20)
        if r.exitCode != 0 {
            close()
            throw SetupError(description: "veth setup failed: \(r.stderr)")
        }
    }

    /// Starts the probe on the stack end and waits (bounded) until it has taken the interface over.
    func startProbe(_ extra: [String] = [], seconds: Int = 50) throws {
        let ready = scratch.appendingPathComponent("ready").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let args = (["ip", "netns", "exec", stackNS, TestPaths.executable("bulwark-netstack-probe"),
                     "--interface", stackIf, "--ready-file", ready, "--seconds", "\(seconds)"] + extra).joined(separator: " ")
        p.arguments = ["-c", "exec \(args) >\(scratch.path)/probe.out 2>\(scratch.path)/probe.err"]
        try p.runForTest()
        probe = p
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: ready) {
            if !p.isRunning || Date() > deadline {
                throw SetupError(description: "probe did not start: \(probeOutput().err)")
            }
            usleep(10_000)
        }
    }

    func probeOutput() -> (out: String, err: String) {
        let o = (try? String(contentsOfFile: scratch.path + "/probe.out", encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: scratch.path + "/probe.err", encoding: .utf8)) ?? ""
        return (o, e)
    }

    /// Runs `body` on a fresh thread inside the kernel-side namespace: sockets it creates belong
    /// there and can then be used from any thread.
    func inKernelNamespace<T>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        try inNamespace("/run/netns/\(kernelNS)", body)
    }

    /// Runs `body` on a fresh thread inside the network namespace at `path`.
    func inNamespace<T>(_ path: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let box = ResultBox<T>()
        let t = Thread {
            do {
                try NetNamespace.enter(path: path)
                box.set(.success(try body()))
            } catch { box.set(.failure(error)) }
        }
        t.start()
        guard let r = box.wait(seconds: 10) else { throw SetupError(description: "namespace thread hung") }
        return try r.get()
    }

    func close() {
        if let p = probe, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        probe = nil
        _ = try? ProcessRunner.shell("ip netns del \(kernelNS) 2>/dev/null; ip netns del \(stackNS) 2>/dev/null", timeout: 10)
        try? FileManager.default.removeItem(at: scratch)
    }

    deinit { close() }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}

final class ResultBox<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?
    func set(_ r: Result<T, any Error>) { result = r; done.signal() }
    func wait(seconds: Double) -> Result<T, any Error>? {
        done.wait(timeout: .now() + seconds) == .success ? result : nil
    }
}

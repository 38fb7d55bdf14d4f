// A sandbox network for one test: two fresh network namespaces joined by a veth pair. "peer" stands
// for the host (the kernel's own TCP/IP, where curl, redis-cli and iperf3 run); "box" is the
// sandbox's namespace, where `bulwark-sentry run --network sandbox` starts a netstack that takes the
// veth end over. Names and addresses are unique per test process; everything (the sandbox, then both
// namespaces) is torn down on close, also after a failed expectation. Root only. The peer keeps its
// checksum and segmentation offloads on, as Docker's side of a veth does: the netstack completes
// partial checksums and takes GSO super-frames (HostLink.swift).
import Foundation
import Glibc
import TestSupport

struct SandboxNetError: Error, CustomStringConvertible { var description: String }

final class SandboxNet {
    nonisolated(unsafe) static var counter = 0
    static let counterLock = NSLock()
    let peerNS: String, boxNS: String, peerIf: String, boxIf: String
    let peerIP: String, boxIP: String
    let scratch: URL
    var sandbox: Process?

    /// nil when this machine can run these tests (root, iproute2, network namespaces).
    static let unavailableReason: String? = {
        if geteuid() != 0 { return "network namespaces need root" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            return "iproute2 (ip) is not installed"
        }
        let name = "bwnprobe\(getpid())"
        guard let r = try? ProcessRunner.shell("ip netns add \(name) && ip netns del \(name)", timeout: 10), r.exitCode == 0 else {
            return "cannot create network namespaces here"
        }
        return nil
    }()

    /// Why a test needing `programs` cannot run (not root, a program missing), or nil.
    static func skipReason(_ programs: [String]) -> String? {
        if let r = unavailableReason { return r }
        for p in programs where !FileManager.default.isExecutableFile(atPath: p) { return "\(p) is not installed (tools/install-deps)" }
        return nil
    }

    init(mtu: Int = 1500) throws {
        SandboxNet.counterLock.lock()
        SandboxNet.counter += 1
        let n = SandboxNet.counter
        SandboxNet.counterLock.unlock()
        let tag = "\(getpid() % 100_000)n\(n)"
        peerNS = "bwnp\(tag)"; boxNS = "bwnb\(tag)"
        peerIf = "bwnp\(tag)"; boxIf = "bwnb\(tag)"
        // Both ends live in namespaces of their own, so the subnet cannot collide with anything.
        peerIP = "10.77.\(n % 250).1"; boxIP = "10.77.\(n % 250).2"
        scratch = try TestPaths.makeScratchDirectory("bulwark-sandboxnet")
        let script = """
            set -e
            ip netns add \(peerNS)
            ip netns add \(boxNS)
            ip link add \(peerIf) netns \(peerNS) mtu \(mtu) type veth peer name \(boxIf) netns \(boxNS) mtu \(mtu)
            ip -n \(peerNS) addr add \(peerIP)/24 dev \(peerIf)
            ip -n \(boxNS) addr add \(boxIP)/24 dev \(boxIf)
            ip -n \(peerNS) link set lo up
            ip -n \(peerNS) link set \(peerIf) up
            ip -n \(boxNS) link set \(boxIf) up
            """
        let r = try ProcessRunner.shell(script, timeout: 20)
        if r.exitCode != 0 {
            close()
            throw SandboxNetError(description: "veth setup failed: \(r.stderr)")
        }
    }

    /// Starts `argv` in the sandbox (rootfs "/", --network sandbox) inside the box namespace; its
    /// output goes to files read by `sandboxOutput()`.
    func startSandbox(_ argv: [String], env: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"], extra: [String] = []) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        var args = ["netns", "exec", boxNS, TestPaths.executable("bulwark-sentry"), "run", "--rootfs", "/", "--network", "sandbox"] + extra
        for e in env { args += ["--env", e] }
        p.arguments = args + ["--"] + argv
        FileManager.default.createFile(atPath: scratch.path + "/out", contents: nil)
        FileManager.default.createFile(atPath: scratch.path + "/err", contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: scratch.appendingPathComponent("out"))
        p.standardError = try FileHandle(forWritingTo: scratch.appendingPathComponent("err"))
        p.standardInput = FileHandle.nullDevice
        try p.runForTest()
        sandbox = p
    }

    func sandboxOutput() -> (out: String, err: String) {
        let o = (try? String(contentsOfFile: scratch.path + "/out", encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: scratch.path + "/err", encoding: .utf8)) ?? ""
        return (o, e)
    }

    /// Runs a shell command in the peer ("host") namespace.
    func onPeer(_ command: String, timeout: Double = 30) throws -> ProcessResult {
        try ProcessRunner.run("/usr/sbin/ip", ["netns", "exec", peerNS, "/bin/sh", "-c", command], timeout: timeout)
    }

    /// Waits (bounded) until a TCP connection from the peer to the sandbox's `port` succeeds.
    func waitForPort(_ port: Int, seconds: Int = 30) throws {
        let tries = seconds * 10
        let r = try onPeer("for i in $(seq \(tries)); do timeout 2 bash -c 'exec 3<>/dev/tcp/\(boxIP)/\(port)' 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
                           timeout: Double(seconds) * 3 + 10)
        if r.exitCode != 0 {
            let o = sandboxOutput()
            throw SandboxNetError(description: "port \(port) in the sandbox never answered (running: \(sandbox?.isRunning ?? false))\nstdout: \(o.out)\nstderr: \(o.err)")
        }
    }

    /// Waits (bounded) until the sandbox's standard output contains `text`, without touching the
    /// network: for a server that would take a probe connection for a client (iperf3 -s).
    func waitForOutput(_ text: String, seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !sandboxOutput().out.contains(text) {
            guard Date() < deadline, sandbox?.isRunning ?? false else {
                let o = sandboxOutput()
                throw SandboxNetError(description: "the sandbox never printed \"\(text)\" (running: \(sandbox?.isRunning ?? false))\nstdout: \(o.out)\nstderr: \(o.err)")
            }
            usleep(50_000)
        }
    }

    /// Waits (bounded) for the sandbox to exit on its own; false if it is still running.
    func waitForExit(seconds: Double) -> Bool {
        guard let p = sandbox else { return true }
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        return !p.isRunning
    }

    /// Stops the sandbox: SIGTERM (forwarded to its init), then SIGKILL after a bounded wait.
    func stopSandbox() {
        guard let p = sandbox else { return }
        if p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            if !waitForExit(seconds: 5) {
                kill(p.processIdentifier, SIGKILL)
                _ = waitForExit(seconds: 5)
            }
        }
        sandbox = nil
    }

    func close() {
        stopSandbox()
        // Whatever still runs in the namespaces (a stray netstack or guest) goes with them.
        _ = try? ProcessRunner.shell("""
            for ns in \(peerNS) \(boxNS); do
              for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p 2>/dev/null; done
              ip netns del $ns 2>/dev/null
            done; true
            """, timeout: 10)
        try? FileManager.default.removeItem(at: scratch)
    }

    deinit { close() }
}

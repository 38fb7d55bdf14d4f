import Glibc
import HostOS
import LinuxABI
import Testing

@Suite struct HostCallTests {
    @Test func failedCallNamesTheCallAndErrno() {
        #expect(throws: HostError(call: "read", errno: .EBADF)) {
            var byte: UInt8 = 0
            _ = try withUnsafeMutableBytes(of: &byte) { b in try FileIO.read(-1, into: b) }
        }
    }

    @Test func pipeCarriesBytesAndHasCloexec() throws {
        let pipe = try FileIO.pipe()
        let r = pipe.read.rawValue, w = pipe.write.rawValue
        #expect(fcntl(r, F_GETFD) & FD_CLOEXEC != 0)
        #expect(fcntl(w, F_GETFD) & FD_CLOEXEC != 0)
        let message: [UInt8] = Array("bulwark".utf8)
        try message.withUnsafeBytes { b in try FileIO.writeAll(w, b) }
        var got = [UInt8](repeating: 0, count: 16)
        let n = try got.withUnsafeMutableBytes { b in try FileIO.read(r, into: b) }
        #expect(Array(got[..<n]) == message)
    }

    @Test func ownedFDClosesExactlyOnce() throws {
        let raw: Int32
        do {
            let pipe = try FileIO.pipe()
            raw = pipe.read.rawValue
            _ = pipe  // both ends dropped at the end of this scope
        }
        #expect(fcntl(raw, F_GETFD) == -1)
        #expect(errno == EBADF)
    }

    @Test func errnoNamesRoundTrip() {
        #expect(Errno.ENOENT.rawValue == 2)
        #expect(Errno(name: "EIO") == .EIO)
        #expect(Errno(rawValue: 4095).name == "errno 4095")
        #expect(SyscallNumber(name: "openat")?.rawValue == 257)
        #expect(SyscallNumber.getpid.name == "getpid")
    }
}

import TestSupport

@Suite struct TestSupportTests {
    @Test func runCapturesOutputAndStatus() throws {
        let r = try ProcessRunner.shell("echo out; echo err >&2; exit 3")
        #expect(r.exitCode == 3)
        #expect(r.stdout == "out\n")
        #expect(r.stderr == "err\n")
    }

    @Test func deadlineKillsAHungChild() throws {
        let r = try ProcessRunner.run("/bin/sleep", ["30"], timeout: 0.5)
        #expect(r.timedOut)
        #expect(r.signal == SIGKILL)
    }
}

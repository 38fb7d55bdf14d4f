// Seccomp policies as data: a forbidden syscall kills the process with SIGSYS; an allowed one does not.
import CBulwark
import Glibc
import HostOS
import Testing

@Suite struct SeccompTests {
    static let probePolicy = SeccompPolicy(name: "probe", rules: [
        SeccompRule("exit_group", "the probe exits"),
        SeccompRule("exit", "the probe exits"),
        SeccompRule("getpid", "the allowed call under test"),
    ])

    /// Forks a child that installs `policy`, then calls `syscall`; returns the wait status.
    func runProbe(_ policy: SeccompPolicy, calling syscall: String) throws -> Int32 {
        let program = try Seccomp.compile(policy)
        #expect(program.count % 8 == 0 && program.count > 0)
        let nr = try #require(Seccomp.number(of: syscall))
        let status = program.withUnsafeBytes { b in
            bw_fork_filtered_syscall(b.baseAddress, UInt16(b.count / 8), Int(nr), 5000)
        }
        try #require(status != -1)
        return status
    }

    @Test func forbiddenSyscallKillsWithSIGSYS() throws {
        let status = try runProbe(Self.probePolicy, calling: "getppid")
        #expect(bw_wifsignaled(status) != 0)
        #expect(bw_wtermsig(status) == SIGSYS)
    }

    @Test func allowedSyscallRuns() throws {
        let status = try runProbe(Self.probePolicy, calling: "getpid")
        #expect(bw_wifexited(status) != 0)
        #expect(bw_wexitstatus(status) == 0)
    }

    @Test func removingARuleForbidsTheCall() throws {
        let status = try runProbe(Self.probePolicy.removing(["getpid"]), calling: "getpid")
        #expect(bw_wifsignaled(status) != 0 && bw_wtermsig(status) == SIGSYS)
    }

    @Test func unknownSyscallNameIsAnError() {
        let policy = SeccompPolicy(name: "bad", rules: [SeccompRule("no_such_call", "typo")])
        #expect(throws: SeccompError.unknownSyscall("no_such_call")) { _ = try Seccomp.compile(policy) }
    }
}

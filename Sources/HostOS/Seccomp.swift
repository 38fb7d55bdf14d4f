// Seccomp allowlists written as data (one entry per host syscall, with the reason it is needed),
// compiled by libseccomp. Default action: kill the whole process. Installing also sets no_new_privs.
import CBulwark
import CSeccomp
import Glibc
import LinuxABI

/// One allowed host system call and why the process needs it.
public struct SeccompRule: Sendable, Equatable {
    public let syscall: String
    public let reason: String
    /// Allowed only when argument `argument` (0-based) has `equals` in its low 32 bits (an int
    /// argument such as setsockopt's level); nil: any arguments. A syscall listed once without a
    /// condition is allowed whatever its other rules say.
    public let argument: UInt32?
    public let equals: UInt32
    public init(_ syscall: String, _ reason: String) {
        self.syscall = syscall
        self.reason = reason
        argument = nil
        equals = 0
    }
    public init(_ syscall: String, _ reason: String, argument: UInt32, equals: UInt32) {
        self.syscall = syscall
        self.reason = reason
        self.argument = argument
        self.equals = equals
    }
}

/// An allowlist: every syscall not listed kills the process with SIGSYS.
public struct SeccompPolicy: Sendable, Equatable {
    public var name: String
    public var rules: [SeccompRule]
    public init(name: String, rules: [SeccompRule]) {
        self.name = name
        self.rules = rules
    }

    /// This policy plus `other`'s rules (for a base policy extended per service).
    public func adding(_ other: SeccompPolicy) -> SeccompPolicy {
        SeccompPolicy(name: "\(name)+\(other.name)", rules: rules + other.rules)
    }

    /// This policy without the named syscalls (tests use it to forbid one call).
    public func removing(_ names: Set<String>) -> SeccompPolicy {
        SeccompPolicy(name: name, rules: rules.filter { !names.contains($0.syscall) })
    }
}

public enum SeccompError: Error, Equatable, CustomStringConvertible {
    /// A policy names a syscall libseccomp does not know on this architecture.
    case unknownSyscall(String)
    /// A libseccomp call failed with this (negative) errno.
    case library(call: String, errno: Errno)
    case host(HostError)

    public var description: String {
        switch self {
        case .unknownSyscall(let name): return "seccomp: unknown syscall \(name)"
        case .library(let call, let errno): return "seccomp: \(call): \(errno.name)"
        case .host(let error): return "seccomp: \(error)"
        }
    }
}

public enum Seccomp {
    /// prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer gain privileges; required for an
    /// unprivileged filter install.
    public static func setNoNewPrivileges() throws(HostError) {
        _ = try hostCall("prctl(PR_SET_NO_NEW_PRIVS)") { bw_prctl(38, 1, 0, 0, 0) }
    }

    /// The syscall number of `name` on this architecture, or nil.
    public static func number(of name: String) -> Int32? {
        let nr = seccomp_syscall_resolve_name(name)
        return nr == __NR_SCMP_ERROR ? nil : nr
    }

    /// Sets no_new_privs and loads `policy` into the kernel for every thread of this process
    /// (SCMP_FLTATR_CTL_TSYNC). From here on, any syscall not in the policy kills the process.
    public static func install(_ policy: SeccompPolicy) throws(SeccompError) {
        try install(policy, otherwise: .killProcess)
    }

    /// What a filter does with a syscall that is not listed.
    public enum DefaultAction: Sendable {
        /// SECCOMP_RET_KILL_PROCESS (services).
        case killProcess
        /// SECCOMP_RET_TRAP: the call does not run; SIGSYS, which kills a process without a handler.
        /// For a process whose children inherit the filter and rely on a TRAP filter of their own (the
        /// Sentry's stubs): KILL would outrank their TRAP.
        case trap
        /// SECCOMP_RET_LOG: the call runs and is logged (audit type=1326); for finding a policy.
        case log
    }

    /// `install(_:)` with another default action; the rules are compiled as a binary tree (libseccomp
    /// optimisation level 2) so a long list costs a few comparisons.
    public static func install(_ policy: SeccompPolicy, otherwise action: DefaultAction) throws(SeccompError) {
        let raw: UInt32 = switch action {
        case .killProcess: SCMP_ACT_KILL_PROCESS
        case .trap: SCMP_ACT_TRAP
        case .log: SCMP_ACT_LOG
        }
        let ctx = try makeContext(policy, defaultAction: raw)
        defer { seccomp_release(ctx) }
        do { try setNoNewPrivileges() } catch { throw .host(error) }
        try check("seccomp_attr_set(TSYNC)", seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1))
        if action != .killProcess { _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) }
        try check("seccomp_load", seccomp_load(ctx))
    }

    /// The classic-BPF program for `policy`, as raw sock_filter instructions (8 bytes each), for a
    /// child process to install with prctl(PR_SET_SECCOMP) without calling libseccomp after fork.
    public static func compile(_ policy: SeccompPolicy) throws(SeccompError) -> [UInt8] {
        let ctx = try makeContext(policy)
        defer { seccomp_release(ctx) }
        let pipe: FDPair
        do { pipe = try FileIO.pipe() } catch { throw .host(error) }
        // A filter is at most 4096 instructions (32 KiB), below the pipe's 64 KiB capacity.
        try check("seccomp_export_bpf", seccomp_export_bpf(ctx, pipe.write.rawValue))
        var program: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let readEnd = pipe.read.rawValue
        _ = Glibc.close(pipe.second.release())
        while true {
            let n = chunk.withUnsafeMutableBytes { b in Glibc.read(readEnd, b.baseAddress, b.count) }
            if n < 0 && bw_errno() == EINTR { continue }
            if n < 0 { throw .host(HostError(call: "read", errno: Errno(rawValue: bw_errno()))) }
            if n == 0 { break }
            program += chunk[..<n]
        }
        return program
    }

    private static func makeContext(_ policy: SeccompPolicy, defaultAction: UInt32 = SCMP_ACT_KILL_PROCESS) throws(SeccompError) -> scmp_filter_ctx {
        guard let ctx = seccomp_init(defaultAction) else {
            throw .library(call: "seccomp_init", errno: .ENOMEM)
        }
        var seen = Set<String>()
        let unconditional = Set(policy.rules.filter { $0.argument == nil }.map(\.syscall))
        for rule in policy.rules where rule.argument != nil ? !unconditional.contains(rule.syscall) : seen.insert(rule.syscall).inserted {
            guard let nr = number(of: rule.syscall) else {
                seccomp_release(ctx)
                throw .unknownSyscall(rule.syscall)
            }
            var rc: Int32
            if let argument = rule.argument {
                // Masked: an int argument's upper 32 bits are not defined by the calling convention.
                var cmp = scmp_arg_cmp(arg: argument, op: SCMP_CMP_MASKED_EQ, datum_a: 0xffff_ffff, datum_b: UInt64(rule.equals))
                rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp)
            } else {
                rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, nil)
            }
            if rc < 0 {
                seccomp_release(ctx)
                throw .library(call: "seccomp_rule_add_array(\(rule.syscall))", errno: Errno(rawValue: -rc))
            }
        }
        return ctx
    }

    private static func check(_ call: String, _ rc: Int32) throws(SeccompError) {
        if rc < 0 { throw .library(call: call, errno: Errno(rawValue: -rc)) }
    }
}

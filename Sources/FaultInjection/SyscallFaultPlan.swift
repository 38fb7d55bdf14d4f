// Syscall fault rules for the Sentry (issue 8): parsed and decided here, applied by SentryKernel's
// SyscallFaults.swift from its syscall dispatch. The caller serialises calls to `decide` (the Sentry
// holds its kernel lock).
import LinuxABI

/// What to do to one syscall.
public enum SyscallFaultAction: Equatable, Sendable {
    case fail(Errno)
    case short(bytes: Int)
    case delay(milliseconds: Int)
}

public final class SyscallFaultPlan {
    struct Rule {
        var spec: SyscallFaultRule
        var matched = 0
        var random: SplitMix64
    }
    var rules: [Rule]

    public init(rules: [SyscallFaultRule]) {
        self.rules = rules.map { Rule(spec: $0, random: SplitMix64(seed: $0.seed)) }
    }

    /// Parses `--fault` values and keeps the syscall ones.
    public convenience init(specs: [String]) throws(FaultSpecError) {
        var list: [SyscallFaultRule] = []
        for text in specs {
            if case .syscall(let rule) = try FaultSpec.parse(text) { list.append(rule) }
        }
        self.init(rules: list)
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// The rules as given (the Sentry checks which syscalls, paths and fd types they name).
    public var ruleList: [SyscallFaultRule] { rules.map(\.spec) }

    /// Of the last call to `decide` that chose an action: the rule's index (from 0) and how many calls
    /// had matched it (for the log line: "rule 1, call #3").
    public private(set) var lastRule = 0
    public private(set) var lastOccurrence = 0

    /// Decides for one call of `syscall` (with the path it names and the kind of its descriptor, when
    /// known). Same counting as FaultPlan.decide.
    public func decide(syscall: SyscallNumber, path: String? = nil, fdType: FDType? = nil) -> SyscallFaultAction? {
        var chosen: SyscallFaultAction?
        for i in rules.indices {
            let spec = rules[i].spec
            guard spec.syscall == syscall else { continue }
            if let wanted = spec.path, wanted != path { continue }
            if let wanted = spec.fdType, wanted != fdType { continue }
            rules[i].matched += 1
            let n = rules[i].matched
            let fires: Bool
            switch spec.trigger {
            case .always: fires = true
            case .every(let k): fires = n % k == 0
            case .after(let k): fires = n >= k
            case .nth(let k): fires = n == k
            }
            var gate = true
            if let p = spec.probability { gate = rules[i].random.nextUnit() < p }
            guard chosen == nil, fires, gate else { continue }
            switch spec.kind {
            case .fail(let e): chosen = .fail(e)
            case .short(let bytes): chosen = .short(bytes: bytes)
            case .delay(.fixed(let ms)): chosen = .delay(milliseconds: ms)
            case .delay(.random(let max)): chosen = .delay(milliseconds: Int(rules[i].random.next() % UInt64(max + 1)))
            }
            lastRule = i
            lastOccurrence = n
        }
        return chosen
    }
}

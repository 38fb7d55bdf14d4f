// Fault specs (issue 8): the text after `--fault`, comma-separated key=value pairs, parsed into an IPC
// rule (applied by IPC.Channel and ServiceKit) or a syscall rule (applied by the Sentry later).
// Parsing never traps on any input: every bad key or value becomes a FaultSpecError naming it.
import LinuxABI

/// Which IPC channel a rule applies to (the service at the other end).
public enum FaultChannel: String, CaseIterable, Sendable {
    case control, gofer, netstack, procfs
}

/// Which message a rule applies to, as written; names are resolved against a schema by FaultPlan.
public enum MessageSelector: Equatable, Sendable {
    case any
    case id(UInt16)
    case name(String)
}

/// When a matching message gets the fault. `n` counts messages that matched the rule (from 1).
public enum FaultTrigger: Equatable, Sendable {
    /// Every matching message.
    case always
    /// Messages N, 2N, 3N, ...
    case every(Int)
    /// Message N and every later one.
    case after(Int)
    /// Only message N.
    case nth(Int)
}

/// How long a delay lasts: fixed, or drawn (seeded) from 0...max.
public enum FaultDelay: Equatable, Sendable {
    case fixed(milliseconds: Int)
    case random(maximumMilliseconds: Int)
}

/// What an IPC rule does to a matching message.
public enum IPCFaultKind: Equatable, Sendable {
    case delay(FaultDelay)
    case dropReply
    /// XOR `bytes` bytes of the frame (header included) starting at `offset` with nonzero values.
    case corrupt(bytes: Int, offset: Int)
    /// Send only the first `bytes` bytes of the frame.
    case truncate(bytes: Int)
    case duplicate
    case close
    /// Services only: reply to the message, then SIGKILL themselves.
    case killPeer
}

public struct IPCFaultRule: Equatable, Sendable {
    /// nil = any channel.
    public var channel: FaultChannel?
    public var message: MessageSelector
    public var kind: IPCFaultKind
    public var trigger: FaultTrigger
    /// nil = no probability gate; else the fault fires with this probability (when the trigger holds).
    public var probability: Double?
    public var seed: UInt64

    public init(channel: FaultChannel? = nil, message: MessageSelector = .any, kind: IPCFaultKind,
                trigger: FaultTrigger = .always, probability: Double? = nil, seed: UInt64 = 0) {
        self.channel = channel
        self.message = message
        self.kind = kind
        self.trigger = trigger
        self.probability = probability
        self.seed = seed
    }
}

/// What kind of descriptor a syscall rule is limited to.
public enum FDType: String, CaseIterable, Sendable {
    case file, dir, pipe, socket, any
}

public enum SyscallFaultKind: Equatable, Sendable {
    /// Fail with this errno instead of running the syscall.
    case fail(Errno)
    /// Transfer at most `bytes` bytes (read/write family).
    case short(bytes: Int)
    case delay(FaultDelay)
}

public struct SyscallFaultRule: Equatable, Sendable {
    public var syscall: SyscallNumber
    /// Only calls naming this path (nil = any).
    public var path: String?
    /// Only calls on this kind of descriptor (nil = any).
    public var fdType: FDType?
    public var kind: SyscallFaultKind
    public var trigger: FaultTrigger
    public var probability: Double?
    public var seed: UInt64

    public init(syscall: SyscallNumber, path: String? = nil, fdType: FDType? = nil, kind: SyscallFaultKind,
                trigger: FaultTrigger = .always, probability: Double? = nil, seed: UInt64 = 0) {
        self.syscall = syscall
        self.path = path
        self.fdType = fdType
        self.kind = kind
        self.trigger = trigger
        self.probability = probability
        self.seed = seed
    }
}

public enum FaultSpec: Equatable, Sendable {
    case ipc(IPCFaultRule)
    case syscall(SyscallFaultRule)
}

public struct FaultSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension FaultSpec {
    static let ipcKeys = ["channel", "message", "action", "ms", "max-ms", "bytes", "offset",
                          "every", "after", "nth", "probability", "seed"]
    static let syscallKeys = ["syscall", "path", "fd-type", "errno", "action", "ms", "max-ms", "bytes",
                              "every", "after", "nth", "probability", "seed"]
    /// Largest delay accepted (a fault is for testing, not for parking a process forever).
    public static let maximumDelayMilliseconds = 600_000
    /// Longest spec accepted.
    public static let maximumLength = 4096

    /// Parses one spec, e.g. `channel=gofer,message=Walk,action=delay,ms=200`.
    public static func parse(_ text: String) throws(FaultSpecError) -> FaultSpec {
        guard text.utf8.count <= maximumLength else {
            throw FaultSpecError("fault spec longer than \(maximumLength) bytes")
        }
        guard !text.isEmpty else { throw FaultSpecError("empty fault spec") }
        var fields: [String: String] = [:]
        var order: [String] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let equals = item.firstIndex(of: "=") else {
                throw FaultSpecError("'\(item)' is not key=value in fault spec '\(text)'")
            }
            let key = String(item[..<equals])
            let value = String(item[item.index(after: equals)...])
            guard !key.isEmpty else { throw FaultSpecError("empty key in fault spec '\(text)'") }
            guard !value.isEmpty else { throw FaultSpecError("empty value for '\(key)' in fault spec '\(text)'") }
            guard fields[key] == nil else { throw FaultSpecError("'\(key)' given twice in fault spec '\(text)'") }
            fields[key] = value
            order.append(key)
        }
        let isSyscall = fields["syscall"] != nil
        let allowed = isSyscall ? syscallKeys : ipcKeys
        for key in order where !allowed.contains(key) {
            throw FaultSpecError("unknown key '\(key)' in \(isSyscall ? "syscall" : "IPC") fault spec '\(text)' (keys: \(allowed.joined(separator: ", ")))")
        }
        var reader = FieldReader(fields: fields)
        return isSyscall ? .syscall(try parseSyscall(&reader)) : .ipc(try parseIPC(&reader))
    }

    static func parseIPC(_ r: inout FieldReader) throws(FaultSpecError) -> IPCFaultRule {
        var channel: FaultChannel?
        if let text = r.fields["channel"], text != "any" {
            guard let c = FaultChannel(rawValue: text) else {
                throw FaultSpecError("bad value '\(text)' for 'channel': expected control, gofer, netstack, procfs or any")
            }
            channel = c
        }
        var message = MessageSelector.any
        if let text = r.fields["message"], text != "any" {
            if let id = UInt16(text) {
                message = .id(id)
            } else {
                guard text.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }) else {
                    throw FaultSpecError("bad value '\(text)' for 'message': expected a message name, a number 0...65535 or any")
                }
                message = .name(text)
            }
        }
        guard let action = r.fields["action"] else {
            throw FaultSpecError("missing 'action' (delay, drop-reply, corrupt, truncate, duplicate, close, kill-peer)")
        }
        let kind: IPCFaultKind
        switch action {
        case "delay": kind = .delay(try r.delay())
        case "drop-reply": kind = .dropReply
        case "corrupt":
            kind = .corrupt(bytes: try r.integer("bytes", in: 1...FaultSpecLimits.maximumBytes) ?? 1,
                            offset: try r.integer("offset", in: 0...FaultSpecLimits.maximumBytes) ?? 0)
        case "truncate":
            guard let bytes = try r.integer("bytes", in: 0...FaultSpecLimits.maximumBytes) else {
                throw FaultSpecError("action 'truncate' needs 'bytes' (how many bytes of the frame to keep)")
            }
            kind = .truncate(bytes: bytes)
        case "duplicate": kind = .duplicate
        case "close": kind = .close
        case "kill-peer": kind = .killPeer
        default:
            throw FaultSpecError("bad value '\(action)' for 'action': expected delay, drop-reply, corrupt, truncate, duplicate, close or kill-peer")
        }
        try r.rejectUnused(for: action, allowed: ["delay": ["ms", "max-ms"], "corrupt": ["bytes", "offset"], "truncate": ["bytes"]])
        let (trigger, probability, seed) = try r.trigger()
        return IPCFaultRule(channel: channel, message: message, kind: kind, trigger: trigger,
                            probability: probability, seed: seed)
    }

    static func parseSyscall(_ r: inout FieldReader) throws(FaultSpecError) -> SyscallFaultRule {
        let name = r.fields["syscall"]!
        guard let number = SyscallNumber(name: name) else {
            throw FaultSpecError("bad value '\(name)' for 'syscall': not an x86-64 Linux syscall name")
        }
        var fdType: FDType?
        if let text = r.fields["fd-type"], text != "any" {
            guard let t = FDType(rawValue: text) else {
                throw FaultSpecError("bad value '\(text)' for 'fd-type': expected file, dir, pipe, socket or any")
            }
            fdType = t
        }
        if let path = r.fields["path"], !path.hasPrefix("/") {
            throw FaultSpecError("bad value '\(path)' for 'path': expected an absolute path")
        }
        let action = r.fields["action"] ?? (r.fields["errno"] != nil ? "errno" : "")
        let kind: SyscallFaultKind
        switch action {
        case "errno", "fail":
            guard let errnoName = r.fields["errno"] else { throw FaultSpecError("action '\(action)' needs 'errno' (e.g. errno=EIO)") }
            guard let errno = Errno(name: errnoName) else {
                throw FaultSpecError("bad value '\(errnoName)' for 'errno': not a Linux errno name (e.g. EIO, ENOENT)")
            }
            kind = .fail(errno)
        case "short":
            guard let bytes = try r.integer("bytes", in: 0...FaultSpecLimits.maximumBytes) else {
                throw FaultSpecError("action 'short' needs 'bytes' (the most bytes to transfer)")
            }
            kind = .short(bytes: bytes)
        case "delay": kind = .delay(try r.delay())
        case "":
            throw FaultSpecError("missing 'action' or 'errno' in syscall fault spec (action: errno, short, delay)")
        default:
            throw FaultSpecError("bad value '\(action)' for 'action' in a syscall fault: expected errno, short or delay")
        }
        let canonical = action == "fail" ? "errno" : action
        try r.rejectUnused(for: canonical, allowed: ["errno": ["errno"], "short": ["bytes"], "delay": ["ms", "max-ms"]])
        let (trigger, probability, seed) = try r.trigger()
        return SyscallFaultRule(syscall: number, path: r.fields["path"], fdType: fdType, kind: kind,
                                trigger: trigger, probability: probability, seed: seed)
    }
}

enum FaultSpecLimits {
    static let maximumBytes = 1 << 20
}

/// Typed access to the parsed fields with errors that name the key and value.
struct FieldReader {
    let fields: [String: String]

    func integer(_ key: String, in range: ClosedRange<Int>) throws(FaultSpecError) -> Int? {
        guard let text = fields[key] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw FaultSpecError("bad value '\(text)' for '\(key)': expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func delay() throws(FaultSpecError) -> FaultDelay {
        let limit = FaultSpec.maximumDelayMilliseconds
        let fixed = try integer("ms", in: 0...limit)
        let maximum = try integer("max-ms", in: 1...limit)
        switch (fixed, maximum) {
        case let (ms?, nil): return .fixed(milliseconds: ms)
        case let (nil, max?): return .random(maximumMilliseconds: max)
        case (nil, nil): throw FaultSpecError("action 'delay' needs 'ms' or 'max-ms'")
        default: throw FaultSpecError("give one of 'ms' and 'max-ms', not both")
        }
    }

    /// Keys that only make sense with some actions are refused with others (a typo should not pass).
    func rejectUnused(for action: String, allowed: [String: [String]]) throws(FaultSpecError) {
        let ownKeys = allowed[action] ?? []
        for key in Set(allowed.values.flatMap { $0 }).sorted() where fields[key] != nil && !ownKeys.contains(key) {
            throw FaultSpecError("'\(key)' does not apply to action '\(action)'")
        }
    }

    func trigger() throws(FaultSpecError) -> (FaultTrigger, Double?, UInt64) {
        let every = try integer("every", in: 1...Int(Int32.max))
        let after = try integer("after", in: 1...Int(Int32.max))
        let nth = try integer("nth", in: 1...Int(Int32.max))
        var trigger = FaultTrigger.always
        var given = 0
        if let every { trigger = .every(every); given += 1 }
        if let after { trigger = .after(after); given += 1 }
        if let nth { trigger = .nth(nth); given += 1 }
        guard given <= 1 else { throw FaultSpecError("give at most one of 'every', 'after' and 'nth'") }
        var probability: Double?
        if let text = fields["probability"] {
            guard let p = Double(text), p >= 0, p <= 1 else {
                throw FaultSpecError("bad value '\(text)' for 'probability': expected a number from 0 to 1")
            }
            probability = p
        }
        var seed: UInt64 = 0
        if let text = fields["seed"] {
            guard let s = UInt64(text) else {
                throw FaultSpecError("bad value '\(text)' for 'seed': expected an unsigned integer")
            }
            seed = s
        }
        return (trigger, probability, seed)
    }
}

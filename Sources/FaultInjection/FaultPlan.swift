// A set of IPC fault rules with their counters and PRNGs. `decide` is called once per message by the
// hooks in IPC.Channel (client) and ServiceKit (server); when no fault was requested there is no plan at
// all (the hooks hold nil), so the normal path costs one predictable branch.

/// What to do to one message, resolved from a rule (random delays and corruption masks drawn).
public enum FaultAction: Equatable, Sendable, CustomStringConvertible {
    case delay(milliseconds: Int)
    case dropReply
    /// XOR `mask` over the frame starting at `offset` (every mask byte is nonzero).
    case corrupt(offset: Int, mask: [UInt8])
    case truncate(bytes: Int)
    case duplicate
    case close
    case killPeer

    public var description: String {
        switch self {
        case .delay(let ms): return "delay \(ms)ms"
        case .dropReply: return "drop-reply"
        case let .corrupt(offset, mask): return "corrupt \(mask.count) bytes at offset \(offset)"
        case .truncate(let bytes): return "truncate to \(bytes) bytes"
        case .duplicate: return "duplicate"
        case .close: return "close"
        case .killPeer: return "kill-peer"
        }
    }
}

/// Message names per channel, for `message=Walk` (filled from the Protocol schemas by IPC).
public typealias FaultMessageNames = [FaultChannel: [String: UInt16]]

public final class FaultPlan {
    struct Rule {
        var spec: IPCFaultRule
        /// The message id per channel (index: FaultChannel order); nil in a slot = the rule cannot match
        /// on that channel. Unused when `anyMessage`.
        var ids: [UInt16?]
        var anyMessage: Bool
        var matched = 0
        var random: SplitMix64
    }

    var rules: [Rule]
    let names: FaultMessageNames
    /// How many messages had matched the rule that fired last (for the log line: "on Walk #3").
    public private(set) var lastOccurrence = 0

    /// Builds a plan from IPC rules; names are resolved in `names` (an unknown name is an error).
    public init(rules: [IPCFaultRule], names: FaultMessageNames = [:]) throws(FaultSpecError) {
        self.names = names
        var built: [Rule] = []
        for spec in rules {
            var ids = [UInt16?](repeating: nil, count: FaultChannel.allCases.count)
            var anyMessage = false
            switch spec.message {
            case .any: anyMessage = true
            case .id(let id): ids = ids.map { _ in id }
            case .name(let name):
                let channels = spec.channel.map { [$0] } ?? FaultChannel.allCases
                for (index, channel) in FaultChannel.allCases.enumerated() where channels.contains(channel) {
                    ids[index] = names[channel]?[name]
                }
                guard ids.contains(where: { $0 != nil }) else {
                    let place = spec.channel.map { "channel \($0.rawValue)" } ?? "any channel"
                    throw FaultSpecError("unknown message '\(name)' on \(place)")
                }
            }
            built.append(Rule(spec: spec, ids: ids, anyMessage: anyMessage, random: SplitMix64(seed: spec.seed)))
        }
        self.rules = built
    }

    /// Parses `--fault` values and keeps the IPC ones (syscall specs are the Sentry's: see SyscallFaultPlan).
    public convenience init(specs: [String], names: FaultMessageNames = [:]) throws(FaultSpecError) {
        var ipc: [IPCFaultRule] = []
        for text in specs {
            if case .ipc(let rule) = try FaultSpec.parse(text) { ipc.append(rule) }
        }
        try self.init(rules: ipc, names: names)
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Decides the fault for one message on `channel`. Every rule that matches the message counts it;
    /// the first whose trigger fires gives the action.
    public func decide(channel: FaultChannel, messageID: UInt16) -> FaultAction? {
        let slot = channel.index
        var chosen: FaultAction?
        for i in rules.indices {
            if let only = rules[i].spec.channel, only != channel { continue }
            if !rules[i].anyMessage && rules[i].ids[slot] != messageID { continue }
            rules[i].matched += 1
            let n = rules[i].matched
            let fires: Bool
            switch rules[i].spec.trigger {
            case .always: fires = true
            case .every(let k): fires = n % k == 0
            case .after(let k): fires = n >= k
            case .nth(let k): fires = n == k
            }
            // The PRNG advances once per matched message whatever the trigger, so a run's faults
            // depend only on the seed and the message sequence.
            var gate = true
            if let p = rules[i].spec.probability { gate = rules[i].random.nextUnit() < p }
            guard chosen == nil, fires, gate else { continue }
            chosen = resolve(&rules[i])
            lastOccurrence = n
        }
        return chosen
    }

    private func resolve(_ rule: inout Rule) -> FaultAction {
        switch rule.spec.kind {
        case .delay(.fixed(let ms)): return .delay(milliseconds: ms)
        case .delay(.random(let max)): return .delay(milliseconds: Int(rule.random.next() % UInt64(max + 1)))
        case .dropReply: return .dropReply
        case let .corrupt(bytes, offset):
            var mask = [UInt8](repeating: 0, count: bytes)
            for j in mask.indices { mask[j] = UInt8(truncatingIfNeeded: rule.random.next() % 255) + 1 }
            return .corrupt(offset: offset, mask: mask)
        case .truncate(let bytes): return .truncate(bytes: bytes)
        case .duplicate: return .duplicate
        case .close: return .close
        case .killPeer: return .killPeer
        }
    }

    /// The message's name on `channel` for log lines, else its number.
    public func messageName(channel: FaultChannel, messageID: UInt16) -> String {
        if let table = names[channel], let name = table.first(where: { $0.value == messageID })?.key { return name }
        return "message \(messageID)"
    }
}

extension FaultChannel {
    var index: Int {
        switch self {
        case .control: return 0
        case .gofer: return 1
        case .netstack: return 2
        case .procfs: return 3
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to spread test faults.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}

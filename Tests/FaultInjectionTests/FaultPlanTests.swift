// FaultPlan decisions: triggers count exactly, seeds make runs repeat, names resolve per channel.
import FaultInjection
import Glibc
import HostOS
import IPC
import LinuxABI
import Testing

@Suite struct FaultPlanTests {
    /// The (1-based) message numbers that got a fault, over `count` messages of `messageID`.
    func hits(_ specs: [String], count: Int, channel: FaultChannel = .gofer, messageID: UInt16 = 3) throws -> [Int] {
        let plan = try FaultPlan(specs: specs, names: Channel.faultMessageNames)
        return (1...count).filter { _ in plan.decide(channel: channel, messageID: messageID) != nil }
    }

    @Test func everyThreeHitsExactlyThreeSixNine() throws {
        #expect(try hits(["action=drop-reply,every=3"], count: 10) == [3, 6, 9])
        #expect(try hits(["action=close,after=4"], count: 6) == [4, 5, 6])
        #expect(try hits(["action=close,nth=2"], count: 6) == [2])
        #expect(try hits(["action=close"], count: 3) == [1, 2, 3])
    }

    @Test func filtersByChannelAndMessage() throws {
        // Walk is message 3 on the gofer channel.
        #expect(try hits(["channel=gofer,message=Walk,action=delay,ms=1"], count: 3) == [1, 2, 3])
        #expect(try hits(["channel=gofer,message=Walk,action=delay,ms=1"], count: 3, messageID: 4) == [])
        #expect(try hits(["channel=procfs,action=close"], count: 3) == [])
        #expect(try hits(["message=Ping,action=close"], count: 2, channel: .procfs, messageID: 0xFFFF) == [1, 2])
        #expect(try hits(["message=7,action=close"], count: 2, channel: .netstack, messageID: 7) == [1, 2])
    }

    @Test func unknownMessageNameIsAnError() {
        #expect(throws: FaultSpecError("unknown message 'Walk' on channel procfs")) {
            try FaultPlan(specs: ["channel=procfs,message=Walk,action=close"], names: Channel.faultMessageNames)
        }
        #expect(throws: FaultSpecError("unknown message 'Nope' on any channel")) {
            try FaultPlan(specs: ["message=Nope,action=close"], names: Channel.faultMessageNames)
        }
    }

    /// Counters advance only for matching messages: other messages do not shift every=N.
    @Test func countersCountOnlyMatchingMessages() throws {
        let plan = try FaultPlan(specs: ["channel=gofer,message=Walk,action=close,every=2"], names: Channel.faultMessageNames)
        var hits: [Int] = []
        for i in 1...8 {
            let id: UInt16 = i % 2 == 0 ? 3 : 5   // Walk on even steps, Open otherwise
            if plan.decide(channel: .gofer, messageID: id) != nil { hits.append(i) }
        }
        #expect(hits == [4, 8])
    }

    func sequence(seed: UInt64, count: Int = 200) throws -> [FaultAction?] {
        let plan = try FaultPlan(specs: ["action=corrupt,bytes=3,probability=0.5,seed=\(seed)"])
        return (0..<count).map { _ in plan.decide(channel: .netstack, messageID: 1) }
    }

    @Test func sameSeedGivesTheSameFaults() throws {
        let first = try sequence(seed: 7)
        #expect(first == (try sequence(seed: 7)))
        #expect(first != (try sequence(seed: 8)))
        let fired = first.compactMap { $0 }
        // p = 0.5 over 200 messages: far from 0 and 200.
        #expect(fired.count > 60 && fired.count < 140)
        for case let .corrupt(offset, mask) in fired {
            #expect(offset == 0 && mask.count == 3 && !mask.contains(0))
        }
    }

    @Test func randomDelaysStayWithinTheBoundAndRepeat() throws {
        func delays() throws -> [Int] {
            let plan = try FaultPlan(specs: ["action=delay,max-ms=40,seed=3"])
            return (0..<100).map { _ -> Int in
                guard case .delay(let ms)? = plan.decide(channel: .control, messageID: 1) else { return -1 }
                return ms
            }
        }
        let a = try delays()
        #expect(a == (try delays()))
        #expect(a.allSatisfy { (0...40).contains($0) })
        #expect(Set(a).count > 10)
    }

    @Test func firstFiringRuleWinsAndOthersStillCount() throws {
        let plan = try FaultPlan(specs: ["action=close,nth=2", "action=duplicate,every=2"])
        let actions = (0..<4).map { _ in plan.decide(channel: .gofer, messageID: 1) }
        #expect(actions == [nil, .close, nil, .duplicate])
    }

    @Test func syscallSpecsAreKeptApartAndDecided() throws {
        let specs = ["syscall=openat,path=/etc/hostname,errno=EIO,every=3", "action=close"]
        #expect(try FaultPlan(specs: specs).isEmpty == false)
        let plan = try SyscallFaultPlan(specs: specs)
        let openat = try #require(SyscallNumber(name: "openat"))
        var hits: [Int] = []
        for i in 1...9 where plan.decide(syscall: openat, path: "/etc/hostname") == .fail(.EIO) { hits.append(i) }
        #expect(hits == [3, 6, 9])
        #expect(plan.decide(syscall: openat, path: "/etc/passwd") == nil)
        #expect(try SyscallFaultPlan(specs: ["action=close"]).isEmpty)
    }

    @Test func emptyPlanInstallsNoHook() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        defer { _ = Glibc.close(pair.second) }
        let channel = Channel(OwnedFD(adopting: pair.first))
        channel.injectFaults(try FaultPlan(specs: []), channel: .gofer, logName: "test")
        #expect(channel.faults == nil)
        channel.injectFaults(try FaultPlan(specs: ["action=close,nth=9"]), channel: .gofer, logName: "test")
        #expect(channel.faults != nil)
    }
}

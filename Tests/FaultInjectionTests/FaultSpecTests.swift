// Parsing --fault specs: every documented form, exact error messages, and random input never traps.
import FaultInjection
import LinuxABI
import Testing

@Suite struct FaultSpecTests {
    func ipc(_ text: String) throws -> IPCFaultRule {
        guard case .ipc(let rule) = try FaultSpec.parse(text) else { throw FaultSpecError("not an IPC rule") }
        return rule
    }

    @Test func parsesTheDocumentedIPCForms() throws {
        let walk = try ipc("channel=gofer,message=Walk,action=delay,ms=200")
        #expect(walk == IPCFaultRule(channel: .gofer, message: .name("Walk"), kind: .delay(.fixed(milliseconds: 200)),
                                     trigger: .always, probability: nil, seed: 0))
        let drop = try ipc("channel=procfs,action=drop-reply,every=3")
        #expect(drop.channel == .procfs && drop.message == .any && drop.kind == .dropReply && drop.trigger == .every(3))
        let corrupt = try ipc("channel=netstack,action=corrupt,bytes=4,probability=0.1,seed=7")
        #expect(corrupt.kind == .corrupt(bytes: 4, offset: 0) && corrupt.probability == 0.1 && corrupt.seed == 7)
        #expect(try ipc("action=truncate,bytes=8").kind == .truncate(bytes: 8))
        #expect(try ipc("action=duplicate").kind == .duplicate)
        #expect(try ipc("action=close").channel == nil)
        let kill = try ipc("action=kill-peer,after=5")
        #expect(kill.kind == .killPeer && kill.trigger == .after(5))
        #expect(try ipc("action=delay,max-ms=50,nth=2").kind == .delay(.random(maximumMilliseconds: 50)))
        #expect(try ipc("channel=any,message=65535,action=close").message == .id(65535))
        #expect(try ipc("message=any,action=close,nth=4").trigger == .nth(4))
        #expect(try ipc("action=corrupt,bytes=2,offset=16").kind == .corrupt(bytes: 2, offset: 16))
    }

    @Test func parsesSyscallForms() throws {
        guard case .syscall(let open) = try FaultSpec.parse("syscall=openat,path=/etc/hostname,errno=EIO,every=3") else {
            Issue.record("not a syscall rule"); return
        }
        #expect(open.syscall == SyscallNumber(name: "openat") && open.path == "/etc/hostname")
        #expect(open.kind == .fail(.EIO) && open.trigger == .every(3))
        guard case .syscall(let read) = try FaultSpec.parse("syscall=read,fd-type=pipe,action=short,bytes=1,probability=0.5,seed=1") else {
            Issue.record("not a syscall rule"); return
        }
        #expect(read.fdType == .pipe && read.kind == .short(bytes: 1) && read.probability == 0.5 && read.seed == 1)
        guard case .syscall(let write) = try FaultSpec.parse("syscall=write,action=delay,ms=10") else {
            Issue.record("not a syscall rule"); return
        }
        #expect(write.kind == .delay(.fixed(milliseconds: 10)) && write.trigger == .always)
    }

    /// Each bad spec and the exact message a user sees.
    static let invalid: [(String, String)] = [
        ("", "empty fault spec"),
        ("action=close,", "'' is not key=value in fault spec 'action=close,'"),
        ("action", "'action' is not key=value in fault spec 'action'"),
        ("=close", "empty key in fault spec '=close'"),
        ("action=", "empty value for 'action' in fault spec 'action='"),
        ("action=close,action=delay", "'action' given twice in fault spec 'action=close,action=delay'"),
        ("action=close,colour=red",
         "unknown key 'colour' in IPC fault spec 'action=close,colour=red' (keys: channel, message, action, ms, max-ms, bytes, offset, every, after, nth, probability, seed)"),
        ("channel=dns,action=close", "bad value 'dns' for 'channel': expected control, gofer, netstack, procfs or any"),
        ("message=Wa/lk,action=close", "bad value 'Wa/lk' for 'message': expected a message name, a number 0...65535 or any"),
        ("channel=gofer", "missing 'action' (delay, drop-reply, corrupt, truncate, duplicate, close, kill-peer)"),
        ("action=explode",
         "bad value 'explode' for 'action': expected delay, drop-reply, corrupt, truncate, duplicate, close or kill-peer"),
        ("action=delay", "action 'delay' needs 'ms' or 'max-ms'"),
        ("action=delay,ms=1,max-ms=2", "give one of 'ms' and 'max-ms', not both"),
        ("action=delay,ms=-1", "bad value '-1' for 'ms': expected an integer in 0...600000"),
        ("action=delay,ms=999999999999999999999", "bad value '999999999999999999999' for 'ms': expected an integer in 0...600000"),
        ("action=truncate", "action 'truncate' needs 'bytes' (how many bytes of the frame to keep)"),
        ("action=close,bytes=3", "'bytes' does not apply to action 'close'"),
        ("action=close,every=0", "bad value '0' for 'every': expected an integer in 1...2147483647"),
        ("action=close,every=2,nth=3", "give at most one of 'every', 'after' and 'nth'"),
        ("action=close,probability=1.5", "bad value '1.5' for 'probability': expected a number from 0 to 1"),
        ("action=close,probability=nan", "bad value 'nan' for 'probability': expected a number from 0 to 1"),
        ("action=close,seed=-3", "bad value '-3' for 'seed': expected an unsigned integer"),
        ("syscall=opne,errno=EIO", "bad value 'opne' for 'syscall': not an x86-64 Linux syscall name"),
        ("syscall=read,errno=EBOGUS", "bad value 'EBOGUS' for 'errno': not a Linux errno name (e.g. EIO, ENOENT)"),
        ("syscall=read", "missing 'action' or 'errno' in syscall fault spec (action: errno, short, delay)"),
        ("syscall=read,action=short", "action 'short' needs 'bytes' (the most bytes to transfer)"),
        ("syscall=read,action=corrupt", "bad value 'corrupt' for 'action' in a syscall fault: expected errno, short or delay"),
        ("syscall=read,fd-type=tty,errno=EIO", "bad value 'tty' for 'fd-type': expected file, dir, pipe, socket or any"),
        ("syscall=openat,path=etc,errno=EIO", "bad value 'etc' for 'path': expected an absolute path"),
        ("syscall=read,channel=gofer,errno=EIO",
         "unknown key 'channel' in syscall fault spec 'syscall=read,channel=gofer,errno=EIO' (keys: syscall, path, fd-type, errno, action, ms, max-ms, bytes, every, after, nth, probability, seed)"),
        ("syscall=read,action=delay,ms=1,errno=EIO", "'errno' does not apply to action 'delay'"),
    ]

    @Test(arguments: invalid) func invalidSpecsGiveExactErrors(_ spec: String, _ message: String) {
        #expect(throws: FaultSpecError(message)) { try FaultSpec.parse(spec) }
    }

    @Test func overlongSpecIsRefused() {
        #expect(throws: FaultSpecError("fault spec longer than 4096 bytes")) {
            try FaultSpec.parse("action=close," + String(repeating: "x", count: 5000))
        }
    }

    /// Random strings over the spec alphabet, and random byte edits of valid specs: parse returns or
    /// throws FaultSpecError, never traps. Seeded, so a failure reproduces.
    @Test func randomInputNeverTraps() {
        var random = TestRandom(seed: 42)
        let alphabet = Array("=,,=-._/0123456789aceghmnprstyEIO ") + ["\u{0}", "é", "🙂"]
        let valid = ["channel=gofer,message=Walk,action=delay,ms=200", "channel=procfs,action=drop-reply,every=3",
                     "channel=netstack,action=corrupt,bytes=4,probability=0.1,seed=7", "action=truncate,bytes=8",
                     "action=kill-peer,after=5", "action=delay,max-ms=9,nth=1",
                     "syscall=openat,path=/etc/hostname,errno=EIO,every=3",
                     "syscall=read,fd-type=pipe,action=short,bytes=1,probability=0.5,seed=1", "syscall=write,action=delay,ms=10"]
        var parsed = 0
        for round in 0..<20_000 {
            var text: [Character]
            if round % 2 == 0 {
                text = (0..<Int(random.next() % 40)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            } else {
                text = Array(valid[Int(random.next() % UInt64(valid.count))])
                for _ in 0..<Int(random.next() % 3) {
                    let at = Int(random.next() % UInt64(text.count))
                    let c = alphabet[Int(random.next() % UInt64(alphabet.count))]
                    switch random.next() % 3 {
                    case 0: text[at] = c
                    case 1: text.insert(c, at: at)
                    default: text.remove(at: at)
                    }
                }
            }
            do {
                _ = try FaultSpec.parse(String(text))
                parsed += 1
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        // Some edited specs stay valid (e.g. a changed digit): the fuzzer reached the deep paths.
        #expect(parsed > 100)
    }

}

/// xorshift64* for test input (independent of the library's PRNG).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}

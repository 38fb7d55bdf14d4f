// The list of every guest struct under test, with type-erased hooks so one parametrised test covers
// them all: layout facts (for the C comparison) and value checks (pattern decode, encode, round trip,
// truncated buffers).
import Testing
import LinuxABI

/// Which C translation unit declares the struct: kernel uapi headers only (<linux/...>, <asm/...>), or
/// glibc's <sys/socket.h> (msghdr/cmsghdr/ucred, whose kernel definitions are not in the uapi headers
/// and match glibc's on x86-64). The two cannot share a file: glibc and kernel headers clash.
enum CGroup: String, Sendable, CaseIterable { case kernel, libc }

struct FieldInfo: Sendable, Equatable, CustomStringConvertible {
    var name: String
    var offset: Int
    var size: Int
    var description: String { "\(name)@\(offset)+\(size)" }
}

struct ABICase: Sendable, CustomTestStringConvertible {
    let name: String
    let group: CGroup
    let cType: String
    let size: Int
    let fields: [FieldInfo]
    /// Value checks; returns a list of failures (empty when all hold). Nil for variable-length structs.
    let valueChecks: (@Sendable () -> [String])?
    /// Decodes from the first `n` bytes; nil when that succeeded.
    let decodeError: (@Sendable (Int) -> ABIError?)?
    let minimumSize: Int
    var testDescription: String { name }

    init<T: ABIStruct>(_ type: T.Type, _ group: CGroup = .kernel) {
        name = String(describing: T.self)
        self.group = group
        cType = T.layout.cType
        size = T.size
        fields = T.layout.fields.map { FieldInfo(name: $0.name, offset: $0.offset, size: $0.size) }
        valueChecks = { ValueChecks.run(T.self) }
        decodeError = { n in
            let bytes = [UInt8](repeating: 0x5a, count: n)
            do throws(ABIError) { _ = try T(bytes: bytes); return nil } catch { return error }
        }
        minimumSize = T.minimumSize
    }

    /// Layout-only case for variable-length structs (linux_dirent64).
    init<Root>(layoutOnly layout: ABILayout<Root>, name: String, _ group: CGroup = .kernel) {
        self.name = name
        self.group = group
        cType = layout.cType
        size = layout.size
        fields = layout.fields.map { FieldInfo(name: $0.name, offset: $0.offset, size: $0.size) }
        valueChecks = nil
        decodeError = nil
        minimumSize = 0
    }
}

let allCases: [ABICase] = [
    ABICase(Stat.self), ABICase(Statx.self), ABICase(StatxTimestamp.self),
    ABICase(Timespec.self), ABICase(Timeval.self), ABICase(ITimerSpec.self), ABICase(ITimerVal.self),
    ABICase(Tms.self), ABICase(IOVec.self),
    ABICase(SigSet.self), ABICase(SigAction.self), ABICase(SignalStack.self), ABICase(SigInfo.self),
    ABICase(RLimit.self), ABICase(RUsage.self), ABICase(UTSName.self), ABICase(SysInfo.self),
    ABICase(layoutOnly: Dirent64.layout, name: "Dirent64"),
    ABICase(EpollEvent.self), ABICase(PollFD.self),
    ABICase(SockAddrIn.self), ABICase(SockAddrIn6.self), ABICase(SockAddrUn.self), ABICase(SockAddrNl.self),
    ABICase(MsgHdr.self, .libc), ABICase(CMsgHdr.self, .libc), ABICase(UCred.self, .libc),
    ABICase(Termios.self), ABICase(WinSize.self),
    ABICase(SigContext.self), ABICase(FPState.self), ABICase(UContext.self), ABICase(RTSigFrame.self),
    ABICase(CloneArgs.self), ABICase(Flock.self), ABICase(StatFS.self),
]

/// Something whose value is a plain byte array (FixedBytes of any length).
protocol ByteArrayValue { var array: [UInt8] { get } }
extension FixedBytes: ByteArrayValue {}

enum ValueChecks {
    /// A recognisable byte pattern: every offset gets a different byte within any 251-byte window.
    static func pattern(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(($0 * 37 + 11) % 251) } }

    /// 1. Decoding the pattern gives each property exactly the bytes at the field's declared offset.
    /// 2. Encoding that value reproduces the pattern in every declared field and zero everywhere else
    ///    (padding never leaks), and writes nothing past `size`.
    /// 3. Decoding the encoding gives the same value.
    static func run<T: ABIStruct>(_ type: T.Type) -> [String] {
        var failures: [String] = []
        let input = pattern(T.size)
        let value: T
        do { value = try T(bytes: input) } catch { return ["decoding \(T.size) bytes failed: \(error)"] }

        let expected = expectedEncoding(value, input)
        for field in T.layout.fields {
            guard let keyPath = field.keyPath else { continue }
            let want = Array(expected[field.offset..<(field.offset + field.size)])
            let got = bytes(of: value[keyPath: keyPath], size: field.size, order: field.byteOrder)
            if got != want { failures.append("\(field.name): property bytes \(got ?? []) != memory \(want)") }
        }

        var out = [UInt8](repeating: 0xAA, count: T.size + 16)
        out.withUnsafeMutableBytes { value.encode(into: $0) }
        if Array(out[..<T.size]) != expected { failures.append("encode: \(Array(out[..<T.size])) != \(expected)") }
        if out[T.size...].contains(where: { $0 != 0xAA }) { failures.append("encode wrote past size") }

        do {
            let again = try T(bytes: value.bytes)
            if again != value { failures.append("round trip changed the value") }
        } catch { failures.append("round trip decode failed: \(error)") }
        return failures
    }

    /// What encoding `value` (decoded from `input`) must produce: the input's bytes in every field that is
    /// a property (recursively for nested structs, whose own padding is zero), zero elsewhere.
    static func expectedEncoding<T: ABIStruct>(_ value: T, _ input: [UInt8]) -> [UInt8] {
        var expected = [UInt8](repeating: 0, count: T.size)
        for field in T.layout.fields {
            guard let keyPath = field.keyPath else { continue }
            let range = field.offset..<(field.offset + field.size)
            if let nested = value[keyPath: keyPath] as? any ABIStruct {
                expected.replaceSubrange(range, with: nestedExpected(nested, Array(input[range])))
            } else {
                for i in range { expected[i] = input[i] }
            }
        }
        return expected
    }

    static func nestedExpected<S: ABIStruct>(_ v: S, _ input: [UInt8]) -> [UInt8] { expectedEncoding(v, input) }

    /// The in-memory bytes a property value stands for, or nil for a type this test cannot interpret.
    static func bytes(of value: Any, size: Int, order: ABIByteOrder) -> [UInt8]? {
        if let integer = value as? any FixedWidthInteger { return integerBytes(integer, size: size, order: order) }
        if let nested = value as? any ABIStruct { return structBytes(nested) }
        if let array = value as? any ByteArrayValue { return array.array }
        return nil
    }

    static func integerBytes<I: FixedWidthInteger>(_ v: I, size: Int, order: ABIByteOrder) -> [UInt8]? {
        guard I.bitWidth / 8 == size else { return nil }
        let little = (0..<size).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
        return order == .little ? little : little.reversed()
    }

    static func structBytes<S: ABIStruct>(_ v: S) -> [UInt8] { v.bytes }
}

// bulwark-ipc-dump: prints framed Bulwark IPC messages (as written by a capture or found in
// protocol/golden) with their header and decoded fields.
//   bulwark-ipc-dump [--channel control|gofer|netstack|procfs] [FILE...]   (no FILE: stdin)
// Without --channel, each message is decoded with the first channel that accepts it, which is a guess
// (several channels reuse message ids); the guess is printed.
@preconcurrency import Glibc
import Protocol
import Wire

let channels: [any WireChannelMessage.Type] = [Control.Message.self, Gofer.Message.self,
                                              Netstack.Message.self, Procfs.Message.self]

func fail(_ message: String) -> Never {
    fputs("bulwark-ipc-dump: \(message)\n", stderr)
    exit(2)
}

func readAll(_ fd: Int32) -> [UInt8]? {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue } else { return nil } }
        if n == 0 { return result }
        result.append(contentsOf: chunk[0..<n])
    }
}

// MARK: - Printing values with their field names

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    let shown = bytes.prefix(64).map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined(separator: " ")
    let text = String(bytes.prefix(64).map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." })
    return "<\(bytes.count) bytes: \(shown)\(bytes.count > 64 ? " ..." : "")> \"\(text)\""
}

func render(_ value: Any, indent: Int) -> String {
    let pad = String(repeating: "  ", count: indent)
    if let s = value as? String { return s.debugDescription }
    if let b = value as? [UInt8] { return hex(b) }
    if let fd = value as? FDIndex { return fd.description }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional:
        guard let child = mirror.children.first else { return "nil" }
        return render(child.value, indent: indent)
    case .collection:
        if mirror.children.isEmpty { return "[]" }
        let items = mirror.children.map { "\(pad)  " + render($0.value, indent: indent + 1) }
        return "[\n" + items.joined(separator: "\n") + "\n\(pad)]"
    case .struct:
        if mirror.children.isEmpty { return "{}" }
        let fields = mirror.children.map { "\(pad)  \($0.label ?? "?"): " + render($0.value, indent: indent + 1) }
        return "{\n" + fields.joined(separator: "\n") + "\n\(pad)}"
    default:
        return "\(value)"
    }
}

func flagNames(_ flags: FrameFlags) -> String {
    var names: [String] = []
    if flags.contains(.reply) { names.append("reply") }
    if flags.contains(.error) { names.append("error") }
    if flags.contains(.oneWay) { names.append("oneWay") }
    let unknown = flags.rawValue & ~(FrameFlags.reply.rawValue | FrameFlags.error.rawValue | FrameFlags.oneWay.rawValue)
    if unknown != 0 { names.append("0x\(String(unknown, radix: 16))") }
    return "[" + names.joined(separator: ",") + "]"
}

func decode(_ channel: any WireChannelMessage.Type, _ view: MessageView,
            _ id: UInt16) -> Result<any WireMessage, WireError> {
    do throws(WireError) {
        return .success(try channel.decode(messageID: id, view: view).message)
    } catch {
        return .failure(error)
    }
}

/// Prints one frame; returns false when the stream cannot be followed any further.
func dump(_ frame: UnsafeRawBufferPointer, index: Int, offset: Int,
          channel: (any WireChannelMessage.Type)?) -> Bool {
    let declaredFDs = frame.count > 12 ? Int(frame[12]) : 0
    let view: MessageView
    do throws(WireError) {
        view = try MessageView(frame: frame, receivedFDs: declaredFDs)
    } catch {
        print("#\(index) at byte \(offset): bad frame: \(error)")
        return false
    }
    let h = view.header!
    print("#\(index) at byte \(offset): length=\(h.length) id=\(h.messageID) flags=\(flagNames(h.flags)) " +
          "request=\(h.requestID) fds=\(h.fdCount) version=\(h.version)")
    let candidates = channel.map { [$0] } ?? channels
    var decoded: [(channel: String, message: any WireMessage)] = []
    var firstError: WireError?
    for ch in candidates {
        switch decode(ch, view, h.messageID) {
        case .success(let message): decoded.append((ch.channelName, message))
        case .failure(let error): if firstError == nil { firstError = error }
        }
    }
    guard !decoded.isEmpty else {
        print("  undecodable body: \(firstError.map(\.description) ?? "no channel")")
        return true
    }
    // Guessing: prefer the channel whose decoding re-encodes to exactly these bytes (our writer's output
    // is canonical), since a message with few fields decodes from almost anything.
    var pick = decoded[0]
    if channel == nil {
        for d in decoded {
            var w = MessageWriter()
            d.message.encode(into: &w)
            if w.body.elementsEqual(view.bytes) { pick = d; break }
        }
    }
    let guess = channel == nil ? " (channel guessed)" : ""
    print("  \(pick.channel).\(type(of: pick.message).name)\(guess) " + render(pick.message, indent: 1))
    return true
}

// MARK: - Main

var args = Array(CommandLine.arguments.dropFirst())
var channel: (any WireChannelMessage.Type)?
if let i = args.firstIndex(of: "--channel") {
    guard i + 1 < args.count else { fail("--channel needs a name") }
    guard let c = channels.first(where: { $0.channelName == args[i + 1] }) else {
        fail("unknown channel \(args[i + 1]); known: \(channels.map { $0.channelName }.joined(separator: ", "))")
    }
    channel = c
    args.removeSubrange(i...(i + 1))
}
if args.contains(where: { $0.hasPrefix("-") && $0 != "-" }) {
    fail("usage: bulwark-ipc-dump [--channel control|gofer|netstack|procfs] [FILE...]")
}

var ok = true
for path in args.isEmpty ? ["-"] : args {
    let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0, let data = readAll(fd) else { fail("cannot read \(path)") }
    if fd != 0 { close(fd) }
    if args.count > 1 { print("== \(path)") }
    var offset = 0
    var index = 0
    data.withUnsafeBytes { raw in
        while offset < raw.count {
            guard raw.count - offset >= FrameHeader.size else {
                print("#\(index) at byte \(offset): \(raw.count - offset) trailing bytes, shorter than a header")
                ok = false
                return
            }
            let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let end = length >= FrameHeader.size ? min(offset + length, raw.count) : raw.count
            if !dump(UnsafeRawBufferPointer(rebasing: raw[offset..<end]), index: index, offset: offset,
                     channel: channel) {
                ok = false
                return
            }
            offset = end
            index += 1
        }
    }
}
exit(ok ? 0 : 1)

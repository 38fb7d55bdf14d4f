// bulwark-ipc-client: sends one request to a running service and prints the reply.
//   bulwark-ipc-client --connect PATH --message ID [--body HEX] [--timeout MS]
// Prints the reply header and its body in hex (decoded later, once Protocol codecs exist).
// Exit status: 0 reply, 1 error reply or IPC failure, 2 usage error.
@preconcurrency import Glibc
import HostOS
import IPC

func usage(_ problem: String? = nil) -> Never {
    if let problem { fputs("bulwark-ipc-client: \(problem)\n", stderr) }
    let text = """
    usage: bulwark-ipc-client --connect PATH --message ID [--body HEX] [--timeout MS]
      --connect PATH   the service's --listen socket
      --message ID     message id (0 = Ping, echoed by every service)
      --body HEX       request body as hex digits (default: empty)
      --timeout MS     give up after MS milliseconds (default 5000)

    """
    fputs(text, problem == nil ? stdout : stderr)
    exit(problem == nil ? 0 : 2)
}

func parseHex(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let hi = hexValue(digits[i]), let lo = hexValue(digits[i + 1]) else { return nil }
        bytes.append(hi << 4 | lo)
        i += 2
    }
    return bytes
}

func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

struct Request {
    var path: String
    var messageID: UInt16
    var body: [UInt8] = []
    var timeoutMS = 5000
}

func parse(_ args: [String]) -> Request {
    var path: String?
    var messageID: UInt16?
    var body: [UInt8] = []
    var timeoutMS = 5000
    var i = 0
    func next(_ option: String) -> String {
        i += 1
        guard i < args.count else { usage("\(option) needs a value") }
        return args[i]
    }
    while i < args.count {
        switch args[i] {
        case "--help", "-h": usage()
        case "--connect": path = next("--connect")
        case "--message":
            let text = next("--message")
            guard let id = UInt16(text) else { usage("--message needs a number 0-65535, got '\(text)'") }
            messageID = id
        case "--body":
            let text = next("--body")
            guard let bytes = parseHex(text) else { usage("--body needs hex digits, two per byte") }
            body = bytes
        case "--timeout":
            let text = next("--timeout")
            guard let ms = Int(text), ms > 0 else { usage("--timeout needs a positive number of milliseconds") }
            timeoutMS = ms
        default: usage("unknown option '\(args[i])'")
        }
        i += 1
    }
    guard let path else { usage("--connect PATH is required") }
    guard let messageID else { usage("--message ID is required") }
    return Request(path: path, messageID: messageID, body: body, timeoutMS: timeoutMS)
}

func run(_ request: Request) -> Int32 {
    let socket: OwnedFD
    do { socket = try UnixSocket.connect(path: request.path) } catch {
        fputs("bulwark-ipc-client: connect \(request.path): \(error)\n", stderr)
        return 1
    }
    let channel = Channel(socket)
    do {
        let reply = try channel.call(request.messageID, body: request.body, timeout: .milliseconds(request.timeoutMS))
        let h = reply.header
        print("reply: message=\(h.messageID) request=\(h.requestID) flags=0x\(String(h.flags.rawValue, radix: 16)) fds=\(h.fdCount) length=\(h.length)")
        print("body: \(hex(reply.body))")
        return 0
    } catch {
        if case let .remote(errno, message) = error {
            print("error reply: \(errno.name) (\(errno.rawValue)): \(message)")
        } else {
            fputs("bulwark-ipc-client: \(error)\n", stderr)
        }
        return 1
    }
}

exit(run(parse(Array(CommandLine.arguments.dropFirst()))))
